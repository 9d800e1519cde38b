//! `hrconnector emulator` (to be written by the emulator work).

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct EmulatorArgs {}

pub fn run(_args: EmulatorArgs) -> ExitCode {
    ExitCode::from(super::EXIT_USAGE)
}
