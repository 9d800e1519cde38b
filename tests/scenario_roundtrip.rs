//! Property tests for every scenario, with files generated from the schema itself: valid files
//! (multi-byte text up to each column's limit, blank optional values, quoted fields, multi-scenario
//! files with their rows shuffled) validate, are counted per scenario and survive chunking
//! unchanged, planned or re-written; arbitrary bytes after a scenario's header never panic.

#[path = "common/rows.rs"]
mod rows;

use std::collections::BTreeMap;

use hrconnector::hrdata::{
    BytesSource, ChunkReader, Field, InvalidRows, Rule, Scenario, ScenarioChoice,
    ValidationOptions, validate, validate_and_plan,
};
use proptest::prelude::*;
use rows::parse_rows as rows;

fn choice() -> impl Strategy<Value = ScenarioChoice> {
    prop_oneof![
        proptest::sample::select(Scenario::ALL.to_vec()).prop_map(ScenarioChoice::One),
        Just(ScenarioChoice::Multiple),
    ]
}

/// A value that passes `rule` (blank allowed when the column is optional).
fn value(rule: Rule, required: bool) -> BoxedStrategy<String> {
    let text = match rule {
        Rule::Email => "[a-z]{1,8}(\\.[a-z]{1,5})?@[a-z]{1,8}\\.(com|org)".boxed(),
        Rule::DateTime => prop_oneof![
            Just("2019-04-24T09:15:49Z".to_owned()),
            Just("2019-04-29T15:18:02.7117540".to_owned()),
            Just("2019-04-23T15:18:02.4675041+05:30".to_owned()),
        ]
        .boxed(),
        // Up to the limit in characters, many of them multi-byte, with CSV's special bytes.
        Rule::Text { max_chars } => {
            let max = max_chars.unwrap_or(40);
            proptest::collection::vec(
                proptest::sample::select(vec!['a', ' ', ',', '"', '\n', 'é', '中', '😀']),
                1..=max,
            )
            .prop_map(|c| c.into_iter().collect())
            .boxed()
        }
    };
    if required {
        text
    } else {
        prop_oneof![Just(String::new()), text].boxed()
    }
}

/// A record of `scenario` over `fields` (the file's columns): its own columns hold valid
/// values, the others are blank.
fn record(scenario: Scenario, fields: Vec<Field>) -> impl Strategy<Value = Vec<String>> {
    let values: Vec<BoxedStrategy<String>> = fields
        .iter()
        .map(
            |f| match scenario.columns().iter().find(|c| c.field == *f) {
                Some(c) => value(c.rule, c.required),
                None => Just(String::new()).boxed(),
            },
        )
        .collect();
    values
}

#[derive(Debug, Clone)]
struct File {
    choice: ScenarioChoice,
    header: Vec<String>,
    records: Vec<Vec<String>>,
    per_scenario: BTreeMap<Scenario, u64>,
    bytes: Vec<u8>,
}

fn file() -> impl Strategy<Value = File> {
    (choice(), any::<bool>())
        .prop_flat_map(|(choice, crlf)| {
            let fields = ValidationOptions {
                scenario: choice,
                ..ValidationOptions::default()
            }
            .fields();
            let rows = proptest::collection::vec(
                proptest::sample::select(choice.scenarios()).prop_flat_map({
                    let fields = fields.clone();
                    move |s| (Just(s), record(s, fields.clone()))
                }),
                0..20,
            );
            (Just(choice), Just(crlf), Just(fields), rows)
        })
        .prop_map(|(choice, crlf, fields, rows)| {
            let mut header: Vec<String> = fields
                .iter()
                .map(|f| f.default_header().to_owned())
                .collect();
            let multiple = choice == ScenarioChoice::Multiple;
            if multiple {
                header.insert(0, "HRScenario".to_owned());
            }
            let mut w = csv::WriterBuilder::new()
                .terminator(if crlf {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .from_writer(Vec::new());
            w.write_record(&header).expect("write");
            let mut records = Vec::new();
            let mut per_scenario = BTreeMap::new();
            if let ScenarioChoice::One(s) = choice {
                per_scenario.insert(s, 0);
            }
            for (scenario, mut rec) in rows {
                if multiple {
                    rec.insert(0, scenario.default_value().to_owned());
                }
                w.write_record(&rec).expect("write");
                records.push(rec);
                *per_scenario.entry(scenario).or_default() += 1;
            }
            File {
                choice,
                header,
                records,
                per_scenario,
                bytes: w.into_inner().expect("flush"),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Valid files of every scenario validate, are counted per scenario, and come back whole
    /// from chunking, with the header first in every chunk.
    #[test]
    fn every_scenario_round_trips(f in file(), k in 1usize..6) {
        let src = BytesSource::new("t.csv", f.bytes.clone());
        let opts = ValidationOptions { scenario: f.choice, ..ValidationOptions::default() };
        let (report, plan) = validate_and_plan(&src, &opts, k).expect("readable");
        prop_assert!(report.is_valid(), "{:?}", report.errors);
        prop_assert_eq!(report.records, f.records.len() as u64);
        prop_assert_eq!(&report.scenarios, &f.per_scenario);
        for planned in [true, false] {
            let mut reader = if planned {
                ChunkReader::open_planned(&src, &opts, plan.clone(), k, 0).expect("open")
            } else {
                ChunkReader::open(&src, &opts, k, 0).expect("open")
            };
            let mut got = Vec::new();
            while let Some(chunk) = reader.next_chunk().expect("chunk") {
                let mut r = rows(&chunk.body);
                prop_assert_eq!(&r[0], &f.header);
                prop_assert!(r.len() - 1 <= k);
                got.extend(r.drain(1..));
            }
            prop_assert_eq!(&got, &f.records);
            prop_assert_eq!(reader.sha256(), Some(report.sha256.clone()));
        }
    }

    /// Arbitrary bytes after a scenario's header, in both invalid-row modes, never panic, and
    /// chunking with Skip sends exactly the accepted records.
    #[test]
    fn arbitrary_bytes_never_panic_for_any_scenario(
        choice in choice(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        with_header in any::<bool>(),
    ) {
        let fields = ValidationOptions { scenario: choice, ..ValidationOptions::default() }.fields();
        let mut bytes = Vec::new();
        if with_header {
            if choice == ScenarioChoice::Multiple {
                bytes.extend_from_slice(b"HRScenario,");
            }
            let names: Vec<_> = fields.iter().map(|f| f.default_header()).collect();
            bytes.extend_from_slice(names.join(",").as_bytes());
            bytes.push(b'\n');
        }
        bytes.extend(body);
        let src = BytesSource::new("t.csv", bytes);
        for invalid_rows in [InvalidRows::Reject, InvalidRows::Skip] {
            let opts = ValidationOptions { scenario: choice, invalid_rows, ..ValidationOptions::default() };
            let report = validate(&src, &opts);
            if let (Ok(report), Ok(mut reader)) = (&report, ChunkReader::open(&src, &opts, 3, 0)) {
                let mut sent = 0u64;
                while let Ok(Some(chunk)) = reader.next_chunk() {
                    sent += chunk.records as u64;
                }
                if invalid_rows == InvalidRows::Skip && reader.sha256().is_some() {
                    prop_assert_eq!(sent, report.accepted());
                    prop_assert_eq!(report.scenarios.values().sum::<u64>(), report.accepted());
                }
            }
        }
    }
}
