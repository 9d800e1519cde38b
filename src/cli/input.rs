//! The flags that declare what an HR system's export looks like (`validate` and `upload`).

use clap::Args;

use crate::convert::options::{DateFormats, Delimiter, Encoding, InputFormat, InputOptions};
use crate::hrdata::Field;

#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// csv, xlsx, or auto (the default: an Excel workbook by its file signature, else CSV).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<InputFormat>,
    /// The column separator: ',' (default), ';', tab, '|', or auto (from the header line;
    /// refused when it holds several candidates or none).
    #[arg(long, value_name = "DELIMITER")]
    pub delimiter: Option<Delimiter>,
    /// The file's character encoding: utf-8 (default), utf-16 (Excel's "Unicode Text"; also
    /// recognised by its byte-order mark) or windows-1252 (Excel's CSV in Western locales).
    #[arg(long, value_name = "ENCODING")]
    pub encoding: Option<Encoding>,
    /// The sheet of an Excel workbook (.xlsx, recognised by its signature) [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Remove whitespace around every value.
    #[arg(long)]
    pub trim: bool,
    /// How date-time columns are written: FORMAT for all of them, or FIELD=FORMAT for one
    /// (repeatable). FORMAT is a preset (iso8601, the default: the connector's own; date:
    /// yyyy-mm-dd; us: M/d/yyyy with an optional h:mm[:ss] [AM|PM]; workday: yyyy-mm-dd±hh:mm;
    /// epoch-ms: milliseconds, bare or /Date(ms)/; excel-serial: Excel day numbers) or a
    /// strftime pattern with % (e.g. %d.%m.%Y).
    #[arg(long = "date-format", value_name = "[FIELD=]FORMAT")]
    pub date_formats: Vec<String>,
    /// IANA time zone of date-times without an offset, with its daylight-saving rules
    /// [default: UTC].
    #[arg(long, value_name = "IANA")]
    pub time_zone: Option<String>,
    /// The header a field gets in the converted file (repeatable) [default: the field's
    /// documented name, e.g. EmailAddress].
    #[arg(long = "output-header", value_name = "FIELD=NAME")]
    pub output_headers: Vec<String>,
}

impl InputArgs {
    /// The declared input, or a usage error naming the flag.
    pub fn input_options(&self) -> Result<InputOptions, String> {
        let mut dates = DateFormats::default();
        for text in &self.date_formats {
            dates
                .add(text)
                .map_err(|e| format!("--date-format {text:?}: {e}"))?;
        }
        let mut output_headers = std::collections::BTreeMap::new();
        for text in &self.output_headers {
            let (field, name) = text
                .split_once('=')
                .ok_or_else(|| format!("--output-header {text:?}: expected FIELD=NAME"))?;
            let field = Field::parse(field)
                .ok_or_else(|| format!("--output-header {text:?}: {field:?} is not a field"))?;
            if name.is_empty() {
                return Err(format!("--output-header {text:?}: the name is empty"));
            }
            output_headers.insert(field, name.to_owned());
        }
        let input = InputOptions {
            format: self.format.unwrap_or_default(),
            encoding: self.encoding,
            delimiter: self.delimiter,
            sheet: self.sheet.clone(),
            trim: self.trim,
            dates,
            time_zone: self.time_zone.clone(),
            output_headers,
        };
        input.zone().map_err(|e| format!("--time-zone: {e}"))?;
        Ok(input)
    }
}
