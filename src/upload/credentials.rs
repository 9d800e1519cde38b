//! The Entra ID app's identity: tenant, app id and either a client secret or a certificate.

use std::fmt;

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
}

/// How the app proves its identity.
#[derive(Debug)]
pub enum ClientAuth {
    /// `client_secret` in the token request.
    Secret(SecretString),
    /// A signed `client_assertion` (RS256 JWT) in the token request.
    Certificate(CertificateCredential),
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
