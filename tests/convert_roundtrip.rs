//! Converting a file already in the connector's format is the identity on instants: every
//! record, every other value, and every date-time's instant come out as they went in.

use std::sync::Arc;

use hrconnector::convert::{InputOptions, convert};
use hrconnector::hrdata::{BytesSource, CsvSource, ValidationOptions};
use jiff::{Timestamp, tz::Offset};
use proptest::prelude::*;

/// A date-time in the connector's form: seconds, an optional fraction, `Z` or an offset.
fn connector_date_time() -> impl Strategy<Value = String> {
    (
        -2_208_988_800i64..4_102_444_800,
        0u32..10_000_000,
        prop::option::of(-14 * 60i32..=14 * 60),
    )
        .prop_map(|(secs, hundreds_of_ns, offset_minutes)| {
            let ts = Timestamp::new(secs, (hundreds_of_ns * 100) as i32).expect("in range");
            let fraction = if hundreds_of_ns == 0 {
                String::new()
            } else {
                format!(".{hundreds_of_ns:07}")
            };
            match offset_minutes {
                None => format!("{}{fraction}Z", ts.strftime("%Y-%m-%dT%H:%M:%S")),
                Some(m) => {
                    let offset = Offset::from_seconds(m * 60).expect("offset");
                    let local = offset.to_datetime(ts);
                    let sign = if m < 0 { '-' } else { '+' };
                    format!(
                        "{}{fraction}{sign}{:02}:{:02}",
                        local.strftime("%Y-%m-%dT%H:%M:%S"),
                        m.abs() / 60,
                        m.abs() % 60
                    )
                }
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn canonical_files_convert_to_the_same_instants(
        rows in prop::collection::vec((connector_date_time(), connector_date_time(), "[a-zA-Z0-9 ,;\"'\n\tÀ-ÿ€]{0,20}"), 1..20)
    ) {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["EmailAddress", "TerminationDate", "LastWorkingDate", "Note"]).unwrap();
        for (i, (t, l, note)) in rows.iter().enumerate() {
            writer.write_record([format!("p{i}@contoso.com").as_str(), t, l, note]).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let source: Arc<dyn CsvSource> = Arc::new(BytesSource::new("canonical.csv", bytes));
        // A time zone asked for puts the stage to work on a file that needs nothing.
        let input = InputOptions { time_zone: Some("America/New_York".into()), ..InputOptions::default() };
        let conversion = convert(source, &input, &ValidationOptions::default(), 1).unwrap();
        prop_assert!(conversion.report.converted);
        let mut reader = csv::Reader::from_reader(conversion.source.open().unwrap());
        let converted: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        prop_assert_eq!(converted.len(), rows.len());
        let instant = |v: &str| v.parse::<Timestamp>().unwrap();
        for (i, ((t, l, note), got)) in rows.iter().zip(&converted).enumerate() {
            let email = format!("p{i}@contoso.com");
            prop_assert_eq!(&got[0], email.as_str());
            prop_assert_eq!(instant(&got[1]), instant(t));
            prop_assert_eq!(instant(&got[2]), instant(l));
            prop_assert_eq!(&got[3], note.as_str());
        }
        let report = hrconnector::hrdata::validate(conversion.source.as_ref(), &conversion.validation).unwrap();
        prop_assert!(report.is_valid(), "{:?}", report.errors);
    }
}
