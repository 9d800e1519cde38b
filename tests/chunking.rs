//! `ChunkReader` over real sources: record-exact chunks, resume, skip mode, BOM and CRLF.

use std::path::PathBuf;

use hrconnector::hrdata::{
    BytesSource, Chunk, ChunkReader, CsvError, CsvSource, FileSource, InvalidRows,
    ValidationOptions, validate,
};
use sha2::{Digest, Sha256};

const HEADER: &str = "EmailAddress,TerminationDate,LastWorkingDate,Notes";

fn fixture(name: &str) -> FileSource {
    FileSource::new(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/csv")
            .join(name),
    )
}

/// `n` valid records; every third has a quoted multiline note with commas and quotes.
fn source(n: usize) -> (BytesSource, Vec<Vec<String>>) {
    let mut text = format!("{HEADER}\n");
    let mut records = Vec::new();
    for i in 0..n {
        let note = if i % 3 == 0 {
            format!("line one of {i}\nline two, \"quoted\"\r\nend")
        } else {
            format!("note {i}")
        };
        let record = vec![
            format!("person{i}@contoso.com"),
            "2019-04-24T09:15:49Z".to_owned(),
            "2019-04-29T15:18:02.7117540".to_owned(),
            note,
        ];
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(&record).expect("write");
        text.push_str(&String::from_utf8(w.into_inner().expect("flush")).expect("utf-8"));
        records.push(record);
    }
    (BytesSource::new("test.csv", text), records)
}

fn all_chunks(reader: &mut ChunkReader) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    while let Some(chunk) = reader.next_chunk().expect("chunk") {
        chunks.push(chunk);
    }
    chunks
}

/// Parses a chunk body: (header, records).
fn parse(body: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.expect("record").iter().map(str::to_owned).collect())
        .collect();
    assert!(!rows.is_empty(), "chunk without header");
    let header = rows.remove(0);
    (header, rows)
}

#[test]
fn chunk_count_header_and_records() {
    for (n, k) in [
        (10, 3),
        (9, 3),
        (1, 5),
        (5, 5),
        (7, 1),
        (5000, 1000),
        (5001, 1000),
    ] {
        let (src, records) = source(n);
        let mut reader =
            ChunkReader::open(&src, &ValidationOptions::default(), k, 0).expect("open");
        let chunks = all_chunks(&mut reader);
        assert_eq!(chunks.len(), n.div_ceil(k), "n={n} k={k}");
        let mut seen = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.index, i as u64);
            assert_eq!(chunk.first_record, (i * k) as u64);
            assert!(chunk.records > 0 && chunk.records <= k);
            assert!(chunk.body.starts_with(format!("{HEADER}\n").as_bytes()));
            let (header, rows) = parse(&chunk.body);
            assert_eq!(header.join(","), HEADER);
            assert_eq!(rows.len(), chunk.records);
            seen.extend(rows);
        }
        assert_eq!(seen, records, "n={n} k={k}");
        assert_eq!(reader.next_chunk().expect("after end"), None);
    }
}

#[test]
fn multiline_fields_stay_intact() {
    let (src, records) = source(4);
    let mut reader = ChunkReader::open(&src, &ValidationOptions::default(), 1, 0).expect("open");
    let chunks = all_chunks(&mut reader);
    let (_, rows) = parse(&chunks[0].body);
    assert_eq!(rows, [records[0].clone()]);
    assert_eq!(rows[0][3], "line one of 0\nline two, \"quoted\"\r\nend");
    let body = String::from_utf8(chunks[0].body.clone()).expect("utf-8");
    assert!(
        body.contains("\"line one of 0\nline two, \"\"quoted\"\"\r\nend\"\n"),
        "{body}"
    );
}

#[test]
fn resume_skips_accepted_records() {
    let (src, records) = source(10);
    let mut reader = ChunkReader::open(&src, &ValidationOptions::default(), 3, 6).expect("open");
    let chunks = all_chunks(&mut reader);
    assert_eq!(chunks.len(), 2);
    assert_eq!((chunks[0].index, chunks[0].first_record), (2, 6));
    assert_eq!((chunks[1].index, chunks[1].first_record), (3, 9));
    let rows: Vec<_> = chunks.iter().flat_map(|c| parse(&c.body).1).collect();
    assert_eq!(rows, records[6..]);

    // Everything already sent: nothing to yield, but the content is hashed.
    let mut reader = ChunkReader::open(&src, &ValidationOptions::default(), 3, 10).expect("open");
    assert_eq!(reader.next_chunk().expect("next"), None);
    assert!(reader.sha256().is_some());
}

#[test]
fn skip_mode_leaves_out_invalid_records() {
    let opts = ValidationOptions {
        invalid_rows: InvalidRows::Skip,
        ..ValidationOptions::default()
    };
    let src = fixture("multiline_then_invalid.csv");
    let mut reader = ChunkReader::open(&src, &opts, 10, 0).expect("open");
    let chunks = all_chunks(&mut reader);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].records, 2);
    let (_, rows) = parse(&chunks[0].body);
    assert_eq!(rows[0][0], "a@contoso.com");
    assert_eq!(rows[0][3], "line one\nline two, with comma\nline \"three\"");
    assert_eq!(rows[1][0], "c@contoso.com");

    // Skipping counts accepted records only: resuming after 1 yields record c.
    let mut reader = ChunkReader::open(&src, &opts, 10, 1).expect("open");
    let chunks = all_chunks(&mut reader);
    assert_eq!(chunks[0].first_record, 1);
    assert_eq!(parse(&chunks[0].body).1[0][0], "c@contoso.com");

    let report = validate(&src, &opts).expect("validate");
    assert_eq!(report.accepted(), 2);
}

#[test]
fn reject_mode_fails_on_an_invalid_record_without_its_value() {
    let src = fixture("multiline_then_invalid.csv");
    let mut reader = ChunkReader::open(&src, &ValidationOptions::default(), 1, 0).expect("open");
    let first = reader
        .next_chunk()
        .expect("first chunk is valid")
        .expect("some");
    assert_eq!(first.records, 1);
    match reader.next_chunk() {
        Err(CsvError::InvalidRecord { error, .. }) => {
            assert_eq!((error.record, error.line), (2, 5));
            assert_eq!(error.column.as_deref(), Some("LastWorkingDate"));
            assert_eq!(error.value, None);
        }
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
}

#[test]
fn bom_and_crlf_input() {
    let src = fixture("bom_crlf_valid.csv");
    let raw = std::fs::read(&src.path).expect("read fixture");
    assert!(raw.starts_with(b"\xEF\xBB\xBF"));

    let mut reader = ChunkReader::open(&src, &ValidationOptions::default(), 5, 0).expect("open");
    assert_eq!(reader.sha256(), None);
    let chunks = all_chunks(&mut reader);
    assert_eq!(chunks.len(), 1);
    let body = std::str::from_utf8(&chunks[0].body).expect("utf-8");
    assert_eq!(
        body,
        "EmailAddress,TerminationDate,LastWorkingDate\n\
         a@contoso.com,2019-04-24T09:15:49Z,2019-04-24T09:15:49Z\n\
         b@contoso.com,2019-04-24T09:15:49Z,2019-04-29T15:18:02.7117540\n"
    );

    // The hash covers the raw bytes, BOM included, and agrees with validation.
    let expected = hex::encode(Sha256::digest(&raw));
    assert_eq!(reader.sha256().as_deref(), Some(expected.as_str()));
    let report = validate(&src, &ValidationOptions::default()).expect("validate");
    assert_eq!(report.sha256, expected);
}

#[test]
fn file_level_errors_when_opening() {
    let opts = ValidationOptions::default();
    for (file, check) in [
        (
            "utf16le_bom.csv",
            (|e: &CsvError| matches!(e, CsvError::Encoding { line: None, .. }))
                as fn(&CsvError) -> bool,
        ),
        ("missing_column.csv", |e| {
            matches!(e, CsvError::MissingColumns { .. })
        }),
        ("empty.csv", |e| matches!(e, CsvError::Empty { .. })),
        ("does-not-exist.csv", |e| e.is_io()),
    ] {
        match ChunkReader::open(&fixture(file), &opts, 10, 0) {
            Err(e) => assert!(check(&e), "{file}: {e:?}"),
            Ok(_) => panic!("{file} opened"),
        }
    }

    // Invalid UTF-8 later in the file stops chunking with the line.
    let mut reader = ChunkReader::open(&fixture("latin1.csv"), &opts, 10, 0).expect("open");
    match reader.next_chunk() {
        Err(CsvError::Encoding { line: Some(5), .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn header_only_yields_nothing() {
    let src = BytesSource::new("h.csv", format!("{HEADER}\r\n"));
    let mut reader = ChunkReader::open(&src, &ValidationOptions::default(), 10, 0).expect("open");
    assert_eq!(reader.next_chunk().expect("next"), None);
    assert!(reader.sha256().is_some());
    assert_eq!(src.name(), "h.csv");
}

/// 40,000 records (about 2.4 MB, several read blocks) whose notes hold two- to four-byte
/// characters, so that some straddle the ends of blocks; record `bad`, if any, has a Latin-1
/// byte in its note.
fn multibyte_text(n: usize, bad: Option<usize>) -> Vec<u8> {
    let mut text = format!("{HEADER}\n").into_bytes();
    for i in 0..n {
        text.extend_from_slice(
            format!("person{i}@contoso.com,2019-04-24T09:15:49Z,2019-04-29T15:18:02Z,Zo\u{eb} ")
                .as_bytes(),
        );
        text.extend_from_slice(["\u{20ac}", "\u{1F600}", "\u{e9}t\u{e9}"][i % 3].as_bytes());
        if bad == Some(i) {
            text.extend_from_slice(b" caf\xe9");
        }
        text.push(b'\n');
    }
    text
}

#[test]
fn characters_across_block_ends_are_valid_and_a_bad_byte_names_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = ValidationOptions::default();
    let good = multibyte_text(40_000, None);
    let path = dir.path().join("good.csv");
    std::fs::write(&path, &good).expect("write");
    let sources: [Box<dyn CsvSource>; 2] = [
        Box::new(BytesSource::new(
            "good.csv",
            bytes::Bytes::from(good.clone()),
        )),
        Box::new(FileSource::new(&path)),
    ];
    for source in &sources {
        let report = validate(source.as_ref(), &opts).expect("validates");
        assert_eq!(
            (report.records, report.rejected),
            (40_000, 0),
            "{}",
            source.name()
        );
        // Chunking parses and checks the records again, and sends them intact.
        let mut reader = ChunkReader::open(source.as_ref(), &opts, 5_000, 0).expect("opens");
        let sent: Vec<Vec<String>> = all_chunks(&mut reader)
            .iter()
            .flat_map(|c| parse(&c.body).1)
            .collect();
        assert_eq!(sent.len(), 40_000, "{}", source.name());
        assert_eq!(sent[39_997][3], "Zo\u{eb} \u{1F600}", "{}", source.name());
    }

    // A bad byte long after the first block: record 31,000 is on line 31,001.
    let bad = multibyte_text(40_000, Some(30_999));
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, &bad).expect("write");
    let sources: [Box<dyn CsvSource>; 2] = [
        Box::new(BytesSource::new("bad.csv", bytes::Bytes::from(bad))),
        Box::new(FileSource::new(&path)),
    ];
    for source in &sources {
        match validate(source.as_ref(), &opts) {
            Err(CsvError::Encoding { line, .. }) => {
                assert_eq!(line, Some(31_001), "{}", source.name())
            }
            other => panic!(
                "{}: expected an encoding error, got {other:?}",
                source.name()
            ),
        }
    }
}

#[test]
fn chunking_stops_at_a_record_over_the_limits_naming_it() {
    let text = format!(
        "{HEADER}\na@contoso.com,2026-03-01T09:00:00Z,2026-03-02T09:00:00Z,short\n\
         b@contoso.com,2026-03-01T09:00:00Z,2026-03-02T09:00:00Z,\"{}\"\n",
        "long\n".repeat(10)
    );
    let source = BytesSource::new("hr.csv", text.into_bytes());
    let opts = ValidationOptions {
        limits: hrconnector::hrdata::Limits {
            max_field_bytes: 20,
            ..Default::default()
        },
        ..ValidationOptions::default()
    };
    let mut reader = ChunkReader::open(&source, &opts, 10, 0).expect("the header is within");
    match reader.next_chunk() {
        Err(CsvError::OverLimit {
            record: Some(2),
            line: 3,
            column: 4,
            limit: hrconnector::hrdata::Limit::FieldBytes(20),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Validation names the same record.
    let error = validate(&source, &opts).expect_err("over the limit");
    assert!(
        error
            .to_string()
            .starts_with("hr.csv: record 2 (line 3), column 4:"),
        "{error}"
    );
}
