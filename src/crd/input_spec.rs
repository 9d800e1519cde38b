//! `spec.input`: what the HR system's export looks like, declared so it can be converted on the
//! way (the flags of `hrconnector upload`: `--delimiter`, `--encoding`, `--sheet`, `--trim`,
//! `--date-format`, `--time-zone`, `--output-header`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::convert::options::{DateFormats, InputFormat, InputOptions};
use crate::hrdata::Field;

/// How the export is read and converted before validation. Unset: the file must already be the
/// connector's CSV, and is sent byte for byte.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputSpec {
    /// Csv, Xlsx, or Auto (the default: a workbook by its file signature, else CSV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(Auto|Csv|Xlsx)$"))]
    pub format: Option<String>,
    /// The column separator: "," (default), ";", "tab", "|", or "auto" (from the header line;
    /// refused when it holds several candidates or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(,|;|tab|\||auto)$"))]
    pub delimiter: Option<String>,
    /// utf-8 (default), utf-16 (Excel's "Unicode Text"; also recognised by its byte-order
    /// mark) or windows-1252 (Excel's CSV in Western locales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(utf-8|utf-16|windows-1252)$"))]
    pub encoding: Option<String>,
    /// The sheet of a workbook (default: the first). A ConfigMap's binaryData key can hold the
    /// workbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 31))]
    pub sheet: Option<String>,
    /// Removes whitespace around every value.
    #[serde(default)]
    pub trim: bool,
    /// How date-time columns are written, per field (terminationDate, lastWorkingDate,
    /// effectiveDate) or `all`: a preset (iso8601, the default; date; us; workday; epoch-ms;
    /// excel-serial) or a strftime pattern with % (e.g. "%d.%m.%Y").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub date_formats: BTreeMap<String, String>,
    /// IANA time zone of date-times without an offset, with its daylight-saving rules (default
    /// UTC). Not the schedule's spec.timeZone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The header a field gets in the converted file, per field (default: the field's
    /// documented name, e.g. EmailAddress).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_headers: BTreeMap<String, String>,
}

impl InputSpec {
    /// The input options, or what is wrong, naming the field.
    pub fn options(&self) -> Result<InputOptions, String> {
        let mut dates = DateFormats::default();
        for (field, format) in &self.date_formats {
            let text = if field == "all" {
                format.clone()
            } else {
                format!("{field}={format}")
            };
            dates
                .add(&text)
                .map_err(|e| format!("spec.input.dateFormats.{field}: {e}"))?;
        }
        let mut output_headers = BTreeMap::new();
        for (field, name) in &self.output_headers {
            let key = Field::parse(field).ok_or_else(|| {
                format!("spec.input.outputHeaders.{field}: not a field of spec.columns")
            })?;
            if name.is_empty() {
                return Err(format!("spec.input.outputHeaders.{field}: empty"));
            }
            output_headers.insert(key, name.clone());
        }
        let input = InputOptions {
            format: parse("format", self.format.as_ref())?.unwrap_or(InputFormat::Auto),
            encoding: parse("encoding", self.encoding.as_ref())?,
            delimiter: parse("delimiter", self.delimiter.as_ref())?,
            sheet: self.sheet.clone(),
            trim: self.trim,
            dates,
            time_zone: self.time_zone.clone(),
            output_headers,
        };
        input
            .zone()
            .map_err(|e| format!("spec.input.timeZone: {e}"))?;
        Ok(input)
    }
}

/// `text` parsed as the value of `spec.input.{field}`.
fn parse<T: std::str::FromStr<Err = String>>(
    field: &str,
    text: Option<&String>,
) -> Result<Option<T>, String> {
    text.map(|t| t.parse().map_err(|e| format!("spec.input.{field}: {e}")))
        .transpose()
}
