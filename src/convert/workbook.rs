//! Rows of one sheet of an Excel workbook, streamed.
//!
//! `.xlsx` is read with calamine's streaming cell reader
//! ([`calamine::Xlsx::worksheet_cells_reader`]): the sheet's XML is decompressed and parsed as it
//! is read, cell by cell, so only the workbook's shared-strings table (and styles) is held in
//! memory, never the sheet. That reader borrows the workbook, so both live on a worker thread
//! that hands rows over through a small bounded channel: a few thousand cells in flight at most,
//! whatever the sheet's length. The old `.xls` format (at most 65,536 rows) is read whole by
//! calamine and streamed from memory the same way.
//!
//! Error messages name the file, the sheet and the row, never a cell's value: HR data is
//! personal data.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{
    Data, DataRef, ExcelDateTime, Reader, Sheet, SheetType, SheetVisible, Xls, XlsError, Xlsx,
    XlsxError,
};
use jiff::civil::DateTime;

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Excel's limits: positions beyond them are a malformed file, not data.
const MAX_ROWS: u32 = 1_048_576;
const MAX_COLUMNS: u32 = 16_384;

/// Cells per message from the worker, and messages the channel holds: what bounds memory.
const BATCH_CELLS: usize = 4096;
const CHANNEL_BATCHES: usize = 4;

const MS_PER_DAY: i64 = 86_400_000;

/// True when `prefix` (the first bytes of a file) is a workbook: the ZIP signature `PK\x03\x04`
/// of .xlsx or the CFB signature of .xls.
pub fn is_workbook(prefix: &[u8]) -> bool {
    prefix.starts_with(ZIP_MAGIC) || prefix.starts_with(CFB_MAGIC)
}

/// One cell as the connector needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    /// Text, and numbers, booleans and errors already rendered as text.
    Text(String),
    /// A typed date or date-time cell (local time; no zone in Excel).
    DateTime(DateTime),
}

impl Cell {
    /// The cell as CSV text: numbers as Excel shows them (15 significant digits, no exponent,
    /// integers without ".0"), booleans TRUE/FALSE, errors as "#N/A" etc., dates as
    /// yyyy-mm-ddThh:mm:ss (with .fff only when there are milliseconds).
    pub fn to_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(text) => text.clone(),
            Cell::DateTime(dt) if dt.subsec_nanosecond() == 0 => {
                dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()
            }
            Cell::DateTime(dt) => dt.strftime("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not an Excel workbook (.xlsx or .xls)", path.display())]
    NotAWorkbook { path: PathBuf },
    #[error("{} has no sheet named {sheet:?}; its sheets are {}", path.display(), quoted(available))]
    NoSuchSheet {
        path: PathBuf,
        sheet: String,
        available: Vec<String>,
    },
    #[error("{} has no worksheet", path.display())]
    NoWorksheet { path: PathBuf },
    #[error("cannot open workbook {}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    #[error("cannot read workbook {}, sheet {sheet:?}{}: {message}", path.display(), at_row(*row))]
    Read {
        path: PathBuf,
        sheet: String,
        /// The row (1-based, as Excel shows it) being read, when known.
        row: Option<u32>,
        message: String,
    },
}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    names.join(", ")
}

fn at_row(row: Option<u32>) -> String {
    row.map(|r| format!(", row {r}")).unwrap_or_default()
}

/// A row as the worker sends it: its 1-based number and its cells, trailing empties trimmed.
type Row = (u32, Vec<Cell>);

enum Msg {
    Opened(String),
    Rows(Vec<Row>),
    Done,
    Failed(WorkbookError),
}

/// Streams one sheet's rows. Rows come in order; empty rows between rows with data come as rows
/// of empty cells (so row numbers stay true), empty rows after the last one are not returned.
/// Each row has the cells up to its last non-empty one, padded with empty cells up to the header
/// row's (the first row's) width. Columns are Excel's, from A: a sheet starting in column C has
/// two empty cells first.
pub struct SheetRows {
    path: PathBuf,
    sheet: String,
    rx: Receiver<Msg>,
    batch: std::vec::IntoIter<Row>,
    /// The next row with data, held back while the empty rows before it are returned.
    pending: Option<Row>,
    /// The number the next row returned has; `None` before the header row.
    next_number: Option<u32>,
    width: usize,
    finished: bool,
}

impl SheetRows {
    /// Opens `path`, the sheet named `sheet` or the first (visible) worksheet when None. Errors
    /// name the file and, for a missing sheet, list the sheets there are.
    pub fn open(path: &Path, sheet: Option<&str>) -> Result<Self, WorkbookError> {
        let io_err = |source| WorkbookError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut prefix = [0u8; 8];
        let len = read_prefix(&mut file, &mut prefix).map_err(io_err)?;
        let format = match &prefix[..len] {
            p if p.starts_with(ZIP_MAGIC) => Format::Xlsx,
            p if p.starts_with(CFB_MAGIC) => Format::Xls,
            _ => {
                return Err(WorkbookError::NotAWorkbook {
                    path: path.to_owned(),
                });
            }
        };
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;

        let (tx, rx) = sync_channel(CHANNEL_BATCHES);
        let worker = Worker {
            path: path.to_owned(),
            sheet: String::new(),
            tx,
        };
        let wanted = sheet.map(str::to_owned);
        std::thread::Builder::new()
            .name("workbook-reader".into())
            .spawn(move || worker.run(format, file, wanted.as_deref()))
            .map_err(io_err)?;

        let mut rows = SheetRows {
            path: path.to_owned(),
            sheet: String::new(),
            rx,
            batch: Vec::new().into_iter(),
            pending: None,
            next_number: None,
            width: 0,
            finished: false,
        };
        match rows.rx.recv() {
            Ok(Msg::Opened(name)) => {
                rows.sheet = name;
                Ok(rows)
            }
            Ok(Msg::Failed(e)) => Err(e),
            _ => Err(WorkbookError::Open {
                path: path.to_owned(),
                message: "the workbook reader stopped unexpectedly".into(),
            }),
        }
    }

    /// Name of the sheet being read.
    pub fn sheet_name(&self) -> &str {
        &self.sheet
    }

    /// The next row: its 1-based row number as Excel shows it, and its cells.
    pub fn next_row(&mut self) -> Result<Option<(u32, Vec<Cell>)>, WorkbookError> {
        if self.pending.is_none() {
            self.pending = self.fetch()?;
        }
        let Some((number, _)) = &self.pending else {
            return Ok(None);
        };
        if let Some(next) = self.next_number.filter(|next| next < number) {
            self.next_number = Some(next + 1);
            return Ok(Some((next, vec![Cell::Empty; self.width])));
        }
        let Some((number, mut cells)) = self.pending.take() else {
            return Ok(None);
        };
        if self.next_number.is_none() {
            self.width = cells.len();
        }
        if cells.len() < self.width {
            cells.resize(self.width, Cell::Empty);
        }
        self.next_number = Some(number.saturating_add(1));
        Ok(Some((number, cells)))
    }

    /// The next row with data from the worker.
    fn fetch(&mut self) -> Result<Option<Row>, WorkbookError> {
        loop {
            if let Some(row) = self.batch.next() {
                return Ok(Some(row));
            }
            if self.finished {
                return Ok(None);
            }
            match self.rx.recv() {
                Ok(Msg::Rows(rows)) => self.batch = rows.into_iter(),
                Ok(Msg::Done) => self.finished = true,
                Ok(Msg::Failed(e)) => {
                    self.finished = true;
                    return Err(e);
                }
                Ok(Msg::Opened(_)) => {}
                // The worker hung up without a word: it panicked.
                Err(_) => {
                    self.finished = true;
                    return Err(WorkbookError::Read {
                        path: self.path.clone(),
                        sheet: self.sheet.clone(),
                        row: self.next_number,
                        message: "the workbook reader stopped unexpectedly".into(),
                    });
                }
            }
        }
    }
}

fn read_prefix(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[derive(Clone, Copy)]
enum Format {
    Xlsx,
    Xls,
}

/// Why the worker stopped early.
enum Stop {
    /// The reader was dropped: nobody to tell.
    HungUp,
    Failed(WorkbookError),
}

impl From<WorkbookError> for Stop {
    fn from(e: WorkbookError) -> Self {
        Stop::Failed(e)
    }
}

/// The worker thread: opens the workbook, then sends the sheet's rows in batches.
struct Worker {
    path: PathBuf,
    sheet: String,
    tx: SyncSender<Msg>,
}

impl Worker {
    fn run(mut self, format: Format, file: File, wanted: Option<&str>) {
        let result = match format {
            Format::Xlsx => self.stream_xlsx(file, wanted),
            Format::Xls => self.stream_xls(file, wanted),
        };
        match result {
            Ok(()) => _ = self.tx.send(Msg::Done),
            Err(Stop::Failed(e)) => _ = self.tx.send(Msg::Failed(e)),
            Err(Stop::HungUp) => {}
        }
    }

    fn stream_xlsx(&mut self, file: File, wanted: Option<&str>) -> Result<(), Stop> {
        let mut book = Xlsx::new(BufReader::new(file)).map_err(|e| {
            self.open_error(format!(
                "not a readable .xlsx file ({}); save it as .xlsx or CSV",
                xlsx_kind(&e)
            ))
        })?;
        self.sheet = choose_sheet(&self.path, book.sheets_metadata(), wanted)?;
        let is_1904 = book.has_1904_epoch();
        let mut cells = book
            .worksheet_cells_reader(&self.sheet)
            .map_err(|e| self.read_error(None, xlsx_kind(&e)))?;
        self.send(Msg::Opened(self.sheet.clone()))?;
        let mut rows = Batcher::default();
        loop {
            let cell = cells
                .next_cell()
                .map_err(|e| self.read_error(rows.current(), xlsx_kind(&e)))?;
            let Some(cell) = cell else { break };
            let (row, col) = cell.get_position();
            let value = to_cell(cell.get_value(), is_1904);
            if let Some(batch) = rows
                .push(row, col, value)
                .map_err(|m| self.read_error(rows.current(), m))?
            {
                self.send(Msg::Rows(batch))?;
            }
        }
        self.send(Msg::Rows(rows.finish()))
    }

    fn stream_xls(&mut self, file: File, wanted: Option<&str>) -> Result<(), Stop> {
        // calamine parses an .xls whole; Excel caps it at 65,536 rows by 256 columns.
        let mut book = match Xls::new(BufReader::new(file)) {
            Ok(book) => book,
            Err(e) => return Err(self.open_error(self.xls_open_message(&e)).into()),
        };
        self.sheet = choose_sheet(&self.path, book.sheets_metadata(), wanted)?;
        let is_1904 = book.has_1904_epoch();
        let range = book
            .worksheet_range(&self.sheet)
            .map_err(|e| self.read_error(None, e.to_string()))?;
        drop(book);
        self.send(Msg::Opened(self.sheet.clone()))?;
        let (top, left) = range.start().unwrap_or((0, 0));
        let mut rows = Batcher::default();
        for (row, col, value) in range.used_cells() {
            let (row, col) = (top + row as u32, left + col as u32);
            let value = to_cell(&data_ref(value), is_1904);
            if let Some(batch) = rows
                .push(row, col, value)
                .map_err(|m| self.read_error(rows.current(), m))?
            {
                self.send(Msg::Rows(batch))?;
            }
        }
        self.send(Msg::Rows(rows.finish()))
    }

    /// A CFB file that is no .xls may be an .xlsx with a password, which Excel stores as CFB.
    fn xls_open_message(&self, e: &XlsError) -> String {
        let encrypted = File::open(&self.path)
            .is_ok_and(|f| matches!(Xlsx::new(BufReader::new(f)), Err(XlsxError::Password)));
        if matches!(e, XlsError::Password) || encrypted {
            "the workbook is password protected; save it without a password".into()
        } else {
            format!("not a readable .xls file ({e}); save it as .xlsx or CSV")
        }
    }

    fn send(&self, msg: Msg) -> Result<(), Stop> {
        self.tx.send(msg).map_err(|_| Stop::HungUp)
    }

    fn open_error(&self, message: String) -> WorkbookError {
        WorkbookError::Open {
            path: self.path.clone(),
            message,
        }
    }

    fn read_error(&self, row: Option<u32>, message: String) -> WorkbookError {
        WorkbookError::Read {
            path: self.path.clone(),
            sheet: self.sheet.clone(),
            row,
            message,
        }
    }
}

/// The sheet asked for (exactly, else ignoring case as Excel does), or the first visible
/// worksheet, or the first worksheet.
fn choose_sheet(
    path: &Path,
    sheets: &[Sheet],
    wanted: Option<&str>,
) -> Result<String, WorkbookError> {
    let found = match wanted {
        Some(wanted) => sheets
            .iter()
            .find(|s| s.name == wanted)
            .or_else(|| {
                sheets
                    .iter()
                    .find(|s| s.name.to_lowercase() == wanted.to_lowercase())
            })
            .ok_or_else(|| WorkbookError::NoSuchSheet {
                path: path.to_owned(),
                sheet: wanted.to_owned(),
                available: sheets.iter().map(|s| s.name.clone()).collect(),
            })?,
        None => {
            let mut worksheets = sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
            worksheets
                .clone()
                .find(|s| s.visible == SheetVisible::Visible)
                .or_else(|| worksheets.next())
                .ok_or_else(|| WorkbookError::NoWorksheet {
                    path: path.to_owned(),
                })?
        }
    };
    Ok(found.name.clone())
}

/// Groups cells, which come in row order, into rows and rows into batches. Empty cells are not
/// stored (so trailing ones vanish) and rows without data are not sent: the reading side
/// recreates the gaps, and empty rows after the last row with data never appear.
#[derive(Default)]
struct Batcher {
    /// 0-based row being collected; `None` before the first cell.
    row: Option<u32>,
    cells: Vec<Cell>,
    batch: Vec<Row>,
    batch_cells: usize,
}

impl Batcher {
    /// The 1-based number of the row being read, for error messages.
    fn current(&self) -> Option<u32> {
        self.row.map(|r| r + 1)
    }

    /// Adds a cell; returns a full batch to send.
    fn push(&mut self, row: u32, col: u32, cell: Cell) -> Result<Option<Vec<Row>>, String> {
        if row >= MAX_ROWS || col >= MAX_COLUMNS {
            return Err("a cell lies beyond Excel's last row or column".into());
        }
        let mut full = None;
        match self.row {
            Some(current) if row < current => {
                return Err("the sheet's rows are out of order".into());
            }
            Some(current) if row == current => {}
            _ => {
                self.end_row();
                self.row = Some(row);
                if self.batch_cells >= BATCH_CELLS {
                    full = Some(self.take_batch());
                }
            }
        }
        if cell != Cell::Empty {
            let col = col as usize;
            if self.cells.len() <= col {
                self.cells.resize(col + 1, Cell::Empty);
            }
            self.cells[col] = cell;
        }
        Ok(full)
    }

    /// The last batch.
    fn finish(mut self) -> Vec<Row> {
        self.end_row();
        self.take_batch()
    }

    fn end_row(&mut self) {
        if let (Some(row), false) = (self.row, self.cells.is_empty()) {
            self.batch_cells += self.cells.len();
            self.batch.push((row + 1, mem::take(&mut self.cells)));
        }
    }

    fn take_batch(&mut self) -> Vec<Row> {
        self.batch_cells = 0;
        mem::take(&mut self.batch)
    }
}

/// calamine's error, reduced to its kind where it could quote a cell's content.
fn xlsx_kind(e: &XlsxError) -> String {
    match e {
        XlsxError::Unrecognized { typ, .. } => format!("unrecognized {typ}"),
        XlsxError::CellError(_) => "unsupported cell error value".into(),
        XlsxError::Xml(_) | XlsxError::XmlAttr(_) => "malformed XML".into(),
        XlsxError::Encoding(_) => "XML encoding error".into(),
        XlsxError::Password => "the workbook is password protected".into(),
        other => other.to_string(),
    }
}

/// A borrowed view of an .xls cell, to share the conversion with .xlsx.
fn data_ref(value: &Data) -> DataRef<'_> {
    match value {
        Data::Int(i) => DataRef::Int(*i),
        Data::Float(f) => DataRef::Float(*f),
        Data::String(s) => DataRef::SharedString(s),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(d) => DataRef::DateTime(*d),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
        Data::Empty => DataRef::Empty,
    }
}

fn to_cell(value: &DataRef<'_>, is_1904: bool) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) | DataRef::DurationIso(s) => text(s),
        DataRef::SharedString(s) => text(s),
        DataRef::Int(i) => Cell::Text(i.to_string()),
        DataRef::Float(f) => Cell::Text(number_text(*f)),
        DataRef::Bool(b) => Cell::Text(if *b { "TRUE" } else { "FALSE" }.into()),
        DataRef::Error(e) => Cell::Text(e.to_string()),
        DataRef::DateTime(d) => date_cell(d, is_1904),
        // Typed `t="d"` cells hold ISO 8601 text; one with an offset or zone stays text.
        DataRef::DateTimeIso(s) => match s.parse::<DateTime>() {
            Ok(dt) => Cell::DateTime(dt.round(jiff::Unit::Millisecond).unwrap_or(dt)),
            Err(_) => text(s),
        },
    }
}

fn text(s: &str) -> Cell {
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s.to_owned())
    }
}

/// Numbers as Excel's General format shows them: 15 significant digits (the file holds the
/// binary value, e.g. 0.30000000000000004 for 0.1+0.2), no exponent, no ".0".
fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return "#NUM!".into();
    }
    let shown: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    if shown == 0.0 {
        // Also -0.
        return "0".into();
    }
    shown.to_string()
}

fn date_cell(d: &ExcelDateTime, is_1904: bool) -> Cell {
    let serial = d.as_f64();
    // Durations ([h]:mm:ss) and times of day (less than a day) are not dates.
    if d.is_duration() || (0.0..1.0).contains(&serial) {
        return Cell::Text(clock_text(serial));
    }
    match super::dates::excel_serial_to_civil(serial, is_1904) {
        Some(dt) => Cell::DateTime(dt),
        // Outside Excel's calendar: keep the number.
        None => Cell::Text(number_text(serial)),
    }
}

/// A time of day or a duration as h:mm:ss (hours beyond 24 for durations), .fff when needed.
fn clock_text(days: f64) -> String {
    let millis = (days * MS_PER_DAY as f64).round() as i64;
    let sign = if millis < 0 { "-" } else { "" };
    let millis = millis.unsigned_abs();
    let (h, m, s, ms) = (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    );
    if ms == 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}.{ms:03}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rust_xlsxwriter::{ExcelDateTime as XlsxDate, Format as XlsxFormat, Workbook};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn all_rows(path: &Path, sheet: Option<&str>) -> Result<Vec<(u32, Vec<Cell>)>, WorkbookError> {
        let mut rows = SheetRows::open(path, sheet)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next_row()? {
            out.push(row);
        }
        Ok(out)
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    /// Two sheets: Resignation (typed dates and one text date) and Leavers.
    fn hr_workbook(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
        let path = dir.join("hr.xlsx");
        let mut book = Workbook::new();
        let day = XlsxFormat::new().set_num_format("yyyy-mm-dd");
        let moment = XlsxFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");

        let sheet = book.add_worksheet().set_name("Resignation")?;
        for (col, header) in ["EmailAddress", "TerminationDate", "LastWorkingDate"]
            .into_iter()
            .enumerate()
        {
            sheet.write_string(0, col as u16, header)?;
        }
        sheet.write_string(1, 0, "ada@contoso.com")?;
        sheet.write_datetime_with_format(1, 1, XlsxDate::from_ymd(2024, 3, 31)?, &day)?;
        let last = XlsxDate::from_ymd(2024, 4, 15)?.and_hms_milli(17, 30, 5, 250)?;
        sheet.write_datetime_with_format(1, 2, last, &moment)?;
        sheet.write_string(2, 0, "bob@contoso.com")?;
        sheet.write_string(2, 1, "2024-05-01")?;
        sheet.write_datetime_with_format(2, 2, XlsxDate::from_ymd(2024, 5, 2)?, &day)?;

        let sheet = book.add_worksheet().set_name("Leavers")?;
        sheet.write_string(0, 0, "EmailAddress")?;
        sheet.write_string(1, 0, "eve@contoso.com")?;
        book.save(&path)?;
        Ok(path)
    }

    #[test]
    fn typed_dates_and_text_dates() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = hr_workbook(dir.path())?;
        let rows = SheetRows::open(&path, None)?;
        assert_eq!(rows.sheet_name(), "Resignation");
        let rows = all_rows(&path, None)?;
        assert_eq!(
            rows,
            vec![
                (
                    1,
                    vec![
                        text("EmailAddress"),
                        text("TerminationDate"),
                        text("LastWorkingDate")
                    ]
                ),
                (
                    2,
                    vec![
                        text("ada@contoso.com"),
                        Cell::DateTime(date(2024, 3, 31).at(0, 0, 0, 0)),
                        Cell::DateTime(date(2024, 4, 15).at(17, 30, 5, 250_000_000)),
                    ]
                ),
                (
                    3,
                    vec![
                        text("bob@contoso.com"),
                        text("2024-05-01"),
                        Cell::DateTime(date(2024, 5, 2).at(0, 0, 0, 0)),
                    ]
                ),
            ]
        );
        assert_eq!(rows[1].1[1].to_text(), "2024-03-31T00:00:00");
        assert_eq!(rows[1].1[2].to_text(), "2024-04-15T17:30:05.250");
        Ok(())
    }

    #[test]
    fn sheet_by_name_and_missing_sheet() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = hr_workbook(dir.path())?;
        let rows = all_rows(&path, Some("Leavers"))?;
        assert_eq!(
            rows,
            vec![
                (1, vec![text("EmailAddress")]),
                (2, vec![text("eve@contoso.com")])
            ]
        );
        // Excel's sheet names ignore case.
        assert_eq!(
            SheetRows::open(&path, Some("leavers"))?.sheet_name(),
            "Leavers"
        );

        let err = SheetRows::open(&path, Some("Joiners"))
            .err()
            .ok_or("opened")?;
        let WorkbookError::NoSuchSheet {
            sheet, available, ..
        } = &err
        else {
            return Err(format!("unexpected error {err}").into());
        };
        assert_eq!(sheet, "Joiners");
        assert_eq!(available, &["Resignation", "Leavers"]);
        let message = err.to_string();
        assert!(message.contains("hr.xlsx"), "{message}");
        assert!(message.contains(r#""Resignation", "Leavers""#), "{message}");
        Ok(())
    }

    #[test]
    fn gaps_numbers_and_booleans() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("mixed.xlsx");
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Id")?;
        sheet.write_string(0, 1, "Amount")?;
        sheet.write_string(0, 2, "Active")?;
        sheet.write_string(0, 3, "Note")?;
        sheet.write_number(1, 0, 42)?;
        sheet.write_number(1, 1, 1234.5)?;
        sheet.write_boolean(1, 2, true)?;
        // Row 3 is empty; row 4 is short and has a gap.
        sheet.write_number(3, 0, 1e15)?;
        sheet.write_number(3, 1, 0.1 + 0.2)?;
        sheet.write_boolean(3, 2, false)?;
        // A short row, and a row wider than the header.
        sheet.write_number(4, 1, -0.000123)?;
        sheet.write_string(5, 5, "wide")?;
        // Empty rows at the end are not returned.
        sheet.write_blank(8, 0, &XlsxFormat::new().set_bold())?;
        book.save(&path)?;

        let rows = all_rows(&path, None)?;
        let texts: Vec<(u32, Vec<String>)> = rows
            .iter()
            .map(|(n, cells)| (*n, cells.iter().map(Cell::to_text).collect()))
            .collect();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            texts,
            vec![
                (1, strings(&["Id", "Amount", "Active", "Note"])),
                (2, strings(&["42", "1234.5", "TRUE", ""])),
                (3, strings(&["", "", "", ""])),
                (4, strings(&["1000000000000000", "0.3", "FALSE", ""])),
                (5, strings(&["", "-0.000123", "", ""])),
                (6, strings(&["", "", "", "", "", "wide"])),
            ]
        );
        Ok(())
    }

    #[test]
    fn recognises_workbook_signatures() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = hr_workbook(dir.path())?;
        let bytes = std::fs::read(&path)?;
        assert!(is_workbook(&bytes[..8]));
        assert!(is_workbook(CFB_MAGIC));
        assert!(!is_workbook(b"EmailAddress,TerminationDate\r\n"));
        assert!(!is_workbook(b"PK"));
        assert!(!is_workbook(b""));
        Ok(())
    }

    #[test]
    fn csv_is_not_a_workbook() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hr.csv");
        std::fs::write(
            &path,
            "EmailAddress,TerminationDate\r\na@b.c,2024-01-01\r\n",
        )?;
        let err = SheetRows::open(&path, None).err().ok_or("opened")?;
        assert!(matches!(err, WorkbookError::NotAWorkbook { .. }), "{err}");
        assert!(err.to_string().contains("hr.csv"));

        let missing = SheetRows::open(&dir.path().join("absent.xlsx"), None).err();
        assert!(matches!(missing, Some(WorkbookError::Io { .. })));
        Ok(())
    }

    #[test]
    fn garbage_after_a_zip_or_cfb_signature_is_an_error() -> TestResult {
        let dir = tempfile::tempdir()?;
        for (i, magic) in [ZIP_MAGIC, CFB_MAGIC].into_iter().enumerate() {
            let mut bytes = magic.to_vec();
            bytes.extend((0u32..4096).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8));
            let path = dir.path().join(format!("junk{i}.xlsx"));
            std::fs::write(&path, &bytes)?;
            let err = SheetRows::open(&path, None).err().ok_or("opened")?;
            assert!(matches!(err, WorkbookError::Open { .. }), "{err}");
        }

        // A real ZIP that is no workbook.
        let path = dir.path().join("truncated.xlsx");
        let bytes = std::fs::read(hr_workbook(dir.path())?)?;
        std::fs::write(&path, &bytes[..bytes.len() / 2])?;
        assert!(SheetRows::open(&path, None).is_err());
        Ok(())
    }

    #[test]
    fn serial_dates() {
        let at = |y, m, d, h, min, s, ms| Some(date(y, m, d).at(h, min, s, ms * 1_000_000));
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(1.0, false),
            at(1900, 1, 1, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(59.0, false),
            at(1900, 2, 28, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(61.0, false),
            at(1900, 3, 1, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(45943.5, false),
            at(2025, 10, 13, 12, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(45943.541, false),
            at(2025, 10, 13, 12, 59, 2, 400)
        );
        // A time a hair before midnight rounds to the next day.
        let almost = 45943.0 + (MS_PER_DAY as f64 - 0.4) / MS_PER_DAY as f64;
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(almost, false),
            at(2025, 10, 14, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(0.0, true),
            at(1904, 1, 1, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(44481.0, true),
            at(2025, 10, 13, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(2_958_465.0, false),
            at(9999, 12, 31, 0, 0, 0, 0)
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(3e6, false),
            None
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(-1.0, false),
            None
        );
        assert_eq!(
            crate::convert::dates::excel_serial_to_civil(f64::NAN, false),
            None
        );

        assert_eq!(clock_text(0.5), "12:00:00");
        assert_eq!(clock_text(1.5 + 0.25 / 86_400.0), "36:00:00.250");
        assert_eq!(number_text(1e21), "1000000000000000000000");
        assert_eq!(number_text(-0.0), "0");
    }

    // Memory stays bounded because nothing here holds more than the shared-strings table (held by
    // calamine), one row being collected, and at most CHANNEL_BATCHES + 2 batches of about
    // BATCH_CELLS cells. To check it on Excel's maximum sheet (writing it takes a while and a
    // few hundred MB in rust_xlsxwriter, so it runs in this process and the reading in a child
    // whose peak RSS is measured):
    //   cargo test --lib convert::workbook::tests::max_rows_in_bounded_memory -- --ignored --nocapture
    #[test]
    #[ignore = "slow: writes a 1,048,576-row workbook"]
    fn max_rows_in_bounded_memory() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("max.xlsx");
        let mut book = Workbook::new();
        let day = XlsxFormat::new().set_num_format("yyyy-mm-dd");
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "EmailAddress")?;
        sheet.write_string(0, 1, "TerminationDate")?;
        sheet.write_string(0, 2, "Note")?;
        let when = XlsxDate::from_ymd(2024, 3, 31)?;
        for row in 1..MAX_ROWS {
            sheet.write_string(row, 0, format!("person{row}@contoso.com"))?;
            sheet.write_datetime_with_format(row, 1, &when, &day)?;
            sheet.write_string(row, 2, "resigned")?;
        }
        book.save(&path)?;
        drop(book);

        let output = std::process::Command::new(std::env::current_exe()?)
            .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
            .arg("convert::workbook::tests::max_rows_child")
            .env("HRCONNECTOR_MAX_ROWS_XLSX", &path)
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("{stdout}");
        assert!(output.status.success(), "{stdout}");
        assert!(
            stdout.contains("peak RSS"),
            "the child did not run: {stdout}"
        );
        Ok(())
    }

    /// The reading half of `max_rows_in_bounded_memory`; does nothing on its own.
    #[test]
    #[ignore = "run by max_rows_in_bounded_memory"]
    fn max_rows_child() -> TestResult {
        let Some(path) = std::env::var_os("HRCONNECTOR_MAX_ROWS_XLSX") else {
            return Ok(());
        };
        let mut rows = SheetRows::open(Path::new(&path), None)?;
        let mut count = 0u32;
        while let Some((number, cells)) = rows.next_row()? {
            count += 1;
            assert_eq!(number, count);
            assert_eq!(cells.len(), 3);
        }
        assert_eq!(count, MAX_ROWS);
        let status = std::fs::read_to_string("/proc/self/status")?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or("no VmHWM")?;
        println!("read {count} rows; peak RSS {} MiB", kib / 1024);
        assert!(kib <= 256 * 1024, "peak RSS {kib} KiB");
        Ok(())
    }
}
