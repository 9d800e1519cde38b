//! Where CSV bytes come from. A source can be opened several times (validation, then chunking),
//! and every opening streams from the start.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

/// Something that can be read as a CSV file, from the start, any number of times.
pub trait CsvSource: Send + Sync {
    /// Opens a fresh reader positioned at the first byte.
    fn open(&self) -> io::Result<Box<dyn Read + Send>>;
    /// Name used in messages (a path, or e.g. `configmap/ns/name:key`).
    fn name(&self) -> String;
}

/// A file on disk (or on a mounted PersistentVolumeClaim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    pub path: PathBuf,
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSource { path: path.into() }
    }
}

impl CsvSource for FileSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(&self.path)?))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// Bytes already in memory, e.g. the data of a ConfigMap or Secret key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BytesSource {
    pub name: String,
    pub data: bytes::Bytes,
}

impl BytesSource {
    pub fn new(name: impl Into<String>, data: impl Into<bytes::Bytes>) -> Self {
        BytesSource {
            name: name.into(),
            data: data.into(),
        }
    }
}

impl CsvSource for BytesSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        // `Bytes` clones are reference-counted, so this copies nothing.
        Ok(Box::new(io::Cursor::new(self.data.clone())))
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
