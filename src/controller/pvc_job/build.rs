//! The upload Job: owned by the `HrConnectorJob` (garbage-collected with it), restricted Pod
//! Security, the claim and the Secret mounted read-only, the operator's proxy variables and extra
//! trusted CA bundle, the report in the termination message.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, KeyToPath,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    ProjectedVolumeSource, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

use super::PvcJobError;
use super::args::{
    APP_ID_FILE, APP_SECRET_FILE, CERTIFICATE_FILE, PRIVATE_KEY_FILE, TENANT_ID_FILE, UploadPaths,
    upload_args,
};
use super::auth::AuthKind;
use super::naming::{job_name, label_value};
use super::trusted_ca::{TRUSTED_CA_ANNOTATION, TRUSTED_CA_DIR, TRUSTED_CA_FILE, TrustedCa};
use crate::crd::{Checkpoint, HrConnectorJob};

/// Label (on the Job and its pods) holding the run ID, as a label value.
pub const RUN_LABEL: &str = "hrconnector.io/run";
/// Label (on the Job and its pods) holding the `HrConnectorJob`'s name, as a label value.
pub const JOB_LABEL: &str = "hrconnector.io/job";
/// Annotation holding the run ID verbatim (label values may have been shortened).
pub const RUN_ID_ANNOTATION: &str = "hrconnector.io/run-id";
/// The upload container's name.
pub const CONTAINER_NAME: &str = "upload";
/// Where workload identity's projected token is mounted (the webhook's own path).
pub const TOKEN_DIR: &str = "/var/run/secrets/azure/tokens";
const TOKEN_FILE_NAME: &str = "azure-identity-token";
/// The projected service account token the upload reads for every token request.
pub const FEDERATED_TOKEN_FILE: &str = "/var/run/secrets/azure/tokens/azure-identity-token";
/// Where the claim is mounted.
pub const DATA_DIR: &str = "/data";
/// Where the credentials Secret is mounted.
pub const CREDENTIALS_DIR: &str = "/var/run/secrets/hrconnector";
/// The container's termination message file; Kubernetes keeps at most 4096 bytes of it.
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// The non-root user and group the upload runs as (distroless "nonroot").
pub const RUN_AS_ID: i64 = 65532;

/// Who chooses the upload pod's user, group and fsGroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodIds {
    /// 65532 for all three ([`RUN_AS_ID`]): the image's own user.
    #[default]
    Fixed,
    /// None are set: the platform assigns them from the namespace's range (OpenShift's
    /// `restricted-v2` SCC refuses a pod that names IDs outside it).
    PlatformAssigned,
}

/// Owner-chosen settings of every upload Job (from the controller's flags or Helm values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvcJobSettings {
    /// The hrconnector image the Job runs (normally the controller's own).
    pub image: String,
    pub image_pull_policy: Option<String>,
    /// How long a finished Job (and its pod, with the report) is kept.
    pub ttl_seconds_after_finished: i32,
    /// Hard limit on one run; the CLI stops after the chunk in flight on SIGTERM.
    pub active_deadline_seconds: i64,
    /// Pod retries for infrastructure failures (node loss, OOM); an upload that reported
    /// failure is not retried by the Job (see the pod failure policy).
    pub backoff_limit: i32,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` for the upload: the operator passes on its own
    /// (and `HRCONNECTOR_REQUIRE_FIPS=1` when it requires FIPS).
    pub proxy_env: Vec<(String, String)>,
    /// The operator's extra trusted CA bundle (`--ca-file`), mounted for `upload --ca-file`.
    pub trusted_ca: Option<TrustedCa>,
    /// The operator's CSV limits (its ceilings, and the default of a job without
    /// `spec.limits`).
    pub limits: crate::hrdata::Limits,
    /// Whether the pod names its user, group and fsGroup (`controller --openshift`: not).
    pub pod_ids: PodIds,
}

impl PvcJobSettings {
    pub fn new(image: impl Into<String>) -> Self {
        PvcJobSettings {
            image: image.into(),
            image_pull_policy: None,
            ttl_seconds_after_finished: 3600,
            active_deadline_seconds: 6 * 3600,
            backoff_limit: 2,
            proxy_env: Vec::new(),
            trusted_ca: None,
            limits: Default::default(),
            pod_ids: PodIds::Fixed,
        }
    }
}

/// Builds the Job that runs `hrjob`'s upload for run `run_id` (see the module docs of
/// [`super`]). `auth` comes from [`super::auth_kind`]; `resume` is `status.checkpoint`.
pub fn build_upload_job(
    hrjob: &HrConnectorJob,
    settings: &PvcJobSettings,
    run_id: &str,
    auth: AuthKind,
    resume: Option<&Checkpoint>,
    force: bool,
) -> Result<Job, PvcJobError> {
    let name = hrjob
        .metadata
        .name
        .as_deref()
        .ok_or(PvcJobError::MissingMetadata("name"))?;
    let namespace = hrjob
        .metadata
        .namespace
        .as_deref()
        .ok_or(PvcJobError::MissingMetadata("namespace"))?;
    // No blockOwnerDeletion: with the OwnerReferencesPermissionEnforcement admission plugin (on
    // in OpenShift) setting it needs `update` on hrconnectorjobs/finalizers, a grant we do not
    // want for this. The garbage collector still deletes the Job with its HrConnectorJob; only a
    // foreground deletion no longer waits for it.
    let owner = hrjob
        .controller_owner_ref(&())
        .ok_or(PvcJobError::MissingMetadata("uid"))?;
    let pvc = hrjob
        .spec
        .source
        .persistent_volume_claim
        .as_ref()
        .ok_or(PvcJobError::NotPvcSource)?;
    let paths = UploadPaths {
        ca_file: settings.trusted_ca.as_ref().map(|_| TRUSTED_CA_FILE.into()),
        limits: settings.limits,
        ..UploadPaths::in_pod()
    };
    let args = upload_args(hrjob, &paths, auth.clone(), resume, force)?;

    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "hrconnector".to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            "upload".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "hrconnector".to_string(),
        ),
        (JOB_LABEL.to_string(), label_value(name)),
        (RUN_LABEL.to_string(), label_value(run_id)),
    ]);
    let annotations = BTreeMap::from([(RUN_ID_ANNOTATION.to_string(), run_id.to_string())]);
    // The pod's own copy of the CA bundle, which its downward API volume turns into a file.
    let mut pod_annotations = annotations.clone();
    if let Some(ca) = &settings.trusted_ca {
        pod_annotations.insert(TRUSTED_CA_ANNOTATION.to_string(), ca.pem().to_string());
    }

    let pod = PodSpec {
        // Workload identity: the pod runs as the job's service account, whose token is projected.
        service_account_name: match &auth {
            AuthKind::WorkloadIdentity(id) => Some(id.service_account.clone()),
            _ => None,
        },
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        // No Service environment variables: nothing in the pod needs them.
        enable_service_links: Some(false),
        security_context: Some(pod_security_context(settings.pod_ids)),
        containers: vec![Container {
            name: CONTAINER_NAME.into(),
            image: Some(settings.image.clone()),
            image_pull_policy: settings.image_pull_policy.clone(),
            args: Some(args),
            env: Some(
                [env("HOME", "/tmp"), env("TMPDIR", "/tmp")]
                    .into_iter()
                    .chain(settings.proxy_env.iter().map(|(k, v)| env(k, v)))
                    .collect(),
            ),
            security_context: Some(container_security_context(settings.pod_ids)),
            resources: Some(resources()),
            termination_message_path: Some(TERMINATION_LOG.into()),
            // A pod that dies before writing its report still explains itself with its log tail.
            termination_message_policy: Some("FallbackToLogsOnError".into()),
            volume_mounts: Some(
                [
                    mount("data", DATA_DIR, true),
                    match &auth {
                        AuthKind::WorkloadIdentity(_) => {
                            mount("azure-identity-token", TOKEN_DIR, true)
                        }
                        _ => mount("credentials", CREDENTIALS_DIR, true),
                    },
                    mount("tmp", "/tmp", false),
                ]
                .into_iter()
                .chain(
                    settings
                        .trusted_ca
                        .as_ref()
                        .map(|_| mount(super::trusted_ca::TRUSTED_CA_VOLUME, TRUSTED_CA_DIR, true)),
                )
                .collect(),
            ),
            ..Container::default()
        }],
        volumes: Some(
            [
                Volume {
                    name: "data".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: pvc.claim_name.clone(),
                        read_only: Some(true),
                    }),
                    ..Volume::default()
                },
                credentials_volume(hrjob, &auth)?,
                Volume {
                    name: "tmp".into(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        size_limit: Some(Quantity("64Mi".into())),
                        ..EmptyDirVolumeSource::default()
                    }),
                    ..Volume::default()
                },
            ]
            .into_iter()
            .chain(settings.trusted_ca.as_ref().map(TrustedCa::volume))
            .collect(),
        ),
        ..PodSpec::default()
    };

    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name(hrjob, run_id)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            ttl_seconds_after_finished: Some(settings.ttl_seconds_after_finished),
            // spec.runTimeout when set: the same limit as an in-process run's.
            active_deadline_seconds: Some(if hrjob.spec.run_timeout.is_some() {
                i64::try_from(hrjob.spec.run_timeout().as_secs()).unwrap_or(i64::MAX)
            } else {
                settings.active_deadline_seconds
            }),
            backoff_limit: Some(settings.backoff_limit),
            pod_failure_policy: Some(pod_failure_policy()),
            // A replacement pod starts only once the previous one is gone: never two uploads of
            // the same run at once.
            pod_replacement_policy: Some("Failed".into()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// The Secret's keys (read-only), or for workload identity a projected service account token of
/// the federated credential's audience, which the kubelet rotates; no Secret then.
fn credentials_volume(hrjob: &HrConnectorJob, auth: &AuthKind) -> Result<Volume, PvcJobError> {
    if let AuthKind::WorkloadIdentity(id) = auth {
        return Ok(Volume {
            name: "azure-identity-token".into(),
            projected: Some(ProjectedVolumeSource {
                default_mode: Some(0o440),
                sources: Some(vec![VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        audience: Some(id.audience.clone()),
                        expiration_seconds: Some(3600),
                        path: TOKEN_FILE_NAME.into(),
                    }),
                    ..VolumeProjection::default()
                }]),
            }),
            ..Volume::default()
        });
    }
    let secret_ref = hrjob
        .spec
        .credentials
        .secret_ref
        .as_ref()
        .ok_or(PvcJobError::MissingMetadata("spec.credentials.secretRef"))?;
    Ok(Volume {
        name: "credentials".into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret_ref.name.clone()),
            default_mode: Some(0o400),
            items: Some(secret_items(hrjob, auth)),
            optional: Some(false),
        }),
        ..Volume::default()
    })
}

/// The Secret's keys, as named in the spec, mapped to the fixed file names the args use. Only
/// the keys of the chosen credential are mounted.
fn secret_items(hrjob: &HrConnectorJob, auth: &AuthKind) -> Vec<KeyToPath> {
    let c = &hrjob.spec.credentials;
    let item = |key: &str, path: &str| KeyToPath {
        key: key.into(),
        path: path.into(),
        mode: None,
    };
    let mut items = vec![
        item(&c.tenant_id_key, TENANT_ID_FILE),
        item(&c.app_id_key, APP_ID_FILE),
    ];
    match auth {
        AuthKind::Secret => items.push(item(&c.app_secret_key, APP_SECRET_FILE)),
        AuthKind::Certificate => {
            items.push(item(&c.certificate_key, CERTIFICATE_FILE));
            items.push(item(&c.private_key_key, PRIVATE_KEY_FILE));
        }
        AuthKind::WorkloadIdentity(_) => {}
    }
    items
}

/// Exit status 1 (the upload reported failure) and 2 (usage) are final: retrying the pod would
/// re-send from the same checkpoint. Disruptions (eviction, preemption) do not count.
fn pod_failure_policy() -> PodFailurePolicy {
    PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: Some(CONTAINER_NAME.into()),
                    operator: "In".into(),
                    values: vec![1, 2],
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: None,
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                }]),
            },
        ],
    }
}

/// The fixed ID, or none where the platform assigns one.
fn fixed_id(ids: PodIds) -> Option<i64> {
    match ids {
        PodIds::Fixed => Some(RUN_AS_ID),
        PodIds::PlatformAssigned => None,
    }
}

/// The `restricted` Pod Security Standard at pod level. `fsGroup` makes the 0400 Secret files
/// readable: the kubelet gives them group `fsGroup` and adds group read (on OpenShift the SCC
/// sets an fsGroup from the namespace's range, with the same effect).
fn pod_security_context(ids: PodIds) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: fixed_id(ids),
        run_as_group: fixed_id(ids),
        fs_group: fixed_id(ids),
        // Do not walk a large claim re-labelling ownership on every run.
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..PodSecurityContext::default()
    }
}

fn container_security_context(ids: PodIds) -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: fixed_id(ids),
        run_as_group: fixed_id(ids),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..SecurityContext::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

/// Streaming keeps memory flat; the limit leaves room for a few large chunks in flight.
fn resources() -> ResourceRequirements {
    let q = |pairs: [(&str, &str); 2]| {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect::<BTreeMap<_, _>>()
    };
    ResourceRequirements {
        requests: Some(q([("cpu", "50m"), ("memory", "64Mi")])),
        limits: Some(q([("cpu", "1"), ("memory", "512Mi")])),
        ..ResourceRequirements::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}
