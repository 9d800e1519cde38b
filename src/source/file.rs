//! A file on disk (or on a mounted PersistentVolumeClaim), pinned by keeping it open.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{ChangeCheck, CsvSource, ReadAt, StreamAt};

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

    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        let open = || -> io::Result<Arc<dyn ReadAt>> {
            let file = File::open(&self.path)?;
            let size = file.metadata()?.len();
            Ok(Arc::new(FileAt {
                file: Arc::new(file),
                size,
            }))
        };
        Some(open())
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        let file = File::open(&self.path)?;
        let stamp = Stamp::of(&file)?;
        Ok(Arc::new(OpenFile {
            name: self.name(),
            file: Arc::new(file),
            stamp,
        }))
    }
}

/// A file opened once; every [`CsvSource::open`] reads it from the start with positioned reads,
/// so readers do not share a file offset.
struct OpenFile {
    name: String,
    file: Arc<File>,
    /// Size and modification time when it was opened: a write in place changes them.
    stamp: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(file: &File) -> io::Result<Stamp> {
        let meta = file.metadata()?;
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

impl CsvSource for OpenFile {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        // To the end as it is now, not as it was when pinned: the hash shows a change.
        Ok(Box::new(StreamAt {
            source: Arc::new(FileAt {
                file: self.file.clone(),
                size: u64::MAX,
            }),
            offset: 0,
        }))
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        Ok(Arc::new(OpenFile {
            name: self.name.clone(),
            file: self.file.clone(),
            stamp: self.stamp,
        }))
    }

    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        // The size pinned: bytes written beyond it since are a change the check below reports.
        Some(Ok(Arc::new(FileAt {
            file: self.file.clone(),
            size: self.stamp.len,
        })))
    }

    fn change_check(&self) -> Option<ChangeCheck> {
        let (file, stamp) = (self.file.clone(), self.stamp);
        Some(Box::new(move || {
            Stamp::of(&file).map_or(true, |now| now != stamp)
        }))
    }
}

/// Positioned reads of an open file, up to its size when opened.
struct FileAt {
    file: Arc<File>,
    size: u64,
}

impl ReadAt for FileAt {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let room = self.size.saturating_sub(offset).min(buf.len() as u64) as usize;
        self.file.read_at(&mut buf[..room], offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(source: &dyn CsvSource) -> Vec<u8> {
        let mut out = Vec::new();
        source.open().unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_pinned_file_keeps_its_content_when_another_is_renamed_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.csv");
        std::fs::write(&path, "old content\n").unwrap();
        let pinned = FileSource::new(&path).pin().unwrap();
        let new = dir.path().join("hr.csv.new");
        std::fs::write(&new, "new content, longer\n").unwrap();
        std::fs::rename(&new, &path).unwrap();

        assert_eq!(read_all(pinned.as_ref()), b"old content\n");
        // Two readers of one pinned file do not share an offset.
        assert_eq!(read_all(pinned.as_ref()), b"old content\n");
        assert!(!pinned.change_check().is_some_and(|changed| changed()));
        assert_eq!(read_all(&FileSource::new(&path)), b"new content, longer\n");
    }

    #[test]
    fn a_write_in_place_shows_in_the_change_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.csv");
        std::fs::write(&path, "old content\n").unwrap();
        let pinned = FileSource::new(&path).pin().unwrap();
        let changed = pinned.change_check().expect("files have a check");
        assert!(!changed());
        std::fs::write(&path, "new content, longer\n").unwrap();
        assert!(changed());
    }
}
