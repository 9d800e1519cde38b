//! Which audiences the operator asks service account tokens for (TokenRequest).
//!
//! A job names a service account of its namespace, and its `workloadIdentity.audience` is any
//! string: without this check a job's author could have the operator mint a token of that
//! account for the API server's own audience (`https://kubernetes.default.svc`), which is an API
//! token of the account, and send it to an allowed endpoint. Only the audiences the cluster
//! administrator lists (`--allow-token-audience`; default the two federation audiences) are
//! ever asked for.

use crate::controller::object_credentials::STS_AUDIENCE;
use crate::crd::{DEFAULT_FEDERATION_AUDIENCE, HrConnectorJobSpec};

/// The default list: Entra ID's federation audience and AWS STS's.
pub const DEFAULT_AUDIENCES: [&str; 2] = [DEFAULT_FEDERATION_AUDIENCE, STS_AUDIENCE];

/// The allowed audiences, from the administrator's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudiencePolicy {
    allowed: Vec<String>,
}

impl Default for AudiencePolicy {
    fn default() -> Self {
        AudiencePolicy {
            allowed: DEFAULT_AUDIENCES.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// An `--allow-token-audience` value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--allow-token-audience {0:?}: an audience must not be empty or hold spaces")]
pub struct InvalidAudience(pub String);

/// A token audience of a job that is not allowed. Names the field and the list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{field} {audience:?} is not allowed: the operator asks service account tokens only for \
     {allowed} (--allow-token-audience)"
)]
pub struct AudienceNotAllowed {
    pub field: &'static str,
    pub audience: String,
    /// The allowed list, for the message.
    pub allowed: String,
}

impl AudiencePolicy {
    /// The administrator's list; empty (no flag given) is the default list.
    pub fn new<S: AsRef<str>>(audiences: &[S]) -> Result<Self, InvalidAudience> {
        if audiences.is_empty() {
            return Ok(Self::default());
        }
        let allowed = audiences
            .iter()
            .map(|a| {
                let a = a.as_ref().trim();
                if a.is_empty() || a.chars().any(char::is_whitespace) {
                    Err(InvalidAudience(a.to_string()))
                } else {
                    Ok(a.to_string())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(AudiencePolicy { allowed })
    }

    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// Checks every audience a job would ask a token for; exact match only.
    pub fn check(&self, spec: &HrConnectorJobSpec) -> Result<(), AudienceNotAllowed> {
        for (field, audience) in token_audiences(spec) {
            if !self.allowed.iter().any(|a| a == audience) {
                return Err(AudienceNotAllowed {
                    field,
                    audience: audience.to_string(),
                    allowed: self.allowed.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Every (field, audience) of a spec the operator would request a service account token for.
pub fn token_audiences(spec: &HrConnectorJobSpec) -> Vec<(&'static str, &str)> {
    let mut audiences = Vec::new();
    if let Some(wi) = &spec.credentials.workload_identity {
        audiences.push((
            "spec.credentials.workloadIdentity.audience",
            wi.audience
                .as_deref()
                .unwrap_or(DEFAULT_FEDERATION_AUDIENCE),
        ));
    }
    // A source's secretRef wins over its identity (object_credentials): no token then.
    if let Some(blob) = &spec.source.azure_blob
        && blob.credentials.secret_ref.is_none()
        && blob.credentials.workload_identity.is_some()
    {
        audiences.push((
            "spec.source.azureBlob.credentials.workloadIdentity",
            DEFAULT_FEDERATION_AUDIENCE,
        ));
    }
    if let Some(s3) = &spec.source.s3
        && s3.credentials.secret_ref.is_none()
        && s3.credentials.web_identity.is_some()
    {
        audiences.push(("spec.source.s3.credentials.webIdentity", STS_AUDIENCE));
    }
    audiences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(credentials: serde_json::Value, source: serde_json::Value) -> HrConnectorJobSpec {
        serde_json::from_value(serde_json::json!({
            "cloud": "Commercial",
            "jobId": "00000000-0000-0000-0000-000000000001",
            "credentials": credentials,
            "source": source,
            "schedule": "0 3 * * *",
        }))
        .expect("a valid spec")
    }

    fn cm() -> serde_json::Value {
        serde_json::json!({"configMap": {"name": "hr", "key": "data.csv"}})
    }

    #[test]
    fn the_default_list_allows_the_federation_audiences_only() {
        let policy = AudiencePolicy::default();
        assert_eq!(
            policy.allowed(),
            ["api://AzureADTokenExchange", "sts.amazonaws.com"]
        );
        let default = spec(
            serde_json::json!({"workloadIdentity": {"serviceAccountName": "sa"}}),
            cm(),
        );
        assert_eq!(policy.check(&default), Ok(()));
        let api = spec(
            serde_json::json!({"workloadIdentity": {"serviceAccountName": "sa",
                "audience": "https://kubernetes.default.svc"}}),
            cm(),
        );
        let refused = policy.check(&api).expect_err("the API server's audience");
        assert_eq!(refused.field, "spec.credentials.workloadIdentity.audience");
        let message = refused.to_string();
        assert!(
            message.contains("spec.credentials.workloadIdentity.audience"),
            "{message}"
        );
        assert!(
            message.contains("https://kubernetes.default.svc"),
            "{message}"
        );
        assert!(
            message.contains("api://AzureADTokenExchange, sts.amazonaws.com"),
            "{message}"
        );
    }

    #[test]
    fn a_secret_job_asks_no_token_and_passes_any_list() {
        let policy = AudiencePolicy::new(&["only-this"]).expect("valid");
        let secret = spec(serde_json::json!({"secretRef": {"name": "app"}}), cm());
        assert_eq!(policy.check(&secret), Ok(()));
    }

    #[test]
    fn the_sources_token_audiences_are_checked_too() {
        let entra_only = AudiencePolicy::new(&["api://AzureADTokenExchange"]).expect("valid");
        let s3 = spec(
            serde_json::json!({"secretRef": {"name": "app"}}),
            serde_json::json!({"s3": {"bucket": "b", "key": "k.csv", "region": "us-east-1",
                "credentials": {"webIdentity": {"serviceAccountName": "sa",
                    "roleArn": "arn:aws:iam::123456789012:role/hr"}}}}),
        );
        let refused = entra_only
            .check(&s3)
            .expect_err("sts.amazonaws.com is not listed");
        assert_eq!(refused.field, "spec.source.s3.credentials.webIdentity");
        assert_eq!(refused.audience, "sts.amazonaws.com");
        let blob = spec(
            serde_json::json!({"secretRef": {"name": "app"}}),
            serde_json::json!({"azureBlob": {"accountUrl": "https://a.blob.core.windows.net",
                "container": "c", "blob": "b.csv",
                "credentials": {"workloadIdentity": {"serviceAccountName": "sa"}}}}),
        );
        assert_eq!(entra_only.check(&blob), Ok(()));
        let sts_only = AudiencePolicy::new(&["sts.amazonaws.com"]).expect("valid");
        assert_eq!(
            sts_only.check(&blob).map_err(|e| e.field),
            Err("spec.source.azureBlob.credentials.workloadIdentity")
        );
    }

    #[test]
    fn the_administrators_list_replaces_the_default_and_refuses_blanks() {
        let custom = AudiencePolicy::new(&["api://custom"]).expect("valid");
        assert_eq!(custom.allowed(), ["api://custom"]);
        let default = spec(
            serde_json::json!({"workloadIdentity": {"serviceAccountName": "sa"}}),
            cm(),
        );
        assert!(
            custom.check(&default).is_err(),
            "the default audience is no longer listed"
        );
        assert_eq!(
            AudiencePolicy::new::<&str>(&[]),
            Ok(AudiencePolicy::default())
        );
        assert_eq!(
            AudiencePolicy::new(&[" "]),
            Err(InvalidAudience(String::new()))
        );
        assert!(AudiencePolicy::new(&["a b"]).is_err());
    }
}
