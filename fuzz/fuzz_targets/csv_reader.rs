//! The CSV reader on arbitrary bytes: validation and chunking, in both invalid-row modes, must
//! return (Ok or a `CsvError`) and never panic, hang or allocate without bound. The first input
//! byte picks the records per chunk and the resume offset, so those paths are fuzzed too.
#![no_main]

use hrconnector::hrdata::{BytesSource, ChunkReader, InvalidRows, ValidationOptions, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (records_per_call, skip, body) = match data.split_first() {
        Some((&b, rest)) => (usize::from(b % 7) + 1, u64::from(b >> 5), rest),
        None => (1, 0, data),
    };
    let source = BytesSource::new("fuzz.csv", body.to_vec());
    for invalid_rows in [InvalidRows::Reject, InvalidRows::Skip] {
        let opts = ValidationOptions {
            invalid_rows,
            ..ValidationOptions::default()
        };
        let report = validate(&source, &opts);
        if let Ok(mut reader) = ChunkReader::open(&source, &opts, records_per_call, skip) {
            let mut sent = 0u64;
            while let Ok(Some(chunk)) = reader.next_chunk() {
                assert!(chunk.records >= 1 && chunk.records <= records_per_call);
                sent += chunk.records as u64;
            }
            // Chunking a file that validated sends exactly its accepted records (after skip).
            if let Ok(report) = &report
                && reader.sha256().is_some()
                && (invalid_rows == InvalidRows::Skip || report.is_valid())
            {
                assert_eq!(sent, report.accepted().saturating_sub(skip));
            }
        }
    }
});
