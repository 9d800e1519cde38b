//! The `hrconnector` command line. `main.rs` only calls [`main`]; each subcommand lives in its
//! own module and returns the process exit status.

mod common;
mod completion;
mod controller;
pub mod crd;
mod demo;
mod emulator;
mod input;
mod logging;
pub mod plugin;
mod rbac;
mod report;
mod signals;
mod source;
mod upload;
mod validate;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use common::{ColumnArgs, OutputFormat};

/// Exit status for usage and I/O errors (clap uses 2 for usage errors as well).
pub const EXIT_USAGE: u8 = 2;
/// Exit status for invalid data or a failed upload.
pub const EXIT_FAILED: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "hrconnector",
    version,
    about = "Uploads HR resignation data to Microsoft Purview's HR connector"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks an HR CSV file without sending anything.
    Validate(Box<validate::ValidateArgs>),
    /// Validates an HR CSV file and uploads it to the HR connector job.
    Upload(Box<upload::UploadArgs>),
    /// Prints the HrConnectorJob CustomResourceDefinition (YAML).
    Crd(crd::CrdArgs),
    /// Serves the token and ingestion endpoints on loopback, for tests and demos.
    Emulator(emulator::EmulatorArgs),
    /// Runs the Kubernetes operator for HrConnectorJob resources.
    Controller(controller::ControllerArgs),
    /// Prints the operator's RBAC permissions as a ClusterRole (or a Role).
    Rbac(rbac::RbacArgs),
    /// Runs a complete upload of the documentation's sample against an in-process emulator.
    Demo(demo::DemoArgs),
    /// Prints the version and whether the cryptography runs on the FIPS 140-3 module.
    Version(version::VersionArgs),
    /// Prints a shell completion script (for `hrconnector`, or with --plugin for
    /// `kubectl-hrconnector`).
    Completion(completion::CompletionArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invocation = argv
        .first()
        .map_or(plugin::Invocation::Hrconnector, plugin::invocation);
    // kube's and reqwest's TLS stacks are both rustls; when more than one crypto backend is
    // compiled in (ring arrives through dependencies), rustls refuses to guess and panics.
    // Choose aws-lc-rs (reqwest's own choice; the FIPS module in a `fips` build, where this
    // provider offers only FIPS-approved suites and groups) for the whole process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match invocation {
        plugin::Invocation::Plugin => {
            logging::init("warn");
            return plugin::main(argv);
        }
        // Quiet: whatever it prints lands in the user's command line.
        plugin::Invocation::Completer => {
            logging::init("off");
            return plugin::complete::main(argv.into_iter().skip(1).collect());
        }
        plugin::Invocation::Hrconnector => {}
    }
    let cli = Cli::parse_from(argv);
    logging::init(match cli.command {
        Command::Validate(_)
        | Command::Demo(_)
        | Command::Crd(_)
        | Command::Rbac(_)
        | Command::Version(_)
        | Command::Completion(_) => "warn",
        _ => "info",
    });
    match cli.command {
        Command::Validate(args) => validate::run(*args),
        Command::Upload(args) => upload::run(*args),
        Command::Emulator(args) => emulator::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Controller(args) => controller::run(args),
        Command::Rbac(args) => rbac::run(args),
        Command::Crd(args) => crd::run(args),
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::run(args),
    }
}
