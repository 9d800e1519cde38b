//! `spec.source.sftp`: an HR export dropped on an SFTP server (SAP SuccessFactors Integration
//! Center, ADP, Oracle HCM extracts, UKG), read by the operator itself at each run.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_spec::ObjectSecretRef;
use super::spec::KeySelector;

/// A file (or the newest of a pattern) on an SFTP server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SftpSource {
    /// The server's host name or IP address. It must be allowed by an
    /// `--allow-endpoint-prefix sftp://HOST:PORT/` of the operator (the chart's
    /// allowedEndpointPrefixes): no SFTP server is allowed by default.
    #[schemars(length(min = 1, max = 253), pattern(r"^[A-Za-z0-9.:_-]+$"))]
    pub host: String,
    /// The server's SSH port. Default 22.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// The user to log in as.
    #[schemars(length(min = 1, max = 256))]
    pub user: String,
    /// The file, as the server resolves it: absolute (/outbound/terminations.csv) or relative to
    /// the user's login directory (outbound/terminations.csv). A file name with `*` or `?`
    /// (outbound/terminations_*.csv) takes the newest matching file of that directory, by
    /// modification time (ties: the greatest name), chosen anew each run; `status.source.chosen`
    /// names it.
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
    /// How the operator logs in.
    pub credentials: SftpCredentials,
    /// The server's host keys, in OpenSSH known_hosts format (`ssh-keyscan -p PORT HOST`
    /// prints them; `[host]:port` entries for a port other than 22). Required: a host key is
    /// never trusted on first use, and a server presenting another key is refused before
    /// anything is read.
    pub known_hosts: KnownHostsRef,
}

fn default_port() -> u16 {
    22
}

/// The login credential.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SftpCredentials {
    /// A Secret in the job's namespace with the key privateKey (an unencrypted OpenSSH or PEM
    /// private key) or the key password. When both are present, the key is used.
    pub secret_ref: ObjectSecretRef,
}

/// Where the known hosts are: exactly one of a ConfigMap key or a Secret key in the job's
/// namespace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.configMap), has(self.secret)].filter(x, x).size() == 1").message("exactly one of configMap or secret must be set"))]
pub struct KnownHostsRef {
    /// A key of a ConfigMap holding the known_hosts text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeySelector>,
    /// A key of a Secret holding the known_hosts text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<KeySelector>,
}
