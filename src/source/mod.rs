//! Where CSV bytes come from: one interface for every source of the crate (a local file,
//! in-memory bytes of a ConfigMap or Secret, an object in Azure Blob Storage or S3, a report at an
//! HTTPS URL, a drop on an SFTP server; for the ones
//! with names, the newest of a pattern: [`pattern`]), so that
//! `validate`, `upload` and the operator give each the same validation, chunking, checkpoint
//! and `SourceChanged` semantics.
//!
//! A source is pinned once per run ([`CsvSource::pin`]); the validation pass and the sending
//! pass both read the pinned source, each from the start. A pinned source either keeps what it
//! was pinned to (an open file, bytes) or refuses to hand out anything else: its readers fail
//! with [`SourceChanged`] (an object replaced since its ETag was read), or its
//! [`CsvSource::change_check`] reports a change (a file written in place).

mod bytes;
mod file;
pub mod https;
pub mod object;
pub mod pattern;
pub mod sftp;
mod temp;

use std::io::{self, Read};
use std::sync::Arc;

pub use self::bytes::BytesSource;
pub(crate) use self::file::FileAt;
pub use self::file::FileSource;
pub use self::https::{HttpAuth, HttpsSource, HttpsSourceConfig, HttpsSourceError};
pub use self::object::{
    ObjectCredentials, ObjectLocation, ObjectSource, ObjectSourceError, ObjectVersion, StoreConfig,
};
pub use self::sftp::{
    SftpLocation, SftpSource, SftpSourceConfig, SftpSourceError, SshAuth, TrustedHosts,
};
pub use self::temp::TempFileSource;

/// Something that can be read as a CSV file, from the start, any number of times.
pub trait CsvSource: Send + Sync {
    /// Opens a fresh reader positioned at the first byte.
    fn open(&self) -> io::Result<Box<dyn Read + Send>>;
    /// Name used in messages (a path, or e.g. `configmap/ns/name:key`).
    fn name(&self) -> String;
    /// The content as it is now, for a validation pass and the sending pass after it: a file is
    /// kept open, so a new file renamed over the path in between is not what gets sent.
    fn pin(&self) -> io::Result<Arc<dyn CsvSource>>;
    /// For a pinned source whose bytes can still change (a file written in place): a check that
    /// says whether they may have changed since it was pinned.
    fn change_check(&self) -> Option<ChangeCheck> {
        None
    }
    /// The content's validation, when it was done as the content was written (a converted
    /// export): [`crate::hrdata::validate_and_plan`] gives it for the same options.
    fn prevalidated(&self) -> Option<Arc<crate::hrdata::Prevalidated>> {
        None
    }
    /// The whole content, when it is in memory already: read in place rather than copied.
    fn bytes(&self) -> Option<::bytes::Bytes> {
        None
    }
    /// Reads at any offset, when the source allows them (a file): validation then reads the
    /// source in segments on two threads at once (hrdata/segmented.rs).
    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        None
    }
}

/// A [`ReadAt`] read as a stream from `offset` on.
pub(crate) struct StreamAt {
    pub source: Arc<dyn ReadAt>,
    pub offset: u64,
}

impl Read for StreamAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.source.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// A source's content, read at any offset.
pub trait ReadAt: Send + Sync {
    /// The length in bytes when it was opened: the content validation reads.
    fn size(&self) -> u64;
    /// Reads from `offset` into `buf`, like `pread`; 0 only at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

/// True when a pinned source may have changed since it was pinned.
pub type ChangeCheck = Box<dyn Fn() -> bool + Send>;

/// What a pinned source's reader fails with when the content it was pinned to is gone (an
/// object replaced since validation read its ETag): nothing of the new content is handed out.
#[derive(Debug, thiserror::Error)]
#[error("{0} changed since it was validated")]
pub struct SourceChanged(pub String);

impl SourceChanged {
    pub fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// True when `error` is a [`SourceChanged`] from a pinned source's reader.
pub fn is_changed(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<SourceChanged>())
}
