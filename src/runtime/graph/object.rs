//! Data objects: what the tracker orders accesses to, a tile or a bound user array.
//!
//! # Invariants
//! 1. `id` is unique in the process and never reused; `version` counts the completed
//!    writes (it grows by one each time a task that wrote the object releases it).
//! 2. Every access to the elements happens inside a task that declared it, between the
//!    `acquire` and the `release` of that access, so the tracker orders all of them.
//! 3. `queued` counts the accesses of unfinished tasks (for byte-counted back-pressure).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::footprint::Footprint;
use super::history::{Entry, History};
use super::mode::Mode;
use super::task::{Status, TaskRef};
use crate::error::Result;
use crate::runtime::distributed::{self, Tracked};
use crate::runtime::memory::evict::{self, Resident};
use crate::runtime::memory::mover::SPACES;
use crate::runtime::memory::replica::{Contents, HostStorage, Replicas, State};
use crate::runtime::memory::MemorySpace;
use crate::sync::{lock, AtomicUsize, Mutex};

/// A piece of data the tracker orders accesses to, with its replicas per memory space.
///
/// Field order (`repr(C)`) by who touches what, so that a task costs few cache lines:
/// first what submitters and finishing tasks both touch (the `Arc`'s counts before it,
/// `queued`, `bytes`), then the history (submitters), then what the running task's
/// acquire and release touch (`version`, the replicas' states, pins and pointers: in a
/// chain of tasks on one object, those stay in the cache of the worker that runs them).
#[repr(C)]
pub struct DataObject {
    queued: AtomicUsize,
    bytes: usize,
    id: u64,
    history: Mutex<History>,
    version: AtomicU64,
    /// Set by the task holding the object's only access to write: its release discards
    /// the object's contents on this process instead (`discard_on_release`). Next to
    /// `version`, which every write's release touches anyway.
    discard: std::sync::atomic::AtomicBool,
    replicas: Replicas,
    /// Placement's forecast (`sched/placement.rs`): the replica slots the object will be
    /// valid in once the tasks submitted so far have run (low 8 bits) and when its last
    /// writer among them is expected to finish (µs since placement's epoch, the rest);
    /// 0 before any forecast.
    plan: AtomicU64,
    /// What every rank knows of it under MPI (`distributed/tracker.rs`); `None`: not
    /// tracked (no MPI, a bound user array, or made inside a task: this rank's own).
    dist: std::sync::Mutex<Option<Tracked>>,
}

impl std::fmt::Debug for DataObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataObject")
            .field("id", &self.id)
            .field("version", &self.version())
            .field("replicas", &self.replicas)
            .finish()
    }
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl DataObject {
    /// An object with `rows` rows (a 1-D object: its length), which sizes the history's
    /// row index, whose only replica is `bytes` bytes at `host` in host memory.
    pub(crate) fn on_host(rows: usize, host: *mut u8, bytes: usize, storage: HostStorage) -> Self {
        DataObject {
            id: next_id(),
            version: AtomicU64::new(0),
            history: Mutex::new(History::new(rows)),
            replicas: Replicas::on_host(host, bytes, storage, &SPACES),
            queued: AtomicUsize::new(0),
            bytes,
            plan: AtomicU64::new(0),
            dist: std::sync::Mutex::new(None),
            discard: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A runtime-owned object of `rows` rows whose contents are all zero bits and whose
    /// host storage (`layout`) is allocated at its first access, listed for eviction.
    pub(crate) fn unmaterialized(rows: usize, layout: std::alloc::Layout, recycle: bool) -> Arc<Self> {
        Self::listed(DataObject {
            id: next_id(),
            version: AtomicU64::new(0),
            history: Mutex::new(History::new(rows)),
            replicas: Replicas::unmaterialized(layout, recycle, &SPACES),
            queued: AtomicUsize::new(0),
            bytes: layout.size(),
            plan: AtomicU64::new(0),
            dist: std::sync::Mutex::new(None),
            discard: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A runtime-owned object whose only replica is `host`, allocated with `layout` by
    /// `memory::recycle`, listed for eviction.
    pub(crate) fn owned(rows: usize, host: *mut u8, layout: std::alloc::Layout, recycle: bool) -> Arc<Self> {
        Self::listed(Self::on_host(
            rows,
            host,
            layout.size(),
            HostStorage::Owned { layout, recycle },
        ))
    }

    /// `object` (runtime-owned), listed for eviction until dropped, and tracked across
    /// ranks when made by the program itself under MPI (`distributed/tracker.rs`).
    fn listed(mut object: DataObject) -> Arc<Self> {
        *object.dist.get_mut().unwrap_or_else(|e| e.into_inner()) = distributed::track_new();
        let object = Arc::new(object);
        let weak: std::sync::Weak<dyn Resident> = Arc::downgrade(&object) as _;
        evict::register(object.id, weak);
        object
    }

    /// The object's id: unique in the process, never reused.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The distributed tracker's state of the object (`None`: this rank's own).
    pub(crate) fn tracked(&self) -> std::sync::MutexGuard<'_, Option<Tracked>> {
        self.dist.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Under MPI, makes `rank` the object's home, where its contents exist (a tile of a
    /// distributed array, before any task has used it).
    pub(crate) fn set_home(&self, rank: usize) {
        if let Some(t) = self.tracked().as_mut() {
            *t = Tracked::at_home(t.id, rank);
        }
    }

    /// Completed writes so far.
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The size of the contents in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Is the replica in `space` valid?
    pub(crate) fn is_valid_in(&self, space: MemorySpace) -> bool {
        self.replicas.state(space.index()) != State::Invalid
    }

    /// Is it runtime-owned (counted against budgets, evictable, listed for eviction)?
    pub(crate) fn is_owned(&self) -> bool {
        self.replicas.is_owned()
    }

    /// Does the host hold its contents (or will a first access make them from nothing)?
    pub(crate) fn host_ready(&self) -> bool {
        self.replicas.host_ready()
    }

    /// The base pointer of the replica in `space` for one access, pinned until
    /// [`DataObject::release`] (see `memory/replica.rs`).
    pub(crate) fn acquire(&self, space: MemorySpace, contents: Contents) -> Result<NonNull<u8>> {
        self.replicas.acquire(space.index(), contents)
    }

    /// Starts making the replica in `space` valid (for tests of the protocol).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn prefetch(&self, space: MemorySpace) -> Result<()> {
        self.replicas.prefetch(space.index())
    }

    /// The access that acquired `space` with `mode` is over; a write makes a new version.
    pub(crate) fn release(&self, space: MemorySpace, mode: Mode) {
        if mode.writes() {
            self.version.fetch_add(1, Ordering::AcqRel);
            // A plain load first: every write's release passes here, and the flag is set
            // (by the releasing task itself, on this thread) only under MPI.
            if self.discard.load(Ordering::Relaxed) && self.discard.swap(false, Ordering::AcqRel) {
                self.replicas.discard(space.index());
                return;
            }
        }
        self.replicas.release(space.index(), mode.writes());
    }

    /// Called by a task that writes the whole object, while it runs: when it releases the
    /// object, this process's copies are freed and left invalid rather than marked current
    /// (under MPI: another rank wrote a newer version; `distributed/route.rs`).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn discard_on_release(&self) {
        self.discard.store(true, Ordering::Release);
    }

    /// Placement's forecast: the replica slots (a bit each) the object will be valid in
    /// after the tasks submitted so far, and when (seconds since placement's epoch). Before
    /// any forecast, where it is valid now (every slot if it is unmaterialized), at once.
    pub(crate) fn plan(&self) -> (u8, f64) {
        match self.plan.load(Ordering::Relaxed) {
            0 => (self.replicas.valid_slots(), 0.0),
            w => ((w & 0xff) as u8, (w >> 8) as f64 * 1e-6),
        }
    }

    /// Forecasts that the object will be valid in `slots` only, from `ready` on.
    pub(crate) fn set_plan(&self, slots: u8, ready: f64) {
        let ready = ((ready.max(0.0) * 1e6) as u64).min(u64::MAX >> 8);
        self.plan
            .store(u64::from(slots.max(1)) | ready << 8, Ordering::Relaxed);
    }

    /// Forecasts that the object will be valid in `slots` too.
    pub(crate) fn add_to_plan(&self, slots: u8) {
        if self.plan.load(Ordering::Relaxed) == 0 {
            self.set_plan(self.replicas.valid_slots() | slots, 0.0);
        } else {
            self.plan.fetch_or(u64::from(slots), Ordering::Relaxed);
        }
    }

    /// Counts one more access of an unfinished task; `true` when it is the first.
    pub(crate) fn enqueue(&self) -> bool {
        self.queued.fetch_add(1, Ordering::AcqRel) == 0
    }

    /// Counts one access of a finished task off; `true` when it was the last.
    pub(crate) fn dequeue(&self) -> bool {
        self.queued.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Steps 2 and 3 of the dependency protocol (`deps.rs`) for one access of `task`.
    pub(crate) fn register(&self, task: &TaskRef, mode: Mode, footprint: Footprint) {
        lock(&self.history).register(task, mode, footprint);
    }

    /// The id and name of a task in `running` that holds an access conflicting with this one.
    pub(crate) fn held_by(
        &self,
        mode: Mode,
        footprint: &Footprint,
        running: &[u64],
    ) -> Option<(u64, &'static str)> {
        let h = lock(&self.history);
        let holder = h
            .entries()
            .find(|e: &&Entry| {
                running.contains(&e.task.header().id)
                    && mode.conflicts(e.mode)
                    && e.footprint.overlaps(footprint)
            })
            .map(|e| (e.task.header().id, e.task.header().name));
        holder
    }

    /// An object with these replicas, for tests of the acquire/release protocol.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn with_replicas(rows: usize, replicas: Replicas) -> Self {
        DataObject {
            id: next_id(),
            version: AtomicU64::new(0),
            history: Mutex::new(History::new(rows)),
            bytes: replicas.bytes(),
            replicas,
            queued: AtomicUsize::new(0),
            plan: AtomicU64::new(0),
            dist: std::sync::Mutex::new(None),
            discard: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A host object of `rows` rows with no storage, for tests of the tracker.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn for_tests(rows: usize) -> Self {
        Self::on_host(
            rows,
            std::ptr::NonNull::<u8>::dangling().as_ptr(),
            0,
            HostStorage::Borrowed,
        )
    }

    /// Number of entries in the history (for tests of pruning).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn history_len(&self) -> usize {
        lock(&self.history).len()
    }

    /// Tasks holding the replica in `space` (for tests of the protocol).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn pins(&self, space: MemorySpace) -> usize {
        self.replicas.pins(space.index())
    }
}

impl Resident for DataObject {
    fn replicas(&self) -> &Replicas {
        &self.replicas
    }

    fn next_use(&self) -> u64 {
        if self.queued.load(Ordering::Acquire) == 0 {
            return u64::MAX;
        }
        let h = lock(&self.history);
        // Unfinished accesses written over by a later one are no longer in the history;
        // they come before everything in it, and are running or about to: 0.
        let next = h
            .entries()
            .filter(|e| !matches!(e.task.header().status(), Status::Done | Status::Failed))
            .map(|e| e.task.header().id)
            .min();
        next.unwrap_or(0)
    }
}

impl Drop for DataObject {
    fn drop(&mut self) {
        if self.is_owned() {
            evict::unregister(self.id);
        }
    }
}
