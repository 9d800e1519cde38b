//! A converted file is validated as it is written (hrdata/written.rs), and that validation is
//! the one a parse of the written file gives: the same report (records, rejections, every error
//! with its record, line and column, warnings, SHA-256, scenarios) and the same chunk plan, for
//! any export: quoted values with delimiters and line breaks, padding, bad e-mails and dates,
//! rows of the wrong length, blank lines, several scenarios.

use std::io::Read;
use std::sync::Arc;

use hrconnector::convert::options::{DateFormats, Delimiter};
use hrconnector::convert::{InputOptions, convert};
use hrconnector::hrdata::{
    BytesSource, CsvSource, ScenarioChoice, ValidationOptions, validate, validate_and_plan,
};
use proptest::prelude::*;

/// One value of an export: often a plain one of its column, sometimes anything.
fn value(plain: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(plain.to_owned()),
        1 => "[ a-z0-9@.;,\"\r\n/:APM-]{0,14}",
    ]
}

/// A row: e-mail, termination date, last working date, a note, sometimes a field less or more.
fn row() -> impl Strategy<Value = Vec<String>> {
    (
        value("ann@contoso.com"),
        value("11/30/2026 5:30:00 PM"),
        value("3/8/2026 2:30 AM"),
        value(" padded "),
        0usize..6,
    )
        .prop_map(|(email, termination, last, note, shape)| {
            let mut fields = vec![email, termination, last, note];
            match shape {
                0 => {
                    fields.pop();
                }
                1 => fields.push("extra".into()),
                _ => {}
            }
            fields
        })
}

/// Writes `rows` `;`-delimited, quoting what needs it, with a blank line now and then.
fn export(header: &[&str], rows: &[Vec<String>], blank_every: usize) -> Vec<u8> {
    // One writer per record, so that blank lines can go between them.
    fn write<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(out: &mut Vec<u8>, record: I) {
        csv::WriterBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_writer(out)
            .write_record(record)
            .expect("in memory");
    }
    let mut out = Vec::new();
    write(&mut out, header);
    for (i, row) in rows.iter().enumerate() {
        write(&mut out, row);
        if blank_every > 0 && i % blank_every == 0 {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn input(trim: bool) -> InputOptions {
    let mut dates = DateFormats::default();
    dates.add("us").expect("a preset");
    InputOptions {
        delimiter: Some(Delimiter::Semicolon),
        trim,
        dates,
        time_zone: Some("America/New_York".into()),
        ..InputOptions::default()
    }
}

/// The converted file's bytes, read as any reader of it does.
fn written(source: &dyn CsvSource) -> Vec<u8> {
    let mut bytes = Vec::new();
    source
        .open()
        .expect("opens")
        .read_to_end(&mut bytes)
        .expect("reads");
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn validation_as_written_is_validation_of_the_written_file(
        rows in prop::collection::vec(row(), 0..40),
        blank_every in 0usize..5,
        trim in any::<bool>(),
        records_per_call in 1usize..7,
        scenarios in any::<bool>(),
    ) {
        let mut header = vec!["EmailAddress", "TerminationDate", "LastWorkingDate", "Note"];
        let mut rows = rows;
        let validation = if scenarios {
            // Several scenarios: a column names each record's.
            header.push("HRScenarios");
            for (i, row) in rows.iter_mut().enumerate() {
                row.push(["Resignation", "resignation", "Unknown", ""][i % 4].to_owned());
            }
            ValidationOptions { scenario: ScenarioChoice::Multiple, ..ValidationOptions::default() }
        } else {
            ValidationOptions::default()
        };
        let bytes = export(&header, &rows, blank_every);
        let source: Arc<dyn CsvSource> = Arc::new(BytesSource::new("export.csv", bytes));
        let conversion = convert(source, &input(trim), &validation, records_per_call).expect("converts");

        let file = BytesSource::new("export.csv", written(conversion.source.as_ref()));
        let parsed = validate_and_plan(&file, &conversion.validation, records_per_call);
        let as_written = validate_and_plan(conversion.source.as_ref(), &conversion.validation, records_per_call);
        match (parsed, as_written) {
            (Ok(parsed), Ok(as_written)) => {
                prop_assert_eq!(&as_written, &parsed);
                // `validate` gives the same report.
                let report = validate(conversion.source.as_ref(), &conversion.validation).expect("validates");
                prop_assert_eq!(report, parsed.0);
            }
            (Err(parsed), Err(as_written)) => prop_assert_eq!(as_written.to_string(), parsed.to_string()),
            (parsed, as_written) => prop_assert!(false, "parsed {parsed:?}, as written {as_written:?}"),
        }
    }
}

/// A conversion keeps its validation with the converted file, for the options it was done
/// with; other options validate the file's bytes.
#[test]
fn a_conversion_keeps_its_validation_for_its_own_options() {
    let rows = vec![vec![
        "ann@contoso.com".to_owned(),
        "11/30/2026 5:30:00 PM".to_owned(),
        "13/30/2026".to_owned(),
        "note".to_owned(),
    ]];
    let bytes = export(
        &["EmailAddress", "TerminationDate", "LastWorkingDate", "Note"],
        &rows,
        0,
    );
    let source: Arc<dyn CsvSource> = Arc::new(BytesSource::new("export.csv", bytes));
    let conversion =
        convert(source, &input(false), &ValidationOptions::default(), 1).expect("converts");
    assert!(conversion.source.prevalidated().is_some());
    let file = BytesSource::new("export.csv", written(conversion.source.as_ref()));
    let report = validate(conversion.source.as_ref(), &conversion.validation).expect("validates");
    assert_eq!((report.records, report.rejected), (1, 1));
    assert_eq!(
        report,
        validate(&file, &conversion.validation).expect("validates")
    );
    let other = ValidationOptions {
        max_errors: 0,
        ..conversion.validation.clone()
    };
    let again = validate(conversion.source.as_ref(), &other).expect("validates");
    assert!(again.errors.is_empty());
    assert_eq!(again, validate(&file, &other).expect("validates"));
}
