//! The desired state of an `HrConnectorJob`: what to read, where to send it, and when.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;

use crate::upload::{MaxRejected, RunPolicy};
use serde::{Deserialize, Serialize};

use super::object_spec::{AzureBlobSource, S3Source};
use super::status::HrConnectorJobStatus;
use crate::cloud::Cloud;
use crate::hrdata::{Field, Scenario, ScenarioChoice, ValidationOptions};

/// Uploads HR data (resignations, job level changes, performance reviews and improvement plans,
/// employee profiles) from a ConfigMap, Secret, PersistentVolumeClaim, Azure Blob Storage or S3
/// to Microsoft Purview's HR connector on a cron schedule.
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
    doc = "Uploads HR data to Microsoft Purview's HR connector on a schedule.",
    // `kubectl get hrjob`: is it working, why, when it last ran and will run, what reached the
    // service. `-o wide` adds whether it is suspended.
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Last Run",
        type_ = "date",
        json_path = ".status.lastRun.startTime"
    ),
    printcolumn(
        name = "Records",
        type_ = "integer",
        json_path = ".status.recordsSaved"
    ),
    printcolumn(
        name = "Next Run",
        type_ = "date",
        json_path = ".status.nextScheduleTime"
    ),
    printcolumn(
        name = "Suspended",
        type_ = "boolean",
        json_path = ".spec.suspend",
        priority = 1
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
    /// azureBlob, s3, https or sftp.
    pub source: Source,

    /// The HR data type of the CSV, as chosen when the connector was created in the Purview
    /// portal: Resignation (the default), JobLevelChange, PerformanceReview,
    /// PerformanceImprovementPlan, EmployeeProfile, or Multiple for a file whose scenarioColumn
    /// names each row's scenario.
    #[serde(default)]
    pub scenario: CrdScenario,

    /// The CSV header names of the scenario's columns, as mapped in the Purview portal (matched
    /// case-insensitively). Each field defaults to its PascalCase name; only the fields of
    /// spec.scenario may be set (all of them with Multiple).
    #[serde(default)]
    pub columns: Columns,

    /// With scenario Multiple: the header of the column that names each row's scenario.
    /// Default HRScenario. Not allowed with another scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub scenario_column: Option<String>,

    /// With scenario Multiple: the text of scenarioColumn that means each scenario, as mapped in
    /// the portal (matched case-insensitively). Unset scenarios keep the defaults Resignation,
    /// "Job level change", "Performance review", "Performance improvement plan" and "Employee
    /// profile". Not allowed with another scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_values: Option<ScenarioValues>,

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

    /// Bounds on the CSV for a file with unusually long fields or many columns; a file over them
    /// fails validation (nothing is sent) with a message naming the limit. Each defaults to the
    /// operator's ceiling (1 MiB and 1000 unless its administrator changed them) and may not
    /// exceed it: a value above is InvalidSpec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<super::limits::CsvLimits>,

    /// The longest one run may take, as a duration such as 6h, 90m or 1h30m (default 6h). An
    /// in-process run (ConfigMap, Secret, azureBlob, s3, https) stops after its last acknowledged chunk
    /// and fails with RunTimedOut, and the next run resumes from the checkpoint; a
    /// persistentVolumeClaim run's upload Job gets it as activeDeadlineSeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(h|m|s))+$"))]
    pub run_timeout: Option<String>,

    /// With invalidRows Skip, the most rows that may fail validation: a count (5) or a share of
    /// the file's rows ("10%", the default). A file over it fails with TooManyRejected and
    /// nothing is sent; a file with no valid row left always fails. A sudden rise in invalid
    /// rows is more often a broken export than bad luck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rejected: Option<IntOrString>,

    /// Fewer valid rows than this fail the run with TooFewRecords and nothing is sent. Default 0:
    /// a file with a header and no rows is reported as NothingToUpload (a Warning Event and the
    /// SourceEmpty condition), not as a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_records: Option<u64>,

    /// Sends a file again, unchanged, when its last upload is older than this: a duration such
    /// as 14d, 36h or 90m. Default 14d for EmployeeProfile jobs and for Multiple files that hold
    /// EmployeeProfile rows, because the service deletes profiles not refreshed for 30 days;
    /// unset (an unchanged file is never sent again) for the other scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(d|h|m|s))+$"))]
    pub resend_unchanged_after: Option<String>,

    /// What the HR system's export looks like, when it is not the connector's CSV already: its
    /// format (a workbook), delimiter, encoding, sheet, whitespace, date formats and time zone.
    /// It is converted on the way (to UTF-8, commas, the fields' documented headers and
    /// ISO 8601 date-times at the same instant) and then validated as usual. Unset: the file
    /// is validated and sent byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<super::input_spec::InputSpec>,
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

/// The CEL rule that makes the API server enforce exactly one credential; `validate()` repeats it.
pub const ONE_CREDENTIAL_RULE: &str =
    "[has(self.secretRef), has(self.workloadIdentity)].filter(x, x).size() == 1";
/// The message the API server returns when [`ONE_CREDENTIAL_RULE`] fails.
pub const ONE_CREDENTIAL_MESSAGE: &str = "exactly one of secretRef or workloadIdentity must be set";

/// How the job authenticates as the Entra ID app: exactly one of `secretRef` (a Secret holding
/// tenantId, appId, and either appSecret or tls.crt + tls.key) and `workloadIdentity` (no secret:
/// a federated credential for a service account of the job's namespace).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ONE_CREDENTIAL_RULE).message(ONE_CREDENTIAL_MESSAGE))]
pub struct Credentials {
    /// The Secret, in the job's namespace, that holds the app's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// Workload identity federation: the operator obtains a token of this service account (in
    /// the job's namespace) with the TokenRequest API for every token request, and Entra ID
    /// accepts it through the app's federated identity credential for
    /// `system:serviceaccount:NAMESPACE:NAME`. No Secret is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,
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

/// A service account whose tokens the app's federated identity credential accepts.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    /// Service account in the job's namespace (another namespace's cannot be named).
    #[schemars(length(min = 1))]
    pub service_account_name: String,
    /// The app (client) ID, a GUID; default: the service account's
    /// `azure.workload.identity/client-id` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(crate::net::url_parts::GUID_PATTERN))]
    pub client_id: Option<String>,
    /// The tenant ID, a GUID or a domain (`contoso.onmicrosoft.com`); default: the service
    /// account's `azure.workload.identity/tenant-id` annotation. It becomes a path segment of
    /// the token URL, so nothing else is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(crate::net::url_parts::TENANT_ID_PATTERN))]
    pub tenant_id: Option<String>,
    /// Audience of the service account token; default `api://AzureADTokenExchange`, what the
    /// federated credential names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

/// The audience Entra ID federated credentials use unless told otherwise.
pub const DEFAULT_FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Service account annotations of the Azure Workload Identity webhook.
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
pub const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";

/// A reference to a Secret in the same namespace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// The CEL rule that makes the API server enforce exactly one source; `validate()` repeats it.
pub const ONE_SOURCE_RULE: &str = "[has(self.configMap), has(self.secret), has(self.persistentVolumeClaim), has(self.azureBlob), has(self.s3), has(self.https), has(self.sftp)].filter(x, x).size() == 1";
/// The message the API server returns when [`ONE_SOURCE_RULE`] fails.
pub const ONE_SOURCE_MESSAGE: &str = "exactly one of configMap, secret, persistentVolumeClaim, azureBlob, s3, https or sftp must be set";

/// Where the HR CSV comes from: exactly one of the seven fields.
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
    /// A report at an HTTPS URL (Workday RaaS, BambooHR), downloaded by the operator itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<super::object_spec::HttpsReportSource>,
    /// A file (or the newest of a pattern) on an SFTP server (SAP SuccessFactors, ADP, Oracle
    /// HCM, UKG drops), read by the operator itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp: Option<super::sftp_spec::SftpSource>,
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
    /// Path of the CSV file relative to the claim's root; no leading '/' and no '..'. A file
    /// name with `*` or `?` (drops/terminations_*.csv) takes the newest matching file of that
    /// directory, by modification time (ties: the greatest name), chosen anew each run;
    /// `status.source.chosen` names it after the run.
    #[schemars(length(min = 1))]
    pub path: String,
}

/// Header names of the CSV columns (matched case-insensitively); each defaults to its
/// PascalCase name. The first three keep their defaults in the stored object, as they always
/// have; the others are set only when mapped.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Columns {
    /// Header of the column with the person's user principal name (UPN), usually their email address. All scenarios. Default EmailAddress.
    #[serde(default = "default_email_column")]
    pub email_address: String,
    /// Header of the column with when the person resigned or was terminated (the commercial article's ResignationDate). Resignation. Default TerminationDate.
    #[serde(default = "default_termination_column")]
    pub termination_date: String,
    /// Header of the column with the person's last working day. Resignation. Default LastWorkingDate.
    #[serde(default = "default_last_working_column")]
    pub last_working_date: String,
    /// Header of the column with when the level change, review or plan took effect. JobLevelChange, PerformanceReview, PerformanceImprovementPlan. Default EffectiveDate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub effective_date: Option<String>,
    /// Header of the column with free text about the event, at most 200 characters (optional column). JobLevelChange, PerformanceReview, PerformanceImprovementPlan. Default Remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub remarks: Option<String>,
    /// Header of the column with the rating given in the review or plan, at most 25 characters (optional column). PerformanceReview, PerformanceImprovementPlan. Default Rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub rating: Option<String>,
    /// Header of the column with the job level before the change (optional column). JobLevelChange. Default OldLevel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub old_level: Option<String>,
    /// Header of the column with the job level after the change (optional column). JobLevelChange. Default NewLevel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub new_level: Option<String>,
    /// Header of the column with the person's first name. EmployeeProfile. Default EmployeeFirstName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_first_name: Option<String>,
    /// Header of the column with the person's last name. EmployeeProfile. Default EmployeeLastName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_last_name: Option<String>,
    /// Header of the column with the first line of the person's postal address. EmployeeProfile. Default EmployeeAddressLine1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_address_line1: Option<String>,
    /// Header of the column with the second line of the person's postal address (optional column). EmployeeProfile. Default EmployeeAddressLine2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_address_line2: Option<String>,
    /// Header of the column with the city of the person's address (optional column). EmployeeProfile. Default EmployeeCity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_city: Option<String>,
    /// Header of the column with the state of the person's address (optional column). EmployeeProfile. Default EmployeeState.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_state: Option<String>,
    /// Header of the column with the postal code of the person's address. EmployeeProfile. Default EmployeeZipCode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_zip_code: Option<String>,
    /// Header of the column with the country of the person's address (optional column). EmployeeProfile. Default EmployeeCountry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_country: Option<String>,
    /// Header of the column with the person's department (optional column). EmployeeProfile. Default EmployeeDepartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_department: Option<String>,
    /// Header of the column with the person's employment type (optional column). EmployeeProfile. Default EmployeeType.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_type: Option<String>,
    /// Header of the column with the person's role (optional column). EmployeeProfile. Default EmployeeRole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_role: Option<String>,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            email_address: default_email_column(),
            termination_date: default_termination_column(),
            last_working_date: default_last_working_column(),
            effective_date: None,
            remarks: None,
            rating: None,
            old_level: None,
            new_level: None,
            employee_first_name: None,
            employee_last_name: None,
            employee_address_line1: None,
            employee_address_line2: None,
            employee_city: None,
            employee_state: None,
            employee_zip_code: None,
            employee_country: None,
            employee_department: None,
            employee_type: None,
            employee_role: None,
        }
    }
}

impl Columns {
    /// Each field with the header this object gives it (`None`: not set, the default applies).
    pub fn entries(&self) -> [(Field, Option<&str>); Field::ALL.len()] {
        [
            (Field::EmailAddress, Some(self.email_address.as_str())),
            (Field::TerminationDate, Some(self.termination_date.as_str())),
            (
                Field::LastWorkingDate,
                Some(self.last_working_date.as_str()),
            ),
            (Field::EffectiveDate, self.effective_date.as_deref()),
            (Field::Remarks, self.remarks.as_deref()),
            (Field::Rating, self.rating.as_deref()),
            (Field::OldLevel, self.old_level.as_deref()),
            (Field::NewLevel, self.new_level.as_deref()),
            (
                Field::EmployeeFirstName,
                self.employee_first_name.as_deref(),
            ),
            (Field::EmployeeLastName, self.employee_last_name.as_deref()),
            (
                Field::EmployeeAddressLine1,
                self.employee_address_line1.as_deref(),
            ),
            (
                Field::EmployeeAddressLine2,
                self.employee_address_line2.as_deref(),
            ),
            (Field::EmployeeCity, self.employee_city.as_deref()),
            (Field::EmployeeState, self.employee_state.as_deref()),
            (Field::EmployeeZipCode, self.employee_zip_code.as_deref()),
            (Field::EmployeeCountry, self.employee_country.as_deref()),
            (
                Field::EmployeeDepartment,
                self.employee_department.as_deref(),
            ),
            (Field::EmployeeType, self.employee_type.as_deref()),
            (Field::EmployeeRole, self.employee_role.as_deref()),
        ]
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

/// The HR data type: one of the five scenarios, or Multiple (a scenario column per row).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
pub enum CrdScenario {
    #[default]
    Resignation,
    JobLevelChange,
    PerformanceReview,
    PerformanceImprovementPlan,
    EmployeeProfile,
    Multiple,
}

impl From<CrdScenario> for ScenarioChoice {
    fn from(s: CrdScenario) -> Self {
        match s {
            CrdScenario::Resignation => ScenarioChoice::One(Scenario::Resignation),
            CrdScenario::JobLevelChange => ScenarioChoice::One(Scenario::JobLevelChange),
            CrdScenario::PerformanceReview => ScenarioChoice::One(Scenario::PerformanceReview),
            CrdScenario::PerformanceImprovementPlan => {
                ScenarioChoice::One(Scenario::PerformanceImprovementPlan)
            }
            CrdScenario::EmployeeProfile => ScenarioChoice::One(Scenario::EmployeeProfile),
            CrdScenario::Multiple => ScenarioChoice::Multiple,
        }
    }
}

/// The scenario column's text for each scenario (scenario Multiple); unset keys keep defaults.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ScenarioValues {
    /// Text meaning a resignation row. Default Resignation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub resignation: Option<String>,
    /// Text meaning a job level change row. Default "Job level change".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub job_level_change: Option<String>,
    /// Text meaning a performance review row. Default "Performance review".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub performance_review: Option<String>,
    /// Text meaning a performance improvement plan row. Default "Performance improvement plan".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub performance_improvement_plan: Option<String>,
    /// Text meaning an employee profile row. Default "Employee profile".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub employee_profile: Option<String>,
}

impl ScenarioValues {
    /// Each scenario with the text this object gives it.
    pub fn entries(&self) -> [(Scenario, Option<&str>); Scenario::ALL.len()] {
        [
            (Scenario::Resignation, self.resignation.as_deref()),
            (Scenario::JobLevelChange, self.job_level_change.as_deref()),
            (
                Scenario::PerformanceReview,
                self.performance_review.as_deref(),
            ),
            (
                Scenario::PerformanceImprovementPlan,
                self.performance_improvement_plan.as_deref(),
            ),
            (Scenario::EmployeeProfile, self.employee_profile.as_deref()),
        ]
    }
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
    /// The validation options this job asks for. Columns the scenario does not have are left
    /// out (the first three always have a value); [`HrConnectorJobSpec::validate`] reports a
    /// set one as a mistake.
    pub fn validation_options(&self) -> ValidationOptions {
        let mut opts = ValidationOptions {
            scenario: self.scenario.into(),
            invalid_rows: match self.invalid_rows {
                InvalidRows::Reject => crate::hrdata::InvalidRows::Reject,
                InvalidRows::Skip => crate::hrdata::InvalidRows::Skip,
            },
            ..ValidationOptions::default()
        };
        let fields = opts.fields();
        for (field, header) in self.columns.entries() {
            if let Some(header) = header.filter(|_| fields.contains(&field)) {
                opts.columns.set(field, header);
            }
        }
        if let Some(column) = &self.scenario_column {
            opts.scenario_column = column.clone();
        }
        for (scenario, text) in self
            .scenario_values
            .iter()
            .flat_map(ScenarioValues::entries)
        {
            if let Some(text) = text {
                opts.scenario_values.set(scenario, text);
            }
        }
        opts
    }

    /// The run's outcome rules: `maxRejected`, `minRecords`, `resendUnchangedAfter`. A value
    /// that does not parse is left at its default here; [`HrConnectorJobSpec::validate`]
    /// reports it before any run.
    pub fn run_policy(&self) -> RunPolicy {
        let defaults = RunPolicy::default();
        RunPolicy {
            max_rejected: self
                .max_rejected()
                .and_then(Result::ok)
                .unwrap_or(defaults.max_rejected),
            min_records: self.min_records.unwrap_or(defaults.min_records),
            resend_unchanged_after: self
                .resend_unchanged_after
                .as_deref()
                .and_then(|t| crate::upload::policy::parse_age(t).ok()),
        }
    }

    /// The conversion `spec.input` asks for (none when unset). A spec that does not parse is
    /// left at no conversion here; [`HrConnectorJobSpec::validate`] reports it before any run.
    pub fn input_options(&self) -> crate::convert::InputOptions {
        self.input
            .as_ref()
            .and_then(|i| i.options().ok())
            .unwrap_or_default()
    }

    /// `spec.maxRejected` parsed: an integer is a count, a string a percentage (`10%`).
    pub fn max_rejected(&self) -> Option<Result<MaxRejected, String>> {
        self.max_rejected.as_ref().map(|value| match value {
            IntOrString::Int(n) => u64::try_from(*n)
                .map(MaxRejected::Count)
                .map_err(|_| format!("{n} is negative")),
            IntOrString::String(text) => text.parse(),
        })
    }

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
