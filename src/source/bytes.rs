//! Bytes already in memory: the data of a ConfigMap or Secret key, or a test's CSV.

use std::io::{self, Read};
use std::sync::Arc;

use super::CsvSource;

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

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        // The bytes cannot change.
        Ok(Arc::new(self.clone()))
    }

    fn bytes(&self) -> Option<bytes::Bytes> {
        Some(self.data.clone())
    }
}
