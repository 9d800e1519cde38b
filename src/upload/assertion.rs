//! The client assertion of certificate authentication: an RS256 JWT that Entra ID verifies with
//! the certificate registered on the app.

use serde::Serialize;

use super::credentials::CertificateCredential;
use super::error::CredentialError;

/// How long an assertion is valid; Entra ID accepts at most ten minutes.
const LIFETIME_SECS: i64 = 600;

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    exp: i64,
}

/// Signs a fresh assertion for `app_id` addressed to `token_url`.
pub fn client_assertion(
    cert: &CertificateCredential,
    app_id: &str,
    token_url: &str,
) -> Result<String, CredentialError> {
    let now = jiff::Timestamp::now().as_second();
    let claims = Claims {
        aud: token_url,
        iss: app_id,
        sub: app_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        exp: now + LIFETIME_SECS,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some(cert.x5t.clone());
    jsonwebtoken::encode(&header, &claims, &cert.key)
        .map_err(|e| CredentialError::Signing(format!("{:?}", e.kind())))
}
