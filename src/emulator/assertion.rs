//! Checks a certificate client assertion (RFC 7523 JWT) the way Entra ID does for the v1 token
//! endpoint: RS256, `x5t` naming the registered certificate, a signature by its key, and the
//! `aud`/`iss`/`sub`/`jti`/`nbf`/`exp` claims.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::aad::AadError;
use super::config::RegisteredCert;

/// The only `client_assertion_type` Entra accepts.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew tolerated on `nbf`, as Entra does (5 minutes).
const NBF_SKEW_SECS: f64 = 300.0;
/// Longest `exp - nbf` Entra accepts for a client assertion.
const MAX_LIFETIME_SECS: f64 = 600.0;

#[derive(Debug, Deserialize)]
struct Claims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    sub: Option<String>,
    jti: Option<String>,
    nbf: Option<f64>,
    exp: Option<f64>,
}

/// Verifies `assertion` for `client_id`, posted to one of `audiences` (the token URL with and
/// without its query string).
pub(crate) fn verify(
    assertion: &str,
    cert: &RegisteredCert,
    client_id: &str,
    audiences: &[String],
    now_secs: f64,
) -> Result<(), AadError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
    if header.alg != Algorithm::RS256 {
        return Err(AadError::new(
            401,
            "invalid_client",
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - The algorithm '{:?}' is not supported; use RS256.]",
                header.alg
            ),
        ));
    }
    if header.x5t.as_deref() != Some(cert.x5t.as_str()) {
        return Err(AadError::new(
            401,
            "invalid_client",
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
                header.x5t.as_deref().unwrap_or("")
            ),
        ));
    }

    // Only the signature is left to jsonwebtoken; the claims are checked below, because Entra's
    // rules (skew on nbf only, a lifetime cap) differ from the crate's.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &cert.key, &validation) {
        Ok(data) => data.claims,
        Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
            return Err(AadError::new(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]",
            ));
        }
        Err(_) => return Err(malformed()),
    };

    let aud_ok = match &claims.aud {
        Some(serde_json::Value::String(a)) => audiences.contains(a),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    if !aud_ok {
        return Err(AadError::new(
            401,
            "invalid_client",
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. Expected '{}'.",
                audiences.first().map(String::as_str).unwrap_or("")
            ),
        ));
    }
    if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
        return Err(AadError::new(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter (iss and sub must both be the client id).",
        ));
    }
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(AadError::new(
            401,
            "invalid_client",
            700025,
            "Client assertion must contain a 'jti' claim.",
        ));
    }
    let (Some(nbf), Some(exp)) = (claims.nbf, claims.exp) else {
        return Err(AadError::new(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range: 'nbf' and 'exp' are required.",
        ));
    };
    if nbf > now_secs + NBF_SKEW_SECS || exp <= now_secs {
        return Err(AadError::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now_secs:.0}, assertion valid from {nbf:.0}, expiry time of assertion {exp:.0}."
            ),
        ));
    }
    if exp - nbf > MAX_LIFETIME_SECS {
        return Err(AadError::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion lifetime of {:.0} seconds exceeds the maximum of {MAX_LIFETIME_SECS:.0} seconds.",
                exp - nbf
            ),
        ));
    }
    Ok(())
}

fn malformed() -> AadError {
    AadError::new(
        401,
        "invalid_client",
        50027,
        "JWT token is invalid or malformed.",
    )
}
