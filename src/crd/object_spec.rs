//! `spec.source.azureBlob`, `spec.source.s3` and `spec.source.https`: HR files in object storage
//! or behind a report URL, read by the operator itself (no Job), with the checkpoint in status
//! after every chunk.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An Azure Blob Storage blob (Azure commercial, Azure Government, or an emulator).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureBlobSource {
    /// The storage account's blob endpoint: https://ACCOUNT.blob.core.windows.net (commercial)
    /// or https://ACCOUNT.blob.core.usgovcloudapi.net (Azure Government, for GCC High and DoD).
    /// Any other URL (an emulator, a private endpoint) must be under an
    /// `--allow-endpoint-prefix` of the operator.
    #[schemars(length(min = 1))]
    pub account_url: String,
    /// The container (3 to 63 characters: lower-case letters, digits, hyphens).
    #[schemars(
        length(min = 3, max = 63),
        pattern(crate::net::url_parts::AZURE_CONTAINER_PATTERN)
    )]
    pub container: String,
    /// The blob's name inside the container, e.g. exports/leavers.csv. A last segment with `*`
    /// or `?` (exports/terminations_*.csv) takes the newest matching blob of that prefix, by
    /// modification time (ties: the greatest name), chosen anew each run; `status.source.chosen`
    /// names it.
    #[schemars(length(min = 1))]
    pub blob: String,
    /// How the operator authenticates to the storage account.
    pub credentials: AzureBlobCredentials,
}

/// Exactly one of secretRef and workloadIdentity.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.secretRef), has(self.workloadIdentity)].filter(x, x).size() == 1").message("exactly one of secretRef or workloadIdentity must be set"))]
pub struct AzureBlobCredentials {
    /// A Secret in the job's namespace with the key accountKey (the storage account key) or
    /// sasToken (a SAS with read permission "r" on the blob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<ObjectSecretRef>,
    /// Entra ID workload identity: a token of this service account (requested by the operator
    /// with the TokenRequest API, audience api://AzureADTokenExchange) is exchanged for a
    /// storage token (scope https://storage.azure.com/.default). The service account carries
    /// the annotations azure.workload.identity/client-id and azure.workload.identity/tenant-id;
    /// the app needs the role Storage Blob Data Reader on the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<ServiceAccountIdentity>,
}

/// An S3 object (AWS, AWS GovCloud, or an S3-compatible store).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Source {
    /// The bucket.
    #[schemars(
        length(min = 3, max = 63),
        pattern(crate::net::url_parts::S3_BUCKET_PATTERN)
    )]
    pub bucket: String,
    /// The object's key, e.g. exports/leavers.csv. A last segment with `*` or `?`
    /// (exports/terminations_*.csv) takes the newest matching object of that prefix, by
    /// modification time (ties: the greatest name), chosen anew each run; `status.source.chosen`
    /// names it.
    #[schemars(length(min = 1))]
    pub key: String,
    /// The bucket's region, e.g. us-gov-west-1 or us-gov-east-1 (GovCloud). It becomes part of
    /// the default S3 and STS host names, so only an AWS region's form is accepted.
    #[schemars(length(min = 1), pattern(crate::net::url_parts::AWS_REGION_PATTERN))]
    pub region: String,
    /// Endpoint URL, for FIPS or VPC endpoints and S3-compatible stores; default: the region's
    /// AWS endpoint. A host other than AWS's must be under an `--allow-endpoint-prefix` of the
    /// operator (plain `http://` only under an `http://` prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// How the operator authenticates to S3.
    pub credentials: S3Credentials,
}

/// Exactly one of secretRef and webIdentity.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.secretRef), has(self.webIdentity)].filter(x, x).size() == 1").message("exactly one of secretRef or webIdentity must be set"))]
pub struct S3Credentials {
    /// A Secret in the job's namespace with the keys accessKeyId and secretAccessKey, and
    /// optionally sessionToken. The principal needs s3:GetObject on the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<ObjectSecretRef>,
    /// IAM roles for service accounts: a token of this service account (TokenRequest, audience
    /// sts.amazonaws.com) is exchanged with STS AssumeRoleWithWebIdentity for roleArn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_identity: Option<WebIdentity>,
}

/// A Secret in the job's namespace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
pub struct ObjectSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// A service account in the job's namespace whose tokens identify the operator to the cloud.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountIdentity {
    /// Name of the service account.
    #[schemars(length(min = 1))]
    pub service_account_name: String,
}

/// A service account and the IAM role it may assume.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebIdentity {
    /// Name of the service account.
    #[schemars(length(min = 1))]
    pub service_account_name: String,
    /// The IAM role to assume, e.g. arn:aws-us-gov:iam::123456789012:role/hr-reader. Its trust
    /// policy allows the cluster's OIDC issuer, audience sts.amazonaws.com and the subject
    /// system:serviceaccount:NAMESPACE:NAME; the session is named hrconnector.NAMESPACE.JOB.
    #[schemars(length(min = 1))]
    pub role_arn: String,
    /// STS endpoint URL, for a VPC endpoint or an S3-compatible store's STS; default: the
    /// region's, https://sts.REGION.amazonaws.com. Any other host must be under an
    /// `--allow-endpoint-prefix` of the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<String>,
}

/// An HR report at an HTTPS URL (Workday RaaS, BambooHR's report API), downloaded by the
/// operator itself at each run (and checked on apply): what is validated is what is sent.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpsReportSource {
    /// The report's URL, its query included, e.g.
    /// https://wd5-services1.myworkday.com/ccx/service/customreport2/agency/isu/terminations?format=csv.
    /// Its host is no published one: it must be under an `--allow-endpoint-prefix` of the
    /// operator (the chart's allowedEndpointPrefixes). Messages show it without the query.
    #[schemars(length(min = 9), pattern(r"^https://"))]
    pub url: String,
    /// How the operator authenticates to the report server; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ReportAuth>,
}

/// At most one of basic, bearer and oauth2.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.basic), has(self.bearer), has(self.oauth2)].filter(x, x).size() <= 1").message("at most one of basic, bearer or oauth2 may be set"))]
pub struct ReportAuth {
    /// HTTP basic authentication: a Secret in the job's namespace with the keys username and
    /// password (Workday: an integration system user; BambooHR: the API key as username and any
    /// password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<SecretAuth>,
    /// A bearer token: a Secret in the job's namespace with the key token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<SecretAuth>,
    /// OAuth 2.0 client credentials: a token from tokenUrl, sent as a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Auth>,
}

/// Credentials kept in a Secret of the job's namespace.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretAuth {
    pub secret_ref: ObjectSecretRef,
}

/// The OAuth 2.0 client-credentials grant.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Auth {
    /// The token endpoint; like the report's host, under an `--allow-endpoint-prefix`.
    #[schemars(length(min = 9), pattern(r"^https://"))]
    pub token_url: String,
    /// The scope asked for, if the token endpoint wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A Secret in the job's namespace with the keys clientId and clientSecret.
    pub secret_ref: ObjectSecretRef,
}
