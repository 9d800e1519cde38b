//! `hrconnector rbac`: the operator's permissions as a ClusterRole (or a Role).

use std::process::ExitCode;

use clap::Args;

use crate::controller::rbac;

#[derive(Debug, Args)]
pub struct RbacArgs {
    /// Print a namespaced Role for this namespace instead of a ClusterRole.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Name of the role.
    #[arg(long, default_value = "hrconnector")]
    pub name: String,
}

pub fn run(args: RbacArgs) -> ExitCode {
    let yaml = match &args.namespace {
        Some(ns) => serde_yaml::to_string(&rbac::role(&args.name, ns)),
        None => serde_yaml::to_string(&rbac::cluster_role(&args.name)),
    };
    match yaml {
        Ok(y) => {
            print!("{}{y}", rbac::justification());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
