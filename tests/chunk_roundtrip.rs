//! Property tests: generated CSVs (quotes, commas, newlines in fields and header names, BOM,
//! CRLF, blank lines, unicode) survive chunking unchanged, also when resuming after a checkpoint
//! and when invalid records are skipped, both when chunks are re-written records and when they
//! are byte ranges planned by validation; line numbers are exact; and arbitrary bytes never make
//! validation or chunking panic.

#[path = "common/rows.rs"]
mod rows;

use hrconnector::hrdata::{
    BytesSource, ChunkReader, InvalidRows, ValidationOptions, validate, validate_and_plan,
};
use proptest::prelude::*;
use rows::parse_rows;

/// A CSV file as generated: header, records, and the serialized bytes.
#[derive(Debug, Clone)]
struct Generated {
    header: Vec<String>,
    records: Vec<Vec<String>>,
    bytes: Vec<u8>,
    /// Physical line (1-based) where each record starts in `bytes`.
    lines: Vec<u64>,
    /// Where the first record starts in `bytes` (after the blank lines before it).
    first_record_offset: usize,
}

fn free_text() -> impl Strategy<Value = String> {
    // Quotes, commas, both line ends, spaces, accents, CJK, emoji.
    "[a-zA-Z0-9 ,\"\r\n\u{e9}\u{4e2d}\u{1F600}]{0,12}"
}

fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2019-04-24T09:15:49Z".to_owned()),
        Just("2019-04-29T15:18:02.7117540".to_owned()),
        Just("2019-04-23T15:18:02.4675041+05:30".to_owned()),
        Just("2020-02-29T23:59:59-08:00".to_owned()),
    ]
}

fn record(extras: usize) -> impl Strategy<Value = Vec<String>> {
    (
        "[a-z]{1,8}(\\.[a-z]{1,5})?@[a-z]{1,8}\\.(com|org)",
        date(),
        date(),
        proptest::collection::vec(free_text(), extras),
    )
        .prop_map(|(email, t, l, extra)| {
            let mut r = vec![email];
            r.extend(extra);
            r.push(t);
            r.push(l);
            r
        })
}

fn generated() -> impl Strategy<Value = Generated> {
    (0usize..3)
        .prop_flat_map(|extras| {
            (
                Just(extras),
                proptest::collection::vec(record(extras), 0..30),
                any::<bool>(),                            // BOM
                any::<bool>(),                            // CRLF
                any::<bool>(),                            // quote every field
                proptest::collection::vec(0usize..3, 30), // blank lines before each record
                any::<bool>(),                            // final line end
            )
        })
        .prop_map(
            |(extras, records, bom, crlf, quote_all, blanks, final_eol)| {
                let mut header = vec!["emailAddress".to_owned()];
                // Extra header names need quoting too: a comma, a quote, an accent.
                header.extend((0..extras).map(|i| format!("Extra, \"{i}\" é")));
                header.push("TERMINATIONDATE".to_owned());
                header.push("LastWorkingDate".to_owned());

                let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
                let write = |fields: &[String]| {
                    let mut w = csv::WriterBuilder::new()
                        .quote_style(if quote_all {
                            csv::QuoteStyle::Always
                        } else {
                            csv::QuoteStyle::Necessary
                        })
                        .terminator(if crlf {
                            csv::Terminator::CRLF
                        } else {
                            csv::Terminator::Any(b'\n')
                        })
                        .from_writer(Vec::new());
                    w.write_record(fields).expect("write");
                    w.into_inner().expect("flush")
                };
                let mut bytes = Vec::new();
                if bom {
                    bytes.extend_from_slice(b"\xEF\xBB\xBF");
                }
                bytes.extend(write(&header));
                let mut lines = Vec::new();
                let mut first_record_offset = bytes.len();
                for (i, r) in records.iter().enumerate() {
                    for _ in 0..blanks[i] {
                        bytes.extend_from_slice(eol);
                    }
                    if i == 0 {
                        first_record_offset = bytes.len();
                    }
                    lines.push(1 + bytes.iter().filter(|&&b| b == b'\n').count() as u64);
                    bytes.extend(write(r));
                }
                if !final_eol && bytes.ends_with(eol) {
                    bytes.truncate(bytes.len() - eol.len());
                }
                Generated {
                    header,
                    records,
                    bytes,
                    lines,
                    first_record_offset,
                }
            },
        )
}

/// Opens a chunk reader the way the uploader does (after validating, from the plan) or by parsing
/// again. Every generated file is valid and has `\n` or `\r\n` line breaks, so it gets a plan.
fn open_chunks(src: &BytesSource, k: usize, skip: u64, planned: bool) -> ChunkReader {
    let opts = ValidationOptions::default();
    if !planned {
        return ChunkReader::open(src, &opts, k, skip).expect("open");
    }
    let (_, plan) = validate_and_plan(src, &opts, k).expect("validate");
    assert!(
        plan.is_some(),
        "a valid file with LF/CRLF line breaks is planned"
    );
    let reader = ChunkReader::open_planned(src, &opts, plan, k, skip).expect("open");
    assert!(reader.is_planned());
    reader
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn chunks_reassemble_to_the_input(g in generated(), k in 1usize..8, planned in any::<bool>()) {
        let src = BytesSource::new("gen.csv", g.bytes.clone());
        let report = validate(&src, &ValidationOptions::default()).expect("validate");
        prop_assert_eq!(report.records, g.records.len() as u64);
        prop_assert!(report.is_valid(), "{:?}", report.errors);

        let mut reader = open_chunks(&src, k, 0, planned);
        let mut rows = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = reader.next_chunk().expect("chunk") {
            let mut parsed = parse_rows(&chunk.body);
            prop_assert_eq!(&parsed[0], &g.header);
            parsed.remove(0);
            prop_assert_eq!(parsed.len(), chunk.records);
            prop_assert_eq!(chunk.first_record, rows.len() as u64);
            rows.extend(parsed);
            chunks += 1;
        }
        prop_assert_eq!(chunks, g.records.len().div_ceil(k));
        prop_assert_eq!(&rows, &g.records);
        prop_assert_eq!(reader.sha256(), Some(report.sha256));
    }

    #[test]
    fn invalid_record_is_reported_at_its_line(g in generated(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!g.records.is_empty());
        let i = pick.index(g.records.len());
        // Replace the email of record i, the first field on the line where the record starts.
        let text = String::from_utf8(g.bytes.clone()).expect("utf-8");
        let line_start = text
            .match_indices('\n')
            .nth((g.lines[i] - 2) as usize)
            .map(|(p, _)| p + 1)
            .expect("line exists");
        let rest = &text[line_start..];
        let quoted = rest.starts_with('"');
        let email_len = g.records[i][0].len() + if quoted { 2 } else { 0 };
        let new_text = format!("{}no-at-sign{}", &text[..line_start], &rest[email_len..]);

        let src = BytesSource::new("gen.csv", new_text);
        let report = validate(&src, &ValidationOptions::default()).expect("validate");
        prop_assert_eq!(report.rejected, 1);
        prop_assert_eq!(report.errors.len(), 1);
        prop_assert_eq!(report.errors[0].record, i as u64 + 1);
        prop_assert_eq!(report.errors[0].line, g.lines[i]);
        prop_assert_eq!(report.errors[0].column.as_deref(), Some("emailAddress"));
    }

    #[test]
    fn resuming_yields_exactly_the_records_after_the_checkpoint(
        g in generated(),
        k in 1usize..8,
        acked_chunks in 0usize..6,
        planned in any::<bool>(),
    ) {
        // A checkpoint always sits on a chunk boundary (or at the end).
        let skip = (acked_chunks * k).min(g.records.len());
        let src = BytesSource::new("gen.csv", g.bytes.clone());
        let mut reader = open_chunks(&src, k, skip as u64, planned);
        let mut rows = Vec::new();
        let mut expected_index = (skip / k) as u64;
        while let Some(chunk) = reader.next_chunk().expect("chunk") {
            prop_assert_eq!(chunk.index, expected_index, "numbered as in a full run");
            prop_assert_eq!(chunk.first_record, (skip + rows.len()) as u64);
            let mut parsed = parse_rows(&chunk.body);
            prop_assert_eq!(&parsed.remove(0), &g.header);
            rows.extend(parsed);
            expected_index += 1;
        }
        prop_assert_eq!(&rows[..], &g.records[skip..]);
        prop_assert!(reader.sha256().is_some(), "the hash covers the skipped part too");
    }

    #[test]
    fn planned_chunks_are_the_files_own_bytes(g in generated(), k in 1usize..8) {
        // Each chunk is the header row as written (with the blank lines after it), then its
        // records as written: nothing re-quoted, no line break changed, no byte lost or added.
        prop_assume!(!g.records.is_empty());
        let src = BytesSource::new("gen.csv", g.bytes.clone());
        let mut reader = open_chunks(&src, k, 0, true);
        let bom = if g.bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let header = &g.bytes[bom..g.first_record_offset];
        let mut records = Vec::new();
        while let Some(chunk) = reader.next_chunk().expect("chunk") {
            prop_assert!(chunk.body.starts_with(header));
            records.extend_from_slice(&chunk.body[header.len()..]);
        }
        prop_assert_eq!(&records[..], &g.bytes[g.first_record_offset..]);
    }

    #[test]
    fn skip_mode_sends_exactly_the_valid_records(
        g in generated(),
        broken in proptest::collection::vec(any::<bool>(), 30),
        k in 1usize..8,
    ) {
        // Break the email of some records (re-serialized, so quoting stays right).
        let mut records = g.records.clone();
        for (r, &b) in records.iter_mut().zip(&broken) {
            if b {
                r[0] = format!("broken, \"{}\"", r[0].replace('@', " at "));
            }
        }
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(&g.header).expect("write");
        for r in &records {
            w.write_record(r).expect("write");
        }
        let src = BytesSource::new("gen.csv", w.into_inner().expect("flush"));
        let opts = ValidationOptions { invalid_rows: InvalidRows::Skip, ..ValidationOptions::default() };
        let valid: Vec<Vec<String>> = records
            .iter()
            .zip(&broken)
            .filter(|(_, b)| !**b)
            .map(|(r, _)| r.clone())
            .collect();

        let report = validate(&src, &opts).expect("validate");
        prop_assert_eq!(report.accepted(), valid.len() as u64);
        let mut reader = ChunkReader::open(&src, &opts, k, 0).expect("open");
        let mut rows = Vec::new();
        while let Some(chunk) = reader.next_chunk().expect("chunk") {
            let mut parsed = parse_rows(&chunk.body);
            parsed.remove(0);
            prop_assert!(!parsed.is_empty() && parsed.len() <= k);
            rows.extend(parsed);
        }
        prop_assert_eq!(rows, valid);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(data);
    }

    #[test]
    fn arbitrary_records_never_panic(
        tail in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(0u8), Just(0xE9u8),
                        Just(b'a'), Just(b'@'), Just(b'T'), Just(b'-'), Just(b':'), any::<u8>()],
            0..600),
        bom in any::<bool>(),
    ) {
        let mut data = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        data.extend_from_slice(b"EmailAddress,TerminationDate,LastWorkingDate\n");
        data.extend(tail);
        exercise(data);
    }
}

/// Runs validation and chunking in both modes; only panics matter.
fn exercise(data: Vec<u8>) {
    let src = BytesSource::new("any.csv", data);
    for invalid_rows in [InvalidRows::Reject, InvalidRows::Skip] {
        let opts = ValidationOptions {
            invalid_rows,
            ..ValidationOptions::default()
        };
        let _ = validate(&src, &opts);
        if let Ok(mut reader) = ChunkReader::open(&src, &opts, 2, 1) {
            while let Ok(Some(_)) = reader.next_chunk() {}
        }
        if let Ok((_, plan)) = validate_and_plan(&src, &opts, 2)
            && let Ok(mut reader) = ChunkReader::open_planned(&src, &opts, plan, 2, 2)
        {
            while let Ok(Some(_)) = reader.next_chunk() {}
        }
    }
}
