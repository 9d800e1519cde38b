//! `spec.source.sftp`: a drop on an SFTP server resolved into an [`SftpSource`] (the login from
//! the job's Secret, the known hosts from a ConfigMap or Secret key), and its pre-flight check
//! on apply and every `--object-source-recheck-seconds`: one listing or stat, and a validation
//! pass only when the file (size, modification time, the match chosen) or the spec changed.
//!
//! The operator reads these sources itself, as it reads object storage: no batch Job, and the
//! checkpoint goes into status after every acknowledged chunk.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use tokio::runtime::Handle;

use super::context::Context;
use super::object_credentials;
use super::object_source::{self, ObjectProblem, Preflight};
use super::source::get;
use crate::crd::conditions::reason;
use crate::crd::{HrConnectorJob, KnownHostsRef, ObjectSourceStatus};
use crate::source::{SftpLocation, SftpSource, SftpSourceConfig, TrustedHosts};

/// Whether the job's source is an SFTP server.
pub fn is_sftp(job: &HrConnectorJob) -> bool {
    job.spec.source.sftp.is_some()
}

/// The job's SFTP source, or `None` when its source is not on an SFTP server.
pub async fn resolve(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<Option<SftpSource>, ObjectProblem> {
    let Some(spec) = &job.spec.source.sftp else {
        return Ok(None);
    };
    let known_hosts = known_hosts(ctx, namespace, &spec.known_hosts).await?;
    let auth = object_credentials::sftp(ctx, namespace, spec).await?;
    let config = SftpSourceConfig {
        location: SftpLocation {
            user: spec.user.clone(),
            host: spec.host.clone(),
            port: spec.port,
            path: spec.path.clone(),
        },
        auth,
        known_hosts: Arc::new(known_hosts),
        // The operator's policy: the server must be under an sftp:// prefix.
        egress: Arc::new(ctx.config.endpoint_policy.clone()),
        retry: ctx.config.retry.clone(),
        sleeper: ctx.sleeper.clone(),
    };
    SftpSource::new(config, Handle::current())
        .map(Some)
        .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))
}

/// The known hosts a job names: a ConfigMap key or a Secret key of its namespace.
async fn known_hosts(
    ctx: &Context,
    namespace: &str,
    spec: &KnownHostsRef,
) -> Result<TrustedHosts, ObjectProblem> {
    let (text, what) = match (&spec.config_map, &spec.secret) {
        (Some(sel), None) => {
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
            let map = get(&api, "ConfigMap", namespace, &sel.name)
                .await
                .map_err(|e| ObjectProblem::new(reason::SOURCE_NOT_FOUND, e.to_string()))?;
            let what = format!("ConfigMap {namespace}/{} key {}", sel.name, sel.key);
            let text = map.data.unwrap_or_default().remove(&sel.key);
            (text, what)
        }
        (None, Some(sel)) => {
            let mut keys = object_credentials::read_secret(ctx, namespace, &sel.name).await?;
            let what = format!("Secret {namespace}/{} key {}", sel.name, sel.key);
            let text = keys
                .remove(&sel.key)
                .map(|v| secrecy::ExposeSecret::expose_secret(&v).to_owned());
            (text, what)
        }
        _ => {
            return Err(ObjectProblem::new(
                reason::INVALID_SPEC,
                "spec.source.sftp.knownHosts: exactly one of configMap or secret must be set",
            ));
        }
    };
    let text = text.ok_or_else(|| {
        ObjectProblem::new(
            reason::SOURCE_NOT_FOUND,
            format!("{what} (spec.source.sftp.knownHosts) does not exist"),
        )
    })?;
    TrustedHosts::parse(&text, &what).map_err(|e| ObjectProblem::new(reason::INVALID_SPEC, e))
}

/// The pre-flight check: reach the server (the Secret, the known hosts, the login, one stat or
/// listing) within `timeout` (`--preflight-timeout-seconds`), then validate the file as a run
/// would when its version or the spec changed since the last check.
pub async fn check(ctx: &Context, job: &HrConnectorJob, key: &str, timeout: Duration) -> Preflight {
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let reach = async {
        let Some(source) = resolve(ctx, &namespace, job).await? else {
            return Ok(None);
        };
        let version = source
            .head()
            .await
            .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))?;
        Ok(Some((source, version)))
    };
    let (source, version) = match tokio::time::timeout(timeout, reach).await {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => {
            return Preflight {
                status: None,
                verdict: None,
            };
        }
        Ok(Err(problem)) => return forget(ctx, key, Preflight::problem(problem)),
        Err(_) => {
            let server = job
                .spec
                .source
                .sftp
                .as_ref()
                .map_or_else(String::new, |s| format!("{}:{}", s.host, s.port));
            return forget(
                ctx,
                key,
                Preflight::problem(ObjectProblem::new(
                    reason::SOURCE_UNREACHABLE,
                    format!(
                        "no answer within {} s from the SFTP server {server} \
                         (spec.source.sftp.host) (--preflight-timeout-seconds); checked again \
                         in {} s",
                        timeout.as_secs(),
                        ctx.config.object_source_recheck.as_secs()
                    ),
                )),
            );
        }
    };
    let status = ObjectSourceStatus {
        chosen: version.chosen.clone(),
        sha256: None,
        etag: None,
        last_modified: Some(version.modified_text()),
        size: Some(version.size),
    };
    let fingerprint = format!(
        "{}/{}/{}/{}",
        job.metadata.generation.unwrap_or_default(),
        version.path,
        version.size,
        version.modified
    );
    object_source::check_pinned(ctx, job, key, status, fingerprint, || {
        source.pin_version(&version)
    })
    .await
}

/// A check that did not reach the file: validate again at the next one that does.
fn forget(ctx: &Context, key: &str, preflight: Preflight) -> Preflight {
    ctx.validated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(key);
    preflight
}
