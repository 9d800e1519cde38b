//! Checks a federated client assertion (workload identity) the way Entra ID does on the v2
//! endpoint: a token from a trusted issuer, signed by that issuer's key, unexpired, whose
//! `iss`, `sub` and `aud` match one of the app's federated identity credentials.

use jsonwebtoken::{Validation, dangerous::insecure_decode};
use serde::Deserialize;

use super::aad::AadError;
use super::config::{App, Issuers};

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<f64>,
}

/// The verified assertion's issuer and subject.
pub(crate) struct Verified {
    pub issuer: String,
    pub subject: String,
    pub expires: i64,
}

pub(crate) fn verify(
    assertion: &str,
    app: &App,
    issuers: &Issuers,
    now_secs: f64,
) -> Result<Verified, AadError> {
    // The issuer names the key, so it is read before the signature is checked.
    let unverified = insecure_decode::<Claims>(assertion)
        .map_err(|_| malformed())?
        .claims;
    let issuer = unverified.iss.unwrap_or_default();
    let Some((alg, key)) = issuers.get(&issuer) else {
        return Err(AadError::new(
            400,
            "invalid_request",
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{issuer}'."
            ),
        ));
    };
    let mut validation = Validation::new(*alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(assertion, key, &validation)
        .map_err(|_| {
            AadError::new(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. [Reason - The key was not found or the signature did not match.]",
            )
        })?
        .claims;
    let expires = match claims.exp {
        Some(exp) if exp > now_secs => exp as i64,
        _ => {
            return Err(AadError::new(
                400,
                "invalid_client",
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {now_secs:.0}, expiry time of assertion {:.0}.",
                    claims.exp.unwrap_or(0.0)
                ),
            ));
        }
    };
    let subject = claims.sub.unwrap_or_default();
    let audiences: Vec<&str> = match &claims.aud {
        Some(serde_json::Value::String(a)) => vec![a.as_str()],
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    let matched = app.federated.iter().any(|f| {
        f.issuer == issuer && f.subject == subject && audiences.contains(&f.audience.as_str())
    });
    if !matched {
        return Err(AadError::new(
            400,
            "invalid_client",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{}'.",
                audiences.join(",")
            ),
        ));
    }
    Ok(Verified {
        issuer,
        subject,
        expires,
    })
}

fn malformed() -> AadError {
    AadError::new(
        400,
        "invalid_client",
        50027,
        "JWT token is invalid or malformed.",
    )
}
