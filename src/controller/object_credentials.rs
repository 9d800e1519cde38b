//! The store credentials of `spec.source.azureBlob` and `spec.source.s3`: one function per kind
//! of `credentials`, each giving an [`ObjectCredentials`] that the object source uses as is.
//!
//! - `secretRef`: keys read from a Secret of the job's namespace, at every run.
//! - `azureBlob.credentials.workloadIdentity`: a TokenRequest token of the job's namespace's
//!   service account (audience `api://AzureADTokenExchange`), exchanged at the job's Entra ID
//!   authority for a storage token, exactly as the upload's own workload identity is.
//! - `s3.credentials.webIdentity`: a TokenRequest token (audience `sts.amazonaws.com`)
//!   exchanged with STS `AssumeRoleWithWebIdentity` for temporary credentials.
//!
//! - `https.auth`: basic, bearer or OAuth 2.0 client-credentials keys from a Secret of the
//!   job's namespace, at every check and run.
//!
//! Service accounts are always the job's own namespace's.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

use super::context::Context;
use super::object_source::ObjectProblem;
use super::source::get;
use super::workload_identity;
use crate::crd::conditions::reason;
use crate::crd::{
    AzureBlobSource, HrConnectorJob, HttpsReportSource, ObjectSecretRef, S3Source,
    ServiceAccountIdentity, WebIdentity, WorkloadIdentity,
};
use crate::http_client::{HttpClientConfig, build as build_http};
use crate::source::HttpAuth;
use crate::source::ObjectCredentials;
use crate::source::object::{
    EntraStorageToken, STORAGE_RESOURCE, StsWebIdentity, StsWebIdentityConfig, sts_endpoint,
};
use crate::upload::token::TokenClient;

/// Audience of the service account token AWS STS accepts (IRSA's).
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

const BLOB_IDENTITY: &str = "spec.source.azureBlob.credentials.workloadIdentity";
const S3_IDENTITY_ACCOUNT: &str = "spec.source.s3.credentials.webIdentity.serviceAccountName";

/// The credentials of an Azure Blob source.
pub async fn azure_blob(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    blob: &AzureBlobSource,
) -> Result<ObjectCredentials, ObjectProblem> {
    let credentials = &blob.credentials;
    match (&credentials.secret_ref, &credentials.workload_identity) {
        (Some(secret), _) => blob_secret(ctx, namespace, secret).await,
        (None, Some(identity)) => blob_workload_identity(ctx, namespace, job, identity).await,
        (None, None) => Err(not_one("spec.source.azureBlob.credentials")),
    }
}

/// The credentials of an S3 source.
pub async fn s3(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    s3: &S3Source,
) -> Result<ObjectCredentials, ObjectProblem> {
    let credentials = &s3.credentials;
    match (&credentials.secret_ref, &credentials.web_identity) {
        (Some(secret), _) => s3_secret(ctx, namespace, secret).await,
        (None, Some(identity)) => s3_web_identity(ctx, namespace, job, s3, identity).await,
        (None, None) => Err(not_one("spec.source.s3.credentials")),
    }
}

fn not_one(field: &str) -> ObjectProblem {
    ObjectProblem::new(
        reason::INVALID_SPEC,
        format!("{field}: exactly one of its credential kinds must be set"),
    )
}

/// `secretRef` of a blob: `accountKey` or `sasToken`.
async fn blob_secret(
    ctx: &Context,
    namespace: &str,
    secret: &ObjectSecretRef,
) -> Result<ObjectCredentials, ObjectProblem> {
    let keys = read_secret(ctx, namespace, &secret.name).await?;
    match (keys.get("accountKey"), keys.get("sasToken")) {
        (Some(key), _) => Ok(ObjectCredentials::AzureAccountKey(key.clone())),
        (None, Some(sas)) => Ok(ObjectCredentials::AzureSasToken(sas.clone())),
        (None, None) => Err(ObjectProblem::new(
            reason::CREDENTIALS_NOT_FOUND,
            format!(
                "Secret {namespace}/{} has neither the key \"accountKey\" nor \"sasToken\"",
                secret.name
            ),
        )),
    }
}

/// `workloadIdentity` of a blob: an Entra ID storage token for the service account's app.
async fn blob_workload_identity(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    identity: &ServiceAccountIdentity,
) -> Result<ObjectCredentials, ObjectProblem> {
    let spec = WorkloadIdentity {
        service_account_name: identity.service_account_name.clone(),
        client_id: None,
        tenant_id: None,
        audience: None,
    };
    let resolved =
        workload_identity::resolve_for(&ctx.client, namespace, &spec, Some(BLOB_IDENTITY))
            .await
            .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))?;
    // The job's cloud's authority (or its spec.endpoints.authorityUrl): the same v2 token
    // request as the upload's workload identity, for another scope.
    let token_url = job.spec.endpoints().token_url_v2(&resolved.tenant_id);
    let tokens = TokenClient::new(
        http(ctx)?,
        token_url.clone(),
        STORAGE_RESOURCE.to_string(),
        workload_identity::credentials(&ctx.client, namespace, &resolved),
        ctx.config.retry.clone(),
        ctx.sleeper.clone(),
    );
    Ok(ObjectCredentials::AzureProvider(Arc::new(
        EntraStorageToken::new(tokens, token_url),
    )))
}

/// `secretRef` of an S3 object: `accessKeyId`, `secretAccessKey`, optional `sessionToken`.
async fn s3_secret(
    ctx: &Context,
    namespace: &str,
    secret: &ObjectSecretRef,
) -> Result<ObjectCredentials, ObjectProblem> {
    let mut keys = read_secret(ctx, namespace, &secret.name).await?;
    let mut take = |key: &str| keys.remove(key);
    match (take("accessKeyId"), take("secretAccessKey")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(ObjectCredentials::S3Keys {
            access_key_id,
            secret_access_key,
            session_token: take("sessionToken"),
        }),
        _ => Err(ObjectProblem::new(
            reason::CREDENTIALS_NOT_FOUND,
            format!(
                "Secret {namespace}/{} needs the keys \"accessKeyId\" and \"secretAccessKey\"",
                secret.name
            ),
        )),
    }
}

/// `webIdentity` of an S3 object: STS `AssumeRoleWithWebIdentity` with a service account token.
async fn s3_web_identity(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    s3: &S3Source,
    identity: &WebIdentity,
) -> Result<ObjectCredentials, ObjectProblem> {
    let account = identity.service_account_name.as_str();
    // A clear reason for a missing account before any token is asked for.
    workload_identity::service_account(&ctx.client, namespace, account, S3_IDENTITY_ACCOUNT)
        .await
        .map_err(|e| ObjectProblem::new(e.reason(), e.to_string()))?;
    let job_name = job.metadata.name.as_deref().unwrap_or_default();
    let provider = StsWebIdentity::new(StsWebIdentityConfig {
        http: http(ctx)?,
        endpoint: identity
            .sts_endpoint
            .clone()
            .unwrap_or_else(|| sts_endpoint(&s3.region)),
        role_arn: identity.role_arn.clone(),
        session_name: format!("hrconnector.{namespace}.{job_name}"),
        assertion: workload_identity::token_request(&ctx.client, namespace, account, STS_AUDIENCE),
        retry: ctx.config.retry.clone(),
        sleeper: ctx.sleeper.clone(),
    });
    Ok(ObjectCredentials::S3Provider(Arc::new(provider)))
}

/// The credentials of a report URL, from the Secret its `auth` names.
pub async fn report(
    ctx: &Context,
    namespace: &str,
    report: &HttpsReportSource,
) -> Result<HttpAuth, ObjectProblem> {
    let Some(auth) = &report.auth else {
        return Ok(HttpAuth::None);
    };
    let missing = |name: &str, keys: &str| {
        ObjectProblem::new(
            reason::CREDENTIALS_NOT_FOUND,
            format!("Secret {namespace}/{name} needs the keys {keys}"),
        )
    };
    match (&auth.basic, &auth.bearer, &auth.oauth2) {
        (Some(basic), None, None) => {
            let name = &basic.secret_ref.name;
            let mut keys = read_secret(ctx, namespace, name).await?;
            match (keys.remove("username"), keys.remove("password")) {
                (Some(user), Some(password)) => Ok(HttpAuth::Basic {
                    user: secrecy::ExposeSecret::expose_secret(&user).to_owned(),
                    password,
                }),
                _ => Err(missing(name, "\"username\" and \"password\"")),
            }
        }
        (None, Some(bearer), None) => {
            let name = &bearer.secret_ref.name;
            let mut keys = read_secret(ctx, namespace, name).await?;
            let token = keys
                .remove("token")
                .ok_or_else(|| missing(name, "\"token\""))?;
            Ok(HttpAuth::Bearer { token })
        }
        (None, None, Some(oauth2)) => {
            let name = &oauth2.secret_ref.name;
            let mut keys = read_secret(ctx, namespace, name).await?;
            match (keys.remove("clientId"), keys.remove("clientSecret")) {
                (Some(id), Some(client_secret)) => Ok(HttpAuth::OAuth2 {
                    token_url: oauth2.token_url.clone(),
                    client_id: secrecy::ExposeSecret::expose_secret(&id).to_owned(),
                    client_secret,
                    scope: oauth2.scope.clone(),
                }),
                _ => Err(missing(name, "\"clientId\" and \"clientSecret\"")),
            }
        }
        (None, None, None) => Ok(HttpAuth::None),
        _ => Err(ObjectProblem::new(
            reason::INVALID_SPEC,
            "spec.source.https.auth: at most one of basic, bearer or oauth2 may be set",
        )),
    }
}

/// The login of an SFTP source, from the Secret its credentials name: the key privateKey,
/// else the key password.
pub async fn sftp(
    ctx: &Context,
    namespace: &str,
    source: &crate::crd::SftpSource,
) -> Result<crate::source::SshAuth, ObjectProblem> {
    let name = &source.credentials.secret_ref.name;
    let mut keys = read_secret(ctx, namespace, name).await?;
    let auth = match (keys.remove("privateKey"), keys.remove("password")) {
        (Some(key), _) => {
            // Trailing line breaks were trimmed; a PEM block ends with one.
            let pem = format!("{}\n", secrecy::ExposeSecret::expose_secret(&key));
            crate::source::SshAuth::PrivateKey(pem.into())
        }
        (None, Some(password)) => crate::source::SshAuth::Password(password),
        (None, None) => {
            return Err(ObjectProblem::new(
                reason::CREDENTIALS_NOT_FOUND,
                format!(
                    "Secret {namespace}/{name} needs the key \"privateKey\" or \"password\" \
                     (spec.source.sftp.credentials.secretRef)"
                ),
            ));
        }
    };
    // Named by the key it came from.
    let key = match &auth {
        crate::source::SshAuth::PrivateKey(_) => "privateKey",
        crate::source::SshAuth::Password(_) => "password",
    };
    auth.check(&format!("Secret {namespace}/{name} key {key}"))
        .map_err(|e| ObjectProblem::new(reason::INVALID_SPEC, e.to_string()))?;
    Ok(auth)
}

/// The client of token requests: trust and timeouts as for every other connection.
pub(super) fn http(ctx: &Context) -> Result<crate::http_client::HttpClient, ObjectProblem> {
    build_http(&HttpClientConfig {
        request_timeout: ctx.config.request_timeout,
        ca_file: ctx.config.ca_file.clone(),
        egress: std::sync::Arc::new(ctx.config.endpoint_policy.clone()),
        ..HttpClientConfig::default()
    })
    .map_err(|e| ObjectProblem::new(reason::INVALID_SPEC, e.to_string()))
}

/// The text values of a Secret (values never reach messages).
pub(super) async fn read_secret(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<HashMap<String, SecretString>, ObjectProblem> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = get(&api, "Secret", namespace, name)
        .await
        .map_err(|e| ObjectProblem::new(reason::CREDENTIALS_NOT_FOUND, e.to_string()))?;
    let mut values = HashMap::new();
    for (key, value) in secret.data.unwrap_or_default() {
        if let Ok(text) = String::from_utf8(value.0) {
            values.insert(key, SecretString::from(text.trim_end().to_owned()));
        }
    }
    Ok(values)
}
