//! Uploads from a PersistentVolumeClaim. The controller cannot mount a claim itself, so it runs
//! `hrconnector upload` in a `batch/v1` Job owned by the `HrConnectorJob`: the claim and the
//! credentials Secret mounted read-only, the JSON report returned through the container's
//! termination message, and the controller copying that report into status.
//!
//! - [`naming`]: deterministic Job names and label values, so a restarted controller finds the
//!   Job of a run instead of creating a second one.
//! - [`args`]: the `upload` command line (shared by the Job and the tests that run the binary).
//! - [`build`]: the Job object itself (owner reference, restricted Pod Security, mounts).
//! - [`state`]: reading a Job and its pods back into a result.
//! - [`trusted_ca`]: the operator's extra CA bundle, carried into the Job's pod.

mod args;
mod auth;
mod build;
mod naming;
mod state;
mod trusted_ca;

pub use args::{UploadPaths, upload_args};
pub use auth::{AuthKind, FederatedIdentity, auth_kind};
pub use build::{
    CONTAINER_NAME, CREDENTIALS_DIR, DATA_DIR, JOB_LABEL, PodIds, PvcJobSettings, RUN_AS_ID,
    RUN_ID_ANNOTATION, RUN_LABEL, TERMINATION_LOG, build_upload_job,
};
pub use naming::{job_name, label_value};
pub use state::{PodReport, PvcJobState, deadline_exceeded, parse_report, pvc_job_state};
pub use trusted_ca::{
    MAX_TRUSTED_CA_BYTES, TRUSTED_CA_ANNOTATION, TRUSTED_CA_FILE, TrustedCa, TrustedCaError,
};

/// Why an upload Job could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PvcJobError {
    #[error("spec.source.persistentVolumeClaim is not set: only PVC sources run as a Job")]
    NotPvcSource,
    #[error(
        "spec.source.persistentVolumeClaim.path {0:?} must be relative to the claim root and must not contain '..'"
    )]
    UnsafePath(String),
    #[error("the HrConnectorJob has no metadata.{0}")]
    MissingMetadata(&'static str),
    #[error("status.checkpoint.sourceSha256 is not a SHA-256 (64 hex digits)")]
    InvalidCheckpoint,
    #[error("Secret {secret:?} has no key(s) {}", keys.join(", "))]
    MissingSecretKeys { secret: String, keys: Vec<String> },
    #[error(
        "Secret {secret:?} holds no app credential: it needs key {app_secret_key:?}, or both {certificate_key:?} and {private_key_key:?}"
    )]
    NoAppCredential {
        secret: String,
        app_secret_key: String,
        certificate_key: String,
        private_key_key: String,
    },
}
