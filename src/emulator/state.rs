//! Everything the emulator remembers between requests, shared by all connections.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::{
    ConfigError, Directory, EmulatorConfig, Issuers, build_directory, build_issuers,
};
use super::faults::{FaultQueues, lock};

/// Which endpoint a request was aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Token,
    Upload,
    Other,
}

/// One request as the emulator saw it, for request-shape tests. Secrets are redacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub kind: RequestKind,
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    /// Token form fields in order; `client_secret` and `client_assertion` values are
    /// `"<redacted>"`.
    pub form: Vec<(String, String)>,
    /// Uploads only: `None` without an `Authorization: Bearer` header, else whether the token
    /// was one the emulator issued and still valid.
    pub bearer_valid: Option<bool>,
    /// Uploads only: name and filename of the first multipart part.
    pub part_name: Option<String>,
    pub file_name: Option<String>,
    /// Status answered; 0 when the connection was reset instead of answered.
    pub status: u16,
    /// v2 token requests with a verified federated assertion: its `iss` and `sub` claims
    /// (never the token itself).
    #[serde(default)]
    pub assertion_issuer: Option<String>,
    #[serde(default)]
    pub assertion_subject: Option<String>,
    /// Its `exp` claim: tells a rotated token from the one before it.
    #[serde(default)]
    pub assertion_expires: Option<i64>,
}

/// One accepted upload, like a line of the portal's "Download log".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub time: jiff::Timestamp,
    pub file_name: String,
    pub records_saved: u64,
    pub status: String,
    /// Records per value of the scenario column, for files that have one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenarios: BTreeMap<String, u64>,
}

/// What one job received.
#[derive(Default, Debug)]
pub(crate) struct JobData {
    pub log: Vec<LogEntry>,
    pub headers: Vec<Vec<String>>,
    pub records: Vec<Vec<String>>,
}

pub(crate) struct IssuedToken {
    pub expires: Instant,
}

pub(crate) struct State {
    pub config: EmulatorConfig,
    pub directory: Directory,
    pub issuers: Issuers,
    pub faults: FaultQueues,
    pub tokens: Mutex<HashMap<String, IssuedToken>>,
    pub jobs: Mutex<HashMap<String, JobData>>,
    pub requests: Mutex<Vec<Arc<Mutex<RequestRecord>>>>,
    pub upload_delay: Mutex<Duration>,
    pub token_requests: AtomicUsize,
    pub upload_requests: AtomicUsize,
    /// Uploads being handled right now, and the most ever at once: how a benchmark checks a
    /// client's concurrency bound from the outside.
    pub uploads_in_flight: AtomicUsize,
    pub max_uploads_in_flight: AtomicUsize,
}

/// Counts an upload as in flight for as long as it lives.
pub(crate) struct InFlight<'a>(&'a State);

impl<'a> InFlight<'a> {
    pub fn enter(state: &'a State) -> Self {
        let now = state.uploads_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_uploads_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.uploads_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl State {
    pub fn new(config: EmulatorConfig) -> Result<Self, ConfigError> {
        let directory = build_directory(&config.apps)?;
        let issuers = build_issuers(&config.issuers)?;
        Ok(Self {
            config,
            directory,
            issuers,
            faults: FaultQueues::default(),
            tokens: Mutex::default(),
            jobs: Mutex::default(),
            requests: Mutex::default(),
            upload_delay: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            upload_requests: AtomicUsize::new(0),
            uploads_in_flight: AtomicUsize::new(0),
            max_uploads_in_flight: AtomicUsize::new(0),
        })
    }

    pub fn issue_token(&self, token: String, lifetime: Duration) {
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        // Clients fetch a token per attempt; drop expired ones so long runs stay small.
        tokens.retain(|_, t| t.expires > now);
        tokens.insert(
            token,
            IssuedToken {
                expires: now + lifetime,
            },
        );
    }

    pub fn token_is_valid(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get(token)
            .is_some_and(|t| t.expires > Instant::now())
    }

    pub fn job_is_registered(&self, job_id: &str) -> bool {
        self.config.jobs.is_empty()
            || self
                .config
                .jobs
                .iter()
                .any(|j| j.eq_ignore_ascii_case(job_id))
    }

    /// Stores one accepted upload atomically, so concurrent uploads never interleave records.
    pub fn store_upload(
        &self,
        job_id: &str,
        entry: LogEntry,
        header: Vec<String>,
        records: Vec<Vec<String>>,
    ) {
        let mut jobs = lock(&self.jobs);
        let job = jobs.entry(job_id.to_ascii_lowercase()).or_default();
        job.log.push(entry);
        job.headers.push(header);
        if self.config.keep_records {
            job.records.extend(records);
        }
    }

    pub fn with_job<T>(&self, job_id: &str, f: impl FnOnce(&JobData) -> T) -> Option<T> {
        lock(&self.jobs).get(&job_id.to_ascii_lowercase()).map(f)
    }

    pub fn upload_delay(&self) -> Duration {
        *lock(&self.upload_delay)
    }

    pub fn set_upload_delay(&self, d: Duration) {
        *lock(&self.upload_delay) = d;
    }

    pub fn count(&self, kind: RequestKind) {
        match kind {
            RequestKind::Token => self.token_requests.fetch_add(1, Ordering::Relaxed),
            RequestKind::Upload => self.upload_requests.fetch_add(1, Ordering::Relaxed),
            RequestKind::Other => 0,
        };
    }

    pub fn token_count(&self) -> usize {
        self.token_requests.load(Ordering::Relaxed)
    }

    pub fn upload_count(&self) -> usize {
        self.upload_requests.load(Ordering::Relaxed)
    }
}
