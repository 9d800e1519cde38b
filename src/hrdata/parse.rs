//! A streaming CSV record reader over `csv_core`, with exact physical line numbers.
//!
//! `csv::Reader` would do the parsing just as well, but the position it stamps on a record is
//! taken *before* the blank lines and the `\n` of a `\r\n` that precede the record (csv-core
//! ends a record at the `\r`), so with CRLF files every line number after the header is one too
//! low. Here those bytes are skipped, and counted, before the record starts.

use std::io::{self, BufRead};
use std::ops::Range;

use super::error::Limit;
use super::options::Limits;

/// Why a record could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    /// A field of the record starting on physical line `line`, or its columns, broke a limit;
    /// `column` is 1-based. Nothing past that field was buffered.
    Limit {
        line: u64,
        column: usize,
        limit: Limit,
    },
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// One parsed record, reused from record to record to avoid allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Record {
    /// All fields, unescaped, back to back.
    data: Vec<u8>,
    /// End offset of each field in `data`.
    ends: Vec<usize>,
    /// Number of fields.
    len: usize,
    /// Physical line (1-based) of the record's first byte.
    line: u64,
    /// Byte offset of the record's first byte in the input.
    start: u64,
    /// All of the record's bytes in the input are known to be UTF-8 (checked with the block
    /// they came in), so the record needs no check of its own.
    known_utf8: bool,
    /// Fields (of the first 64) a writer put out as date-times in the connector's form, which
    /// the date-time rule needs not check again ([`Record::push_datetime_field`]).
    known_datetimes: u64,
}

impl Record {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn line(&self) -> u64 {
        self.line
    }

    /// Byte offset of the record's first byte in the input (a byte-order mark counts).
    pub fn start(&self) -> u64 {
        self.start
    }

    pub fn known_utf8(&self) -> bool {
        self.known_utf8
    }

    pub fn set_known_utf8(&mut self, known: bool) {
        self.known_utf8 = known;
    }

    /// Whether field `i` was written as a date-time in the connector's form.
    pub fn known_datetime(&self, i: usize) -> bool {
        i < 64 && self.known_datetimes & (1 << i) != 0
    }

    /// The fields back to back.
    pub fn as_slice(&self) -> &[u8] {
        let end = self.len.checked_sub(1).map_or(0, |i| self.ends[i]);
        &self.data[..end]
    }

    /// Where field `i` is in [`Record::as_slice`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        if i >= self.len {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(start..self.ends[i])
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.range(i).map(|r| &self.data[r])
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// Starts a record built field by field (what a writer put out), at `line` and byte
    /// `start` of its file.
    pub fn begin(&mut self, line: u64, start: u64) {
        self.data.clear();
        self.len = 0;
        self.line = line;
        self.start = start;
        self.known_utf8 = false;
        self.known_datetimes = 0;
    }

    /// Appends a field (unquoted) to a record started with [`Record::begin`].
    pub fn push_field(&mut self, field: &[u8]) {
        self.data.extend_from_slice(field);
        if self.ends.len() == self.len {
            self.ends.push(0);
        }
        self.ends[self.len] = self.data.len();
        self.len += 1;
    }

    /// [`Record::push_field`] for a date-time the writer made in the connector's form (the
    /// date converter's output, which always passes [`super::datetime::check`]: its property
    /// tests say so), so that checking the record does not parse it again.
    pub fn push_datetime_field(&mut self, field: &[u8]) {
        if self.len < 64 {
            self.known_datetimes |= 1 << self.len;
        }
        self.push_field(field);
    }

    #[cfg(test)]
    pub fn from_fields(fields: &[&[u8]], line: u64) -> Record {
        let mut r = Record {
            line,
            ..Record::default()
        };
        for f in fields {
            r.data.extend_from_slice(f);
            r.ends.push(r.data.len());
        }
        r.len = fields.len();
        r
    }
}

/// Reads records from a byte stream (RFC 4180: `,` delimiter, or another for an export being
/// converted; `"` quotes, `""` escapes; records end at CRLF, LF or CR; records may have any
/// number of fields).
///
/// Parses straight out of the input's own buffer (`BufRead`): csv-core keeps its state across
/// buffer boundaries, so no bytes are copied into a buffer of ours.
pub(crate) struct RecordReader<R> {
    input: R,
    core: csv_core::Reader,
    /// Newlines skipped, or ending lines read, here rather than by `core` (which counts the
    /// ones it consumes).
    skipped_lines: u64,
    /// Bytes consumed from the input so far.
    offset: u64,
    /// The last byte consumed as a line break was a `\r` whose `\n` has not been seen yet.
    pending_cr: bool,
    /// A `\r` outside quotes ended a line without a `\n` after it (classic Mac line breaks).
    bare_cr: bool,
    limits: Limits,
    delimiter: u8,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R, limits: Limits) -> Self {
        Self::with_delimiter(input, limits, b',')
    }

    /// A reader of fields separated by `delimiter` (an ASCII byte other than `"`, CR and LF).
    pub fn with_delimiter(input: R, limits: Limits, delimiter: u8) -> Self {
        RecordReader {
            input,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            skipped_lines: 0,
            offset: 0,
            pending_cr: false,
            bare_cr: false,
            limits,
        }
    }

    /// Starts over on `input`, as a new reader would. Building csv-core's state machine takes
    /// about 25 µs, and validation reads a segment of 256 KiB at a time (segmented.rs), so it
    /// is kept. (csv-core's `Clone` of a reader loses part of that machine: it is not used.)
    pub fn restart(&mut self, input: R) {
        self.input = input;
        self.core.reset();
        self.skipped_lines = 0;
        self.offset = 0;
        self.pending_cr = false;
        self.bare_cr = false;
    }

    /// The input's buffered bytes (filling the buffer if it is empty); empty at the end.
    pub fn peek(&mut self) -> io::Result<&[u8]> {
        self.input.fill_buf()
    }

    /// Drops `n` buffered bytes unparsed (a byte-order mark).
    pub fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.offset += n as u64;
    }

    /// Bytes consumed from the input so far: after `read` returned false, the input's length.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether some line break so far was a lone `\r` (outside quotes). Every other line break
    /// is `\n` or `\r\n`, which any CSV reader and the service's line splitting agree on.
    pub fn saw_bare_cr(&self) -> bool {
        self.bare_cr
    }

    pub fn get_ref(&self) -> &R {
        &self.input
    }

    /// Physical line (1-based) of the next byte to read.
    pub fn line(&self) -> u64 {
        self.core.line() + self.skipped_lines
    }

    /// Skips the line breaks before the next record; the offset where it starts, or `None` at
    /// the end of the input.
    pub fn next_start(&mut self) -> io::Result<Option<u64>> {
        self.skip_line_breaks()?;
        let at_end = self.input.fill_buf()?.is_empty();
        Ok((!at_end).then_some(self.offset))
    }

    /// Skips what precedes a record: blank lines, and the `\n` of a CRLF that ended the previous
    /// record. csv-core would discard these bytes too, but after the record's start.
    #[inline]
    fn skip_line_breaks(&mut self) -> io::Result<()> {
        loop {
            let buf = self.input.fill_buf()?;
            let skip = buf
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            for &b in &buf[..skip] {
                if b == b'\n' {
                    self.skipped_lines += 1;
                } else if self.pending_cr {
                    self.bare_cr = true;
                }
                self.pending_cr = b == b'\r';
            }
            let more = skip == buf.len() && !buf.is_empty();
            self.input.consume(skip);
            self.offset += skip as u64;
            if !more {
                break;
            }
        }
        // A record (or the end of the input) follows: a `\r` just before it stood alone.
        self.bare_cr |= std::mem::take(&mut self.pending_cr);
        Ok(())
    }

    /// Reads the next record into `record`; false at the end of the input.
    pub fn read(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        self.skip_line_breaks()?;
        self.read_started(record)
    }

    /// [`RecordReader::read`] right after [`RecordReader::next_start`], which skipped the line
    /// breaks before the record already.
    pub fn read_started(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        use csv_core::ReadRecordResult::*;

        record.line = self.core.line() + self.skipped_lines;
        record.start = self.offset;
        record.known_datetimes = 0;

        // Room for a typical HR record; a longer one grows the buffer, which is then reused.
        // (Small buffers keep the batches in flight in cache: 1 KiB ones cost a cache miss on
        // the checking thread's first look at every record.)
        if record.data.is_empty() {
            record.data.resize(128, 0);
        }
        if record.ends.is_empty() {
            record.ends.resize(8, 0);
        }
        if self.read_plain_line(record)? {
            return Ok(true);
        }
        let (mut out, mut nends) = (0, 0);
        loop {
            // An empty buffer means the input has ended, which is what csv-core expects then.
            let input = self.input.fill_buf()?;
            let (result, nin, nout, nend) =
                self.core
                    .read_record(input, &mut record.data[out..], &mut record.ends[nends..]);
            // csv-core ends a record at `\r` and leaves a following `\n` to the loop above.
            let ended_with_cr = matches!(result, Record) && nin > 0 && input[nin - 1] == b'\r';
            self.input.consume(nin);
            self.offset += nin as u64;
            out += nout;
            let ended = nends;
            nends += nend;
            // Before any buffer grows: csv-core writes no more than the buffers hold, so a
            // field or a record over the limits stops here, in constant memory.
            let in_field = !matches!(result, Record | End);
            self.check_limits(record, ended..nends, out, in_field)?;
            match result {
                InputEmpty => {}
                OutputFull => {
                    let len = record.data.len();
                    record.data.resize(len * 2, 0);
                }
                OutputEndsFull => {
                    let len = record.ends.len();
                    record.ends.resize(len * 2, 0);
                }
                Record => {
                    record.len = nends;
                    self.pending_cr = ended_with_cr;
                    return Ok(true);
                }
                End => {
                    record.len = 0;
                    return Ok(false);
                }
            }
        }
    }

    /// Checks the fields that csv-core ended (`ended`, indexes into `record.ends`) and, when
    /// `in_field`, the field it is in the middle of (ending at `out`): the first field (in
    /// order) past [`Limits::max_columns`] or longer than [`Limits::max_field_bytes`] is an
    /// error, as in [`RecordReader::read_plain_line`].
    #[inline]
    fn check_limits(
        &self,
        record: &Record,
        ended: Range<usize>,
        out: usize,
        in_field: bool,
    ) -> Result<(), ReadError> {
        let start_of = |i: usize| if i == 0 { 0 } else { record.ends[i - 1] };
        let nends = ended.end;
        for i in ended {
            check_field(self.limits, record.line, i, record.ends[i] - start_of(i))?;
        }
        if in_field {
            check_field(self.limits, record.line, nends, out - start_of(nends))?;
        }
        Ok(())
    }

    /// The common case, without csv-core: the buffer holds the record's whole line, with no
    /// quote and no `\r` before its `\n`. Its fields are then the bytes between commas, exactly
    /// what csv-core would yield, found with SIMD searches instead of a byte-at-a-time DFA.
    /// False (nothing consumed) for anything else, which csv-core then reads.
    fn read_plain_line(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        let buf = self.input.fill_buf()?;
        let Some(end) = memchr::memchr3(b'\n', b'\r', b'"', buf) else {
            return Ok(false);
        };
        let terminator = buf[end];
        if terminator == b'"' {
            return Ok(false);
        }
        let line = &buf[..end];
        let (mut out, mut nends, mut field_start) = (0, 0, 0);
        for comma in memchr::memchr_iter(self.delimiter, line).chain([line.len()]) {
            let field = &line[field_start..comma];
            // Field by field, so that a line over the limits is never copied whole.
            check_field(self.limits, record.line, nends, field.len())?;
            if record.data.len() < out + field.len() {
                record
                    .data
                    .resize((out + field.len()).next_power_of_two(), 0);
            }
            record.data[out..out + field.len()].copy_from_slice(field);
            out += field.len();
            if nends == record.ends.len() {
                record.ends.resize(nends * 2, 0);
            }
            record.ends[nends] = out;
            nends += 1;
            field_start = comma + 1;
        }
        record.len = nends;
        self.input.consume(end + 1);
        self.offset += end as u64 + 1;
        // As after csv-core: a `\r` waits for its `\n` in the skip loop.
        if terminator == b'\n' {
            self.skipped_lines += 1;
        } else {
            self.pending_cr = true;
        }
        Ok(true)
    }
}

/// Field `index` (0-based), `len` bytes long so far, of the record starting on `line`: past
/// the columns allowed, or too long (in that order, wherever it is found).
#[inline]
fn check_field(limits: Limits, line: u64, index: usize, len: usize) -> Result<(), ReadError> {
    let limit = if index >= limits.max_columns {
        Limit::Columns(limits.max_columns)
    } else if len > limits.max_field_bytes {
        Limit::FieldBytes(limits.max_field_bytes)
    } else {
        return Ok(());
    };
    Err(ReadError::Limit {
        line,
        column: index + 1,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with<R: BufRead>(input: R) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut r = RecordReader::new(input, Limits::default());
        let mut rec = Record::default();
        let mut out = Vec::new();
        while r.read(&mut rec).unwrap() {
            out.push((rec.line(), rec.iter().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    /// Parses in one buffer and in buffers of 1 to 3 bytes, which must agree.
    fn parse(input: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let whole = parse_with(input);
        for capacity in 1..=3 {
            let small = parse_with(std::io::BufReader::with_capacity(capacity, input));
            assert_eq!(small, whole, "buffer of {capacity}");
        }
        whole
    }

    fn lines(input: &[u8]) -> Vec<u64> {
        parse(input).into_iter().map(|(l, _)| l).collect()
    }

    #[test]
    fn line_numbers() {
        assert_eq!(lines(b"h\na\nb\n"), [1, 2, 3]);
        assert_eq!(lines(b"h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(lines(b"h\r\na\r\nb"), [1, 2, 3]);
        assert_eq!(lines(b"h\n\n\na\r\n\r\nb\n\n"), [1, 4, 6]);
        assert_eq!(lines(b"h\r\"x\r\ny\ny\",1\rb"), [1, 1, 3]);
        assert_eq!(lines(b"h\r\n\"x\r\ny\",1\r\nb\r\n"), [1, 2, 4]);
        assert_eq!(lines(b"\n\nh\n"), [3]);
        assert_eq!(lines(b""), Vec::<u64>::new());
        assert_eq!(lines(b"\r\n\r\n"), Vec::<u64>::new());
    }

    /// Record start offsets, the end offset and whether a lone `\r` was seen, in one buffer
    /// and in buffers of 1 to 3 bytes, which must agree.
    fn offsets(input: &[u8]) -> (Vec<u64>, u64, bool) {
        let run = |mut r: RecordReader<&mut dyn BufRead>| {
            let mut rec = Record::default();
            let mut starts = Vec::new();
            while r.read(&mut rec).unwrap() {
                starts.push(rec.start());
            }
            (starts, r.offset(), r.saw_bare_cr())
        };
        let mut whole_input = input;
        let whole = run(RecordReader::new(&mut whole_input, Limits::default()));
        for capacity in 1..=3 {
            let mut small = std::io::BufReader::with_capacity(capacity, input);
            assert_eq!(
                run(RecordReader::new(&mut small, Limits::default())),
                whole,
                "buffer of {capacity}"
            );
        }
        whole
    }

    #[test]
    fn record_offsets() {
        assert_eq!(offsets(b"h\na\nbb\n"), (vec![0, 2, 4], 7, false));
        assert_eq!(offsets(b"h\r\na\r\nbb"), (vec![0, 3, 6], 8, false));
        assert_eq!(offsets(b"h\n\n\r\na\n\n"), (vec![0, 5], 8, false));
        assert_eq!(offsets(b"h\n\"x\r\ry\"\nb\n"), (vec![0, 2, 9], 11, false));
        assert_eq!(offsets(b""), (vec![], 0, false));
    }

    #[test]
    fn lone_carriage_returns() {
        assert!(offsets(b"h\ra\rb").2);
        assert!(offsets(b"h\na\rb\n").2);
        assert!(offsets(b"h\na\r\r\nb\n").2);
        assert!(offsets(b"h\na\r").2);
        assert!(!offsets(b"h\r\na\r\n").2);
        assert!(!offsets(b"h\n\"a\rb\"\n").2);
    }

    proptest::proptest! {
        /// The line fast path and csv-core (1-byte buffers leave every record to csv-core) read
        /// the same records and lines from any mix of CSV's special bytes, and both agree with
        /// the `csv` crate's reader on the fields.
        #[test]
        fn fast_path_agrees_with_csv_core(
            input in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b','), proptest::strategy::Just(b'"'),
                proptest::strategy::Just(b'\n'), proptest::strategy::Just(b'\r'),
                proptest::strategy::Just(b'a'), proptest::strategy::Just(b'b'),
                proptest::strategy::Just(0xC3u8), proptest::strategy::Just(0xA9u8),
            ], 0..200)
        ) {
            let got = parse(&input);
            let mut reference = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&input[..]);
            let fields: Vec<Vec<Vec<u8>>> = reference
                .byte_records()
                .map(|r| r.expect("parses").iter().map(<[u8]>::to_vec).collect())
                .collect();
            proptest::prop_assert_eq!(got.into_iter().map(|(_, f)| f).collect::<Vec<_>>(), fields);
        }

        /// With small limits, both paths stop at the same record, line and column, the first
        /// field of the `csv` crate's records that breaks a limit.
        #[test]
        fn limits_stop_both_paths_at_the_same_field(
            input in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b','), proptest::strategy::Just(b'"'),
                proptest::strategy::Just(b'\n'), proptest::strategy::Just(b'\r'),
                proptest::strategy::Just(b'a'), proptest::strategy::Just(b'b'),
            ], 0..200),
            max_field_bytes in 0usize..6,
            max_columns in 1usize..6,
        ) {
            let limits = Limits { max_field_bytes, max_columns };
            let (records, stop) = parse_limited(&input, limits);
            let mut reference = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&input[..]);
            let mut expected = (Vec::new(), None);
            for record in reference.byte_records() {
                let record = record.expect("parses");
                let over = record.iter().enumerate().find_map(|(i, field)| {
                    if i >= max_columns {
                        Some((i + 1, Limit::Columns(max_columns)))
                    } else if field.len() > max_field_bytes {
                        Some((i + 1, Limit::FieldBytes(max_field_bytes)))
                    } else {
                        None
                    }
                });
                if let Some(over) = over {
                    expected.1 = Some(over);
                    break;
                }
                expected.0.push(record.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            proptest::prop_assert_eq!(records, expected.0);
            proptest::prop_assert_eq!(stop.map(|(_, column, limit)| (column, limit)), expected.1);
        }
    }

    /// The records read before a limit stopped the reader, and where it stopped: (line, column,
    /// limit).
    type Limited = (Vec<Vec<Vec<u8>>>, Option<(u64, usize, Limit)>);

    fn parse_limited_with<R: BufRead>(input: R, limits: Limits) -> Limited {
        let mut r = RecordReader::new(input, limits);
        let mut rec = Record::default();
        let mut out = Vec::new();
        loop {
            match r.read(&mut rec) {
                Ok(true) => out.push(rec.iter().map(<[u8]>::to_vec).collect()),
                Ok(false) => return (out, None),
                Err(ReadError::Limit {
                    line,
                    column,
                    limit,
                }) => return (out, Some((line, column, limit))),
                Err(ReadError::Io(e)) => panic!("{e}"),
            }
        }
    }

    /// [`parse_limited_with`] in one buffer (the line fast path) and in buffers of 1 to 3 bytes
    /// (csv-core), which must agree.
    fn parse_limited(input: &[u8], limits: Limits) -> Limited {
        let whole = parse_limited_with(input, limits);
        for capacity in 1..=3 {
            let small =
                parse_limited_with(std::io::BufReader::with_capacity(capacity, input), limits);
            assert_eq!(small, whole, "buffer of {capacity}");
        }
        whole
    }

    #[test]
    fn a_field_over_the_limit_stops_the_reader_at_its_line_and_column() {
        let limits = Limits {
            max_field_bytes: 3,
            max_columns: 3,
        };
        let (records, stop) = parse_limited(b"a,bbb,c\n\n1,22,\"4444\"\n", limits);
        assert_eq!(records.len(), 1);
        assert_eq!(stop, Some((3, 3, Limit::FieldBytes(3))));
        // Unquoted: the line fast path finds it.
        let (_, stop) = parse_limited(b"a,bbbb\n", limits);
        assert_eq!(stop, Some((1, 2, Limit::FieldBytes(3))));
        // Quotes do not count: the field's bytes are what it holds.
        assert_eq!(parse_limited(b"\"a\"\"b\"\n", limits).1, None);
    }

    #[test]
    fn columns_over_the_limit_stop_the_reader_at_the_first_one_too_many() {
        let limits = Limits {
            max_field_bytes: 10,
            max_columns: 2,
        };
        assert_eq!(
            parse_limited(b"a,b\nc,d", limits),
            (
                vec![
                    vec![b"a".to_vec(), b"b".to_vec()],
                    vec![b"c".to_vec(), b"d".to_vec()]
                ],
                None
            )
        );
        assert_eq!(
            parse_limited(b"a,b\n,,", limits).1,
            Some((2, 3, Limit::Columns(2)))
        );
        assert_eq!(
            parse_limited(b"\"a\nb\",b,\"c\"", limits).1,
            Some((1, 3, Limit::Columns(2)))
        );
        // The first problem in the record's order: here the column count, before a long field.
        assert_eq!(
            parse_limited(b"a,b,ccccccccccccccc", limits).1,
            Some((1, 3, Limit::Columns(2)))
        );
    }

    #[test]
    fn a_huge_field_or_line_is_not_buffered() {
        let limits = Limits {
            max_field_bytes: 1024,
            max_columns: 1000,
        };
        let mut field = vec![b'x'; 10 << 20];
        field.push(b'\n');
        let commas = vec![b','; 10 << 20];
        for input in [&field, &commas] {
            // In one buffer (the line fast path) and streamed through 8 KiB ones (csv-core).
            for capacity in [input.len(), 8192] {
                let mut r = RecordReader::new(
                    std::io::BufReader::with_capacity(capacity, &input[..]),
                    limits,
                );
                let mut rec = Record::default();
                assert!(matches!(
                    r.read(&mut rec),
                    Err(ReadError::Limit { line: 1, .. })
                ));
                assert!(
                    rec.data.len() <= 4 * 1024,
                    "{} bytes buffered",
                    rec.data.len()
                );
                assert!(
                    rec.ends.len() <= 2 * 1024,
                    "{} ends buffered",
                    rec.ends.len()
                );
            }
        }
    }

    #[test]
    fn fields() {
        let got = parse(b"a,\"b,\"\"c\"\"\nd\",\r\n,x");
        assert_eq!(
            got,
            [
                (1, vec![b"a".to_vec(), b"b,\"c\"\nd".to_vec(), vec![]]),
                (3, vec![vec![], b"x".to_vec()]),
            ]
        );
    }

    #[test]
    fn large_fields_and_many_fields() {
        let big = vec![b'x'; 300_000];
        // A small buffer, so that records and fields span many refills.
        let mut input = big.clone();
        input.extend_from_slice(b",");
        input.extend_from_slice(&[b','; 100]);
        input.extend_from_slice(b"\nnext");
        let got = parse_with(std::io::BufReader::with_capacity(7, &input[..]));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1.len(), 102);
        assert_eq!(got[0].1[0], big);
        assert_eq!(got[1], (2, vec![b"next".to_vec()]));
    }
}
