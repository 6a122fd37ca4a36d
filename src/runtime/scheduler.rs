//! Ready queues and placement.
//!
//! A [`ReadyQueue`] holds the tasks whose dependencies are satisfied, highest priority
//! first and, among equal priorities, in the order they became ready (FIFO, so a program
//! without priorities runs close to its submission order). One queue serves every
//! processor of one kind; today that is the CPU workers. Devices added later get a queue
//! each, and [`place`] picks the queue by estimated finish time.
//!
//! Sleeping: a thread that finds the queue empty registers as a sleeper under the queue
//! lock and waits on the condition variable. `push` notifies one sleeper only when there is
//! one, so a busy pool pays no system call per task. The `len` mirror lets idle threads
//! spin on the queue without taking the lock.

use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;

use super::processor::ProcessorKind;
use crate::sync::{lock, wait, AtomicUsize, Condvar, Mutex};

/// Something with a scheduling priority (higher first).
pub(crate) trait Prioritized {
    fn priority(&self) -> i32;
}

struct Entry<T> {
    priority: i32,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority && self.seq == other.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Max-heap: higher priority first, then the lower sequence number (FIFO).
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

struct Inner<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
    sleepers: usize,
}

/// A priority-ordered queue of ready work that threads can sleep on.
pub(crate) struct ReadyQueue<T> {
    inner: Mutex<Inner<T>>,
    cv: Condvar,
    len: AtomicUsize,
}

impl<T: Prioritized> ReadyQueue<T> {
    pub(crate) fn new() -> Self {
        ReadyQueue {
            inner: Mutex::new(Inner {
                heap: BinaryHeap::new(),
                next_seq: 0,
                sleepers: 0,
            }),
            cv: Condvar::new(),
            len: AtomicUsize::new(0),
        }
    }

    /// Adds a ready item and wakes one sleeper if there is one.
    pub(crate) fn push(&self, item: T) {
        let mut inner = lock(&self.inner);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.heap.push(Entry {
            priority: item.priority(),
            seq,
            item,
        });
        self.len.store(inner.heap.len(), Ordering::Release);
        if inner.sleepers > 0 {
            self.cv.notify_one();
        }
    }

    /// Is there (probably) something to pop? A lock-free hint for spinning.
    pub(crate) fn looks_nonempty(&self) -> bool {
        self.len.load(Ordering::Acquire) > 0
    }

    /// Pops the highest-priority item, if any, without sleeping.
    pub(crate) fn try_pop(&self) -> Option<T> {
        if !self.looks_nonempty() {
            return None;
        }
        let mut inner = lock(&self.inner);
        let item = inner.heap.pop().map(|e| e.item);
        self.len.store(inner.heap.len(), Ordering::Release);
        item
    }

    /// Pops the highest-priority item, sleeping while the queue is empty.
    pub(crate) fn pop_or_sleep(&self) -> T {
        let mut inner = lock(&self.inner);
        loop {
            if let Some(e) = inner.heap.pop() {
                self.len.store(inner.heap.len(), Ordering::Release);
                return e.item;
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
