//! The `HrConnectorJob` custom resource (`hrconnector.io/v1alpha1`): spec, status, condition
//! helpers and the checks the controller runs before acting on a spec.
//!
//! `crds/hrconnector.io_hrconnectorjobs.yaml` is generated from these types with
//! `cargo run -- crd > crds/hrconnector.io_hrconnectorjobs.yaml`; a test fails when it drifts.

pub mod conditions;
pub mod input_spec;
mod limits;
pub mod message;
mod object_spec;
mod run_timeout;
mod sftp_spec;
mod spec;
mod status;
mod validate;

pub use limits::CsvLimits;
pub use object_spec::{
    AzureBlobCredentials, AzureBlobSource, HttpsReportSource, OAuth2Auth, ObjectSecretRef,
    ReportAuth, S3Credentials, S3Source, SecretAuth, ServiceAccountIdentity, WebIdentity,
};
pub use run_timeout::{DEFAULT_RUN_TIMEOUT, parse_duration};
pub use sftp_spec::{KnownHostsRef, SftpCredentials, SftpSource};
pub use spec::{
    CLIENT_ID_ANNOTATION, Columns, CrdCloud, CrdScenario, Credentials, DEFAULT_FEDERATION_AUDIENCE,
    EndpointOverrides, HrConnectorJob, HrConnectorJobSpec, InvalidRows, KeySelector,
    ONE_CREDENTIAL_MESSAGE, ONE_CREDENTIAL_RULE, ONE_SOURCE_MESSAGE, ONE_SOURCE_RULE, PvcSource,
    ScenarioValues, SecretRef, Source, TENANT_ID_ANNOTATION, WorkloadIdentity,
};
pub use status::{
    ActiveRun, Checkpoint, HISTORY_LIMIT, HrConnectorJobStatus, ObjectSourceStatus, RunRecord,
    RunResult, push_history,
};
pub use validate::{SpecError, SpecProblem};

/// Annotation whose new value triggers one immediate run; `status.lastRunNow` records the value
/// acted on, so the same value never triggers twice.
pub const RUN_NOW_ANNOTATION: &str = "hrconnector.io/run-now";

/// The group/version/kind strings, for code that must not depend on the Rust type.
pub const GROUP: &str = "hrconnector.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "HrConnectorJob";
