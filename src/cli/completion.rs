//! `hrconnector completion SHELL [--plugin]`: shell completion scripts, generated from the
//! command line's own definition so they never drift from it.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_enum)]
    pub shell: Shell,
    /// Complete the kubectl plugin (`kubectl-hrconnector`) instead of `hrconnector`.
    #[arg(long)]
    pub plugin: bool,
}

pub fn run(args: CompletionArgs) -> ExitCode {
    let (mut command, name) = if args.plugin {
        (
            super::plugin::PluginCli::command().bin_name(super::plugin::PLUGIN_NAME),
            super::plugin::PLUGIN_NAME,
        )
    } else {
        (super::Cli::command(), "hrconnector")
    };
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    match std::io::stdout().write_all(&script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the completion script: {e}");
            ExitCode::from(super::EXIT_USAGE)
        }
    }
}
