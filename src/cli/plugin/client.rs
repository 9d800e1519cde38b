//! The Kubernetes API client of the plugin, from kubectl's flags, and its errors.

use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::Target;
use crate::crd::HrConnectorJob;

/// The plugin's User-Agent: not the operator's (`hrconnector/VERSION`), so an API server's
/// audit log tells a person's commands from the operator's.
pub const USER_AGENT: &str = concat!("kubectl-hrconnector/", env!("CARGO_PKG_VERSION"));

/// Field manager of the plugin's patches (run-now, suspend, resume).
pub const FIELD_MANAGER: &str = "kubectl-hrconnector";

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot load the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cannot build the Kubernetes API client: {0}")]
    Client(String),
    #[error("hrconnectorjob {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error("{what}: the API server answered {code} {reason}: {message}")]
    Api {
        what: String,
        code: u16,
        reason: String,
        message: String,
    },
    #[error("{what}: {message}")]
    Request { what: String, message: String },
}

impl PluginError {
    /// `error` of the request described by `what` (for example "get hrconnectorjob hr/nightly").
    pub fn from_kube(what: impl Into<String>, error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => PluginError::Api {
                what: what.into(),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            other => PluginError::Request {
                what: what.into(),
                message: other.to_string(),
            },
        }
    }
}

/// A client bound to the namespace the command works in.
pub struct Connected {
    pub client: Client,
    pub namespace: String,
}

impl Connected {
    pub fn jobs(&self) -> Api<HrConnectorJob> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The job `name` in the namespace, or [`PluginError::NotFound`].
    pub async fn get_job(&self, name: &str) -> Result<HrConnectorJob, PluginError> {
        self.jobs()
            .get_opt(name)
            .await
            .map_err(|e| PluginError::from_kube(self.what("get", name), e))?
            .ok_or_else(|| PluginError::NotFound {
                namespace: self.namespace.clone(),
                name: name.to_string(),
            })
    }

    /// A JSON merge patch of `name`: one request; a missing job is named as such.
    pub async fn merge_patch(
        &self,
        name: &str,
        patch: serde_json::Value,
    ) -> Result<HrConnectorJob, PluginError> {
        self.jobs()
            .patch(
                name,
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PatchParams::default()
                },
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| match e {
                kube::Error::Api(status) if status.code == 404 => PluginError::NotFound {
                    namespace: self.namespace.clone(),
                    name: name.to_string(),
                },
                other => PluginError::from_kube(self.what("patch", name), other),
            })
    }

    pub fn what(&self, verb: &str, name: &str) -> String {
        format!("{verb} hrconnectorjob {}/{name}", self.namespace)
    }
}

/// Connects as kubectl would with the same flags: `--kubeconfig` or `--context` read that
/// kubeconfig; otherwise $KUBECONFIG, ~/.kube/config, or the pod's service account.
pub async fn connect(target: &Target) -> Result<Connected, PluginError> {
    let mut config = if target.kubeconfig.is_some() || target.context.is_some() {
        let kubeconfig = match &target.kubeconfig {
            Some(path) => {
                Kubeconfig::read_from(path).map_err(|e| PluginError::Kubeconfig(e.to_string()))?
            }
            None => Kubeconfig::read().map_err(|e| PluginError::Kubeconfig(e.to_string()))?,
        };
        let options = KubeConfigOptions {
            context: target.context.clone(),
            ..KubeConfigOptions::default()
        };
        Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| PluginError::Kubeconfig(e.to_string()))?
    } else {
        Config::infer()
            .await
            .map_err(|e| PluginError::Kubeconfig(e.to_string()))?
    };
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(USER_AGENT),
    ));
    let namespace = target
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| PluginError::Client(e.to_string()))?;
    Ok(Connected { client, namespace })
}
