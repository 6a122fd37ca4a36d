//! Ready queues.
//!
//! A [`ReadyQueue`] holds the tasks whose dependencies are satisfied, highest priority
//! first and, among equal priorities, in the order they became ready (FIFO, so a program
//! without priorities runs close to its submission order). One queue serves every
//! processor of one kind; today that is the CPU workers. Devices added later get a queue
//! each, and the placement policy (`placement.rs`) picks the queue.
//!
//! Sleeping: a thread that finds the queue empty searches for a while, then registers as
//! a sleeper under the queue lock and waits on the condition variable; see
//! [`ReadyQueue`]'s waking protocol, which keeps a busy pool free of system calls. The
//! `len` mirror lets searching threads poll the queue without taking the lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;

use crate::sync::{lock, wait, AtomicBool, AtomicUsize, Condvar, Mutex};

/// Something with a scheduling priority (higher first) and the thread it came from.
pub(crate) trait Prioritized {
    fn priority(&self) -> i32;
    /// The submitting thread's tag (rule 3 of [`ReadyQueue`]).
    fn origin(&self) -> u64;
    /// Is memory short, so that pops should prefer items whose data is at hand?
    fn memory_short() -> bool
    where
        Self: Sized,
    {
        false
    }
    /// Is the item's data at hand (no transfer needed before it can run)? Called under the
    /// queue's lock, while the item is in the queue.
    fn data_at_hand(&self) -> bool {
        true
    }
}

/// Under memory pressure, a pop looks at this many items (highest priority first) for
/// one whose data is at hand before it falls back to the first.
const AT_HAND_WINDOW: usize = 32;

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

    /// The highest-priority item, or, when memory is short, the first of the next
    /// [`AT_HAND_WINDOW`] whose data is at hand (a task that would otherwise wait for its
    /// inputs to come back from a spill file and push others out to make room).
    fn pop(&mut self) -> Option<T>
    where
        T: Prioritized,
    {
        if T::memory_short() {
            if let Some(item) = self.pop_at_hand() {
                return Some(item);
            }
        }
        self.pop_first()
    }

    fn pop_at_hand(&mut self) -> Option<T>
    where
        T: Prioritized,
    {
        let mut seen = 0;
        let mut found = None;
        'scan: for (&priority, items) in self.by_priority.iter().rev() {
            for (i, item) in items.iter().enumerate() {
                if seen == AT_HAND_WINDOW {
                    break 'scan;
                }
                seen += 1;
                if item.data_at_hand() {
                    found = Some((priority, i));
                    break 'scan;
                }
            }
        }
        let (priority, i) = found?;
        let items = self.by_priority.get_mut(&priority).expect("found above");
        let item = items.remove(i);
        if items.is_empty() {
            self.by_priority.remove(&priority);
        }
        self.len -= 1;
        item
    }

    fn pop_first(&mut self) -> Option<T> {
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

    /// The item `pop` would return.
    fn peek(&self) -> Option<&T> {
        self.by_priority.last_key_value()?.1.front()
    }
}

struct Inner<T> {
    ready: Buckets<T>,
    /// Threads asleep in `sleep_pop`.
    sleepers: usize,
    /// Sleepers told to wake that have not woken yet (they will pop, or sleep again).
    notified: usize,
    /// Threads outside the pool running tasks they popped while waiting (rule 3).
    helpers: usize,
}

impl<T> Inner<T> {
    /// Is there a sleeper that nobody is waking and whose core no helper is using?
    fn idle_sleeper(&self) -> bool {
        self.sleepers > self.notified + self.helpers
    }
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
/// 3. A thread outside the pool that waits may pop an item (`try_pop_for_waiter`) only
///    if it submitted that item itself and it is the next to pop, and only while a
///    sleeper is idle: asleep, not being woken, and its core not taken by another such
///    *helper*. (Another thread's task could take a lock the waiting thread holds, and
///    std's locks are not reentrant: run there, it would wait for itself.) The helper then runs on that core, counted in `helpers` until
///    `helper_done`, and rules 1 and 2 wake only idle sleepers: a helper never adds a
///    runner beside the workers the cores already have. `helper_done` wakes an idle
///    sleeper if items are left (`loom_ready_queue_helper_hands_back_its_core` finds the
///    item stranded without it).
///
/// Every wake-up is a ticket in `notified` until a sleeper takes it (spurious wake-ups
/// find none and sleep on), so a sleeper already on its way is not woken twice, nor its
/// core given to a helper.
///
/// `searching` is changed outside the lock only by incrementing it; decrements and the
/// reads that decide a wake-up happen under the lock.
pub(crate) struct ReadyQueue<T> {
    inner: Mutex<Inner<T>>,
    cv: Condvar,
    len: AtomicUsize,
    searching: AtomicUsize,
    /// Mirrors `Inner::idle_sleeper` for waiting threads to poll without the lock.
    idle: AtomicBool,
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
                notified: 0,
                helpers: 0,
            }),
            cv: Condvar::new(),
            len: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
            idle: AtomicBool::new(false),
        }
    }

    /// Adds a ready item; wakes an idle sleeper if there is one and nobody searches
    /// (rule 1).
    pub(crate) fn push(&self, item: T) {
        let mut inner = lock(&self.inner);
        inner.ready.push(item.priority(), item);
        self.len.store(inner.ready.len, Ordering::Release);
        self.wake_if_idle(&mut inner);
    }

    /// Updates the lock-free mirror of `idle_sleeper` (called under the lock).
    fn note_idle(&self, inner: &Inner<T>) {
        self.idle.store(inner.idle_sleeper(), Ordering::Relaxed);
    }

    /// Wakes an idle sleeper, unless a thread searching will find the work anyway.
    fn wake_if_idle(&self, inner: &mut Inner<T>) {
        if inner.idle_sleeper() && self.searching.load(Ordering::SeqCst) == 0 {
            inner.notified += 1;
            self.note_idle(inner);
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
        self.after_pop(&mut inner);
        Some(item)
    }

    /// Rule 2, after any pop: items left, an idle sleeper, nobody searching: wake it.
    fn after_pop(&self, inner: &mut Inner<T>) {
        self.len.store(inner.ready.len, Ordering::Release);
        if !inner.ready.is_empty() {
            self.wake_if_idle(inner);
        }
    }

    /// Is a thread searching for work, or asleep in `sleep_pop` with nobody waking it (a
    /// worker with nothing to run)? A hint, read without the lock.
    #[cfg(feature = "mpi")]
    pub(crate) fn has_idle_thread(&self) -> bool {
        self.idle.load(Ordering::Relaxed) || self.searching.load(Ordering::Relaxed) > 0
    }

    /// Rule 3: a thread outside the pool that waits pops the next item to run it itself,
    /// if it came from `origin` (the waiting thread), in place of an idle sleeper (see the
    /// waking protocol); it must call `helper_done` once it stops running tasks.
    pub(crate) fn try_pop_for_waiter(&self, origin: u64) -> Option<T> {
        if !self.looks_nonempty() || !self.idle.load(Ordering::Relaxed) {
            return None;
        }
        let mut inner = lock(&self.inner);
        if !inner.idle_sleeper() || inner.ready.peek()?.origin() != origin {
            return None;
        }
        let item = inner.ready.pop_first()?;
        inner.helpers += 1;
        self.note_idle(&inner);
        self.after_pop(&mut inner);
        Some(item)
    }

    /// Rule 3: a helper whose task blocks hands its core back with `helper_done`, and
    /// takes it again here when the task runs on (briefly one runner more than cores, as
    /// when a blocked worker comes back; it ends with the task).
    pub(crate) fn helper_resume(&self) {
        let mut inner = lock(&self.inner);
        inner.helpers += 1;
        self.note_idle(&inner);
    }

    /// Rule 3: the helper hands its core back; an idle sleeper is woken if items are left.
    pub(crate) fn helper_done(&self) {
        let mut inner = lock(&self.inner);
        inner.helpers -= 1;
        self.note_idle(&inner);
        if !inner.ready.is_empty() {
            self.wake_if_idle(&mut inner);
        }
    }

    /// Ends a search without an item: pops one, sleeping while the queue is empty.
    pub(crate) fn sleep_pop(&self) -> T {
        let mut inner = lock(&self.inner);
        self.searching.fetch_sub(1, Ordering::SeqCst);
        loop {
            if let Some(item) = inner.ready.pop() {
                self.after_pop(&mut inner);
                return item;
            }
            inner.sleepers += 1;
            self.note_idle(&inner);
            // Each wake-up is a ticket in `notified`; a spurious wake-up finds none and
            // sleeps on, so the count of threads on their way stays exact.
            loop {
                inner = wait(&self.cv, inner);
                if inner.notified > 0 {
                    inner.notified -= 1;
                    break;
                }
            }
            inner.sleepers -= 1;
            self.note_idle(&inner);
        }
    }
}
