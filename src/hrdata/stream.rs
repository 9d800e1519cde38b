//! Opening a source as a stream of CSV records: hashing every raw byte, recognising the
//! encoding, stripping a UTF-8 byte-order mark and mapping the header.

use std::io::{self, Cursor, Read};

use csv::ByteRecord;
use sha2::{Digest, Sha256};

use super::columns::map_header;
use super::encoding::{SNIFF_LEN, invalid_utf8_detail, sniff};
use super::record::{NotUtf8, Problem, RecordChecker, header_fields};
use super::{CsvError, CsvSource, ValidationOptions};

/// Buffer of the CSV parser; larger than csv's 8 KiB default to make fewer `read` calls.
const BUFFER: usize = 64 * 1024;

/// Feeds every byte it reads into SHA-256, so the content hash needs no second pass.
struct HashingReader {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// The already-sniffed first bytes, then the rest of the source.
type Inner = io::Chain<Cursor<Vec<u8>>, HashingReader>;

/// A source opened for reading records; used by both validation and chunking.
pub(crate) struct CsvStream {
    pub name: String,
    reader: csv::Reader<Inner>,
    /// The header row as in the file (without a byte-order mark).
    pub header: ByteRecord,
    pub checker: RecordChecker,
    pub warnings: Vec<String>,
}

impl CsvStream {
    pub fn open(source: &dyn CsvSource, opts: &ValidationOptions) -> Result<Self, CsvError> {
        let name = source.name();
        let io_error = |error| CsvError::Io {
            source_name: name.clone(),
            error,
        };
        let mut hashing = HashingReader {
            inner: source.open().map_err(io_error)?,
            hasher: Sha256::new(),
        };

        let mut prefix = Vec::new();
        (&mut hashing)
            .take(SNIFF_LEN)
            .read_to_end(&mut prefix)
            .map_err(io_error)?;
        let bom = sniff(&prefix).map_err(|detail| CsvError::Encoding {
            source_name: name.clone(),
            line: None,
            detail,
        })?;
        let mut head = Cursor::new(prefix);
        head.set_position(bom as u64);

        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(BUFFER)
            .from_reader(head.chain(hashing));

        let mut header = ByteRecord::new();
        if !reader
            .read_byte_record(&mut header)
            .map_err(|e| CsvError::from_csv(&name, e))?
        {
            return Err(CsvError::Empty { source_name: name });
        }
        let header_line = line_of(&header);
        let fields = header_fields(&header).map_err(|e| encoding_error(&name, header_line, e))?;
        let (map, warnings) = map_header(&name, &fields, &opts.columns)?;
        let checker = RecordChecker::new(&fields, map);

        Ok(CsvStream {
            name,
            reader,
            header,
            checker,
            warnings,
        })
    }

    /// Reads the next record into `record`; false at the end of the source.
    pub fn read(&mut self, record: &mut ByteRecord) -> Result<bool, CsvError> {
        self.reader
            .read_byte_record(record)
            .map_err(|e| CsvError::from_csv(&self.name, e))
    }

    /// Checks a record (see [`RecordChecker::check`]); bytes that are not UTF-8 end the stream
    /// with an encoding error.
    pub fn check<'r>(
        &self,
        record: &'r ByteRecord,
        report: impl FnMut(Problem<'r>),
    ) -> Result<bool, CsvError> {
        self.checker
            .check(record, report)
            .map_err(|e| encoding_error(&self.name, line_of(record), e))
    }

    /// Hex SHA-256 of every raw byte read so far (the whole source, once `read` returned false).
    pub fn sha256(&self) -> String {
        let (_, hashing) = self.reader.get_ref().get_ref();
        hex::encode(hashing.hasher.clone().finalize())
    }
}

/// Physical line where a record starts (1-based; the header is line 1).
pub(crate) fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

fn encoding_error(name: &str, line: u64, e: NotUtf8) -> CsvError {
    CsvError::Encoding {
        source_name: name.to_owned(),
        line: Some(line + e.newlines_before),
        detail: invalid_utf8_detail(),
    }
}
