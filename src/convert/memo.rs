//! Date-time values converted lately, by their text: an export's dates repeat (everyone who
//! left on one day, the same last working days), and looking a value up costs a fraction of
//! converting it again. pandas' `to_datetime(cache=True)` does the same for the same reason.
//!
//! Bounded (at most [`CAPACITY`] values per column, then forgotten) and self-limiting: a column
//! whose values rarely repeat stops being remembered after a [`WINDOW`] of look-ups, so an
//! export of all-distinct date-times pays for one window only.

use rustc_hash::FxHashMap;

use super::dates::{DateConverter, DateError};

/// Values remembered per column before the memo starts again.
const CAPACITY: usize = 4096;

/// Look-ups after which a column's hit rate is judged.
const WINDOW: u32 = 4096;

/// Longest value remembered (the longest of the formats' usual values fit).
const KEY: usize = 32;

/// The longest text the converter writes: `yyyy-mm-ddThh:mm:ss.fffffff+hh:mm`.
const TEXT: usize = 33;

/// Per date column (by its index among the date columns), what was converted lately.
#[derive(Default)]
pub(super) struct DateMemo {
    columns: Vec<ColumnMemo>,
}

/// A copy remembers nothing: the memo is only ever a cache.
impl Clone for DateMemo {
    fn clone(&self) -> Self {
        DateMemo::default()
    }
}

#[derive(Default)]
struct ColumnMemo {
    values: FxHashMap<Key, Text>,
    /// The values repeat too rarely to be worth remembering.
    off: bool,
    lookups: u32,
    hits: u32,
}

#[derive(PartialEq, Eq, Hash)]
struct Key {
    len: u8,
    bytes: [u8; KEY],
}

struct Text {
    len: u8,
    bytes: [u8; TEXT],
    earlier_of_two: bool,
}

impl DateMemo {
    /// [`DateConverter::convert_into`] for the `column`-th date column, through the memo.
    /// Only what converted is remembered: an error is made afresh each time.
    pub(super) fn convert_into(
        &mut self,
        column: usize,
        converter: &DateConverter,
        value: &str,
        out: &mut Vec<u8>,
    ) -> Result<bool, DateError> {
        if self.columns.len() <= column {
            self.columns.resize_with(column + 1, ColumnMemo::default);
        }
        let memo = &mut self.columns[column];
        let Some(key) = memo.key(value) else {
            return converter.convert_into(value, out);
        };
        if let Some(text) = memo.values.get(&key) {
            memo.hits += 1;
            out.extend_from_slice(&text.bytes[..usize::from(text.len)]);
            return Ok(text.earlier_of_two);
        }
        let before = out.len();
        let earlier_of_two = converter.convert_into(value, out)?;
        let written = &out[before..];
        if written.len() <= TEXT {
            if memo.values.len() >= CAPACITY {
                memo.values.clear();
            }
            let mut bytes = [0; TEXT];
            bytes[..written.len()].copy_from_slice(written);
            memo.values.insert(
                key,
                Text {
                    len: written.len() as u8,
                    bytes,
                    earlier_of_two,
                },
            );
        }
        Ok(earlier_of_two)
    }
}

impl ColumnMemo {
    /// The key to look `value` up by; `None` when it is not to be remembered.
    fn key(&mut self, value: &str) -> Option<Key> {
        if self.off || value.len() > KEY {
            return None;
        }
        self.lookups += 1;
        if self.lookups == WINDOW {
            // Fewer than one in four found: converting is cheaper than remembering.
            let rare = self.hits < WINDOW / 4;
            (self.lookups, self.hits) = (0, 0);
            if rare {
                self.off = true;
                self.values = FxHashMap::default();
                return None;
            }
        }
        let mut bytes = [0; KEY];
        bytes[..value.len()].copy_from_slice(value.as_bytes());
        Some(Key {
            len: value.len() as u8,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    fn converter(format: &str) -> DateConverter {
        let zone = TimeZone::get("America/New_York").expect("zone");
        DateConverter::new(format.parse().expect("format"), zone)
    }

    /// Through the memo, as the stage converts: the text written, or the error.
    fn through(
        memo: &mut DateMemo,
        column: usize,
        c: &DateConverter,
        value: &str,
    ) -> Result<(String, bool), DateError> {
        let mut out = b"before;".to_vec();
        let earlier = memo.convert_into(column, c, value, &mut out)?;
        Ok((String::from_utf8(out).expect("ASCII"), earlier))
    }

    fn fresh(c: &DateConverter, value: &str) -> Result<(String, bool), DateError> {
        let converted = c.convert(value)?;
        Ok((
            format!("before;{}", converted.text),
            converted.earlier_of_two,
        ))
    }

    proptest! {
        /// Values that repeat (fall-back overlaps, gaps, errors, values too long to remember
        /// among them), in two columns of different formats: every answer is the converter's.
        #[test]
        fn remembered_answers_are_the_converters(
            picks in prop::collection::vec((0..2usize, 0..12usize), 1..400),
        ) {
            let pool = [
                "11/2/2025 1:30:00 AM",
                "3/9/2025 2:30:00 AM",
                "12/31/2024 11:59:59 PM",
                "1/1/2025",
                "13/1/2025",
                "2025-11-02T01:30:00",
                "2025-03-09T02:30:00",
                "2025-06-30T09:00:00.1234567",
                "2025-06-30T09:00:00.1234567+05:45",
                "2025-06-30T09:00:00.123456789012345678901234+05:45",
                "not a date",
                "7/4/2025 12:00:00 PM",
            ];
            let columns = [converter("us"), converter("iso8601")];
            let mut memo = DateMemo::default();
            for (column, pick) in picks {
                let c = &columns[column];
                prop_assert_eq!(through(&mut memo, column, c, pool[pick]), fresh(c, pool[pick]));
            }
        }
    }

    #[test]
    fn a_column_of_distinct_values_stops_being_remembered() {
        let c = converter("epoch-ms");
        let mut memo = DateMemo::default();
        for ms in 0..2 * i64::from(WINDOW) {
            let value = (1_700_000_000_000 + ms * 1000).to_string();
            assert_eq!(through(&mut memo, 0, &c, &value), fresh(&c, &value));
        }
        let column = &memo.columns[0];
        assert!(column.off);
        assert!(column.values.is_empty());
    }

    #[test]
    fn a_column_that_repeats_is_remembered_within_its_bound() {
        let c = converter("epoch-ms");
        let mut memo = DateMemo::default();
        // Each value three times in a row: two in three found, and twice as many values as
        // are kept, so that the memo starts again.
        for ms in 0..6 * CAPACITY as i64 {
            let value = (1_700_000_000_000 + (ms / 3) * 1000).to_string();
            assert_eq!(through(&mut memo, 0, &c, &value), fresh(&c, &value));
            assert!(memo.columns[0].values.len() <= CAPACITY);
        }
        let column = &memo.columns[0];
        assert!(!column.off);
        assert!(!column.values.is_empty());
    }
}
