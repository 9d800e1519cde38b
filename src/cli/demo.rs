//! `hrconnector demo`: the whole job with no setup. Starts the emulator in-process on a free
//! loopback port, validates and uploads the documentation's sample file through the real client,
//! and prints the result and the emulator's log.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::common::OutputFormat;
use crate::cloud::Cloud;
use crate::emulator::{self, AppRegistration, EmulatorConfig};
use crate::hrdata::{BytesSource, ValidationOptions};
use crate::upload::{
    AppCredentials, ClientAuth, NoCheckpoint, RunResult, UploadRequest, Uploader, UploaderConfig,
};

/// The documentation's sample file, embedded so the demo runs from any directory.
const SAMPLE_CSV: &[u8] = include_bytes!("../../examples/employee_termination_data.csv");

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn run(args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    match runtime.block_on(demo(args.output)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

async fn demo(output: OutputFormat) -> anyhow::Result<ExitCode> {
    let config = EmulatorConfig {
        apps: vec![AppRegistration {
            tenant_id: emulator::DEMO_TENANT_ID.into(),
            app_id: emulator::DEMO_APP_ID.into(),
            secret: Some(emulator::DEMO_APP_SECRET.into()),
            certificate_pem: None,
            federated_credentials: Vec::new(),
        }],
        jobs: vec![emulator::DEMO_JOB_ID.into()],
        ..EmulatorConfig::default()
    };
    let emu = emulator::start(config, ([127, 0, 0, 1], 0).into()).await?;
    if output == OutputFormat::Text {
        println!(
            "Emulator listening on {} (token and ingestion endpoints)",
            emu.url()
        );
        println!(
            "Uploading the documentation's sample (examples/employee_termination_data.csv) to job {}",
            emulator::DEMO_JOB_ID
        );
        println!();
    }
    let endpoints = Cloud::Gcc
        .endpoints()
        .with_overrides(Some(&emu.url()), Some(&emu.url()), None);
    let credentials = AppCredentials {
        scrubber: Default::default(),
        tenant_id: emulator::DEMO_TENANT_ID.into(),
        app_id: emulator::DEMO_APP_ID.into(),
        auth: ClientAuth::Secret(SecretString::from(emulator::DEMO_APP_SECRET)),
    };
    let uploader = Uploader::new(UploaderConfig::new(endpoints, credentials))?;
    let request = UploadRequest {
        source: Arc::new(BytesSource {
            name: "employee_termination_data.csv".into(),
            data: bytes::Bytes::from_static(SAMPLE_CSV),
        }),
        job_id: emulator::DEMO_JOB_ID.into(),
        validation: ValidationOptions::default(),
        records_per_call: crate::upload::DEFAULT_RECORDS_PER_CALL,
        force: false,
        dry_run: false,
        policy: Default::default(),
        cancel: CancellationToken::new(),
    };
    let report = uploader.run(&request, &NoCheckpoint).await;
    let log = emu.log(emulator::DEMO_JOB_ID);
    match output {
        OutputFormat::Text => {
            super::report::print_text(&report);
            println!();
            println!(
                "Emulator log for job {} (like the portal's \"Download log\"):",
                emulator::DEMO_JOB_ID
            );
            for entry in &log {
                println!("  {}", serde_json::to_string(entry)?);
            }
        }
        OutputFormat::Json => {
            let combined = serde_json::json!({ "upload": report, "emulatorLog": log });
            println!("{combined}");
        }
    }
    emu.shutdown().await;
    Ok(if report.result == RunResult::Failed {
        ExitCode::from(super::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
