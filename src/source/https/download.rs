//! One download of a report: its body streams into a temporary file on a task of its own, and
//! the readers of the pinned report read that file as it grows (waiting for the downloader when
//! they catch up), so validation runs beside the download and the sending pass reads the same
//! bytes afterwards. A report whose length the server declared is read at any offset while it
//! arrives, so validation takes it in segments on two threads (hrdata/segmented.rs), which
//! costs less processor time than the stream path and leaves more of it to the download.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use secrecy::SecretString;

use super::{HttpsSource, HttpsSourceError, Validators};
use crate::source::{CsvSource, FileAt, ReadAt};

/// How far the download has come.
#[derive(Default)]
pub(super) struct Progress {
    state: Mutex<State>,
    grown: Condvar,
    /// Every reader is gone: the download stops.
    abandoned: AtomicBool,
}

#[derive(Default)]
struct State {
    written: u64,
    /// `Some` once the body has ended: whole, or why not.
    end: Option<Result<(), HttpsSourceError>>,
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn grew(&self, by: u64) {
        self.lock().written += by;
        self.grown.notify_all();
    }

    fn end(&self, end: Result<(), HttpsSourceError>) {
        self.lock().end = Some(end);
        self.grown.notify_all();
    }
}

/// Bytes received before they are written and the readers told: a body comes in pieces of a
/// TLS record (16 KiB) or less, and a write and a wake-up for each piece slowed the downloading
/// thread, the slowest part of a download validated as it arrives (BENCHMARKS.md, "Report
/// URLs"). Readers ask for segments of this size anyway.
const FLUSH: usize = 256 << 10;

/// The downloader's side.
pub(super) struct Body {
    pub source: HttpsSource,
    pub token: Option<SecretString>,
    pub validators: Validators,
    pub file: File,
    pub progress: Arc<Progress>,
}

impl Body {
    /// Writes the body into the file to its end; a body that breaks off is asked for again
    /// from where it stopped (a range request, `If-Range` the version it started with), under
    /// the retry policy, where the server allows it.
    pub async fn stream(mut self, mut response: reqwest::Response) {
        let mut pending = Vec::with_capacity(FLUSH);
        let mut end = self.write_all(&mut response, &mut pending).await;
        if end.is_ok() {
            end = self.flush(&mut pending);
        }
        self.progress.end(end);
    }

    /// Writes what was received and not written yet, and tells the readers.
    fn flush(&mut self, pending: &mut Vec<u8>) -> Result<(), HttpsSourceError> {
        if pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(pending)
            .map_err(|e| HttpsSourceError::Disk {
                name: self.source.name.clone(),
                detail: e.to_string(),
            })?;
        self.progress.grew(pending.len() as u64);
        pending.clear();
        Ok(())
    }

    /// Receives the body into `pending`, written to the file [`FLUSH`] bytes at a time.
    async fn write_all(
        &mut self,
        response: &mut reqwest::Response,
        pending: &mut Vec<u8>,
    ) -> Result<(), HttpsSourceError> {
        let name = self.source.name.clone();
        let limit = self.source.config.max_bytes;
        let mut written = 0u64;
        let mut resumed = 0u32;
        loop {
            if self.progress.abandoned.load(Ordering::Relaxed) {
                return Ok(());
            }
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(()),
                Err(e) => {
                    // What came before the break is good: readers may have it.
                    self.flush(pending)?;
                    let Some(if_range) = self.validators.if_range().map(str::to_owned) else {
                        return Err(HttpsSourceError::BrokenOff {
                            name,
                            at: written,
                            why: "the server offers no byte ranges with a strong validator to \
                                  resume from",
                        });
                    };
                    resumed += 1;
                    if resumed >= self.source.config.retry.max_attempts.max(1) {
                        return Err(self.source.unreachable(&e).with_attempts(resumed));
                    }
                    tracing::warn!(source = %name, at = written, "the report's download broke off; resuming");
                    let mut token = self.token.take();
                    *response = self
                        .source
                        .request(&mut token, Some((written, &if_range)), None)
                        .await?;
                    self.token = token;
                    continue;
                }
            };
            written += chunk.len() as u64;
            if written > limit {
                return Err(HttpsSourceError::TooLarge { name, limit });
            }
            pending.extend_from_slice(&chunk);
            if pending.len() >= FLUSH {
                self.flush(pending)?;
            }
        }
    }
}

/// The report as one download: the temporary file, removed when the last holder lets go.
pub(super) struct Download {
    pub name: String,
    pub file: Arc<File>,
    pub _path: tempfile::TempPath,
    pub progress: Arc<Progress>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The body's length as the server declared it (`Content-Length`), within the size limit.
    pub declared: Option<u64>,
}

impl Drop for Download {
    fn drop(&mut self) {
        self.progress.abandoned.store(true, Ordering::Relaxed);
    }
}

/// A report pinned to one download: every reader reads its bytes from the start.
#[derive(Clone)]
pub struct PinnedReport {
    inner: Arc<Download>,
}

impl PinnedReport {
    pub(super) fn new(download: Download) -> Self {
        PinnedReport {
            inner: Arc::new(download),
        }
    }

    /// The ETag the server sent with the report, if any.
    pub fn etag(&self) -> Option<&str> {
        self.inner.etag.as_deref()
    }

    /// The Last-Modified the server sent with the report, if any.
    pub fn last_modified(&self) -> Option<&str> {
        self.inner.last_modified.as_deref()
    }

    /// Waits for the whole report: its size, or why the download failed.
    pub fn finish(&self) -> Result<u64, HttpsSourceError> {
        let progress = &self.inner.progress;
        let mut state = progress.lock();
        loop {
            match &state.end {
                Some(Ok(())) => return Ok(state.written),
                Some(Err(e)) => return Err(e.clone()),
                None => {
                    state = progress
                        .grown
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }

    /// The size, once the whole report is in.
    pub(super) fn complete(&self) -> Option<u64> {
        let state = self.inner.progress.lock();
        matches!(state.end, Some(Ok(()))).then_some(state.written)
    }
}

impl CsvSource for PinnedReport {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(GrowingReader {
            report: self.clone(),
            offset: 0,
        }))
    }

    fn name(&self) -> String {
        self.inner.name.clone()
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        Ok(Arc::new(self.clone()))
    }

    /// Once the whole report is in, it is a file like any other. While it is still arriving, it
    /// can be read at any offset if the server declared its length (each read waits for its
    /// bytes); without a declared length it is read as a stream.
    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        let file = self.inner.file.clone();
        if let Some(size) = self.complete() {
            return Some(Ok(Arc::new(FileAt { file, size })));
        }
        let size = self.inner.declared?;
        Some(Ok(Arc::new(GrowingAt {
            report: self.clone(),
            size,
        })))
    }
}

/// The report of a declared length, read at any offset while it arrives.
struct GrowingAt {
    report: PinnedReport,
    size: u64,
}

impl ReadAt for GrowingAt {
    fn size(&self) -> u64 {
        self.size
    }

    /// Waits until the bytes asked for are in; a read that reaches the declared end waits for
    /// the whole body, which must be exactly that long (what was validated is what is sent).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let end = offset
            .saturating_add(buf.len() as u64)
            .min(self.size)
            .max(offset);
        let progress = &self.report.inner.progress;
        let mut state = progress.lock();
        loop {
            match &state.end {
                Some(Err(e)) => return Err(e.clone().into_io()),
                Some(Ok(())) if state.written != self.size => {
                    // The reader's error names the report.
                    return Err(io::Error::other(format!(
                        "the body was {} bytes, not the {} its Content-Length declared",
                        state.written, self.size
                    )));
                }
                Some(Ok(())) => break,
                None if end < self.size && state.written >= end => break,
                None => {
                    state = progress
                        .grown
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
        drop(state);
        let want = (end - offset) as usize;
        self.report.inner.file.read_at(&mut buf[..want], offset)
    }
}

/// Reads the file from the start, waiting for the downloader when it catches up with it.
struct GrowingReader {
    report: PinnedReport,
    offset: u64,
}

impl Read for GrowingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let progress = &self.report.inner.progress;
        let available = {
            let mut state = progress.lock();
            loop {
                if state.written > self.offset {
                    break state.written - self.offset;
                }
                match &state.end {
                    Some(Ok(())) => return Ok(0),
                    Some(Err(e)) => return Err(e.clone().into_io()),
                    None => {
                        state = progress
                            .grown
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner)
                    }
                }
            }
        };
        let room = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let n = self
            .report
            .inner
            .file
            .read_at(&mut buf[..room], self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}
