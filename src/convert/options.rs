//! What an export looks like, as declared by the user: its container, delimiter, encoding,
//! sheet, whitespace, date formats and time zone, and the headers the converted file gets.
//! Nothing here is guessed; only a byte-order mark or a workbook's file signature speaks for
//! itself.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::dates::DateFormat;
use crate::hrdata::{Field, Rule, Scenario};

/// The container of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// A workbook when the file's signature says so, else CSV.
    #[default]
    Auto,
    Csv,
    Xlsx,
}

impl FromStr for InputFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(InputFormat::Auto),
            "csv" => Ok(InputFormat::Csv),
            "xlsx" => Ok(InputFormat::Xlsx),
            _ => Err(format!("{text:?} is not a format: use csv, xlsx or auto")),
        }
    }
}

/// The column separator of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Comma,
    Semicolon,
    Tab,
    Pipe,
    /// From the header line: the one separator it holds; two kinds, or none, is an error.
    Auto,
}

impl Delimiter {
    /// The byte, for a declared delimiter.
    pub fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
            Delimiter::Pipe => Some(b'|'),
            Delimiter::Auto => None,
        }
    }
}

impl FromStr for Delimiter {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "," | "comma" => Ok(Delimiter::Comma),
            ";" | "semicolon" => Ok(Delimiter::Semicolon),
            "tab" | "\t" | "\\t" => Ok(Delimiter::Tab),
            "|" | "pipe" => Ok(Delimiter::Pipe),
            "auto" => Ok(Delimiter::Auto),
            _ => Err(format!(
                "{text:?} is not a delimiter: use ',', ';', tab, '|' or auto"
            )),
        }
    }
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delimiter::Comma => ",",
            Delimiter::Semicolon => ";",
            Delimiter::Tab => "tab",
            Delimiter::Pipe => "|",
            Delimiter::Auto => "auto",
        })
    }
}

/// The character encoding of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Little-endian unless a byte-order mark says big-endian (Excel's "Unicode Text").
    Utf16,
    /// Excel's "CSV" in Western European and US Windows locales.
    Windows1252,
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "utf-16" | "utf16" | "utf-16le" => Ok(Encoding::Utf16),
            "windows-1252" | "cp1252" => Ok(Encoding::Windows1252),
            _ => Err(format!(
                "{text:?} is not an encoding: use utf-8, utf-16 or windows-1252"
            )),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16 => "utf-16",
            Encoding::Windows1252 => "windows-1252",
        })
    }
}

/// Date formats: one for every date-time column, and any per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateFormats {
    pub all: Option<DateFormat>,
    pub fields: BTreeMap<Field, DateFormat>,
}

impl DateFormats {
    /// The format of `field`'s values: its own, else the one for all, else the strict rule.
    pub fn of(&self, field: Field) -> DateFormat {
        self.fields
            .get(&field)
            .or(self.all.as_ref())
            .cloned()
            .unwrap_or(DateFormat::Iso8601)
    }

    /// Parses `FORMAT` (for all) or `FIELD=FORMAT` (a field of the date-time rule).
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let field_part = text
            .split_once('=')
            .filter(|(field, _)| !field.contains('%'));
        match field_part {
            Some((field, format)) => {
                let field = Field::parse(field.trim())
                    .filter(|f| is_date_field(*f))
                    .ok_or_else(|| {
                        format!(
                            "{field:?} is not a date-time column; those are {}",
                            date_fields()
                                .map(Field::name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })?;
                self.fields.insert(field, format.parse()?);
            }
            None => self.all = Some(text.parse()?),
        }
        Ok(())
    }

    /// True when some value will be converted (a format other than the strict rule).
    pub fn converts(&self) -> bool {
        self.all
            .iter()
            .chain(self.fields.values())
            .any(|f| *f != DateFormat::Iso8601)
    }
}

/// The fields whose values are date-times.
pub fn date_fields() -> impl Iterator<Item = Field> {
    Field::ALL.into_iter().filter(|f| is_date_field(*f))
}

/// Whether `field` holds date-times in the scenarios that have it.
pub fn is_date_field(field: Field) -> bool {
    Scenario::ALL.iter().any(|s| {
        s.columns()
            .iter()
            .any(|c| c.field == field && c.rule == Rule::DateTime)
    })
}

/// How an export is read and converted. The default converts nothing: the bytes are validated
/// and sent as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputOptions {
    pub format: InputFormat,
    /// `None`: UTF-8, or what a byte-order mark says.
    pub encoding: Option<Encoding>,
    /// `None`: a comma.
    pub delimiter: Option<Delimiter>,
    /// The sheet of a workbook; `None`: the first.
    pub sheet: Option<String>,
    /// Surrounding whitespace removed from every value.
    pub trim: bool,
    pub dates: DateFormats,
    /// IANA name of the zone of values without an offset; `None`: UTC.
    pub time_zone: Option<String>,
    /// Headers of the converted file other than the fields' default names.
    pub output_headers: BTreeMap<Field, String>,
}

impl InputOptions {
    /// Whether anything but the bytes as they are was asked for. A workbook is converted even
    /// without (its file signature says so).
    pub fn converts(&self) -> bool {
        self.format == InputFormat::Xlsx
            || self.encoding.is_some_and(|e| e != Encoding::Utf8)
            || self.delimiter.is_some_and(|d| d != Delimiter::Comma)
            || self.sheet.is_some()
            || self.trim
            || self.dates.converts()
            || self.time_zone.is_some()
            || !self.output_headers.is_empty()
    }

    /// The time zone of values without an offset.
    pub fn zone(&self) -> Result<jiff::tz::TimeZone, String> {
        match &self.time_zone {
            None => Ok(jiff::tz::TimeZone::UTC),
            Some(name) => jiff::tz::TimeZone::get(name)
                .map_err(|_| format!("{name:?} is not an IANA time zone (e.g. America/New_York)")),
        }
    }

    /// The header the converted file gives `field`.
    pub fn output_header(&self, field: Field) -> &str {
        self.output_headers
            .get(&field)
            .map_or(field.default_header(), String::as_str)
    }
}
