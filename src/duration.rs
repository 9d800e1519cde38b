//! Durations as people write them in specs and flags: whole numbers with units (`90m`, `1h30m`,
//! `14d`), no decimals, no spaces.

use std::time::Duration;

/// Parses a sequence of whole numbers with units `h`, `m`, `s`, and `d` when `days` is true;
/// `None` for anything else.
pub fn parse(text: &str, days: bool) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' if days => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
    }
    (digits.is_empty() && !text.is_empty()).then_some(Duration::from_secs(total))
}

/// `14d`, `36h`, `90m`, `45s`: the largest unit that divides the duration exactly.
pub fn format(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_only_where_allowed() {
        assert_eq!(parse("14d", true), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse("1d12h", true), Some(Duration::from_secs(129_600)));
        assert_eq!(parse("14d", false), None);
        assert_eq!(format(Duration::from_secs(14 * 86_400)), "14d");
        assert_eq!(format(Duration::from_secs(90)), "90s");
    }
}
