//! `spec.source.azureBlob` and `spec.source.s3`: resolving them into an [`ObjectSource`]
//! (credentials from the job's Secret), and the pre-flight check on apply and every
//! `--object-source-recheck-seconds`: a HEAD, and a validation pass only when the ETag changed.
//!
//! The operator reads these sources itself, as it reads ConfigMaps: no batch Job, and the
//! checkpoint goes into status after every acknowledged chunk.

use tokio::runtime::Handle;

use super::context::Context;
use super::object_credentials;
use crate::crd::conditions::reason;
use crate::crd::{HrConnectorJob, ObjectSourceStatus};
use crate::hrdata;
use crate::source::object::{ObjectCredentials, fetch_credential, object_error};
use crate::source::{ObjectLocation, ObjectSource, ObjectVersion, StoreConfig};

/// Why an object source cannot be used: a Ready=False reason and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProblem {
    pub reason: &'static str,
    pub message: String,
}

impl ObjectProblem {
    pub(super) fn new(reason: &'static str, message: impl Into<String>) -> Self {
        ObjectProblem {
            reason,
            message: message.into(),
        }
    }
}

/// Whether the job's source is in object storage.
pub fn is_object(job: &HrConnectorJob) -> bool {
    job.spec.source.azure_blob.is_some() || job.spec.source.s3.is_some()
}

/// Whether the operator reads the job's source itself over the network (object storage, a
/// report URL or an SFTP server): checked on a background task, never inside reconcile.
pub fn is_remote(job: &HrConnectorJob) -> bool {
    is_object(job) || super::report_source::is_report(job) || super::sftp_source::is_sftp(job)
}

/// The job's object source, or `None` when its source is not in object storage.
pub async fn resolve(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<Option<ObjectSource>, ObjectProblem> {
    match store_config(ctx, namespace, job).await? {
        Some(config) => build(&config).map(Some),
        None => Ok(None),
    }
}

/// How to reach the job's object (credentials resolved, none exchanged yet), or `None` when
/// its source is not in object storage.
pub async fn store_config(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<Option<StoreConfig>, ObjectProblem> {
    let source = &job.spec.source;
    let mut config = if let Some(blob) = &source.azure_blob {
        let mut config = StoreConfig::new(ObjectLocation::AzureBlob {
            account_url: Some(blob.account_url.clone()),
            container: blob.container.clone(),
            blob: blob.blob.clone(),
        });
        config.credentials = object_credentials::azure_blob(ctx, namespace, job, blob).await?;
        config
    } else if let Some(s3) = &source.s3 {
        let mut config = StoreConfig::new(ObjectLocation::S3 {
            bucket: s3.bucket.clone(),
            key: s3.key.clone(),
        });
        config.region = Some(s3.region.clone());
        config.endpoint = s3.endpoint.clone();
        config.credentials = object_credentials::s3(ctx, namespace, job, s3).await?;
        config
    } else {
        return Ok(None);
    };
    config.retry = ctx.config.retry.clone();
    config.sleeper = ctx.sleeper.clone();
    config.ca_file = ctx.config.ca_file.clone();
    config.egress = Some(std::sync::Arc::new(ctx.config.endpoint_policy.clone()));
    Ok(Some(config))
}

fn build(config: &StoreConfig) -> Result<ObjectSource, ObjectProblem> {
    ObjectSource::new(config, Handle::current())
        .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))
}

/// What the pre-flight check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// The object as the HEAD saw it (for `status.source`), when it could be read.
    pub status: Option<ObjectSourceStatus>,
    /// `None`: the object is unchanged since the last check, nothing new to say. `Ok` holds
    /// what the check converted (for `status.input`), if anything.
    pub verdict: Option<Result<Option<String>, ObjectProblem>>,
}

impl Preflight {
    /// Whether the check ended with a problem (rather than a verdict of valid, or nothing new).
    pub fn found_a_problem(&self) -> bool {
        matches!(self.verdict, Some(Err(_)))
    }

    /// A check that found a problem before the object's version could be read.
    pub fn problem(problem: ObjectProblem) -> Self {
        Preflight {
            status: None,
            verdict: Some(Err(problem)),
        }
    }
}

/// The steps of a pre-flight check that wait on someone else, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Secrets and service accounts: the Kubernetes API.
    Kubernetes,
    /// The token exchange of `workloadIdentity` / `webIdentity` (Entra ID, STS).
    TokenExchange,
    /// The HEAD of the object at the store.
    Head,
}

/// The first half of the pre-flight check, the part that only waits for answers: credentials
/// (exchanged now when they come from a token service), then a HEAD. `step` hears of each step
/// as it begins. `Ok(None)`: the job's source is not in object storage.
pub async fn reach(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    step: &(dyn Fn(Step) + Sync),
) -> Result<Option<(ObjectSource, ObjectVersion)>, ObjectProblem> {
    step(Step::Kubernetes);
    let Some(config) = store_config(ctx, namespace, job).await? else {
        return Ok(None);
    };
    if matches!(
        config.credentials,
        ObjectCredentials::S3Provider(_) | ObjectCredentials::AzureProvider(_)
    ) {
        step(Step::TokenExchange);
    }
    fetch_credential(&config)
        .await
        .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))?;
    let object = build(&config)?;
    step(Step::Head);
    let version = object
        .head()
        .await
        .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))?;
    Ok(Some((object, version)))
}

/// The second half: validate `object` again only when its ETag (or the spec) changed since the
/// last check. `validated` holds the fingerprint of the last check of this job.
pub async fn check_version(
    ctx: &Context,
    job: &HrConnectorJob,
    key: &str,
    object: ObjectSource,
    version: &ObjectVersion,
) -> Preflight {
    let fingerprint = format!(
        "{}/{}/{}/{}",
        job.metadata.generation.unwrap_or_default(),
        version.chosen.as_deref().unwrap_or_default(),
        version.etag.as_deref().unwrap_or_default(),
        version.last_modified
    );
    check_pinned(ctx, job, key, status_of(version), fingerprint, || {
        object.pin_version(version)
    })
    .await
}

/// Validates the version a check found, unless the last check of this job (`key`) validated
/// the same `fingerprint` (spec generation and version): then only `status` is new.
pub(super) async fn check_pinned(
    ctx: &Context,
    job: &HrConnectorJob,
    key: &str,
    mut status: ObjectSourceStatus,
    fingerprint: String,
    pin: impl FnOnce() -> std::sync::Arc<dyn crate::source::CsvSource>,
) -> Preflight {
    let forget = || {
        ctx.validated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    };
    if ctx
        .validated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        == Some(&fingerprint)
    {
        return Preflight {
            status: Some(status),
            verdict: None,
        };
    }
    let (verdict, sha256) = validate_pinned(ctx, job, pin()).await;
    status.sha256 = sha256;
    // A verdict on the file itself holds until the object or the spec changes.
    if verdict.is_ok()
        || verdict.as_ref().is_err_and(|p| {
            matches!(
                p.reason,
                reason::INVALID_CSV | reason::TOO_MANY_REJECTED | reason::TOO_FEW_RECORDS
            )
        })
    {
        ctx.validated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), fingerprint);
    } else {
        forget();
    }
    Preflight {
        status: Some(status),
        verdict: Some(verdict),
    }
}

/// Converts `pinned` as spec.input declares and validates it as a run would (invalid records,
/// the ceiling, the floor), off the async threads: the verdict, with what was converted, and
/// the SHA-256 of what was validated.
pub(super) async fn validate_pinned(
    ctx: &Context,
    job: &HrConnectorJob,
    pinned: std::sync::Arc<dyn crate::source::CsvSource>,
) -> (Result<Option<String>, ObjectProblem>, Option<String>) {
    let invalid_rows = job.spec.validation_options().invalid_rows;
    let policy = job.spec.run_policy();
    let (owned, ceiling) = (job.clone(), ctx.config.limits);
    let checked = tokio::task::spawn_blocking(move || {
        let conversion = match super::converted(&owned, pinned, ceiling) {
            Ok(c) => c,
            Err(crate::convert::ConvertError::Io { name, error }) => {
                return Err(hrdata::CsvError::io(name, error));
            }
            Err(e) => return Ok(Err(e.to_string())),
        };
        let mut report = hrdata::validate(conversion.source.as_ref(), &conversion.validation)?;
        conversion.report.explain(&mut report);
        Ok(Ok((report, conversion.report.summary())))
    })
    .await;
    let mut sha256 = None;
    let verdict = match checked {
        Err(e) => Err(ObjectProblem::new(reason::INVALID_CSV, e.to_string())),
        Ok(Err(e)) => Err(match &e {
            hrdata::CsvError::Io { error, .. } => {
                if let Some(cause) = object_error(error) {
                    ObjectProblem::new(cause.reason(), cause.to_string())
                } else if let Some(cause) = crate::source::https::https_error(error) {
                    ObjectProblem::new(cause.reason(), cause.to_string())
                } else if let Some(cause) = crate::source::sftp::sftp_error(error) {
                    ObjectProblem::new(cause.reason(), cause.to_string())
                } else {
                    ObjectProblem::new(reason::SOURCE_UNREACHABLE, e.to_string())
                }
            }
            _ => ObjectProblem::new(reason::INVALID_CSV, e.to_string()),
        }),
        Ok(Ok(Err(conversion))) => Err(ObjectProblem::new(reason::INVALID_CSV, conversion)),
        // The run's own verdict, on the check: invalid records, the ceiling, the floor.
        Ok(Ok(Ok((report, input)))) => {
            sha256 = Some(report.sha256.clone());
            policy
                .check(&report, invalid_rows)
                .map(|()| input)
                .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))
        }
    };
    (verdict, sha256)
}

/// The status of a new check, keeping the digest the last one found for the same version (a
/// version found unchanged is not read again).
pub fn carry_digest(
    mut new: ObjectSourceStatus,
    old: Option<&ObjectSourceStatus>,
) -> ObjectSourceStatus {
    if let Some(old) = old
        && new.sha256.is_none()
        && (&new.chosen, &new.etag, &new.last_modified, new.size)
            == (&old.chosen, &old.etag, &old.last_modified, old.size)
    {
        new.sha256 = old.sha256.clone();
    }
    new
}

fn status_of(version: &ObjectVersion) -> ObjectSourceStatus {
    ObjectSourceStatus {
        chosen: version.chosen.clone(),
        sha256: None,
        etag: version.etag.clone(),
        last_modified: Some(version.last_modified.clone()),
        size: Some(version.size),
    }
}
