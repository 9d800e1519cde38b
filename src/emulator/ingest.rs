//! `POST /api/signals?jobid=J` (the HR connector ingestion endpoint) and `GET /api/log?jobid=J`
//! (the portal's "Download log", which only the emulator serves over HTTP).
//!
//! Upload checks, in order: bearer token (401), `jobid` present (400), job registered when the
//! config lists jobs (403), then the body: multipart with a `file` part that has a filename and
//! holds a CSV with a header row and at least one data row (400 otherwise).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Multipart, RawQuery, Request, State as AxState};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::faults::{FaultAction, FaultTarget};
use super::record::Note;
use super::server::{KillSwitch, drain, read_some, reset_connection, status_fault};
use super::state::{LogEntry, State};

/// An upload the ingestion endpoint refuses, answered as `{"error": ..., "message": ...}`.
#[derive(Debug, thiserror::Error)]
#[error("{error}: {message}")]
pub(crate) struct IngestError {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl IngestError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.error, "message": self.message})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// The `jobid` query parameter (name matched case-insensitively, as ASP.NET binding does).
fn job_id(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    pairs
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("jobid"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub(crate) async fn upload(
    AxState(state): AxState<Arc<State>>,
    kill: axum::Extension<KillSwitch>,
    note: axum::Extension<Note>,
    req: Request,
) -> Response {
    let _in_flight = super::state::InFlight::enter(&state);
    let mut drop_response = false;
    let mut delay_answer = None;
    match state.faults.take(FaultTarget::Upload) {
        Some(FaultAction::Status {
            status,
            retry_after,
            body,
        }) => {
            drain(req.into_body()).await;
            let default = IngestError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable (injected fault).",
            );
            return status_fault(status, retry_after, body, default.into_response());
        }
        Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultAction::ResetMidBody) => {
            read_some(req.into_body()).await;
            return reset_connection(&kill).await;
        }
        Some(FaultAction::DropResponse) => drop_response = true,
        Some(FaultAction::DelayAnswer(d)) => delay_answer = Some(d),
        None => {}
    }

    let response = match accept(&state, &note, req).await {
        Ok(saved) => (
            StatusCode::OK,
            Json(json!({"status": "Accepted", "recordsSaved": saved})),
        )
            .into_response(),
        Err((e, body)) => {
            tracing::info!(error = e.error, message = %e.message, "upload rejected");
            if let Some(body) = body {
                drain(body).await;
            }
            e.into_response()
        }
    };
    if let Some(d) = delay_answer {
        tokio::time::sleep(d).await;
    }
    if drop_response {
        // The records are stored; only the acknowledgement is lost.
        return reset_connection(&kill).await;
    }
    response
}

/// Checks and stores one upload; returns RecordsSaved. On rejection, also hands back the body
/// if it was not read yet, so it can be drained before answering.
async fn accept(
    state: &State,
    note: &Note,
    req: Request,
) -> Result<u64, (IngestError, Option<axum::body::Body>)> {
    let valid = bearer(req.headers()).map(|t| state.token_is_valid(t));
    note.update(|r| r.bearer_valid = valid);
    let early = |e: IngestError, req: Request| Err((e, Some(req.into_body())));
    match valid {
        None => {
            return early(
                IngestError::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "An 'Authorization: Bearer <token>' header is required.",
                ),
                req,
            );
        }
        Some(false) => {
            return early(
                IngestError::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "The bearer token is unknown or has expired.",
                ),
                req,
            );
        }
        Some(true) => {}
    }
    let Some(job) = job_id(req.uri().query()) else {
        return early(
            IngestError::bad_request("The query parameter 'jobid' is required."),
            req,
        );
    };
    if !state.job_is_registered(&job) {
        return early(
            IngestError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("No HR connector job with id '{job}' exists."),
            ),
            req,
        );
    }

    let delay = state.upload_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let (file_name, bytes) = read_file_part(note, req).await.map_err(|e| (e, None))?;
    let parsed = parse_csv(
        &bytes,
        state.config.keep_records,
        &state.config.scenario_column,
    )
    .map_err(|e| (e, None))?;
    let entry = LogEntry {
        time: jiff::Timestamp::now(),
        file_name,
        records_saved: parsed.count,
        status: "Succeeded".to_string(),
        scenarios: parsed.scenarios,
    };
    tracing::info!(job = %job, records = parsed.count, "upload accepted");
    state.store_upload(&job, entry, parsed.header, parsed.records);
    Ok(parsed.count)
}

/// Reads the multipart body and returns the `file` part's filename and contents. Parts with
/// other names are read and ignored; a second `file` part is refused as ambiguous.
async fn read_file_part(note: &Note, req: Request) -> Result<(String, Vec<u8>), IngestError> {
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        IngestError::bad_request(format!("The body must be multipart/form-data: {e}"))
    })?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut first = true;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| IngestError::bad_request(format!("Malformed multipart body: {e}")))?;
        let Some(mut field) = field else { break };
        let name = field.name().map(str::to_string);
        let file_name = field.file_name().map(str::to_string);
        if first {
            first = false;
            note.update(|r| {
                r.part_name = name.clone();
                r.file_name = file_name.clone();
            });
        }
        let mut data = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| IngestError::bad_request(format!("Malformed multipart body: {e}")))?
        {
            data.extend_from_slice(&chunk);
        }
        if name.as_deref() != Some("file") {
            continue;
        }
        if file.is_some() {
            return Err(IngestError::bad_request(
                "More than one part named 'file' was sent.",
            ));
        }
        let Some(file_name) = file_name.filter(|f| !f.is_empty()) else {
            return Err(IngestError::bad_request(
                "The 'file' part must have a filename.",
            ));
        };
        file = Some((file_name, data));
    }
    file.ok_or_else(|| IngestError::bad_request("No part named 'file' was sent."))
}

struct ParsedCsv {
    header: Vec<String>,
    records: Vec<Vec<String>>,
    count: u64,
    /// Records per value of the scenario column, when the header has one.
    scenarios: BTreeMap<String, u64>,
}

/// Parses RFC 4180 CSV: a header row, then at least one data row, all with the header's width.
/// A quoted field spanning lines is one record.
fn parse_csv(bytes: &[u8], keep: bool, scenario_column: &str) -> Result<ParsedCsv, IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| IngestError::bad_request(format!("The file is not valid CSV: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
        return Err(IngestError::bad_request(
            "The file is empty: a header row is required.",
        ));
    }
    let scenario_at = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case(scenario_column));
    let mut scenarios = BTreeMap::new();
    let mut records = Vec::new();
    let mut count = 0u64;
    for result in reader.records() {
        let record = result
            .map_err(|e| IngestError::bad_request(format!("The file is not valid CSV: {e}")))?;
        count += 1;
        if let Some(value) = scenario_at.and_then(|i| record.get(i)) {
            *scenarios.entry(value.to_owned()).or_default() += 1;
        }
        if keep {
            records.push(record.iter().map(str::to_string).collect());
        }
    }
    if count == 0 {
        return Err(IngestError::bad_request(
            "The file has a header row but no data rows.",
        ));
    }
    Ok(ParsedCsv {
        header,
        records,
        count,
        scenarios,
    })
}

pub(crate) async fn log(
    AxState(state): AxState<Arc<State>>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(job) = job_id(query.as_deref()) else {
        return IngestError::bad_request("The query parameter 'jobid' is required.")
            .into_response();
    };
    Json(state.with_job(&job, |j| j.log.clone()).unwrap_or_default()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_quoted_field_is_one_record() {
        let csv = b"Email,Note\r\na@x.com,\"line one\nline two\"\r\nb@x.com,plain\r\n";
        let p = parse_csv(csv, true, "HRScenario").unwrap();
        assert_eq!(p.count, 2);
        assert_eq!(p.records[0][1], "line one\nline two");
        assert!(p.scenarios.is_empty());
    }

    #[test]
    fn ragged_rows_empty_and_header_only_are_refused() {
        assert!(parse_csv(b"a,b\n1,2,3\n", true, "s").is_err());
        assert!(parse_csv(b"", true, "s").is_err());
        assert!(parse_csv(b"a,b\n", true, "s").is_err());
    }

    #[test]
    fn bearer_and_job_parsing() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        assert_eq!(job_id(Some("jobid=j1")), Some("j1".to_string()));
        assert_eq!(job_id(Some("jobid=")), None);
        assert_eq!(job_id(None), None);
    }
}
