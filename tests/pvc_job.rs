//! The upload Job of a PVC source: what the controller creates, and how it reads the result back.
//! The round trip runs the real binary with the builder's arguments against the emulator.

mod common;

use std::collections::BTreeMap;

use common::*;
use hrconnector::controller::pvc_job::{
    AuthKind, CONTAINER_NAME, CREDENTIALS_DIR, DATA_DIR, FederatedIdentity, JOB_LABEL,
    MAX_TRUSTED_CA_BYTES, PodIds, PodReport, PvcJobError, PvcJobSettings, PvcJobState,
    RUN_ID_ANNOTATION, RUN_LABEL, TERMINATION_LOG, TRUSTED_CA_ANNOTATION, TRUSTED_CA_FILE,
    TrustedCa, UploadPaths, auth_kind, build_upload_job, job_name, parse_report, pvc_job_state,
    upload_args,
};
use hrconnector::crd::{Checkpoint, HrConnectorJob, RunResult};
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Secret};
use serde_json::json;

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn hrjob(spec_extra: serde_json::Value) -> HrConnectorJob {
    let mut spec = json!({
        "cloud": "GCCHigh",
        "jobId": JOB,
        "credentials": {"secretRef": {"name": "hr-app"}},
        "source": {"persistentVolumeClaim": {"claimName": "hr-share", "path": "exports/hr.csv"}},
        "schedule": "0 3 * * *",
    });
    if let (Some(base), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "hrconnector.io/v1alpha1",
        "kind": "HrConnectorJob",
        "metadata": {"name": "nightly", "namespace": "hr", "uid": "0c5e3d6a-1111-4222-8333-944455556666"},
        "spec": spec,
    }))
    .expect("HrConnectorJob")
}

fn settings() -> PvcJobSettings {
    PvcJobSettings::new("ghcr.io/example/hrconnector:0.1.0")
}

fn build(hr: &HrConnectorJob, auth: AuthKind) -> Job {
    build_upload_job(hr, &settings(), "2026-11-02T03:00:00Z", auth, None, false).expect("job")
}

/// The Job of a secret-authenticated run with these operator settings.
fn build_with(hr: &HrConnectorJob, settings: &PvcJobSettings) -> Job {
    build_upload_job(
        hr,
        settings,
        "2026-11-02T03:00:00Z",
        AuthKind::Secret,
        None,
        false,
    )
    .expect("job")
}

fn pod_spec(job: &Job) -> &PodSpec {
    job.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn container(job: &Job) -> &Container {
    let c = &pod_spec(job).containers[0];
    assert_eq!(c.name, CONTAINER_NAME);
    c
}

fn args(job: &Job) -> Vec<String> {
    container(job).args.clone().unwrap()
}

/// The value following `flag` in `args`.
/// Every value of a repeatable flag, in order.
fn flags<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

#[test]
fn the_job_is_owned_by_the_hrconnectorjob_and_labelled_with_the_run() {
    let hr = hrjob(json!({}));
    let job = build(&hr, AuthKind::Secret);
    let meta = &job.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("hr"));
    assert_eq!(
        meta.name.as_deref(),
        Some(job_name(&hr, "2026-11-02T03:00:00Z").as_str())
    );
    let owners = meta.owner_references.as_ref().unwrap();
    assert_eq!(owners.len(), 1);
    let o = &owners[0];
    assert_eq!(
        (o.api_version.as_str(), o.kind.as_str(), o.name.as_str()),
        ("hrconnector.io/v1alpha1", "HrConnectorJob", "nightly")
    );
    assert_eq!(o.uid, "0c5e3d6a-1111-4222-8333-944455556666");
    assert_eq!(o.controller, Some(true));
    // OwnerReferencesPermissionEnforcement (on in OpenShift) refuses blockOwnerDeletion from a
    // creator that may not `update` the owner's `finalizers` subresource; the operator may not.
    let may_block = hrconnector::controller::rbac::PERMISSIONS
        .iter()
        .any(|p| p.resource == "hrconnectorjobs/finalizers" && p.verbs.contains(&"update"));
    assert!(
        o.block_owner_deletion != Some(true) || may_block,
        "blockOwnerDeletion needs `update hrconnectorjobs/finalizers`, which `hrconnector rbac` lacks"
    );

    let template_meta = job
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap();
    for labels in [meta.labels.as_ref(), template_meta.labels.as_ref()] {
        let labels = labels.unwrap();
        assert_eq!(labels[JOB_LABEL], "nightly");
        // ':' is not allowed in label values; the annotation keeps the run ID verbatim.
        assert!(labels[RUN_LABEL].starts_with("2026-11-02T03-00-00Z-"));
    }
    assert_eq!(
        meta.annotations.as_ref().unwrap()[RUN_ID_ANNOTATION],
        "2026-11-02T03:00:00Z"
    );
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
    assert_eq!(spec.active_deadline_seconds, Some(6 * 3600));
    assert_eq!(spec.backoff_limit, Some(2));
    assert!(spec.pod_failure_policy.is_some());
}

/// `controller --openshift`: restricted-v2 assigns user, group and fsGroup from the namespace's
/// range and refuses a pod that names others, so the pod names none, and stays `restricted`.
#[test]
fn on_openshift_the_pod_names_no_user_group_or_fs_group() {
    let settings = PvcJobSettings {
        pod_ids: PodIds::PlatformAssigned,
        ..settings()
    };
    let hr = hrjob(json!({}));
    let job = build_with(&hr, &settings);
    let pod = pod_spec(&job);
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(
        (psc.run_as_user, psc.run_as_group, psc.fs_group),
        (None, None, None)
    );
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let sc = container(&job).security_context.as_ref().unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group), (None, None));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    // The JSON the API server gets has no such keys at all (not nulls).
    let json = serde_json::to_value(&job).expect("json");
    let text = json.to_string();
    for key in ["\"runAsUser\"", "\"runAsGroup\"", "\"fsGroup\""] {
        assert!(!text.contains(key), "{key} in {text}");
    }
}

#[test]
fn the_pod_meets_the_restricted_pod_security_standard() {
    let job = build(&hrjob(json!({})), AuthKind::Secret);
    let pod = pod_spec(&job);
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        (psc.run_as_user, psc.run_as_group, psc.fs_group),
        (Some(65532), Some(65532), Some(65532))
    );
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );

    let c = container(&job);
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(
        (sc.run_as_user, sc.run_as_group),
        (Some(65532), Some(65532))
    );
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.privileged, None);
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    assert_eq!(sc.capabilities.as_ref().unwrap().add, None);
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    assert_eq!(c.termination_message_path.as_deref(), Some(TERMINATION_LOG));
    assert_eq!(
        c.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
    let res = c.resources.as_ref().unwrap();
    assert!(res.requests.as_ref().unwrap().contains_key("memory"));
    assert!(res.limits.as_ref().unwrap().contains_key("memory"));
    let env: BTreeMap<_, _> = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.as_str(), e.value.as_deref()))
        .collect();
    assert_eq!(env["HOME"], Some("/tmp"));
}

#[test]
fn the_claim_and_the_secret_are_mounted_read_only() {
    let hr = hrjob(json!({
        "credentials": {"secretRef": {"name": "entra-app"}, "tenantIdKey": "tid", "appIdKey": "cid",
                        "appSecretKey": "pw", "certificateKey": "crt", "privateKeyKey": "key"}
    }));
    for auth in [AuthKind::Secret, AuthKind::Certificate] {
        let job = build(&hr, auth.clone());
        let pod = pod_spec(&job);
        let volumes: BTreeMap<_, _> = pod
            .volumes
            .iter()
            .flatten()
            .map(|v| (v.name.as_str(), v))
            .collect();
        let mounts: BTreeMap<_, _> = container(&job)
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.mount_path.as_str(), m))
            .collect();

        let data = mounts[DATA_DIR];
        assert_eq!(data.read_only, Some(true));
        let pvc = volumes[data.name.as_str()]
            .persistent_volume_claim
            .as_ref()
            .unwrap();
        assert_eq!(pvc.claim_name, "hr-share");
        assert_eq!(pvc.read_only, Some(true));

        let creds = mounts[CREDENTIALS_DIR];
        assert_eq!(creds.read_only, Some(true));
        let secret = volumes[creds.name.as_str()].secret.as_ref().unwrap();
        assert_eq!(secret.secret_name.as_deref(), Some("entra-app"));
        assert_eq!(secret.default_mode, Some(0o400));
        assert_ne!(secret.optional, Some(true));
        let keys: Vec<_> = secret
            .items
            .iter()
            .flatten()
            .map(|i| i.key.as_str())
            .collect();
        match auth {
            AuthKind::Secret => assert_eq!(keys, ["tid", "cid", "pw"]),
            AuthKind::Certificate => assert_eq!(keys, ["tid", "cid", "crt", "key"]),
            AuthKind::WorkloadIdentity(_) => unreachable!("only Secret-based kinds here"),
        }
        // Every mounted file is one the arguments point at.
        let a = args(&job);
        for item in secret.items.iter().flatten() {
            let file = format!("{CREDENTIALS_DIR}/{}", item.path);
            assert!(a.contains(&file), "{file} not in {a:?}");
        }

        let tmp = mounts["/tmp"];
        assert_ne!(tmp.read_only, Some(true));
        assert!(volumes[tmp.name.as_str()].empty_dir.is_some());
    }
}

#[test]
fn a_multi_scenario_job_passes_its_columns_and_scenario_texts() {
    let hr = hrjob(json!({
        "scenario": "Multiple",
        "columns": {"remarks": "ImprovementRemarks", "rating": "PerformanceRating"},
        "scenarioColumn": "HRScenarios",
        "scenarioValues": {"JobLevelChange": "Promotion"}
    }));
    let a = args(&build(&hr, AuthKind::Secret));
    assert_eq!(flag(&a, "--scenario"), Some("multiple"));
    let columns = flags(&a, "--column");
    assert_eq!(columns.len(), hrconnector::hrdata::Field::ALL.len());
    assert!(
        columns.contains(&"remarks=ImprovementRemarks"),
        "{columns:?}"
    );
    assert!(columns.contains(&"rating=PerformanceRating"), "{columns:?}");
    assert!(
        columns.contains(&"effectiveDate=EffectiveDate"),
        "{columns:?}"
    );
    assert_eq!(flag(&a, "--scenario-column"), Some("HRScenarios"));
    let values = flags(&a, "--scenario-value");
    assert!(values.contains(&"job-level-change=Promotion"), "{values:?}");
    assert!(
        values.contains(&"performance-review=Performance review"),
        "{values:?}"
    );
}

#[test]
fn the_jobs_limits_within_the_operators_reach_the_upload_job() {
    let ceilings = PvcJobSettings {
        limits: hrconnector::hrdata::Limits {
            max_field_bytes: 4 << 20,
            max_columns: 1000,
        },
        ..settings()
    };
    let args_of = |hr: HrConnectorJob| args(&build_with(&hr, &ceilings));
    // No spec.limits: the operator's; a value equal to upload's default needs no flag.
    let a = args_of(hrjob(json!({})));
    assert_eq!(flag(&a, "--max-field-bytes"), Some("4194304"));
    assert_eq!(flag(&a, "--max-columns"), None);
    let a = args_of(hrjob(
        json!({"limits": {"maxFieldBytes": 2048, "maxColumns": 50}}),
    ));
    assert_eq!(flag(&a, "--max-field-bytes"), Some("2048"));
    assert_eq!(flag(&a, "--max-columns"), Some("50"));
    // Operator defaults, no spec.limits: no flags at all.
    let a = args(&build(&hrjob(json!({})), AuthKind::Secret));
    assert!(!a.iter().any(|a| a.starts_with("--max-")), "{a:?}");
}

#[test]
fn the_run_policy_and_the_checkpoints_date_reach_the_upload_job() {
    let hr = hrjob(json!({
        "invalidRows": "Skip", "maxRejected": "30%", "minRecords": 5, "resendUnchangedAfter": "36h"
    }));
    let completed: jiff::Timestamp = "2026-11-20T10:00:00Z".parse().unwrap();
    let resume = Checkpoint {
        source_sha256: SHA.into(),
        records_acknowledged: 12,
        complete: true,
        job_id: None,
        completed_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            completed,
        )),
    };
    let job = build_upload_job(
        &hr,
        &settings(),
        "r1",
        AuthKind::Secret,
        Some(&resume),
        false,
    )
    .unwrap();
    let a = args(&job);
    assert_eq!(flag(&a, "--max-rejected"), Some("30%"));
    assert_eq!(flag(&a, "--min-records"), Some("5"));
    assert_eq!(flag(&a, "--resend-unchanged-after"), Some("36h"));
    assert_eq!(
        flag(&a, "--resume-completed-at"),
        Some("2026-11-20T10:00:00Z")
    );
    // An integer maxRejected is a count.
    let a = args(&build(&hrjob(json!({"maxRejected": 3})), AuthKind::Secret));
    assert_eq!(flag(&a, "--max-rejected"), Some("3"));
}

#[test]
fn spec_input_reaches_the_upload_job_as_the_same_flags() {
    let hr = hrjob(json!({"input": {
        "format": "Xlsx", "delimiter": ";", "encoding": "windows-1252", "sheet": "Leavers",
        "trim": true, "timeZone": "America/New_York",
        "dateFormats": {"all": "us", "effectiveDate": "%d.%m.%Y"},
        "outputHeaders": {"emailAddress": "UPN"}
    }}));
    let a = args(&build(&hr, AuthKind::Secret));
    assert_eq!(flag(&a, "--format"), Some("Xlsx"));
    assert_eq!(flag(&a, "--delimiter"), Some(";"));
    assert_eq!(flag(&a, "--encoding"), Some("windows-1252"));
    assert_eq!(flag(&a, "--sheet"), Some("Leavers"));
    assert_eq!(flag(&a, "--time-zone"), Some("America/New_York"));
    assert!(a.iter().any(|a| a == "--trim"), "{a:?}");
    assert_eq!(flags(&a, "--date-format"), ["us", "effectiveDate=%d.%m.%Y"]);
    assert_eq!(flag(&a, "--output-header"), Some("emailAddress=UPN"));
    // And the command takes them: the same words parse as its input options.
    let parsed = hrconnector::crd::input_spec::InputSpec {
        format: Some("Xlsx".into()),
        ..Default::default()
    }
    .options();
    assert!(parsed.is_ok(), "{parsed:?}");
}

#[test]
fn arguments_for_a_secret_app() {
    let hr = hrjob(json!({
        "recordsPerCall": 250, "invalidRows": "Skip",
        "columns": {"emailAddress": "Mail", "terminationDate": "Left", "lastWorkingDate": "Last"}
    }));
    let a = args(&build(&hr, AuthKind::Secret));
    assert_eq!(a[0], "upload");
    assert_eq!(flag(&a, "--cloud"), Some("gcc-high"));
    assert_eq!(
        flag(&a, "--tenant-id-file"),
        Some("/var/run/secrets/hrconnector/tenant-id")
    );
    assert_eq!(
        flag(&a, "--app-id-file"),
        Some("/var/run/secrets/hrconnector/app-id")
    );
    assert_eq!(
        flag(&a, "--app-secret-file"),
        Some("/var/run/secrets/hrconnector/app-secret")
    );
    assert_eq!(flag(&a, "--certificate-file"), None);
    assert_eq!(flag(&a, "--job-id"), Some(JOB));
    assert_eq!(flag(&a, "--csv-file-path"), Some("/data/exports/hr.csv"));
    assert_eq!(flag(&a, "--records-per-call"), Some("250"));
    assert_eq!(flag(&a, "--invalid-rows"), Some("skip"));
    assert_eq!(flag(&a, "--scenario"), Some("resignation"));
    assert_eq!(
        flags(&a, "--column"),
        [
            "emailAddress=Mail",
            "terminationDate=Left",
            "lastWorkingDate=Last"
        ]
    );
    assert_eq!(flag(&a, "--scenario-column"), None);
    assert_eq!(flag(&a, "--output"), Some("json"));
    assert_eq!(flag(&a, "--result-file"), Some(TERMINATION_LOG));
    for absent in [
        "--authority-url",
        "--ingestion-url",
        "--resource",
        "--dry-run",
        "--force",
        "--resume-sha256",
        "--tenant-id",
        "--app-id",
    ] {
        assert!(!a.iter().any(|x| x == absent), "{absent} in {a:?}");
    }
}

#[test]
fn arguments_for_a_certificate_app_with_overrides_dry_run_and_resume() {
    let hr = hrjob(json!({
        "cloud": "DoD", "dryRun": true,
        "endpoints": {"authorityUrl": "https://login.proxy.example", "ingestionUrl": "https://ingest.proxy.example",
                      "resource": "https://resource.example/x"}
    }));
    let resume = Checkpoint {
        source_sha256: SHA.into(),
        records_acknowledged: 10_000,
        complete: false,
        job_id: None,
        completed_time: None,
    };
    let job = build_upload_job(
        &hr,
        &settings(),
        "r1",
        AuthKind::Certificate,
        Some(&resume),
        false,
    )
    .unwrap();
    let a = args(&job);
    assert_eq!(flag(&a, "--cloud"), Some("dod"));
    assert_eq!(
        flag(&a, "--certificate-file"),
        Some("/var/run/secrets/hrconnector/tls.crt")
    );
    assert_eq!(
        flag(&a, "--private-key-file"),
        Some("/var/run/secrets/hrconnector/tls.key")
    );
    assert_eq!(flag(&a, "--app-secret-file"), None);
    assert_eq!(
        flag(&a, "--authority-url"),
        Some("https://login.proxy.example")
    );
    assert_eq!(
        flag(&a, "--ingestion-url"),
        Some("https://ingest.proxy.example")
    );
    assert_eq!(flag(&a, "--resource"), Some("https://resource.example/x"));
    assert!(a.iter().any(|x| x == "--dry-run"));
    assert_eq!(flag(&a, "--resume-sha256"), Some(SHA));
    assert_eq!(flag(&a, "--resume-records"), Some("10000"));

    // --force sends everything: the resume is dropped.
    let job = build_upload_job(
        &hr,
        &settings(),
        "r1",
        AuthKind::Certificate,
        Some(&resume),
        true,
    )
    .unwrap();
    let a = args(&job);
    assert!(a.iter().any(|x| x == "--force"));
    assert_eq!(flag(&a, "--resume-sha256"), None);
}

#[test]
fn specs_the_job_cannot_run_are_errors() {
    let bad_cp = Checkpoint {
        source_sha256: "nope".into(),
        records_acknowledged: 1,
        complete: false,
        job_id: None,
        completed_time: None,
    };
    let hr = hrjob(json!({}));
    assert_eq!(
        build_upload_job(
            &hr,
            &settings(),
            "r",
            AuthKind::Secret,
            Some(&bad_cp),
            false
        )
        .unwrap_err(),
        PvcJobError::InvalidCheckpoint
    );
    let cm = hrjob(json!({"source": {"configMap": {"name": "x", "key": "y"}}}));
    assert_eq!(
        build_upload_job(&cm, &settings(), "r", AuthKind::Secret, None, false).unwrap_err(),
        PvcJobError::NotPvcSource
    );
    let escape = hrjob(
        json!({"source": {"persistentVolumeClaim": {"claimName": "c", "path": "../etc/passwd"}}}),
    );
    assert!(matches!(
        build_upload_job(&escape, &settings(), "r", AuthKind::Secret, None, false),
        Err(PvcJobError::UnsafePath(_))
    ));
    let mut no_uid = hrjob(json!({}));
    no_uid.metadata.uid = None;
    assert_eq!(
        build_upload_job(&no_uid, &settings(), "r", AuthKind::Secret, None, false).unwrap_err(),
        PvcJobError::MissingMetadata("uid")
    );
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[test]
fn job_names_are_stable_short_and_distinct_per_run() {
    let mut hr = hrjob(json!({}));
    let a = job_name(&hr, "run-1");
    assert_eq!(a, job_name(&hr, "run-1"), "deterministic");
    assert!(a.starts_with("nightly-") && is_dns_label(&a), "{a}");
    assert_ne!(a, job_name(&hr, "run-2"));

    let long = format!("{}.finance.{}", "a".repeat(120), "b".repeat(120));
    hr.metadata.name = Some(long.clone());
    let n = job_name(&hr, "2026-11-02T03:00:00Z");
    assert!(is_dns_label(&n), "{n}");
    assert_eq!(n, job_name(&hr, "2026-11-02T03:00:00Z"));
    // Two long names that only differ past the cut still get different Jobs.
    hr.metadata.name = Some(format!("{long}x"));
    assert_ne!(n, job_name(&hr, "2026-11-02T03:00:00Z"));

    // A re-created object of the same name (new UID) does not adopt the old object's Job.
    let mut again = hrjob(json!({}));
    again.metadata.uid = Some("another-uid".into());
    assert_ne!(job_name(&again, "run-1"), a);

    hr.metadata.name = Some("x".repeat(300) + "-----" + &"y".repeat(57));
    let n = job_name(&hr, &"z".repeat(500));
    assert!(is_dns_label(&n), "{n}");
}

#[test]
fn the_secret_decides_the_credential_kind() {
    let hr = hrjob(json!({}));
    let secret = |keys: &[&str]| Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("hr-app".into()),
            ..Default::default()
        },
        data: Some(
            keys.iter()
                .map(|k| (k.to_string(), ByteString(b"value".to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    let c = &hr.spec.credentials;
    assert_eq!(
        auth_kind(
            &secret(&["tenantId", "appId", "appSecret", "tls.crt", "tls.key"]),
            c
        ),
        Ok(AuthKind::Secret)
    );
    assert_eq!(
        auth_kind(&secret(&["tenantId", "appId", "tls.crt", "tls.key"]), c),
        Ok(AuthKind::Certificate)
    );
    let err = auth_kind(&secret(&["appId", "appSecret"]), c).unwrap_err();
    assert_eq!(err.to_string(), "Secret \"hr-app\" has no key(s) tenantId");
    let err = auth_kind(&secret(&["tenantId", "appId", "tls.crt"]), c).unwrap_err();
    assert!(matches!(err, PvcJobError::NoAppCredential { .. }), "{err}");
    assert!(!err.to_string().contains("value"));
}

// --- reading the Job back -------------------------------------------------------------------

fn finished_job(condition: Option<(&str, &str)>) -> Job {
    let mut job = build(&hrjob(json!({})), AuthKind::Secret);
    job.metadata.uid = Some("job-uid".into());
    job.status = serde_json::from_value(json!({
        "conditions": condition.map(|(t, reason)| vec![json!({
            "type": t, "status": "True", "reason": reason, "message": "details from the job controller"
        })]).unwrap_or_default()
    }))
    .unwrap();
    job
}

fn pod(owner_uid: &str, terminated: Option<(i32, Option<&str>, &str)>) -> Pod {
    let state = match terminated {
        Some((code, message, finished)) => json!({"terminated": {
            "exitCode": code, "message": message, "finishedAt": finished
        }}),
        None => json!({"running": {}}),
    };
    serde_json::from_value(json!({
        "metadata": {"name": "p", "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": owner_uid
        }]},
        "status": {"containerStatuses": [{
            "name": CONTAINER_NAME, "ready": false, "restartCount": 0, "image": "i", "imageID": "",
            "state": state
        }]}
    }))
    .unwrap()
}

const OK_REPORT: &str = r#"{"result":"Succeeded","recordsSaved":7,"recordsRejected":1,"chunks":3,"attempts":4,"sourceSha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","message":"7 records saved in 3 chunk(s)"}"#;

#[test]
fn a_job_without_a_final_condition_is_running() {
    let job = finished_job(None);
    assert_eq!(pvc_job_state(&job, &[]), PvcJobState::Running);
    // Even a pod that already wrote its report: the Job decides when it is over.
    let pods = [pod(
        "job-uid",
        Some((0, Some(OK_REPORT), "2026-11-02T03:01:00Z")),
    )];
    assert_eq!(pvc_job_state(&job, &pods), PvcJobState::Running);
}

#[test]
fn a_complete_job_returns_its_pods_report() {
    let job = finished_job(Some(("Complete", "CompletionsReached")));
    let pods = [
        pod(
            "other-job",
            Some((1, Some("{\"result\":\"Failed\"}"), "2026-11-02T04:00:00Z")),
        ),
        pod(
            "job-uid",
            Some((0, Some(OK_REPORT), "2026-11-02T03:01:00Z")),
        ),
    ];
    let PvcJobState::Succeeded(report) = pvc_job_state(&job, &pods) else {
        panic!("not succeeded");
    };
    assert_eq!(report.result, RunResult::Succeeded);
    assert_eq!((report.records_saved, report.records_rejected), (7, 1));
    assert_eq!(report.chunks, 3);
    assert_eq!(
        report.checkpoint("job"),
        Some(Checkpoint {
            source_sha256: SHA.into(),
            records_acknowledged: 7,
            complete: true,
            job_id: Some("job".into()),
            completed_time: None,
        })
    );
}

#[test]
fn a_complete_job_without_a_report_is_not_a_success() {
    let job = finished_job(Some(("Complete", "CompletionsReached")));
    for pods in [
        vec![],
        vec![pod("job-uid", Some((0, None, "2026-11-02T03:01:00Z")))],
    ] {
        let PvcJobState::Failed { message, report } = pvc_job_state(&job, &pods) else {
            panic!("a Job without a report cannot be reported as succeeded");
        };
        assert!(message.contains("report is gone"), "{message}");
        assert_eq!(report, None);
    }
}

#[test]
fn a_failed_job_returns_the_newest_pods_report_or_its_log_tail() {
    let job = finished_job(Some(("Failed", "PodFailurePolicy")));
    let failed = r#"{"result":"Failed","recordsSaved":5000,"recordsRejected":0,"chunks":1,"attempts":7,"sourceSha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","message":"ingestion service unavailable after 6 attempt(s): HTTP 503","reason":"UploadFailed"}"#;
    let pods = [
        pod(
            "job-uid",
            Some((137, Some("older pod, OOM"), "2026-11-02T03:01:00Z")),
        ),
        pod("job-uid", Some((1, Some(failed), "2026-11-02T03:09:00Z"))),
    ];
    let PvcJobState::Failed { message, report } = pvc_job_state(&job, &pods) else {
        panic!("not failed");
    };
    assert_eq!(
        message,
        "UploadFailed: ingestion service unavailable after 6 attempt(s): HTTP 503"
    );
    let report = report.unwrap();
    assert_eq!(report.reason.as_deref(), Some("UploadFailed"));
    // Progress made before the failure is kept for the next run to resume from.
    assert_eq!(report.checkpoint("job").unwrap().records_acknowledged, 5000);

    // FallbackToLogsOnError: the message is the log tail, not JSON.
    let logs = format!(
        "{}error: cannot read --tenant-id-file /var/run/secrets/hrconnector/tenant-id",
        "x".repeat(5000)
    );
    let pods = [pod(
        "job-uid",
        Some((2, Some(&logs), "2026-11-02T03:01:00Z")),
    )];
    let PvcJobState::Failed { message, report } = pvc_job_state(&job, &pods) else {
        panic!("not failed");
    };
    assert!(
        message.starts_with("upload Job failed (PodFailurePolicy): "),
        "{message}"
    );
    assert!(message.ends_with("tenant-id"), "{message}");
    assert!(message.len() < 1200);
    assert_eq!(report, None);

    // No pod left (deadline exceeded before it started, or deleted): the Job's own condition.
    let job = finished_job(Some(("Failed", "DeadlineExceeded")));
    assert_eq!(
        pvc_job_state(&job, &[pod("job-uid", None)]),
        PvcJobState::Failed {
            message: "upload Job failed (DeadlineExceeded): details from the job controller".into(),
            report: None
        }
    );
}

#[test]
fn reports_parse_and_dry_runs_leave_no_checkpoint() {
    assert_eq!(parse_report("not json"), None);
    let dry: PodReport = parse_report(
        r#"{"result":"DryRun","recordsSaved":0,"recordsRejected":0,"chunks":0,"attempts":0,"sourceSha256":"ab","message":"m"}"#,
    )
    .unwrap();
    assert_eq!(dry.checkpoint("job"), None);
    let early_failure = parse_report(
        r#"{"result":"Failed","message":"credentials: x","reason":"InvalidCredentials"}"#,
    )
    .unwrap();
    assert_eq!(early_failure.checkpoint("job"), None);
}

// --- round trip: the builder's arguments, run for real -----------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_hrconnector");

/// Lays out the Job's volumes in `root` (the claim's file, the Secret's items under their mounted
/// names), runs the binary with [`upload_args`] for those paths, and reads the result file the
/// way the controller reads the termination message.
async fn run_as_the_job(
    hr: &HrConnectorJob,
    auth: AuthKind,
    secret_data: &[(&str, String)],
    resume: Option<&Checkpoint>,
) -> (PvcJobState, std::process::Output) {
    run_as_the_job_with(hr, &settings(), auth, secret_data, resume).await
}

/// [`run_as_the_job`] with the operator's `settings`: the container's environment is the Job's,
/// and its trusted CA file is what its downward API volume would project from the pod's
/// annotation.
async fn run_as_the_job_with(
    hr: &HrConnectorJob,
    settings: &PvcJobSettings,
    auth: AuthKind,
    secret_data: &[(&str, String)],
    resume: Option<&Checkpoint>,
) -> (PvcJobState, std::process::Output) {
    let root = tempfile::tempdir().unwrap();
    let paths = UploadPaths {
        data_dir: root.path().join("data").to_string_lossy().into_owned(),
        credentials_dir: root.path().join("creds").to_string_lossy().into_owned(),
        result_file: root
            .path()
            .join("termination-log")
            .to_string_lossy()
            .into_owned(),
        ca_file: None,
        limits: Default::default(),
    };
    let mut paths = paths;
    std::fs::create_dir_all(&paths.credentials_dir).unwrap();
    std::fs::create_dir_all(root.path().join("data/exports")).unwrap();
    write_csv(&root.path().join("data/exports"), "hr.csv", 7);

    // The Secret's keys land where the Job's volume items put them.
    let job = build_upload_job(hr, settings, "rt", auth.clone(), resume, false).unwrap();
    if let Some(file) = downward_api_file(&job) {
        let path = root.path().join("trusted-ca.crt");
        std::fs::write(&path, file).unwrap();
        paths.ca_file = Some(path.to_string_lossy().into_owned());
    }
    let items = pod_spec(&job)
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.secret.as_ref())
        .and_then(|s| s.items.clone())
        .unwrap();
    for item in items {
        let value = secret_data
            .iter()
            .find(|(k, _)| *k == item.key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("secret has no {}", item.key));
        std::fs::write(format!("{}/{}", paths.credentials_dir, item.path), value).unwrap();
    }

    let args = upload_args(hr, &paths, auth, resume, false).unwrap();
    let env: Vec<(String, String)> = container(&job)
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .filter(|(name, _)| name != "HOME" && name != "TMPDIR")
        .collect();
    let out = tokio::process::Command::new(BIN)
        .args(&args)
        .envs(env)
        .env_remove("HRCONNECTOR_APP_SECRET")
        .env_remove("HRCONNECTOR_TENANT_ID")
        .env_remove("HRCONNECTOR_APP_ID")
        .output()
        .await
        .unwrap();
    let message = std::fs::read_to_string(&paths.result_file).unwrap();
    assert!(message.len() <= 4096);

    // What the kubelet and the Job controller would show the controller.
    let mut finished = finished_job(Some(if out.status.success() {
        ("Complete", "CompletionsReached")
    } else {
        ("Failed", "PodFailurePolicy")
    }));
    finished.metadata.uid = Some("job-uid".into());
    let code = out.status.code().unwrap_or(-1);
    let pods = [pod(
        "job-uid",
        Some((code, Some(&message), "2026-11-02T03:01:00Z")),
    )];
    (pvc_job_state(&finished, &pods), out)
}

fn emulator_spec(url: &str, extra: serde_json::Value) -> HrConnectorJob {
    let mut spec = json!({
        "cloud": "GCC", "recordsPerCall": 3,
        "endpoints": {"authorityUrl": url, "ingestionUrl": url},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    hrjob(spec)
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trip_with_a_client_secret() {
    let emu = start_emulator().await;
    let hr = emulator_spec(
        &emu.url(),
        json!({"credentials": {"secretRef": {"name": "hr-app"}, "appSecretKey": "client-secret"}}),
    );
    let data = [
        ("tenantId", format!("{TENANT}\n")),
        ("appId", format!("{APP}\n")),
        ("client-secret", format!("{SECRET}\n")),
    ];
    let (state, out) = run_as_the_job(&hr, AuthKind::Secret, &data, None).await;
    let PvcJobState::Succeeded(report) = state else {
        panic!("{state:?}\n{}", String::from_utf8_lossy(&out.stderr));
    };
    assert_eq!(report.result, RunResult::Succeeded);
    assert_eq!(report.records_saved, 7);
    assert_eq!(report.chunks, 3);
    assert_eq!(emu.received_records(JOB).len(), 7);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(SECRET));

    // The next Job resumes from the checkpoint the first one left: nothing to send.
    let cp = report.checkpoint("job").unwrap();
    let (state, _) = run_as_the_job(&hr, AuthKind::Secret, &data, Some(&cp)).await;
    let PvcJobState::Succeeded(again) = state else {
        panic!("{state:?}");
    };
    assert_eq!(again.result, RunResult::Unchanged);
    assert_eq!(emu.upload_requests(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trip_with_a_certificate_and_a_resume() {
    let emu = start_emulator().await;
    let hr = emulator_spec(&emu.url(), json!({}));
    let read = |p: &str| std::fs::read_to_string(fixture(p)).unwrap();
    let data = [
        ("tenantId", TENANT.to_string()),
        ("appId", format!("{CERT_APP}\n")),
        ("tls.crt", read("certs/test-app.crt")),
        ("tls.key", read("certs/test-app.key")),
    ];
    // A dry run first, for the content's SHA-256, then a Job resuming after 3 records.
    let dry = emulator_spec(&emu.url(), json!({"dryRun": true}));
    let (state, _) = run_as_the_job(&dry, AuthKind::Certificate, &data, None).await;
    let PvcJobState::Succeeded(dry) = state else {
        panic!("{state:?}");
    };
    assert_eq!(dry.result, RunResult::DryRun);
    let resume = Checkpoint {
        source_sha256: dry.source_sha256.clone(),
        records_acknowledged: 3,
        complete: false,
        job_id: None,
        completed_time: None,
    };
    let (state, out) = run_as_the_job(&hr, AuthKind::Certificate, &data, Some(&resume)).await;
    let PvcJobState::Succeeded(report) = state else {
        panic!("{state:?}\n{}", String::from_utf8_lossy(&out.stderr));
    };
    assert_eq!(report.records_saved, 7);
    assert_eq!(
        emu.received_records(JOB).len(),
        4,
        "only the records after the checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trip_of_a_failure_reports_the_reason() {
    let emu = start_emulator().await;
    let hr = emulator_spec(&emu.url(), json!({}));
    let data = [
        ("tenantId", TENANT.to_string()),
        ("appId", APP.to_string()),
        ("appSecret", "WRONG-LEAKCHECK-1234".to_string()),
    ];
    let (state, out) = run_as_the_job(&hr, AuthKind::Secret, &data, None).await;
    assert_eq!(out.status.code(), Some(1));
    let PvcJobState::Failed { message, report } = state else {
        panic!("{state:?}");
    };
    assert!(message.starts_with("AuthenticationFailed: "), "{message}");
    assert!(message.contains("AADSTS"), "{message}");
    assert!(!message.contains("WRONG-LEAKCHECK"));
    assert_eq!(report.unwrap().checkpoint("job"), None);
}

#[test]
fn the_operators_proxy_variables_reach_the_upload_job() {
    let hr = hrjob(json!({}));
    let settings = PvcJobSettings {
        proxy_env: vec![
            ("HTTPS_PROXY".into(), "http://proxy.agency.gov:3128".into()),
            ("NO_PROXY".into(), "kubernetes.default.svc,.svc".into()),
        ],
        ..settings()
    };
    let job = build_with(&hr, &settings);
    let env: Vec<(String, Option<String>)> = container(&job)
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    assert!(env.contains(&(
        "HTTPS_PROXY".into(),
        Some("http://proxy.agency.gov:3128".into())
    )));
    assert!(env.contains(&(
        "NO_PROXY".into(),
        Some("kubernetes.default.svc,.svc".into())
    )));
    assert!(env.contains(&("HOME".into(), Some("/tmp".into()))));
}

#[test]
fn a_workload_identity_job_runs_as_the_service_account_with_a_projected_token_and_no_secret() {
    let hr = hrjob(json!({}));
    let identity = FederatedIdentity {
        service_account: "hr-uploader".into(),
        client_id: "c5e7f9a1-3d4f-4a6b-8c2d-e4f6a8b0c2d4".into(),
        tenant_id: "6f1d9b2e-0c7a-4d43-9a59-2b7f3c1e5a10".into(),
        audience: "api://AzureADTokenExchange".into(),
    };
    let job = build(&hr, AuthKind::WorkloadIdentity(identity));
    let pod = pod_spec(&job);
    assert_eq!(pod.service_account_name.as_deref(), Some("hr-uploader"));
    let volumes = pod.volumes.as_ref().unwrap();
    assert!(
        volumes.iter().all(|v| v.secret.is_none()),
        "a Secret is mounted"
    );
    let projected = volumes
        .iter()
        .find_map(|v| v.projected.as_ref())
        .expect("a projected volume");
    let token = projected.sources.as_ref().unwrap()[0]
        .service_account_token
        .as_ref()
        .unwrap();
    assert_eq!(
        token.audience.as_deref(),
        Some("api://AzureADTokenExchange")
    );
    let mount = container(&job)
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volumes.iter().find(|v| v.projected.is_some()).unwrap().name)
        .unwrap();
    assert_eq!(mount.read_only, Some(true));
    let a = args(&job);
    assert!(a.contains(&"--workload-identity".to_string()));
    assert_eq!(
        flag(&a, "--federated-token-file"),
        Some(format!("{}/{}", mount.mount_path, token.path).as_str())
    );
    assert_eq!(
        flag(&a, "--app-id"),
        Some("c5e7f9a1-3d4f-4a6b-8c2d-e4f6a8b0c2d4")
    );
    assert_eq!(
        flag(&a, "--tenant-id"),
        Some("6f1d9b2e-0c7a-4d43-9a59-2b7f3c1e5a10")
    );
    assert!(flag(&a, "--app-secret-file").is_none() && flag(&a, "--tenant-id-file").is_none());
}

/// The file a `downwardAPI` volume of `job` projects from its pod template's annotations, as the
/// kubelet would write it (None: the Job has no such volume).
fn downward_api_file(job: &Job) -> Option<String> {
    let spec = job.spec.as_ref().unwrap();
    let item = pod_spec(job)
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.downward_api.as_ref())?
        .items
        .as_ref()?
        .first()?
        .clone();
    let field = item.field_ref.expect("a fieldRef").field_path;
    let key = field
        .strip_prefix("metadata.annotations['")
        .and_then(|k| k.strip_suffix("']"))
        .unwrap_or_else(|| panic!("not an annotation: {field}"));
    let annotations = spec.template.metadata.as_ref()?.annotations.as_ref()?;
    Some(
        annotations
            .get(key)
            .unwrap_or_else(|| panic!("the pod template has no annotation {key}"))
            .clone(),
    )
}

fn with_trusted_ca(ca: &std::path::Path) -> PvcJobSettings {
    PvcJobSettings {
        trusted_ca: Some(TrustedCa::read(ca).expect("CA bundle")),
        ..settings()
    }
}

#[test]
fn the_operators_trusted_ca_is_mounted_read_only_for_upload_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::tls::TestPki::new();
    let ca = pki.write_ca(dir.path());
    let hr = hrjob(json!({}));
    let job = build_with(&hr, &with_trusted_ca(&ca));
    // The pod carries the operator's bundle byte for byte...
    assert_eq!(
        downward_api_file(&job).as_deref(),
        Some(pki.ca_pem.as_str())
    );
    // ...in its template only: the Job object itself stays small.
    let job_annotations = job.metadata.annotations.as_ref().unwrap();
    assert!(!job_annotations.contains_key(TRUSTED_CA_ANNOTATION));
    // ...projected by a read-only volume to the file `upload --ca-file` reads.
    let volume = pod_spec(&job)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.downward_api.is_some())
        .unwrap();
    let item = &volume
        .downward_api
        .as_ref()
        .unwrap()
        .items
        .as_ref()
        .unwrap()[0];
    let mount = container(&job)
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume.name)
        .expect("the CA volume is mounted");
    assert_eq!(mount.read_only, Some(true));
    let a = args(&job);
    assert_eq!(
        flag(&a, "--ca-file"),
        Some(format!("{}/{}", mount.mount_path, item.path).as_str())
    );
    assert_eq!(flag(&a, "--ca-file"), Some(TRUSTED_CA_FILE));

    // Without an operator CA: no volume, no flag.
    let plain = build(&hr, AuthKind::Secret);
    assert!(downward_api_file(&plain).is_none());
    assert!(flag(&args(&plain), "--ca-file").is_none());
}

#[test]
fn a_ca_bundle_too_large_for_a_pod_annotation_is_refused_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("everything.pem");
    let one = common::tls::TestPki::new().ca_pem;
    let copies = MAX_TRUSTED_CA_BYTES / one.len() + 1;
    std::fs::write(&big, one.repeat(copies)).unwrap();
    let err = TrustedCa::read(&big).unwrap_err().to_string();
    assert!(
        err.contains(&big.display().to_string())
            && err.contains(&format!("{} bytes", one.len() * copies))
            && err.contains("inspection CA"),
        "{err}"
    );
}

/// The Job as the operator builds it behind an agency proxy with an agency CA, run for real: its
/// environment sends the token and ingestion requests through tinyproxy to the emulator serving
/// TLS with a test CA, which the upload trusts only through the Job's mounted bundle.
#[tokio::test(flavor = "multi_thread")]
async fn round_trip_over_https_through_the_operators_proxy_with_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::tls::TestPki::new();
    let issuer = common::tls::TokenIssuer::new();
    let emu = common::tls::start_https_emulator(&pki, common::tls::ServerCert::Good, &issuer).await;
    let port = emu.addr().port();
    let proxy = common::proxy::Tinyproxy::start(port).await;
    let ca = pki.write_ca(dir.path());
    // Two names for the one emulator, so the token and the upload each need a tunnel.
    let hr = hrjob(json!({
        "cloud": "GCC", "recordsPerCall": 3,
        "endpoints": {"authorityUrl": format!("https://localhost:{port}"),
                      "ingestionUrl": format!("https://127.0.0.1:{port}")},
    }));
    let data = [
        ("tenantId", TENANT.to_string()),
        ("appId", APP.to_string()),
        ("appSecret", SECRET.to_string()),
    ];
    let settings = PvcJobSettings {
        proxy_env: vec![
            ("HTTPS_PROXY".into(), proxy.url.clone()),
            (
                "NO_PROXY".into(),
                "kubernetes.default.svc,.svc,.cluster.local".into(),
            ),
        ],
        ..with_trusted_ca(&ca)
    };
    let (state, out) = run_as_the_job_with(&hr, &settings, AuthKind::Secret, &data, None).await;
    let PvcJobState::Succeeded(report) = state else {
        panic!("{state:?}\n{}", String::from_utf8_lossy(&out.stderr));
    };
    assert_eq!(report.records_saved, 7);
    assert_eq!(emu.received_records(JOB).len(), 7);
    let connects = proxy.connects();
    assert!(
        connects.contains(&format!("localhost:{port}"))
            && connects.contains(&format!("127.0.0.1:{port}")),
        "the token and ingestion requests went through the proxy; its log: {}",
        proxy.log_text()
    );

    // The same Job without the operator's CA: the emulator's certificate is not trusted, at once,
    // and nothing is sent.
    let no_ca = PvcJobSettings {
        trusted_ca: None,
        ..settings.clone()
    };
    let (state, _) = run_as_the_job_with(&hr, &no_ca, AuthKind::Secret, &data, None).await;
    let PvcJobState::Failed { message, .. } = state else {
        panic!("{state:?}");
    };
    assert!(message.starts_with("UntrustedCertificate: "), "{message}");
    assert_eq!(emu.upload_requests(), 3, "nothing more was sent");
}

#[test]
fn spec_run_timeout_is_the_upload_jobs_active_deadline() {
    let job = build(&hrjob(json!({"runTimeout": "90m"})), AuthKind::Secret);
    assert_eq!(job.spec.unwrap().active_deadline_seconds, Some(5400));
    // Unset: the operator's own limit (6 h, the default of spec.runTimeout).
    let job = build(&hrjob(json!({})), AuthKind::Secret);
    assert_eq!(job.spec.unwrap().active_deadline_seconds, Some(6 * 3600));
    // Stopped at that deadline by Kubernetes: what the run reports as RunTimedOut.
    assert!(hrconnector::controller::pvc_job::deadline_exceeded(
        &finished_job(Some(("Failed", "DeadlineExceeded")))
    ));
    assert!(!hrconnector::controller::pvc_job::deadline_exceeded(
        &finished_job(Some(("Failed", "BackoffLimitExceeded")))
    ));
    assert!(!hrconnector::controller::pvc_job::deadline_exceeded(
        &finished_job(None)
    ));
}
