//! The last report downloaded for one job, kept so that the next request can be conditional:
//! `If-None-Match` with its ETag (else `If-Modified-Since` with its Last-Modified). A server
//! that answers 304 Not Modified has not run the report again nor sent it; the kept download
//! is read once more, so validation, the SHA-256 and "Unchanged" are decided exactly as for a
//! new download. Servers that give no validators are asked unconditionally, and the SHA-256
//! decides.

use std::sync::{Mutex, PoisonError};

use super::PinnedReport;

/// One job's last whole download (its temporary file stays while it is kept).
#[derive(Default)]
pub struct ReportCache {
    last: Mutex<Option<(String, PinnedReport)>>,
}

/// The validators a conditional request sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Conditional {
    IfNoneMatch(String),
    IfModifiedSince(String),
}

impl ReportCache {
    /// The kept report of `url`, when it came whole and with a validator to ask with.
    pub(super) fn reusable(&self, url: &str) -> Option<(PinnedReport, Conditional)> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (kept_url, report) = last.as_ref()?;
        if kept_url != url || report.complete().is_none() {
            return None;
        }
        let conditional = match (report.etag(), report.last_modified()) {
            (Some(etag), _) => Conditional::IfNoneMatch(etag.to_owned()),
            (None, Some(date)) => Conditional::IfModifiedSince(date.to_owned()),
            (None, None) => return None,
        };
        Some((report.clone(), conditional))
    }

    /// Keeps `report` (of `url`) in place of the last one.
    pub(super) fn keep(&self, url: &str, report: &PinnedReport) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((url.to_owned(), report.clone()));
    }
}
