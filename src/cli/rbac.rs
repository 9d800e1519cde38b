//! `hrconnector rbac`: the operator's permissions as a ClusterRole (every namespace), or as one
//! Role per watched namespace.

use std::process::ExitCode;

use clap::Args;

use crate::controller::{namespaces, rbac};

#[derive(Debug, Args)]
pub struct RbacArgs {
    /// Print a Role for each of these namespaces instead of a ClusterRole (repeatable;
    /// comma-separated): what the operator needs with `controller --namespace` the same list.
    #[arg(long = "namespace", value_name = "NAMESPACE", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Name of the role.
    #[arg(long, default_value = "hrconnector")]
    pub name: String,
}

pub fn run(args: RbacArgs) -> ExitCode {
    let namespaces = namespaces::parse_list(&args.namespaces);
    if let Err(e) = namespaces::validate(&namespaces) {
        eprintln!("error: {e}");
        return ExitCode::from(super::EXIT_USAGE);
    }
    let yaml = if namespaces.is_empty() {
        serde_yaml::to_string(&rbac::cluster_role(&args.name))
    } else {
        namespaces
            .iter()
            .map(|ns| serde_yaml::to_string(&rbac::role(&args.name, ns)))
            .collect::<Result<Vec<_>, _>>()
            .map(|docs| docs.join("---\n"))
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
