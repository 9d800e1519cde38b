//! Chunk boundaries found by the validation pass, so that the sending pass copies byte ranges
//! instead of parsing, checking and re-writing every record a second time.
//!
//! Only for files where a byte copy is exactly what re-writing would mean: every record is
//! valid (nothing to leave out) and every line break is `\n` or `\r\n`. A chunk is then the
//! header row as written followed by its records as written: the same bytes the file has, so
//! quoting, line breaks and multi-line fields reach the service untouched.

use std::io::BufRead;

use super::chunk::Chunk;
use super::hashing::HashingReader;
use super::{CsvError, CsvSource};
use crate::source::ChangeCheck;

/// More chunks than this are planned by parsing again: each costs 8 bytes, and memory must not
/// grow with the file (5,000,000 records at one record per call would be 40 MB).
const MAX_PLANNED_CHUNKS: usize = 65_536;

/// Where each chunk of a validated source starts, as byte offsets into the raw source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    records_per_call: usize,
    /// Offset of the header row's first byte (after a byte-order mark).
    header_start: u64,
    /// Offset of the first record of each chunk.
    starts: Vec<u64>,
    /// Data records in the source.
    records: u64,
    /// Length of the source in bytes.
    end: u64,
}

impl ChunkPlan {
    pub fn records_per_call(&self) -> usize {
        self.records_per_call
    }

    /// Data records in the source (all of them valid).
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Builds a [`ChunkPlan`] from the records of a validation pass, in order.
pub(crate) struct PlanBuilder {
    plan: Option<ChunkPlan>,
}

impl PlanBuilder {
    pub fn new(records_per_call: usize, header_start: u64) -> Self {
        PlanBuilder {
            plan: Some(ChunkPlan {
                records_per_call: records_per_call.max(1),
                header_start,
                starts: Vec::new(),
                records: 0,
                end: 0,
            }),
        }
    }

    /// A data record starting at `start`; `valid` is whether it passed every check.
    pub fn record(&mut self, start: u64, valid: bool) {
        let Some(plan) = &mut self.plan else { return };
        if !valid || plan.starts.len() > MAX_PLANNED_CHUNKS {
            // A record to leave out: only the parsing chunker can do that.
            self.plan = None;
            return;
        }
        if plan.records.is_multiple_of(plan.records_per_call as u64) {
            plan.starts.push(start);
        }
        plan.records += 1;
    }

    /// The plan, given the source's length and whether any line break was a lone `\r`.
    pub fn finish(self, end: u64, lone_cr: bool) -> Option<ChunkPlan> {
        let mut plan = self.plan.filter(|_| !lone_cr)?;
        plan.end = end;
        Some(plan)
    }
}

/// Reads the chunks of a [`ChunkPlan`] from its source: header bytes, then each chunk's byte
/// range. A source that changed since validation is caught before the chunk that shows it is
/// handed out (a file's size or modification time differ, or it ends early), and at the latest
/// at the end, where every byte has been hashed again.
pub(crate) struct PlannedChunks {
    name: String,
    plan: ChunkPlan,
    input: HashingReader,
    /// Bytes consumed from `input`.
    offset: u64,
    header: Vec<u8>,
    next: usize,
    sha256: Option<String>,
    /// Asked after every chunk is read, before it is handed out.
    changed: Option<ChangeCheck>,
}

impl PlannedChunks {
    /// Opens `source` to read the planned chunks, leaving out the first `skip_chunks`.
    pub fn open(
        source: &dyn CsvSource,
        plan: ChunkPlan,
        skip_chunks: usize,
    ) -> Result<Self, CsvError> {
        let name = source.name();
        let input = HashingReader::of(source).map_err(|error| CsvError::io(name.clone(), error))?;
        let mut reader = PlannedChunks {
            name,
            input,
            offset: 0,
            header: Vec::new(),
            next: skip_chunks.min(plan.starts.len()),
            sha256: None,
            changed: source.change_check(),
            plan,
        };
        if let Some(&first) = reader.plan.starts.first() {
            reader.skip_to(reader.plan.header_start)?;
            let mut header = Vec::new();
            reader.copy_to(first, &mut header)?;
            reader.header = header;
        }
        Ok(reader)
    }

    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, CsvError> {
        let Some(&start) = self.plan.starts.get(self.next) else {
            if self.sha256.is_none() {
                self.skip_to(self.plan.end)?;
                self.finish()?;
            }
            return Ok(None);
        };
        let index = self.next;
        self.next += 1;
        let end = self
            .plan
            .starts
            .get(self.next)
            .copied()
            .unwrap_or(self.plan.end);
        self.skip_to(start)?;
        let mut body = Vec::with_capacity(self.header.len() + (end - start) as usize);
        body.extend_from_slice(&self.header);
        self.copy_to(end, &mut body)?;
        // Checked after reading: unchanged now means the bytes read are the bytes validated.
        if self.changed.as_ref().is_some_and(|changed| changed()) {
            return Err(CsvError::Changed {
                source_name: self.name.clone(),
            });
        }

        let per_call = self.plan.records_per_call as u64;
        let first_record = index as u64 * per_call;
        let records = (self.plan.records - first_record).min(per_call) as usize;
        Ok(Some(Chunk {
            index: index as u64,
            first_record,
            records,
            body,
        }))
    }

    /// Hex SHA-256 of the source as read in this pass, once every chunk has been read.
    pub fn sha256(&self) -> Option<String> {
        self.sha256.clone()
    }

    fn skip_to(&mut self, to: u64) -> Result<(), CsvError> {
        while self.offset < to {
            let n = self.fill()?.len().min((to - self.offset) as usize);
            self.consume(n);
        }
        Ok(())
    }

    fn copy_to(&mut self, to: u64, out: &mut Vec<u8>) -> Result<(), CsvError> {
        while self.offset < to {
            let want = (to - self.offset) as usize;
            let buf = self.fill()?;
            let n = buf.len().min(want);
            out.extend_from_slice(&buf[..n]);
            self.consume(n);
        }
        Ok(())
    }

    /// The next buffered bytes; the source ending before the planned offsets is a change.
    fn fill(&mut self) -> Result<&[u8], CsvError> {
        let name = &self.name;
        match self.input.fill_buf() {
            Ok([]) => Err(CsvError::Changed {
                source_name: name.clone(),
            }),
            Ok(buf) => Ok(buf),
            Err(error) => Err(CsvError::io(name.clone(), error)),
        }
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.offset += n as u64;
    }

    /// Reads to the end of the source; more bytes than planned is a change.
    fn finish(&mut self) -> Result<(), CsvError> {
        let rest = self
            .input
            .fill_buf()
            .map_err(|error| CsvError::io(self.name.clone(), error))?;
        if !rest.is_empty() {
            return Err(CsvError::Changed {
                source_name: self.name.clone(),
            });
        }
        self.sha256 = self.input.sha256().map(str::to_owned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BytesSource, ChunkReader, ValidationOptions, validate_and_plan};
    use super::*;

    const HEADER: &str = "EmailAddress,TerminationDate,LastWorkingDate\r\n";
    const RECORD: &str = "a@b.co,2020-01-01T00:00:00Z,2020-01-02T00:00:00Z\r\n";

    fn plan_of(text: &str, per_call: usize) -> Option<ChunkPlan> {
        let src = BytesSource::new("t.csv", text.to_owned());
        validate_and_plan(&src, &ValidationOptions::default(), per_call)
            .expect("readable")
            .1
    }

    #[test]
    fn chunk_starts_are_record_starts() {
        let text = format!("\u{feff}{HEADER}{RECORD}{RECORD}\r\n{RECORD}");
        let plan = plan_of(&text, 2).expect("planned");
        let first = 3 + HEADER.len() as u64;
        assert_eq!(plan.header_start, 3);
        assert_eq!(plan.records(), 3);
        assert_eq!(
            plan.starts,
            [first, first + 2 * RECORD.len() as u64 + 2],
            "the blank line belongs to the chunk before it"
        );
        assert_eq!(plan.end, text.len() as u64);
    }

    #[test]
    fn no_plan_when_bytes_cannot_be_copied() {
        // A record to leave out, or a lone carriage return as a line break.
        let invalid = format!("{HEADER}{RECORD}x,y,z\r\n");
        assert_eq!(plan_of(&invalid, 1), None);
        let lone_cr = format!("{HEADER}{RECORD}").replace("\r\n", "\r");
        assert_eq!(plan_of(&lone_cr, 1), None);
        assert!(plan_of(&format!("{HEADER}{RECORD}"), 1).is_some());
    }

    #[test]
    fn memory_is_bounded() {
        let text = format!("{HEADER}{}", RECORD.repeat(MAX_PLANNED_CHUNKS + 2));
        assert_eq!(plan_of(&text, 1), None);
        assert!(plan_of(&text, 2).is_some());
    }

    #[test]
    fn a_source_of_another_length_is_a_change() {
        let text = format!("{HEADER}{RECORD}{RECORD}{RECORD}");
        let plan = plan_of(&text, 2);
        for other in [
            format!("{HEADER}{RECORD}{RECORD}"),
            format!("{HEADER}{RECORD}{RECORD}{RECORD}{RECORD}"),
        ] {
            let src = BytesSource::new("t.csv", other);
            let opts = ValidationOptions::default();
            let mut reader = ChunkReader::open_planned(&src, &opts, plan.clone(), 2, 0).unwrap();
            let outcome = loop {
                match reader.next_chunk() {
                    Ok(Some(_)) => continue,
                    other => break other,
                }
            };
            assert!(
                matches!(outcome, Err(CsvError::Changed { .. })),
                "{outcome:?}"
            );
        }
    }
}
