//! What the emulator knows: the resource it issues tokens for, the registered apps and the
//! connector jobs that exist. Parsed once at start so requests never touch PEM text.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// An Entra ID app registration: the tenant it lives in, its id, and its credentials.
/// `Debug` leaves the secret out.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRegistration {
    pub tenant_id: String,
    pub app_id: String,
    /// Client secret, if the app has one.
    pub secret: Option<String>,
    /// PEM of the X.509 certificate uploaded to the app, if it uses certificate auth.
    pub certificate_pem: Option<String>,
    /// Federated identity credentials: which other issuers' tokens the app accepts.
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential on an app registration (what
/// `az ad app federated-credential create` records): a token from `issuer` about `subject`
/// for `audience` stands in for the app's secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    pub issuer: String,
    /// `system:serviceaccount:NAMESPACE:NAME` for a Kubernetes service account.
    pub subject: String,
    /// Usually `api://AzureADTokenExchange`.
    pub audience: String,
}

/// An OIDC issuer Entra ID trusts, with the public key its tokens are signed with (real Entra ID
/// fetches it from the issuer's discovery document; the emulator is given it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    pub issuer: String,
    /// PEM public key (SPKI) or certificate; RSA or EC P-256.
    pub public_key_pem: String,
}

impl std::fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistration")
            .field("tenant_id", &self.tenant_id)
            .field("app_id", &self.app_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field(
                "certificate_pem",
                &self.certificate_pem.as_ref().map(|_| "<pem>"),
            )
            .field("federated_credentials", &self.federated_credentials)
            .finish()
    }
}

/// How the emulator behaves. `Default` registers no apps and accepts any job id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatorConfig {
    /// The only `resource` the token endpoint accepts.
    pub resource: String,
    pub apps: Vec<AppRegistration>,
    /// Registered connector job ids; empty means any job id is accepted.
    pub jobs: Vec<String>,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Keep every received record in memory (benchmarks turn this off).
    pub keep_records: bool,
    /// Header of a multi-scenario file's scenario column (matched case-insensitively): the
    /// upload log counts each upload's records per value of it.
    #[serde(default = "default_scenario_column")]
    pub scenario_column: String,
    /// Issuers whose tokens federated identity credentials may name.
    #[serde(default)]
    pub issuers: Vec<TrustedIssuer>,
}

fn default_scenario_column() -> String {
    crate::hrdata::DEFAULT_SCENARIO_COLUMN.to_string()
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            resource: crate::cloud::CONNECTOR_RESOURCE.to_string(),
            apps: Vec::new(),
            jobs: Vec::new(),
            token_lifetime: Duration::from_secs(3599),
            keep_records: true,
            scenario_column: default_scenario_column(),
            issuers: Vec::new(),
        }
    }
}

/// A configuration the emulator cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("app {app_id} in tenant {tenant_id}: certificate is not valid PEM: {reason}")]
    CertificatePem {
        tenant_id: String,
        app_id: String,
        reason: String,
    },
    #[error(
        "app {app_id} in tenant {tenant_id}: certificate is not a valid X.509 RSA certificate: {reason}"
    )]
    Certificate {
        tenant_id: String,
        app_id: String,
        reason: String,
    },
    #[error(
        "app {app_id} in tenant {tenant_id}: registered with neither a secret, a certificate nor a federated credential"
    )]
    NoCredential { tenant_id: String, app_id: String },
    #[error("trusted issuer {issuer}: public key is not a PEM RSA or EC key: {reason}")]
    IssuerKey { issuer: String, reason: String },
}

impl From<ConfigError> for std::io::Error {
    fn from(e: ConfigError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// A registered certificate, reduced to what assertion checks need.
#[derive(Clone)]
pub(crate) struct RegisteredCert {
    /// base64url (no padding) of SHA-1 over the certificate DER: the JWT `x5t` header.
    pub x5t: String,
    pub key: DecodingKey,
}

/// An app as the token endpoint sees it.
#[derive(Clone)]
pub(crate) struct App {
    pub secret: Option<String>,
    pub cert: Option<RegisteredCert>,
    pub federated: Vec<FederatedCredential>,
}

/// issuer URL → the key that verifies its tokens.
pub(crate) type Issuers = HashMap<String, (jsonwebtoken::Algorithm, DecodingKey)>;

pub(crate) fn build_issuers(issuers: &[TrustedIssuer]) -> Result<Issuers, ConfigError> {
    let mut map = Issuers::new();
    for i in issuers {
        let pem_bytes = i.public_key_pem.as_bytes();
        let key = DecodingKey::from_rsa_pem(pem_bytes)
            .map(|k| (jsonwebtoken::Algorithm::RS256, k))
            .or_else(|_| {
                DecodingKey::from_ec_pem(pem_bytes).map(|k| (jsonwebtoken::Algorithm::ES256, k))
            })
            .map_err(|e| ConfigError::IssuerKey {
                issuer: i.issuer.clone(),
                reason: format!("{:?}", e.kind()),
            })?;
        map.insert(i.issuer.clone(), key);
    }
    Ok(map)
}

/// tenant id → app id → app. Ids are compared case-insensitively (GUIDs), so keys are lowercase.
pub(crate) type Directory = HashMap<String, HashMap<String, App>>;

pub(crate) fn build_directory(apps: &[AppRegistration]) -> Result<Directory, ConfigError> {
    let mut dir = Directory::new();
    for reg in apps {
        if reg.secret.is_none()
            && reg.certificate_pem.is_none()
            && reg.federated_credentials.is_empty()
        {
            return Err(ConfigError::NoCredential {
                tenant_id: reg.tenant_id.clone(),
                app_id: reg.app_id.clone(),
            });
        }
        let cert = match &reg.certificate_pem {
            Some(pem_text) => Some(parse_certificate(reg, pem_text)?),
            None => None,
        };
        dir.entry(reg.tenant_id.to_ascii_lowercase())
            .or_default()
            .insert(
                reg.app_id.to_ascii_lowercase(),
                App {
                    secret: reg.secret.clone(),
                    cert,
                    federated: reg.federated_credentials.clone(),
                },
            );
    }
    Ok(dir)
}

fn parse_certificate(reg: &AppRegistration, pem_text: &str) -> Result<RegisteredCert, ConfigError> {
    let cert_err = |reason: String| ConfigError::Certificate {
        tenant_id: reg.tenant_id.clone(),
        app_id: reg.app_id.clone(),
        reason,
    };
    // A PEM file may hold a key and a chain; the first CERTIFICATE block is the app's.
    let blocks = pem::parse_many(pem_text).map_err(|e| ConfigError::CertificatePem {
        tenant_id: reg.tenant_id.clone(),
        app_id: reg.app_id.clone(),
        reason: e.to_string(),
    })?;
    let der = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.contents().to_vec())
        .ok_or_else(|| cert_err("no CERTIFICATE block".to_string()))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| cert_err(e.to_string()))?;
    let spki = &cert.tbs_certificate.subject_pki;
    // rsaEncryption; the BIT STRING then holds a PKCS#1 RSAPublicKey.
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
        return Err(cert_err("public key is not RSA".to_string()));
    }
    let key = DecodingKey::from_rsa_der(&spki.subject_public_key.data);
    Ok(RegisteredCert {
        x5t: x5t_of_der(&der),
        key,
    })
}

/// The `x5t` value a client puts in its assertion header for this certificate.
pub fn x5t_of_der(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let app = AppRegistration {
            tenant_id: "t".into(),
            app_id: "a".into(),
            secret: Some("hunter2".into()),
            certificate_pem: None,
            federated_credentials: Vec::new(),
        };
        let text = format!("{app:?}");
        assert!(
            !text.contains("hunter2") && text.contains("<redacted>"),
            "{text}"
        );
    }
}
