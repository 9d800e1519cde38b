//! Entra ID error answers: `{"error", "error_description": "AADSTSnnn: ...", "error_codes", ...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error the token endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AADSTS{code}: {message}")]
pub(crate) struct AadError {
    pub status: StatusCode,
    /// OAuth 2.0 error, e.g. `invalid_client`.
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl AadError {
    pub fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            code,
            message: message.into(),
        }
    }

    /// AADSTS900144: a required body parameter is missing (also what Entra answers when the
    /// body is not form-encoded at all, because then it finds no `grant_type`).
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let now = jiff::Timestamp::now();
        // Entra appends the trace, correlation and time to the description with CRLFs.
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {}",
            self.code,
            self.message,
            now.strftime("%Y-%m-%d %H:%M:%SZ"),
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        });
        (self.status, Json(body)).into_response()
    }
}
