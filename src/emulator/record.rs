//! Request bookkeeping: every request is counted and recorded on arrival (so `requests()` is in
//! arrival order), handlers add what they learn, and the status is filled in when answered.
//! A request whose connection was reset keeps status 0.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State as AxState};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;

use super::faults::lock;
use super::state::{RequestKind, RequestRecord, State};

/// The arriving request's record, shared with its handler through a request extension.
#[derive(Clone)]
pub(crate) struct Note(pub Arc<Mutex<RequestRecord>>);

impl Note {
    pub fn update(&self, f: impl FnOnce(&mut RequestRecord)) {
        f(&mut lock(&self.0));
    }
}

pub(crate) fn kind_of(path: &str) -> RequestKind {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [_tenant, "oauth2", "token"] | [_tenant, "oauth2", "v2.0", "token"] => RequestKind::Token,
        ["api", "signals"] => RequestKind::Upload,
        _ => RequestKind::Other,
    }
}

pub(crate) async fn record(
    AxState(state): AxState<Arc<State>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let kind = kind_of(&path);
    state.count(kind);
    let record = RequestRecord {
        kind,
        method: req.method().to_string(),
        path,
        query: req.uri().query().unwrap_or("").to_string(),
        content_type: req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        form: Vec::new(),
        bearer_valid: None,
        part_name: None,
        file_name: None,
        status: 0,
        assertion_issuer: None,
        assertion_subject: None,
        assertion_expires: None,
    };
    let note = Note(Arc::new(Mutex::new(record)));
    lock(&state.requests).push(note.0.clone());
    req.extensions_mut().insert(note.clone());

    let response = next.run(req).await;

    let status = response.status().as_u16();
    note.update(|r| r.status = status);
    let r = lock(&note.0).clone();
    // Method, path and query only: the query holds the job id, never a credential.
    tracing::info!(kind = ?r.kind, method = %r.method, path = %r.path, query = %r.query, status, "request");
    response
}
