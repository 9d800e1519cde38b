//! An HR export dropped on an SFTP server (SAP SuccessFactors Integration Center, ADP, Oracle
//! HCM extracts, UKG) as a [`CsvSource`].
//!
//! The file is pinned by its size and modification time when the run starts (for a pattern,
//! the newest match chosen then). It is read where it lies, at offsets (the segmented
//! validation reads two parts at once; the sending pass streams it), never copied to disk.
//! Every pass and every reconnection checks that the file is still the pinned one; one that
//! changed fails with [`SourceChanged`]. A connection that breaks off is opened again, under
//! the upload's retry policy, and reading goes on from where it stopped.
//!
//! No trust on first use: the server's host key must be in the known hosts given with the job
//! ([`known_hosts`]), or nothing is read. The connection is subject to the egress policy like
//! every request (`sftp://HOST:PORT/` under an `--allow-endpoint-prefix`).

mod connection;
mod error;
mod known_hosts;
mod location;
mod prefetch;

use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::runtime::Handle;

pub use self::connection::SshAuth;
use self::connection::{Connection, connect};
pub use self::error::{SftpSourceError, sftp_error};
pub use self::known_hosts::{HostKeyVerdict, TrustedHosts};
pub use self::location::SftpLocation;
use self::prefetch::{BLOCK, Extent, Prefetch, ReadFailure};
use super::pattern::{NamePattern, Newest};
use super::{ChangeCheck, CsvSource, ReadAt, SourceChanged};
use crate::net::EgressPolicy;
use crate::upload::{RetryPolicy, Sleeper};

/// Where the drop is and how to log in.
#[derive(Clone)]
pub struct SftpSourceConfig {
    pub location: SftpLocation,
    pub auth: SshAuth,
    pub known_hosts: Arc<TrustedHosts>,
    pub egress: Arc<EgressPolicy>,
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
}

/// The version of the file a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpVersion {
    /// The path read: the one named, or the newest match of its pattern.
    pub path: String,
    /// Set when a pattern chose the file.
    pub chosen: Option<String>,
    pub size: u64,
    /// Seconds since the epoch (SFTP version 3 gives whole seconds).
    pub modified: u32,
}

impl SftpVersion {
    /// The modification time as RFC 3339, for messages and status.
    pub fn modified_text(&self) -> String {
        jiff::Timestamp::from_second(i64::from(self.modified))
            .map_or_else(|_| self.modified.to_string(), |t| t.to_string())
    }
}

/// A file (or the newest of a pattern) on an SFTP server, not yet pinned.
#[derive(Clone)]
pub struct SftpSource {
    config: Arc<SftpSourceConfig>,
    pattern: Option<NamePattern>,
    runtime: Handle,
    /// The connection [`SftpSource::head`] made, for the pinned file to read through: one
    /// login per command.
    spare: Arc<Mutex<Option<Connection>>>,
}

impl SftpSource {
    /// The drop of `config`, read through `runtime`. Refused in the FIPS build.
    pub fn new(config: SftpSourceConfig, runtime: Handle) -> Result<Self, SftpSourceError> {
        if cfg!(feature = "fips") {
            return Err(SftpSourceError::NotInFips);
        }
        config.location.check()?;
        let pattern =
            NamePattern::parse(&config.location.path).map_err(SftpSourceError::Location)?;
        Ok(SftpSource {
            config: Arc::new(config),
            pattern,
            runtime,
            spare: Arc::default(),
        })
    }

    pub fn name(&self) -> String {
        self.config.location.display_name()
    }

    /// The file's current version: for a pattern, of the newest match (one listing of its
    /// directory). Nothing of the content is read.
    pub async fn head(&self) -> Result<SftpVersion, SftpSourceError> {
        let connection = self.connect().await?;
        let version = self.version(&connection).await?;
        *self.spare.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection);
        Ok(version)
    }

    /// The source pinned to `version`, as [`SftpSource::head`] found it (for a pattern, that
    /// match, even if a newer one has arrived since).
    pub fn pin_version(&self, version: &SftpVersion) -> Arc<dyn CsvSource> {
        Arc::new(PinnedSftp {
            link: Arc::new(Link {
                config: self.config.clone(),
                runtime: self.runtime.clone(),
                name: self.config.location.with_path(&version.path),
                version: version.clone(),
                open: Mutex::new(None),
                spare: Mutex::new(
                    self.spare
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take(),
                ),
                prefetch: Mutex::default(),
            }),
        })
    }

    /// A connection, tried again under the retry policy while the server cannot be reached.
    async fn connect(&self) -> Result<Connection, SftpSourceError> {
        connect_retrying(&self.config).await
    }

    async fn version(&self, connection: &Connection) -> Result<SftpVersion, SftpSourceError> {
        let location = &self.config.location;
        let path = match &self.pattern {
            None => location.path.clone(),
            Some(pattern) => self.newest(connection, pattern).await?,
        };
        let name = location.with_path(&path);
        let attrs = connection
            .sftp
            .stat(path.as_str())
            .await
            .map_err(|e| status_error(&e, &name, &location.user))?
            .attrs;
        let (size, modified) = file_version(&attrs, &name, &path)?;
        Ok(SftpVersion {
            chosen: self.pattern.as_ref().map(|_| path.clone()),
            path,
            size,
            modified,
        })
    }

    /// The newest regular file of the pattern's directory that matches it.
    async fn newest(
        &self,
        connection: &Connection,
        pattern: &NamePattern,
    ) -> Result<String, SftpSourceError> {
        let location = &self.config.location;
        let dir = match pattern.dir() {
            "" if location.path.starts_with('/') => "/",
            "" => ".",
            dir => dir,
        };
        let place = location.with_path(&format!("{}/", dir.trim_end_matches('/')));
        let sftp = &connection.sftp;
        let handle = sftp
            .opendir(dir)
            .await
            .map_err(|e| status_error(&e, &place, &location.user))?
            .handle;
        let mut newest = Newest::default();
        loop {
            let listed = match sftp.readdir(handle.as_str()).await {
                Ok(listed) => listed,
                Err(e) if is_eof(&e) => break,
                Err(e) => return Err(status_error(&e, &place, &location.user)),
            };
            for entry in listed.files {
                if matches!(entry.filename.as_str(), "." | "..") || !is_regular(&entry.attrs) {
                    continue;
                }
                let modified = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(entry.attrs.mtime.unwrap_or(0).into());
                newest.offer(pattern, &entry.filename, modified, entry.filename.clone());
            }
        }
        let _ = sftp.close(handle).await;
        let chosen = newest
            .choose(pattern, &place)
            .map_err(SftpSourceError::NoMatch)?;
        Ok(match pattern.dir() {
            "" if location.path.starts_with('/') => format!("/{chosen}"),
            "" => chosen,
            dir => format!("{}/{chosen}", dir.trim_end_matches('/')),
        })
    }
}

async fn connect_retrying(config: &SftpSourceConfig) -> Result<Connection, SftpSourceError> {
    let policy = &config.retry;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match connect(config).await {
            Ok(connection) => return Ok(connection),
            Err(e) if e.is_permanent() || attempt >= policy.max_attempts.max(1) => {
                return Err(match e {
                    SftpSourceError::Unreachable { name, detail, .. } => {
                        SftpSourceError::Unreachable {
                            name,
                            detail,
                            attempts: attempt,
                        }
                    }
                    other => other,
                });
            }
            Err(e) => {
                let wait = policy.delay(attempt, None);
                tracing::warn!(error = %e, attempt, ?wait, "the SFTP server could not be reached; trying again");
                config.sleeper.sleep(wait).await;
            }
        }
    }
}

impl CsvSource for SftpSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.pin()?.open()
    }

    fn name(&self) -> String {
        SftpSource::name(self)
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        let version = self
            .runtime
            .block_on(self.head())
            .map_err(SftpSourceError::into_io)?;
        Ok(self.pin_version(&version))
    }
}

/// The pinned file's connection, shared by every reader of the run.
struct Link {
    config: Arc<SftpSourceConfig>,
    runtime: Handle,
    name: String,
    version: SftpVersion,
    /// The open file, once a reader asked for it; `None` again after the connection broke.
    open: Mutex<Option<Arc<OpenFile>>>,
    /// A connection made before the pin (the one that found the version), used first.
    spare: Mutex<Option<Connection>>,
    /// Blocks requested ahead of the readers.
    prefetch: Mutex<Prefetch>,
}

struct OpenFile {
    connection: Connection,
    handle: String,
}

impl Link {
    /// The open file, connecting (and checking the file is still the pinned version) if needed.
    fn opened(&self) -> io::Result<Arc<OpenFile>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = open.as_ref() {
            return Ok(file.clone());
        }
        let file = self.runtime.block_on(self.open_file())?;
        *open = Some(file.clone());
        Ok(file)
    }

    async fn open_file(&self) -> io::Result<Arc<OpenFile>> {
        let location = &self.config.location;
        let spare = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let connection = match spare {
            Some(connection) => connection,
            None => connect_retrying(&self.config)
                .await
                .map_err(SftpSourceError::into_io)?,
        };
        let path = self.version.path.as_str();
        let handle = connection
            .sftp
            .open(path, OpenFlags::READ, FileAttributes::default())
            .await
            .map_err(|e| status_error(&e, &self.name, &location.user).into_io())?
            .handle;
        let file = OpenFile { connection, handle };
        self.still_pinned(&file).await?;
        Ok(Arc::new(file))
    }

    /// Fails with [`SourceChanged`] unless both the open file and the path are still the
    /// pinned version (a file replaced by a rename, or written in place, is not).
    async fn still_pinned(&self, file: &OpenFile) -> io::Result<()> {
        let sftp = &file.connection.sftp;
        let user = &self.config.location.user;
        let by_handle = sftp
            .fstat(file.handle.as_str())
            .await
            .map_err(|e| status_error(&e, &self.name, user).into_io())?
            .attrs;
        let by_path = sftp
            .stat(self.version.path.as_str())
            .await
            .map_err(|e| status_error(&e, &self.name, user).into_io())?
            .attrs;
        let pinned = (Some(self.version.size), Some(self.version.modified));
        if (by_handle.size, by_handle.mtime) != pinned || (by_path.size, by_path.mtime) != pinned {
            return Err(SourceChanged(self.name.clone()).into_io());
        }
        Ok(())
    }

    /// Forgets `file`'s connection after it broke, unless another reader already did.
    fn forget(&self, file: &Arc<OpenFile>) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, file))
        {
            *open = None;
        }
    }

    /// Fills `buf` from `offset` out of the blocks it spans (requesting those ahead too).
    fn read_blocks(
        &self,
        file: &Arc<OpenFile>,
        buf: &mut [u8],
        offset: u64,
    ) -> Result<(), ReadFailure> {
        let (first, last) = (offset / BLOCK, (offset + buf.len() as u64 - 1) / BLOCK);
        let extent = Extent {
            size: self.version.size,
            name: &self.name,
            user: &self.config.location.user,
        };
        let blocks = self
            .prefetch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blocks(file, first, last, &extent, &self.runtime);
        let mut at = offset;
        let mut filled = 0;
        for (index, block) in (first..=last).zip(blocks) {
            let block = self.runtime.block_on(block)?;
            let n = block.copy_to((at - index * BLOCK) as usize, &mut buf[filled..]);
            if n == 0 {
                return Err(ReadFailure::Shorter);
            }
            filled += n;
            at += n as u64;
        }
        if filled < buf.len() {
            return Err(ReadFailure::Shorter);
        }
        Ok(())
    }
}

impl ReadAt for Link {
    fn size(&self) -> u64 {
        self.version.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let size = self.version.size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min((size - offset).try_into().unwrap_or(usize::MAX));
        let buf = &mut buf[..want];
        let policy = &self.config.retry;
        let mut broken = 0;
        loop {
            let file = self.opened()?;
            match self.read_blocks(&file, buf, offset) {
                Ok(()) => return Ok(buf.len()),
                Err(ReadFailure::Shorter) => return Err(SourceChanged(self.name.clone()).into_io()),
                Err(ReadFailure::Failed(e)) => return Err(e.into_io()),
                Err(ReadFailure::Link(detail)) => {
                    self.prefetch
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                    self.forget(&file);
                    broken += 1;
                    if broken >= policy.max_attempts.max(1) {
                        return Err(SftpSourceError::Unreachable {
                            name: self.name.clone(),
                            detail: format!("the connection broke off at byte {offset}: {detail}"),
                            attempts: broken,
                        }
                        .into_io());
                    }
                    let wait = policy.delay(broken, None);
                    tracing::warn!(source = %self.name, offset, attempt = broken, ?wait, "the SFTP connection broke off; connecting again to read on from there");
                    // Made inside the runtime: a timer needs its context.
                    self.runtime
                        .block_on(async { self.config.sleeper.sleep(wait).await });
                }
            }
        }
    }
}

/// A pinned SFTP file: the validation pass and the sending pass read the same version.
struct PinnedSftp {
    link: Arc<Link>,
}

impl CsvSource for PinnedSftp {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let file = self.link.opened()?;
        // Each pass starts by checking the path still holds the pinned version.
        self.link.runtime.block_on(self.link.still_pinned(&file))?;
        Ok(Box::new(Stream {
            link: self.link.clone(),
            offset: 0,
            block: Vec::new(),
            at: 0,
        }))
    }

    fn name(&self) -> String {
        self.link.name.clone()
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        Ok(Arc::new(PinnedSftp {
            link: self.link.clone(),
        }))
    }

    fn ranged(&self) -> Option<io::Result<Arc<dyn ReadAt>>> {
        Some(Ok(self.link.clone() as Arc<dyn ReadAt>))
    }

    fn change_check(&self) -> Option<ChangeCheck> {
        let link = self.link.clone();
        Some(Box::new(move || {
            let check = async {
                let file = link.opened()?;
                link.still_pinned(&file).await
            };
            link.runtime.block_on(check).is_err()
        }))
    }
}

/// The pinned file read from the start, a block at a time (the blocks after it requested
/// ahead); at its end, checked to be still the pinned version.
struct Stream {
    link: Arc<Link>,
    /// Offset of the first byte not yet in `block`.
    offset: u64,
    block: Vec<u8>,
    at: usize,
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.block.len() {
            let size = self.link.version.size;
            if self.offset >= size {
                return Ok(0);
            }
            self.block.resize(BLOCK as usize, 0);
            let n = self.link.read_at(&mut self.block, self.offset)?;
            self.block.truncate(n);
            self.at = 0;
            self.offset += n as u64;
            if self.offset >= size {
                // Read whole: the file must not have changed while it was read.
                let file = self.link.opened()?;
                self.link.runtime.block_on(self.link.still_pinned(&file))?;
            }
        }
        let n = (self.block.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The size and modification time of a regular file.
fn file_version(
    attrs: &FileAttributes,
    name: &str,
    path: &str,
) -> Result<(u64, u32), SftpSourceError> {
    if !is_regular(attrs) {
        return Err(SftpSourceError::NotAFile {
            name: name.to_owned(),
            what: path.to_owned(),
        });
    }
    match (attrs.size, attrs.mtime) {
        (Some(size), Some(modified)) => Ok((size, modified)),
        _ => Err(SftpSourceError::Server {
            name: name.to_owned(),
            detail: "the server does not report the file's size and modification time, by \
                     which a run pins the file"
                .into(),
        }),
    }
}

fn is_regular(attrs: &FileAttributes) -> bool {
    // S_IFMT bits; a server that gives no permissions is taken at its word.
    attrs
        .permissions
        .is_none_or(|mode| mode & 0o170000 == 0o100000)
}

fn is_eof(error: &russh_sftp::client::error::Error) -> bool {
    matches!(error, russh_sftp::client::error::Error::Status(s) if s.status_code == StatusCode::Eof)
}

/// A request's failure as the error a person reads.
fn status_error(
    error: &russh_sftp::client::error::Error,
    name: &str,
    user: &str,
) -> SftpSourceError {
    use russh_sftp::client::error::Error;
    match error {
        Error::Status(s) if s.status_code == StatusCode::NoSuchFile => SftpSourceError::NotFound {
            name: name.to_owned(),
        },
        Error::Status(s) if s.status_code == StatusCode::PermissionDenied => {
            SftpSourceError::PermissionDenied {
                name: name.to_owned(),
                user: user.to_owned(),
            }
        }
        Error::Status(s) => SftpSourceError::Server {
            name: name.to_owned(),
            detail: format!("{}: {}", s.status_code, s.error_message),
        },
        other => SftpSourceError::Unreachable {
            name: name.to_owned(),
            detail: other.to_string(),
            attempts: 1,
        },
    }
}
