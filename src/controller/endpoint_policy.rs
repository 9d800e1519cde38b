//! Every URL a job's spec names, checked against the operator's egress policy before anything
//! runs, so that a refused job says which field is at fault. The HTTP client checks every request
//! and redirect again ([`crate::http_client`]); this is the early, field-naming half.

use crate::crd::HrConnectorJobSpec;
use crate::net::EndpointNotAllowed;
use crate::net::url_parts;
use crate::source::object::sts_endpoint;

/// The operator's egress policy (the published hosts and `--allow-endpoint-prefix`).
pub type EndpointPolicy = crate::net::EgressPolicy;

/// Why a job's URLs cannot be used: a field the policy refuses, or a value that would be
/// spliced into a URL and is of the wrong form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobEndpointError {
    #[error(transparent)]
    NotAllowed(#[from] EndpointNotAllowed),
    #[error("{0}")]
    Invalid(#[from] url_parts::InvalidUrlPart),
}

impl JobEndpointError {
    pub fn reason(&self) -> &'static str {
        match self {
            JobEndpointError::NotAllowed(_) => crate::crd::conditions::reason::ENDPOINT_NOT_ALLOWED,
            JobEndpointError::Invalid(_) => crate::crd::conditions::reason::INVALID_SPEC,
        }
    }
}

/// Checks the authority and ingestion URLs, and an object source's account URL, S3 endpoint
/// (or the regional one the region names) and STS endpoint.
pub fn check_job(
    policy: &EndpointPolicy,
    spec: &HrConnectorJobSpec,
) -> Result<(), JobEndpointError> {
    policy.check_endpoints(&spec.endpoints())?;
    if let Some(tenant) = spec
        .credentials
        .workload_identity
        .as_ref()
        .and_then(|w| w.tenant_id.as_deref())
    {
        url_parts::tenant_id(tenant, "spec.credentials.workloadIdentity.tenantId")?;
    }
    if let Some(blob) = &spec.source.azure_blob {
        url_parts::path_segment(&blob.container, "spec.source.azureBlob.container")?;
        policy.check_field("spec.source.azureBlob.accountUrl", &blob.account_url)?;
    }
    if let Some(report) = &spec.source.https {
        policy.check_field("spec.source.https.url", &report.url)?;
        if let Some(oauth2) = report.auth.as_ref().and_then(|a| a.oauth2.as_ref()) {
            policy.check_field("spec.source.https.auth.oauth2.tokenUrl", &oauth2.token_url)?;
        }
    }
    if let Some(sftp) = &spec.source.sftp {
        let location = crate::source::SftpLocation {
            user: sftp.user.clone(),
            host: sftp.host.clone(),
            port: sftp.port,
            path: sftp.path.clone(),
        };
        policy.check_field("spec.source.sftp.host", &location.origin_url())?;
    }
    if let Some(s3) = &spec.source.s3 {
        url_parts::path_segment(&s3.bucket, "spec.source.s3.bucket")?;
        url_parts::aws_region(&s3.region, "spec.source.s3.region")?;
        let regional = format!("https://s3.{}.amazonaws.com", s3.region);
        let endpoint = s3.endpoint.as_deref().unwrap_or(&regional);
        policy.check_field("spec.source.s3.endpoint", endpoint)?;
        if let Some(identity) = &s3.credentials.web_identity {
            let sts = identity
                .sts_endpoint
                .clone()
                .unwrap_or_else(|| sts_endpoint(&s3.region));
            policy.check_field("spec.source.s3.credentials.webIdentity.stsEndpoint", &sts)?;
        }
    }
    Ok(())
}
