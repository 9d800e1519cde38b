//! `kubectl hrconnector history JOB`: the runs status keeps, newest first.

use std::process::ExitCode;

use super::client::{Connected, PluginError};

pub async fn run(target: &Connected, name: &str) -> Result<ExitCode, PluginError> {
    let job = target.get_job(name).await?;
    let status = job.status.unwrap_or_default();
    if let Some(run) = &status.current_run {
        println!(
            "{} running ({}, run {})",
            run.start_time.0.strftime("%Y-%m-%dT%H:%M:%SZ"),
            run.trigger,
            run.id
        );
    }
    if status.history.is_empty() {
        if status.current_run.is_none() {
            println!("hrconnectorjob {}/{name} has not run yet", target.namespace);
        }
        return Ok(ExitCode::SUCCESS);
    }
    for line in &status.history {
        println!("{line}");
    }
    // The newest run's message is kept once, in lastRun, not in its history line.
    if let Some(message) = status.last_run.as_ref().and_then(|r| r.message.as_deref()) {
        println!("\nLast run: {message}");
    }
    Ok(ExitCode::SUCCESS)
}
