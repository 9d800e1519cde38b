//! Which hosts a job may send its credentials and HR data to.
//!
//! Whoever may create an `HrConnectorJob` in a namespace can name any Secret of that namespace;
//! without this check `spec.endpoints` would let them send that Secret (as `client_secret`) and the
//! HR data to a host of their choosing, or make the operator call internal addresses. The four
//! clouds' published hosts are always allowed; anything else only when it matches a prefix the
//! cluster administrator gave with `--allow-endpoint-prefix`.

use reqwest::Url;

use crate::cloud::{Cloud, Endpoints};

/// The allowed endpoint prefixes, parsed once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    prefixes: Vec<Url>,
}

/// A `--allow-endpoint-prefix` value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--allow-endpoint-prefix {prefix:?}: {why}")]
pub struct InvalidPrefix {
    pub prefix: String,
    pub why: &'static str,
}

/// A job endpoint the policy refuses. Names the field and the host, never a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "spec.endpoints.{field} {url:?} is not allowed: only the published hosts of the four clouds, \
     or a prefix the operator was started with (--allow-endpoint-prefix), may receive credentials \
     and HR data"
)]
pub struct EndpointNotAllowed {
    pub field: &'static str,
    pub url: String,
}

impl EndpointPolicy {
    /// Parses the administrator's prefixes: absolute `http(s)` URLs without user info, query or
    /// fragment.
    pub fn new<S: AsRef<str>>(prefixes: &[S]) -> Result<Self, InvalidPrefix> {
        let prefixes = prefixes
            .iter()
            .map(|p| {
                let p = p.as_ref();
                let invalid = |why| InvalidPrefix {
                    prefix: p.to_string(),
                    why,
                };
                let url = Url::parse(p).map_err(|_| invalid("not an absolute URL"))?;
                if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                    return Err(invalid("must be an http:// or https:// URL with a host"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(invalid("must not carry a user name or password"));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(invalid("must not have a query or fragment"));
                }
                Ok(url)
            })
            .collect::<Result<_, _>>()?;
        Ok(EndpointPolicy { prefixes })
    }

    /// Checks the authority and ingestion URLs a job would use (`resource` is a token audience,
    /// not a place anything is sent to).
    pub fn check(&self, endpoints: &Endpoints) -> Result<(), EndpointNotAllowed> {
        for (field, url, published) in [
            (
                "authorityUrl",
                &endpoints.authority_url,
                published(|e| e.authority_url),
            ),
            (
                "ingestionUrl",
                &endpoints.ingestion_url,
                published(|e| e.ingestion_url),
            ),
        ] {
            let allowed = Url::parse(url).ok().is_some_and(|url| {
                url.username().is_empty()
                    && url.password().is_none()
                    && (published
                        .iter()
                        .chain(&self.prefixes)
                        .any(|p| within(&url, p)))
            });
            if !allowed {
                return Err(EndpointNotAllowed {
                    field,
                    url: url.clone(),
                });
            }
        }
        Ok(())
    }
}

fn published(pick: fn(Endpoints) -> String) -> Vec<Url> {
    Cloud::ALL
        .iter()
        .filter_map(|c| Url::parse(&pick(c.endpoints())).ok())
        .collect()
}

/// Same scheme, host and port, and a path under the prefix's path at a segment boundary
/// (`https://proxy/hr` covers `https://proxy/hr/x`, not `https://proxy/hrx`).
fn within(url: &Url, prefix: &Url) -> bool {
    if url.scheme() != prefix.scheme()
        || url.host_str() != prefix.host_str()
        || url.port_or_known_default() != prefix.port_or_known_default()
    {
        return false;
    }
    let base = prefix.path().trim_end_matches('/');
    let path = url.path();
    path == base || path.starts_with(&format!("{base}/")) || (base.is_empty() && path == "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(authority: &str, ingestion: &str) -> Endpoints {
        Cloud::Gcc
            .endpoints()
            .with_overrides(Some(authority), Some(ingestion), None)
    }

    #[test]
    fn the_published_hosts_are_always_allowed() {
        let none = EndpointPolicy::default();
        for cloud in Cloud::ALL {
            assert_eq!(none.check(&cloud.endpoints()), Ok(()), "{cloud}");
        }
        // Another cloud's published host is a published host too (GCC High authority for GCC).
        let mixed = endpoints(
            "https://login.microsoftonline.us/",
            "https://webhook-gcc.ingestion.office365.us",
        );
        assert_eq!(none.check(&mixed), Ok(()));
    }

    #[test]
    fn look_alike_hosts_ports_schemes_and_user_info_are_refused() {
        let none = EndpointPolicy::default();
        for bad in [
            "https://login.microsoftonline.us.evil.example",
            "https://login.microsoftonline.us@evil.example",
            "https://evil.example/login.microsoftonline.us",
            "http://login.microsoftonline.us",
            "https://login.microsoftonline.us:8443",
            "https://user:pw@login.microsoftonline.us",
            "http://169.254.169.254/latest/meta-data",
            "not a url",
        ] {
            let err = none
                .check(&endpoints(bad, "https://webhook.ingestion.office.com"))
                .expect_err(bad);
            assert_eq!(err.field, "authorityUrl", "{bad}");
        }
        let err = none
            .check(&endpoints(
                "https://login.microsoftonline.com",
                "http://127.0.0.1:9",
            ))
            .unwrap_err();
        assert_eq!(err.field, "ingestionUrl");
        assert!(err.to_string().contains("--allow-endpoint-prefix"));
    }

    #[test]
    fn an_administrator_prefix_allows_its_host_and_path_only() {
        let policy =
            EndpointPolicy::new(&["https://proxy.agency.gov/hr/", "http://127.0.0.1:8080"])
                .unwrap();
        let ok = |a: &str| policy.check(&endpoints(a, "http://127.0.0.1:8080")).is_ok();
        assert!(ok("https://proxy.agency.gov/hr"));
        assert!(ok("https://proxy.agency.gov/hr/login"));
        assert!(ok("https://PROXY.agency.gov:443/hr/x"));
        assert!(!ok("https://proxy.agency.gov/hrx"));
        assert!(!ok("https://proxy.agency.gov/"));
        assert!(!ok("https://proxy.agency.gov.evil.example/hr"));
        assert!(
            policy
                .check(&endpoints(
                    "https://proxy.agency.gov/hr",
                    "http://127.0.0.1:8081"
                ))
                .is_err()
        );
    }

    #[test]
    fn unusable_prefixes_are_refused_at_start_up() {
        for (bad, why) in [
            ("proxy.agency.gov", "not an absolute URL"),
            (
                "ftp://proxy.agency.gov",
                "must be an http:// or https:// URL with a host",
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
            assert_eq!(EndpointPolicy::new(&[bad]).unwrap_err().why, why, "{bad}");
        }
    }
}
