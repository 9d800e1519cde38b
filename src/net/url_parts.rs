//! Values that become parts of URLs are validated, never spliced raw: a tenant of `../../evil`
//! would otherwise turn `POST /{tenant}/oauth2/token` into `POST /evil/oauth2/token`.

/// Why a value cannot be a part of a URL. Never holds the value (it may come from a Secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is not {expected}")]
pub struct InvalidUrlPart {
    /// Where the value came from (`the tenant ID from Secret hr-creds, key tenantId`).
    pub what: String,
    pub expected: &'static str,
}

/// The CRD pattern of a tenant ID: a GUID or a DNS domain (`contoso.onmicrosoft.com`).
pub const TENANT_ID_PATTERN: &str = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$";
/// The CRD pattern of an app (client) ID: a GUID.
pub const GUID_PATTERN: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// The CRD pattern of an AWS region (`us-gov-west-1`).
pub const AWS_REGION_PATTERN: &str = r"^[a-z]{2}(-(gov|iso|isob|isof|isoe))?-[a-z]+-[0-9]{1,2}$";

/// The CRD pattern of an Azure Blob container (3 to 63 lower-case letters, digits and inner
/// hyphens; `$root` and `$web` are Azure's special containers).
pub const AZURE_CONTAINER_PATTERN: &str = r"^(\$root|\$web|[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$";
/// The CRD pattern of an S3 bucket (3 to 63 lower-case letters, digits, dots and hyphens).
pub const S3_BUCKET_PATTERN: &str = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

/// A value that is one path segment of a URL as it is: not empty, not `.` or `..`, and without
/// `/`, `\`, `?`, `#`, `%`, white space or control characters. A container or bucket becomes
/// a path segment of the store's URL.
pub fn path_segment(value: &str, what: impl Into<String>) -> Result<(), InvalidUrlPart> {
    let ok = !value.is_empty()
        && value != "."
        && value != ".."
        && !value.chars().any(|c| {
            matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
        });
    if ok {
        return Ok(());
    }
    Err(InvalidUrlPart {
        what: what.into(),
        expected: "one path segment (no /, \\, ?, #, %, spaces, and not . or ..)",
    })
}

/// A GUID: 8-4-4-4-12 hex digits.
pub fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A DNS domain of at least two labels, the last alphabetic (`contoso.onmicrosoft.com`).
pub fn is_domain(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|l| l.len() >= 2 && l.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// A tenant ID: a GUID or a DNS domain, the only forms Entra ID accepts in its token URL.
pub fn tenant_id(value: &str, what: impl Into<String>) -> Result<(), InvalidUrlPart> {
    if is_guid(value) || is_domain(value) {
        return Ok(());
    }
    Err(InvalidUrlPart {
        what: what.into(),
        expected: "a tenant ID: a GUID (00000000-0000-0000-0000-000000000000) or a domain (contoso.onmicrosoft.com)",
    })
}

/// An app (client) ID: Entra ID's are GUIDs.
pub fn app_id(value: &str, what: impl Into<String>) -> Result<(), InvalidUrlPart> {
    if is_guid(value) {
        return Ok(());
    }
    Err(InvalidUrlPart {
        what: what.into(),
        expected: "an app (client) ID: a GUID (00000000-0000-0000-0000-000000000000)",
    })
}

/// An AWS region name (`us-gov-west-1`).
pub fn aws_region(value: &str, what: impl Into<String>) -> Result<(), InvalidUrlPart> {
    if super::egress::is_aws_region(value) {
        return Ok(());
    }
    Err(InvalidUrlPart {
        what: what.into(),
        expected: "an AWS region (us-east-1, us-gov-west-1, …)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        for ok in ["hr-exports", "$web", "hr.exports.2026"] {
            assert_eq!(path_segment(ok, "c"), Ok(()), "{ok}");
        }
        for bad in [
            "", ".", "..", "../evil", "a/b", "a?sig=x", "a#b", "a%2f", "a b", "a\\b",
        ] {
            assert!(path_segment(bad, "c").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tenants() {
        for ok in [
            "6f1d9b2e-0c7a-4d43-9a59-2b7f3c1e5a10",
            "contoso.onmicrosoft.com",
            "agency.gov",
        ] {
            assert_eq!(tenant_id(ok, "t"), Ok(()), "{ok}");
        }
        for bad in [
            "../../evil",
            "evil/x",
            "t",
            "a b.com",
            "contoso.onmicrosoft.com/../x",
            "x?y=1.com",
            "",
            "6f1d9b2e-0c7a-4d43-9a59-2b7f3c1e5a1",
            "%2e%2e",
        ] {
            let err = tenant_id(bad, "the value of Secret s, key k").unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("the value of Secret s, key k is not a tenant ID"),
                "{bad}: {err}"
            );
            if bad.len() > 2 {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
    }
}
