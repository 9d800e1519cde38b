//! Converts one date value of a declared format into the connector's form
//! (`yyyy-mm-ddThh:mm:ss`, an optional fraction, `Z` or `±hh:mm`; see [`crate::hrdata::datetime`]),
//! keeping the instant.
//!
//! HR systems export dates in their own shapes: Workday `2026-11-30-08:00`, SAP SuccessFactors
//! `/Date(1764547200000)/` or `11/30/2026 5:30:00 PM`, BambooHR `2026-11-30`, Excel serial
//! numbers, or whatever a spreadsheet's locale makes of a date. The presets cover those; anything
//! else is a pattern of strftime/strptime `%` directives (`%d.%m.%Y`, `%m/%d/%Y %I:%M:%S %p`), as
//! chrono and jiff take them, parsed by [`jiff::fmt::strtime`].
//!
//! A value with its own offset keeps it; a value without one is a local time in the converter's
//! time zone. Error messages never contain the value: values are personal data and messages end
//! up in Kubernetes status.

use std::cell::Cell;

use jiff::civil::{Date, DateTime, Time};
use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A declared date format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// Already the connector's form: checked, left as it is.
    Iso8601,
    /// `yyyy-mm-dd`, midnight local time (BambooHR).
    Date,
    /// `M/d/yyyy`, optionally with `h:mm[:ss]` and `AM`/`PM` (US Excel, SAP SuccessFactors).
    Us,
    /// `yyyy-mm-dd±hh:mm` or `yyyy-mm-ddZ`, midnight at that offset (Workday).
    Workday,
    /// Milliseconds since the Unix epoch, bare or as OData `/Date(ms)/` or `/Date(ms±hhmm)/`.
    EpochMs,
    /// Days since 1899-12-30 with a fraction of a day (Excel's 1900 date system), local time.
    ExcelSerial,
    /// A strftime-style pattern (`%d.%m.%Y`), as chrono and jiff take them.
    Pattern(String),
}

const PRESETS: &str = "iso8601, date, us, workday, epoch-ms, excel-serial";

impl std::str::FromStr for DateFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "iso8601" => DateFormat::Iso8601,
            "date" => DateFormat::Date,
            "us" => DateFormat::Us,
            "workday" => DateFormat::Workday,
            "epoch-ms" => DateFormat::EpochMs,
            "excel-serial" => DateFormat::ExcelSerial,
            p if p.contains('%') => DateFormat::Pattern(p.to_owned()),
            other => {
                return Err(format!(
                    "unknown date format {other:?}: expected one of {PRESETS}, or a strftime \
                     pattern with % directives such as %d.%m.%Y"
                ));
            }
        })
    }
}

impl std::fmt::Display for DateFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DateFormat::Iso8601 => "iso8601",
            DateFormat::Date => "date",
            DateFormat::Us => "us",
            DateFormat::Workday => "workday",
            DateFormat::EpochMs => "epoch-ms",
            DateFormat::ExcelSerial => "excel-serial",
            DateFormat::Pattern(p) => p,
        })
    }
}

impl DateFormat {
    /// What the format accepts, for error messages.
    pub fn expected(&self) -> String {
        match self {
            DateFormat::Iso8601 => "yyyy-mm-ddThh:mm:ss with an optional fraction of 1-7 digits \
                                    and an optional Z or ±hh:mm (iso8601)"
                .to_owned(),
            DateFormat::Date => "yyyy-mm-dd (date)".to_owned(),
            DateFormat::Us => {
                "M/d/yyyy with an optional h:mm[:ss] [AM|PM] or 24-hour time (us)".to_owned()
            }
            DateFormat::Workday => "yyyy-mm-dd followed by Z or ±hh:mm (workday)".to_owned(),
            DateFormat::EpochMs => "milliseconds since 1970-01-01T00:00:00Z, bare or as \
                                    /Date(ms)/ or /Date(ms±hhmm)/ (epoch-ms)"
                .to_owned(),
            DateFormat::ExcelSerial => "days since 1899-12-30 with an optional fraction of a \
                                        day, such as 46356.5 (excel-serial)"
                .to_owned(),
            DateFormat::Pattern(p) => format!("a date matching the strftime pattern {p}"),
        }
    }
}

/// A converted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The value in the connector's form.
    pub text: String,
    /// The local time fell in a DST fall-back overlap and the earlier instant was taken.
    pub earlier_of_two: bool,
}

/// Why a value could not be converted. Messages never contain the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The value does not have the declared format.
    #[error("not in the declared date format {format}: expected {expected}")]
    NotInFormat { format: String, expected: String },
    /// A local time skipped when the clocks moved forward.
    #[error("a local time that does not exist in {zone} (the clocks moved forward)")]
    Gap { zone: String },
    /// A date outside the years 0001-9999, or a number too large to be one. (Instants stop at
    /// 9999-12-30T22:00:00Z, where jiff's range ends so that any offset can apply.)
    #[error("a date outside the years 0001-9999 or a number too large (date format {format})")]
    OutOfRange { format: String },
}

/// Converts values of one declared format into the connector's form.
#[derive(Debug, Clone)]
pub struct DateConverter {
    format: DateFormat,
    time_zone: TimeZone,
    /// The stretches of time around the last local times resolved in `time_zone` in which the
    /// zone's offset does not change: looking the offset up in the zone's rules cost more than
    /// the rest of a conversion, and an export's dates mostly fall in the same few stretches
    /// (this year's summer and winter, last year's).
    periods: [Cell<Option<Period>>; PERIODS],
    /// Where the next stretch found goes, round the ring.
    next_period: Cell<usize>,
}

/// Instants `from..until` at one offset, at least [`PERIOD_MARGIN`] away from the zone's
/// transitions on both sides: any local time whose instant at `offset` falls inside exists
/// once, at that offset (offsets of one zone differ by less than the margin).
#[derive(Debug, Clone, Copy)]
struct Period {
    /// The stretch's bounds as local times at `offset`: comparing civil times is cheaper than
    /// making an instant of each value.
    from: DateTime,
    until: DateTime,
    offset: Offset,
}

const PERIOD_MARGIN: SignedDuration = SignedDuration::from_hours(48);

/// Stretches kept.
const PERIODS: usize = 4;

/// Why a parser gave up; turned into a [`DateError`] by the converter, which knows the format.
enum Bad {
    Format,
    Range,
}

impl DateConverter {
    /// A converter for `format`; values without an offset are local times in `time_zone`.
    pub fn new(format: DateFormat, time_zone: TimeZone) -> Self {
        DateConverter {
            format,
            time_zone,
            periods: Default::default(),
            next_period: Cell::new(0),
        }
    }

    /// Whether this converter leaves values with an offset as they are (Iso8601); values
    /// without one still get the zone's.
    pub fn is_identity(&self) -> bool {
        self.format == DateFormat::Iso8601
    }

    /// Converts one value (already trimmed by the caller if asked) to the connector's form.
    pub fn convert(&self, value: &str) -> Result<Converted, DateError> {
        let mut text = Vec::with_capacity(33);
        let earlier_of_two = self.convert_into(value, &mut text)?;
        // Only ASCII is ever written.
        let text = String::from_utf8(text).unwrap_or_default();
        Ok(Converted {
            text,
            earlier_of_two,
        })
    }

    /// [`DateConverter::convert`] appending the text to `out` (left as it was on an error):
    /// true when the local time fell in a fall-back overlap and the earlier instant was taken.
    /// What it writes always passes the connector's check ([`crate::hrdata::datetime::check`];
    /// the property tests below say so), so a record checked as written is not checked again.
    pub fn convert_into(&self, value: &str, out: &mut Vec<u8>) -> Result<bool, DateError> {
        let bytes = value.as_bytes();
        match &self.format {
            DateFormat::Iso8601 => match crate::hrdata::datetime::check(bytes) {
                // With an offset: the instant is the value's own, kept as written.
                Ok(()) if bytes.len() > 19 && bytes[19..].iter().any(|b| b"Z+-".contains(b)) => {
                    out.extend_from_slice(bytes);
                    Ok(false)
                }
                // Without: a local time in the zone, written with its offset.
                Ok(()) => {
                    let dt: DateTime = value.parse().map_err(|_| self.error(Bad::Format))?;
                    self.local(dt, None, out)
                }
                Err(_) => Err(self.error(Bad::Format)),
            },
            DateFormat::Date => match parse_ymd(bytes) {
                Some((date, [])) => self.local(date.to_datetime(Time::midnight()), None, out),
                _ => Err(self.error(Bad::Format)),
            },
            DateFormat::Us => {
                let dt = parse_us(bytes).ok_or_else(|| self.error(Bad::Format))?;
                self.local(dt, None, out)
            }
            DateFormat::Workday => {
                let (date, offset) = parse_workday(bytes).ok_or_else(|| self.error(Bad::Format))?;
                let ts = offset
                    .to_timestamp(date.to_datetime(Time::midnight()))
                    .map_err(|_| self.error(Bad::Range))?;
                self.render(ts, offset, false, out)
            }
            DateFormat::EpochMs => {
                let (ms, offset) = parse_epoch_ms(bytes).map_err(|b| self.error(b))?;
                let ts = Timestamp::from_millisecond(ms).map_err(|_| self.error(Bad::Range))?;
                self.render(ts, offset.unwrap_or(Offset::UTC), false, out)
            }
            DateFormat::ExcelSerial => {
                let dt = parse_excel_serial(value).map_err(|b| self.error(b))?;
                self.local(dt, None, out)
            }
            DateFormat::Pattern(pattern) => self.pattern(pattern, value, out),
        }
    }

    fn pattern(&self, pattern: &str, value: &str, out: &mut Vec<u8>) -> Result<bool, DateError> {
        let tm = BrokenDownTime::parse(pattern, value).map_err(|_| self.error(Bad::Format))?;
        // An instant (%s) or an offset (%z) fixes the instant; jiff also checks an offset
        // against a zone name (%Q) given with it.
        if tm.timestamp().is_some() || tm.offset().is_some() {
            let zoned = tm.to_zoned().map_err(|_| self.error(Bad::Format))?;
            return self.render(zoned.timestamp(), zoned.offset(), false, out);
        }
        // No time directives means midnight.
        let dt = tm.to_datetime().map_err(|_| self.error(Bad::Format))?;
        match tm.iana_time_zone() {
            Some(name) => {
                let zone = TimeZone::get(name).map_err(|_| self.error(Bad::Format))?;
                self.local(dt, Some(&zone), out)
            }
            None => self.local(dt, None, out),
        }
    }

    /// Resolves a local time in `zone` (the converter's own when `None`): an error in a
    /// spring-forward gap, the earlier instant in a fall-back overlap.
    fn local(
        &self,
        dt: DateTime,
        zone: Option<&TimeZone>,
        out: &mut Vec<u8>,
    ) -> Result<bool, DateError> {
        if zone.is_none()
            && let Some(p) = self
                .periods
                .iter()
                .filter_map(Cell::get)
                .find(|p| p.from <= dt && dt < p.until)
        {
            // Inside a kept stretch the instant exists and the offset is representable.
            return self.render_civil(dt, p.offset, false, out);
        }
        let (offset, earlier_of_two) = match zone {
            Some(zone) => Self::offset_in(zone, dt)?,
            None => self.own_offset(dt)?,
        };
        let ts = offset
            .to_timestamp(dt)
            .map_err(|_| self.error(Bad::Range))?;
        if representable(offset) {
            self.render_civil(dt, offset, earlier_of_two, out)
        } else {
            self.render(ts, offset, earlier_of_two, out)
        }
    }

    /// The offset of a local time in the converter's zone by its rules, keeping the stretch
    /// around it for the next values.
    fn own_offset(&self, dt: DateTime) -> Result<(Offset, bool), DateError> {
        let (offset, earlier_of_two) = Self::offset_in(&self.time_zone, dt)?;
        if !earlier_of_two
            && representable(offset)
            && let Ok(ts) = offset.to_timestamp(dt)
            && let Some(period) = self.period_around(ts, offset)
        {
            let next = self.next_period.get();
            self.periods[next].set(Some(period));
            self.next_period.set((next + 1) % PERIODS);
        }
        Ok((offset, earlier_of_two))
    }

    /// The transition-free stretch around `ts`, shrunk by the margin on both sides; `None`
    /// when `ts` is within the margin of a transition.
    fn period_around(&self, ts: Timestamp, offset: Offset) -> Option<Period> {
        let zone = &self.time_zone;
        // `preceding` is strictly before its argument: one nanosecond later includes `ts`.
        let after = ts.checked_add(SignedDuration::from_nanos(1)).ok()?;
        let from = match zone.preceding(after).next() {
            Some(t) => t.timestamp().checked_add(PERIOD_MARGIN).ok()?,
            None => Timestamp::MIN,
        };
        let until = match zone.following(ts).next() {
            Some(t) => t.timestamp().checked_sub(PERIOD_MARGIN).ok()?,
            None => Timestamp::MAX,
        };
        (from <= ts && ts < until).then(|| Period {
            from: offset.to_datetime(from),
            until: offset.to_datetime(until),
            offset,
        })
    }

    /// A local time's offset in `zone` by the zone's rules.
    fn offset_in(zone: &TimeZone, dt: DateTime) -> Result<(Offset, bool), DateError> {
        match zone.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => Ok((offset, false)),
            // Clocks went back, so the offset before the change is the larger one: the earlier
            // instant.
            AmbiguousOffset::Fold { before, .. } => Ok((before, true)),
            AmbiguousOffset::Gap { .. } => {
                let zone = zone.iana_name().unwrap_or("the configured time zone");
                Err(DateError::Gap {
                    zone: zone.to_owned(),
                })
            }
        }
    }

    /// Writes `ts` as seen at `offset` in the connector's form.
    fn render(
        &self,
        ts: Timestamp,
        offset: Offset,
        earlier_of_two: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, DateError> {
        // The connector's offsets are whole minutes up to ±14:59; others (local mean time in old
        // tz data, a stray /Date(ms+1500)/) can only keep the instant in UTC.
        let offset = if representable(offset) {
            offset
        } else {
            Offset::UTC
        };
        self.render_civil(offset.to_datetime(ts), offset, earlier_of_two, out)
    }

    /// Writes the civil time `dt` at `offset` (representable) in the connector's form.
    fn render_civil(
        &self,
        dt: DateTime,
        offset: Offset,
        earlier_of_two: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, DateError> {
        if !(1..=9999).contains(&dt.year()) {
            return Err(self.error(Bad::Range));
        }
        push_datetime(out, dt, offset);
        Ok(earlier_of_two)
    }

    fn error(&self, bad: Bad) -> DateError {
        match bad {
            Bad::Format => DateError::NotInFormat {
                format: self.format.to_string(),
                expected: self.format.expected(),
            },
            Bad::Range => DateError::OutOfRange {
                format: self.format.to_string(),
            },
        }
    }
}

/// Whether the connector's form can write `offset`: whole minutes up to ±14:59.
fn representable(offset: Offset) -> bool {
    let seconds = offset.seconds();
    seconds % 60 == 0 && seconds.abs() <= 14 * 3600 + 59 * 60
}

/// `yyyy-mm-ddThh:mm:ss[.fffffff]` and `Z` or `±hh:mm`, written a byte at a time (core::fmt
/// was most of a conversion's time). The fraction has at most 7 digits (100 ns), as .NET
/// writes them, truncated so that the second and date never change, trailing zeros dropped.
fn push_datetime(out: &mut Vec<u8>, dt: DateTime, offset: Offset) {
    // Filled on the stack and appended once: a push per byte cost as much as the rest.
    let mut text = *b"0000-00-00T00:00:00.0000000+00:00";
    /// `00` to `99`, so that a pair of digits is one copy.
    const PAIRS: [[u8; 2]; 100] = {
        let mut pairs = [[0u8; 2]; 100];
        let mut n = 0;
        while n < 100 {
            pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
            n += 1;
        }
        pairs
    };
    fn two(at: &mut [u8], n: i32) {
        at[..2].copy_from_slice(&PAIRS[n.unsigned_abs() as usize % 100]);
    }
    let year = i32::from(dt.year());
    two(&mut text[0..2], year / 100);
    two(&mut text[2..4], year % 100);
    two(&mut text[5..7], i32::from(dt.month()));
    two(&mut text[8..10], i32::from(dt.day()));
    two(&mut text[11..13], i32::from(dt.hour()));
    two(&mut text[14..16], i32::from(dt.minute()));
    two(&mut text[17..19], i32::from(dt.second()));
    let mut len = 19;
    let mut ticks = dt.subsec_nanosecond() / 100;
    if ticks != 0 {
        for d in text[20..27].iter_mut().rev() {
            *d = b'0' + (ticks % 10) as u8;
            ticks /= 10;
        }
        len = 27
            - text[20..27]
                .iter()
                .rev()
                .take_while(|&&d| d == b'0')
                .count();
    }
    let seconds = offset.seconds();
    if seconds == 0 {
        text[len] = b'Z';
        len += 1;
    } else {
        text[len] = if seconds < 0 { b'-' } else { b'+' };
        let minutes = seconds.abs() / 60;
        two(&mut text[len + 1..len + 3], minutes / 60);
        text[len + 3] = b':';
        two(&mut text[len + 4..len + 6], minutes % 60);
        len += 6;
    }
    out.extend_from_slice(&text[..len]);
}

/// Reads `min..=max` ASCII digits (at most 4) and returns their value and the rest.
fn digits(s: &[u8], min: usize, max: usize) -> Option<(i16, &[u8])> {
    let n = s
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    let (number, rest) = s.split_at(n);
    let value = number
        .iter()
        .fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0'));
    Some((value, rest))
}

/// `yyyy-mm-dd` at the start of `s`, a real calendar date.
fn parse_ymd(s: &[u8]) -> Option<(Date, &[u8])> {
    let (year, s) = digits(s, 4, 4)?;
    let (month, s) = digits(s.strip_prefix(b"-")?, 2, 2)?;
    let (day, s) = digits(s.strip_prefix(b"-")?, 2, 2)?;
    let date = Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
    Some((date, s))
}

/// `M/d/yyyy`, optionally followed by ` h:mm[:ss]` and ` AM`/` PM`.
fn parse_us(s: &[u8]) -> Option<DateTime> {
    let (month, s) = digits(s, 1, 2)?;
    let (day, s) = digits(s.strip_prefix(b"/")?, 1, 2)?;
    let (year, s) = digits(s.strip_prefix(b"/")?, 4, 4)?;
    let date = Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
    if s.is_empty() {
        return Some(date.to_datetime(Time::midnight()));
    }
    let (hour, s) = digits(s.strip_prefix(b" ")?, 1, 2)?;
    let (minute, s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let (second, s) = match s.strip_prefix(b":") {
        Some(s) => digits(s, 2, 2)?,
        None => (0, s),
    };
    let hour = match s {
        [] => hour,
        [b' ', half, m] if m.eq_ignore_ascii_case(&b'm') && (1..=12).contains(&hour) => {
            match half.to_ascii_lowercase() {
                b'a' => hour % 12,
                b'p' => hour % 12 + 12,
                _ => return None,
            }
        }
        _ => return None,
    };
    let time = Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

/// `yyyy-mm-dd` followed by `Z` or `±hh:mm`.
fn parse_workday(s: &[u8]) -> Option<(Date, Offset)> {
    let (date, rest) = parse_ymd(s)?;
    let offset = match rest {
        b"Z" => Offset::UTC,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, rest) = digits(rest, 2, 2)?;
            let (minutes, rest) = digits(rest.strip_prefix(b":")?, 2, 2)?;
            if !rest.is_empty() {
                return None;
            }
            offset_of(*sign, hours, minutes)?
        }
        _ => return None,
    };
    Some((date, offset))
}

/// An offset from a sign byte, hours and minutes (below 60).
fn offset_of(sign: u8, hours: i16, minutes: i16) -> Option<Offset> {
    if minutes >= 60 {
        return None;
    }
    let seconds = (i32::from(hours) * 60 + i32::from(minutes)) * 60;
    Offset::from_seconds(if sign == b'-' { -seconds } else { seconds }).ok()
}

/// Milliseconds, bare or as `/Date(ms)/` or `/Date(ms±hhmm)/`, with the offset if given.
fn parse_epoch_ms(s: &[u8]) -> Result<(i64, Option<Offset>), Bad> {
    let (number, offset) = match s
        .strip_prefix(b"/Date(")
        .and_then(|inner| inner.strip_suffix(b")/"))
    {
        // The offset's sign comes after the first byte, which may be the number's own sign.
        Some(inner) => match inner.iter().skip(1).position(|b| matches!(b, b'+' | b'-')) {
            Some(at) => {
                let (number, offset) = inner.split_at(at + 1);
                let [sign, h0, h1, m0, m1] = offset else {
                    return Err(Bad::Format);
                };
                let (hours, _) = digits(&[*h0, *h1], 2, 2).ok_or(Bad::Format)?;
                let (minutes, _) = digits(&[*m0, *m1], 2, 2).ok_or(Bad::Format)?;
                let offset = offset_of(*sign, hours, minutes).ok_or(Bad::Format)?;
                (number, Some(offset))
            }
            None => (inner, None),
        },
        None => (s, None),
    };
    let (negative, number) = match number {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, number),
    };
    if number.is_empty() || !number.iter().all(u8::is_ascii_digit) {
        return Err(Bad::Format);
    }
    let magnitude = number
        .iter()
        .try_fold(0i64, |acc, b| {
            acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })
        .ok_or(Bad::Range)?;
    Ok((if negative { -magnitude } else { magnitude }, offset))
}

/// A serial as text: `ddddd[.fff]`. A negative serial is out of range, not a wrong format.
fn parse_excel_serial(value: &str) -> Result<DateTime, Bad> {
    let (negative, unsigned) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || (unsigned.contains('.') && fraction.is_empty())
    {
        return Err(Bad::Format);
    }
    if negative {
        return Err(Bad::Range);
    }
    let serial: f64 = unsigned.parse().map_err(|_| Bad::Format)?;
    // A serial written with few decimals cannot place the time closer than one unit of its last
    // digit (86.4 ms for 6 decimals): snap to the whole second within that, so that a rounded
    // 46356.729167 reads as 17:30:00 and not 17:30:00.029.
    let unit_ms = u32::try_from(fraction.len())
        .ok()
        .and_then(|d| 10i64.checked_pow(d))
        .map_or(0, |scale| MS_PER_DAY / scale);
    excel_serial_to_civil_within(excel_days(serial, false), unit_ms.max(1)).ok_or(Bad::Range)
}

const MS_PER_DAY: i64 = 86_400_000;

/// Day 0 of Excel's 1900 date system (so that serial 61 is 1900-03-01, where Excel's fictional
/// 1900-02-29 stops mattering).
const EXCEL_EPOCH: DateTime = jiff::civil::datetime(1899, 12, 30, 0, 0, 0, 0);

/// The serial of 10000-01-01, the first day out of range.
const EXCEL_END_DAYS: i64 = 2_958_466;

/// Days between the 1900 and the 1904 date systems' day 0.
const DAYS_1900_TO_1904: f64 = 1462.0;

/// An Excel serial (days with a fraction of a day, in the 1900 or the 1904 date system) as days
/// since 1899-12-30. Excel's 1900 system counts a 1900-02-29 that never was (serial 60): the
/// days before it are one day later than counting from 1899-12-30 says.
fn excel_days(serial: f64, is_1904: bool) -> f64 {
    if is_1904 {
        serial + DAYS_1900_TO_1904
    } else if serial < 60.0 {
        serial + 1.0
    } else {
        serial
    }
}

/// Excel's serial date (days with a fraction of a day; `is_1904` for workbooks in the 1904 date
/// system) as a civil date-time: the `excel-serial` format, and the workbook reader's typed date
/// cells. `None` when out of range (negative, or year > 9999).
///
/// Rounded to the millisecond (floating point noise), then to the whole second when within 1 ms
/// of one.
pub fn excel_serial_to_civil(serial: f64, is_1904: bool) -> Option<DateTime> {
    if serial.is_nan() || serial < 0.0 {
        return None;
    }
    excel_serial_to_civil_within(excel_days(serial, is_1904), 1)
}

/// [`excel_serial_to_civil`], snapping to a whole second within `snap_ms`.
fn excel_serial_to_civil_within(serial: f64, snap_ms: i64) -> Option<DateTime> {
    if serial.is_nan() || serial < 0.0 {
        return None;
    }
    let end = EXCEL_END_DAYS * MS_PER_DAY;
    let ms = (serial * MS_PER_DAY as f64).round();
    // Compared as floats first so that huge values (and infinity) never reach the cast.
    if ms >= end as f64 {
        return None;
    }
    let mut ms = ms as i64;
    let below = ms % 1000;
    let above = 1000 - below;
    if below != 0 && below <= above && below <= snap_ms {
        ms -= below;
    } else if below != 0 && above < below && above <= snap_ms {
        ms += above;
    }
    if ms >= end {
        return None;
    }
    // Days and time of day separately: jiff bounds a duration's whole days by the Unix epoch
    // day range, which the span from 1899 exceeds near the year 9999.
    EXCEL_EPOCH
        .checked_add(jiff::Span::new().days(ms / MS_PER_DAY))
        .and_then(|day| day.checked_add(SignedDuration::from_millis(ms % MS_PER_DAY)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hrdata::datetime::check;
    use proptest::prelude::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").expect("bundled tz database")
    }

    fn conv(format: &str, zone: TimeZone) -> DateConverter {
        DateConverter::new(format.parse().expect("format"), zone)
    }

    /// Converts and checks the connector's rule on the way.
    fn ok(format: &str, zone: TimeZone, value: &str) -> String {
        let c = conv(format, zone)
            .convert(value)
            .unwrap_or_else(|e| panic!("{format} {value}: {e}"));
        assert_eq!(check(c.text.as_bytes()), Ok(()), "{}", c.text);
        assert!(!c.earlier_of_two, "{value}");
        c.text
    }

    fn utc(format: &str, value: &str) -> String {
        ok(format, TimeZone::UTC, value)
    }

    #[test]
    fn workday() {
        assert_eq!(
            utc("workday", "2026-11-30-08:00"),
            "2026-11-30T00:00:00-08:00"
        );
        assert_eq!(
            utc("workday", "2026-11-30+05:30"),
            "2026-11-30T00:00:00+05:30"
        );
        assert_eq!(utc("workday", "2026-11-30Z"), "2026-11-30T00:00:00Z");
        assert_eq!(utc("workday", "2026-11-30+00:00"), "2026-11-30T00:00:00Z");
        // Its own offset wins over the converter's zone.
        assert_eq!(
            ok("workday", ny(), "2026-06-30-08:00"),
            "2026-06-30T00:00:00-08:00"
        );
    }

    #[test]
    fn successfactors_odata() {
        assert_eq!(
            utc("epoch-ms", "/Date(1764547200000)/"),
            "2025-12-01T00:00:00Z"
        );
        assert_eq!(utc("epoch-ms", "1764547200000"), "2025-12-01T00:00:00Z");
        assert_eq!(utc("epoch-ms", "1764547200123"), "2025-12-01T00:00:00.123Z");
        assert_eq!(
            utc("epoch-ms", "/Date(1764547200000+0100)/"),
            "2025-12-01T01:00:00+01:00"
        );
        assert_eq!(
            utc("epoch-ms", "/Date(1764547200000-0500)/"),
            "2025-11-30T19:00:00-05:00"
        );
        assert_eq!(utc("epoch-ms", "-1000"), "1969-12-31T23:59:59Z");
        assert_eq!(utc("epoch-ms", "/Date(-1000)/"), "1969-12-31T23:59:59Z");
        // Bare and plain /Date()/ are UTC whatever the zone.
        assert_eq!(
            ok("epoch-ms", ny(), "/Date(1764547200000)/"),
            "2025-12-01T00:00:00Z"
        );
    }

    #[test]
    fn us_excel_and_successfactors() {
        assert_eq!(utc("us", "11/30/2026 5:30:00 PM"), "2026-11-30T17:30:00Z");
        assert_eq!(
            ok("us", ny(), "11/30/2026 5:30:00 PM"),
            "2026-11-30T17:30:00-05:00"
        );
        assert_eq!(utc("us", "11/30/2026"), "2026-11-30T00:00:00Z");
        assert_eq!(utc("us", "1/5/2026 17:30"), "2026-01-05T17:30:00Z");
        assert_eq!(utc("us", "01/05/2026 0:00:59"), "2026-01-05T00:00:59Z");
        assert_eq!(utc("us", "1/5/2026 12:00 am"), "2026-01-05T00:00:00Z");
        assert_eq!(utc("us", "1/5/2026 12:15 Pm"), "2026-01-05T12:15:00Z");
        assert_eq!(utc("us", "2/29/2028 11:59:59 PM"), "2028-02-29T23:59:59Z");
    }

    #[test]
    fn bamboohr_date() {
        assert_eq!(utc("date", "2026-11-30"), "2026-11-30T00:00:00Z");
        assert_eq!(ok("date", ny(), "2026-11-30"), "2026-11-30T00:00:00-05:00");
        assert_eq!(ok("date", ny(), "2026-06-30"), "2026-06-30T00:00:00-04:00");
    }

    #[test]
    fn patterns() {
        assert_eq!(utc("%d.%m.%Y", "30.11.2026"), "2026-11-30T00:00:00Z");
        assert_eq!(
            utc("%m/%d/%Y %I:%M:%S %p", "11/30/2026 05:30:00 PM"),
            "2026-11-30T17:30:00Z"
        );
        assert_eq!(
            ok("%d.%m.%Y %H:%M", ny(), "30.11.2026 17:30"),
            "2026-11-30T17:30:00-05:00"
        );
        assert_eq!(
            utc("%Y-%m-%d %H:%M %z", "2026-11-30 08:00 +0530"),
            "2026-11-30T08:00:00+05:30"
        );
        assert_eq!(
            utc("%Y-%m-%d %H:%M %Q", "2026-11-30 08:00 America/New_York"),
            "2026-11-30T08:00:00-05:00"
        );
        assert_eq!(utc("%s", "1764547200"), "2025-12-01T00:00:00Z");
        // Nanoseconds are cut to the connector's 7 digits.
        assert_eq!(
            utc("%Y-%m-%dT%H:%M:%S%.f", "2026-11-30T08:00:00.123456789"),
            "2026-11-30T08:00:00.1234567Z"
        );
        // An offset inconsistent with the named zone is not accepted.
        assert!(matches!(
            conv("%Y-%m-%d %H:%M %z %Q", TimeZone::UTC)
                .convert("2026-11-30 08:00 +0100 America/New_York"),
            Err(DateError::NotInFormat { .. })
        ));
    }

    #[test]
    fn excel_serials() {
        // 46356 days after 1899-12-30 is 2026-11-30 (Python: date(1899,12,30)+timedelta(46356)).
        assert_eq!(utc("excel-serial", "46356.5"), "2026-11-30T12:00:00Z");
        assert_eq!(utc("excel-serial", "46356"), "2026-11-30T00:00:00Z");
        assert_eq!(
            ok("excel-serial", ny(), "46356.75"),
            "2026-11-30T18:00:00-05:00"
        );
        // 17:30 written with 6 decimals, rounded or cut: snapped to the second it stands for.
        assert_eq!(utc("excel-serial", "46356.729167"), "2026-11-30T17:30:00Z");
        assert_eq!(utc("excel-serial", "46356.729166"), "2026-11-30T17:30:00Z");
        // Full precision keeps milliseconds.
        assert_eq!(
            utc("excel-serial", "46356.00000142361111"),
            "2026-11-30T00:00:00.123Z"
        );
        let civil =
            |y, mo, d, h, mi, s, ms| jiff::civil::datetime(y, mo, d, h, mi, s, ms * 1_000_000);
        assert_eq!(
            excel_serial_to_civil(46356.0 + 17.5 / 24.0, false),
            Some(civil(2026, 11, 30, 17, 30, 0, 0))
        );
        // Floating point noise around a whole second.
        assert_eq!(
            excel_serial_to_civil(46356.0 + (63_000.0 - 0.0004) / 86_400.0, false),
            Some(civil(2026, 11, 30, 17, 30, 0, 0))
        );
        assert_eq!(
            excel_serial_to_civil(46356.0 + 63_000.25 / 86_400.0, false),
            Some(civil(2026, 11, 30, 17, 30, 0, 250))
        );
        // Serial 0 is Excel's "1900-01-00"; 1 is 1900-01-01, and 61 1900-03-01 after the
        // fictional 1900-02-29.
        assert_eq!(
            excel_serial_to_civil(0.0, false),
            Some(civil(1899, 12, 31, 0, 0, 0, 0))
        );
        assert_eq!(
            excel_serial_to_civil(1.0, false),
            Some(civil(1900, 1, 1, 0, 0, 0, 0))
        );
        assert_eq!(
            excel_serial_to_civil(0.0, true),
            Some(civil(1904, 1, 1, 0, 0, 0, 0))
        );
        assert_eq!(
            excel_serial_to_civil(61.0, false),
            Some(civil(1900, 3, 1, 0, 0, 0, 0))
        );
        assert_eq!(
            excel_serial_to_civil(2_958_465.999, false),
            Some(civil(9999, 12, 31, 23, 58, 33, 600))
        );
        assert_eq!(excel_serial_to_civil(2_958_466.0, false), None);
        assert_eq!(excel_serial_to_civil(2_958_465.9999999999, false), None);
        assert_eq!(excel_serial_to_civil(-0.5, false), None);
        assert_eq!(excel_serial_to_civil(f64::NAN, false), None);
        assert_eq!(excel_serial_to_civil(f64::INFINITY, false), None);
        assert_eq!(excel_serial_to_civil(1e300, false), None);
        // The day before EXCEL_END_DAYS is the last day in range.
        assert_eq!(
            EXCEL_EPOCH
                .date()
                .checked_add(jiff::Span::new().days(EXCEL_END_DAYS - 1))
                .ok(),
            Date::new(9999, 12, 31).ok()
        );
    }

    #[test]
    fn new_york_gap_and_overlap() {
        let err = conv("us", ny()).convert("3/8/2026 2:30 AM").unwrap_err();
        assert_eq!(
            err,
            DateError::Gap {
                zone: "America/New_York".to_owned()
            }
        );
        assert_eq!(
            err.to_string(),
            "a local time that does not exist in America/New_York (the clocks moved forward)"
        );
        let c = conv("us", ny())
            .convert("11/1/2026 1:30 AM")
            .expect("overlap");
        assert_eq!(
            c,
            Converted {
                text: "2026-11-01T01:30:00-04:00".to_owned(),
                earlier_of_two: true,
            }
        );
        // Just outside the overlap nothing is ambiguous.
        assert_eq!(
            ok("us", ny(), "11/1/2026 2:00 AM"),
            "2026-11-01T02:00:00-05:00"
        );
        // A zone named in the value gets the same treatment.
        assert!(matches!(
            conv("%Y-%m-%d %H:%M %Q", TimeZone::UTC).convert("2026-03-08 02:30 America/New_York"),
            Err(DateError::Gap { .. })
        ));
    }

    #[test]
    fn iso8601_keeps_offsets_and_gives_the_zones_to_values_without() {
        let c = conv("iso8601", ny());
        assert!(c.is_identity());
        assert!(!conv("us", TimeZone::UTC).is_identity());
        for v in ["2019-04-24T09:15:49Z", "2019-04-23T15:18:02.4675041+05:30"] {
            assert_eq!(c.convert(v).map(|c| c.text).as_deref(), Ok(v));
        }
        // A local time in New York (EDT in April), at the same wall-clock time.
        assert_eq!(
            c.convert("2019-04-29T15:18:02.7117540")
                .map(|c| c.text)
                .as_deref(),
            Ok("2019-04-29T15:18:02.711754-04:00")
        );
        assert!(matches!(
            c.convert("2019-04-29 15:18:02"),
            Err(DateError::NotInFormat { .. })
        ));
    }

    #[test]
    fn wrong_format_never_echoes_the_value() {
        let cases = [
            ("iso8601", "2026-11-30 17:30:00"),
            ("date", "30.11.2026"),
            ("date", "2026-02-30"),
            ("us", "30/11/2026 17:30"),
            ("us", "11/30/26"),
            ("us", "11/30/2026 13:00 PM"),
            ("us", "11/30/2026 0:30 AM"),
            ("us", "11/30/2026 24:00"),
            ("us", "11/30/2026 5:30:00 PM "),
            ("workday", "2026-11-30"),
            ("workday", "2026-11-30-0800"),
            ("epoch-ms", "/Date(1764547200000)"),
            ("epoch-ms", "1764547200000.5"),
            ("epoch-ms", "/Date(1764547200000+01)/"),
            ("excel-serial", "46356,5"),
            ("excel-serial", "1234."),
            ("excel-serial", "11/30/2026"),
            ("%d.%m.%Y", "11/30/2026"),
            ("%d.%m.%Y", "31.11.2026"),
        ];
        for (format, value) in cases {
            let err = conv(format, TimeZone::UTC).convert(value).unwrap_err();
            let DateError::NotInFormat { expected, .. } = &err else {
                panic!("{format} {value}: {err:?}");
            };
            let format: DateFormat = format.parse().expect("format");
            assert_eq!(expected, &format.expected());
            let message = err.to_string();
            assert!(!message.contains(value), "{message}");
            assert!(message.contains(&format.expected()), "{message}");
        }
    }

    #[test]
    fn out_of_range() {
        for (format, value) in [
            ("epoch-ms", "99999999999999999999"),
            ("epoch-ms", "-62135596800001"), // just before 0001-01-01
            ("epoch-ms", "/Date(253402300800000)/"), // 10000-01-01
            ("us", "1/1/0000"),
            ("date", "0000-01-01"),
            ("workday", "0000-12-31+01:00"),
            ("excel-serial", "-1"),
            ("excel-serial", "2958466"),
            ("excel-serial", "1e5"),
        ] {
            let result = conv(format, TimeZone::UTC).convert(value);
            if format == "excel-serial" && value == "1e5" {
                assert!(matches!(result, Err(DateError::NotInFormat { .. })));
                continue;
            }
            assert_eq!(
                result,
                Err(DateError::OutOfRange {
                    format: format.to_owned()
                }),
                "{value}"
            );
        }
        assert_eq!(utc("epoch-ms", "-62135596800000"), "0001-01-01T00:00:00Z");
        assert_eq!(
            utc("epoch-ms", "253402128000001"),
            "9999-12-30T00:00:00.001Z"
        );
    }

    #[test]
    fn offsets_the_connector_cannot_write_fall_back_to_utc() {
        // New York kept local mean time (-04:56:02) until 1883.
        assert_eq!(ok("date", ny(), "1850-01-01"), "1850-01-01T04:56:02Z");
        assert_eq!(utc("epoch-ms", "/Date(0+1500)/"), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn names() {
        for name in [
            "iso8601",
            "date",
            "us",
            "workday",
            "epoch-ms",
            "excel-serial",
            "%d.%m.%Y",
        ] {
            let format: DateFormat = name.parse().expect(name);
            assert_eq!(format.to_string(), name);
        }
        assert_eq!(
            "%d.%m.%Y".parse::<DateFormat>(),
            Ok(DateFormat::Pattern("%d.%m.%Y".to_owned()))
        );
        let err = "dd.mm.yyyy".parse::<DateFormat>().unwrap_err();
        assert!(err.contains(PRESETS), "{err}");
    }

    /// Every preset, and patterns, in New York (gaps and overlaps) and UTC.
    fn all_converters() -> Vec<DateConverter> {
        let mut all = Vec::new();
        for zone in [TimeZone::UTC, ny()] {
            for format in [
                "iso8601",
                "date",
                "us",
                "workday",
                "epoch-ms",
                "excel-serial",
                "%d.%m.%Y",
                "%m/%d/%Y %I:%M:%S %p",
                "%Y-%m-%dT%H:%M:%S%.f%:z",
                "%Y-%m-%d %H:%M %Q",
                "%s",
            ] {
                all.push(conv(format, zone.clone()));
            }
        }
        all
    }

    fn instant_of(text: &str) -> Timestamp {
        text.parse()
            .unwrap_or_else(|e| panic!("{text} does not parse back: {e}"))
    }

    // 1900-01-01T00:00:00Z to 2100-12-31T23:59:59.999Z.
    const FROM_MS: i64 = -2_208_988_800_000;
    const TO_MS: i64 = 4_133_980_799_999;

    proptest! {
        #[test]
        fn round_trips_keep_the_instant(
            ms in FROM_MS..=TO_MS,
            offset_minutes in -14 * 60..=14 * 60i32,
        ) {
            let ts = Timestamp::from_millisecond(ms).expect("in range");
            let offset = Offset::from_seconds(offset_minutes * 60).expect("offset");
            let zoned = ts.to_zoned(TimeZone::fixed(offset));
            let civil = zoned.strftime("%Y-%m-%dT%H:%M:%S%.f").to_string();
            let canonical = if offset_minutes == 0 {
                format!("{civil}Z")
            } else {
                format!("{civil}{}", zoned.strftime("%:z"))
            };
            let fixed = TimeZone::fixed(offset);

            // The connector's own form is left alone.
            prop_assert_eq!(check(canonical.as_bytes()), Ok(()), "{}", canonical);
            prop_assert_eq!(instant_of(&canonical), ts);
            let same = conv("iso8601", fixed.clone()).convert(&canonical);
            prop_assert_eq!(same.map(|c| c.text), Ok(canonical.clone()));

            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let hhmm = format!(
                "{sign}{:02}{:02}",
                offset_minutes.abs() / 60,
                offset_minutes.abs() % 60
            );
            let with_offset = format!("{civil}{}", zoned.strftime("%:z"));
            let exact = [
                ("epoch-ms", format!("/Date({ms}{hhmm})/")),
                ("%Y-%m-%dT%H:%M:%S%.f%:z", with_offset),
            ];
            for (format, value) in exact {
                let c = conv(format, TimeZone::UTC).convert(&value);
                prop_assert_eq!(c.map(|c| c.text), Ok(canonical.clone()), "{} {}", format, value);
            }

            let bare = conv("epoch-ms", fixed.clone()).convert(&ms.to_string());
            let bare = bare.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(check(bare.text.as_bytes()), Ok(()), "{}", bare.text);
            prop_assert_eq!(instant_of(&bare.text), ts);

            // Local-time formats, in the value's fixed offset: same instant, cut to what the
            // format can say.
            let dt = zoned.datetime();
            let whole_second = zoned.timestamp()
                .checked_sub(SignedDuration::from_nanos(i64::from(dt.subsec_nanosecond())))
                .expect("in range");
            let midnight = offset.to_timestamp(dt.date().to_datetime(Time::midnight()))
                .expect("in range");
            let since_excel_ms = dt.duration_since(EXCEL_EPOCH).as_millis();
            // Excel counts a fictional 1900-02-29 (serial 60): before March 1900 its serials
            // are one less than the days since its epoch.
            let before_leap_bug = dt < jiff::civil::datetime(1900, 3, 1, 0, 0, 0, 0);
            let serial = (since_excel_ms as f64) / MS_PER_DAY as f64
                - if before_leap_bug { 1.0 } else { 0.0 };
            // Written with 9 decimals (86.4 µs), enough that the text's precision does not
            // snap the time to a whole second.
            let local = [
                ("us", zoned.strftime("%-m/%-d/%Y %-I:%M:%S %p").to_string(), whole_second),
                ("us", zoned.strftime("%-m/%-d/%Y %H:%M:%S").to_string(), whole_second),
                ("date", zoned.strftime("%Y-%m-%d").to_string(), midnight),
                ("workday", format!("{}{}", zoned.strftime("%Y-%m-%d"), zoned.strftime("%:z")), midnight),
                ("excel-serial", format!("{serial:.9}"), ts),
            ];
            for (format, value, expected) in local {
                let c = conv(format, fixed.clone()).convert(&value);
                let c = c.map_err(|e| TestCaseError::fail(format!("{format} {value}: {e}")))?;
                prop_assert_eq!(check(c.text.as_bytes()), Ok(()), "{}", c.text);
                let got = instant_of(&c.text);
                // Excel snaps to a whole second within 1 ms.
                let slack = if format == "excel-serial" { 1 } else { 0 };
                prop_assert!(
                    (got.as_millisecond() - expected.as_millisecond()).abs() <= slack,
                    "{} {} -> {}", format, value, c.text
                );
            }
        }

        /// The cached offset period never changes an answer: one converter given a run of local
        /// times (near each other, as an export's are, and across DST changes) says what a new
        /// converter says for each.
        #[test]
        fn cached_offsets_agree_with_the_zone_rules(
            start in FROM_MS..=TO_MS,
            steps in proptest::collection::vec(-3 * MS_PER_DAY..=3 * MS_PER_DAY, 1..64),
            zone in prop::sample::select(vec![
                "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata",
                "America/Sao_Paulo", "Pacific/Apia", "UTC",
            ]),
        ) {
            let zone = TimeZone::get(zone).expect("bundled tz database");
            let cached = conv("us", zone.clone());
            let mut ms = start;
            for step in steps {
                ms = (ms + step).clamp(FROM_MS, TO_MS);
                let civil = Timestamp::from_millisecond(ms).expect("in range")
                    .to_zoned(TimeZone::UTC).datetime();
                let value = civil.strftime("%-m/%-d/%Y %H:%M:%S").to_string();
                let fresh = conv("us", zone.clone()).convert(&value);
                prop_assert_eq!(cached.convert(&value), fresh, "{}", value);
            }
        }

        /// A converter whose kept stretches cover the values (warmed by valid times of the same
        /// years) answers any value, real date or not, as a new converter does: the stretches
        /// never let a day or time that does not exist through.
        #[test]
        fn kept_stretches_never_change_an_answer(
            values in proptest::collection::vec(
                prop_oneof![
                    "[0-9]{1,2}/[0-9]{1,2}/20[2-3][0-9]( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?( [AaPp][Mm])?)?",
                    "20[2-3][0-9]-[0-9]{2}-[0-9]{2}",
                    // The ends of months, leap years or not, in both shapes.
                    (1u8..=12, 28u8..=32, 2020u16..2040, any::<bool>()).prop_map(|(m, d, y, us)| {
                        if us { format!("{m}/{d}/{y} 11:59:59 PM") } else { format!("{y}-{m:02}-{d:02}") }
                    }),
                ],
                1..48,
            ),
            zone in prop::sample::select(vec!["America/New_York", "Europe/London", "UTC"]),
        ) {
            let zone = TimeZone::get(zone).expect("bundled tz database");
            for format in ["us", "date"] {
                let warm = conv(format, zone.clone());
                for year in 2020..2040 {
                    for month in [1, 7] {
                        let value = if format == "us" {
                            format!("{month}/15/{year} 12:00:00")
                        } else {
                            format!("{year}-{month:02}-15")
                        };
                        prop_assert!(warm.convert(&value).is_ok(), "{}", value);
                    }
                }
                for value in &values {
                    let fresh = conv(format, zone.clone()).convert(value);
                    prop_assert_eq!(warm.convert(value), fresh, "{} {}", format, value);
                }
            }
        }

        #[test]
        fn never_panics_on_anything(value in any::<String>()) {
            for c in all_converters() {
                if let Ok(c) = c.convert(&value) {
                    prop_assert_eq!(check(c.text.as_bytes()), Ok(()), "{}", c.text);
                }
            }
        }

        #[test]
        fn never_panics_on_near_misses(value in "[-+0-9/:. APMapmZDate()T]{0,32}") {
            for c in all_converters() {
                if let Ok(c) = c.convert(&value) {
                    prop_assert_eq!(check(c.text.as_bytes()), Ok(()), "{}", c.text);
                }
            }
        }

        #[test]
        fn outputs_pass_the_connector_check(
            value in prop_oneof![
                "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?( [AaPp][Mm])?)?",
                "[0-9]{4}-[0-9]{2}-[0-9]{2}",
                "-?[0-9]{1,16}",
                "/Date\\(-?[0-9]{1,16}([+-][0-9]{4})?\\)/",
            ],
        ) {
            for zone in [TimeZone::UTC, ny()] {
                for format in ["us", "date", "epoch-ms"] {
                    if let Ok(c) = conv(format, zone.clone()).convert(&value) {
                        prop_assert_eq!(check(c.text.as_bytes()), Ok(()), "{} -> {}", value, c.text);
                    }
                }
            }
        }
    }
}
