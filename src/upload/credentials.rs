//! The Entra ID app's identity: tenant, app id and one of a client secret, a certificate, or a
//! federated assertion (a Kubernetes service account token, workload identity federation).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use secrecy::SecretString;
use sha1::{Digest, Sha1};

use super::error::CredentialError;

/// Who the uploader authenticates as.
#[derive(Debug)]
pub struct AppCredentials {
    pub tenant_id: String,
    pub app_id: String,
    pub auth: ClientAuth,
    /// The values above that came from Secrets or files, with where they came from: every
    /// service text about this app passes it before it is reported.
    pub scrubber: crate::net::Scrubber,
}

impl AppCredentials {
    /// Refuses a tenant or app ID that is not of the forms Entra ID knows: the tenant becomes a
    /// path segment of the token URL (`../../evil` would leave it). Never names the value.
    pub fn check_ids(&self) -> Result<(), CredentialError> {
        crate::net::url_parts::tenant_id(&self.tenant_id, "the tenant ID")
            .and_then(|()| crate::net::url_parts::app_id(&self.app_id, "the app ID"))
            .map_err(|e| CredentialError::Missing(e.to_string()))
    }
}

/// How the app proves its identity.
#[derive(Debug)]
pub enum ClientAuth {
    /// `client_secret` in the token request.
    Secret(SecretString),
    /// A signed `client_assertion` (RS256 JWT) in the token request.
    Certificate(CertificateCredential),
    /// A token another issuer (the cluster) signed for this app's federated identity credential,
    /// sent as `client_assertion` to the v2 endpoint. Fetched again for every token request:
    /// the kubelet rotates the file, the TokenRequest API issues short-lived tokens.
    Federated(Arc<dyn AssertionSource>),
}

impl ClientAuth {
    /// Federated assertions are only accepted by the v2 token endpoint.
    pub fn uses_v2_endpoint(&self) -> bool {
        matches!(self, ClientAuth::Federated(_))
    }
}

/// Where a federated assertion comes from. Implementations never log or return the token in
/// error text.
pub trait AssertionSource: Send + Sync + fmt::Debug {
    /// A fresh assertion.
    fn fetch(&self) -> BoxFuture<'_, Result<SecretString, CredentialError>>;
}

/// A projected service account token file (`AZURE_FEDERATED_TOKEN_FILE`), read on every fetch.
#[derive(Debug, Clone)]
pub struct FederatedTokenFile {
    pub path: PathBuf,
}

impl FederatedTokenFile {
    /// Reads the token now (also used once at start, so a bad file stops the run before
    /// anything is sent).
    pub fn read(&self) -> Result<SecretString, CredentialError> {
        let shown = self.path.display();
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            CredentialError::Federated(format!("cannot read the federated token file {shown}: {e}"))
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(CredentialError::Federated(format!(
                "the federated token file {shown} is empty"
            )));
        }
        // A JWT is three base64url parts; say so rather than send something Entra ID rejects.
        let parts = token.split('.').count();
        if parts != 3 || token.chars().any(char::is_whitespace) {
            return Err(CredentialError::Federated(format!(
                "the federated token file {shown} does not hold a JWT (a service account token)"
            )));
        }
        Ok(SecretString::from(token.to_string()))
    }
}

impl AssertionSource for FederatedTokenFile {
    fn fetch(&self) -> BoxFuture<'_, Result<SecretString, CredentialError>> {
        Box::pin(async move {
            let file = self.clone();
            tokio::task::spawn_blocking(move || file.read())
                .await
                .map_err(|e| CredentialError::Federated(format!("reading the token file: {e}")))?
        })
    }
}

/// A certificate's thumbprint and the private key that signs client assertions.
pub struct CertificateCredential {
    /// base64url SHA-1 of the DER certificate: the JWT header's `x5t`.
    pub(crate) x5t: String,
    pub(crate) key: EncodingKey,
}

// The key must never be printed, not even in debug output.
impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t", &self.x5t)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl CertificateCredential {
    /// Reads a PEM certificate (the first `CERTIFICATE` block; a chain may follow) and a PEM RSA
    /// private key (PKCS#1 or PKCS#8).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, CredentialError> {
        let blocks =
            pem::parse_many(cert_pem).map_err(|e| CredentialError::Certificate(e.to_string()))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| CredentialError::Certificate("no CERTIFICATE block found".into()))?;
        let x5t = URL_SAFE_NO_PAD.encode(Sha1::digest(cert.contents()));
        // The parser's own error text can quote key material; keep only its kind.
        let key = EncodingKey::from_rsa_pem(key_pem).map_err(|e| {
            CredentialError::PrivateKey(format!("{:?}", e.kind()).chars().take(60).collect())
        })?;
        Ok(CertificateCredential { x5t, key })
    }

    /// The `x5t` thumbprint this credential announces.
    pub fn thumbprint(&self) -> &str {
        &self.x5t
    }
}
