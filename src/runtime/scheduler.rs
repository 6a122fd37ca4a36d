//! Ready queues and placement.
//!
//! A [`ReadyQueue`] holds the tasks whose dependencies are satisfied, highest priority
//! first and, among equal priorities, in the order they became ready (FIFO, so a program
//! without priorities runs close to its submission order). One queue serves every
//! processor of one kind; today that is the CPU workers. Devices added later get a queue
//! each, and [`place`] picks the queue by estimated finish time.
//!
//! Sleeping: a thread that finds the queue empty searches for a while, then registers as
//! a sleeper under the queue lock and waits on the condition variable; see
//! [`ReadyQueue`]'s waking protocol, which keeps a busy pool free of system calls. The
//! `len` mirror lets searching threads poll the queue without taking the lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;

use super::processor::ProcessorKind;
use crate::sync::{lock, wait, AtomicUsize, Condvar, Mutex};

/// Something with a scheduling priority (higher first).
pub(crate) trait Prioritized {
    fn priority(&self) -> i32;
}

/// Ready items by priority: one FIFO per priority in use. Popping is O(log P) for P
/// priorities in use (a handful: the kernels of one algorithm) and touches one deque
/// end, so a backlog of a million ready tasks costs no more per pop than ten do (a binary
/// heap of them would sift through twenty cache-missing levels).
struct Buckets<T> {
    by_priority: BTreeMap<i32, VecDeque<T>>,
    len: usize,
}

impl<T> Buckets<T> {
    fn push(&mut self, priority: i32, item: T) {
        self.by_priority.entry(priority).or_default().push_back(item);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<T> {
        let mut highest = self.by_priority.last_entry()?;
        let item = highest.get_mut().pop_front();
        if highest.get().is_empty() {
            highest.remove();
        }
        self.len -= 1;
        item
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

struct Inner<T> {
    ready: Buckets<T>,
    sleepers: usize,
}

/// A priority-ordered queue of ready work that threads can sleep on.
///
/// # Waking protocol
/// A thread looking for work first *searches*: it announces itself in `searching`, polls
/// with [`ReadyQueue::try_pop_searching`] for a while, and only then sleeps with
/// [`ReadyQueue::sleep_pop`]. So:
/// 1. `push` wakes a sleeper only when nobody is searching: a searcher will find the item
///    (it re-checks the queue under the lock before it sleeps), and waking a second thread
///    would cost a system call per task for nothing.
/// 2. A thread that pops an item and sees more left, with sleepers and no searcher, wakes
///    one sleeper: work that piled up while someone searched still spreads over every
///    thread (`loom_ready_queue_no_lost_wakeup` finds the sleeper stranded without it).
///
/// `searching` is changed outside the lock only by incrementing it; decrements and the
/// reads that decide a wake-up happen under the lock.
pub(crate) struct ReadyQueue<T> {
    inner: Mutex<Inner<T>>,
    cv: Condvar,
    len: AtomicUsize,
    searching: AtomicUsize,
}

impl<T: Prioritized> ReadyQueue<T> {
    pub(crate) fn new() -> Self {
        ReadyQueue {
            inner: Mutex::new(Inner {
                ready: Buckets {
                    by_priority: BTreeMap::new(),
                    len: 0,
                },
                sleepers: 0,
            }),
            cv: Condvar::new(),
            len: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
        }
    }

    /// Adds a ready item; wakes a sleeper if there is one and nobody searches (rule 1).
    pub(crate) fn push(&self, item: T) {
        let mut inner = lock(&self.inner);
        inner.ready.push(item.priority(), item);
        self.len.store(inner.ready.len, Ordering::Release);
        if inner.sleepers > 0 && self.searching.load(Ordering::SeqCst) == 0 {
            self.cv.notify_one();
        }
    }

    /// Is there (probably) something to pop? A lock-free hint for spinning.
    pub(crate) fn looks_nonempty(&self) -> bool {
        self.len.load(Ordering::Acquire) > 0
    }

    /// Pops the highest-priority item, if any, without sleeping or searching.
    #[cfg(loom)]
    pub(crate) fn try_pop(&self) -> Option<T> {
        if !self.looks_nonempty() {
            return None;
        }
        let mut inner = lock(&self.inner);
        let item = inner.ready.pop();
        self.len.store(inner.ready.len, Ordering::Release);
        item
    }

    /// Announces a search: the caller will poll with `try_pop_searching` and end the
    /// search either by finding an item or with `sleep_pop`.
    pub(crate) fn start_search(&self) {
        self.searching.fetch_add(1, Ordering::SeqCst);
    }

    /// During a search: pops an item if there is one, which ends the search (rule 2).
    pub(crate) fn try_pop_searching(&self) -> Option<T> {
        if !self.looks_nonempty() {
            return None;
        }
        let mut inner = lock(&self.inner);
        let item = inner.ready.pop()?;
        self.searching.fetch_sub(1, Ordering::SeqCst);
        self.after_pop(&inner);
        Some(item)
    }

    /// Rule 2, after any pop: items left, sleepers, nobody searching: wake one sleeper.
    fn after_pop(&self, inner: &Inner<T>) {
        self.len.store(inner.ready.len, Ordering::Release);
        if !inner.ready.is_empty() && inner.sleepers > 0 && self.searching.load(Ordering::SeqCst) == 0 {
            self.cv.notify_one();
        }
    }

    /// Ends a search without an item: pops one, sleeping while the queue is empty.
    pub(crate) fn sleep_pop(&self) -> T {
        let mut inner = lock(&self.inner);
        self.searching.fetch_sub(1, Ordering::SeqCst);
        loop {
            if let Some(item) = inner.ready.pop() {
                self.after_pop(&inner);
                return item;
            }
            inner.sleepers += 1;
            inner = wait(&self.cv, inner);
            inner.sleepers -= 1;
        }
    }
}

/// Chooses the kind of processor a task runs on. With CPU workers only, every task goes
/// to the CPU queue; with devices this becomes the estimated-finish-time choice of
/// DESIGN §2.3 (kernel time per processor kind plus the transfer time of missing inputs).
pub(crate) fn place(kinds_supported: &[ProcessorKind]) -> ProcessorKind {
    debug_assert!(kinds_supported.contains(&ProcessorKind::Cpu));
    ProcessorKind::Cpu
}
