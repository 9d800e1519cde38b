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

/// The same people as a European Excel user saves them: ';', Windows-1252, day.month.year.
const EUROPEAN_EXPORT: &str = "EmailAddress;TerminationDate;LastWorkingDate;Motif\r\n\
     sarad@contoso.com;23.04.2019;29.04.2019;Départ volontaire\r\n\
     pilarp@contoso.com;24.04.2019;29.04.2019;Fin de période d'essai\r\n";

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Upload a European Excel export instead (';', Windows-1252, 23.04.2019), converted on
    /// the way as `--delimiter ';' --encoding windows-1252 --date-format %d.%m.%Y --time-zone
    /// Europe/Paris` would.
    #[arg(long)]
    pub convert: bool,
}

pub fn run(args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    match runtime.block_on(demo(args.output, args.convert)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

async fn demo(output: OutputFormat, convert: bool) -> anyhow::Result<ExitCode> {
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
    let (source, validation, conversion) = if convert {
        european_export(output).await?
    } else {
        let sample: Arc<dyn crate::hrdata::CsvSource> = Arc::new(BytesSource {
            name: "employee_termination_data.csv".into(),
            data: bytes::Bytes::from_static(SAMPLE_CSV),
        });
        (sample, ValidationOptions::default(), None)
    };
    let request = UploadRequest {
        source,
        job_id: emulator::DEMO_JOB_ID.into(),
        validation,
        records_per_call: crate::upload::DEFAULT_RECORDS_PER_CALL,
        force: false,
        dry_run: false,
        policy: Default::default(),
        conversion,
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

/// The European export, converted: the source to send, its validation options, the report.
async fn european_export(
    output: OutputFormat,
) -> anyhow::Result<(
    Arc<dyn crate::hrdata::CsvSource>,
    ValidationOptions,
    Option<Arc<crate::convert::ConversionReport>>,
)> {
    use crate::convert::options::{DateFormats, Delimiter, Encoding, InputOptions};
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(EUROPEAN_EXPORT);
    let export: Arc<dyn crate::hrdata::CsvSource> = Arc::new(BytesSource {
        name: "departs.csv".into(),
        data: bytes::Bytes::from(bytes.into_owned()),
    });
    let mut dates = DateFormats::default();
    dates
        .add("%d.%m.%Y")
        .map_err(|e| anyhow::anyhow!("the demo's date format: {e}"))?;
    let input = InputOptions {
        delimiter: Some(Delimiter::Semicolon),
        encoding: Some(Encoding::Windows1252),
        dates,
        time_zone: Some("Europe/Paris".into()),
        ..InputOptions::default()
    };
    let conversion = tokio::task::spawn_blocking(move || {
        crate::convert::convert(
            export,
            &input,
            &ValidationOptions::default(),
            crate::upload::DEFAULT_RECORDS_PER_CALL,
        )
    })
    .await??;
    if output == OutputFormat::Text {
        println!("Converted departs.csv from {}:", conversion.report.input);
        for c in &conversion.report.columns {
            println!("  {}: {} values as {}", c.header, c.converted, c.format);
        }
        println!();
    }
    Ok((
        conversion.source,
        conversion.validation,
        Some(Arc::new(conversion.report)),
    ))
}
