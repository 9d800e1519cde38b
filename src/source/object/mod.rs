//! An object in Azure Blob Storage or S3 as a [`CsvSource`].
//!
//! Pinning reads the object's ETag and size (a HEAD). Every reader of the pinned object then
//! fetches it in bounded byte ranges, each a GET conditional on that ETag (`If-Match`): once the
//! object is replaced, the next range fails with 412 and the reader with [`SourceChanged`], so
//! nothing of the new content is handed out. Memory stays at one network buffer per reader,
//! whatever the object's size; a range whose body breaks off is requested again from where it
//! stopped, a bounded number of times.
//!
//! The [`CsvSource`] interface is synchronous (the CSV layer reads on blocking threads), so
//! readers drive the async client on the runtime handle they were given.

mod error;
mod federated;
mod location;
mod retry;
mod store;

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use tokio::runtime::Handle;

use self::error::Failure;
pub use self::error::{ObjectSourceError, object_error};
pub use self::federated::{
    CredentialFailure, EntraStorageToken, STORAGE_RESOURCE, StsWebIdentity, StsWebIdentityConfig,
    sts_endpoint,
};
pub use self::location::{ObjectLocation, StoreKind, display_url, is_azure_blob_url};
pub use self::store::{ObjectCredentials, StoreConfig, account_name};
use super::pattern::{NamePattern, Newest};
use super::{CsvSource, SourceChanged};

/// Obtains the credential of a provider (an STS or Entra ID token exchange) now rather than at
/// the first request, so that a caller can tell a token service that does not answer from a
/// store that does not; the provider keeps it for the requests that follow. Static credentials
/// need nothing.
pub async fn fetch_credential(config: &StoreConfig) -> Result<(), ObjectSourceError> {
    let fetched = match &config.credentials {
        ObjectCredentials::S3Provider(provider) => provider.get_credential().await.map(drop),
        ObjectCredentials::AzureProvider(provider) => provider.get_credential().await.map(drop),
        _ => Ok(()),
    };
    let location = &config.location;
    fetched.map_err(|e| {
        Failure::of(&e).into_error(
            location.kind(),
            &location.display_name(),
            location.container(),
        )
    })
}

/// Times one range is requested again after its body broke off, before the read fails.
const BODY_RETRIES: u32 = 5;

/// What identifies one version of an object: shown in status, compared by the pre-flight check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The object chosen, when the source names a pattern (the newest match); `None` for a
    /// source that names one object.
    pub chosen: Option<String>,
    /// The ETag as the store sends it (quotes included).
    pub etag: Option<String>,
    /// RFC 3339.
    pub last_modified: String,
    pub size: u64,
}

/// An object, not yet pinned.
#[derive(Clone)]
pub struct ObjectSource {
    inner: Arc<Object>,
}

struct Object {
    location: ObjectLocation,
    name: String,
    store: Arc<dyn ObjectStore>,
    /// The object, when the source names one.
    path: Path,
    /// The pattern its last segment makes, if any (or why it is not a valid one).
    pattern: Result<Option<NamePattern>, String>,
    runtime: Handle,
    /// Bytes asked for in one ranged GET.
    range_len: u64,
}

impl ObjectSource {
    /// The object of `config`, read through `runtime` (pass `Handle::current()` from async
    /// code; the command line's `validate` passes its own runtime's).
    pub fn new(config: &StoreConfig, runtime: Handle) -> Result<Self, ObjectSourceError> {
        let store = config.build()?;
        Ok(ObjectSource::of(
            config.location.clone(),
            store,
            runtime,
            config.range_len.max(1),
        ))
    }

    /// An object of an already built client.
    pub fn with_store(
        location: ObjectLocation,
        store: Arc<dyn ObjectStore>,
        runtime: Handle,
    ) -> Self {
        ObjectSource::of(location, store, runtime, store::DEFAULT_RANGE_LEN)
    }

    fn of(
        location: ObjectLocation,
        store: Arc<dyn ObjectStore>,
        runtime: Handle,
        range_len: u64,
    ) -> Self {
        let path = Path::from(location.object());
        let pattern = NamePattern::parse(location.object());
        ObjectSource {
            inner: Arc::new(Object {
                name: location.display_name(),
                location,
                store,
                path,
                pattern,
                runtime,
                range_len,
            }),
        }
    }

    pub fn location(&self) -> &ObjectLocation {
        &self.inner.location
    }

    /// The object's current version, from a HEAD (no download); for a pattern, of the newest
    /// match (a listing first). For a missing object, a second request tells a missing
    /// container or bucket from a missing object.
    pub async fn head(&self) -> Result<ObjectVersion, ObjectSourceError> {
        let (path, _) = self.inner.resolve().await?;
        self.inner.head_of(&path).await
    }
}

impl ObjectSource {
    /// The source pinned to `version`, as [`ObjectSource::head`] found it (for a pattern, the
    /// same match, even if a newer one has arrived since): what a check validates is what it
    /// reports.
    pub fn pin_version(&self, version: &ObjectVersion) -> Arc<dyn CsvSource> {
        let object = &self.inner;
        let (path, name) = match &version.chosen {
            Some(chosen) => (
                Path::from(chosen.as_str()),
                object.location.with_object(chosen).display_name(),
            ),
            None => (object.path.clone(), object.name.clone()),
        };
        Arc::new(PinnedObject {
            object: object.clone(),
            path,
            name,
            version: version.clone(),
        })
    }
}

impl Object {
    /// The object read now, and how messages name it: the one named, or the newest match of
    /// the pattern, from one listing of its prefix.
    async fn resolve(&self) -> Result<(Path, String), ObjectSourceError> {
        let pattern = match &self.pattern {
            Ok(None) => return Ok((self.path.clone(), self.name.clone())),
            Ok(Some(pattern)) => pattern,
            Err(message) => return Err(ObjectSourceError::Location(message.clone())),
        };
        let prefix = (!pattern.dir().is_empty()).then(|| Path::from(pattern.dir()));
        // Only the prefix's own objects: what is under a deeper prefix (an archive) is not
        // listed at all.
        let listed = self
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| self.error(&e))?;
        let mut newest = Newest::default();
        for meta in listed.objects {
            let Some(name) = meta.location.filename().map(str::to_owned) else {
                continue;
            };
            newest.offer(pattern, &name, meta.last_modified.into(), meta.location);
        }
        let place = self.location.with_object(pattern.dir()).display_name();
        let place = format!("{}/", place.trim_end_matches('/'));
        let path = newest
            .choose(pattern, &place)
            .map_err(ObjectSourceError::NoMatch)?;
        let name = self.location.with_object(path.as_ref()).display_name();
        Ok((path, name))
    }

    async fn head_of(&self, path: &Path) -> Result<ObjectVersion, ObjectSourceError> {
        let chosen = matches!(self.pattern, Ok(Some(_))).then(|| path.to_string());
        match self.store.head(path).await {
            Ok(meta) => Ok(ObjectVersion {
                chosen,
                etag: meta.e_tag,
                last_modified: meta.last_modified.to_rfc3339(),
                size: meta.size,
            }),
            // A HEAD answer has no body, so no error code: ask with a one-byte GET.
            Err(
                head @ (object_store::Error::NotFound { .. }
                | object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }),
            ) => {
                let probe = self.store.get_range(path, 0..1).await;
                // The probe succeeding (the object came back in between): what the HEAD saw.
                Err(self.error(probe.as_ref().err().unwrap_or(&head)))
            }
            Err(e) => Err(self.error(&e)),
        }
    }
}

impl Object {
    fn error(&self, error: &object_store::Error) -> ObjectSourceError {
        self.error_from(Failure::of(error))
    }

    fn error_from(&self, failure: Failure) -> ObjectSourceError {
        failure.into_error(self.location.kind(), &self.name, self.location.container())
    }
}

impl CsvSource for ObjectSource {
    /// Reads the object as it is now (pinned to its current ETag).
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.pin()?.open()
    }

    fn name(&self) -> String {
        self.inner.name.clone()
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        let object = &self.inner;
        let (path, name, version) = object
            .runtime
            .block_on(async {
                let (path, name) = object.resolve().await?;
                let version = object.head_of(&path).await?;
                Ok((path, name, version))
            })
            .map_err(ObjectSourceError::into_io)?;
        Ok(Arc::new(PinnedObject {
            object: self.inner.clone(),
            path,
            name,
            version,
        }))
    }
}

/// An object at the version it had when pinned (for a pattern, the match chosen then).
struct PinnedObject {
    object: Arc<Object>,
    path: Path,
    name: String,
    version: ObjectVersion,
}

impl CsvSource for PinnedObject {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(RangeReader {
            object: self.object.clone(),
            path: self.path.clone(),
            name: self.name.clone(),
            etag: self.version.etag.clone(),
            offset: 0,
            end: self.version.size,
            body: None,
            buffered: Bytes::new(),
            retries: 0,
        }))
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        Ok(Arc::new(PinnedObject {
            object: self.object.clone(),
            path: self.path.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
        }))
    }
}

/// Reads a pinned object from the start in ranges conditional on its ETag.
struct RangeReader {
    object: Arc<Object>,
    path: Path,
    name: String,
    etag: Option<String>,
    /// Offset of the first byte not yet handed out (`buffered` starts here).
    offset: u64,
    end: u64,
    body: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    buffered: Bytes,
    /// Broken-off bodies of the current range so far.
    retries: u32,
}

impl RangeReader {
    /// The next range's body, asked for only if the object is still the pinned version.
    fn request(&self) -> io::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        let range: Range<u64> = self.offset..self.end.min(self.offset + self.object.range_len);
        let options = GetOptions {
            if_match: self.etag.clone(),
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let object = &self.object;
        let got = object
            .runtime
            .block_on(object.store.get_opts(&self.path, options));
        match got {
            Ok(result) => Ok(result.into_stream()),
            Err(object_store::Error::Precondition { .. }) => {
                Err(SourceChanged(self.name.clone()).into_io())
            }
            Err(e) => Err(self.error(&e)),
        }
    }

    /// As the pinned object's error, naming the object chosen.
    fn error(&self, error: &object_store::Error) -> io::Error {
        let location = &self.object.location;
        Failure::of(error)
            .into_error(location.kind(), &self.name, location.container())
            .into_io()
    }
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.buffered.is_empty() {
                let n = self.buffered.len().min(out.len());
                out[..n].copy_from_slice(&self.buffered[..n]);
                let _ = self.buffered.split_to(n);
                self.offset += n as u64;
                return Ok(n);
            }
            if self.offset >= self.end || out.is_empty() {
                return Ok(0);
            }
            let body = match &mut self.body {
                Some(body) => body,
                None => self.body.insert(self.request()?),
            };
            match self.object.runtime.block_on(body.next()) {
                Some(Ok(bytes)) => {
                    // Never past the pinned size: the store promised a bounded range.
                    let room = (self.end - self.offset) as usize;
                    self.buffered = if bytes.len() > room {
                        bytes.slice(..room)
                    } else {
                        bytes
                    };
                    self.retries = 0;
                }
                // The range is done (or ended early): the next turn asks for the rest.
                None => self.body = None,
                Some(Err(e)) => {
                    self.body = None;
                    self.retries += 1;
                    if self.retries > BODY_RETRIES {
                        return Err(self.error(&e));
                    }
                    tracing::warn!(
                        source = %self.name,
                        offset = self.offset,
                        attempt = self.retries,
                        "the object's body broke off; asking for the rest again"
                    );
                }
            }
        }
    }
}
