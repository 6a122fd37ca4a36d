//! The replicas of one data object, one per memory space, each invalid, shared or modified
//! (MSI), and the acquire/release protocol a task goes through to use one.
//!
//! # States
//! - **Modified**: the only valid replica; every other one is invalid.
//! - **Shared**: valid, and at least one other replica is valid too.
//! - **Invalid**: absent, or stale since a write elsewhere.
//!
//! # Invariants
//! 1. At least one replica is valid, unless the object is *unmaterialized* (its contents
//!    are all zero bits and no space holds storage yet: tiles are created that way and get
//!    host storage at their first access). At most one is modified, and then all others
//!    are invalid.
//! 2. A valid replica holds the object's current contents.
//! 3. The state word and the storage pointers change only under `lock`. Storage is freed
//!    only under the lock, by eviction (below) or when the object is dropped.
//! 4. `pins[s]` counts the tasks between `acquire(s)` and `release(s)`.
//!
//! # Protocol (one access of a running task)
//! 1. `acquire(space, contents)` pins the replica, then reads the state word and the base
//!    pointer. If the replica is valid, its base pointer is returned at once: no lock on
//!    the hot path.
//! 2. Otherwise, under the lock: allocate the storage in `space` if it has none (host
//!    storage is counted against the host budget, and can fail with `OutOfMemory`), and,
//!    when the access needs the contents, copy them from a valid replica (which becomes
//!    shared if it was modified; the new one is shared), or zero them if the object is
//!    unmaterialized. A failure unpins and is returned: the task fails with it (or, for
//!    `OutOfMemory`, releases what it holds and waits for room).
//! 3. `release(space, wrote)`: after a write, `space` is the only valid replica
//!    (modified), every other is invalid (a spill slot that became stale is freed). Then
//!    the pin is dropped.
//!
//! `prefetch(space)` is step 2 without a pin, so a transfer can start as soon as a task is
//! placed, before it runs. It does nothing to a replica a task holds: an access that
//! overwrites the whole object gets storage without contents from step 2 and writes it
//! while the replica is still invalid, and a late prefetch must not copy over it. The dependency tracker orders the tasks that use one object, so
//! acquire and release never race with a conflicting access; concurrent accesses to
//! disjoint parts of one object must run in one memory space (coherence is per object).
//!
//! # Eviction (`evict`, under a budget)
//! Moves the replica of one space (the host's) to another (the spill files) and frees it,
//! or, for a write-back ahead of need, only copies it. Under the lock:
//! 1. give up if the replica is pinned, absent, or not the runtime's to free (storage
//!    without valid contents is freed with nothing to save);
//! 2. detach it: store a null base and an invalid state (`SeqCst`), then read its pins
//!    (`SeqCst`). An acquirer pins (`SeqCst`) before it reads the state and base
//!    (`SeqCst`), so either eviction sees its pin, puts the replica back and gives up, or
//!    the acquirer sees the null base and takes the slow path, which waits for the lock:
//!    nobody touches the buffer from here on;
//! 3. if no other space holds the contents, copy them there (a spill write); on failure
//!    put the replica back and return the error (nothing is lost);
//! 4. free the buffer (or, for a write-back, put it back, now shared).

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use super::budget;
use super::recycle;
use super::space::{HOST, MAX_SPACES, SPILL};
use crate::error::Result;
use crate::sync::{lock, AtomicBool, AtomicPtr, AtomicU32, AtomicU8, Mutex};

/// Eviction's step 2 and an acquire's pin need one total order over the pin, the
/// detaching stores and the loads after each. `SeqCst` read-modify-writes, stores and
/// loads give it on every target; loom models `SeqCst` accesses as acquire/release only,
/// so under loom a fence stands between them (as in `sched/throttle.rs`).
#[inline]
fn order_pin_and_detach() {
    #[cfg(loom)]
    crate::sync::fence(SeqCst);
}

/// The state of one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Absent or stale.
    Invalid = 0,
    /// Valid, with other valid replicas.
    Shared = 1,
    /// The only valid replica.
    Modified = 2,
}

/// Does an access need the current contents in its space?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contents {
    /// It reads them, or writes only part of the object (the rest must stay current).
    Needed,
    /// It overwrites the whole object without reading it.
    Overwritten,
}

/// Moves bytes between memory spaces other than the host's own storage: allocation and
/// copies for the slow path and for eviction (the runtime's: `mover.rs`).
pub(crate) trait Mover: Send + Sync + std::panic::RefUnwindSafe {
    /// `bytes` of storage in space `space` (`< MAX_SPACES`, not the host's), all zero bits
    /// when `zeroed`.
    fn allocate(&self, space: usize, bytes: usize, zeroed: bool) -> Result<NonNull<u8>>;

    /// Can it copy from `from` to `to` directly? (Otherwise the contents go through the
    /// host: spill files and devices do not talk to each other.)
    fn can_copy(&self, _from: usize, _to: usize) -> bool {
        true
    }

    /// Copies `bytes` from `src` (in space `from`) to `dst` (in space `to`).
    ///
    /// # Safety
    /// Both point to `bytes` bytes of storage of their spaces; nobody writes `src` or
    /// touches `dst` during the call.
    unsafe fn copy(
        &self,
        from: usize,
        src: NonNull<u8>,
        to: usize,
        dst: NonNull<u8>,
        bytes: usize,
    ) -> Result<()>;

    /// Frees storage from [`Mover::allocate`].
    ///
    /// # Safety
    /// `ptr` came from `allocate(space, bytes, _)` and nobody uses it any more.
    unsafe fn free(&self, space: usize, ptr: NonNull<u8>, bytes: usize);
}

/// Who frees the host storage.
#[derive(Debug)]
pub(crate) enum HostStorage {
    /// The runtime: buffers from `recycle` with this layout, counted against the host
    /// budget, kept for reuse when `recycle` (f32/f64) or freed. Evictable.
    Owned { layout: Layout, recycle: bool },
    /// The user (an array bound in a region, which outlives every task on it). Never
    /// evicted, not counted.
    Borrowed,
}

/// What eviction did with one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evicted {
    /// Nothing: pinned, absent, or not the runtime's to free.
    No,
    /// Freed this many bytes (after writing them elsewhere if they were the only copy).
    Freed(usize),
    /// Wrote them elsewhere and kept them (a write-back ahead of need).
    Cleaned,
}

/// The replica table of one data object. The fields a task's acquire and release touch
/// come first, in this order (`repr(C)`), so that they share a cache line.
#[repr(C)]
pub(crate) struct Replicas {
    /// Two bits per space: its [`State`].
    states: AtomicU8,
    pins: [AtomicU32; MAX_SPACES],
    bases: [AtomicPtr<u8>; MAX_SPACES],
    bytes: usize,
    host: HostStorage,
    mover: &'static dyn Mover,
    /// Invariant 1's exception: no storage anywhere yet, contents all zero bits.
    unmaterialized: AtomicBool,
    lock: Mutex<()>,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let states: Vec<State> = (0..MAX_SPACES).map(|s| self.state(s)).collect();
        f.debug_struct("Replicas")
            .field("states", &states)
            .field("bytes", &self.bytes)
            .finish()
    }
}

fn state_in(word: u8, space: usize) -> State {
    match (word >> (2 * space)) & 3 {
        0 => State::Invalid,
        1 => State::Shared,
        _ => State::Modified,
    }
}

fn with_state(word: u8, space: usize, state: State) -> u8 {
    (word & !(3 << (2 * space))) | ((state as u8) << (2 * space))
}

fn only_modified(space: usize) -> u8 {
    with_state(0, space, State::Modified)
}

/// The state word after `space`'s replica is dropped: a shared replica left alone
/// becomes modified.
fn without(word: u8, space: usize) -> u8 {
    let word = with_state(word, space, State::Invalid);
    let valid: Vec<usize> = (0..MAX_SPACES)
        .filter(|&s| state_in(word, s) != State::Invalid)
        .collect();
    match valid[..] {
        [only] => only_modified(only),
        _ => word,
    }
}

impl Replicas {
    /// `bytes` of contents whose only (modified) replica is in host memory at `host`.
    pub(crate) fn on_host(
        host: *mut u8,
        bytes: usize,
        storage: HostStorage,
        mover: &'static dyn Mover,
    ) -> Self {
        Replicas {
            states: AtomicU8::new(only_modified(HOST)),
            pins: std::array::from_fn(|_| AtomicU32::new(0)),
            bases: std::array::from_fn(|s| {
                AtomicPtr::new(if s == HOST { host } else { std::ptr::null_mut() })
            }),
            bytes,
            host: storage,
            mover,
            unmaterialized: AtomicBool::new(false),
            lock: Mutex::new(()),
        }
    }

    /// `bytes` of zero bits, with no storage yet: host storage of `layout` (runtime-owned)
    /// is allocated at the first access (zeroed if that access reads).
    pub(crate) fn unmaterialized(layout: Layout, recycle: bool, mover: &'static dyn Mover) -> Self {
        let r = Self::on_host(
            std::ptr::null_mut(),
            layout.size(),
            HostStorage::Owned { layout, recycle },
            mover,
        );
        r.states.store(0, Relaxed);
        r.unmaterialized.store(true, Relaxed);
        r
    }

    /// `bytes` of contents whose only valid (modified) replica is at `base` in space
    /// `space` (not the host's), with no host storage yet: for tests of the slow path.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn elsewhere(space: usize, base: *mut u8, bytes: usize, mover: &'static dyn Mover) -> Self {
        let r = Self::on_host(std::ptr::null_mut(), bytes, HostStorage::Borrowed, mover);
        r.states.store(only_modified(space), Release);
        r.bases[space].store(base, Release);
        r
    }

    /// The size of the contents in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The state of the replica in `space`.
    pub(crate) fn state(&self, space: usize) -> State {
        state_in(self.states.load(Acquire), space)
    }

    /// Tasks holding the replica in `space`.
    #[cfg_attr(any(not(test), loom), allow(dead_code))]
    pub(crate) fn pins(&self, space: usize) -> usize {
        self.pins[space].load(Acquire) as usize
    }

    /// Is the host storage the runtime's (counted against the budget, evictable)?
    pub(crate) fn is_owned(&self) -> bool {
        matches!(self.host, HostStorage::Owned { .. })
    }

    /// Could eviction free the replica in `space` now (present, unpinned, and for the
    /// host's, runtime-owned)? And is it the only valid copy (dirty)? A hint: `evict`
    /// checks again under the lock.
    pub(crate) fn candidate(&self, space: usize) -> Option<bool> {
        let owned = space != HOST || self.is_owned();
        let present = !self.bases[space].load(Relaxed).is_null();
        (owned && present && self.pins[space].load(Relaxed) == 0)
            .then(|| self.state(space) == State::Modified)
    }

    /// The slots whose replica is valid now, a bit each (a spill file's counts as the
    /// host's; every slot when the object is unmaterialized: any space makes zeros).
    pub(crate) fn valid_slots(&self) -> u8 {
        if self.unmaterialized.load(Relaxed) {
            return u8::MAX;
        }
        let word = self.states.load(Acquire);
        (0..MAX_SPACES)
            .filter(|&s| state_in(word, s) != State::Invalid)
            .fold(0, |m, s| m | 1 << if s == SPILL { HOST } else { s })
    }

    /// Does the host hold the contents, or will a first access make them from nothing?
    pub(crate) fn host_ready(&self) -> bool {
        self.state(HOST) != State::Invalid || self.unmaterialized.load(Relaxed)
    }

    /// Steps 1 and 2: pins the replica in `space` and returns its base pointer, with the
    /// current contents when `contents` says they are needed.
    pub(crate) fn acquire(&self, space: usize, contents: Contents) -> Result<NonNull<u8>> {
        // `SeqCst` pin and loads: the acquirer's half of eviction's step 2.
        self.pins[space].fetch_add(1, SeqCst);
        order_pin_and_detach();
        let word = self.states.load(SeqCst);
        let base = self.bases[space].load(SeqCst);
        if let (true, Some(base)) = (state_in(word, space) != State::Invalid, NonNull::new(base)) {
            return Ok(base);
        }
        self.make_valid(space, contents, None).inspect_err(|_| {
            self.pins[space].fetch_sub(1, Release);
            budget::host().notify();
        })
    }

    /// Step 2 alone: starts making `space` valid before a task needs it.
    pub(crate) fn prefetch(&self, space: usize) -> Result<()> {
        self.prefetch_before(space, None)
    }

    /// [`Replicas::prefetch`] for task `horizon`: a host allocation evicts only objects
    /// needed after it.
    pub(crate) fn prefetch_before(&self, space: usize, horizon: Option<u64>) -> Result<()> {
        if self.state(space) != State::Invalid {
            return Ok(());
        }
        let _guard = lock(&self.lock);
        // A task holds the replica: it got what it needed from the slow path, under this
        // lock, and may be overwriting it now; a copy must not land on its writes.
        if self.pins[space].load(Acquire) > 0 || self.state(space) != State::Invalid {
            return Ok(());
        }
        self.make_valid_locked(space, Contents::Needed, horizon)
            .map(|_| ())
    }

    /// Storage in `space` for these contents.
    fn allocate(&self, space: usize, zeroed: bool, horizon: Option<u64>) -> Result<NonNull<u8>> {
        match (&self.host, space) {
            // Buffers of other types than f32/f64 are always zeroed: a recycled buffer's old
            // bits are valid values only of those two (an overwriting access still gets a
            // view of the elements before it writes them).
            (HostStorage::Owned { layout, recycle }, HOST) => {
                recycle::allocate_host(*layout, zeroed || !*recycle, horizon)
            }
            _ => self.mover.allocate(space, self.bytes, zeroed),
        }
    }

    #[cold]
    fn make_valid(&self, space: usize, contents: Contents, horizon: Option<u64>) -> Result<NonNull<u8>> {
        let _guard = lock(&self.lock);
        self.make_valid_locked(space, contents, horizon)
    }

    /// Step 2, under the lock.
    fn make_valid_locked(
        &self,
        space: usize,
        contents: Contents,
        horizon: Option<u64>,
    ) -> Result<NonNull<u8>> {
        let word = self.states.load(Relaxed);
        let fresh = self.unmaterialized.load(Relaxed);
        let base = match NonNull::new(self.bases[space].load(Relaxed)) {
            Some(base) => base,
            None => {
                let base = self.allocate(space, fresh && contents == Contents::Needed, horizon)?;
                self.bases[space].store(base.as_ptr(), SeqCst);
                base
            }
        };
        if fresh {
            // Zeroed above if the access reads; an overwrite needs no contents.
            self.unmaterialized.store(false, Relaxed);
            self.states.store(only_modified(space), SeqCst);
        } else if contents == Contents::Needed && state_in(word, space) == State::Invalid {
            let valid = |s: usize| state_in(word, s) != State::Invalid;
            let from = match (0..MAX_SPACES).find(|&s| valid(s) && self.mover.can_copy(s, space)) {
                Some(from) => from,
                None => {
                    // Only a space that cannot copy here holds the contents (a spill file,
                    // for a device): through the host.
                    debug_assert!(space != HOST && (0..MAX_SPACES).any(valid));
                    self.make_valid_locked(HOST, Contents::Needed, horizon)?;
                    HOST
                }
            };
            let word = self.states.load(Relaxed);
            let src = NonNull::new(self.bases[from].load(Relaxed)).expect("a valid replica has storage");
            // SAFETY: both replicas have `bytes` bytes of storage (allocated with that
            // size); the tracker runs no writer of this object while a task needs its
            // contents, and the lock keeps other transfers and eviction out of both.
            unsafe { self.mover.copy(from, src, space, base, self.bytes)? };
            let word = with_state(word, space, State::Shared);
            self.states.store(with_state(word, from, State::Shared), SeqCst);
        }
        Ok(base)
    }

    /// Step 3: the task that acquired `space` is done; `wrote`: it wrote there.
    ///
    /// A write takes the lock even when `space` already held the only valid copy: a
    /// prefetch started ahead of a later reader may be copying from `space` right now
    /// (under the lock, `prefetch_before`), and would mark its copy valid; taken after it,
    /// the lock lets this release invalidate that copy.
    pub(crate) fn release(&self, space: usize, wrote: bool) {
        if wrote {
            let _guard = lock(&self.lock);
            self.states.store(only_modified(space), SeqCst);
            if space != SPILL {
                self.free_stale(SPILL);
            }
        }
        self.pins[space].fetch_sub(1, Release);
    }

    /// Step 3 for an access after which this process holds no contents of the object (under
    /// MPI, a copy another rank's write has made stale): drops the access's pin, marks
    /// every replica invalid and frees the storage nobody pins. The next access must
    /// overwrite the whole object (the distributed tracker sends a new version first).
    pub(crate) fn discard(&self, space: usize) {
        let _guard = lock(&self.lock);
        // Invalid first, then the pins are read (`SeqCst`): an acquire that pinned before
        // sees its replica kept; one that pins after sees it invalid and waits for the lock.
        self.states.store(0, SeqCst);
        self.unmaterialized.store(false, Relaxed);
        self.pins[space].fetch_sub(1, Release);
        order_pin_and_detach();
        for s in 0..MAX_SPACES {
            if self.pins[s].load(SeqCst) > 0 {
                continue;
            }
            if let Some(base) = NonNull::new(self.bases[s].swap(std::ptr::null_mut(), SeqCst)) {
                self.free_storage(s, base);
            }
        }
    }

    /// Frees the storage of `space` if it holds no valid contents (under the lock).
    fn free_stale(&self, space: usize) {
        if self.state(space) != State::Invalid {
            return;
        }
        if let Some(p) = NonNull::new(self.bases[space].swap(std::ptr::null_mut(), SeqCst)) {
            // SAFETY: allocated by this mover with `bytes` (`make_valid`, `evict`); stale,
            // and under the lock nobody copies from or to it.
            unsafe { self.mover.free(space, p, self.bytes) };
        }
    }

    /// Eviction (see the module docs): moves the replica in `from` to `to`, or only
    /// writes it there when `keep`. `try_lock`: an object busy with its own transfer is
    /// skipped, which also keeps two threads evicting for each other from deadlocking.
    pub(crate) fn evict(&self, from: usize, to: usize, keep: bool) -> Result<Evicted> {
        let Ok(_guard) = self.lock.try_lock() else {
            return Ok(Evicted::No);
        };
        if (from == HOST && !matches!(self.host, HostStorage::Owned { .. }))
            || self.pins[from].load(SeqCst) > 0
        {
            return Ok(Evicted::No);
        }
        let word = self.states.load(Relaxed);
        // Step 2: detach.
        let Some(base) = NonNull::new(self.bases[from].swap(std::ptr::null_mut(), SeqCst)) else {
            return Ok(Evicted::No);
        };
        self.states.store(with_state(word, from, State::Invalid), SeqCst);
        order_pin_and_detach();
        let put_back = || {
            self.bases[from].store(base.as_ptr(), SeqCst);
            self.states.store(word, SeqCst);
        };
        // A task holding `to` to overwrite it writes there without the lock: a copy must
        // not land on its writes (one that pins `to` later waits for the lock).
        if self.pins[from].load(SeqCst) > 0
            || (self.pins[to].load(SeqCst) > 0 && state_in(word, to) == State::Invalid)
        {
            put_back();
            return Ok(Evicted::No);
        }
        if state_in(word, from) == State::Invalid {
            // Storage without contents (an overwriting access that did not run after all,
            // or a stale copy): nothing to save.
            self.free_storage(from, base);
            return Ok(Evicted::Freed(self.bytes));
        }
        // Step 3: the only copy goes to `to` first.
        let mut word_after = word;
        if state_in(word, to) == State::Invalid {
            let copied = (|| {
                let dst = match NonNull::new(self.bases[to].load(Relaxed)) {
                    Some(dst) => dst,
                    None => {
                        let dst = self.allocate(to, false, None)?;
                        self.bases[to].store(dst.as_ptr(), SeqCst);
                        dst
                    }
                };
                // SAFETY: `base` is detached (step 2: nobody holds or can reach it), `dst`
                // has `bytes` bytes of storage, and the lock keeps other transfers out.
                unsafe { self.mover.copy(from, base, to, dst, self.bytes) }
            })();
            if let Err(e) = copied {
                put_back();
                return Err(e);
            }
            word_after = with_state(with_state(word, to, State::Shared), from, State::Shared);
        }
        if keep {
            self.bases[from].store(base.as_ptr(), SeqCst);
            self.states.store(word_after, SeqCst);
            return Ok(Evicted::Cleaned);
        }
        // Step 4.
        self.states.store(without(word_after, from), SeqCst);
        self.free_storage(from, base);
        Ok(Evicted::Freed(self.bytes))
    }

    /// Frees `base`, the storage of `space` (detached, or the object is being dropped).
    fn free_storage(&self, space: usize, base: NonNull<u8>) {
        match (&self.host, space) {
            (HostStorage::Owned { layout, recycle }, HOST) => {
                // SAFETY: runtime-owned host storage comes from `recycle` with `layout`
                // (`Tile::allocate`, `allocate` above), and nobody can reach it any more.
                unsafe { recycle::release_raw(base, *layout, *recycle) }
            }
            (HostStorage::Borrowed, HOST) => {}
            // SAFETY: allocated by this mover with `bytes` (`make_valid`, `evict`);
            // detached or dropped, so nobody uses it.
            _ => unsafe { self.mover.free(space, base, self.bytes) },
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for space in 0..MAX_SPACES {
            if let Some(p) = NonNull::new(self.bases[space].load(Acquire)) {
                self.free_storage(space, p);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
