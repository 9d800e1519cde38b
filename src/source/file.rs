//! A file on disk (or on a mounted PersistentVolumeClaim), pinned by keeping it open.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pattern::{NamePattern, Newest};
use super::{ChangeCheck, CsvSource, ReadAt, StreamAt};

/// A file on disk (or on a mounted PersistentVolumeClaim). A file name with `*` or `?` names
/// the newest matching file of its directory, chosen anew each time the source is pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    pub path: PathBuf,
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSource { path: path.into() }
    }

    /// Whether the file name is a pattern (holds `*` or `?`), a wildcard elsewhere aside.
    pub fn is_pattern(&self) -> bool {
        NamePattern::parse(&self.path.to_string_lossy()).is_ok_and(|p| p.is_some())
    }

    /// The file read now: the path itself, or the newest file matching its pattern.
    pub fn resolve(&self) -> io::Result<PathBuf> {
        let text = self.path.to_string_lossy();
        let pattern = NamePattern::parse(&text)
            .map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        let Some(pattern) = pattern else {
            return Ok(self.path.clone());
        };
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let listed = std::fs::read_dir(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot list {}: {e}", dir.display())))?;
        let mut newest = Newest::default();
        for entry in listed {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Followed through symbolic links (a mounted volume's files often are ones);
            // directories and entries gone since the listing are not candidates.
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            newest.offer(&pattern, &name, modified, entry.path());
        }
        newest
            .choose(&pattern, &dir.display().to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))
    }
}

impl CsvSource for FileSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.resolve()?)?))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        let open = || -> io::Result<Arc<dyn ReadAt>> {
            let file = File::open(self.resolve()?)?;
            let size = file.metadata()?.len();
            Ok(Arc::new(FileAt {
                file: Arc::new(file),
                size,
            }))
        };
        Some(open())
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        let path = self.resolve()?;
        let file = File::open(&path)?;
        let stamp = Stamp::of(&file)?;
        Ok(Arc::new(OpenFile {
            name: path.display().to_string(),
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

/// Positioned reads of an open file, up to `size`.
pub(crate) struct FileAt {
    pub file: Arc<File>,
    pub size: u64,
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

    fn write_at(dir: &Path, name: &str, text: &str, secs: u64) {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    fn a_pattern_pins_the_newest_matching_file() {
        let dir = tempfile::tempdir().unwrap();
        // The greatest name is not the newest file: modification time decides.
        write_at(
            dir.path(),
            "terminations_2026-12-01.csv",
            "december\n",
            1_000,
        );
        write_at(
            dir.path(),
            "terminations_2026-11-30.csv",
            "november\n",
            2_000,
        );
        write_at(dir.path(), "other.csv", "other\n", 3_000);
        write_at(
            dir.path(),
            ".terminations_2026-12-02.csv",
            "partial\n",
            4_000,
        );
        std::fs::create_dir(dir.path().join("terminations_archive.csv")).unwrap();
        let source = FileSource::new(dir.path().join("terminations_*.csv"));
        let pinned = source.pin().unwrap();
        assert_eq!(read_all(pinned.as_ref()), b"november\n");
        assert!(pinned.name().ends_with("/terminations_2026-11-30.csv"));
        assert_eq!(read_all(&source), b"november\n");

        // A newer drop is chosen the next time; the pinned one stays what it was.
        write_at(dir.path(), "terminations_2026-12-02.csv", "newest\n", 5_000);
        assert_eq!(read_all(source.pin().unwrap().as_ref()), b"newest\n");
        assert_eq!(read_all(pinned.as_ref()), b"november\n");
    }

    #[test]
    fn a_pattern_without_a_match_names_it_and_what_the_directory_holds() {
        let dir = tempfile::tempdir().unwrap();
        write_at(dir.path(), "other.csv", "other\n", 1_000);
        let source = FileSource::new(dir.path().join("terminations_*.csv"));
        let err = source.pin().err().expect("no match");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let text = err.to_string();
        assert!(text.contains("terminations_*.csv"), "{text}");
        assert!(text.contains("it holds other.csv"), "{text}");
    }
}
