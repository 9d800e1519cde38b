//! The operator's extra trusted CA bundle (`--ca-file`), carried to the upload Job.
//!
//! Why an annotation and a downward API volume instead of mounting the operator's ConfigMap:
//! that ConfigMap lives in the operator's namespace and a pod can mount ConfigMaps of its own
//! namespace only. Copying it into every job's namespace would need `create`/`update` on every
//! ConfigMap of the cluster. A CA bundle is public data, so the Job's pod template carries it
//! in an annotation and a `downwardAPI` volume turns that annotation into the file `--ca-file`
//! reads: the Job trusts exactly the bytes the operator trusts, read again for every run (a
//! rotated ConfigMap reaches the next Job), with no extra permission.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, ObjectFieldSelector, Volume,
};

/// Pod template annotation holding the PEM bundle.
pub const TRUSTED_CA_ANNOTATION: &str = "hrconnector.io/trusted-ca";
/// Where the bundle is mounted in the upload container.
pub const TRUSTED_CA_DIR: &str = "/etc/hrconnector/trusted-ca";
const TRUSTED_CA_FILE_NAME: &str = "ca.crt";
/// `--ca-file` of the upload container.
pub const TRUSTED_CA_FILE: &str = "/etc/hrconnector/trusted-ca/ca.crt";
/// The volume's name in the pod.
pub const TRUSTED_CA_VOLUME: &str = "trusted-ca";
/// Kubernetes allows 256 KiB of annotations per object; the run ID annotation needs little.
pub const MAX_TRUSTED_CA_BYTES: usize = 256 * 1024 - 4 * 1024;

/// The PEM bundle the upload Job trusts in addition to the public roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCa {
    pem: String,
}

/// Why the bundle cannot be carried to an upload Job. Names the file and the fix, never content.
#[derive(Debug, thiserror::Error)]
pub enum TrustedCaError {
    #[error(
        "cannot read the trusted CA bundle {path} for the upload Job ({source}); check --ca-file / the chart's trustedCA"
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the trusted CA bundle {path} is {size} bytes, more than the {MAX_TRUSTED_CA_BYTES} an upload Job can carry (in a pod annotation): keep only the extra CAs (e.g. the agency's inspection CA), the public roots are always trusted"
    )]
    TooLarge { path: PathBuf, size: usize },
    #[error("the trusted CA bundle {path} is not UTF-8 PEM text")]
    NotText { path: PathBuf },
}

impl TrustedCa {
    /// Reads `path`; its certificates were checked when the operator started (`--ca-file`).
    pub fn read(path: &Path) -> Result<Self, TrustedCaError> {
        let bytes = std::fs::read(path).map_err(|source| TrustedCaError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, bytes)
    }

    fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, TrustedCaError> {
        if bytes.len() > MAX_TRUSTED_CA_BYTES {
            return Err(TrustedCaError::TooLarge {
                path: path.to_path_buf(),
                size: bytes.len(),
            });
        }
        let pem = String::from_utf8(bytes).map_err(|_| TrustedCaError::NotText {
            path: path.to_path_buf(),
        })?;
        Ok(TrustedCa { pem })
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The `downwardAPI` volume projecting the annotation to [`TRUSTED_CA_FILE`].
    pub fn volume(&self) -> Volume {
        Volume {
            name: TRUSTED_CA_VOLUME.into(),
            downward_api: Some(DownwardAPIVolumeSource {
                default_mode: Some(0o444),
                items: Some(vec![DownwardAPIVolumeFile {
                    path: TRUSTED_CA_FILE_NAME.into(),
                    field_ref: Some(ObjectFieldSelector {
                        api_version: Some("v1".into()),
                        field_path: format!("metadata.annotations['{TRUSTED_CA_ANNOTATION}']"),
                    }),
                    ..DownwardAPIVolumeFile::default()
                }]),
            }),
            ..Volume::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_too_large_for_an_annotation_is_named_with_its_size() {
        let err = TrustedCa::from_bytes(Path::new("/ca/big.pem"), vec![b'a'; 300 * 1024])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/ca/big.pem") && err.contains("307200 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_bundle_is_named() {
        let err = TrustedCa::read(Path::new("/nonexistent/agency-ca.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/agency-ca.pem"), "{err}");
    }
}
