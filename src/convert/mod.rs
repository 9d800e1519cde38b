//! From an HR system's export to the connector's CSV: declared input formats (delimiter, encoding,
//! workbooks, date formats and time zones) converted on the way, before strict validation.

pub mod dates;
mod memo;
pub mod options;
mod pipeline;
mod segmented;
pub mod workbook;

pub use options::InputOptions;
pub use pipeline::{ColumnReport, Conversion, ConversionReport, ConvertError, convert};
