//! Latches (a one-shot "done" flag that threads can wait on) and groups (the set of
//! tasks of one `datadeps` region).
//!
//! A thread waits by blocking on the latch's condition variable, registered in `blocked`
//! (a worker first makes sure the pool keeps a worker per core running; see `pool.rs`).
//!
//! Lost wake-ups are excluded by the usual store/load pairing: a waiter increments its
//! counter, issues a `SeqCst` fence, *then* re-checks the flag; `set` stores the flag,
//! issues a `SeqCst` fence, *then* reads the counter. The fences order the two pairs in
//! one total order, so one of the two sides sees the other's write. (Fences rather than
//! `SeqCst` accesses, because loom models fences exactly; the loom models check this.)
//! The counters spare `set` a lock and a system call in the common case where nobody waits.

use std::any::Any;
use std::sync::atomic::Ordering::SeqCst;

use crate::sync::{fence, lock, wait, AtomicBool, AtomicUsize, Condvar, Mutex};

/// A one-shot completion flag.
pub(crate) struct Latch {
    set: AtomicBool,
    blocked: AtomicUsize,
    mutex: Mutex<()>,
    cv: Condvar,
}

impl Latch {
    pub(crate) fn new() -> Self {
        Latch {
            set: AtomicBool::new(false),
            blocked: AtomicUsize::new(0),
            mutex: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// Has the latch been set?
    pub(crate) fn probe(&self) -> bool {
        self.set.load(SeqCst)
    }

    /// Sets the latch and wakes its waiters.
    pub(crate) fn set(&self) {
        self.set.store(true, SeqCst);
        fence(SeqCst);
        if self.blocked.load(SeqCst) > 0 {
            let _guard = lock(&self.mutex);
            self.cv.notify_all();
        }
    }

    /// Blocks the calling (non-worker) thread until the latch is set.
    pub(crate) fn block(&self) {
        self.blocked.fetch_add(1, SeqCst);
        fence(SeqCst);
        let mut guard = lock(&self.mutex);
        while !self.probe() {
            guard = wait(&self.cv, guard);
        }
        drop(guard);
        self.blocked.fetch_sub(1, SeqCst);
    }
}

/// A panic payload caught in a task.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// A region's body is held back (back-pressure) when it has more unfinished tasks than
/// this, until they drop to [`RESUME_BELOW`]. It bounds the memory of a region that
/// submits far faster than its tasks run (each pending task holds its closure and its
/// entries in the data histories), and keeps the working set in cache.
#[cfg(not(loom))]
pub(crate) const THROTTLE_ABOVE: usize = 1 << 14;
/// See [`THROTTLE_ABOVE`].
#[cfg(not(loom))]
pub(crate) const RESUME_BELOW: usize = 1 << 13;
/// Small limits, so the loom model reaches them.
#[cfg(loom)]
pub(crate) const THROTTLE_ABOVE: usize = 2;
#[cfg(loom)]
pub(crate) const RESUME_BELOW: usize = 1;

/// The tasks of one `datadeps` region: a counter of unfinished tasks (plus one for the
/// region's body while it runs), the panics nobody has observed yet, a latch set when
/// the counter reaches zero, and the back-pressure gate of the body.
pub(crate) struct Group {
    pending: AtomicUsize,
    panics: Mutex<Vec<(u64, Payload)>>,
    pub(crate) latch: Latch,
    throttled: AtomicBool,
    gate: Mutex<()>,
    gate_cv: Condvar,
}

impl Group {
    /// A group whose body is still running (the body holds one count).
    pub(crate) fn new() -> Self {
        Group {
            pending: AtomicUsize::new(1),
            panics: Mutex::new(Vec::new()),
            latch: Latch::new(),
            throttled: AtomicBool::new(false),
            gate: Mutex::new(()),
            gate_cv: Condvar::new(),
        }
    }

    /// One more task belongs to the group.
    pub(crate) fn add_task(&self) {
        self.pending.fetch_add(1, SeqCst);
    }

    /// A task (or the body) of the group finished; sets the latch at zero.
    pub(crate) fn done(&self) {
        let before = self.pending.fetch_sub(1, SeqCst);
        if before == 1 {
            self.latch.set();
        } else if before == RESUME_BELOW + 1 {
            fence(SeqCst);
            if self.throttled.load(SeqCst) {
                let _gate = lock(&self.gate);
                self.gate_cv.notify_all();
            }
        }
    }

    /// Does the body have so many unfinished tasks that it should wait?
    #[inline]
    pub(crate) fn over_limit(&self) -> bool {
        self.pending.load(std::sync::atomic::Ordering::Relaxed) > THROTTLE_ABOVE
    }

    /// Blocks the body until at most [`RESUME_BELOW`] of its tasks are unfinished. Only the
    /// body spawns into its group, so the count cannot rise meanwhile. The handshake with
    /// `done` is the latch's: flag, fence, check against decrement, fence, check.
    pub(crate) fn wait_below_resume(&self) {
        let mut gate = lock(&self.gate);
        self.throttled.store(true, SeqCst);
        fence(SeqCst);
        while self.pending.load(SeqCst) > RESUME_BELOW {
            gate = wait(&self.gate_cv, gate);
        }
        self.throttled.store(false, SeqCst);
    }

    /// Records the panic of task `id`.
    pub(crate) fn record_panic(&self, id: u64, payload: Payload) {
        lock(&self.panics).push((id, payload));
    }

    /// Takes the panic of task `id`, if it panicked and nobody took it yet.
    pub(crate) fn take_panic(&self, id: u64) -> Option<Payload> {
        let mut panics = lock(&self.panics);
        let at = panics.iter().position(|(t, _)| *t == id)?;
        Some(panics.remove(at).1)
    }

    /// Takes the first unobserved panic (in the order the tasks panicked).
    pub(crate) fn take_first_panic(&self) -> Option<Payload> {
        let mut panics = lock(&self.panics);
        if panics.is_empty() {
            None
        } else {
            Some(panics.remove(0).1)
        }
    }
}
