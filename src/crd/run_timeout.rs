//! `spec.runTimeout`: how long one run may take, as a duration string ("6h", "90m", "1h30m").

use std::time::Duration;

use super::spec::HrConnectorJobSpec;

/// A run's limit when `spec.runTimeout` is unset: what PVC upload Jobs have always had.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Parses a sequence of whole numbers with units `h`, `m`, `s` ("1h30m", "45s"); `None` for
/// anything else (the CRD's pattern refuses it already on API servers that check it).
pub fn parse_duration(text: &str) -> Option<Duration> {
    crate::duration::parse(text, false)
}

impl HrConnectorJobSpec {
    /// The run's limit: `spec.runTimeout`, or [`DEFAULT_RUN_TIMEOUT`] when unset or unusable
    /// (validation reports an unusable one before any run).
    pub fn run_timeout(&self) -> Duration {
        self.run_timeout
            .as_deref()
            .and_then(parse_duration)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_RUN_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_hours_minutes_and_seconds() {
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21600)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h30m5s"), Some(Duration::from_secs(5405)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in [
            "",
            "6",
            "h",
            "1.5h",
            "6 h",
            "-1h",
            "6d",
            "1h30",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
