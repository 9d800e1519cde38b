//! `hrconnector crd`: prints the `HrConnectorJob` CustomResourceDefinition as YAML.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use kube::CustomResourceExt;

use crate::crd::HrConnectorJob;

#[derive(Debug, Args)]
pub struct CrdArgs {}

/// The CRD exactly as committed under `crds/`.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&HrConnectorJob::crd())
}

pub fn run(_args: CrdArgs) -> ExitCode {
    let yaml = match crd_yaml() {
        Ok(y) => y,
        Err(e) => {
            eprintln!("error: cannot render the CRD: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    // A closed pipe (`| head`) is not worth a panic.
    match std::io::stdout().lock().write_all(yaml.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the CRD: {e}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
