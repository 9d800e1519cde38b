//! `POST /{tenant}/oauth2/token?api-version=1.0`: the Entra ID v1 client-credentials grant, and
//! `POST /{tenant}/oauth2/v2.0/token`: the v2 one, which takes `scope={resource}/.default`
//! instead of `resource` and also federated assertions (see `federated.rs`).
//!
//! Checks, in order, with the answer for each failure (codes marked * are the emulator's
//! choice where the real code is not documented):
//!
//! | check | status | error | AADSTS |
//! |---|---|---|---|
//! | `api-version=1.0` in the query | 400 | invalid_request | 90014* |
//! | form-urlencoded body | 400 | invalid_request | 900144 (no `grant_type` found) |
//! | tenant registered | 400 | invalid_request | 90002 |
//! | `tenant_id` field, if sent, equals the URL tenant | 400 | invalid_request | 900023* |
//! | `grant_type` present / `client_credentials` | 400 | invalid_request 900144 / unsupported_grant_type 70003 |
//! | `client_id` present / registered in the tenant | 400 | invalid_request 900144 / unauthorized_client 700016 |
//! | exactly one credential | 400 | invalid_client 7000218 (none) / invalid_request 90014* (both) |
//! | secret matches | 401 | invalid_client | 7000215 |
//! | assertion type, then assertion (see `assertion.rs`) | 400 / 401 | invalid_request 90014* / invalid_client 7000xx |
//! | `resource` present / the configured one | 400 | invalid_request 900144 / invalid_resource 500011 |
//!
//! v2 differs: no `api-version`; a `resource` field is refused (901002), `scope` must be
//! `{resource}/.default` (70011); an assertion without the registered certificate's `x5t` is
//! checked as a federated one: issuer trusted (700211), signature (700027), `exp` (700024), a
//! federated credential matching `iss`/`sub`/`aud` (70021).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Request, State as AxState};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;

use super::aad::AadError;
use super::assertion::{self, JWT_BEARER};
use super::faults::{FaultAction, FaultTarget};
use super::federated;
use super::record::Note;
use super::server::{KillSwitch, Scheme, drain, read_some, reset_connection, status_fault};
use super::state::State;

/// Token request bodies are small; anything bigger is not a client-credentials request.
const MAX_FORM_BYTES: usize = 64 * 1024;
const REDACTED: &str = "<redacted>";

/// Which token endpoint was called.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The endpoint a request came to: its version and the scheme it was served over.
struct Called<'a> {
    version: Version,
    scheme: &'a str,
}

/// The v2 token answer: times are numbers.
#[derive(Debug, Serialize)]
struct TokenAnswerV2 {
    token_type: &'static str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
}

/// The v1 token answer. Times are strings of seconds, as Entra v1 sends them.
#[derive(Debug, Serialize)]
struct TokenAnswer {
    token_type: &'static str,
    expires_in: String,
    ext_expires_in: String,
    expires_on: String,
    not_before: String,
    resource: String,
    access_token: String,
}

pub(crate) async fn token(
    state: AxState<Arc<State>>,
    tenant: Path<String>,
    kill: axum::Extension<KillSwitch>,
    note: axum::Extension<Note>,
    req: Request,
) -> Response {
    handle(state, tenant, kill, note, req, Version::V1).await
}

pub(crate) async fn token_v2(
    state: AxState<Arc<State>>,
    tenant: Path<String>,
    kill: axum::Extension<KillSwitch>,
    note: axum::Extension<Note>,
    req: Request,
) -> Response {
    handle(state, tenant, kill, note, req, Version::V2).await
}

async fn handle(
    AxState(state): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    kill: axum::Extension<KillSwitch>,
    note: axum::Extension<Note>,
    req: Request,
    version: Version,
) -> Response {
    let (parts, body) = req.into_parts();
    let mut drop_response = false;
    let mut delay_answer = None;
    match state.faults.take(FaultTarget::Token) {
        Some(FaultAction::Status {
            status,
            retry_after,
            body: fault_body,
        }) => {
            drain(body).await;
            let default = AadError::new(
                status,
                "temporarily_unavailable",
                50196,
                "The server is temporarily unavailable (injected fault).",
            );
            return status_fault(status, retry_after, fault_body, default.into_response());
        }
        Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultAction::ResetMidBody) => {
            read_some(body).await;
            return reset_connection(&kill).await;
        }
        Some(FaultAction::DropResponse) => drop_response = true,
        Some(FaultAction::DelayAnswer(d)) => delay_answer = Some(d),
        None => {}
    }

    let response = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => match grant(
            &state,
            &tenant,
            Called {
                version,
                scheme: parts.extensions.get::<Scheme>().map_or("http", |s| s.0),
            },
            &parts.uri,
            &parts.headers,
            &bytes,
            &note,
        ) {
            Ok(answer) if version == Version::V2 => Json(TokenAnswerV2 {
                token_type: answer.token_type,
                expires_in: answer.expires_in.parse().unwrap_or(0),
                ext_expires_in: answer.ext_expires_in.parse().unwrap_or(0),
                access_token: answer.access_token,
            })
            .into_response(),
            Ok(answer) => Json(answer).into_response(),
            Err(e) => {
                tracing::info!(tenant = %tenant, code = e.code, error = e.error, "token request rejected");
                e.into_response()
            }
        },
        Err(_) => AadError::new(
            400,
            "invalid_request",
            90014,
            "The request body could not be read or is too large.",
        )
        .into_response(),
    };
    if let Some(d) = delay_answer {
        tokio::time::sleep(d).await;
    }
    if drop_response {
        return reset_connection(&kill).await;
    }
    response
}

fn grant(
    state: &State,
    tenant: &str,
    called: Called<'_>,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    note: &Note,
) -> Result<TokenAnswer, AadError> {
    let Called { version, scheme } = called;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let api_version = query
        .iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v.as_str());
    if version == Version::V1 && api_version != Some("1.0") {
        return Err(AadError::new(
            400,
            "invalid_request",
            90014,
            format!(
                "The required query parameter 'api-version' is missing or not supported (got {:?}, expected '1.0').",
                api_version.unwrap_or("")
            ),
        ));
    }

    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(AadError::missing_parameter("grant_type"));
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| AadError::missing_parameter("grant_type"))?;
    note.update(|r| {
        r.form = form
            .iter()
            .map(|(k, v)| {
                let v = if k == "client_secret" || k == "client_assertion" {
                    REDACTED.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    });
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };

    let Some(apps) = state.directory.get(&tenant.to_ascii_lowercase()) else {
        return Err(AadError::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    };
    if let Some(t) = field("tenant_id")
        && !t.eq_ignore_ascii_case(tenant)
    {
        return Err(AadError::new(
            400,
            "invalid_request",
            900023,
            format!("The tenant_id field '{t}' does not match the tenant '{tenant}' in the URL."),
        ));
    }

    let grant_type =
        field("grant_type").ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(AadError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }

    let client_id = field("client_id").ok_or_else(|| AadError::missing_parameter("client_id"))?;
    let Some(app) = apps.get(&client_id.to_ascii_lowercase()) else {
        return Err(AadError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    };

    match (field("client_secret"), field("client_assertion")) {
        (None, None) => {
            return Err(AadError::new(
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(AadError::new(
                400,
                "invalid_request",
                90014,
                "Only one of 'client_secret' and 'client_assertion' may be sent.",
            ));
        }
        (Some(secret), None) => {
            if app.secret.as_deref() != Some(secret) {
                return Err(AadError::new(
                    401,
                    "invalid_client",
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                ));
            }
        }
        (None, Some(jwt)) => {
            if field("client_assertion_type") != Some(JWT_BEARER) {
                return Err(AadError::new(
                    400,
                    "invalid_request",
                    90014,
                    format!("The field 'client_assertion_type' must be '{JWT_BEARER}'."),
                ));
            }
            let names_cert = app.cert.as_ref().is_some_and(|c| {
                jsonwebtoken::decode_header(jwt)
                    .ok()
                    .and_then(|h| h.x5t)
                    .is_some_and(|x| x == c.x5t)
            });
            if version == Version::V2 && !names_cert {
                let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
                let verified = federated::verify(jwt, app, &state.issuers, now)?;
                note.update(|r| {
                    r.assertion_issuer = Some(verified.issuer);
                    r.assertion_subject = Some(verified.subject);
                    r.assertion_expires = Some(verified.expires);
                });
            } else {
                let Some(cert) = &app.cert else {
                    return Err(AadError::new(
                        401,
                        "invalid_client",
                        700027,
                        "Client assertion contains an invalid signature. [Reason - The key was not found.]",
                    ));
                };
                let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
                assertion::verify(jwt, cert, client_id, &audiences(uri, headers, scheme), now)?;
            }
        }
    }

    let resource = match version {
        Version::V1 => field("resource").ok_or_else(|| AadError::missing_parameter("resource"))?,
        Version::V2 => v2_resource(&field("resource"), &field("scope"), &state.config.resource)?,
    };
    if resource != state.config.resource {
        return Err(AadError::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        ));
    }

    let lifetime: Duration = state.config.token_lifetime;
    let now = jiff::Timestamp::now().as_second();
    let secs = lifetime.as_secs();
    let access_token = access_token(tenant, client_id, resource, now, secs);
    state.issue_token(access_token.clone(), lifetime);
    Ok(TokenAnswer {
        token_type: "Bearer",
        expires_in: secs.to_string(),
        ext_expires_in: secs.to_string(),
        expires_on: (now + i64::try_from(secs).unwrap_or(i64::MAX / 2)).to_string(),
        not_before: now.to_string(),
        resource: resource.to_string(),
        access_token,
    })
}

/// An access token shaped as Entra ID's are: a JWT whose claims say the tenant's issuer
/// (`https://sts.windows.net/{tenant}/`), the resource as audience, the app and the lifetime, so
/// that a service which reads them (Azurite's `--oauth basic`) can. Its signature is 32 random
/// bytes: only this emulator's own record of issued tokens makes one valid here.
fn access_token(tenant: &str, app_id: &str, resource: &str, now: i64, secs: u64) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#);
    let claims = serde_json::json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX / 2)),
        "appid": app_id,
        "tid": tenant,
    });
    let mut signature = [0u8; 32];
    rand::fill(&mut signature);
    format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// The resource a v2 request's `scope` names: `{resource}/.default`, and no `resource` field.
fn v2_resource<'a>(
    resource: &Option<&str>,
    scope: &Option<&'a str>,
    configured: &str,
) -> Result<&'a str, AadError> {
    if resource.is_some() {
        return Err(AadError::new(
            400,
            "invalid_request",
            901002,
            "The 'resource' request parameter is not supported.",
        ));
    }
    let scope = scope.ok_or_else(|| AadError::missing_parameter("scope"))?;
    match scope.strip_suffix("/.default") {
        Some(r) if r == configured => Ok(r),
        _ => Err(AadError::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid: expected '{configured}/.default'."
            ),
        )),
    }
}

/// The URLs a client assertion may name as `aud`: the token URL it posted to, with and without
/// the query string (Entra accepts the bare token endpoint too).
fn audiences(uri: &axum::http::Uri, headers: &HeaderMap, scheme: &str) -> Vec<String> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let bare = format!("{scheme}://{host}{}", uri.path());
    match uri.query() {
        Some(q) => vec![format!("{bare}?{q}"), bare],
        None => vec![bare],
    }
}
