//! One upload run: validate the whole source, decide what still has to be sent, send it chunk by
//! chunk, and checkpoint after every acknowledged chunk.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{Checkpoint, CheckpointStore};
use super::credentials::AppCredentials;
use super::error::UploadError;
use super::ingest::{AttemptOutcome, post_chunk};
use super::policy::{self, RunPolicy};
use super::retry::{RetryPolicy, Sleeper, TokioSleeper};
use super::token::TokenClient;
use crate::cloud::Endpoints;
use crate::hrdata::{
    self, Chunk, ChunkPlan, ChunkReader, CsvError, CsvSource, ValidationOptions, ValidationReport,
};
use crate::http_client::{self, HttpClientConfig};

/// The sample scripts' request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(400);
/// Records per request since February 2026.
pub const DEFAULT_RECORDS_PER_CALL: usize = 5000;

/// Everything an [`Uploader`] needs that does not change between runs.
pub struct UploaderConfig {
    pub endpoints: Endpoints,
    /// Where requests may go; [`UploaderConfig::new`] allows the published hosts and the
    /// origins of `endpoints` (the caller chose them); the operator gives its own policy.
    pub egress: Arc<crate::net::EgressPolicy>,
    pub credentials: AppCredentials,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    /// Extra trusted CA bundle (PEM), in addition to the public and system roots.
    pub ca_file: Option<std::path::PathBuf>,
    pub sleeper: Arc<dyn Sleeper>,
}

impl UploaderConfig {
    pub fn new(endpoints: Endpoints, credentials: AppCredentials) -> Self {
        let egress = crate::net::EgressPolicy::published_only()
            .allowing_origin_of(&endpoints.authority_url)
            .allowing_origin_of(&endpoints.ingestion_url);
        UploaderConfig {
            endpoints,
            egress: Arc::new(egress),
            credentials,
            retry: RetryPolicy::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            ca_file: None,
            sleeper: Arc::new(TokioSleeper),
        }
    }
}

/// What one run is asked to do.
#[derive(Clone)]
pub struct UploadRequest {
    pub source: Arc<dyn CsvSource>,
    pub job_id: String,
    pub validation: ValidationOptions,
    pub records_per_call: usize,
    /// Send everything again even if the checkpoint says the content was sent.
    pub force: bool,
    /// Validate and report; send nothing, not even a token request.
    pub dry_run: bool,
    /// The ceiling on skipped records, the floor on records, and when unchanged content is
    /// sent again.
    pub policy: RunPolicy,
    /// Stops the run after the chunk in flight (shutdown, lost leadership).
    pub cancel: CancellationToken,
    /// When `source` is a converted export: what the conversion did, so that errors speak of
    /// the export (the format expected, the sheet row).
    pub conversion: Option<Arc<crate::convert::ConversionReport>>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RunResult {
    Succeeded,
    Unchanged,
    /// The source holds no records (a header only): nothing was sent, and the run is not a
    /// success either (`--min-records` makes it a failure).
    NothingToUpload,
    DryRun,
    Failed,
}

impl RunResult {
    /// The name used in JSON output, status and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Succeeded => "Succeeded",
            RunResult::Unchanged => "Unchanged",
            RunResult::NothingToUpload => "NothingToUpload",
            RunResult::DryRun => "DryRun",
            RunResult::Failed => "Failed",
        }
    }
}

/// The outcome of one run, as printed by `upload --output json` and copied into status.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReport {
    pub result: RunResult,
    /// Records of this content acknowledged by the service (earlier runs' included on resume).
    pub records_saved: u64,
    /// Records left out because they failed validation (`skip`) or that blocked the upload.
    pub records_rejected: u64,
    /// Chunks sent and acknowledged in this run.
    pub chunks: u64,
    /// Upload requests made in this run, retries included.
    pub attempts: u64,
    /// Records acknowledged in this run alone (the rest of `recordsSaved` came from earlier
    /// runs of the same content): what the records-uploaded metric counts.
    #[serde(skip)]
    pub records_sent: u64,
    pub source_sha256: String,
    /// One line for a person; never holds CSV values or secrets.
    pub message: String,
    /// When the content the service now holds was last uploaded in full: this run's end for a
    /// completed upload, the matching earlier upload's for an unchanged one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<jiff::Timestamp>,
    /// A one-word reason when the run failed (`AuthenticationFailed`, `InvalidCsv`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The file's accepted records per scenario (`Resignation`, `JobLevelChange`, …), once it
    /// has been validated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenarios: BTreeMap<String, u64>,
    /// The file the source chose, when it names a pattern (the newest match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl UploadReport {
    /// A report for a run that failed before anything was sent.
    pub fn failed(reason: &'static str, message: String) -> Self {
        UploadReport {
            result: RunResult::Failed,
            records_saved: 0,
            records_rejected: 0,
            chunks: 0,
            attempts: 0,
            records_sent: 0,
            source_sha256: String::new(),
            message,
            uploaded_at: None,
            reason: Some(reason),
            scenarios: BTreeMap::new(),
            source: None,
        }
    }

    /// A report of a validated source that ends the run before anything is sent.
    fn settled(result: RunResult, validated: &ValidationReport, message: String) -> Self {
        UploadReport {
            result,
            records_saved: 0,
            records_rejected: validated.rejected,
            chunks: 0,
            attempts: 0,
            records_sent: 0,
            source_sha256: validated.sha256.clone(),
            message,
            uploaded_at: None,
            reason: None,
            scenarios: BTreeMap::new(),
            source: None,
        }
    }

    /// The report of a run stopped by `error` before anything was sent.
    pub fn from_error(error: &UploadError) -> Self {
        Self::failed(error.reason(), error.to_string())
    }
}

/// Sends HR data for one app to one ingestion endpoint.
pub struct Uploader {
    http: crate::http_client::HttpClient,
    endpoints: Endpoints,
    tokens: TokenClient,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
}

impl Uploader {
    pub fn new(config: UploaderConfig) -> Result<Self, UploadError> {
        config.credentials.check_ids()?;
        let http = http_client::build(&HttpClientConfig {
            request_timeout: config.request_timeout,
            ca_file: config.ca_file.clone(),
            egress: config.egress.clone(),
            ..HttpClientConfig::default()
        })?;
        let tenant = &config.credentials.tenant_id;
        let token_url = if config.credentials.auth.uses_v2_endpoint() {
            config.endpoints.token_url_v2(tenant)
        } else {
            config.endpoints.token_url(tenant)
        };
        let tokens = TokenClient::new(
            http.clone(),
            token_url,
            config.endpoints.resource.clone(),
            config.credentials,
            config.retry.clone(),
            config.sleeper.clone(),
        );
        Ok(Uploader {
            http,
            endpoints: config.endpoints,
            tokens,
            retry: config.retry,
            sleeper: config.sleeper,
        })
    }

    /// Runs one upload. Never panics on bad input: every failure becomes a `Failed` report.
    pub async fn run<S: CheckpointStore>(
        &self,
        request: &UploadRequest,
        store: &S,
    ) -> UploadReport {
        let mut progress = Progress::default();
        let mut report = match self.run_inner(request, store, &mut progress).await {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(reason = error.reason(), error = %error, "upload failed");
                UploadReport {
                    result: RunResult::Failed,
                    records_saved: progress.acknowledged,
                    records_rejected: progress.rejected,
                    chunks: progress.chunks,
                    attempts: progress.attempts,
                    records_sent: progress.sent,
                    source_sha256: progress.sha256,
                    message: error.to_string(),
                    uploaded_at: None,
                    reason: Some(error.reason()),
                    scenarios: BTreeMap::new(),
                    source: None,
                }
            }
        };
        report.scenarios = std::mem::take(&mut progress.scenarios);
        report.source = progress.chosen.take();
        report
    }

    async fn run_inner<S: CheckpointStore>(
        &self,
        request: &UploadRequest,
        store: &S,
        progress: &mut Progress,
    ) -> Result<UploadReport, UploadError> {
        let records_per_call = request.records_per_call.max(1);
        let (source, mut report, plan) = validate_blocking(request, records_per_call).await?;
        // A pattern names what it chose only once pinned.
        if source.name() != request.source.name() {
            progress.chosen = Some(source.name());
        }
        if let Some(conversion) = &request.conversion {
            conversion.explain(&mut report);
        }
        progress.sha256 = report.sha256.clone();
        progress.rejected = report.rejected;
        progress.scenarios = report
            .scenarios
            .iter()
            .map(|(s, n)| (s.name().to_owned(), *n))
            .collect();
        request
            .policy
            .check(&report, request.validation.invalid_rows)?;
        let total = report.accepted();
        if total == 0 {
            return Ok(UploadReport::settled(
                RunResult::NothingToUpload,
                &report,
                "the source has a header and no records; nothing was sent. An HR export that \
                 suddenly has no rows is more often broken than a quiet month: --min-records 1 \
                 (spec.minRecords) makes this a failure"
                    .into(),
            ));
        }

        let previous = store.load().await.map_err(UploadError::Checkpoint)?;
        let previous = previous.filter(|cp| {
            !request.force && cp.job_id == request.job_id && cp.source_sha256 == report.sha256
        });
        let holds_profiles = report
            .scenarios
            .get(&hrdata::Scenario::EmployeeProfile)
            .is_some_and(|n| *n > 0);
        let resend_after = request.policy.resend_after(holds_profiles);
        let mut resent_because = None;
        // A seeded checkpoint (the operator's status) may not carry `complete`; every accepted
        // record acknowledged means the same thing.
        let complete = previous
            .as_ref()
            .filter(|cp| cp.complete || cp.records_acknowledged == total);
        let previous = match (complete, resend_after) {
            (Some(cp), Some(after)) if policy::resend_due(cp, after, jiff::Timestamp::now()) => {
                resent_because = Some(format!(
                    "sent again: its last upload ({}) is older than {} (--resend-unchanged-after, spec.resendUnchangedAfter)",
                    uploaded_on(cp.completed_at),
                    crate::duration::format(after)
                ));
                None
            }
            (Some(cp), _) => {
                let mut unchanged = UploadReport::settled(
                    RunResult::Unchanged,
                    &report,
                    format!(
                        "content unchanged since its upload of {} records {}; nothing sent",
                        cp.records_acknowledged,
                        uploaded_on(cp.completed_at)
                    ),
                );
                unchanged.records_saved = cp.records_acknowledged;
                unchanged.uploaded_at = cp.completed_at;
                return Ok(unchanged);
            }
            (None, _) => previous,
        };
        let resume_from = previous
            .map(|cp| cp.records_acknowledged.min(total))
            .unwrap_or(0);
        progress.acknowledged = resume_from;

        if request.dry_run {
            let remaining = total - resume_from;
            let chunks = remaining.div_ceil(records_per_call as u64);
            return Ok(UploadReport::settled(
                RunResult::DryRun,
                &report,
                format!("dry run: would send {remaining} of {total} records in {chunks} chunk(s)"),
            ));
        }

        if resume_from > 0 {
            tracing::info!(
                resume_from,
                total,
                "resuming after the last acknowledged chunk"
            );
        }
        let upload_url = self.endpoints.upload_url(&request.job_id);
        // The pinned source's name: for a pattern, the file it chose.
        let file_name = upload_file_name(&source.name());
        let (mut chunks, producer) =
            spawn_chunk_producer(source, request, plan, records_per_call, resume_from);
        let mut checkpoint = Checkpoint {
            job_id: request.job_id.clone(),
            source_sha256: report.sha256.clone(),
            records_acknowledged: resume_from,
            complete: false,
            completed_at: None,
        };
        while let Some(item) = chunks.recv().await {
            if request.cancel.is_cancelled() {
                return Err(UploadError::Cancelled);
            }
            let mut chunk = item.map_err(|e| match e {
                CsvError::Changed { .. } => UploadError::SourceChanged,
                e => e.into(),
            })?;
            // The body moves into a shared buffer once; retries re-send it without copying.
            let body = Bytes::from(std::mem::take(&mut chunk.body));
            self.send_with_retry(
                &upload_url,
                &file_name,
                chunk.index,
                body,
                progress,
                &request.cancel,
            )
            .await?;
            progress.chunks += 1;
            progress.sent += chunk.records as u64;
            progress.acknowledged = chunk.first_record + chunk.records as u64;
            checkpoint.records_acknowledged = progress.acknowledged;
            checkpoint.complete = progress.acknowledged >= total;
            if checkpoint.complete {
                checkpoint.completed_at = Some(jiff::Timestamp::now());
            }
            store
                .save(&checkpoint)
                .await
                .map_err(UploadError::Checkpoint)?;
            tracing::info!(
                chunk = chunk.index + 1,
                records = chunk.records,
                acknowledged = progress.acknowledged,
                total,
                "chunk acknowledged"
            );
        }
        let sha_after = producer
            .await
            .map_err(|e| UploadError::Internal(format!("the chunk reader stopped: {e}")))?;
        if sha_after.as_deref() != Some(report.sha256.as_str()) || progress.acknowledged != total {
            return Err(UploadError::SourceChanged);
        }
        Ok(UploadReport {
            result: RunResult::Succeeded,
            records_saved: progress.acknowledged,
            records_rejected: report.rejected,
            chunks: progress.chunks,
            attempts: progress.attempts,
            records_sent: progress.sent,
            source_sha256: report.sha256,
            message: format!(
                "{} records saved in {} chunk(s){}{}",
                progress.acknowledged,
                progress.chunks,
                if resume_from > 0 {
                    format!(", resumed after record {resume_from}")
                } else {
                    String::new()
                },
                resent_because.map_or(String::new(), |why| format!("; {why}")),
            ),
            uploaded_at: checkpoint.completed_at,
            reason: None,
            scenarios: BTreeMap::new(),
            source: None,
        })
    }

    /// Posts one chunk until it is acknowledged, refused, or the attempts run out. A request in
    /// flight is always awaited (its answer may be an acknowledgement), but cancellation ends
    /// the wait before a retry: the chunk is abandoned unacknowledged, and the next run resends it.
    async fn send_with_retry(
        &self,
        upload_url: &str,
        file_name: &str,
        index: u64,
        body: Bytes,
        progress: &mut Progress,
        cancel: &CancellationToken,
    ) -> Result<(), UploadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let bearer = self.tokens.bearer().await?;
            progress.attempts += 1;
            let (last, wait_hint) =
                match post_chunk(&self.http, upload_url, &bearer, file_name, body.clone()).await {
                    AttemptOutcome::Accepted => return Ok(()),
                    AttemptOutcome::Refused { status, message } => {
                        return Err(UploadError::Rejected { status, message });
                    }
                    AttemptOutcome::Untrusted(cert) => {
                        return Err(UploadError::UntrustedCertificate(cert));
                    }
                    AttemptOutcome::NotAllowed(refused) => {
                        return Err(UploadError::EndpointNotAllowed(refused));
                    }
                    AttemptOutcome::Transient {
                        message,
                        retry_after,
                    } => (message, retry_after),
                };
            if attempt >= self.retry.max_attempts {
                return Err(UploadError::Unavailable {
                    what: "ingestion service",
                    attempts: attempt,
                    last,
                });
            }
            let wait = self.retry.delay(attempt, wait_hint);
            tracing::warn!(chunk = index + 1, attempt, wait_ms = wait.as_millis() as u64, error = %last, "upload attempt failed, retrying");
            tokio::select! {
                () = self.sleeper.sleep(wait) => {}
                () = cancel.cancelled() => return Err(UploadError::Cancelled),
            }
        }
    }
}

#[derive(Default)]
struct Progress {
    acknowledged: u64,
    sent: u64,
    rejected: u64,
    chunks: u64,
    attempts: u64,
    sha256: String,
    scenarios: BTreeMap<String, u64>,
    chosen: Option<String>,
}

/// Opens the source once for both passes (what is sent is what was validated) and validates it
/// on a blocking thread (file I/O and the CSV reader are synchronous), noting the chunk
/// boundaries for `records_per_call` on the way.
async fn validate_blocking(
    request: &UploadRequest,
    records_per_call: usize,
) -> Result<(Arc<dyn CsvSource>, ValidationReport, Option<ChunkPlan>), UploadError> {
    let source = request.source.clone();
    let options = request.validation.clone();
    let validated = tokio::task::spawn_blocking(move || {
        let pinned = source.pin().map_err(|error| CsvError::Io {
            source_name: source.name(),
            error,
        })?;
        let (report, plan) =
            hrdata::validate_and_plan(pinned.as_ref(), &options, records_per_call)?;
        Ok::<_, CsvError>((pinned, report, plan))
    })
    .await
    .map_err(|e| UploadError::Internal(format!("the validation task stopped: {e}")))??;
    Ok(validated)
}

/// Reads chunks on a blocking thread, at most two ahead of the network, so that reading and
/// sending overlap while memory stays bounded by a few chunks. The handle yields the source's
/// SHA-256 as read during this pass, to catch a source that changed since validation.
fn spawn_chunk_producer(
    source: Arc<dyn CsvSource>,
    request: &UploadRequest,
    plan: Option<ChunkPlan>,
    records_per_call: usize,
    skip: u64,
) -> (
    mpsc::Receiver<Result<Chunk, CsvError>>,
    tokio::task::JoinHandle<Option<String>>,
) {
    let (tx, rx) = mpsc::channel(2);
    let options = request.validation.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let opened =
            ChunkReader::open_planned(source.as_ref(), &options, plan, records_per_call, skip);
        let mut reader = match opened {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return None;
            }
        };
        loop {
            match reader.next_chunk() {
                Ok(Some(chunk)) => {
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        return None; // the run stopped; nothing more to read
                    }
                }
                Ok(None) => return reader.sha256(),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return None;
                }
            }
        }
    });
    (rx, handle)
}

/// `on 2026-11-20T10:00:00Z`, or that the date is not known (a checkpoint from before it was
/// recorded).
fn uploaded_on(at: Option<jiff::Timestamp>) -> String {
    match at {
        Some(at) => format!("on {}", at.strftime("%Y-%m-%dT%H:%M:%SZ")),
        None => "at a time not recorded".into(),
    }
}

/// The file name the service sees: the source's base name, as the sample script sends it.
fn upload_file_name(source_name: &str) -> String {
    let base = source_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_name);
    if base.is_empty() {
        "hrdata.csv".into()
    } else {
        base.to_string()
    }
}
