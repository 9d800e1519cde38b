//! The committed CRD matches the Rust types, the schema is documented and strict, and
//! `validate()` catches what the schema cannot.

use hrconnector::cloud::Cloud;
use hrconnector::crd::{
    CrdCloud, CrdScenario, HISTORY_LIMIT, HrConnectorJob, HrConnectorJobSpec, InvalidRows,
    KeySelector, ONE_SOURCE_RULE, PvcSource, RunRecord, ScenarioValues, SpecProblem, push_history,
};
use hrconnector::hrdata::{Field, Rule, Scenario, ScenarioChoice, ValidationOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResourceExt;
use serde_json::Value;

const CRD_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crds/hrconnector.io_hrconnectorjobs.yaml"
);

const MINIMAL: &str = r#"
cloud: GCCHigh
jobId: 0bd3f6a3-46b1-4c1e-9e1b-3f2c7c1a9d00
credentials:
  secretRef:
    name: hr-app
source:
  configMap:
    name: hr-data
    key: data.csv
schedule: "0 3 * * *"
"#;

fn minimal() -> HrConnectorJobSpec {
    serde_yaml::from_str(MINIMAL).expect("minimal spec")
}

fn problems(spec: &HrConnectorJobSpec) -> Vec<SpecProblem> {
    spec.validate()
        .err()
        .map(|e| e.problems)
        .unwrap_or_default()
}

#[test]
fn committed_crd_matches_the_types() {
    let generated = serde_yaml::to_string(&HrConnectorJob::crd()).expect("render CRD");
    let committed = std::fs::read_to_string(CRD_FILE).unwrap_or_default();
    assert!(
        committed == generated,
        "crds/hrconnector.io_hrconnectorjobs.yaml is out of date; regenerate it with\n    \
         cargo run -- crd > crds/hrconnector.io_hrconnectorjobs.yaml"
    );
}

#[test]
fn names_are_the_contract() {
    let crd = HrConnectorJob::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("hrconnectorjobs.hrconnector.io")
    );
    assert_eq!(crd.spec.group, "hrconnector.io");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.kind, "HrConnectorJob");
    assert_eq!(crd.spec.names.plural, "hrconnectorjobs");
    assert_eq!(crd.spec.names.short_names, Some(vec!["hrjob".to_string()]));
    assert_eq!(
        crd.spec.names.categories,
        Some(vec!["hrconnector".to_string()])
    );
    let v = &crd.spec.versions[0];
    assert_eq!(v.name, "v1alpha1");
    assert!(
        v.subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    // `kubectl get hrjob`: Ready, Reason, Last Run, Records, Next Run and Age; `-o wide` adds
    // Suspended (priority 1).
    let columns: Vec<_> = v
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| {
            (
                c.name.as_str(),
                c.type_.as_str(),
                c.json_path.as_str(),
                c.priority.unwrap_or(0),
            )
        })
        .collect();
    let ready = |field: &str| format!(".status.conditions[?(@.type==\"Ready\")].{field}");
    assert_eq!(
        columns,
        [
            ("Ready", "string", ready("status").as_str(), 0),
            ("Reason", "string", ready("reason").as_str(), 0),
            ("Last Run", "date", ".status.lastRun.startTime", 0),
            ("Records", "integer", ".status.recordsSaved", 0),
            ("Next Run", "date", ".status.nextScheduleTime", 0),
            ("Suspended", "boolean", ".spec.suspend", 1),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ]
    );
}

fn schema() -> Value {
    let crd = HrConnectorJob::crd();
    let v = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("schema");
    serde_json::to_value(v).expect("schema as JSON")
}

/// Every property under spec and status, with its path.
fn walk<'a>(path: String, node: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            let p = format!("{path}.{name}");
            out.push((p.clone(), child));
            walk(p, child, out);
        }
    }
    if let Some(items) = node.get("items") {
        walk(format!("{path}[]"), items, out);
    }
}

#[test]
fn every_property_has_a_description() {
    let root = schema();
    let mut props = Vec::new();
    for top in ["spec", "status"] {
        let node = &root["properties"][top];
        assert!(node.is_object(), "{top} missing");
        props.push((format!(".{top}"), node));
        walk(format!(".{top}"), node, &mut props);
    }
    assert!(props.len() > 40, "walked only {} properties", props.len());
    let missing: Vec<_> = props
        .iter()
        .filter(|(_, n)| {
            n.get("description")
                .and_then(Value::as_str)
                .is_none_or(|d| d.trim().is_empty())
        })
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:?}"
    );
}

#[test]
fn schema_is_structural() {
    // The API server rejects $ref, and anyOf/oneOf may only carry validation, never types.
    let text = serde_json::to_string(&schema()).expect("json");
    assert!(!text.contains("$ref"), "schema has $ref");
    assert!(!text.contains("anyOf"), "schema has anyOf");
    assert!(!text.contains("oneOf"), "schema has oneOf");
    assert!(!text.contains("\"const\""), "schema has const");
    assert!(!text.contains("null]"), "an enum lists null");
}

#[test]
fn schema_carries_the_server_side_checks() {
    let root = schema();
    let spec = &root["properties"]["spec"];
    let required: Vec<_> = spec["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in ["cloud", "jobId", "credentials", "source", "schedule"] {
        assert!(required.contains(&field), "{field} not required");
    }
    let p = &spec["properties"];
    assert_eq!(
        p["cloud"]["enum"],
        serde_json::json!(["Commercial", "GCC", "GCCHigh", "DoD"])
    );
    assert!(
        p["cloud"].get("default").is_none(),
        "cloud must not default"
    );
    assert_eq!(
        p["jobId"]["pattern"],
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    );
    assert_eq!(p["recordsPerCall"]["minimum"], 1.0);
    assert_eq!(p["recordsPerCall"]["maximum"], 1_000_000.0);
    assert_eq!(p["startingDeadlineSeconds"]["minimum"], 0.0);
    assert_eq!(
        p["invalidRows"]["enum"],
        serde_json::json!(["Reject", "Skip"])
    );
    assert_eq!(
        p["source"]["x-kubernetes-validations"][0]["rule"],
        ONE_SOURCE_RULE
    );
    assert!(
        p["source"]["x-kubernetes-validations"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exactly one"))
    );
    assert_eq!(
        p["credentials"]["x-kubernetes-validations"][0]["rule"],
        hrconnector::crd::ONE_CREDENTIAL_RULE
    );
}

#[test]
fn validate_wants_exactly_one_credential() {
    let mut spec = minimal();
    spec.credentials.workload_identity = Some(hrconnector::crd::WorkloadIdentity {
        service_account_name: "hr-uploader".into(),
        client_id: None,
        tenant_id: None,
        audience: None,
    });
    let err = spec.validate().expect_err("both credentials");
    assert!(
        matches!(
            err.problems.as_slice(),
            [SpecProblem::CredentialCount { count: 2 }]
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("spec.credentials: exactly one of secretRef or workloadIdentity"),
        "{err}"
    );
    spec.credentials.secret_ref = None;
    spec.validate().expect("workload identity alone is valid");
    spec.credentials.workload_identity = None;
    let p = problems(&spec);
    assert!(
        matches!(p.as_slice(), [SpecProblem::CredentialCount { count: 0 }]),
        "{p:?}"
    );
}

#[test]
fn minimal_spec_gets_the_defaults() {
    let spec = minimal();
    assert_eq!(spec.cloud, CrdCloud::GccHigh);
    assert_eq!(Cloud::from(spec.cloud), Cloud::GccHigh);
    assert_eq!(spec.time_zone, "UTC");
    assert!(!spec.suspend);
    assert!(!spec.dry_run);
    assert_eq!(spec.starting_deadline_seconds, None);
    assert_eq!(spec.records_per_call, 5000);
    assert_eq!(spec.invalid_rows, InvalidRows::Reject);
    assert_eq!(spec.columns.email_address, "EmailAddress");
    assert_eq!(spec.columns.termination_date, "TerminationDate");
    assert_eq!(spec.columns.last_working_date, "LastWorkingDate");
    let c = &spec.credentials;
    assert_eq!(c.secret_ref.as_ref().unwrap().name, "hr-app");
    assert_eq!(
        [
            c.tenant_id_key.as_str(),
            c.app_id_key.as_str(),
            c.app_secret_key.as_str(),
            c.certificate_key.as_str(),
            c.private_key_key.as_str()
        ],
        ["tenantId", "appId", "appSecret", "tls.crt", "tls.key"]
    );
    assert!(spec.endpoints.is_none());
    assert_eq!(spec.endpoints(), Cloud::GccHigh.endpoints());
    spec.validate().expect("minimal spec is valid");
}

#[test]
fn cloud_spellings_map_to_the_four_clouds() {
    for (yaml, cloud) in [
        ("Commercial", Cloud::Commercial),
        ("GCC", Cloud::Gcc),
        ("GCCHigh", Cloud::GccHigh),
        ("DoD", Cloud::Dod),
    ] {
        let c: CrdCloud = serde_yaml::from_str(yaml).expect(yaml);
        assert_eq!(Cloud::from(c), cloud);
    }
    assert!(serde_yaml::from_str::<CrdCloud>("gcc-high").is_err());
}

#[test]
fn endpoint_overrides_apply_on_top_of_the_cloud() {
    let mut spec = minimal();
    spec.endpoints = serde_yaml::from_str("ingestionUrl: http://127.0.0.1:8080").expect("yaml");
    let e = spec.endpoints();
    assert_eq!(e.ingestion_url, "http://127.0.0.1:8080");
    assert_eq!(e.authority_url, Cloud::GccHigh.endpoints().authority_url);
}

#[test]
fn validate_rejects_a_non_guid_job_id() {
    let mut spec = minimal();
    spec.job_id = "not-a-guid".into();
    let p = problems(&spec);
    assert!(matches!(p.as_slice(), [SpecProblem::JobId(_)]), "{p:?}");
    assert!(p[0].to_string().contains("not-a-guid"));
}

#[test]
fn validate_wants_exactly_one_source() {
    let mut spec = minimal();
    spec.source.config_map = None;
    let p = problems(&spec);
    assert!(
        matches!(p.as_slice(), [SpecProblem::SourceCount { count: 0 }]),
        "{p:?}"
    );

    let mut spec = minimal();
    spec.source.secret = Some(KeySelector {
        name: "hr".into(),
        key: "data.csv".into(),
    });
    let err = spec.validate().expect_err("two sources");
    assert!(
        matches!(
            err.problems.as_slice(),
            [SpecProblem::SourceCount { count: 2 }]
        ),
        "{err}"
    );
    assert!(err.to_string().contains(
        "exactly one of configMap, secret, persistentVolumeClaim, azureBlob, s3, https or sftp"
    ));
}

const BLOB_SOURCE: &str = r#"
azureBlob:
  accountUrl: https://agencyhr.blob.core.usgovcloudapi.net
  container: hr-exports
  blob: leavers.csv
  credentials:
    secretRef: {name: hr-blob}
"#;

const S3_SOURCE: &str = r#"
s3:
  bucket: hr-exports
  key: in/leavers.csv
  region: us-gov-west-1
  credentials:
    webIdentity:
      serviceAccountName: hr-reader
      roleArn: arn:aws-us-gov:iam::123456789012:role/hr-reader
"#;

#[test]
fn object_sources_are_two_more_of_the_five() {
    for yaml in [BLOB_SOURCE, S3_SOURCE] {
        let mut spec = minimal();
        spec.source = serde_yaml::from_str(yaml).expect("source");
        assert!(problems(&spec).is_empty(), "{:?}", problems(&spec));
        spec.source.config_map = minimal().source.config_map;
        assert!(
            matches!(
                problems(&spec).as_slice(),
                [SpecProblem::SourceCount { count: 2 }]
            ),
            "{:?}",
            problems(&spec)
        );
    }
    for source in [
        "configMap",
        "secret",
        "persistentVolumeClaim",
        "azureBlob",
        "s3",
    ] {
        assert!(ONE_SOURCE_RULE.contains(&format!("has(self.{source})")));
    }
}

#[test]
fn object_sources_want_one_credential_and_an_account_url() {
    let mut spec = minimal();
    spec.source = serde_yaml::from_str(BLOB_SOURCE).unwrap();
    let blob = spec.source.azure_blob.as_mut().unwrap();
    blob.credentials.workload_identity = Some(hrconnector::crd::ServiceAccountIdentity {
        service_account_name: "hr".into(),
    });
    blob.account_url = "https://example.com".into();
    let text = spec.validate().unwrap_err().to_string();
    assert!(
        text.contains("exactly one of secretRef or workloadIdentity"),
        "{text}"
    );
    assert!(text.contains("names no storage account"), "{text}");

    let mut spec = minimal();
    spec.source = serde_yaml::from_str(S3_SOURCE).unwrap();
    spec.source.s3.as_mut().unwrap().credentials.web_identity = None;
    let text = spec.validate().unwrap_err().to_string();
    assert!(
        text.contains("exactly one of secretRef or webIdentity"),
        "{text}"
    );

    // The API server enforces the same with CEL on the credentials.
    let root = schema();
    let source = &root["properties"]["spec"]["properties"]["source"]["properties"];
    for (field, rule) in [("azureBlob", "workloadIdentity"), ("s3", "webIdentity")] {
        let rules = &source[field]["properties"]["credentials"]["x-kubernetes-validations"][0];
        assert!(
            rules["rule"].as_str().unwrap().contains(rule),
            "{field}: {rules}"
        );
    }
}

#[test]
fn validate_rejects_bad_cron_and_time_zone() {
    let mut spec = minimal();
    spec.schedule = "0 3 * *".into();
    let err = spec.validate().expect_err("bad cron");
    assert!(err.to_string().contains("invalid cron schedule"), "{err}");

    let mut spec = minimal();
    spec.time_zone = "America/Gotham".into();
    let err = spec.validate().expect_err("bad tz");
    assert!(err.to_string().contains("America/Gotham"), "{err}");

    let mut spec = minimal();
    spec.time_zone = "Europe/Amsterdam".into();
    spec.validate().expect("real zone");
}

#[test]
fn validate_checks_the_pvc_path() {
    let pvc = |path: &str| {
        let mut spec = minimal();
        spec.source.config_map = None;
        spec.source.persistent_volume_claim = Some(PvcSource {
            claim_name: "hr".into(),
            path: path.into(),
        });
        problems(&spec)
    };
    assert!(pvc("exports/hr.csv").is_empty());
    assert!(matches!(
        pvc("/etc/passwd").as_slice(),
        [SpecProblem::AbsolutePath(_)]
    ));
    assert!(matches!(
        pvc("exports/../../secret").as_slice(),
        [SpecProblem::ParentDir(_)]
    ));
    // The newest of a pattern: a wildcard in the file name only.
    assert!(pvc("drops/terminations_*.csv").is_empty());
    let wild_dir = pvc("drops/*/terminations.csv");
    assert!(
        matches!(wild_dir.as_slice(), [SpecProblem::Pattern { field, .. }]
            if *field == "spec.source.persistentVolumeClaim.path"),
        "{wild_dir:?}"
    );
}

#[test]
fn validate_reports_every_problem_at_once() {
    let mut spec = minimal();
    spec.job_id = "x".into();
    spec.records_per_call = 0;
    spec.starting_deadline_seconds = Some(-1);
    spec.source.config_map = None;
    let err = spec.validate().expect_err("invalid");
    assert_eq!(err.problems.len(), 4, "{err}");
    assert_eq!(err.to_string().matches("; ").count(), 3);
}

#[test]
fn history_keeps_the_newest() {
    let run = |s: i64| RunRecord {
        start_time: Time(jiff::Timestamp::from_second(s).expect("ts")),
        completion_time: None,
        result: None,
        records_saved: 0,
        records_rejected: 0,
        chunks: 0,
        source_sha256: None,
        message: None,
        reason: None,
        scenarios: Default::default(),
    };
    let mut h = Vec::new();
    for s in 0..(HISTORY_LIMIT as i64 + 5) {
        push_history(&mut h, &run(s));
    }
    assert_eq!(h.len(), HISTORY_LIMIT);
    assert!(
        h[0].starts_with("1970-01-01T00:00:14Z Unknown, 0 saved"),
        "{h:?}"
    );
    assert!(
        h[HISTORY_LIMIT - 1].starts_with("1970-01-01T00:00:05Z "),
        "{h:?}"
    );
}

#[test]
fn status_serializes_camel_case_without_nulls() {
    let mut job = HrConnectorJob::new("hr", minimal());
    job.status = Some(Default::default());
    let v = serde_json::to_value(&job).expect("json");
    assert_eq!(v["apiVersion"], "hrconnector.io/v1alpha1");
    assert_eq!(v["kind"], "HrConnectorJob");
    assert_eq!(v["status"], serde_json::json!({}));
    assert!(v["spec"].get("startingDeadlineSeconds").is_none());
    assert_eq!(v["spec"]["jobId"], "0bd3f6a3-46b1-4c1e-9e1b-3f2c7c1a9d00");
}

#[test]
fn an_existing_resignation_job_reads_as_before() {
    // A job written before scenarios existed: no scenario, the three columns.
    let spec = minimal();
    assert_eq!(spec.scenario, CrdScenario::Resignation);
    assert_eq!(
        spec.validation_options(),
        ValidationOptions::default().tap_columns(&[
            (Field::EmailAddress, "EmailAddress"),
            (Field::TerminationDate, "TerminationDate"),
            (Field::LastWorkingDate, "LastWorkingDate"),
        ])
    );
    // Serializing it again adds nothing but the scenario's default.
    let json = serde_json::to_value(&spec).expect("json");
    assert_eq!(json["scenario"], "Resignation");
    assert_eq!(
        json["columns"],
        serde_json::json!({"emailAddress": "EmailAddress", "terminationDate": "TerminationDate",
                           "lastWorkingDate": "LastWorkingDate"})
    );
    assert!(json.get("scenarioColumn").is_none() && json.get("scenarioValues").is_none());
}

/// `ValidationOptions` with `columns` mapped, for comparisons.
trait TapColumns {
    fn tap_columns(self, columns: &[(Field, &str)]) -> Self;
}

impl TapColumns for ValidationOptions {
    fn tap_columns(mut self, columns: &[(Field, &str)]) -> Self {
        for (field, header) in columns {
            self.columns.set(*field, *header);
        }
        self
    }
}

#[test]
fn the_schema_documents_every_scenario_and_column() {
    let s = schema();
    let spec = &s["properties"]["spec"]["properties"];
    let scenarios: Vec<_> = spec["scenario"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut expected: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
    expected.push("Multiple");
    assert_eq!(scenarios, expected);
    assert_eq!(spec["scenario"]["default"], "Resignation");

    let columns = spec["columns"]["properties"].as_object().expect("columns");
    assert_eq!(columns.len(), Field::ALL.len());
    for field in Field::ALL {
        let description = columns[&field.name()]["description"]
            .as_str()
            .unwrap_or_else(|| panic!("spec.columns.{field} is undocumented"));
        assert!(
            description.contains(&format!("Default {}", field.default_header())),
            "spec.columns.{field}: {description}"
        );
        let everywhere = Scenario::ALL.iter().all(|s| s.has(field));
        for scenario in Scenario::ALL.into_iter().filter(|s| s.has(field)) {
            assert!(
                description.contains(scenario.name())
                    || (everywhere && description.contains("All scenarios")),
                "spec.columns.{field} does not name {scenario}: {description}"
            );
        }
        let bound = Scenario::ALL
            .iter()
            .flat_map(|s| s.columns())
            .find(|c| c.field == field)
            .and_then(|c| match c.rule {
                Rule::Text { max_chars } => max_chars,
                _ => None,
            });
        if let Some(max) = bound {
            assert!(
                description.contains(&format!("at most {max} characters")),
                "{description}"
            );
        }
    }
    let values = spec["scenarioValues"]["properties"]
        .as_object()
        .expect("scenarioValues");
    for scenario in Scenario::ALL {
        let description = values[scenario.name()]["description"]
            .as_str()
            .expect("described");
        assert!(
            description.contains(scenario.default_value()),
            "{description}"
        );
    }
    assert!(
        spec["scenarioColumn"]["description"]
            .as_str()
            .is_some_and(|d| d.contains(hrconnector::hrdata::DEFAULT_SCENARIO_COLUMN))
    );
}

#[test]
fn a_multi_scenario_spec_maps_to_its_validation_options() {
    let mut spec = minimal();
    spec.scenario = CrdScenario::Multiple;
    spec.columns.remarks = Some("ImprovementRemarks".into());
    spec.scenario_column = Some("HRScenarios".into());
    spec.scenario_values = Some(ScenarioValues {
        job_level_change: Some("Promotion".into()),
        ..ScenarioValues::default()
    });
    spec.validate().expect("valid");
    let opts = spec.validation_options();
    assert_eq!(opts.scenario, ScenarioChoice::Multiple);
    assert_eq!(opts.columns.get(Field::Remarks), "ImprovementRemarks");
    assert_eq!(opts.columns.get(Field::Rating), "Rating");
    assert_eq!(opts.scenario_column, "HRScenarios");
    assert_eq!(
        opts.scenario_values.get(Scenario::JobLevelChange),
        "Promotion"
    );
    assert_eq!(
        opts.scenario_values.get(Scenario::Resignation),
        "Resignation"
    );
}

#[test]
fn validate_refuses_columns_and_fields_the_scenario_does_not_have() {
    let mut spec = minimal();
    spec.scenario = CrdScenario::PerformanceReview;
    spec.validate()
        .expect("the default resignation headers are ignored");
    spec.columns.termination_date = "Left".into();
    spec.columns.old_level = Some("Old".into());
    spec.scenario_column = Some("Kind".into());
    let messages: Vec<_> = problems(&spec).iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "spec.columns.terminationDate is not a column of scenario PerformanceReview; its \
             columns are emailAddress, effectiveDate, remarks, rating",
            "spec.columns.oldLevel is not a column of scenario PerformanceReview; its columns \
             are emailAddress, effectiveDate, remarks, rating",
            "spec.scenarioColumn is only used with scenario Multiple",
        ]
    );

    let mut spec = minimal();
    spec.scenario = CrdScenario::Multiple;
    spec.scenario_values = Some(ScenarioValues {
        performance_review: Some("resignation".into()),
        ..ScenarioValues::default()
    });
    let messages: Vec<_> = problems(&spec).iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "spec.columns/spec.scenarioValues: Resignation and PerformanceReview have the same \
          scenario text \"Resignation\"; each scenario needs its own"
        ]
    );
}

#[test]
fn spec_limits_default_to_the_ceiling_and_may_not_exceed_it() {
    use hrconnector::hrdata::Limits;
    let ceiling = Limits {
        max_field_bytes: 4 << 20,
        max_columns: 2000,
    };
    let mut spec = minimal();
    assert_eq!(spec.limits(ceiling), ceiling, "no spec.limits: the ceiling");
    assert!(spec.check_limits(ceiling).is_ok());

    spec.limits = serde_yaml::from_str("maxColumns: 1500").expect("limits");
    assert_eq!(
        spec.limits(ceiling),
        Limits {
            max_columns: 1500,
            ..ceiling
        }
    );
    assert!(spec.check_limits(ceiling).is_ok());

    spec.limits = serde_yaml::from_str("maxFieldBytes: 8388608\nmaxColumns: 0").expect("limits");
    let problems: Vec<String> = spec
        .check_limits(ceiling)
        .expect_err("over the ceiling")
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "spec.limits.maxFieldBytes 8388608 is above the operator's ceiling of 4194304; use at \
             most 4194304, or ask the administrator to raise the controller's --max-field-bytes",
            "spec.limits.maxColumns must be at least 1",
        ]
    );
    // Never above the ceiling, even unchecked.
    assert_eq!(
        spec.limits(ceiling).max_field_bytes,
        ceiling.max_field_bytes
    );
}

#[test]
fn spec_limits_are_in_the_schema_with_a_minimum() {
    let crd = serde_json::to_value(HrConnectorJob::crd()).expect("json");
    let limits = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["limits"];
    for field in ["maxFieldBytes", "maxColumns"] {
        let property = &limits["properties"][field];
        assert_eq!(property["minimum"], 1.0, "{field}: {property}");
        assert!(
            property["description"]
                .as_str()
                .is_some_and(|d| d.contains("operator's")),
            "{field}: {property}"
        );
    }
}

#[test]
fn run_timeout_defaults_to_six_hours_and_must_be_a_duration_above_zero() {
    let mut spec = minimal();
    assert_eq!(spec.run_timeout, None);
    assert_eq!(spec.run_timeout(), std::time::Duration::from_secs(6 * 3600));
    spec.run_timeout = Some("1h30m".into());
    assert_eq!(spec.run_timeout(), std::time::Duration::from_secs(5400));
    spec.validate().expect("1h30m is a run timeout");
    for bad in ["0s", "6d", "1.5h", "90"] {
        spec.run_timeout = Some(bad.into());
        let p = problems(&spec);
        assert!(
            matches!(p.as_slice(), [SpecProblem::RunTimeout(t)] if t == bad),
            "{bad}: {p:?}"
        );
        assert!(p[0].to_string().starts_with("spec.runTimeout"), "{}", p[0]);
    }
    // The API server checks the same shape (0s passes its pattern; validate() refuses it).
    let crd = serde_json::to_value(HrConnectorJob::crd()).expect("CRD as JSON");
    let field = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["runTimeout"];
    assert_eq!(field["pattern"], "^([0-9]+(h|m|s))+$");
}

#[test]
fn a_wrong_input_spec_names_the_field() {
    let mut spec: HrConnectorJobSpec = serde_json::from_value(serde_json::json!({
        "cloud": "GCC", "jobId": "6a1c5e0b-1f2d-4c3b-9a8e-7d6c5b4a3f21",
        "credentials": {"secretRef": {"name": "a"}},
        "source": {"configMap": {"name": "d", "key": "k"}},
        "schedule": "0 3 * * *",
        "input": {"dateFormats": {"lastWorkingDate": "dd.mm.yyyy"}}
    }))
    .expect("spec");
    let err = spec.validate().expect_err("invalid");
    assert!(
        err.to_string()
            .starts_with("spec.input.dateFormats.lastWorkingDate: "),
        "{err}"
    );
    spec.input = serde_json::from_value(serde_json::json!({"timeZone": "Mars/Olympus"})).ok();
    let err = spec.validate().expect_err("invalid");
    assert!(err.to_string().contains("spec.input.timeZone"), "{err}");
    spec.input = serde_json::from_value(serde_json::json!({"dateFormats": {"all": "us"}})).ok();
    assert!(spec.validate().is_ok());
}
