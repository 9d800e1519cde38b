//! A temporary file as a source: standard input copied to disk, or a converted export. Named
//! after what it holds (messages name the export, not a temporary path); the file is removed
//! when the last holder drops it.

use std::io::{self, Read};
use std::sync::Arc;

use super::{ChangeCheck, CsvSource, FileSource, ReadAt};
use crate::hrdata::Prevalidated;

pub struct TempFileSource {
    name: String,
    inner: Arc<dyn CsvSource>,
    _path: Arc<tempfile::TempPath>,
    /// The file's validation, when it was done as the file was written.
    prevalidated: Option<Arc<Prevalidated>>,
}

impl TempFileSource {
    pub fn new(name: String, path: tempfile::TempPath) -> Self {
        TempFileSource {
            name,
            inner: Arc::new(FileSource::new(path.to_path_buf())),
            _path: Arc::new(path),
            prevalidated: None,
        }
    }

    /// The file at `path`, validated as it was written.
    pub fn validated(name: String, path: tempfile::TempPath, validation: Prevalidated) -> Self {
        TempFileSource {
            prevalidated: Some(Arc::new(validation)),
            ..TempFileSource::new(name, path)
        }
    }

    /// Standard input, read whole into a temporary file (a stream cannot be read twice, and
    /// validation reads before sending).
    pub fn from_stdin() -> io::Result<Self> {
        let mut copy = tempfile::NamedTempFile::new()?;
        io::copy(&mut io::stdin().lock(), copy.as_file_mut())?;
        Ok(TempFileSource::new(
            "standard input".into(),
            copy.into_temp_path(),
        ))
    }
}

impl CsvSource for TempFileSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.inner.open()
    }
    fn name(&self) -> String {
        self.name.clone()
    }
    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        Ok(Arc::new(TempFileSource {
            name: self.name.clone(),
            inner: self.inner.pin()?,
            _path: self._path.clone(),
            prevalidated: self.prevalidated.clone(),
        }))
    }
    fn change_check(&self) -> Option<ChangeCheck> {
        self.inner.change_check()
    }
    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        self.inner.ranged()
    }
    fn prevalidated(&self) -> Option<Arc<Prevalidated>> {
        self.prevalidated.clone()
    }
}
