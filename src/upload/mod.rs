//! Uploads to the Purview HR connector: token, chunks, retry, checkpoint.
//!
//! [`Uploader::run`] is the whole job; the submodules are its parts, each with one job.

pub mod assertion;
pub mod checkpoint;
pub mod credentials;
mod error;
mod http_error;
pub mod ingest;
pub mod policy;
pub mod retry;
mod run;
pub mod token;

pub use checkpoint::{
    Checkpoint, CheckpointStore, FileCheckpointStore, MemoryCheckpointStore, NoCheckpoint,
};
pub use credentials::{
    AppCredentials, AssertionSource, CertificateCredential, ClientAuth, FederatedTokenFile,
};
pub use error::{CredentialError, UploadError, reason};
pub(crate) use http_error::describe_transport_error;
pub use policy::{MaxRejected, RunPolicy};
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use run::{
    DEFAULT_RECORDS_PER_CALL, DEFAULT_REQUEST_TIMEOUT, RunResult, UploadReport, UploadRequest,
    Uploader, UploaderConfig,
};
