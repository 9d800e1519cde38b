//! Date-time values converted lately, by their text: an export's dates repeat (everyone who
//! left on one day, the same last working days), and looking a value up costs a fraction of
//! converting it again. pandas' `to_datetime(cache=True)` does the same for the same reason.
//!
//! Bounded (at most [`CAPACITY`] values per column, then forgotten) and self-limiting: a column
//! whose values rarely repeat stops being remembered after a [`WINDOW`] of look-ups, so an
//! export of all-distinct date-times pays for one window only.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

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

/// A value's converted text, found by the value's bytes (no key is made to look it up).
type Values = HashMap<Key, Text, BuildHasherDefault<ValueHasher>>;

#[derive(Default)]
struct ColumnMemo {
    values: Values,
    /// The values repeat too rarely to be worth remembering.
    off: bool,
    lookups: u32,
    hits: u32,
}

struct Key {
    len: u8,
    bytes: [u8; KEY],
}

impl Key {
    /// `None` when `value` is too long to remember.
    fn of(value: &str) -> Option<Key> {
        let mut bytes = [0; KEY];
        bytes
            .get_mut(..value.len())?
            .copy_from_slice(value.as_bytes());
        Some(Key {
            len: value.len() as u8,
            bytes,
        })
    }
}

/// Looked up by the value's bytes: a key hashes and compares as its bytes do.
impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Borrow::<[u8]>::borrow(self).hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        Borrow::<[u8]>::borrow(self) == Borrow::<[u8]>::borrow(other)
    }
}

impl Eq for Key {}

/// Hashes a value of up to [`KEY`] bytes from a few word reads of it in place (every byte is
/// in one of them), mixed by two folded multiplications: the look-up was mostly copying the
/// value into a key and hashing it byte by byte (perf, BENCHMARKS.md).
#[derive(Default)]
struct ValueHasher(u64);

impl ValueHasher {
    /// The multiplication's 128 bits folded to 64 (as foldhash and wyhash mix).
    fn fold(a: u64, b: u64) -> u64 {
        let product = u128::from(a).wrapping_mul(u128::from(b));
        (product as u64) ^ ((product >> 64) as u64)
    }
}

impl Hasher for ValueHasher {
    fn write(&mut self, bytes: &[u8]) {
        let word = |at: usize| {
            bytes
                .get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        let n = bytes.len();
        // Words at 0, 8, n-16 and n-8 cover up to 32 bytes; shorter values a byte at a time.
        let (a, b, c, d) = match n {
            16.. => (word(0), word(8), word(n - 16), word(n - 8)),
            8.. => (word(0), word(n - 8), 0, 0),
            _ => (bytes.iter().fold(0, |w, &x| w << 8 | u64::from(x)), 0, 0, 0),
        };
        const K: [u64; 4] = [
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
            0x082e_fa98_ec4e_6c89,
        ];
        self.0 ^= Self::fold(a ^ K[0], b ^ K[1]) ^ Self::fold(c ^ K[2], d ^ K[3] ^ n as u64);
    }

    /// The length prefix `[u8]` hashes first: the bytes' hash already has it.
    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
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
        if !memo.remembers(value) {
            return converter.convert_into(value, out);
        }
        if let Some(text) = memo.values.get(value.as_bytes()) {
            memo.hits += 1;
            out.extend_from_slice(&text.bytes[..usize::from(text.len)]);
            return Ok(text.earlier_of_two);
        }
        let before = out.len();
        let earlier_of_two = converter.convert_into(value, out)?;
        let written = &out[before..];
        if let (Some(key), true) = (Key::of(value), written.len() <= TEXT) {
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
    /// Whether `value` is looked up (and counted as a look-up).
    fn remembers(&mut self, value: &str) -> bool {
        if self.off || value.len() > KEY {
            return false;
        }
        self.lookups += 1;
        if self.lookups == WINDOW {
            // Fewer than one in four found: converting is cheaper than remembering.
            let rare = self.hits < WINDOW / 4;
            (self.lookups, self.hits) = (0, 0);
            if rare {
                self.off = true;
                self.values = Values::default();
                return false;
            }
        }
        true
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

    /// Every byte of a value counts in its hash (a byte left out would make values that differ
    /// only there collide, and the memo slow).
    #[test]
    fn every_byte_of_a_value_changes_its_hash() {
        let hash = |bytes: &[u8]| {
            let mut h = ValueHasher::default();
            bytes.hash(&mut h);
            h.finish()
        };
        for len in 1..=KEY {
            let value: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
            for at in 0..len {
                let mut other = value.clone();
                other[at] ^= 0x01;
                assert_ne!(hash(&value), hash(&other), "length {len}, byte {at}");
            }
            assert_ne!(hash(&value), hash(&value[..len - 1]), "length {len}");
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
