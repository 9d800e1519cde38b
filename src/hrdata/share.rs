//! Sharing one validation of a stream (an object in a store, read once from its start) between
//! two threads. Sources that can be read at any offset are validated in segments instead
//! (segmented.rs), which costs less CPU: there each thread checks the records it parsed.
//!
//! The work is: read the source, hash every byte (SHA-256 is sequential, so one thread), parse
//! the records (sequential too: where a record starts depends on the quotes before it) and check
//! them (any order). The parser's thread reads and parses; one helper thread hashes every block
//! the parser read, in order, and checks batches of parsed records when it has no block to
//! hash. The parser queues every batch; when more than [`QUEUED`] wait, it checks the oldest
//! itself, so both threads stay busy whichever part is slower on the CPU at hand.
//! (Three threads, one each for reading and hashing, parsing and checking, left one waiting for
//! the others on two cores.) Checked batches are merged in order on the parser's thread.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::parse::Record;
use super::record::{RecordChecker, Verdict};
use super::stream::encoding_error;
use super::{CsvError, RecordError};

/// Batches waiting for the helper before the parser checks the oldest itself. Every batch in
/// flight holds its records' buffers (about 200 KB), and memory must not grow with the source:
/// validation of 1 GiB peaks within 5 % of 10 MiB (BENCHMARKS.md); more bought no speed.
const QUEUED: usize = 4;
/// Blocks read from a stream and waiting to be hashed before the reader waits: memory stays
/// bounded if hashing is the slower part. (Bytes in memory are queued a piece ahead of the
/// parser.)
const BLOCKS_QUEUED: usize = 2;

/// What a batch is checked with; shared by both threads.
pub(crate) struct CheckContext {
    pub name: String,
    pub checker: RecordChecker,
    pub max_errors: usize,
}

/// Parsed records to check: `records[..len]`, the first numbered `first_number`.
pub(crate) struct Batch {
    pub seq: u64,
    pub first_number: u64,
    pub records: Vec<Record>,
    pub len: usize,
    pub context: Arc<CheckContext>,
}

/// A checked batch: a verdict per record, its first `max_errors` problems, and the records'
/// buffers for reuse. `fatal` is an encoding error that ends validation at `verdicts.len()`.
pub(crate) struct Checked {
    pub seq: u64,
    pub records: Vec<Record>,
    pub verdicts: Vec<Verdict>,
    pub errors: Vec<RecordError>,
    pub error_count: u64,
    pub fatal: Option<CsvError>,
}

/// Checks every record of `batch`.
pub(crate) fn check_batch(batch: Batch) -> Checked {
    let Batch {
        seq,
        first_number,
        records,
        len,
        context,
    } = batch;
    let CheckContext {
        name,
        checker,
        max_errors,
    } = &*context;
    let mut out = Checked {
        seq,
        verdicts: Vec::with_capacity(len),
        errors: Vec::new(),
        error_count: 0,
        fatal: None,
        records: Vec::new(),
    };
    for (number, record) in (first_number..).zip(&records[..len]) {
        let (errors, error_count) = (&mut out.errors, &mut out.error_count);
        let verdict = checker.check(record, |problem| {
            *error_count += 1;
            if errors.len() < *max_errors {
                errors.push(checker.record_error(problem, number, record.line(), true));
            }
        });
        match verdict {
            Ok(verdict) => out.verdicts.push(verdict),
            Err(e) => {
                out.fatal = Some(encoding_error(name, record.line(), e));
                break;
            }
        }
    }
    out.records = records;
    out
}

#[derive(Default)]
struct Work {
    hash: VecDeque<Bytes>,
    /// How many of `hash` were read from a stream (held in memory only until hashed).
    read_blocks: usize,
    check: VecDeque<Batch>,
    /// No more work will come: the helper finishes what is queued and returns.
    closed: bool,
    /// Validation ended early: the helper returns at once.
    aborted: bool,
}

/// The helper thread's work, queued by the parser's thread.
pub(crate) struct WorkQueue {
    work: Mutex<Work>,
    /// Work was queued, or the queue closed.
    ready: Condvar,
    /// A block read from a stream was hashed, or the helper stopped.
    space: Condvar,
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the next block of the source for hashing; `read` says it was read from a
    /// stream, and then waits while [`BLOCKS_QUEUED`] such blocks are queued already.
    pub fn hash(&self, block: Bytes, read: bool) {
        let mut work = self.lock();
        while read && work.read_blocks >= BLOCKS_QUEUED && !work.aborted {
            work = self
                .space
                .wait(work)
                .unwrap_or_else(PoisonError::into_inner);
        }
        work.hash.push_back(block);
        work.read_blocks += usize::from(read);
        drop(work);
        self.ready.notify_one();
    }

    /// Queues `batch` for the helper. When enough batches wait already, the oldest of them is
    /// given back for the caller to check instead: batches are then checked nearly in order,
    /// so few checked ones wait to be merged (each holds a batch of record buffers).
    pub fn offer(&self, batch: Batch) -> Result<(), Batch> {
        let mut work = self.lock();
        work.check.push_back(batch);
        let oldest = if work.check.len() > QUEUED {
            work.check.pop_front()
        } else {
            None
        };
        drop(work);
        self.ready.notify_one();
        oldest.map_or(Ok(()), Err)
    }

    /// No more blocks or batches: the helper finishes the queued ones.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    fn abort(&self) {
        let mut work = self.lock();
        work.aborted = true;
        work.hash.clear();
        work.read_blocks = 0;
        work.check.clear();
        drop(work);
        self.ready.notify_one();
        self.space.notify_one();
    }
}

enum Job {
    Hash(Bytes),
    Check(Batch),
    Done,
}

/// The helper thread; stopped and joined when dropped.
pub(crate) struct Helper {
    pub queue: Arc<WorkQueue>,
    thread: Option<std::thread::JoinHandle<Option<String>>>,
}

impl Helper {
    /// Starts the helper; checked batches are sent to `checked`.
    pub fn start(checked: Sender<Checked>) -> std::io::Result<Helper> {
        let queue = Arc::new(WorkQueue {
            work: Mutex::new(Work::default()),
            ready: Condvar::new(),
            space: Condvar::new(),
        });
        let work = queue.clone();
        // Named like the read-ahead threads (hashing.rs): the fuzz target waits for those.
        let thread = std::thread::Builder::new()
            .name("hrdata-hash".into())
            .spawn(move || help(&work, &checked))?;
        Ok(Helper {
            queue,
            thread: Some(thread),
        })
    }

    /// Waits for the helper to finish the queued work ([`WorkQueue::close`] first); the hex
    /// SHA-256 of every block queued.
    pub fn finish(mut self) -> Option<String> {
        self.queue.close();
        self.thread.take()?.join().ok().flatten()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.queue.abort();
            let _ = thread.join();
        }
    }
}

/// Marks the queue aborted when the helper returns or panics, so that a reader waiting for
/// room in the queue does not wait forever.
struct Stopped<'q>(&'q WorkQueue);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn help(queue: &WorkQueue, checked: &Sender<Checked>) -> Option<String> {
    let _stopped = Stopped(queue);
    let mut hasher = Sha256::new();
    loop {
        let job = {
            let mut work = queue.lock();
            loop {
                // Hashing first: it is the one job only this thread can do, so it must not be
                // left for the end.
                if work.aborted {
                    break Job::Done;
                } else if let Some(block) = work.hash.pop_front() {
                    if work.read_blocks > 0 {
                        work.read_blocks -= 1;
                        queue.space.notify_one();
                    }
                    break Job::Hash(block);
                } else if let Some(batch) = work.check.pop_front() {
                    break Job::Check(batch);
                } else if work.closed {
                    break Job::Done;
                }
                work = queue
                    .ready
                    .wait(work)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        match job {
            Job::Hash(block) => hasher.update(&block),
            // A send error means the parser's thread has stopped: nothing left to do.
            Job::Check(batch) => {
                if checked.send(check_batch(batch)).is_err() {
                    return None;
                }
            }
            Job::Done => {
                return (!queue.lock().aborted).then(|| hex::encode(hasher.finalize()));
            }
        }
    }
}
