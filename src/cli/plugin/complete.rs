//! `kubectl_complete-hrconnector`: shell completion of `kubectl hrconnector ...` through kubectl
//! itself (kubectl 1.26+ runs this executable, found on PATH beside the plugin, for a plugin's
//! words). It answers in cobra's `__complete` protocol: one candidate per line (a tab before its
//! description), then `:DIRECTIVE`. Subcommands and flags come from the plugin's own clap
//! definition; a JOB argument is completed with the namespace's HrConnectorJobs.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::CommandFactory;
use kube::api::ListParams;

use super::{PluginCli, Target};

/// The executable name kubectl runs to complete `kubectl hrconnector` words.
pub const COMPLETER_NAME: &str = "kubectl_complete-hrconnector";

/// cobra's ShellCompDirectiveNoFileComp: offer these, never file names.
const NO_FILES: u8 = 4;
/// cobra's ShellCompDirectiveDefault: the shell's own (file name) completion.
const DEFAULT: u8 = 0;

/// Flags whose next word is their value.
const VALUE_FLAGS: [&str; 5] = [
    "--kubeconfig",
    "--context",
    "-n",
    "--namespace",
    "--csv-file",
];

/// Subcommands whose first argument is a job's name.
const JOB_COMMANDS: [&str; 6] = [
    "status", "run-now", "suspend", "resume", "history", "validate",
];

/// Prints the candidates for the last word of `words` (kubectl passes it, empty for a new word).
pub fn main(words: Vec<OsString>) -> ExitCode {
    let words: Vec<String> = words
        .into_iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let (candidates, directive) = complete(&words);
    for c in candidates {
        println!("{c}");
    }
    println!(":{directive}");
    ExitCode::SUCCESS
}

fn complete(words: &[String]) -> (Vec<String>, u8) {
    let (current, before) = match words.split_last() {
        Some((current, before)) => (current.as_str(), before),
        None => ("", &[][..]),
    };
    if before
        .last()
        .is_some_and(|w| VALUE_FLAGS.contains(&w.as_str()))
    {
        return (vec![], DEFAULT);
    }
    let positionals = positionals(before);
    let command = PluginCli::command();
    let sub = positionals
        .first()
        .and_then(|name| command.find_subcommand(name));
    if current.starts_with('-') {
        let flags = sub
            .into_iter()
            .chain(std::iter::once(&command))
            .flat_map(|c| c.get_arguments())
            .filter_map(|a| a.get_long().map(|l| (format!("--{l}"), a.get_help())))
            .filter(|(flag, _)| flag.starts_with(current))
            .map(|(flag, help)| with_help(&flag, help.map(|h| h.to_string())))
            .collect();
        return (flags, NO_FILES);
    }
    match (sub, positionals.len()) {
        (None, 0) => (
            command
                .get_subcommands()
                .filter(|s| s.get_name() != "help" && s.get_name().starts_with(current))
                .map(|s| with_help(s.get_name(), s.get_about().map(|a| a.to_string())))
                .collect(),
            NO_FILES,
        ),
        (Some(sub), 1) if JOB_COMMANDS.contains(&sub.get_name()) => {
            (job_names(&target(before), current), NO_FILES)
        }
        _ => (vec![], NO_FILES),
    }
}

fn with_help(word: &str, help: Option<String>) -> String {
    match help {
        Some(help) => format!("{word}\t{help}"),
        None => word.to_string(),
    }
}

/// The words that are neither flags nor flag values.
fn positionals(words: &[String]) -> Vec<&str> {
    let mut out = vec![];
    let mut skip = false;
    for w in words {
        if skip {
            skip = false;
        } else if VALUE_FLAGS.contains(&w.as_str()) {
            skip = true;
        } else if !w.starts_with('-') {
            out.push(w.as_str());
        }
    }
    out
}

/// The cluster and namespace the words name so far.
fn target(words: &[String]) -> Target {
    let value = |names: &[&str]| {
        words
            .windows(2)
            .rev()
            .find(|pair| names.contains(&pair[0].as_str()))
            .map(|pair| pair[1].clone())
            .or_else(|| {
                words.iter().rev().find_map(|w| {
                    names
                        .iter()
                        .find_map(|n| w.strip_prefix(&format!("{n}=")).map(str::to_string))
                })
            })
    };
    Target {
        kubeconfig: value(&["--kubeconfig"]).map(Into::into),
        context: value(&["--context"]),
        namespace: value(&["-n", "--namespace"]),
    }
}

/// The HrConnectorJobs of the namespace starting with `prefix`; none when the cluster cannot
/// be reached (a completion never prints an error into the command line).
fn job_names(target: &Target, prefix: &str) -> Vec<String> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return vec![];
    };
    runtime.block_on(async {
        let Ok(connected) = super::client::connect(target).await else {
            return vec![];
        };
        let listed = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            connected.jobs().list_metadata(&ListParams::default()),
        )
        .await;
        match listed {
            Ok(Ok(list)) => list
                .items
                .into_iter()
                .filter_map(|job| job.metadata.name)
                .filter(|name| name.starts_with(prefix))
                .collect(),
            _ => vec![],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_word_completes_to_subcommands() {
        let (candidates, directive) = complete(&words(&["s"]));
        let names: Vec<&str> = candidates
            .iter()
            .map(|c| c.split('\t').next().unwrap_or(""))
            .collect();
        assert_eq!(names, ["status", "suspend"]);
        assert_eq!(directive, NO_FILES);
    }

    #[test]
    fn flags_complete_from_the_subcommand_and_the_globals() {
        let (candidates, _) = complete(&words(&["validate", "nightly", "--c"]));
        let names: Vec<&str> = candidates
            .iter()
            .map(|c| c.split('\t').next().unwrap_or(""))
            .collect();
        assert!(names.contains(&"--csv-file"), "{names:?}");
        assert!(names.contains(&"--context"), "{names:?}");
    }

    #[test]
    fn a_flag_value_is_left_to_the_shell() {
        assert_eq!(
            complete(&words(&["validate", "nightly", "--csv-file", ""])),
            (vec![], DEFAULT)
        );
    }

    #[test]
    fn the_target_is_read_from_the_words_so_far() {
        let t = target(&words(&["-n", "hr", "--context=prod", "run-now"]));
        assert_eq!(t.namespace.as_deref(), Some("hr"));
        assert_eq!(t.context.as_deref(), Some("prod"));
        assert_eq!(positionals(&words(&["-n", "hr", "run-now"])), ["run-now"]);
    }
}
