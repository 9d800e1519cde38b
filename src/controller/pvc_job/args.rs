//! The `hrconnector upload` command line of an upload Job. The base paths are parameters so
//! that a test can run the very same arguments against files in a temporary directory.

use super::PvcJobError;
use super::auth::AuthKind;
use crate::crd::{Checkpoint, CrdCloud, HrConnectorJob, HrConnectorJobSpec, InvalidRows};
use crate::hrdata::{Limits, Scenario, ScenarioChoice, ValidationOptions};

/// File names of the Secret's keys inside the credentials directory: fixed, whatever the keys
/// are called in the Secret (the volume's `items` map them).
pub const TENANT_ID_FILE: &str = "tenant-id";
pub const APP_ID_FILE: &str = "app-id";
pub const APP_SECRET_FILE: &str = "app-secret";
pub const CERTIFICATE_FILE: &str = "tls.crt";
pub const PRIVATE_KEY_FILE: &str = "tls.key";

/// Where the upload finds its inputs and puts its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPaths {
    /// The claim's mount point; the CSV is `<data_dir>/<spec.source.persistentVolumeClaim.path>`.
    pub data_dir: String,
    /// The credentials Secret's mount point.
    pub credentials_dir: String,
    /// Where the JSON report goes (`/dev/termination-log` in the pod).
    pub result_file: String,
    /// The extra trusted CA bundle (`--ca-file`), when the operator has one.
    pub ca_file: Option<String>,
    /// The operator's CSV limits: the job's `spec.limits` apply within them.
    pub limits: Limits,
}

impl UploadPaths {
    /// The paths inside the upload pod.
    pub fn in_pod() -> Self {
        UploadPaths {
            data_dir: super::build::DATA_DIR.into(),
            credentials_dir: super::build::CREDENTIALS_DIR.into(),
            result_file: super::build::TERMINATION_LOG.into(),
            ca_file: None,
            limits: Limits::default(),
        }
    }

    fn credential(&self, file: &str) -> String {
        format!("{}/{file}", self.credentials_dir.trim_end_matches('/'))
    }
}

/// The arguments (without the program name) that run `hrjob`'s upload. `resume` is the status
/// checkpoint to continue from; `force` sends everything again and drops the resume.
pub fn upload_args(
    hrjob: &HrConnectorJob,
    paths: &UploadPaths,
    auth: AuthKind,
    resume: Option<&Checkpoint>,
    force: bool,
) -> Result<Vec<String>, PvcJobError> {
    let spec = &hrjob.spec;
    let pvc = spec
        .source
        .persistent_volume_claim
        .as_ref()
        .ok_or(PvcJobError::NotPvcSource)?;
    let csv = csv_path(&paths.data_dir, &pvc.path)?;
    let mut args: Vec<String> = vec![
        "upload".into(),
        "--cloud".into(),
        cloud_arg(spec.cloud).into(),
    ];
    if !matches!(auth, AuthKind::WorkloadIdentity(_)) {
        args.extend([
            "--tenant-id-file".into(),
            paths.credential(TENANT_ID_FILE),
            "--app-id-file".into(),
            paths.credential(APP_ID_FILE),
        ]);
    }
    match auth {
        AuthKind::WorkloadIdentity(id) => args.extend([
            "--workload-identity".into(),
            "--federated-token-file".into(),
            super::build::FEDERATED_TOKEN_FILE.into(),
            "--tenant-id".into(),
            id.tenant_id.clone(),
            "--app-id".into(),
            id.client_id.clone(),
        ]),
        AuthKind::Secret => {
            args.extend([
                "--app-secret-file".into(),
                paths.credential(APP_SECRET_FILE),
            ]);
        }
        AuthKind::Certificate => args.extend([
            "--certificate-file".into(),
            paths.credential(CERTIFICATE_FILE),
            "--private-key-file".into(),
            paths.credential(PRIVATE_KEY_FILE),
        ]),
    }
    args.extend([
        "--job-id".into(),
        spec.job_id.clone(),
        "--csv-file-path".into(),
        csv,
        "--records-per-call".into(),
        spec.records_per_call.to_string(),
        "--invalid-rows".into(),
        match spec.invalid_rows {
            InvalidRows::Reject => "reject",
            InvalidRows::Skip => "skip",
        }
        .into(),
    ]);
    args.extend(scenario_args(&spec.validation_options()));
    args.extend(limit_args(spec.limits(paths.limits)));
    if let Some(o) = &spec.endpoints {
        for (flag, value) in [
            ("--authority-url", &o.authority_url),
            ("--ingestion-url", &o.ingestion_url),
            ("--resource", &o.resource),
        ] {
            if let Some(v) = value {
                args.extend([flag.into(), v.clone()]);
            }
        }
    }
    if let Some(ca_file) = &paths.ca_file {
        args.extend(["--ca-file".into(), ca_file.clone()]);
    }
    if spec.dry_run {
        args.push("--dry-run".into());
    }
    args.extend(policy_args(spec));
    args.extend(input_args(spec));
    if force {
        args.push("--force".into());
    } else if let Some(cp) = resume {
        if !is_sha256(&cp.source_sha256) {
            return Err(PvcJobError::InvalidCheckpoint);
        }
        args.extend([
            "--resume-sha256".into(),
            cp.source_sha256.clone(),
            "--resume-records".into(),
            cp.records_acknowledged.to_string(),
        ]);
        if let Some(at) = &cp.completed_time {
            args.extend(["--resume-completed-at".into(), at.0.to_string()]);
        }
    }
    args.extend([
        "--output".into(),
        "json".into(),
        "--result-file".into(),
        paths.result_file.clone(),
    ]);
    Ok(args)
}

/// `--max-rejected`, `--min-records` and `--resend-unchanged-after` where the spec sets them
/// (the command's defaults are the CRD's).
fn policy_args(spec: &HrConnectorJobSpec) -> Vec<String> {
    let policy = spec.run_policy();
    let mut args = Vec::new();
    if spec.max_rejected.is_some() {
        args.extend(["--max-rejected".into(), policy.max_rejected.to_string()]);
    }
    if spec.min_records.is_some() {
        args.extend(["--min-records".into(), policy.min_records.to_string()]);
    }
    if let Some(after) = policy.resend_unchanged_after {
        args.extend([
            "--resend-unchanged-after".into(),
            crate::duration::format(after),
        ]);
    }
    args
}

/// `spec.input` as `upload`'s conversion flags (the CRD's and the command's values are the
/// same words).
fn input_args(spec: &HrConnectorJobSpec) -> Vec<String> {
    let Some(input) = &spec.input else {
        return Vec::new();
    };
    let mut args = Vec::new();
    for (flag, value) in [
        ("--format", &input.format),
        ("--delimiter", &input.delimiter),
        ("--encoding", &input.encoding),
        ("--sheet", &input.sheet),
        ("--time-zone", &input.time_zone),
    ] {
        if let Some(value) = value {
            args.extend([flag.to_owned(), value.clone()]);
        }
    }
    if input.trim {
        args.push("--trim".into());
    }
    for (field, format) in &input.date_formats {
        let value = if field == "all" {
            format.clone()
        } else {
            format!("{field}={format}")
        };
        args.extend(["--date-format".to_owned(), value]);
    }
    for (field, name) in &input.output_headers {
        args.extend(["--output-header".to_owned(), format!("{field}={name}")]);
    }
    args
}

/// The name `upload --cloud` takes for each CRD cloud.
/// The `upload` flags that give the pod the job's scenario, every column header of it, and the
/// scenario column and texts of a multi-scenario file.
fn scenario_args(opts: &ValidationOptions) -> Vec<String> {
    let mut args = vec![
        "--scenario".to_owned(),
        match opts.scenario {
            ScenarioChoice::One(s) => s.cli_name(),
            ScenarioChoice::Multiple => "multiple",
        }
        .to_owned(),
    ];
    for field in opts.fields() {
        args.extend([
            "--column".to_owned(),
            format!("{}={}", field.name(), opts.columns.get(field)),
        ]);
    }
    if opts.scenario == ScenarioChoice::Multiple {
        args.extend(["--scenario-column".to_owned(), opts.scenario_column.clone()]);
        for scenario in Scenario::ALL {
            args.extend([
                "--scenario-value".to_owned(),
                format!(
                    "{}={}",
                    scenario.cli_name(),
                    opts.scenario_values.get(scenario)
                ),
            ]);
        }
    }
    args
}

/// `--max-field-bytes` and `--max-columns` where the job's limits are not `upload`'s defaults.
fn limit_args(limits: Limits) -> Vec<String> {
    let default = Limits::default();
    let mut args = Vec::new();
    if limits.max_field_bytes != default.max_field_bytes {
        args.extend([
            "--max-field-bytes".to_owned(),
            limits.max_field_bytes.to_string(),
        ]);
    }
    if limits.max_columns != default.max_columns {
        args.extend(["--max-columns".to_owned(), limits.max_columns.to_string()]);
    }
    args
}

fn cloud_arg(cloud: CrdCloud) -> &'static str {
    match cloud {
        CrdCloud::Commercial => "commercial",
        CrdCloud::Gcc => "gcc",
        CrdCloud::GccHigh => "gcc-high",
        CrdCloud::Dod => "dod",
    }
}

/// `<data_dir>/<path>`, refusing paths that could leave the claim (the API server's schema may
/// not have checked: CEL and patterns can be missing on old clusters).
fn csv_path(data_dir: &str, path: &str) -> Result<String, PvcJobError> {
    let unsafe_path = path.trim().is_empty()
        || path.starts_with(['/', '\\'])
        || path.split(['/', '\\']).any(|part| part == "..");
    if unsafe_path {
        return Err(PvcJobError::UnsafePath(path.to_string()));
    }
    Ok(format!(
        "{}/{}",
        data_dir.trim_end_matches('/'),
        path.trim_start_matches("./")
    ))
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_paths_stay_inside_the_claim() {
        assert_eq!(csv_path("/data", "hr/x.csv").unwrap(), "/data/hr/x.csv");
        assert_eq!(csv_path("/data/", "./x.csv").unwrap(), "/data/x.csv");
        for bad in ["/etc/passwd", "a/../../x", "..", "", "\\x"] {
            assert_eq!(
                csv_path("/data", bad),
                Err(PvcJobError::UnsafePath(bad.into()))
            );
        }
    }
}
