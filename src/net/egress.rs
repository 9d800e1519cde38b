//! The egress policy: where the operator (and the command line) may send a request at all.
//!
//! Whoever may create an `HrConnectorJob` in a namespace can name any Secret and service account
//! of that namespace. Where requests may go is the only thing between that and exfiltration, so
//! one policy decides for every request and every redirect hop, in the one HTTP client
//! ([`crate::http_client`]): never per field. Allowed by default: the published hosts of each
//! service and cloud, over HTTPS on port 443. Anything else only under a prefix the
//! administrator gave (`--allow-endpoint-prefix`), compared by scheme, host, port and path; plain
//! `http://` only under a prefix that says `http://`.

use reqwest::Url;

use crate::cloud::{Cloud, Endpoints};

/// Hosts of the Entra ID authorities (both clouds' and the commercial alias the sample script
/// uses) beyond those of [`Cloud::endpoints`].
const EXTRA_AUTHORITIES: [&str; 1] = ["login.windows.net"];

/// Azure Blob Storage: `ACCOUNT.blob.core.windows.net` and Azure Government's.
const BLOB_SUFFIXES: [&str; 2] = [".blob.core.windows.net", ".blob.core.usgovcloudapi.net"];

/// AWS services a job may reach: S3 (path and virtual-hosted style) and STS.
const AWS_SERVICES: [&str; 4] = ["s3", "s3-fips", "sts", "sts-fips"];

/// The allowed prefixes, parsed once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    prefixes: Vec<Url>,
}

/// A `--allow-endpoint-prefix` value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--allow-endpoint-prefix {prefix:?}: {why}")]
pub struct InvalidPrefix {
    pub prefix: String,
    pub why: &'static str,
}

/// A request the policy refused: nothing was sent. Names the origin (scheme, host, port), never a
/// path or query, which may carry a tenant or a SAS signature.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{what} to {origin} is not allowed by the egress policy: {why}; nothing was sent")]
pub struct EgressRefused {
    /// The kind of request ("a request", "a redirect from https://a").
    pub what: String,
    pub origin: String,
    pub why: &'static str,
}

/// Why a request outside the allowed hosts is refused.
pub const NOT_ALLOWED: &str = "only the published hosts of the clouds and stores (HTTPS, port \
     443), or a prefix the operator was started with (--allow-endpoint-prefix), may receive \
     credentials and HR data";

/// A job field whose URL the policy refuses, found before anything runs.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "{field} {origin} is not allowed: only the published hosts of the clouds and stores (HTTPS, \
     port 443), or a prefix the operator was started with (--allow-endpoint-prefix), may receive \
     credentials and HR data"
)]
pub struct EndpointNotAllowed {
    /// The spec field (`spec.endpoints.authorityUrl`, `spec.source.s3.endpoint`, …).
    pub field: String,
    /// The URL's origin, or the value itself when it is no URL.
    pub origin: String,
}

impl EgressPolicy {
    /// The published hosts only.
    pub fn published_only() -> Self {
        EgressPolicy::default()
    }

    /// Parses the administrator's prefixes: absolute `http(s)` URLs without user info, query or
    /// fragment.
    pub fn new<S: AsRef<str>>(prefixes: &[S]) -> Result<Self, InvalidPrefix> {
        let prefixes = prefixes
            .iter()
            .map(|p| parse_prefix(p.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(EgressPolicy { prefixes })
    }

    /// This policy, also allowing `url`'s origin: for endpoints the person running the command
    /// line named themselves (`--authority-url`, an object store's endpoint). An unusable URL
    /// adds nothing (its requests are then refused).
    pub fn allowing_origin_of(mut self, url: &str) -> Self {
        if let Ok(mut url) = Url::parse(url)
            && matches!(url.scheme(), "https" | "http" | "sftp")
            && url.host_str().is_some()
            && url.username().is_empty()
            && url.password().is_none()
        {
            url.set_path("/");
            url.set_query(None);
            url.set_fragment(None);
            if !self.prefixes.contains(&url) {
                self.prefixes.push(url);
            }
        }
        self
    }

    /// Whether a request to `url` may be sent.
    pub fn allows(&self, url: &Url) -> bool {
        url.username().is_empty()
            && url.password().is_none()
            && (is_published(url) || self.prefixes.iter().any(|p| within(url, p)))
    }

    /// [`Self::allows`] as a `Result` naming `what` the request was.
    pub fn check(&self, url: &Url, what: &str) -> Result<(), EgressRefused> {
        if self.allows(url) {
            return Ok(());
        }
        Err(EgressRefused {
            what: what.to_string(),
            origin: origin(url),
            why: NOT_ALLOWED,
        })
    }

    /// Checks a URL a job's spec gives, naming the field when it is refused.
    pub fn check_field(&self, field: &str, url: &str) -> Result<(), EndpointNotAllowed> {
        match Url::parse(url) {
            Ok(parsed) if self.allows(&parsed) => Ok(()),
            Ok(parsed) => Err(EndpointNotAllowed {
                field: field.to_string(),
                origin: origin(&parsed),
            }),
            Err(_) => Err(EndpointNotAllowed {
                field: field.to_string(),
                origin: format!("{url:?} (not an absolute URL)"),
            }),
        }
    }

    /// Checks the authority and ingestion URLs a job would use (`resource` is a token audience,
    /// not a place anything is sent to).
    pub fn check_endpoints(&self, endpoints: &Endpoints) -> Result<(), EndpointNotAllowed> {
        self.check_field("spec.endpoints.authorityUrl", &endpoints.authority_url)?;
        self.check_field("spec.endpoints.ingestionUrl", &endpoints.ingestion_url)
    }
}

fn parse_prefix(p: &str) -> Result<Url, InvalidPrefix> {
    let invalid = |why| InvalidPrefix {
        prefix: p.to_string(),
        why,
    };
    let url = Url::parse(p).map_err(|_| invalid("not an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http" | "sftp") || url.host_str().is_none() {
        return Err(invalid(
            "must be an http://, https:// or sftp:// URL with a host",
        ));
    }
    // An SFTP connection is allowed or not as a whole: its paths are the server's business.
    if url.scheme() == "sftp" && !matches!(url.path(), "" | "/") {
        return Err(invalid(
            "an sftp:// prefix names a host and port only (sftp://HOST:PORT/)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url)
}

/// `scheme://host[:port]` of `url`: what error text may say about where a request went.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Whether two URLs share scheme, host and port (a redirect may only stay within one).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && port(a) == port(b)
}

/// The port, the scheme's default included (the url crate knows none for sftp: SSH's 22).
fn port(url: &Url) -> Option<u16> {
    url.port_or_known_default()
        .or_else(|| (url.scheme() == "sftp").then_some(22))
}

/// A published host of a cloud or store, over HTTPS on port 443.
fn is_published(url: &Url) -> bool {
    if url.scheme() != "https" || url.port_or_known_default() != Some(443) {
        return false;
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return false;
    };
    let host = host.trim_end_matches('.');
    Cloud::ALL
        .iter()
        .flat_map(|c| {
            let e = c.endpoints();
            [e.authority_url, e.ingestion_url]
        })
        .any(|published| Url::parse(&published).is_ok_and(|u| u.host_str() == Some(host)))
        || EXTRA_AUTHORITIES.contains(&host)
        || BLOB_SUFFIXES
            .iter()
            .any(|suffix| host.strip_suffix(suffix).is_some_and(is_storage_account))
        || is_aws_host(host)
}

/// Azure storage account names: 3 to 24 lower-case letters and digits.
fn is_storage_account(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `[BUCKET.]s3[.dualstack][.REGION].amazonaws.com`, `sts[.REGION].amazonaws.com` and their
/// `-fips` forms (GovCloud's `us-gov-west-1` included).
fn is_aws_host(host: &str) -> bool {
    let Some(rest) = host.strip_suffix(".amazonaws.com") else {
        return false;
    };
    let mut labels: Vec<&str> = rest.split('.').collect();
    if labels.last().is_some_and(|l| is_aws_region(l)) {
        labels.pop();
    }
    if labels.last() == Some(&"dualstack") {
        labels.pop();
    }
    let Some(service) = labels.pop() else {
        return false;
    };
    if !AWS_SERVICES.contains(&service) {
        return false;
    }
    // What is left is a virtual-hosted bucket name, which only S3 has.
    labels.is_empty()
        || (service.starts_with("s3")
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }))
}

/// An AWS region name: `us-east-1`, `us-gov-west-1`, `eu-central-2`, `ap-southeast-4`, …
pub fn is_aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let number = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [area, direction, n] => area.len() == 2 && letters(area) && letters(direction) && number(n),
        [area, partition, direction, n] => {
            area.len() == 2
                && letters(area)
                && matches!(*partition, "gov" | "iso" | "isob" | "isof" | "isoe")
                && letters(direction)
                && number(n)
        }
        _ => false,
    }
}

/// Same scheme, host and port, and a path under the prefix's path at a segment boundary
/// (`https://proxy/hr` covers `https://proxy/hr/x`, not `https://proxy/hrx`).
fn within(url: &Url, prefix: &Url) -> bool {
    if !same_origin(url, prefix) {
        return false;
    }
    let base = prefix.path().trim_end_matches('/');
    let path = url.path();
    base.is_empty() || path == base || path.starts_with(&format!("{base}/"))
}

/// The refusal inside an error's cause chain (a redirect the policy stopped surfaces as a
/// transport error of the HTTP client).
pub fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<EgressRefused> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<EgressRefused>() {
            return Some(refused.clone());
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(authority: &str, ingestion: &str) -> Endpoints {
        Cloud::Gcc
            .endpoints()
            .with_overrides(Some(authority), Some(ingestion), None)
    }

    fn allowed(policy: &EgressPolicy, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| policy.allows(&u))
    }

    #[test]
    fn the_published_hosts_are_always_allowed() {
        let none = EgressPolicy::default();
        for cloud in Cloud::ALL {
            assert_eq!(none.check_endpoints(&cloud.endpoints()), Ok(()), "{cloud}");
        }
        let mixed = endpoints(
            "https://login.microsoftonline.us/",
            "https://webhook-gcc.ingestion.office365.us",
        );
        assert_eq!(none.check_endpoints(&mixed), Ok(()));
        for url in [
            "https://login.windows.net/t/oauth2/token",
            "https://agencyhr.blob.core.usgovcloudapi.net/hr/x.csv",
            "https://agencyhr.blob.core.windows.net/hr",
            "https://s3.us-gov-west-1.amazonaws.com/bucket/key",
            "https://s3-fips.us-gov-east-1.amazonaws.com/bucket/key",
            "https://hr-exports.s3.us-east-1.amazonaws.com/key",
            "https://hr-exports.s3.dualstack.eu-west-2.amazonaws.com/key",
            "https://s3.amazonaws.com/bucket",
            "https://sts.amazonaws.com/",
            "https://sts.us-gov-west-1.amazonaws.com/",
            "https://sts-fips.us-east-2.amazonaws.com/",
        ] {
            assert!(allowed(&none, url), "{url}");
        }
    }

    #[test]
    fn look_alike_hosts_ports_schemes_and_user_info_are_refused() {
        let none = EgressPolicy::default();
        for bad in [
            "https://login.microsoftonline.us.evil.example",
            "https://login.microsoftonline.us@evil.example",
            "https://evil.example/login.microsoftonline.us",
            "http://login.microsoftonline.us",
            "https://login.microsoftonline.us:8443",
            "https://user:pw@login.microsoftonline.us",
            "http://169.254.169.254/latest/meta-data",
            "https://blob.core.windows.net/x",
            "https://a.b.blob.core.windows.net/x",
            "https://evil.example.blob.core.windows.net.evil.example/x",
            "http://agencyhr.blob.core.windows.net/x",
            "https://sts.evil.amazonaws.com/",
            "https://bucket.sts.us-east-1.amazonaws.com/",
            "https://ec2.us-east-1.amazonaws.com/",
            "https://s3.us-east-1.amazonaws.com.evil.example/",
            "https://127.0.0.1/",
        ] {
            assert!(!allowed(&none, bad), "{bad}");
        }
        let err = none
            .check_endpoints(&endpoints(
                "https://login.microsoftonline.com",
                "http://127.0.0.1:9",
            ))
            .unwrap_err();
        assert_eq!(err.field, "spec.endpoints.ingestionUrl");
        assert_eq!(err.origin, "http://127.0.0.1:9");
        assert!(err.to_string().contains("--allow-endpoint-prefix"));
    }

    #[test]
    fn an_administrator_prefix_allows_its_host_and_path_only() {
        let policy =
            EgressPolicy::new(&["https://proxy.agency.gov/hr/", "http://127.0.0.1:8080"]).unwrap();
        assert!(allowed(&policy, "https://proxy.agency.gov/hr"));
        assert!(allowed(&policy, "https://proxy.agency.gov/hr/login"));
        assert!(allowed(&policy, "https://PROXY.agency.gov:443/hr/x"));
        assert!(!allowed(&policy, "https://proxy.agency.gov/hrx"));
        assert!(!allowed(&policy, "https://proxy.agency.gov/"));
        assert!(!allowed(
            &policy,
            "https://proxy.agency.gov.evil.example/hr"
        ));
        assert!(allowed(&policy, "http://127.0.0.1:8080/anything"));
        assert!(!allowed(&policy, "http://127.0.0.1:8081/"));
        // An http:// prefix does not allow https:// on the same port, and the reverse.
        assert!(!allowed(&policy, "https://127.0.0.1:8080/"));
    }

    #[test]
    fn a_path_escape_is_still_under_the_prefix_only_as_normalised() {
        let policy = EgressPolicy::new(&["http://127.0.0.1:8080/tenants/"]).unwrap();
        // URL parsing resolves dot segments before the policy compares paths.
        assert!(!allowed(
            &policy,
            "http://127.0.0.1:8080/tenants/../../evil/oauth2/token"
        ));
        assert!(allowed(
            &policy,
            "http://127.0.0.1:8080/tenants/t/oauth2/token"
        ));
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-4",
            "us-iso-east-1",
        ] {
            assert!(is_aws_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "evil.example",
            "us-east-1.evil",
            "US-EAST-1",
            "u-east-1",
            "us-east-123",
        ] {
            assert!(!is_aws_region(bad), "{bad}");
        }
    }

    #[test]
    fn an_sftp_server_is_allowed_only_under_an_sftp_prefix_of_its_port() {
        let url = |u: &str| Url::parse(u).unwrap();
        let none = EgressPolicy::published_only();
        assert!(!none.allows(&url("sftp://sftp.agency.gov:22/")));
        let policy = EgressPolicy::new(&["sftp://sftp.agency.gov/"]).unwrap();
        assert!(policy.allows(&url("sftp://sftp.agency.gov:22/")));
        assert!(!policy.allows(&url("sftp://sftp.agency.gov:2222/")));
        assert!(!policy.allows(&url("https://sftp.agency.gov/")));
        let policy = EgressPolicy::new(&["https://sftp.agency.gov/"]).unwrap();
        assert!(!policy.allows(&url("sftp://sftp.agency.gov:22/")));
    }

    #[test]
    fn unusable_prefixes_are_refused_at_start_up() {
        for (bad, why) in [
            ("proxy.agency.gov", "not an absolute URL"),
            (
                "ftp://proxy.agency.gov",
                "must be an http://, https:// or sftp:// URL with a host",
            ),
            (
                "sftp://sftp.agency.gov/outbound",
                "an sftp:// prefix names a host and port only (sftp://HOST:PORT/)",
            ),
            (
                "https://u:p@proxy.agency.gov",
                "must not carry a user name or password",
            ),
            (
                "https://proxy.agency.gov/?x=1",
                "must not have a query or fragment",
            ),
        ] {
            assert_eq!(EgressPolicy::new(&[bad]).unwrap_err().why, why, "{bad}");
        }
    }

    #[test]
    fn the_command_line_may_allow_the_origins_it_names() {
        let policy = EgressPolicy::default().allowing_origin_of("http://127.0.0.1:9000/x?sig=1");
        assert!(allowed(&policy, "http://127.0.0.1:9000/other"));
        assert!(!allowed(&policy, "http://127.0.0.1:9001/"));
    }
}
