//! The four Microsoft clouds the HR connector runs in, and the three endpoints each one uses.
//!
//! There is deliberately no `Default` for [`Cloud`]: government HR data must never reach the
//! commercial cloud because somebody forgot a flag.

use std::fmt;
use std::str::FromStr;

/// The `resource` every cloud uses since March 2025.
pub const CONNECTOR_RESOURCE: &str =
    "https://microsoft.onmicrosoft.com/86dfdabb-5089-4a0c-880a-cfa5a790c5b1";

/// A Microsoft 365 cloud (environment) the connector job lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    Commercial,
    Gcc,
    GccHigh,
    Dod,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

    /// The name used on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
        }
    }

    /// The published endpoints of this cloud (DESIGN.md §1).
    pub fn endpoints(self) -> Endpoints {
        let (authority, ingestion) = match self {
            Cloud::Commercial => (
                "https://login.microsoftonline.com",
                "https://webhook.ingestion.office.com",
            ),
            Cloud::Gcc => (
                "https://login.microsoftonline.com",
                "https://webhook-gcc.ingestion.office365.us",
            ),
            Cloud::GccHigh => (
                "https://login.microsoftonline.us",
                "https://webhook-itarl4.ingestion.office365.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://webhook-itarl5.ingestion.apps.mil",
            ),
        };
        Endpoints {
            authority_url: authority.to_string(),
            ingestion_url: ingestion.to_string(),
            resource: CONNECTOR_RESOURCE.to_string(),
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// A cloud name that is not one of the four.
#[derive(Debug, thiserror::Error)]
#[error("unknown cloud {0:?}: expected one of commercial, gcc, gcc-high, dod")]
pub struct UnknownCloud(String);

impl FromStr for Cloud {
    type Err = UnknownCloud;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept the CLI spelling and the CRD spelling (GCCHigh, DoD) alike.
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "commercial" => Ok(Cloud::Commercial),
            "gcc" => Ok(Cloud::Gcc),
            "gcchigh" => Ok(Cloud::GccHigh),
            "dod" => Ok(Cloud::Dod),
            _ => Err(UnknownCloud(s.to_string())),
        }
    }
}

/// Where tokens come from, where data goes, and the audience the token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Entra ID authority base, e.g. `https://login.microsoftonline.us`.
    pub authority_url: String,
    /// Ingestion service base, e.g. `https://webhook-itarl4.ingestion.office365.us`.
    pub ingestion_url: String,
    /// The `resource` form field of the token request.
    pub resource: String,
}

impl Endpoints {
    /// Applies per-job overrides (private endpoints, proxies, tests) on top of a cloud's defaults.
    pub fn with_overrides(
        mut self,
        authority_url: Option<&str>,
        ingestion_url: Option<&str>,
        resource: Option<&str>,
    ) -> Self {
        if let Some(a) = authority_url {
            self.authority_url = a.to_string();
        }
        if let Some(i) = ingestion_url {
            self.ingestion_url = i.to_string();
        }
        if let Some(r) = resource {
            self.resource = r.to_string();
        }
        self
    }

    /// `{authority}/{tenant}/oauth2/token?api-version=1.0`
    pub fn token_url(&self, tenant_id: &str) -> String {
        format!(
            "{}/{}/oauth2/token?api-version=1.0",
            self.authority_url.trim_end_matches('/'),
            tenant_id
        )
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`: the endpoint that takes federated assertions.
    pub fn token_url_v2(&self, tenant_id: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_url.trim_end_matches('/'),
            tenant_id
        )
    }

    /// `{ingestion}/api/signals?jobid={job}`
    pub fn upload_url(&self, job_id: &str) -> String {
        format!(
            "{}/api/signals?jobid={}",
            self.ingestion_url.trim_end_matches('/'),
            job_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_do_not_double() {
        let e = Cloud::Gcc.endpoints().with_overrides(
            Some("http://127.0.0.1:9/"),
            Some("http://127.0.0.1:8//"),
            None,
        );
        assert_eq!(
            e.token_url("t"),
            "http://127.0.0.1:9/t/oauth2/token?api-version=1.0"
        );
        assert_eq!(e.upload_url("j"), "http://127.0.0.1:8/api/signals?jobid=j");
    }

    #[test]
    fn parses_cli_and_crd_spellings() {
        for (s, c) in [
            ("gcc-high", Cloud::GccHigh),
            ("GCCHigh", Cloud::GccHigh),
            ("DoD", Cloud::Dod),
            ("Commercial", Cloud::Commercial),
            ("GCC", Cloud::Gcc),
        ] {
            assert_eq!(s.parse::<Cloud>().unwrap(), c);
        }
        assert!("azure".parse::<Cloud>().is_err());
    }
}
