//! The date-time grammar of the HR connector: `yyyy-mm-ddThh:mm:ss`, an optional fraction of 1 to
//! 7 digits, and an optional offset `Z` or `±hh:mm`.
//!
//! Written by hand over bytes on purpose: no date crate accepts exactly this grammar (7-digit
//! fractions as .NET writes them, an optional offset, nothing else) without allocating or being
//! more lenient, and this check runs twice per record on files of millions of records.

/// Why a value is not an accepted date-time. Messages name the rule, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTimeError {
    /// Does not have the `yyyy-mm-ddThh:mm:ss` shape (or has trailing characters).
    Syntax,
    /// A date without the time part.
    DateOnly,
    /// Date and time separated by something other than `T` (often a space).
    Separator,
    /// Month not 1-12, or day not within the month.
    Date,
    /// Hour not below 24, or minute or second not below 60.
    Time,
    /// A `.` not followed by 1 to 7 digits.
    Fraction,
    /// An offset that is not `±hh:mm` with hours up to 14 and minutes below 60.
    Offset,
}

impl DateTimeError {
    pub fn message(self) -> &'static str {
        match self {
            DateTimeError::Syntax => {
                "not an ISO 8601 date-time (expected yyyy-mm-ddThh:mm:ss, optionally followed by \
                 a fraction .fffffff and Z or ±hh:mm)"
            }
            DateTimeError::DateOnly => {
                "not an ISO 8601 date-time: a date without a time (expected yyyy-mm-ddThh:mm:ss)"
            }
            DateTimeError::Separator => {
                "not an ISO 8601 date-time: date and time must be separated by \"T\""
            }
            DateTimeError::Date => {
                "not an ISO 8601 date-time: month or day out of range (not a calendar date)"
            }
            DateTimeError::Time => "not an ISO 8601 date-time: hour, minute or second out of range",
            DateTimeError::Fraction => {
                "not an ISO 8601 date-time: the fraction of a second must have 1 to 7 digits"
            }
            DateTimeError::Offset => {
                "not an ISO 8601 date-time: the UTC offset must be Z or ±hh:mm with hours up to 14"
            }
        }
    }
}

impl std::fmt::Display for DateTimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for DateTimeError {}

#[inline]
fn digit(b: u8) -> Option<u32> {
    b.is_ascii_digit().then(|| u32::from(b - b'0'))
}

#[inline]
fn two(a: u8, b: u8) -> Option<u32> {
    Some(digit(a)? * 10 + digit(b)?)
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks one value against the grammar, including calendar and clock ranges.
#[inline]
pub fn check(value: &[u8]) -> Result<(), DateTimeError> {
    if is_valid_fast(value) {
        Ok(())
    } else {
        classify(value)
    }
}

/// The same grammar as [`classify`] as a yes/no answer, in straight-line code over fixed
/// positions: almost every value is valid, and this runs twice per record.
#[inline]
fn is_valid_fast(value: &[u8]) -> bool {
    let Some((head, rest)) = value.split_first_chunk::<19>() else {
        return false;
    };
    // `yyyy-mm-ddThh:mm:ss` checked as three overlapping 8-byte words rather than byte by
    // byte: a handful of integer operations instead of 19 compares and branches.
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&head[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if !shape(word(0), b"0000-00-") || !shape(word(8), b"00T00:00") || !shape(word(11), b"00:00:00")
    {
        return false;
    }
    let d = |i: usize| u32::from(head[i] - b'0');
    let year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
    let (month, day) = (d(5) * 10 + d(6), d(8) * 10 + d(9));
    let (hour, minute, second) = (d(11) * 10 + d(12), d(14) * 10 + d(15), d(17) * 10 + d(18));
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour >= 24
        || minute >= 60
        || second >= 60
    {
        return false;
    }
    let rest = match rest {
        [b'.', fraction @ ..] => {
            let n = fraction
                .iter()
                .take(8)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if n == 0 || n > 7 {
                return false;
            }
            &fraction[n..]
        }
        _ => rest,
    };
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h0, h1, b':', m0, m1] => {
            matches!((two(*h0, *h1), two(*m0, *m1)), (Some(h), Some(m)) if h <= 14 && m < 60)
        }
        _ => false,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x80 * ONES;

/// Whether the 8 bytes in `w` have digits where `pattern` has `0` and exactly the pattern's byte
/// elsewhere (SWAR: all 8 bytes at once).
#[inline]
fn shape(w: u64, pattern: &[u8; 8]) -> bool {
    let mut mask = [0u8; 8];
    for (m, p) in mask.iter_mut().zip(pattern) {
        *m = if *p == b'0' { 0xFF } else { 0 };
    }
    let digits = u64::from_le_bytes(mask);
    let expected = u64::from_le_bytes(*pattern);
    if w & !digits != expected & !digits {
        return false;
    }
    // Separator lanes become '0' so that all lanes can be tested as digits: a byte is a digit if
    // it is below 0x80, at least 0x30 (subtracting 0x30 sets no high bit) and at most 0x39
    // (adding 0x46 sets no high bit). A borrow or carry only happens from a lane that already
    // failed, so no failure is hidden.
    let v = (w & digits) | ((0x30 * ONES) & !digits);
    v & HIGH == 0 && (v.wrapping_sub(0x30 * ONES) | v.wrapping_add(0x46 * ONES)) & HIGH == 0
}

/// Checks one value and says what is wrong with it (the reference implementation; the fast
/// path must agree with it).
fn classify(value: &[u8]) -> Result<(), DateTimeError> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, rest @ ..] = value else {
        return Err(DateTimeError::Syntax);
    };
    let (Some(year_hi), Some(year_lo), Some(month), Some(day)) =
        (two(*y0, *y1), two(*y2, *y3), two(*m0, *m1), two(*d0, *d1))
    else {
        return Err(DateTimeError::Syntax);
    };
    let year = year_hi * 100 + year_lo;

    let time = match rest {
        [] => return Err(DateTimeError::DateOnly),
        [b'T', time @ ..] => time,
        [b' ' | b't' | b'_', ..] => return Err(DateTimeError::Separator),
        _ => return Err(DateTimeError::Syntax),
    };
    let [h0, h1, b':', mi0, mi1, b':', s0, s1, rest @ ..] = time else {
        return Err(DateTimeError::Syntax);
    };
    let (Some(hour), Some(minute), Some(second)) = (two(*h0, *h1), two(*mi0, *mi1), two(*s0, *s1))
    else {
        return Err(DateTimeError::Syntax);
    };

    let rest = match rest {
        [b'.', fraction @ ..] => {
            let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if !(1..=7).contains(&digits) {
                return Err(DateTimeError::Fraction);
            }
            &fraction[digits..]
        }
        _ => rest,
    };

    match rest {
        [] | [b'Z'] => {}
        [b'+' | b'-', oh0, oh1, b':', om0, om1] => match (two(*oh0, *oh1), two(*om0, *om1)) {
            (Some(oh), Some(om)) if oh <= 14 && om < 60 => {}
            _ => return Err(DateTimeError::Offset),
        },
        [b'+' | b'-', ..] => return Err(DateTimeError::Offset),
        _ => return Err(DateTimeError::Syntax),
    }

    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(DateTimeError::Date);
    }
    if hour >= 24 || minute >= 60 || second >= 60 {
        return Err(DateTimeError::Time);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_path_agrees_with_classify(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,9})?(Z|[+-][0-9]{1,2}:?[0-9]{2}|x)?",
        ) {
            prop_assert_eq!(is_valid_fast(s.as_bytes()), classify(s.as_bytes()).is_ok(), "{}", s);
        }

        #[test]
        fn fast_path_agrees_on_one_changed_byte(
            base in prop_oneof![
                Just("2019-04-23T15:18:02.4675041+05:30"),
                Just("2020-02-29T23:59:59Z"),
                Just("2019-04-29T15:18:02"),
            ],
            at in 0usize..33,
            byte in any::<u8>(),
        ) {
            let mut v = base.as_bytes().to_vec();
            let at = at % v.len();
            v[at] = byte;
            prop_assert_eq!(is_valid_fast(&v), classify(&v).is_ok(), "{:?}", v);
        }

        #[test]
        fn fast_path_agrees_on_any_bytes(v in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(is_valid_fast(&v), classify(&v).is_ok());
        }
    }

    #[test]
    fn check_uses_both_paths() {
        for s in [
            "2019-04-29T15:18:02.7117540",
            "2019-02-29T00:00:00",
            "2019-04-29",
        ] {
            assert_eq!(
                check(s.as_bytes()).is_ok(),
                is_valid_fast(s.as_bytes()),
                "{s}"
            );
            assert_eq!(check(s.as_bytes()), classify(s.as_bytes()), "{s}");
        }
    }

    fn ok(s: &str) {
        assert_eq!(check(s.as_bytes()), Ok(()), "{s} should be valid");
    }

    fn bad(s: &str, e: DateTimeError) {
        assert_eq!(check(s.as_bytes()), Err(e), "{s}");
    }

    #[test]
    fn documented_forms_are_valid() {
        ok("2019-04-29T15:18:02.7117540");
        ok("2019-04-24T09:15:49Z");
        ok("2019-04-23T15:18:02.4675041+05:30");
        ok("2019-04-23T15:18:02.4675041-08:00");
        ok("2019-04-23T15:18:02");
        ok("2019-04-23T15:18:02.1");
        ok("2019-04-23T15:18:02.1Z");
        ok("2019-04-23T15:18:02+14:00");
        ok("2019-04-23T15:18:02-12:00");
        ok("2019-04-23T00:00:00+00:00");
        ok("2019-04-23T23:59:59.9999999Z");
    }

    #[test]
    fn calendar() {
        ok("2020-02-29T00:00:00"); // leap year
        ok("2000-02-29T00:00:00"); // divisible by 400
        bad("2019-02-29T00:00:00", DateTimeError::Date);
        bad("1900-02-29T00:00:00", DateTimeError::Date); // divisible by 100, not 400
        bad("2019-13-01T00:00:00", DateTimeError::Date);
        bad("2019-00-01T00:00:00", DateTimeError::Date);
        bad("2019-04-00T00:00:00", DateTimeError::Date);
        bad("2019-04-31T00:00:00", DateTimeError::Date);
        ok("2019-01-31T00:00:00");
        ok("2019-12-31T00:00:00");
    }

    #[test]
    fn clock() {
        bad("2019-04-29T24:00:00", DateTimeError::Time);
        bad("2019-04-29T23:60:00", DateTimeError::Time);
        bad("2019-04-29T23:59:60", DateTimeError::Time);
    }

    #[test]
    fn shapes() {
        bad("2019-04-29", DateTimeError::DateOnly);
        bad("2019-04-29 15:18:02", DateTimeError::Separator);
        bad("2019-04-29t15:18:02", DateTimeError::Separator);
        bad("2019-04-29T15:18", DateTimeError::Syntax);
        bad("2019-4-29T15:18:02", DateTimeError::Syntax);
        bad("19-04-29T15:18:02", DateTimeError::Syntax);
        bad("2019/04/29T15:18:02", DateTimeError::Syntax);
        bad("04/29/2019 15:18", DateTimeError::Syntax);
        bad("", DateTimeError::Syntax);
        bad("2019-04-29T15:18:02 ", DateTimeError::Syntax);
        bad(" 2019-04-29T15:18:02", DateTimeError::Syntax);
        bad("2019-04-29T15:18:02Zjunk", DateTimeError::Syntax);
        bad("2019-04-29T15:18:02.123junk", DateTimeError::Syntax);
        bad("2019-04-29T15:18:02,123", DateTimeError::Syntax);
        bad("2019-04-29T15:18:02z", DateTimeError::Syntax);
        bad("２019-04-29T15:18:02", DateTimeError::Syntax);
    }

    #[test]
    fn fractions() {
        bad("2019-04-29T15:18:02.71175401", DateTimeError::Fraction);
        bad("2019-04-29T15:18:02.", DateTimeError::Fraction);
        bad("2019-04-29T15:18:02.Z", DateTimeError::Fraction);
    }

    #[test]
    fn offsets() {
        bad("2019-04-29T15:18:02+5:30", DateTimeError::Offset);
        bad("2019-04-29T15:18:02+0530", DateTimeError::Offset);
        bad("2019-04-29T15:18:02+05", DateTimeError::Offset);
        bad("2019-04-29T15:18:02+15:00", DateTimeError::Offset);
        bad("2019-04-29T15:18:02-05:60", DateTimeError::Offset);
        bad("2019-04-29T15:18:02+05:30Z", DateTimeError::Offset);
        ok("2019-04-29T15:18:02+14:59");
    }

    #[test]
    fn messages_start_with_the_rule() {
        for e in [
            DateTimeError::Syntax,
            DateTimeError::DateOnly,
            DateTimeError::Separator,
            DateTimeError::Date,
            DateTimeError::Time,
            DateTimeError::Fraction,
            DateTimeError::Offset,
        ] {
            assert!(e.message().starts_with("not an ISO 8601 date-time"));
        }
    }
}
