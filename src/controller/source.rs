//! Reading the HR CSV out of the ConfigMap or Secret a job names.
//!
//! PersistentVolumeClaim sources cannot be read by the controller (it does not mount claims);
//! they are uploaded by a batch Job instead (see `pvc_job`).

use bytes::Bytes;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};

use crate::crd::HrConnectorJob;
use crate::hrdata::BytesSource;

/// Why the source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("{kind} {namespace}/{name} has no key {key:?}")]
    MissingKey {
        kind: &'static str,
        namespace: String,
        name: String,
        key: String,
    },
    #[error("cannot read {kind} {namespace}/{name}: {error}")]
    Api {
        kind: &'static str,
        namespace: String,
        name: String,
        error: String,
    },
}

/// A source the controller read: the bytes and the object's resourceVersion (which tells when
/// the content changed without hashing it again).
pub struct LoadedSource {
    pub source: BytesSource,
    pub resource_version: String,
}

/// Where a job's CSV lives, as far as the controller is concerned.
pub enum SourceRef<'a> {
    ConfigMap { name: &'a str, key: &'a str },
    Secret { name: &'a str, key: &'a str },
    PersistentVolumeClaim,
    None,
}

pub fn source_ref(job: &HrConnectorJob) -> SourceRef<'_> {
    let s = &job.spec.source;
    if let Some(c) = &s.config_map {
        SourceRef::ConfigMap {
            name: &c.name,
            key: &c.key,
        }
    } else if let Some(c) = &s.secret {
        SourceRef::Secret {
            name: &c.name,
            key: &c.key,
        }
    } else if s.persistent_volume_claim.is_some() {
        SourceRef::PersistentVolumeClaim
    } else {
        SourceRef::None
    }
}

/// Reads a ConfigMap (`data` or `binaryData`) or Secret key. `Ok(None)` for PVC sources.
pub async fn load(
    client: &Client,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<Option<LoadedSource>, SourceError> {
    match source_ref(job) {
        SourceRef::ConfigMap { name, key } => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            let cm = get(&api, "ConfigMap", namespace, name).await?;
            let data = cm
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| Bytes::from(s.clone().into_bytes()))
                .or_else(|| {
                    cm.binary_data
                        .as_ref()
                        .and_then(|d| d.get(key))
                        .map(|b| Bytes::from(b.0.clone()))
                });
            finish(
                "ConfigMap",
                namespace,
                name,
                key,
                data,
                cm.metadata.resource_version,
            )
        }
        SourceRef::Secret { name, key } => {
            let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let secret = get(&api, "Secret", namespace, name).await?;
            // `stringData` is write-only: the API server folds it into `data` and never returns it.
            let data = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| Bytes::from(b.0.clone()));
            finish(
                "Secret",
                namespace,
                name,
                key,
                data,
                secret.metadata.resource_version,
            )
        }
        SourceRef::PersistentVolumeClaim | SourceRef::None => Ok(None),
    }
}

fn finish(
    kind: &'static str,
    namespace: &str,
    name: &str,
    key: &str,
    data: Option<Bytes>,
    resource_version: Option<String>,
) -> Result<Option<LoadedSource>, SourceError> {
    let data = data.ok_or_else(|| SourceError::MissingKey {
        kind,
        namespace: namespace.into(),
        name: name.into(),
        key: key.into(),
    })?;
    Ok(Some(LoadedSource {
        source: BytesSource {
            name: key.to_string(),
            data,
        },
        resource_version: resource_version.unwrap_or_default(),
    }))
}

/// A `get` that turns 404 into [`SourceError::NotFound`] (by status code: some API servers word
/// the reason differently).
pub(crate) async fn get<K>(
    api: &Api<K>,
    kind: &'static str,
    namespace: &str,
    name: &str,
) -> Result<K, SourceError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get(name).await {
        Ok(obj) => Ok(obj),
        Err(kube::Error::Api(e)) if e.code == 404 => Err(SourceError::NotFound {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }),
        Err(e) => Err(SourceError::Api {
            kind,
            namespace: namespace.into(),
            name: name.into(),
            error: e.to_string(),
        }),
    }
}
