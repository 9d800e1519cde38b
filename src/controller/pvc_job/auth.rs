//! Which app credential the upload Job mounts, decided from the Secret's keys.
//!
//! Why the controller decides instead of mounting every key as optional and letting the CLI pick:
//! a Secret volume with `optional: true` also hides a missing Secret (the pod would then fail
//! later with a vaguer error), the CLI would need a "whichever file exists" mode that nothing
//! else uses, and the pod would receive key material it does not use. The controller already
//! reads the Secret to report a missing key as a condition before any pod starts, so it passes
//! the answer on and the Job mounts exactly the keys it needs, non-optional.

use k8s_openapi::api::core::v1::Secret;

use super::PvcJobError;
use crate::crd::Credentials;

/// How the app authenticates: a client secret or a certificate and its private key (keys of
/// the Secret, mounted), or workload identity (a projected service account token; no Secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    Secret,
    Certificate,
    WorkloadIdentity(FederatedIdentity),
}

/// The service account the upload Job runs as, and the app it federates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentity {
    pub service_account: String,
    pub client_id: String,
    pub tenant_id: String,
    pub audience: String,
}

/// Checks that `secret` holds the tenant and app IDs and decides the credential: the client
/// secret when its key is present (as the CRD documents), else the certificate pair. Errors name
/// keys only, never values.
pub fn auth_kind(secret: &Secret, credentials: &Credentials) -> Result<AuthKind, PvcJobError> {
    // Only `data`: the API server folds write-only `stringData` into it.
    let has = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .is_some_and(|v| !v.0.is_empty())
    };
    let name = || secret.metadata.name.clone().unwrap_or_default();
    let missing: Vec<String> = [&credentials.tenant_id_key, &credentials.app_id_key]
        .into_iter()
        .filter(|k| !has(k))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(PvcJobError::MissingSecretKeys {
            secret: name(),
            keys: missing,
        });
    }
    if has(&credentials.app_secret_key) {
        Ok(AuthKind::Secret)
    } else if has(&credentials.certificate_key) && has(&credentials.private_key_key) {
        Ok(AuthKind::Certificate)
    } else {
        Err(PvcJobError::NoAppCredential {
            secret: name(),
            app_secret_key: credentials.app_secret_key.clone(),
            certificate_key: credentials.certificate_key.clone(),
            private_key_key: credentials.private_key_key.clone(),
        })
    }
}
