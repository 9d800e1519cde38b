//! Reading the Entra ID app credentials from the job's Secret, at the start of every run (so a
//! rotated Secret is used without a restart). Values are never logged or put in errors.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use secrecy::SecretString;

use super::source::{SourceError, get};
use super::workload_identity::{self, WorkloadIdentityError};
use crate::crd::HrConnectorJob;
use crate::upload::{AppCredentials, CertificateCredential, ClientAuth};

/// Why the credentials could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Secret(#[from] SourceError),
    #[error(transparent)]
    WorkloadIdentity(#[from] WorkloadIdentityError),
    #[error("spec.credentials: {}", crate::crd::ONE_CREDENTIAL_MESSAGE)]
    NotOne,
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
    /// A value that would become part of a URL is of the wrong form (never shows the value).
    #[error("Secret {namespace}/{name}, key {key:?}: {problem}")]
    InvalidValue {
        namespace: String,
        name: String,
        key: String,
        problem: String,
    },
    #[error("Secret {namespace}/{name}: {error}")]
    Unusable {
        namespace: String,
        name: String,
        error: String,
    },
}

impl CredentialsError {
    /// The `Ready=False` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            CredentialsError::WorkloadIdentity(e) => e.reason(),
            CredentialsError::NotOne => crate::crd::conditions::reason::INVALID_SPEC,
            CredentialsError::InvalidValue { .. } => crate::upload::reason::INVALID_CREDENTIALS,
            _ => crate::crd::conditions::reason::CREDENTIALS_NOT_FOUND,
        }
    }
}

pub use super::pvc_job::AuthKind;

pub struct LoadedCredentials {
    pub credentials: AppCredentials,
}

/// The job's credentials, read now: the Secret's values, or the workload identity's service
/// account (whose tokens are then requested for every token fetch).
pub async fn load(
    client: &Client,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<LoadedCredentials, CredentialsError> {
    let spec = &job.spec.credentials;
    match (&spec.secret_ref, &spec.workload_identity) {
        (Some(secret_ref), None) => from_secret(client, namespace, spec, &secret_ref.name).await,
        (None, Some(wi)) => {
            let identity = workload_identity::resolve(client, namespace, wi).await?;
            Ok(LoadedCredentials {
                credentials: workload_identity::credentials(client, namespace, &identity),
            })
        }
        _ => Err(CredentialsError::NotOne),
    }
}

async fn from_secret(
    client: &Client,
    namespace: &str,
    spec: &crate::crd::Credentials,
    name: &str,
) -> Result<LoadedCredentials, CredentialsError> {
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
    // Every value read here is known to the scrubber, whatever key it was read as: a key named
    // `tenantIdKey` may hold a password, and Entra echoes an unknown tenant in its error.
    let mut scrubber = crate::net::Scrubber::default();
    scrubber.add(
        &tenant_id,
        format!("{} from Secret {name}", spec.tenant_id_key),
    );
    scrubber.add(&app_id, format!("{} from Secret {name}", spec.app_id_key));
    let invalid =
        |key: &str, e: crate::net::url_parts::InvalidUrlPart| CredentialsError::InvalidValue {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
            problem: e.to_string(),
        };
    crate::net::url_parts::tenant_id(&tenant_id, "the value")
        .map_err(|e| invalid(&spec.tenant_id_key, e))?;
    crate::net::url_parts::app_id(&app_id, "the value")
        .map_err(|e| invalid(&spec.app_id_key, e))?;
    let auth = if value(&spec.app_secret_key).is_some() {
        let secret = text(&spec.app_secret_key)?;
        scrubber.add(
            &secret,
            format!("{} from Secret {name}", spec.app_secret_key),
        );
        ClientAuth::Secret(SecretString::from(secret))
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
        ClientAuth::Certificate(cred)
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
            scrubber,
        },
    })
}
