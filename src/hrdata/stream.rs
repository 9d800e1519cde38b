//! Opening a source as a stream of CSV records: hashing every raw byte, recognising the
//! encoding, stripping a UTF-8 byte-order mark and mapping the header.

use super::columns::map_header;
use super::encoding::{SNIFF_LEN, invalid_utf8_detail, sniff};
use super::hashing::HashingReader;
use super::parse::{ReadError, Record, RecordReader};
use super::record::{NotUtf8, Problem, RecordChecker, Verdict, header_fields};
use super::warnings::Warnings;
use super::{CsvError, CsvSource, ValidationOptions};

/// A source opened for reading records; used by both validation and chunking.
pub(crate) struct CsvStream {
    pub name: String,
    reader: RecordReader<HashingReader>,
    /// The header row as in the file (without a byte-order mark).
    pub header: Record,
    pub checker: RecordChecker,
    pub warnings: Warnings,
    /// Data records read so far (to number a record over the limits).
    records: u64,
}

impl CsvStream {
    pub fn open(source: &dyn CsvSource, opts: &ValidationOptions) -> Result<Self, CsvError> {
        let name = source.name();
        let hashing =
            HashingReader::of(source).map_err(|error| CsvError::io(name.clone(), error))?;
        Self::over(name, hashing, opts)
    }

    /// Like [`CsvStream::open`], over a reader already opened on the source named `name`.
    pub fn over(
        name: String,
        hashing: HashingReader,
        opts: &ValidationOptions,
    ) -> Result<Self, CsvError> {
        let io_error = |error| CsvError::io(name.clone(), error);
        let mut reader = RecordReader::new(hashing, opts.limits);

        // The hashing reader's first block holds at least SNIFF_LEN bytes (or the whole source).
        let prefix = reader.peek().map_err(io_error)?;
        let prefix = &prefix[..prefix.len().min(SNIFF_LEN)];
        let bom = sniff(prefix).map_err(|detail| CsvError::Encoding {
            source_name: name.clone(),
            line: None,
            detail,
        })?;
        // The byte-order mark is hashed (it is part of the content) but not parsed, so that it
        // does not become part of the first header name.
        reader.consume(bom);

        let mut header = Record::default();
        if !reader
            .read(&mut header)
            .map_err(|e| read_error(&name, None, e))?
        {
            return Err(CsvError::Empty { source_name: name });
        }
        let header_line = header.line();
        let fields = header_fields(&header).map_err(|e| encoding_error(&name, header_line, e))?;
        let (map, warnings) = map_header(&name, &fields, opts)?;
        let checker = RecordChecker::new(&fields, &map, opts);

        Ok(CsvStream {
            name,
            reader,
            header,
            checker,
            warnings,
            records: 0,
        })
    }

    /// Reads the next record into `record`; false at the end of the source.
    pub fn read(&mut self, record: &mut Record) -> Result<bool, CsvError> {
        let more = self
            .reader
            .read(record)
            .map_err(|e| read_error(&self.name, Some(self.records + 1), e))?;
        self.records += u64::from(more);
        // Every byte up to the reader's offset is the record's or came before it.
        record.set_known_utf8(self.reader.offset() <= self.reader.get_ref().utf8_valid_to());
        Ok(more)
    }

    /// Checks a record (see [`RecordChecker::check`]); bytes that are not UTF-8 end the stream
    /// with an encoding error.
    pub fn check<'r>(
        &'r self,
        record: &'r Record,
        report: impl FnMut(Problem<'r>),
    ) -> Result<Verdict, CsvError> {
        self.checker
            .check(record, report)
            .map_err(|e| encoding_error(&self.name, record.line(), e))
    }

    /// Skips the line breaks before the next record; the offset where it starts, or `None` at
    /// the end of the source.
    pub fn next_start(&mut self) -> Result<Option<u64>, CsvError> {
        self.reader
            .next_start()
            .map_err(|error| CsvError::io(self.name.clone(), error))
    }

    /// Physical line (1-based) of the next byte to read.
    pub fn line(&self) -> u64 {
        self.reader.line()
    }

    /// Bytes read from the source so far: its length once `read` has returned false.
    pub fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// Whether a line break so far was a lone `\r` (see [`RecordReader::saw_bare_cr`]).
    pub fn saw_bare_cr(&self) -> bool {
        self.reader.saw_bare_cr()
    }

    /// Hex SHA-256 of the raw source, once `read` has returned false.
    pub fn sha256(&self) -> Result<String, CsvError> {
        // `read` returns false only after the hashing reader reached the end, so this is set.
        match self.reader.get_ref().sha256() {
            Some(hash) => Ok(hash.to_owned()),
            None => Err(CsvError::Io {
                source_name: self.name.clone(),
                error: std::io::Error::other("the content hash is not available"),
            }),
        }
    }
}

/// A [`ReadError`] of record number `record` (`None`: the header) of the source `name`.
pub(crate) fn read_error(name: &str, record: Option<u64>, e: ReadError) -> CsvError {
    match e {
        ReadError::Io(error) => CsvError::io(name.to_owned(), error),
        ReadError::Limit {
            line,
            column,
            limit,
        } => CsvError::OverLimit {
            source_name: name.to_owned(),
            record,
            line,
            column,
            limit,
        },
    }
}

pub(crate) fn encoding_error(name: &str, line: u64, e: NotUtf8) -> CsvError {
    CsvError::Encoding {
        source_name: name.to_owned(),
        line: Some(line + e.newlines_before),
        detail: invalid_utf8_detail(),
    }
}
