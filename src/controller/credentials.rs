//! Reading the Entra ID app credentials from the job's Secret, at the start of every run (so a
//! rotated Secret is used without a restart). Values are never logged or put in errors.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use secrecy::SecretString;

use super::source::{SourceError, get};
use crate::crd::HrConnectorJob;
use crate::upload::{AppCredentials, CertificateCredential, ClientAuth};

/// Why the credentials could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Secret(#[from] SourceError),
    #[error("Secret {namespace}/{name} has no key {key:?}")]
    MissingKey {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("Secret {namespace}/{name}: key {key:?} is not UTF-8 text")]
    NotText {
        namespace: String,
        name: String,
        key: String,
    },
    #[error(
        "Secret {namespace}/{name} has neither {secret_key:?} nor both {cert_key:?} and {key_key:?}"
    )]
    NoCredential {
        namespace: String,
        name: String,
        secret_key: String,
        cert_key: String,
        key_key: String,
    },
    #[error("Secret {namespace}/{name}: {error}")]
    Unusable {
        namespace: String,
        name: String,
        error: String,
    },
}

pub use super::pvc_job::AuthKind;

pub struct LoadedCredentials {
    pub credentials: AppCredentials,
    pub kind: AuthKind,
}

pub async fn load(
    client: &Client,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<LoadedCredentials, CredentialsError> {
    let spec = &job.spec.credentials;
    let name = spec.secret_ref.name.as_str();
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = get(&api, "Secret", namespace, name).await?;
    // Only `data`: the API server folds write-only `stringData` into it.
    let value = |key: &str| -> Option<Vec<u8>> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
    };
    let text = |key: &str| -> Result<String, CredentialsError> {
        let bytes = value(key).ok_or_else(|| CredentialsError::MissingKey {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        })?;
        let s = String::from_utf8(bytes).map_err(|_| CredentialsError::NotText {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        })?;
        Ok(s.trim().to_string())
    };
    let tenant_id = text(&spec.tenant_id_key)?;
    let app_id = text(&spec.app_id_key)?;
    let (auth, kind) = if value(&spec.app_secret_key).is_some() {
        let secret = text(&spec.app_secret_key)?;
        (
            ClientAuth::Secret(SecretString::from(secret)),
            AuthKind::Secret,
        )
    } else if let (Some(cert), Some(key)) =
        (value(&spec.certificate_key), value(&spec.private_key_key))
    {
        let cred = CertificateCredential::from_pem(&cert, &key).map_err(|e| {
            CredentialsError::Unusable {
                namespace: namespace.into(),
                name: name.into(),
                error: e.to_string(),
            }
        })?;
        (ClientAuth::Certificate(cred), AuthKind::Certificate)
    } else {
        return Err(CredentialsError::NoCredential {
            namespace: namespace.into(),
            name: name.into(),
            secret_key: spec.app_secret_key.clone(),
            cert_key: spec.certificate_key.clone(),
            key_key: spec.private_key_key.clone(),
        });
    };
    Ok(LoadedCredentials {
        credentials: AppCredentials {
            tenant_id,
            app_id,
            auth,
        },
        kind,
    })
}
