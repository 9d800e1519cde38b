//! `kubectl hrconnector status [JOB] [-n NS | -A]`: one line per job, as a person reads it.

use std::process::ExitCode;

use clap::Args;
use jiff::Timestamp;
use kube::api::{Api, ListParams};

use super::client::{Connected, PluginError};
use crate::crd::HrConnectorJob;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One job (default: every job in the namespace).
    pub job: Option<String>,
    /// Jobs of every namespace (adds a NAMESPACE column).
    #[arg(short = 'A', long, conflicts_with = "job")]
    pub all_namespaces: bool,
}

pub async fn run(target: &Connected, args: StatusArgs) -> Result<ExitCode, PluginError> {
    let jobs = match &args.job {
        Some(name) => vec![target.get_job(name).await?],
        None => {
            let api: Api<HrConnectorJob> = if args.all_namespaces {
                Api::all(target.client.clone())
            } else {
                target.jobs()
            };
            let what = if args.all_namespaces {
                "list hrconnectorjobs in all namespaces".to_string()
            } else {
                format!("list hrconnectorjobs in {}", target.namespace)
            };
            api.list(&ListParams::default())
                .await
                .map_err(|e| PluginError::from_kube(what, e))?
                .items
        }
    };
    if jobs.is_empty() {
        if args.all_namespaces {
            eprintln!("No HrConnectorJobs found.");
        } else {
            eprintln!("No HrConnectorJobs found in {}.", target.namespace);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    let rows: Vec<Row> = jobs.iter().map(|job| Row::of(job, now)).collect();
    print!("{}", table(&rows, args.all_namespaces));
    // One job asked for by name: what its conditions and last run say, in full.
    if let [job] = jobs.as_slice()
        && args.job.is_some()
    {
        for line in details(job) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One job as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub namespace: String,
    pub name: String,
    pub ready: String,
    pub reason: String,
    pub last_run: String,
    pub records: String,
    pub next_run: String,
}

impl Row {
    pub fn of(job: &HrConnectorJob, now: Timestamp) -> Row {
        let status = job.status.clone().unwrap_or_default();
        let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
        let last_run = status.last_run.as_ref().map(|run| {
            let result = run
                .result
                .map(|r| crate::upload::RunResult::from(r).as_str().to_string());
            match result {
                Some(result) => format!("{} ({result})", since(run.start_time.0, now)),
                None => since(run.start_time.0, now),
            }
        });
        let next_run = if job.spec.suspend {
            Some("suspended".to_string())
        } else {
            status.next_schedule_time.as_ref().map(|t| since(t.0, now))
        };
        Row {
            namespace: job.metadata.namespace.clone().unwrap_or_default(),
            name: job.metadata.name.clone().unwrap_or_default(),
            ready: ready.map_or("Unknown".into(), |c| c.status.clone()),
            reason: ready.map_or("-".into(), |c| c.reason.clone()),
            last_run: last_run.unwrap_or_else(|| "-".into()),
            records: status.records_saved.map_or("-".into(), |n| n.to_string()),
            next_run: next_run.unwrap_or_else(|| "-".into()),
        }
    }
}

/// The rows as a table with kubectl's look: upper-case headings, columns three spaces apart.
pub fn table(rows: &[Row], with_namespace: bool) -> String {
    let mut lines: Vec<Vec<&str>> = vec![];
    let mut heading = vec!["NAME", "READY", "REASON", "LAST RUN", "RECORDS", "NEXT RUN"];
    if with_namespace {
        heading.insert(0, "NAMESPACE");
    }
    lines.push(heading);
    for row in rows {
        let mut cells = vec![
            row.name.as_str(),
            &row.ready,
            &row.reason,
            &row.last_run,
            &row.records,
            &row.next_run,
        ];
        if with_namespace {
            cells.insert(0, &row.namespace);
        }
        lines.push(cells);
    }
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == columns {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// `3h12m ago` for a past time, `in 21h` for a future one (kubectl's ages, with a direction).
pub fn since(t: Timestamp, now: Timestamp) -> String {
    let seconds = now.as_second() - t.as_second();
    if seconds >= 0 {
        format!("{} ago", age(seconds))
    } else {
        format!("in {}", age(-seconds))
    }
}

/// The two largest units of a duration: `45s`, `5m12s`, `3h12m`, `2d4h`.
fn age(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h{m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d{h}h"),
    }
}

/// A job's own words: every condition's message, the last run's, and its warnings.
fn details(job: &HrConnectorJob) -> Vec<String> {
    let Some(status) = &job.status else {
        return vec!["The operator has not reported on this job yet.".into()];
    };
    let mut lines = vec![];
    for c in &status.conditions {
        if !c.message.is_empty() {
            lines.push(format!("{} ({}): {}", c.type_, c.status, c.message));
        }
    }
    if let Some(message) = status.last_run.as_ref().and_then(|r| r.message.as_deref()) {
        lines.push(format!("Last run: {message}"));
    }
    if let Some(run) = &status.current_run {
        lines.push(format!(
            "Running since {} ({})",
            run.start_time.0.strftime("%Y-%m-%dT%H:%M:%SZ"),
            run.trigger
        ));
    }
    for warning in &status.warnings {
        lines.push(format!("Warning: {warning}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("timestamp")
    }

    #[test]
    fn ages_read_like_kubectl_with_a_direction() {
        let now = at(1_000_000);
        assert_eq!(since(at(1_000_000 - 45), now), "45s ago");
        assert_eq!(since(at(1_000_000 - 312), now), "5m12s ago");
        assert_eq!(since(at(1_000_000 - 3 * 3600 - 12 * 60), now), "3h12m ago");
        assert_eq!(since(at(1_000_000 + 21 * 3600), now), "in 21h");
        assert_eq!(
            since(at(1_000_000 - 2 * 86_400 - 4 * 3600), now),
            "2d4h ago"
        );
    }

    #[test]
    fn columns_line_up_under_their_headings() {
        let row = |name: &str, reason: &str| Row {
            namespace: "hr".into(),
            name: name.into(),
            ready: "True".into(),
            reason: reason.into(),
            last_run: "-".into(),
            records: "3".into(),
            next_run: "in 1h".into(),
        };
        let text = table(
            &[row("nightly", "Succeeded"), row("p", "NothingToUpload")],
            true,
        );
        let lines: Vec<&str> = text.lines().collect();
        let column = |heading: &str| lines[0].find(heading).expect("heading");
        assert_eq!(lines[1].find("True"), Some(column("READY")));
        assert_eq!(lines[2].find("NothingToUpload"), Some(column("REASON")));
        assert_eq!(lines[2].find("in 1h"), Some(column("NEXT RUN")));
    }
}
