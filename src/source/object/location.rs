//! Which object a `--source` URL (or a job's `spec.source`) names.

use super::error::ObjectSourceError;

/// The two object stores we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    AzureBlob,
    S3,
}

impl StoreKind {
    /// What the store calls the thing that holds objects.
    pub fn container_word(self) -> &'static str {
        match self {
            StoreKind::AzureBlob => "container",
            StoreKind::S3 => "bucket",
        }
    }

    /// The permission a reader needs, said the way each platform's documentation says it.
    pub fn read_permission(self, container: &str, code: Option<&str>) -> String {
        match (self, code) {
            (StoreKind::AzureBlob, Some("AuthenticationFailed" | "AuthorizationFailure")) => {
                "the account key or SAS token is not valid for this account or this read (a \
                 wrong key; a SAS that expired or lacks read permission \"r\"; the account's \
                 network rules)"
                    .into()
            }
            (StoreKind::AzureBlob, _) => format!(
                "reading needs the role \"Storage Blob Data Reader\" on the container \
                 {container:?} (or a SAS with read permission \"r\")"
            ),
            (StoreKind::S3, Some("InvalidAccessKeyId" | "SignatureDoesNotMatch")) => {
                "the access key ID or secret access key is not valid".into()
            }
            (StoreKind::S3, _) => format!(
                "reading needs s3:GetObject on arn:aws:s3:::{container}/* (and s3:ListBucket on \
                 the bucket to tell a missing object from a denied one)"
            ),
        }
    }
}

/// One object: where it is and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLocation {
    AzureBlob {
        /// `https://ACCOUNT.blob.core.windows.net`, `…usgovcloudapi.net`, or an emulator's
        /// account URL; `None` for `az://` (account and endpoint from the environment).
        account_url: Option<String>,
        container: String,
        blob: String,
    },
    S3 {
        bucket: String,
        key: String,
    },
}

const AZURE_HOSTS: [&str; 2] = [".blob.core.windows.net", ".blob.core.usgovcloudapi.net"];

impl ObjectLocation {
    /// The Azure account URL the location names, if any.
    pub fn account_url(&self) -> Option<String> {
        match self {
            ObjectLocation::AzureBlob { account_url, .. } => account_url.clone(),
            ObjectLocation::S3 { .. } => None,
        }
    }

    /// Parses `az://CONTAINER/BLOB`, `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`,
    /// `https://ACCOUNT.blob.core.usgovcloudapi.net/CONTAINER/BLOB` or `s3://BUCKET/KEY`.
    pub fn parse(url: &str) -> Result<ObjectLocation, ObjectSourceError> {
        let bad = |why: &str| {
            ObjectSourceError::Location(format!(
                "--source {:?}: {why}; expected az://CONTAINER/BLOB, \
                 https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB, \
                 https://ACCOUNT.blob.core.usgovcloudapi.net/CONTAINER/BLOB or s3://BUCKET/KEY",
                display_url(url)
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
        if rest.contains('?') || rest.contains('#') {
            return Err(bad(
                "a query is not taken (a SAS token goes in AZURE_STORAGE_SAS_TOKEN)",
            ));
        }
        let (first, path) = rest.split_once('/').unwrap_or((rest, ""));
        match scheme {
            "az" => {
                let (container, blob) = container_and_name(first, path).map_err(|w| bad(&w))?;
                Ok(ObjectLocation::AzureBlob {
                    account_url: None,
                    container,
                    blob,
                })
            }
            "s3" => {
                let (bucket, key) = container_and_name(first, path).map_err(|w| bad(&w))?;
                Ok(ObjectLocation::S3 { bucket, key })
            }
            "https" if AZURE_HOSTS.iter().any(|h| first.ends_with(h)) => {
                let (container, blob) = path.split_once('/').unwrap_or((path, ""));
                let (container, blob) = container_and_name(container, blob).map_err(|w| bad(&w))?;
                Ok(ObjectLocation::AzureBlob {
                    account_url: Some(format!("https://{first}")),
                    container,
                    blob,
                })
            }
            _ => Err(bad("unknown scheme or host")),
        }
    }

    pub fn kind(&self) -> StoreKind {
        match self {
            ObjectLocation::AzureBlob { .. } => StoreKind::AzureBlob,
            ObjectLocation::S3 { .. } => StoreKind::S3,
        }
    }

    /// The container or bucket.
    pub fn container(&self) -> &str {
        match self {
            ObjectLocation::AzureBlob { container, .. } => container,
            ObjectLocation::S3 { bucket, .. } => bucket,
        }
    }

    /// The blob name or key inside it.
    pub fn object(&self) -> &str {
        match self {
            ObjectLocation::AzureBlob { blob, .. } => blob,
            ObjectLocation::S3 { key, .. } => key,
        }
    }

    /// The same container or bucket, another object in it (the match a pattern chose).
    pub fn with_object(&self, object: &str) -> ObjectLocation {
        let mut other = self.clone();
        match &mut other {
            ObjectLocation::AzureBlob { blob, .. } => *blob = object.to_owned(),
            ObjectLocation::S3 { key, .. } => *key = object.to_owned(),
        }
        other
    }

    /// How messages name the object: a URL without any query.
    pub fn display_name(&self) -> String {
        match self {
            ObjectLocation::AzureBlob {
                account_url: Some(account),
                container,
                blob,
            } => format!("{}/{container}/{blob}", account.trim_end_matches('/')),
            ObjectLocation::AzureBlob {
                container, blob, ..
            } => format!("az://{container}/{blob}"),
            ObjectLocation::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

fn container_and_name(container: &str, name: &str) -> Result<(String, String), String> {
    if container.is_empty() {
        return Err("no container or bucket".into());
    }
    // It becomes a path segment of the store's URL (object_store splices an S3 bucket raw).
    crate::net::url_parts::path_segment(container, "the container or bucket")
        .map_err(|e| e.to_string())?;
    if name.is_empty() || name.ends_with('/') {
        return Err("no object name after the container or bucket".into());
    }
    // `*` in the last segment picks the newest match (`?` would start a query here).
    crate::source::pattern::NamePattern::parse(name)?;
    Ok((container.to_owned(), name.to_owned()))
}

/// Whether `url` is an Azure Blob Storage URL (commercial or Government), rather than another
/// https:// URL.
pub fn is_azure_blob_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    AZURE_HOSTS.iter().any(|h| host.ends_with(h))
}

/// A URL as messages may show it: without its query, where a SAS token would be.
pub fn display_url(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_url_forms() {
        assert_eq!(
            ObjectLocation::parse("az://hr/exports/2026/leavers.csv").unwrap(),
            ObjectLocation::AzureBlob {
                account_url: None,
                container: "hr".into(),
                blob: "exports/2026/leavers.csv".into()
            }
        );
        let gov =
            ObjectLocation::parse("https://agencyhr.blob.core.usgovcloudapi.net/hr/leavers.csv")
                .unwrap();
        assert_eq!(
            gov.display_name(),
            "https://agencyhr.blob.core.usgovcloudapi.net/hr/leavers.csv"
        );
        assert_eq!(gov.container(), "hr");
        let commercial =
            ObjectLocation::parse("https://acme.blob.core.windows.net/hr/a/b.csv").unwrap();
        assert_eq!(commercial.object(), "a/b.csv");
        assert_eq!(
            ObjectLocation::parse("s3://hr-bucket/in/leavers.csv").unwrap(),
            ObjectLocation::S3 {
                bucket: "hr-bucket".into(),
                key: "in/leavers.csv".into()
            }
        );
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_a_query() {
        for url in [
            "hr.csv",
            "gs://b/k",
            "s3://bucket",
            "s3://bucket/",
            "az:///blob",
            "https://example.com/c/b",
            "https://acme.blob.core.windows.net/c/b.csv?sv=2024&sig=SECRET",
        ] {
            let message = ObjectLocation::parse(url).unwrap_err().to_string();
            assert!(message.contains("expected az://"), "{url}: {message}");
            assert!(!message.contains("SECRET"), "{message}");
        }
    }
}
