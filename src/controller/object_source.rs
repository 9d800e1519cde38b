//! `spec.source.azureBlob` and `spec.source.s3`: resolving them into an [`ObjectSource`]
//! (credentials from the job's Secret), and the pre-flight check on apply and every
//! `--object-source-recheck-seconds`: a HEAD, and a validation pass only when the ETag changed.
//!
//! The operator reads these sources itself, as it reads ConfigMaps: no batch Job, and the
//! checkpoint goes into status after every acknowledged chunk.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use secrecy::SecretString;
use tokio::runtime::Handle;

use super::context::Context;
use super::source::get;
use crate::crd::conditions::reason;
use crate::crd::{HrConnectorJob, ObjectSourceStatus};
use crate::hrdata;
use crate::source::object::object_error;
use crate::source::{
    CsvSource, ObjectCredentials, ObjectLocation, ObjectSource, ObjectVersion, StoreConfig,
};

/// Why an object source cannot be used: a Ready=False reason and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProblem {
    pub reason: &'static str,
    pub message: String,
}

impl ObjectProblem {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
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

/// The job's object source, or `None` when its source is not in object storage.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    job: &HrConnectorJob,
    settings: (u32, Option<&std::path::Path>),
) -> Result<Option<ObjectSource>, ObjectProblem> {
    let (max_attempts, ca_file) = settings;
    let source = &job.spec.source;
    let mut config = if let Some(blob) = &source.azure_blob {
        let mut config = StoreConfig::new(ObjectLocation::AzureBlob {
            account_url: Some(blob.account_url.clone()),
            container: blob.container.clone(),
            blob: blob.blob.clone(),
        });
        config.credentials = match (
            &blob.credentials.secret_ref,
            &blob.credentials.workload_identity,
        ) {
            (Some(secret), _) => {
                let keys = read_secret(client, namespace, &secret.name).await?;
                match (keys.get("accountKey"), keys.get("sasToken")) {
                    (Some(key), _) => ObjectCredentials::AzureAccountKey(key.clone()),
                    (None, Some(sas)) => ObjectCredentials::AzureSasToken(sas.clone()),
                    (None, None) => {
                        return Err(ObjectProblem::new(
                            reason::CREDENTIALS_NOT_FOUND,
                            format!(
                                "Secret {namespace}/{} has neither the key \"accountKey\" nor \"sasToken\"",
                                secret.name
                            ),
                        ));
                    }
                }
            }
            (None, _) => {
                return Err(unsupported(
                    "spec.source.azureBlob.credentials.workloadIdentity",
                ));
            }
        };
        config
    } else if let Some(s3) = &source.s3 {
        let mut config = StoreConfig::new(ObjectLocation::S3 {
            bucket: s3.bucket.clone(),
            key: s3.key.clone(),
        });
        config.region = Some(s3.region.clone());
        config.endpoint = s3.endpoint.clone();
        config.credentials = match &s3.credentials.secret_ref {
            Some(secret) => {
                let mut keys = read_secret(client, namespace, &secret.name).await?;
                let mut take = |key: &str| keys.remove(key);
                match (take("accessKeyId"), take("secretAccessKey")) {
                    (Some(access_key_id), Some(secret_access_key)) => ObjectCredentials::S3Keys {
                        access_key_id,
                        secret_access_key,
                        session_token: take("sessionToken"),
                    },
                    _ => {
                        return Err(ObjectProblem::new(
                            reason::CREDENTIALS_NOT_FOUND,
                            format!(
                                "Secret {namespace}/{} needs the keys \"accessKeyId\" and \"secretAccessKey\"",
                                secret.name
                            ),
                        ));
                    }
                }
            }
            None => return Err(unsupported("spec.source.s3.credentials.webIdentity")),
        };
        config
    } else {
        return Ok(None);
    };
    config.max_attempts = max_attempts;
    config.ca_file = ca_file.map(ToOwned::to_owned);
    ObjectSource::new(&config, Handle::current())
        .map(Some)
        .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))
}

/// Attempts per request and the extra trusted CA bundle, as for the uploads.
pub fn settings(ctx: &Context) -> (u32, Option<&std::path::Path>) {
    (ctx.config.retry.max_attempts, ctx.config.ca_file.as_deref())
}

/// Token-based credentials arrive with the TokenRequest support of the workload-identity work.
fn unsupported(field: &str) -> ObjectProblem {
    ObjectProblem::new(
        reason::CREDENTIALS_UNSUPPORTED,
        format!("{field} is not supported by this version of the operator yet; use secretRef"),
    )
}

/// The text values of a Secret (values never reach messages).
async fn read_secret(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<std::collections::HashMap<String, SecretString>, ObjectProblem> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = get(&api, "Secret", namespace, name)
        .await
        .map_err(|e| ObjectProblem::new(reason::CREDENTIALS_NOT_FOUND, e.to_string()))?;
    let mut values = std::collections::HashMap::new();
    for (key, value) in secret.data.unwrap_or_default() {
        if let Ok(text) = String::from_utf8(value.0) {
            values.insert(key, SecretString::from(text.trim_end().to_owned()));
        }
    }
    Ok(values)
}

/// What the pre-flight check found.
pub struct Preflight {
    /// The object as the HEAD saw it (for `status.source`), when it could be read.
    pub status: Option<ObjectSourceStatus>,
    /// `None`: the object is unchanged since the last check, nothing new to say.
    pub verdict: Option<Result<(), ObjectProblem>>,
}

/// HEAD the object; validate it again only when its ETag (or the spec) changed since the last
/// check. `validated` holds the fingerprint of the last check of this job.
pub async fn preflight(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    key: &str,
) -> Preflight {
    let forget = || {
        ctx.validated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    };
    let object = match resolve(&ctx.client, namespace, job, settings(ctx)).await {
        Ok(Some(object)) => object,
        Ok(None) => {
            return Preflight {
                status: None,
                verdict: None,
            };
        }
        Err(problem) => {
            forget();
            return Preflight {
                status: None,
                verdict: Some(Err(problem)),
            };
        }
    };
    let version = match object.head().await {
        Ok(version) => version,
        Err(e) => {
            forget();
            return Preflight {
                status: None,
                verdict: Some(Err(ObjectProblem::new(e.reason(), e.to_string()))),
            };
        }
    };
    let status = Some(status_of(&version));
    let fingerprint = format!(
        "{}/{}/{}",
        job.metadata.generation.unwrap_or_default(),
        version.etag.as_deref().unwrap_or_default(),
        version.last_modified
    );
    if ctx
        .validated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        == Some(&fingerprint)
    {
        return Preflight {
            status,
            verdict: None,
        };
    }
    let options = super::validation_options(job);
    let reject = job.spec.invalid_rows == crate::crd::InvalidRows::Reject;
    let checked = tokio::task::spawn_blocking(move || {
        let pinned = object
            .pin()
            .map_err(|error| hrdata::CsvError::io(object.name(), error))?;
        hrdata::validate(pinned.as_ref(), &options)
    })
    .await;
    let verdict = match checked {
        Err(e) => Err(ObjectProblem::new(reason::INVALID_CSV, e.to_string())),
        Ok(Err(e)) => Err(match &e {
            hrdata::CsvError::Io { error, .. } => match object_error(error) {
                Some(cause) => ObjectProblem::new(cause.reason(), cause.to_string()),
                None => ObjectProblem::new(reason::SOURCE_UNREACHABLE, e.to_string()),
            },
            _ => ObjectProblem::new(reason::INVALID_CSV, e.to_string()),
        }),
        Ok(Ok(report)) if !report.is_valid() && reject => {
            let first = report
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_default();
            Err(ObjectProblem::new(
                reason::INVALID_CSV,
                format!("{} invalid record(s); first: {first}", report.rejected),
            ))
        }
        Ok(Ok(_)) => Ok(()),
    };
    if verdict.is_ok()
        || verdict
            .as_ref()
            .is_err_and(|p| p.reason == reason::INVALID_CSV)
    {
        ctx.validated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), fingerprint);
    } else {
        forget();
    }
    Preflight {
        status,
        verdict: Some(verdict),
    }
}

fn status_of(version: &ObjectVersion) -> ObjectSourceStatus {
    ObjectSourceStatus {
        etag: version.etag.clone(),
        last_modified: Some(version.last_modified.clone()),
        size: Some(version.size),
    }
}
