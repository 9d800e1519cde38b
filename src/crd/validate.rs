//! Checks of an `HrConnectorJobSpec` that the API server may not have done (CEL needs
//! Kubernetes 1.25+, and some checks, like cron syntax, cannot live in the schema).

use super::spec::{HrConnectorJobSpec, ONE_CREDENTIAL_MESSAGE, ONE_SOURCE_MESSAGE};
use crate::hrdata::ScenarioChoice;
use crate::schedule::{Schedule, ScheduleError};

/// Everything wrong with a spec; `Display` joins the messages for `status.conditions`.
#[derive(Debug, thiserror::Error)]
#[error("{}", join(.problems))]
pub struct SpecError {
    pub problems: Vec<SpecProblem>,
}

fn join(problems: &[SpecProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One problem in a spec, worded for the person who wrote it.
#[derive(Debug, thiserror::Error)]
pub enum SpecProblem {
    #[error("spec.source: {ONE_SOURCE_MESSAGE} (found {count})")]
    SourceCount { count: usize },
    #[error("spec.credentials: {ONE_CREDENTIAL_MESSAGE} (found {count})")]
    CredentialCount { count: usize },
    #[error("spec.jobId {0:?} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
    JobId(String),
    #[error("spec.schedule/spec.timeZone: {0}")]
    Schedule(#[from] ScheduleError),
    #[error(
        "spec.source.persistentVolumeClaim.path {0:?} must be relative to the claim root (no leading '/')"
    )]
    AbsolutePath(String),
    #[error("spec.source.persistentVolumeClaim.path {0:?} must not contain '..'")]
    ParentDir(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("spec.recordsPerCall {0} must be between 1 and 1000000")]
    RecordsPerCall(u32),
    #[error("spec.startingDeadlineSeconds {0} must not be negative")]
    NegativeDeadline(i64),
    #[error("{0} must be set")]
    OneCredential(&'static str),
    #[error(
        "spec.runTimeout {0:?} is not a duration above zero such as 6h, 90m or 1h30m (units h, m, s)"
    )]
    RunTimeout(String),
    #[error("spec.maxRejected: {0}; use a count (5) or a percentage (\"10%\")")]
    MaxRejected(String),
    #[error("spec.resendUnchangedAfter: {0}")]
    ResendUnchangedAfter(String),
    #[error("{0}")]
    Input(String),
    /// A wildcard before the last segment of a path, key or blob name.
    #[error("{field}: {message}")]
    Pattern {
        field: &'static str,
        message: String,
    },
    #[error(
        "spec.source.azureBlob.accountUrl {0:?} names no storage account: expected \
         https://ACCOUNT.blob.core.windows.net or https://ACCOUNT.blob.core.usgovcloudapi.net"
    )]
    AccountUrl(String),
    #[error("spec.columns.{field} is not a column of scenario {scenario}; its columns are {valid}")]
    ColumnNotInScenario {
        field: String,
        scenario: &'static str,
        valid: String,
    },
    #[error("spec.{0} is only used with scenario Multiple")]
    OnlyForMultiple(&'static str),
    #[error("{0} must be at least 1")]
    LimitZero(&'static str),
    /// A `spec.limits` value above the operator's ceiling: only its administrator can raise it.
    #[error(
        "{field} {value} is above the operator's ceiling of {ceiling}; use at most {ceiling}, or \
         ask the administrator to raise the controller's {flag}"
    )]
    LimitAboveCeiling {
        field: &'static str,
        value: u64,
        ceiling: usize,
        flag: &'static str,
    },
    /// Column headers or scenario texts that contradict each other.
    #[error("spec.columns/spec.scenarioValues: {0}")]
    Options(crate::hrdata::OptionsError),
}

impl HrConnectorJobSpec {
    /// Checks everything the controller relies on; the error lists every problem found.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut problems = Vec::new();

        if !is_guid(&self.job_id) {
            problems.push(SpecProblem::JobId(self.job_id.clone()));
        }
        if let Err(e) = Schedule::parse(&self.schedule, &self.time_zone) {
            problems.push(e.into());
        }
        if !(1..=1_000_000).contains(&self.records_per_call) {
            problems.push(SpecProblem::RecordsPerCall(self.records_per_call));
        }
        if let Some(d) = self.starting_deadline_seconds.filter(|d| *d < 0) {
            problems.push(SpecProblem::NegativeDeadline(d));
        }
        let c = &self.credentials;
        match (&c.secret_ref, &c.workload_identity) {
            (Some(r), None) if r.name.is_empty() => {
                problems.push(SpecProblem::Empty("spec.credentials.secretRef.name"))
            }
            (None, Some(w)) if w.service_account_name.is_empty() => problems.push(
                SpecProblem::Empty("spec.credentials.workloadIdentity.serviceAccountName"),
            ),
            (Some(_), None) | (None, Some(_)) => {}
            (r, w) => problems.push(SpecProblem::CredentialCount {
                count: usize::from(r.is_some()) + usize::from(w.is_some()),
            }),
        }
        if let Some(t) = self
            .run_timeout
            .as_ref()
            .filter(|t| super::parse_duration(t).is_none_or(|d| d.is_zero()))
        {
            problems.push(SpecProblem::RunTimeout(t.clone()));
        }
        if let Some(Err(e)) = self.max_rejected() {
            problems.push(SpecProblem::MaxRejected(e));
        }
        if let Some(Err(e)) = self
            .resend_unchanged_after
            .as_deref()
            .map(crate::upload::policy::parse_age)
        {
            problems.push(SpecProblem::ResendUnchangedAfter(e));
        }
        if let Some(Err(e)) = self.input.as_ref().map(|i| i.options()) {
            problems.push(SpecProblem::Input(e));
        }
        self.check_source(&mut problems);
        self.check_scenario(&mut problems);

        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError { problems })
        }
    }

    fn check_source(&self, problems: &mut Vec<SpecProblem>) {
        let s = &self.source;
        let count = [
            s.config_map.is_some(),
            s.secret.is_some(),
            s.persistent_volume_claim.is_some(),
            s.azure_blob.is_some(),
            s.s3.is_some(),
            s.https.is_some(),
            s.sftp.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count();
        if count != 1 {
            problems.push(SpecProblem::SourceCount { count });
        }
        for (sel, what) in [
            (&s.config_map, "spec.source.configMap"),
            (&s.secret, "spec.source.secret"),
        ] {
            if let Some(sel) = sel {
                if sel.name.is_empty() {
                    problems.push(SpecProblem::Empty(if what.ends_with("configMap") {
                        "spec.source.configMap.name"
                    } else {
                        "spec.source.secret.name"
                    }));
                }
                if sel.key.is_empty() {
                    problems.push(SpecProblem::Empty(if what.ends_with("configMap") {
                        "spec.source.configMap.key"
                    } else {
                        "spec.source.secret.key"
                    }));
                }
            }
        }
        if let Some(blob) = &s.azure_blob {
            let c = &blob.credentials;
            if usize::from(c.secret_ref.is_some()) + usize::from(c.workload_identity.is_some()) != 1
            {
                problems.push(SpecProblem::OneCredential(
                    "spec.source.azureBlob.credentials: exactly one of secretRef or workloadIdentity",
                ));
            }
            if crate::source::object::account_name(&blob.account_url).is_none() {
                problems.push(SpecProblem::AccountUrl(blob.account_url.clone()));
            }
        }
        let names = [
            ("spec.source.s3.key", s.s3.as_ref().map(|s3| &s3.key)),
            (
                "spec.source.azureBlob.blob",
                s.azure_blob.as_ref().map(|b| &b.blob),
            ),
            (
                "spec.source.persistentVolumeClaim.path",
                s.persistent_volume_claim.as_ref().map(|p| &p.path),
            ),
            ("spec.source.sftp.path", s.sftp.as_ref().map(|f| &f.path)),
        ];
        for (field, name) in names {
            if let Some(Err(message)) = name.map(|n| crate::source::pattern::NamePattern::parse(n))
            {
                problems.push(SpecProblem::Pattern { field, message });
            }
        }
        if let Some(s3) = &s.s3 {
            let c = &s3.credentials;
            if usize::from(c.secret_ref.is_some()) + usize::from(c.web_identity.is_some()) != 1 {
                problems.push(SpecProblem::OneCredential(
                    "spec.source.s3.credentials: exactly one of secretRef or webIdentity",
                ));
            }
        }
        if let Some(sftp) = &s.sftp {
            let known = &sftp.known_hosts;
            if usize::from(known.config_map.is_some()) + usize::from(known.secret.is_some()) != 1 {
                problems.push(SpecProblem::OneCredential(
                    "spec.source.sftp.knownHosts: exactly one of configMap or secret",
                ));
            }
        }
        if let Some(pvc) = &s.persistent_volume_claim {
            if pvc.claim_name.is_empty() {
                problems.push(SpecProblem::Empty(
                    "spec.source.persistentVolumeClaim.claimName",
                ));
            }
            if let Err(p) = check_relative_path(&pvc.path) {
                problems.push(p);
            }
        }
    }
}

impl HrConnectorJobSpec {
    /// Columns of other scenarios, and Multiple's fields without Multiple. The first three
    /// columns always hold a value (their defaults), so only a non-default one counts as set.
    fn check_scenario(&self, problems: &mut Vec<SpecProblem>) {
        let opts = self.validation_options();
        let fields = opts.fields();
        for (field, header) in self.columns.entries() {
            let set = header.is_some_and(|h| h != field.default_header());
            if set && !fields.contains(&field) {
                problems.push(SpecProblem::ColumnNotInScenario {
                    field: field.name(),
                    scenario: opts.scenario.name(),
                    valid: fields
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        if opts.scenario != ScenarioChoice::Multiple {
            if self.scenario_column.is_some() {
                problems.push(SpecProblem::OnlyForMultiple("scenarioColumn"));
            }
            if self.scenario_values.is_some() {
                problems.push(SpecProblem::OnlyForMultiple("scenarioValues"));
            }
        }
        if let Err(found) = opts.check() {
            problems.extend(found.into_iter().map(SpecProblem::Options));
        }
    }
}

/// A path that stays inside the claim: relative, without `..`, not empty.
fn check_relative_path(path: &str) -> Result<(), SpecProblem> {
    if path.trim().is_empty() {
        return Err(SpecProblem::Empty("spec.source.persistentVolumeClaim.path"));
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(SpecProblem::AbsolutePath(path.to_string()));
    }
    if path.split(['/', '\\']).any(|part| part == "..") {
        return Err(SpecProblem::ParentDir(path.to_string()));
    }
    Ok(())
}

/// `8-4-4-4-12` hex digits, the form the Purview portal shows.
fn is_guid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_shape() {
        assert!(is_guid("0bd3f6a3-46b1-4c1e-9e1b-3f2c7c1a9d00"));
        assert!(is_guid("0BD3F6A3-46B1-4C1E-9E1B-3F2C7C1A9D00"));
        assert!(!is_guid("0bd3f6a346b14c1e9e1b3f2c7c1a9d00"));
        assert!(!is_guid("{0bd3f6a3-46b1-4c1e-9e1b-3f2c7c1a9d00}"));
        assert!(!is_guid("0bd3f6a3-46b1-4c1e-9e1b-3f2c7c1a9d0g"));
    }

    #[test]
    fn relative_paths() {
        assert!(check_relative_path("hr/data.csv").is_ok());
        assert!(check_relative_path("./data.csv").is_ok());
        assert!(matches!(
            check_relative_path("/data.csv"),
            Err(SpecProblem::AbsolutePath(_))
        ));
        assert!(matches!(
            check_relative_path("a/../../etc/passwd"),
            Err(SpecProblem::ParentDir(_))
        ));
        assert!(matches!(
            check_relative_path(""),
            Err(SpecProblem::Empty(_))
        ));
    }
}
