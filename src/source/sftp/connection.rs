//! One SSH connection to the server, its host key checked against the known hosts before
//! anything else, logged in with the job's key or password, and its SFTP subsystem started.

use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::RawSftpSession;
use secrecy::{ExposeSecret, SecretString};

use super::known_hosts::{HostKeyVerdict, TrustedHosts, fingerprint};
use super::{SftpSourceConfig, SftpSourceError};

/// How long connecting and the SSH handshake may take: a host that does not answer fails the
/// attempt rather than holding the run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one SFTP request may take.
const REQUEST_TIMEOUT_SECS: u64 = 60;

/// How the job logs in. The values never reach a message.
#[derive(Clone)]
pub enum SshAuth {
    /// An OpenSSH (or PEM) private key, unencrypted: it lives in a Secret.
    PrivateKey(SecretString),
    Password(SecretString),
}

impl SshAuth {
    /// Which credential, for a message.
    pub fn describe(&self) -> &'static str {
        match self {
            SshAuth::PrivateKey(_) => "the private key",
            SshAuth::Password(_) => "the password",
        }
    }

    /// Checks that a private key can be read (and a password is not empty) before any
    /// connection; `what` names where the credential came from (a flag, a Secret's key).
    pub fn check(&self, what: &str) -> Result<(), SftpSourceError> {
        match self {
            SshAuth::PrivateKey(pem) => private_key(pem, what).map(drop),
            SshAuth::Password(p) if p.expose_secret().is_empty() => Err(
                SftpSourceError::Credentials(format!("{what}: the password is empty")),
            ),
            SshAuth::Password(_) => Ok(()),
        }
    }
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

fn private_key(pem: &SecretString, what: &str) -> Result<russh::keys::PrivateKey, SftpSourceError> {
    russh::keys::decode_secret_key(pem.expose_secret(), None).map_err(|e| {
        let why = match e {
            russh::keys::Error::KeyIsEncrypted => {
                "it is protected by a passphrase; give an unencrypted key (kept in a Secret)"
                    .to_owned()
            }
            // The library's own words name the format problem, never the key's bytes.
            other => format!("it is not an OpenSSH or PEM private key ({other})"),
        };
        SftpSourceError::Credentials(format!("{what}: {why}"))
    })
}

/// A logged-in connection with its SFTP session.
pub(super) struct Connection {
    /// Kept so that the connection stays open while the session is used.
    _ssh: client::Handle<HostCheck>,
    pub sftp: RawSftpSession,
}

/// The handshake's host-key check.
pub(super) struct HostCheck {
    trusted: Arc<TrustedHosts>,
    host: String,
    port: u16,
    display: String,
}

/// The handshake failed: on the wire, or because the host key is not trusted.
#[derive(Debug)]
pub(super) enum HandshakeError {
    Ssh(russh::Error),
    HostKey(SftpSourceError),
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> Self {
        HandshakeError::Ssh(e)
    }
}

impl client::Handler for HostCheck {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandshakeError::HostKey(SftpSourceError::HostCertificate {
                    host: self.display.clone(),
                }));
            }
        };
        let why = match self.trusted.check(&self.host, self.port, key) {
            HostKeyVerdict::Trusted => return Ok(true),
            HostKeyVerdict::Mismatch => "is not the key the known hosts list for this host",
            HostKeyVerdict::Unknown => "the known hosts do not list for this host at all",
            HostKeyVerdict::Revoked => "the known hosts mark @revoked",
        };
        Err(HandshakeError::HostKey(SftpSourceError::HostKey {
            host: self.display.clone(),
            host_only: self.host.clone(),
            port: self.port,
            fingerprint: fingerprint(key),
            why,
        }))
    }
}

/// Connects, checks the host key, logs in and starts SFTP: one attempt.
pub(super) async fn connect(config: &SftpSourceConfig) -> Result<Connection, SftpSourceError> {
    let location = &config.location;
    let name = location.display_name();
    let origin = location.origin_url();
    let url = url::Url::parse(&origin).map_err(|e| SftpSourceError::Location(e.to_string()))?;
    config
        .egress
        .check(&url, "an SFTP connection")
        .map_err(|refused| SftpSourceError::EndpointNotAllowed {
            name: name.clone(),
            refused,
        })?;
    let unreachable = |detail: String| SftpSourceError::Unreachable {
        name: name.clone(),
        detail,
        attempts: 1,
    };
    let display = match location.port {
        super::location::DEFAULT_PORT => location.host.clone(),
        port => format!("{}:{port}", location.host),
    };
    let check = HostCheck {
        trusted: config.known_hosts.clone(),
        host: location.host.clone(),
        port: location.port,
        display,
    };
    let ssh_config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(120)),
        keepalive_interval: Some(Duration::from_secs(20)),
        nodelay: true,
        // Larger window and packets: fewer round trips for a bulk download.
        window_size: 16 << 20,
        maximum_packet_size: 64 << 10,
        ..client::Config::default()
    });
    // Through the proxy the environment names for this host, as every HTTPS request goes.
    let proxy = crate::net::tunnel::Proxy::for_host(&location.host, location.port);
    let handshake = async {
        let stream =
            match &proxy {
                Some(proxy) => proxy
                    .connect(&location.host, location.port)
                    .await
                    .map_err(|e| match e.is_refusal() {
                        // The proxy's policy or login: no retry helps.
                        true => SftpSourceError::ProxyRefused {
                            name: name.clone(),
                            proxy: proxy.display(),
                            why: e.to_string(),
                        },
                        false => unreachable(format!(
                            "through the proxy {} from HTTPS_PROXY (NO_PROXY lists hosts to reach \
                         directly): {e}",
                            proxy.display()
                        )),
                    })?,
                None => tokio::net::TcpStream::connect((location.host.as_str(), location.port))
                    .await
                    .map_err(|e| unreachable(e.to_string()))?,
            };
        client::connect_stream(ssh_config, stream, check)
            .await
            .map_err(|e| match e {
                HandshakeError::HostKey(refused) => refused,
                HandshakeError::Ssh(e) => unreachable(format!("SSH handshake: {e}")),
            })
    };
    let mut ssh = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| unreachable(format!("no SSH handshake within {CONNECT_TIMEOUT:?}")))??;
    let accepted = match &config.auth {
        SshAuth::Password(password) => ssh
            .authenticate_password(&location.user, password.expose_secret())
            .await
            .map_err(|e| unreachable(format!("logging in: {e}")))?,
        SshAuth::PrivateKey(pem) => {
            let key = private_key(pem, "the SFTP private key")?;
            let hash = ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
            ssh.authenticate_publickey(
                &location.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|e| unreachable(format!("logging in: {e}")))?
        }
    };
    if !accepted.success() {
        return Err(SftpSourceError::Refused {
            name,
            user: location.user.clone(),
            credential: config.auth.describe(),
        });
    }
    let server = |what: &str, e: &dyn std::fmt::Display| SftpSourceError::Server {
        name: name.clone(),
        detail: format!("{what}: {e}"),
    };
    let channel = ssh
        .channel_open_session()
        .await
        .map_err(|e| unreachable(format!("opening a session: {e}")))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| server("starting the sftp subsystem", &e))?;
    let sftp = RawSftpSession::new(channel.into_stream());
    sftp.set_timeout(REQUEST_TIMEOUT_SECS);
    sftp.init()
        .await
        .map_err(|e| server("the server does not speak SFTP", &e))?;
    Ok(Connection { _ssh: ssh, sftp })
}
