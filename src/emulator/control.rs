//! `/_emulator/*`: the control surface for out-of-process tests (Python, curl). These routes
//! exist only in the emulator; the real services have nothing like them.
//!
//! - `POST /_emulator/faults` with a JSON [`Fault`](super::Fault) → 204
//! - `POST /_emulator/upload-delay` with `{"ms": N}` → 204
//! - `GET /_emulator/received?jobid=J` → `{"headers": [[...]], "records": [[...]]}`
//! - `GET /_emulator/tokens` → the access tokens issued and still valid (for leak tests)
//! - `GET /_emulator/stats` → `{"token_requests": N, "upload_requests": N, "max_concurrent_uploads": N}`

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::faults::Fault;
use super::state::State;

/// Body of `POST /_emulator/upload-delay`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadDelay {
    pub ms: u64,
}

/// Answer of `GET /_emulator/received`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Received {
    pub headers: Vec<Vec<String>>,
    pub records: Vec<Vec<String>>,
}

/// Answer of `GET /_emulator/stats`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub token_requests: usize,
    pub upload_requests: usize,
    /// The most uploads the emulator was handling at the same time.
    #[serde(default)]
    pub max_concurrent_uploads: usize,
}

#[derive(Deserialize)]
struct JobQuery {
    jobid: String,
}

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/_emulator/faults", post(add_fault))
        .route("/_emulator/upload-delay", post(upload_delay))
        .route("/_emulator/received", get(received))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/tokens", get(tokens))
}

async fn add_fault(AxState(state): AxState<Arc<State>>, Json(fault): Json<Fault>) -> StatusCode {
    tracing::info!(?fault, "fault injected");
    state.faults.push(fault);
    StatusCode::NO_CONTENT
}

async fn upload_delay(
    AxState(state): AxState<Arc<State>>,
    Json(d): Json<UploadDelay>,
) -> StatusCode {
    state.set_upload_delay(Duration::from_millis(d.ms));
    StatusCode::NO_CONTENT
}

async fn received(AxState(state): AxState<Arc<State>>, Query(q): Query<JobQuery>) -> Response {
    let answer = state
        .with_job(&q.jobid, |j| Received {
            headers: j.headers.clone(),
            records: j.records.clone(),
        })
        .unwrap_or(Received {
            headers: Vec::new(),
            records: Vec::new(),
        });
    Json(answer).into_response()
}

/// The access tokens issued and still valid: leak tests search every output for them. Only an
/// emulator hands its tokens out like this.
async fn tokens(AxState(state): AxState<Arc<State>>) -> Json<Vec<String>> {
    Json(super::faults::lock(&state.tokens).keys().cloned().collect())
}

async fn stats(AxState(state): AxState<Arc<State>>) -> Json<Stats> {
    Json(Stats {
        token_requests: state.token_count(),
        upload_requests: state.upload_count(),
        max_concurrent_uploads: state
            .max_uploads_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
    })
}
