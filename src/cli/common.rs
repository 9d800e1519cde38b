//! Flags shared by several subcommands.

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

use crate::hrdata::{
    DEFAULT_MAX_COLUMNS, DEFAULT_MAX_FIELD_BYTES, Field, InvalidRows, Limits, OptionsError,
    Scenario, ScenarioChoice, ValidationOptions, schema,
};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// What to do with records that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum InvalidRowsArg {
    /// Any invalid record makes the whole file invalid; nothing is sent.
    #[default]
    Reject,
    /// Invalid records are left out and counted; the rest is sent.
    Skip,
}

/// `--scenario`: one of the scenarios of the schema, or `multiple`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioArg(pub ScenarioChoice);

impl ValueEnum for ScenarioArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [ScenarioArg; Scenario::ALL.len() + 1] = [
            ScenarioArg(ScenarioChoice::One(Scenario::ALL[0])),
            ScenarioArg(ScenarioChoice::One(Scenario::ALL[1])),
            ScenarioArg(ScenarioChoice::One(Scenario::ALL[2])),
            ScenarioArg(ScenarioChoice::One(Scenario::ALL[3])),
            ScenarioArg(ScenarioChoice::One(Scenario::ALL[4])),
            ScenarioArg(ScenarioChoice::Multiple),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self.0 {
            ScenarioChoice::One(s) => {
                PossibleValue::new(s.cli_name()).help(format!("{} data", s.default_value()))
            }
            ScenarioChoice::Multiple => PossibleValue::new("multiple")
                .help("several scenarios in one file, told apart by --scenario-column"),
        })
    }
}

/// The scenario, column mapping and invalid-row policy, as entered in the portal.
#[derive(Debug, Clone, Args)]
pub struct ColumnArgs {
    /// The HR data type of the file, as chosen when the connector was created in the portal.
    #[arg(long, value_enum, default_value = "resignation")]
    pub scenario: ScenarioArg,
    #[arg(long = "column", value_name = "FIELD=HEADER", long_help = schema::column_flag_help(),
          help = "Header of a column in the file, e.g. remarks=ImprovementRemarks (repeatable; \
                  --help lists the fields)")]
    pub columns: Vec<String>,
    /// Same as --column emailAddress=NAME.
    #[arg(long, value_name = "NAME")]
    pub email_column: Option<String>,
    /// Same as --column terminationDate=NAME (resignation).
    #[arg(long, value_name = "NAME")]
    pub termination_date_column: Option<String>,
    /// Same as --column lastWorkingDate=NAME (resignation).
    #[arg(long, value_name = "NAME")]
    pub last_working_date_column: Option<String>,
    /// With --scenario multiple: header of the column naming each record's scenario
    /// [default: HRScenario].
    #[arg(long, value_name = "HEADER")]
    pub scenario_column: Option<String>,
    /// With --scenario multiple: the text of the scenario column that means SCENARIO, as mapped
    /// in the portal (repeatable). Defaults: resignation=Resignation, job-level-change="Job level
    /// change", performance-review="Performance review", performance-improvement-plan=
    /// "Performance improvement plan", employee-profile="Employee profile".
    #[arg(long, value_name = "SCENARIO=TEXT")]
    pub scenario_value: Vec<String>,
    /// What to do with records that fail validation.
    #[arg(long, value_enum, default_value_t = InvalidRowsArg::Reject)]
    pub invalid_rows: InvalidRowsArg,
    /// Longest field allowed, in bytes, in the header or any record: a file with a longer one
    /// is invalid (exit 1), and is not read further.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FIELD_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_field_bytes: u64,
    /// Most columns allowed in the header or any record: a file with more is invalid (exit 1),
    /// and is not read further.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_COLUMNS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_columns: u64,
}

impl ColumnArgs {
    /// The validation options, or a usage error naming the flag and the values it takes.
    pub fn validation_options(&self) -> Result<ValidationOptions, String> {
        let mut opts = ValidationOptions {
            scenario: self.scenario.0,
            invalid_rows: match self.invalid_rows {
                InvalidRowsArg::Reject => InvalidRows::Reject,
                InvalidRowsArg::Skip => InvalidRows::Skip,
            },
            limits: Limits {
                max_field_bytes: usize::try_from(self.max_field_bytes).unwrap_or(usize::MAX),
                max_columns: usize::try_from(self.max_columns).unwrap_or(usize::MAX),
            },
            ..ValidationOptions::default()
        };
        let valid_fields = opts
            .fields()
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ");
        let legacy = [
            (Field::EmailAddress, &self.email_column),
            (Field::TerminationDate, &self.termination_date_column),
            (Field::LastWorkingDate, &self.last_working_date_column),
        ];
        let mut mapped = Vec::new();
        for (field, header) in legacy {
            if let Some(header) = header {
                mapped.push((field, header.clone()));
            }
        }
        for arg in &self.columns {
            let (field, header) = arg.split_once('=').ok_or_else(|| {
                format!(
                    "--column {arg:?}: expected FIELD=HEADER; FIELD is one of {}",
                    valid_fields
                )
            })?;
            let field = Field::parse(field).ok_or_else(|| {
                format!(
                    "--column {arg:?}: unknown field {field:?}; the fields of --scenario {} are {}",
                    self.scenario_name(),
                    valid_fields
                )
            })?;
            mapped.push((field, header.to_owned()));
        }
        for (i, (field, header)) in mapped.iter().enumerate() {
            if mapped[..i].iter().any(|(f, h)| f == field && h != header) {
                return Err(format!("the header of {field} is given twice, differently"));
            }
            opts.columns.set(*field, header.clone());
        }

        let multiple = opts.scenario == ScenarioChoice::Multiple;
        if let Some(column) = &self.scenario_column {
            if !multiple {
                return Err("--scenario-column needs --scenario multiple".to_owned());
            }
            opts.scenario_column = column.clone();
        }
        for arg in &self.scenario_value {
            if !multiple {
                return Err("--scenario-value needs --scenario multiple".to_owned());
            }
            let names = || Scenario::ALL.map(Scenario::cli_name).join(", ");
            let (scenario, text) = arg.split_once('=').ok_or_else(|| {
                format!(
                    "--scenario-value {arg:?}: expected SCENARIO=TEXT; SCENARIO is one of {}",
                    names()
                )
            })?;
            let scenario = Scenario::parse(scenario).ok_or_else(|| {
                format!(
                    "--scenario-value {arg:?}: unknown scenario {scenario:?}; the scenarios are {}",
                    names()
                )
            })?;
            opts.scenario_values.set(scenario, text);
        }
        opts.check().map_err(|problems| {
            problems
                .iter()
                .map(|p| match p {
                    OptionsError::FieldNotInScenario { field, .. } => format!(
                        "--column {field}: not a column of --scenario {}; its fields are {}",
                        self.scenario_name(),
                        valid_fields
                    ),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        Ok(opts)
    }

    fn scenario_name(&self) -> &'static str {
        match self.scenario.0 {
            ScenarioChoice::One(s) => s.cli_name(),
            ScenarioChoice::Multiple => "multiple",
        }
    }
}

/// `--require-fips` / `HRCONNECTOR_REQUIRE_FIPS=1` (`1`, `true`, `yes`, `on`; `0`, `false`, ... off).
#[derive(Debug, Clone, Args)]
pub struct FipsArgs {
    /// Refuse to start unless the cryptography runs on the FIPS 140-3 module (a build with
    /// `--features fips`, the image tagged -fips) and every TLS configuration reports FIPS.
    /// A build without it exits with status 2.
    #[arg(long, env = "HRCONNECTOR_REQUIRE_FIPS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub require_fips: bool,
}

impl FipsArgs {
    /// Checks `--require-fips` against the outbound HTTP clients' TLS and `more` (named for the
    /// message); the message to print before exiting with status 2. Trust (`--ca-file`) does not
    /// change whether a configuration is FIPS, so a bad bundle is left to the run, which
    /// reports it as it always does (InvalidTrustedCA).
    pub fn check(&self, more: &[(&str, &rustls::ClientConfig)]) -> Result<(), String> {
        if !self.require_fips {
            return Ok(());
        }
        let http = crate::http_client::tls_config(&crate::http_client::HttpClientConfig::default())
            .map_err(|e| e.to_string())?;
        let mut configs = vec![("Entra ID and the ingestion service", &http)];
        configs.extend_from_slice(more);
        crate::fips::require(&configs).map_err(|e| e.to_string())?;
        tracing::info!(
            "FIPS 140-3: every TLS connection and signature uses the AWS-LC FIPS module"
        );
        Ok(())
    }
}

/// Writes `text` to stdout. A reader that closed the pipe (`version | grep -q …`, `| head`)
/// has what it wanted: that is `Ok`, not an error, and never the panic `println!` gives.
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
