//! `hrconnector validate` (to be written by the hrdata work).

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs) -> ExitCode {
    ExitCode::from(super::EXIT_USAGE)
}
