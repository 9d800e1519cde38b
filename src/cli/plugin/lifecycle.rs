//! `run-now`, `suspend` and `resume`: the annotation and the field the operator acts on,
//! written by a merge patch so nothing else of the job changes.

use std::process::ExitCode;

use serde_json::json;

use super::client::{Connected, PluginError};
use crate::crd::RUN_NOW_ANNOTATION;

/// Sets the run-now annotation to the current time: a new value is what starts a run.
pub async fn run_now(target: &Connected, name: &str) -> Result<ExitCode, PluginError> {
    let value = jiff::Timestamp::now().to_string();
    let patch = json!({"metadata": {"annotations": {RUN_NOW_ANNOTATION: value}}});
    let job = target.merge_patch(name, patch).await?;
    println!(
        "hrconnectorjob.hrconnector.io/{name} run requested ({RUN_NOW_ANNOTATION}={value}); \
         follow it with: kubectl hrconnector status {name} -n {}",
        target.namespace
    );
    if job.spec.suspend {
        println!("note: the job is suspended; run-now still runs it once");
    }
    Ok(ExitCode::SUCCESS)
}

/// `spec.suspend: suspend`. Under GitOps the repository's value wins at the next sync: change
/// it there to keep it.
pub async fn set_suspend(
    target: &Connected,
    name: &str,
    suspend: bool,
) -> Result<ExitCode, PluginError> {
    let before = target.get_job(name).await?;
    let verb = if suspend { "suspended" } else { "resumed" };
    if before.spec.suspend == suspend {
        println!("hrconnectorjob.hrconnector.io/{name} already {verb}");
        return Ok(ExitCode::SUCCESS);
    }
    target
        .merge_patch(name, json!({"spec": {"suspend": suspend}}))
        .await?;
    println!("hrconnectorjob.hrconnector.io/{name} {verb}");
    Ok(ExitCode::SUCCESS)
}
