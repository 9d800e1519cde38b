//! Reading a source ahead on a second thread that also hashes every byte.
//!
//! The content hash must cost no second pass, and validation must stay within 1.5x the time of
//! bare CSV parsing. SHA-256 alone takes about 80% of the parsing time (even with the CPU's SHA
//! instructions), so hashing in line with parsing cannot meet that; on its own thread it
//! overlaps with parsing. Memory stays bounded: at most a few blocks are in flight.
//!
//! A source already in memory (a ConfigMap or Secret key) is neither read nor copied: the
//! parser reads its bytes in place while the second thread hashes the same bytes.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use bytes::Bytes;

use sha2::{Digest, Sha256};

use super::encoding::SNIFF_LEN;
use super::utf8_prefix::Utf8Prefix;

/// Size of one block read from the source.
const BLOCK: usize = 512 * 1024;
/// Size of one block read on the parser's thread and handed to validation's helper to hash:
/// smaller, since up to four are in memory at once and the helper hashes each in about 70 µs.
const HANDED_OFF_BLOCK: usize = 128 * 1024;
/// Blocks read ahead of the parser.
const AHEAD: usize = 4;

enum Message {
    Data(Vec<u8>),
    /// The source is exhausted; hex SHA-256 of all its bytes.
    End(String),
    Failed(io::Error),
}

/// A `Read` over a source that is read and hashed on a background thread.
pub(crate) struct HashingReader {
    input: Input,
    pos: usize,
    /// Below this position `fill_buf` has nothing to do but hand out the current buffer: the
    /// parser asks for it twice per record, so that case is kept small enough to inline.
    ready_to: usize,
    sha256: Option<String>,
    /// How far the bytes handed out are known to be UTF-8 (each block checked as it arrives).
    utf8: Utf8Prefix,
}

enum Input {
    /// Blocks read (and hashed) by the background thread.
    Blocks {
        blocks: Receiver<Message>,
        /// Consumed blocks go back to the reading thread for reuse.
        recycle: SyncSender<Vec<u8>>,
        current: Vec<u8>,
    },
    /// Read here, on the parser's thread, each block handed to `sink` to be hashed elsewhere
    /// (validation's helper thread, share.rs). `source` is `None` for bytes in memory;
    /// `current` then holds all of them, handed to `sink` a piece ahead of the parser.
    HandedOff {
        source: Option<Box<dyn Read + Send>>,
        sink: HashSink,
        current: Bytes,
        first: bool,
        done: bool,
    },
    /// Bytes in memory, read in place; the background thread only hashes them.
    Memory {
        data: Bytes,
        hash: Option<thread::JoinHandle<Option<String>>>,
        /// Tells the hashing thread to stop when the reader is dropped early.
        stop: Arc<AtomicBool>,
    },
}

impl Drop for HashingReader {
    fn drop(&mut self) {
        if let Input::Memory { stop, .. } = &self.input {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Bytes hashed between two looks at the stop flag.
const HASH_PIECE: usize = 1 << 20;

/// Takes each block a [`HashingReader::handing_off`] reads, in order, to be hashed elsewhere;
/// the flag says the block was read from a stream (rather than being part of bytes in memory).
pub(crate) type HashSink = Box<dyn FnMut(Bytes, bool) + Send>;

impl HashingReader {
    /// Reads `source`: in place when its bytes are in memory, else on a background thread.
    pub fn of(source: &dyn super::CsvSource) -> io::Result<Self> {
        match source.bytes() {
            Some(data) => Self::over_bytes(data),
            None => Self::spawn(source.open()?),
        }
    }

    /// Reads `source` on the caller's thread and gives every block to `sink`, in order, for
    /// hashing elsewhere: no thread of its own, and no copy of bytes already in memory.
    /// [`HashingReader::sha256`] stays `None`; the sink's owner has the hash.
    pub fn handing_off(source: &dyn super::CsvSource, sink: HashSink) -> io::Result<Self> {
        Ok(match source.bytes() {
            Some(data) => Self::handing_off_input(None, data, sink),
            None => Self::handing_off_stream(source.open()?, sink),
        })
    }

    /// [`HashingReader::handing_off`] of a stream already opened.
    pub fn handing_off_stream(source: Box<dyn Read + Send>, sink: HashSink) -> Self {
        Self::handing_off_input(Some(source), Bytes::new(), sink)
    }

    fn handing_off_input(
        source: Option<Box<dyn Read + Send>>,
        current: Bytes,
        sink: HashSink,
    ) -> Self {
        HashingReader {
            input: Input::HandedOff {
                done: source.is_none(),
                source,
                sink,
                current,
                first: true,
            },
            pos: 0,
            ready_to: 0,
            sha256: None,
            utf8: Utf8Prefix::default(),
        }
    }

    /// Hashes `data` on a new thread and hands out the same bytes without copying them.
    pub fn over_bytes(data: Bytes) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (bytes, stopped) = (data.clone(), stop.clone());
        let hash = thread::Builder::new()
            .name("hrdata-hash".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for piece in bytes.chunks(HASH_PIECE) {
                    if stopped.load(Ordering::Relaxed) {
                        return None;
                    }
                    hasher.update(piece);
                }
                Some(hex::encode(hasher.finalize()))
            })?;
        Ok(HashingReader {
            input: Input::Memory {
                data,
                hash: Some(hash),
                stop,
            },
            pos: 0,
            ready_to: 0,
            sha256: None,
            utf8: Utf8Prefix::default(),
        })
    }

    /// Starts reading `source` on a new thread. The thread ends at the end of the source, on an
    /// error, or soon after this reader is dropped.
    pub fn spawn(mut source: Box<dyn Read + Send>) -> io::Result<Self> {
        let (tx, blocks) = sync_channel(AHEAD);
        let (recycle, recycled) = sync_channel::<Vec<u8>>(AHEAD + 2);
        thread::Builder::new()
            .name("hrdata-read".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                let mut first = true;
                loop {
                    let mut buf: Vec<u8> = recycled.try_recv().unwrap_or_default();
                    buf.resize(BLOCK, 0);
                    // The first block holds at least the bytes needed to recognise the encoding.
                    let want = if first { SNIFF_LEN } else { 1 };
                    first = false;
                    let message = match read_at_least(&mut source, &mut buf, want) {
                        Ok(0) => Message::End(hex::encode(hasher.finalize_reset())),
                        Ok(n) => {
                            buf.truncate(n);
                            hasher.update(&buf);
                            Message::Data(buf)
                        }
                        Err(e) => Message::Failed(e),
                    };
                    let last = !matches!(message, Message::Data(_));
                    // A send error means the parser is gone: nothing left to do.
                    if tx.send(message).is_err() || last {
                        return;
                    }
                }
            })?;
        Ok(HashingReader {
            input: Input::Blocks {
                blocks,
                recycle,
                current: Vec::new(),
            },
            pos: 0,
            ready_to: 0,
            sha256: None,
            utf8: Utf8Prefix::default(),
        })
    }

    /// Bytes from the start of the source known to be UTF-8, of those handed out so far.
    pub fn utf8_valid_to(&self) -> u64 {
        self.utf8.valid_to()
    }

    /// Hex SHA-256 of the whole source, once `read` has returned 0.
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }
}

/// Looks at the pieces of `data` (bytes in memory) up to one piece past `pos` that were not
/// looked at yet, in order: each is checked for UTF-8 and given to `hand`.
fn look_ahead(utf8: &mut Utf8Prefix, data: &Bytes, pos: usize, mut hand: impl FnMut(Bytes)) {
    let want = (pos + HASH_PIECE).min(data.len());
    // Every byte before `fed` has been looked at (and only bytes of `data` are fed here).
    while (utf8.fed() as usize) < want {
        let at = utf8.fed() as usize;
        let end = (at + HASH_PIECE).min(data.len());
        utf8.feed(&data[at..end]);
        hand(data.slice(at..end));
    }
}

/// Positions in `data` (bytes in memory, looked ahead at by [`look_ahead`]) below which no
/// more looking ahead is needed: until the parser is within a piece of the last byte looked at.
fn looked_ahead_to(utf8: &Utf8Prefix, data: &Bytes) -> usize {
    let fed = utf8.fed() as usize;
    if fed >= data.len() {
        data.len()
    } else {
        (fed + 1).saturating_sub(HASH_PIECE)
    }
}

/// Reads until `buf` holds at least `want` bytes or the source ends; returns the count.
fn read_at_least(source: &mut dyn Read, buf: &mut [u8], want: usize) -> io::Result<usize> {
    let mut n = 0;
    while n < want.min(buf.len()) {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl HashingReader {
    /// The buffer `pos` is in.
    #[inline]
    fn current(&self) -> &[u8] {
        match &self.input {
            Input::Blocks { current, .. } => current,
            Input::HandedOff { current, .. } => current,
            Input::Memory { data, .. } => data,
        }
    }

    /// [`BufRead::fill_buf`] at the end of a buffer, or where bytes in memory must be looked
    /// ahead at; sets `ready_to`.
    #[inline(never)]
    fn refill(&mut self) -> io::Result<()> {
        let stopped = || io::Error::other("the reading thread stopped unexpectedly");
        match &mut self.input {
            Input::Blocks {
                blocks,
                recycle,
                current,
            } => {
                while self.pos == current.len() {
                    if self.sha256.is_some() {
                        break;
                    }
                    match blocks.recv() {
                        Ok(Message::Data(block)) => {
                            self.utf8.feed(&block);
                            let used = std::mem::replace(current, block);
                            // If the thread has enough buffers already, this one is dropped.
                            let _ = recycle.try_send(used);
                            self.pos = 0;
                        }
                        Ok(Message::End(hash)) => self.sha256 = Some(hash),
                        Ok(Message::Failed(e)) => return Err(e),
                        Err(_) => return Err(stopped()),
                    }
                }
                self.ready_to = current.len();
            }
            Input::HandedOff {
                source,
                sink,
                current,
                first,
                done,
            } => {
                if source.is_none() {
                    // Bytes in memory go to the hasher a piece ahead of the parser, not all at
                    // once: the helper then hashes and checks batches in turn, instead of
                    // hashing first while the batches checked here wait for it to merge (one
                    // record buffer each: hundreds of megabytes for 100 MB).
                    look_ahead(&mut self.utf8, current, self.pos, |piece| {
                        sink(piece, false)
                    });
                }
                while self.pos == current.len() && !*done {
                    let Some(source) = source else { break };
                    // The block before, once hashed, is nobody's but ours: its buffer is reused
                    // (a new one costs page faults and zeroing on every block).
                    let mut buf = match std::mem::take(current).try_into_mut() {
                        Ok(used) => Vec::from(used),
                        Err(_) => Vec::new(),
                    };
                    buf.resize(HANDED_OFF_BLOCK, 0);
                    // The first block holds at least the bytes needed to recognise the encoding.
                    let want = if std::mem::take(first) { SNIFF_LEN } else { 1 };
                    let n = read_at_least(source, &mut buf, want)?;
                    if n == 0 {
                        *done = true;
                        break;
                    }
                    buf.truncate(n);
                    self.utf8.feed(&buf);
                    *current = Bytes::from(buf);
                    sink(current.clone(), true);
                    self.pos = 0;
                }
                self.ready_to = match source {
                    Some(_) => current.len(),
                    None => looked_ahead_to(&self.utf8, current),
                };
            }
            Input::Memory { data, hash, .. } => {
                look_ahead(&mut self.utf8, data, self.pos, |_| {});
                if self.pos == data.len()
                    && let Some(handle) = hash.take()
                {
                    self.sha256 = Some(handle.join().ok().flatten().ok_or_else(stopped)?);
                }
                self.ready_to = looked_ahead_to(&self.utf8, data);
            }
        }
        Ok(())
    }
}

impl BufRead for HashingReader {
    /// The rest of the current block; the first block holds at least
    /// [`SNIFF_LEN`] bytes unless the source is shorter.
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.ready_to {
            self.refill()?;
        }
        Ok(self.current().get(self.pos..).unwrap_or_default())
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.current().len());
    }
}

impl Read for HashingReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

/// `Read::read` of a reader whose bytes are all in its `BufRead` buffer: a copy out of it.
pub(crate) fn read_buffered(reader: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let rest = reader.fill_buf()?;
    let n = rest.len().min(out.len());
    out[..n].copy_from_slice(&rest[..n]);
    reader.consume(n);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_everything_and_hashes_it() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = HashingReader::spawn(Box::new(io::Cursor::new(data.clone()))).unwrap();
        assert_eq!(r.sha256(), None);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
        assert_eq!(
            r.sha256(),
            Some(hex::encode(Sha256::digest(&data)).as_str())
        );
    }

    /// Hands out one byte per `read`, like a slow pipe.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(b), Some(out)) => {
                    *out = *b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn first_block_is_long_enough_to_sniff() {
        let data = vec![b'a'; 3 * SNIFF_LEN];
        let mut r = HashingReader::spawn(Box::new(Trickle(data, 0))).unwrap();
        assert!(r.fill_buf().unwrap().len() >= SNIFF_LEN);
        let short = HashingReader::spawn(Box::new(Trickle(b"abc".to_vec(), 0)))
            .unwrap()
            .fill_buf()
            .unwrap()
            .to_vec();
        assert_eq!(short, b"abc");
    }

    #[test]
    fn bytes_in_memory_are_read_in_place_and_hashed() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = HashingReader::over_bytes(Bytes::from(data.clone())).unwrap();
        assert_eq!(
            r.fill_buf().unwrap().len(),
            data.len(),
            "one buffer: no copy"
        );
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
        assert_eq!(
            r.sha256(),
            Some(hex::encode(Sha256::digest(&data)).as_str())
        );
        let mut empty = HashingReader::over_bytes(Bytes::new()).unwrap();
        assert!(empty.fill_buf().unwrap().is_empty());
        assert_eq!(
            empty.sha256(),
            Some(hex::encode(Sha256::digest(b"")).as_str())
        );
        // Dropped before the end: the hashing thread stops on its own.
        drop(HashingReader::over_bytes(Bytes::from(data)).unwrap());
    }

    #[test]
    fn empty_source() {
        for mut r in [
            HashingReader::spawn(Box::new(io::empty())).unwrap(),
            HashingReader::over_bytes(Bytes::new()).unwrap(),
        ] {
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert!(got.is_empty());
            assert_eq!(r.sha256(), Some(hex::encode(Sha256::digest(b"")).as_str()));
        }
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::PermissionDenied, "no"))
        }
    }

    #[test]
    fn errors_pass_through() {
        let mut r = HashingReader::spawn(Box::new(Failing)).unwrap();
        let err = r.read(&mut [0; 10]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let data = vec![b'x'; 10 * BLOCK];
        let mut r = HashingReader::spawn(Box::new(io::Cursor::new(data))).unwrap();
        let mut buf = [0; 10];
        r.read_exact(&mut buf).unwrap();
        drop(r); // must not hang
    }
}
