//! Whether this process's cryptography runs on AWS-LC's FIPS 140-3 module: for
//! `hrconnector version` and for `--require-fips`, which refuses to start otherwise.
//!
//! The cargo feature `fips` switches the one aws-lc-rs crate, and so rustls (reqwest's and
//! kube's TLS) and jsonwebtoken's RS256 signing, to aws-lc-fips-sys. What is not on the module,
//! and why that is acceptable, is written down in docs/operating.md ("FIPS 140-3").

use serde::Serialize;

/// What the process runs on, as reported by the crates themselves (not by our build flags
/// alone): a build with the feature whose module failed its power-on self tests is not FIPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FipsStatus {
    /// Built with `--features fips` (aws-lc-rs linked against aws-lc-fips-sys).
    pub fips_build: bool,
    /// AWS-LC reports FIPS mode (`FIPS_mode()`: the module is linked and its self tests passed).
    pub module_in_fips_mode: bool,
    /// The process-wide rustls provider (the one kube's TLS uses) is installed and FIPS.
    pub default_provider_fips: bool,
}

impl FipsStatus {
    /// All three hold.
    pub fn fips(&self) -> bool {
        self.fips_build && self.module_in_fips_mode && self.default_provider_fips
    }
}

/// The status of this process now. Call after the process-wide provider is installed.
pub fn status() -> FipsStatus {
    FipsStatus {
        fips_build: cfg!(feature = "fips"),
        module_in_fips_mode: aws_lc_rs::try_fips_mode().is_ok(),
        default_provider_fips: rustls::crypto::CryptoProvider::get_default()
            .is_some_and(|p| p.fips()),
    }
}

/// The version of the AWS-LC library linked in ("AWS-LC" or "AWS-LC FIPS" and its version).
pub fn crypto_library() -> String {
    let name = if cfg!(feature = "fips") {
        "AWS-LC FIPS module (aws-lc-fips-sys)"
    } else {
        "AWS-LC (aws-lc-sys, not a validated module)"
    };
    format!("{name} {}", aws_lc_rs::awslc_version())
}

/// Why `--require-fips` refused to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFips {
    #[error(
        "--require-fips: this hrconnector is not a FIPS build; use the image tagged -fips (built with --features fips), or drop --require-fips / HRCONNECTOR_REQUIRE_FIPS"
    )]
    NotAFipsBuild,
    #[error(
        "--require-fips: the AWS-LC FIPS module is linked but not in FIPS mode (its power-on self tests did not pass); this build cannot be used where FIPS is required"
    )]
    ModuleNotInFipsMode,
    #[error(
        "--require-fips: the process-wide TLS provider is not the FIPS module; this is a bug in hrconnector"
    )]
    DefaultProviderNotFips,
    #[error(
        "--require-fips: the TLS configuration for {0} does not report FIPS (a non-approved cipher suite, key exchange group or provider); this is a bug in hrconnector"
    )]
    TlsConfigNotFips(String),
}

/// Ok when the module is the active provider and every TLS configuration given (named for the
/// message: "Entra ID and the ingestion service", "the Kubernetes API") reports FIPS.
pub fn require(tls_configs: &[(&str, &rustls::ClientConfig)]) -> Result<(), NotFips> {
    let status = status();
    if !status.fips_build {
        return Err(NotFips::NotAFipsBuild);
    }
    if !status.module_in_fips_mode {
        return Err(NotFips::ModuleNotInFipsMode);
    }
    if !status.default_provider_fips {
        return Err(NotFips::DefaultProviderNotFips);
    }
    for (name, config) in tls_configs {
        if !config.fips() {
            return Err(NotFips::TlsConfigNotFips((*name).to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_client::{HttpClientConfig, tls_config};

    fn install_provider() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }

    #[cfg(not(feature = "fips"))]
    #[test]
    fn a_default_build_is_refused_with_a_message_naming_the_fips_image() {
        install_provider();
        assert!(!status().fips());
        let tls = tls_config(&HttpClientConfig::default()).unwrap();
        let err = require(&[("Entra ID", &tls)]).unwrap_err();
        assert_eq!(err, NotFips::NotAFipsBuild);
        assert!(err.to_string().contains("-fips"), "{err}");
    }
}
