//! The desired state of an `HrConnectorJob`: what to read, where to send it, and when.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_spec::{AzureBlobSource, S3Source};
use super::status::HrConnectorJobStatus;
use crate::cloud::Cloud;

/// Uploads HR resignation data from a ConfigMap, Secret, PersistentVolumeClaim, Azure Blob Storage
/// or S3 to Microsoft
/// Purview's HR connector on a cron schedule.
// Clippy reads the repeated `type_ = "string"` of separate printcolumns as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "hrconnector.io",
    version = "v1alpha1",
    kind = "HrConnectorJob",
    plural = "hrconnectorjobs",
    namespaced,
    shortname = "hrjob",
    category = "hrconnector",
    status = "HrConnectorJobStatus",
    derive = "PartialEq",
    doc = "Uploads HR resignation data to Microsoft Purview's HR connector on a schedule.",
    printcolumn(name = "Cloud", type_ = "string", json_path = ".spec.cloud"),
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(name = "Last Run", type_ = "date", json_path = ".status.lastRunTime"),
    printcolumn(
        name = "Records",
        type_ = "integer",
        json_path = ".status.recordsSaved"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct HrConnectorJobSpec {
    /// The Microsoft 365 cloud the connector lives in: Commercial, GCC, GCCHigh or DoD. Decides
    /// the Entra ID authority and the ingestion endpoint. There is no default on purpose.
    pub cloud: CrdCloud,

    /// The connector's job ID (a GUID) shown in the Purview portal after creating the HR connector.
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub job_id: String,

    /// The Entra ID app registration used to authenticate, read from a Secret in the job's namespace.
    pub credentials: Credentials,

    /// Where the HR CSV comes from. Exactly one of configMap, secret, persistentVolumeClaim,
    /// azureBlob or s3.
    pub source: Source,

    /// The CSV header names of the three required columns, as mapped in the Purview portal.
    #[serde(default)]
    pub columns: Columns,

    /// When to upload: a 5-field cron expression (minute hour day-of-month month day-of-week),
    /// evaluated in timeZone.
    #[schemars(length(min = 1))]
    pub schedule: String,

    /// IANA time zone name the schedule is evaluated in, e.g. America/New_York.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,

    /// Stops scheduled runs while true; a run already under way finishes.
    #[serde(default)]
    pub suspend: bool,

    /// How late (seconds) a missed scheduled run may still start; older missed runs are skipped.
    /// Unset means a missed run is always caught up (once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub starting_deadline_seconds: Option<i64>,

    /// Data rows per upload request; the header row is repeated at the top of every request.
    #[serde(default = "default_records_per_call")]
    #[schemars(range(min = 1, max = 1000000))]
    pub records_per_call: u32,

    /// What to do with rows that fail validation: Reject fails the whole run, Skip uploads the
    /// valid rows and counts the others as rejected.
    #[serde(default)]
    pub invalid_rows: InvalidRows,

    /// Reads and validates the CSV without authenticating or uploading anything.
    #[serde(default)]
    pub dry_run: bool,

    /// Overrides of the cloud's published endpoints (private endpoints, proxies, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointOverrides>,
}

fn default_time_zone() -> String {
    "UTC".to_string()
}

fn default_records_per_call() -> u32 {
    5000
}

/// The Microsoft 365 cloud: Commercial, GCC, GCCHigh (ITAR L4) or DoD (ITAR L5).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum CrdCloud {
    Commercial,
    #[serde(rename = "GCC")]
    Gcc,
    #[serde(rename = "GCCHigh")]
    GccHigh,
    #[serde(rename = "DoD")]
    Dod,
}

impl From<CrdCloud> for Cloud {
    fn from(c: CrdCloud) -> Self {
        match c {
            CrdCloud::Commercial => Cloud::Commercial,
            CrdCloud::Gcc => Cloud::Gcc,
            CrdCloud::GccHigh => Cloud::GccHigh,
            CrdCloud::Dod => Cloud::Dod,
        }
    }
}

/// Reject fails the whole run on any invalid row; Skip uploads the valid rows only.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
pub enum InvalidRows {
    #[default]
    Reject,
    Skip,
}

/// The Secret holding the Entra ID app: tenantId, appId, and either appSecret or tls.crt + tls.key.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The Secret, in the job's namespace, that holds the app's credentials.
    pub secret_ref: SecretRef,
    /// Key of the Entra ID tenant ID in the Secret.
    #[serde(default = "default_tenant_id_key")]
    pub tenant_id_key: String,
    /// Key of the app (client) ID in the Secret.
    #[serde(default = "default_app_id_key")]
    pub app_id_key: String,
    /// Key of the client secret in the Secret (used when present).
    #[serde(default = "default_app_secret_key")]
    pub app_secret_key: String,
    /// Key of the PEM certificate in the Secret (certificate authentication).
    #[serde(default = "default_certificate_key")]
    pub certificate_key: String,
    /// Key of the PEM private key in the Secret (certificate authentication).
    #[serde(default = "default_private_key_key")]
    pub private_key_key: String,
}

fn default_tenant_id_key() -> String {
    "tenantId".to_string()
}
fn default_app_id_key() -> String {
    "appId".to_string()
}
fn default_app_secret_key() -> String {
    "appSecret".to_string()
}
fn default_certificate_key() -> String {
    "tls.crt".to_string()
}
fn default_private_key_key() -> String {
    "tls.key".to_string()
}

/// A reference to a Secret in the same namespace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// The CEL rule that makes the API server enforce exactly one source; `validate()` repeats it.
pub const ONE_SOURCE_RULE: &str = "[has(self.configMap), has(self.secret), has(self.persistentVolumeClaim), has(self.azureBlob), has(self.s3)].filter(x, x).size() == 1";
/// The message the API server returns when [`ONE_SOURCE_RULE`] fails.
pub const ONE_SOURCE_MESSAGE: &str =
    "exactly one of configMap, secret, persistentVolumeClaim, azureBlob or s3 must be set";

/// Where the HR CSV comes from: exactly one of the five fields.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ONE_SOURCE_RULE).message(ONE_SOURCE_MESSAGE))]
pub struct Source {
    /// A key of a ConfigMap in the job's namespace holding the CSV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeySelector>,
    /// A key of a Secret in the job's namespace holding the CSV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<KeySelector>,
    /// A file on a PersistentVolumeClaim in the job's namespace (uploaded by a batch Job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PvcSource>,
    /// A blob in Azure Blob Storage, read by the operator itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_blob: Option<AzureBlobSource>,
    /// An object in S3, read by the operator itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Source>,
}

/// A key inside a named ConfigMap or Secret.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
pub struct KeySelector {
    /// Name of the ConfigMap or Secret.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key whose value is the CSV text.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// A file on a PersistentVolumeClaim.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PvcSource {
    /// Name of the PersistentVolumeClaim.
    #[schemars(length(min = 1))]
    pub claim_name: String,
    /// Path of the CSV file relative to the claim's root; no leading '/' and no '..'.
    #[schemars(length(min = 1))]
    pub path: String,
}

/// Header names of the three required CSV columns (matched case-insensitively).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Columns {
    /// Header of the column with the email address of the person who left.
    #[serde(default = "default_email_column")]
    pub email_address: String,
    /// Header of the column with the termination date.
    #[serde(default = "default_termination_column")]
    pub termination_date: String,
    /// Header of the column with the last working date.
    #[serde(default = "default_last_working_column")]
    pub last_working_date: String,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            email_address: default_email_column(),
            termination_date: default_termination_column(),
            last_working_date: default_last_working_column(),
        }
    }
}

fn default_email_column() -> String {
    "EmailAddress".to_string()
}
fn default_termination_column() -> String {
    "TerminationDate".to_string()
}
fn default_last_working_column() -> String {
    "LastWorkingDate".to_string()
}

/// Per-job overrides of the cloud's endpoints; unset fields keep the cloud's published values.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOverrides {
    /// Entra ID authority base URL, e.g. https://login.microsoftonline.us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_url: Option<String>,
    /// Ingestion service base URL, e.g. https://webhook-itarl4.ingestion.office365.us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion_url: Option<String>,
    /// The resource (audience) requested in the token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl HrConnectorJobSpec {
    /// The endpoints to use: the cloud's published ones with this job's overrides applied.
    pub fn endpoints(&self) -> crate::cloud::Endpoints {
        let base = Cloud::from(self.cloud).endpoints();
        match &self.endpoints {
            None => base,
            Some(o) => base.with_overrides(
                o.authority_url.as_deref(),
                o.ingestion_url.as_deref(),
                o.resource.as_deref(),
            ),
        }
    }
}
