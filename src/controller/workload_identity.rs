//! `spec.credentials.workloadIdentity`: the app and tenant come from the job's service account
//! (or the spec), and every token request gets a fresh service account token from the
//! TokenRequest API, the way external-secrets' Azure provider does. The service account is
//! always the job's own namespace's: a job can never borrow another namespace's identity.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;
use secrecy::SecretString;

use crate::crd::{
    CLIENT_ID_ANNOTATION, DEFAULT_FEDERATION_AUDIENCE, TENANT_ID_ANNOTATION, WorkloadIdentity,
};
use crate::upload::{AppCredentials, AssertionSource, ClientAuth, CredentialError};

/// Lifetime asked of each service account token; Entra ID only needs it for the exchange.
const TOKEN_SECONDS: i64 = 3600;

/// Why the workload identity cannot be used; each names the object and what it lacks.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadIdentityError {
    #[error("service account {namespace}/{name} ({field}) does not exist")]
    ServiceAccountNotFound {
        namespace: String,
        name: String,
        field: &'static str,
    },
    #[error("service account {namespace}/{name} has no annotation {annotation} {hint}")]
    MissingAnnotation {
        namespace: String,
        name: String,
        annotation: &'static str,
        /// What else could have said it.
        hint: String,
    },
    #[error("cannot read service account {namespace}/{name}: {error}")]
    Api {
        namespace: String,
        name: String,
        error: String,
    },
}

impl WorkloadIdentityError {
    /// The `Ready=False` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            WorkloadIdentityError::ServiceAccountNotFound { .. } => "ServiceAccountNotFound",
            WorkloadIdentityError::MissingAnnotation { .. } => "WorkloadIdentityAnnotationMissing",
            WorkloadIdentityError::Api { .. } => "CredentialsNotFound",
        }
    }
}

/// The app, tenant and audience of a job's workload identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedIdentity {
    pub service_account: String,
    pub client_id: String,
    pub tenant_id: String,
    pub audience: String,
}

/// Reads the service account (`get serviceaccounts`) and fills what the spec leaves out from
/// its annotations.
pub async fn resolve(
    client: &kube::Client,
    namespace: &str,
    spec: &WorkloadIdentity,
) -> Result<ResolvedIdentity, WorkloadIdentityError> {
    resolve_for(client, namespace, spec, None).await
}

/// [`resolve`] for a field other than `spec.credentials.workloadIdentity` (`used_by`), which
/// takes the app and tenant from the annotations only.
pub async fn resolve_for(
    client: &kube::Client,
    namespace: &str,
    spec: &WorkloadIdentity,
    used_by: Option<&'static str>,
) -> Result<ResolvedIdentity, WorkloadIdentityError> {
    let name = spec.service_account_name.as_str();
    let field = match used_by {
        None => "spec.credentials.workloadIdentity.serviceAccountName",
        Some(_) => "spec.source.azureBlob.credentials.workloadIdentity.serviceAccountName",
    };
    let account = service_account(client, namespace, name, field).await?;
    let annotation = |key: &'static str, given: &Option<String>, field: &'static str| {
        given
            .clone()
            .or_else(|| account.metadata.annotations.as_ref()?.get(key).cloned())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| WorkloadIdentityError::MissingAnnotation {
                namespace: namespace.into(),
                name: name.into(),
                annotation: key,
                hint: match used_by {
                    None => format!("and spec.credentials.workloadIdentity.{field} is not set"),
                    Some(path) => format!("({path} reads the app and tenant IDs from it)"),
                },
            })
    };
    Ok(ResolvedIdentity {
        service_account: name.to_string(),
        client_id: annotation(CLIENT_ID_ANNOTATION, &spec.client_id, "clientId")?,
        tenant_id: annotation(TENANT_ID_ANNOTATION, &spec.tenant_id, "tenantId")?,
        audience: spec
            .audience
            .clone()
            .unwrap_or_else(|| DEFAULT_FEDERATION_AUDIENCE.to_string()),
    })
}

/// The job's namespace's service account `name` (`get serviceaccounts`), named by `field`.
pub async fn service_account(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    field: &'static str,
) -> Result<ServiceAccount, WorkloadIdentityError> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(sa)) => Ok(sa),
        Ok(None) => Err(WorkloadIdentityError::ServiceAccountNotFound {
            namespace: namespace.into(),
            name: name.into(),
            field,
        }),
        Err(e) => Err(WorkloadIdentityError::Api {
            namespace: namespace.into(),
            name: name.into(),
            error: e.to_string(),
        }),
    }
}

/// The credentials of a resolved identity: a federated assertion from the TokenRequest API.
pub fn credentials(
    client: &kube::Client,
    namespace: &str,
    identity: &ResolvedIdentity,
) -> AppCredentials {
    AppCredentials {
        tenant_id: identity.tenant_id.clone(),
        app_id: identity.client_id.clone(),
        auth: ClientAuth::Federated(token_request(
            client,
            namespace,
            &identity.service_account,
            &identity.audience,
        )),
        // The IDs come from the job or the service account's annotations, not from a Secret.
        scrubber: Default::default(),
    }
}

/// Tokens of service account `namespace/name` for `audience`, one TokenRequest per fetch.
pub fn token_request(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    audience: &str,
) -> Arc<dyn AssertionSource> {
    Arc::new(TokenRequestAssertion {
        api: Api::namespaced(client.clone(), namespace),
        namespace: namespace.to_string(),
        name: name.to_string(),
        audience: audience.to_string(),
    })
}

/// `create serviceaccounts/token` for every assertion.
struct TokenRequestAssertion {
    api: Api<ServiceAccount>,
    namespace: String,
    name: String,
    audience: String,
}

impl std::fmt::Debug for TokenRequestAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenRequest({}/{})", self.namespace, self.name)
    }
}

impl AssertionSource for TokenRequestAssertion {
    fn fetch(&self) -> BoxFuture<'_, Result<SecretString, CredentialError>> {
        Box::pin(async move {
            let request = TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![self.audience.clone()],
                    expiration_seconds: Some(TOKEN_SECONDS),
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            };
            let failed = |what: String| {
                CredentialError::Federated(format!(
                    "TokenRequest for service account {}/{} failed: {what}",
                    self.namespace, self.name
                ))
            };
            let answer = self
                .api
                .create_token_request(&self.name, &PostParams::default(), &request)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let token = answer
                .status
                .map(|s| s.token)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| failed("the answer holds no token".into()))?;
            Ok(SecretString::from(token))
        })
    }
}
