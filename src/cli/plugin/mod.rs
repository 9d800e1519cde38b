//! `kubectl hrconnector`: the same binary, run as `kubectl-hrconnector` (a symlink kubectl finds
//! on PATH), for day-2 work on HrConnectorJobs: a status table, run-now, suspend and resume
//! without hand-typed annotations and patches, the run history, and a check of a local file
//! with a job's own settings before it is committed.
//!
//! kubectl passes no flags of its own to a plugin, so `--kubeconfig`, `--context` and `-n` are
//! ours, with kubectl's meaning.

mod client;
pub mod complete;
mod history;
mod lifecycle;
mod status;
mod validate;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use client::PluginError;

/// The executable name kubectl looks for on PATH for `kubectl hrconnector`.
pub const PLUGIN_NAME: &str = "kubectl-hrconnector";

/// What this process was started as, from its executable's name (argv[0]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// `hrconnector` (or any other name): the full command line.
    Hrconnector,
    /// `kubectl-hrconnector`: the kubectl plugin.
    Plugin,
    /// `kubectl_complete-hrconnector`: kubectl's completion of the plugin's words.
    Completer,
}

pub fn invocation(argv0: &OsString) -> Invocation {
    let name = Path::new(argv0)
        .file_name()
        .and_then(|name| name.to_str())
        .map(|name| name.trim_end_matches(".exe"));
    match name {
        Some(PLUGIN_NAME) => Invocation::Plugin,
        Some(complete::COMPLETER_NAME) => Invocation::Completer,
        _ => Invocation::Hrconnector,
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "kubectl hrconnector",
    bin_name = "kubectl hrconnector",
    version,
    about = "Day-2 commands for HrConnectorJobs: status, run-now, suspend, resume, history, validate"
)]
pub struct PluginCli {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// Which cluster and namespace, as kubectl's own flags.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the
    /// pod's service account).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else "default").
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// A table of jobs: ready, reason, last run, records saved, next run.
    Status(status::StatusArgs),
    /// Asks the operator to run JOB now (sets the hrconnector.io/run-now annotation).
    RunNow(JobArg),
    /// Stops JOB's schedule (spec.suspend: true); a run in progress finishes.
    Suspend(JobArg),
    /// Starts JOB's schedule again (spec.suspend: false).
    Resume(JobArg),
    /// JOB's last runs, newest first, and the run in progress.
    History(JobArg),
    /// Checks a local file with JOB's scenario, columns and input settings; nothing is sent.
    Validate(validate::ValidateArgs),
}

#[derive(Debug, Args)]
pub struct JobArg {
    /// The HrConnectorJob's name.
    pub job: String,
}

/// Parses the plugin's command line and runs it.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let cli = PluginCli::parse_from(argv);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

async fn run(cli: PluginCli) -> Result<ExitCode, PluginError> {
    let target = client::connect(&cli.target).await?;
    match cli.command {
        PluginCommand::Status(args) => status::run(&target, args).await,
        PluginCommand::RunNow(job) => lifecycle::run_now(&target, &job.job).await,
        PluginCommand::Suspend(job) => lifecycle::set_suspend(&target, &job.job, true).await,
        PluginCommand::Resume(job) => lifecycle::set_suspend(&target, &job.job, false).await,
        PluginCommand::History(job) => history::run(&target, &job.job).await,
        PluginCommand::Validate(args) => validate::run(&target, args).await,
    }
}
