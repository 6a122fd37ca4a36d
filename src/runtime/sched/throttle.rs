//! Back-pressure on submission, counted in tasks and in bytes.
//!
//! A program can submit far faster than its tasks run (a loop of small array operations,
//! a region over a million slices). Every unfinished task holds its closure, its entries in
//! the histories and, through its accesses, the data objects it reads and writes: results
//! that nobody else references any more stay alive until the tasks on them have run. So the
//! runtime counts, over all unfinished tasks (submitted, not yet finished):
//! - `tasks`: how many there are;
//! - `bytes`: the size of the distinct data objects they access (an object counts once,
//!   from its first unfinished access to its last; see `DataObject::enqueue`).
//!
//! # Protocol
//! 1. `Runtime::submit`, on a thread that runs no task, calls [`Throttle::over`] at every
//!    32nd task: a few relaxed loads when there is room.
//! 2. Over a limit (and with at least one unfinished task, which guarantees progress),
//!    the submitter blocks in [`Throttle::wait`] until both counts are at most half their
//!    limits: registered in `waiting`, then re-checking, under the lock, sleeping on the
//!    condition variable.
//! 3. Each finished task counts itself off, then reads `waiting`: only when a submitter
//!    waits and the counts are below the resume marks does it take the lock and wake it.
//!    Step 2's increment and check and step 3's are ordered in one total order (see
//!    `order_flag_and_counts`), so one of the two sees the other: no wake-up is lost.
//!
//! Submissions from inside a running task are not held back here: such a task may be
//! submitting continuations that wait for its own data, which could then never drain.
//! They are bounded by their region's own gate (`latch.rs`, `Group`), which is safe there
//! because a region refuses tasks on data its enclosing task holds.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};

#[cfg(loom)]
use crate::sync::fence;
use crate::sync::{lock, wait, AtomicUsize, Condvar, Mutex};

/// Limits on what unfinished tasks may hold before submitters wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmitLimits {
    /// Unfinished tasks (submitted, not finished). Submitters resume at half.
    pub tasks: usize,
    /// Bytes of the distinct data objects that unfinished tasks access. Submitters resume
    /// at half.
    pub bytes: usize,
}

impl Default for SubmitLimits {
    /// 32,768 tasks, and half the machine's memory (8 GiB where it cannot be read).
    fn default() -> Self {
        SubmitLimits {
            tasks: 1 << 15,
            bytes: physical_memory().unwrap_or(16 << 30) / 2,
        }
    }
}

/// The machine's memory in bytes, from `/proc/meminfo` (Linux).
fn physical_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// What unfinished tasks hold now, and how often submitters had to wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// Unfinished tasks.
    pub tasks: usize,
    /// Bytes of the distinct data objects they access.
    pub bytes: usize,
    /// Times a submitter waited for the counts to drop (since the runtime started).
    pub throttled: usize,
}

/// Two counters on a cache line of their own, so that the submitters' increments and the
/// workers' do not bounce one line between the cores.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Counters {
    tasks: AtomicUsize,
    bytes: AtomicUsize,
}

/// The counters and the gate of one runtime. Unfinished tasks are `added - removed` (tasks
/// submitted minus finished; bytes whose first unfinished access was submitted minus those
/// whose last finished): submitters only increment `added`, finishing tasks only `removed`.
#[derive(Debug)]
pub(crate) struct Throttle {
    added: Counters,
    removed: Counters,
    max_tasks: AtomicUsize,
    max_bytes: AtomicUsize,
    /// The host memory limit, if any: the byte limit is never above it.
    memory_cap: AtomicUsize,
    waiting: AtomicUsize,
    throttled: AtomicUsize,
    gate: Mutex<()>,
    cv: Condvar,
}

/// The flag/check pairing of steps 2 and 3 needs one total order over the waiter's
/// increment of `waiting` and its reads of the counters, and the finisher's increment of
/// `removed` and its read of `waiting`. `SeqCst` read-modify-writes and loads give it on
/// every target; loom models `SeqCst` accesses as acquire/release only, so under loom a
/// fence stands between them (as in `latch.rs`).
#[inline]
fn order_flag_and_counts() {
    #[cfg(loom)]
    fence(SeqCst);
}

impl Throttle {
    pub(crate) fn new(limits: SubmitLimits) -> Self {
        Throttle {
            added: Counters::default(),
            removed: Counters::default(),
            max_tasks: AtomicUsize::new(limits.tasks.max(1)),
            max_bytes: AtomicUsize::new(limits.bytes.max(1)),
            memory_cap: AtomicUsize::new(usize::MAX),
            waiting: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
            gate: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn limits(&self) -> SubmitLimits {
        SubmitLimits {
            tasks: self.max_tasks.load(Relaxed),
            bytes: self.max_bytes.load(Relaxed),
        }
    }

    /// New limits; waiting submitters re-check against them.
    pub(crate) fn set_limits(&self, limits: SubmitLimits) {
        self.max_tasks.store(limits.tasks.max(1), SeqCst);
        self.max_bytes.store(limits.bytes.max(1), SeqCst);
        let _gate = lock(&self.gate);
        self.cv.notify_all();
    }

    /// Caps the byte limit at a memory budget (`None`: no cap); waiting submitters re-check.
    pub(crate) fn set_memory_cap(&self, cap: Option<usize>) {
        self.memory_cap.store(cap.unwrap_or(usize::MAX).max(1), SeqCst);
        let _gate = lock(&self.gate);
        self.cv.notify_all();
    }

    /// The byte limit in force: the set one, capped by the memory budget.
    fn max_bytes(&self, order: std::sync::atomic::Ordering) -> usize {
        self.max_bytes.load(order).min(self.memory_cap.load(order))
    }

    /// Unfinished tasks and their bytes. `removed` is read first: it never exceeds
    /// `added` (a task finishes after its submission counted it), so neither difference
    /// can come out negative from reads that straddle a submission.
    fn counts(&self) -> (usize, usize) {
        let (tasks_out, bytes_out) = (self.removed.tasks.load(SeqCst), self.removed.bytes.load(SeqCst));
        let (tasks_in, bytes_in) = (self.added.tasks.load(SeqCst), self.added.bytes.load(SeqCst));
        (tasks_in.wrapping_sub(tasks_out), bytes_in.wrapping_sub(bytes_out))
    }

    pub(crate) fn in_flight(&self) -> InFlight {
        let (tasks, bytes) = self.counts();
        InFlight {
            tasks,
            bytes,
            throttled: self.throttled.load(Relaxed),
        }
    }

    /// Step 1: should the submitter wait?
    #[inline]
    pub(crate) fn over(&self) -> bool {
        let tasks_out = self.removed.tasks.load(Relaxed);
        let tasks = self.added.tasks.load(Relaxed).wrapping_sub(tasks_out);
        tasks > 0 && (tasks > self.max_tasks.load(Relaxed) || self.over_bytes())
    }

    fn over_bytes(&self) -> bool {
        let bytes_out = self.removed.bytes.load(Relaxed);
        self.added.bytes.load(Relaxed).wrapping_sub(bytes_out) > self.max_bytes(Relaxed)
    }

    /// Are both counts at most half their limits (or is nothing left to wait for)?
    fn below_resume(&self) -> bool {
        let (tasks, bytes) = self.counts();
        tasks == 0 || (tasks <= self.max_tasks.load(SeqCst) / 2 && bytes <= self.max_bytes(SeqCst) / 2)
    }

    /// A task was submitted; `bytes`: the sizes of the objects it is the first unfinished
    /// task to access.
    #[inline]
    pub(crate) fn add(&self, bytes: usize) {
        if bytes > 0 {
            self.added.bytes.fetch_add(bytes, SeqCst);
        }
        self.added.tasks.fetch_add(1, SeqCst);
    }

    /// Step 3: a task finished; `bytes`: the sizes of the objects it was the last
    /// unfinished task to access.
    #[inline]
    pub(crate) fn done(&self, bytes: usize) {
        if bytes > 0 {
            self.removed.bytes.fetch_add(bytes, SeqCst);
        }
        self.removed.tasks.fetch_add(1, SeqCst);
        order_flag_and_counts();
        if self.waiting.load(SeqCst) > 0 && self.below_resume() {
            let _gate = lock(&self.gate);
            self.cv.notify_all();
        }
    }

    /// Step 2: blocks until both counts are at most half their limits.
    #[cold]
    pub(crate) fn wait(&self) {
        let mut gate = lock(&self.gate);
        self.waiting.fetch_add(1, SeqCst);
        order_flag_and_counts();
        self.throttled.fetch_add(1, Relaxed);
        while !self.below_resume() {
            gate = wait(&self.cv, gate);
        }
        self.waiting.fetch_sub(1, SeqCst);
    }
}
