//! Reading ahead: the pinned file is read in blocks, each block as pieces requested together,
//! and the blocks after the one a reader asks for are requested before it needs them. A reader
//! (a validation thread, the sending pass) then finds its next block arriving or arrived, and
//! the connection always has about `AHEAD` blocks in flight, as OpenSSH's own client keeps
//! 64 requests of 32 KiB outstanding; waiting for each answer before asking again took 1.8× as
//! long as `sftp` (BENCHMARKS.md, "SFTP drops").

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, join_all};
use tokio::runtime::Handle;

use super::{OpenFile, SftpSourceError};

/// One block: what one cache entry holds. A multiple of every reader's usual read.
pub(super) const BLOCK: u64 = 256 << 10;
/// One read request asks for at most this much (OpenSSH answers reads up to 255 KiB).
const PIECE: u64 = 64 << 10;
/// Blocks requested beyond the last one asked for.
const AHEAD: u64 = 8;
/// Blocks kept behind the lowest one asked for (another thread may still want them).
const BEHIND: u64 = 4;

/// Why a block did not come.
#[derive(Debug, Clone)]
pub(super) enum ReadFailure {
    /// The file ends before its pinned size: it was changed.
    Shorter,
    /// The server refused the read.
    Failed(SftpSourceError),
    /// The connection broke: worth another connection.
    Link(String),
}

type Block = Shared<BoxFuture<'static, Result<Arc<Pieces>, ReadFailure>>>;

/// A block's bytes as the answers brought them: kept as they came rather than copied into one
/// buffer (a 256 KiB buffer per block made the allocator's arenas, and so the peak memory,
/// grow with the file's size).
#[derive(Debug, Default)]
pub(super) struct Pieces {
    pieces: Vec<Vec<u8>>,
    len: usize,
}

impl Pieces {
    pub fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, mut piece: Vec<u8>, room: usize) {
        piece.truncate(room);
        self.len += piece.len();
        self.pieces.push(piece);
    }

    /// Copies the bytes from `from` on into `out`: how many.
    pub fn copy_to(&self, mut from: usize, out: &mut [u8]) -> usize {
        let mut filled = 0;
        for piece in &self.pieces {
            if filled == out.len() {
                break;
            }
            if from >= piece.len() {
                from -= piece.len();
                continue;
            }
            let n = (piece.len() - from).min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&piece[from..from + n]);
            filled += n;
            from = 0;
        }
        filled
    }
}

/// The blocks requested through one open file.
#[derive(Default)]
pub(super) struct Prefetch {
    file: Option<Arc<OpenFile>>,
    blocks: BTreeMap<u64, Block>,
}

/// Where the pinned file is and how long it is.
pub(super) struct Extent<'a> {
    pub size: u64,
    pub name: &'a str,
    pub user: &'a str,
}

impl Prefetch {
    /// The blocks `first..=last` of `file`, requesting them and the `AHEAD` after them where
    /// not requested yet; blocks far behind are dropped.
    pub fn blocks(
        &mut self,
        file: &Arc<OpenFile>,
        first: u64,
        last: u64,
        extent: &Extent<'_>,
        runtime: &Handle,
    ) -> Vec<Block> {
        if !self.file.as_ref().is_some_and(|f| Arc::ptr_eq(f, file)) {
            // A new connection: nothing requested through the old one is used.
            self.blocks.clear();
            self.file = Some(file.clone());
        }
        let end = extent.size.div_ceil(BLOCK);
        self.blocks = self.blocks.split_off(&first.saturating_sub(BEHIND));
        for index in first..(last + 1 + AHEAD).min(end) {
            self.blocks.entry(index).or_insert_with(|| {
                let start = index * BLOCK;
                let len = BLOCK.min(extent.size - start);
                let read = read_block(
                    file.clone(),
                    start,
                    len,
                    extent.name.to_owned(),
                    extent.user.to_owned(),
                );
                // On the runtime, so it goes on while nobody is waiting for it yet.
                let task = runtime.spawn(read);
                async move {
                    task.await
                        .unwrap_or_else(|e| Err(ReadFailure::Link(format!("read task: {e}"))))
                }
                .boxed()
                .shared()
            });
        }
        (first..=last)
            .filter_map(|i| self.blocks.get(&i).cloned())
            .collect()
    }

    /// Forgets every block (after a failure: they may have failed too).
    pub fn clear(&mut self) {
        self.blocks.clear();
        self.file = None;
    }
}

/// `len` bytes at `start`, as pieces requested together; a short answer is followed by
/// requests for the rest (servers may answer less than asked).
async fn read_block(
    file: Arc<OpenFile>,
    start: u64,
    len: u64,
    name: String,
    user: String,
) -> Result<Arc<Pieces>, ReadFailure> {
    let sftp = &file.connection.sftp;
    let handle = file.handle.as_str();
    let mut block = Pieces::default();
    let pieces = (0..len.div_ceil(PIECE)).map(|i| {
        let at = i * PIECE;
        sftp.read(handle, start + at, PIECE.min(len - at) as u32)
    });
    for answer in join_all(pieces).await {
        match answer {
            // Kept in order while they are whole; after a short one, the rest is asked for
            // again below.
            Ok(data) if (block.len() as u64).is_multiple_of(PIECE) => {
                let asked = PIECE.min(len - block.len() as u64) as usize;
                let short = data.data.len() < asked;
                block.push(data.data, asked);
                if short {
                    break;
                }
            }
            Ok(_) => break,
            Err(e) => return Err(failure(e, &name, &user)),
        }
    }
    while (block.len() as u64) < len {
        let at = start + block.len() as u64;
        let want = PIECE.min(len - block.len() as u64) as u32;
        let data = sftp
            .read(handle, at, want)
            .await
            .map_err(|e| failure(e, &name, &user))?;
        if data.data.is_empty() {
            return Err(ReadFailure::Shorter);
        }
        block.push(data.data, want as usize);
    }
    Ok(Arc::new(block))
}

fn failure(error: russh_sftp::client::error::Error, name: &str, user: &str) -> ReadFailure {
    match error {
        e if super::is_eof(&e) => ReadFailure::Shorter,
        e @ russh_sftp::client::error::Error::Status(_) => {
            ReadFailure::Failed(super::status_error(&e, name, user))
        }
        e => ReadFailure::Link(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_copy_across_their_boundaries_from_any_offset() {
        let mut block = Pieces::default();
        block.push(b"abcd".to_vec(), 4);
        block.push(b"efgh-extra".to_vec(), 4);
        block.push(b"ij".to_vec(), 2);
        assert_eq!(block.len(), 10);
        for from in 0..=10 {
            let mut out = [0u8; 16];
            let n = block.copy_to(from, &mut out);
            assert_eq!(&out[..n], &b"abcdefghij"[from..], "from {from}");
            let mut small = [0u8; 3];
            let n = block.copy_to(from, &mut small);
            assert_eq!(&small[..n], &b"abcdefghij"[from..(from + 3).min(10)]);
        }
    }
}
