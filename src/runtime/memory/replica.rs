//! The replicas of one data object, one per memory space, each invalid, shared or modified
//! (MSI), and the acquire/release protocol a task goes through to use one.
//!
//! # States
//! - **Modified**: the only valid replica; every other one is invalid.
//! - **Shared**: valid, and at least one other replica is valid too.
//! - **Invalid**: absent, or stale since a write elsewhere.
//!
//! # Invariants
//! 1. At least one replica is valid. At most one is modified, and then all others are
//!    invalid.
//! 2. A valid replica holds the object's current contents.
//! 3. The state word and the storage pointers change only under `lock`; a replica's
//!    storage, once allocated, stays until the object is dropped (eviction, later, frees
//!    only unpinned replicas, under the lock).
//! 4. `pins[s]` counts the tasks between `acquire(s)` and `release(s)`.
//!
//! # Protocol (one access of a running task)
//! 1. `acquire(space, contents)` pins the replica, then reads the state word. If the
//!    replica is valid, or the access overwrites everything and the storage exists, its
//!    base pointer is returned at once: no lock on the hot path.
//! 2. Otherwise, under the lock: allocate the storage in `space` if it has none, and, when
//!    the access needs the contents, copy them from a valid replica (which becomes shared
//!    if it was modified; the new one is shared). A failure (no such space, no memory)
//!    unpins and is returned: the task fails with it instead of running.
//! 3. `release(space, wrote)`: after a write, `space` is the only valid replica
//!    (modified), every other is invalid. Then the pin is dropped.
//!
//! `prefetch(space)` is step 2 without a pin, so a transfer can start as soon as a task is
//! placed, before it runs. The dependency tracker orders the tasks that use one object, so
//! acquire and release never race with a conflicting access; concurrent accesses to
//! disjoint parts of one object must run in one memory space (coherence is per object).

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::recycle;
use super::space::{MemorySpace, MAX_SPACES};
use crate::error::{Error, Result};
use crate::sync::{lock, AtomicPtr, AtomicU32, AtomicU8, Mutex};

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

/// Moves bytes between memory spaces: allocation and copies for the slow path.
pub(crate) trait Mover: Send + Sync + std::panic::RefUnwindSafe {
    /// `bytes` of storage in space `space` (`< MAX_SPACES`, not the host's).
    fn allocate(&self, space: usize, bytes: usize) -> Result<NonNull<u8>>;

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
    /// `ptr` came from `allocate(space, bytes)` and nobody uses it any more.
    unsafe fn free(&self, space: usize, ptr: NonNull<u8>, bytes: usize);
}

/// The mover of a runtime whose only space is the host: every object is created with a
/// valid host replica and nothing is ever written elsewhere, so the slow path is never
/// asked to reach another space; if it is, the access fails with a clear error.
#[derive(Debug)]
pub(crate) struct HostOnly;

/// The runtime's mover today.
pub(crate) static HOST_ONLY: HostOnly = HostOnly;

impl Mover for HostOnly {
    fn allocate(&self, _space: usize, _bytes: usize) -> Result<NonNull<u8>> {
        Err(Error::MemorySpaceUnavailable {
            space: "a device space (this runtime has host memory only)".into(),
        })
    }

    unsafe fn copy(&self, _: usize, _: NonNull<u8>, _: usize, _: NonNull<u8>, _: usize) -> Result<()> {
        Err(Error::MemorySpaceUnavailable {
            space: "a device space (this runtime has host memory only)".into(),
        })
    }

    unsafe fn free(&self, _space: usize, _ptr: NonNull<u8>, _bytes: usize) {}
}

/// Who frees the host storage.
#[derive(Debug)]
pub(crate) enum HostStorage {
    /// The runtime: a buffer from `recycle::allocate` with this layout, kept for reuse
    /// when `recycle` (f32/f64) or freed.
    Owned { layout: Layout, recycle: bool },
    /// The user (an array bound in a region, which outlives every task on it).
    Borrowed,
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

impl Replicas {
    /// `bytes` of contents whose only (modified) replica is in host memory at `host`.
    pub(crate) fn on_host(
        host: *mut u8,
        bytes: usize,
        storage: HostStorage,
        mover: &'static dyn Mover,
    ) -> Self {
        Replicas {
            states: AtomicU8::new(only_modified(MemorySpace::Host.index())),
            pins: std::array::from_fn(|_| AtomicU32::new(0)),
            bases: std::array::from_fn(|s| AtomicPtr::new(if s == 0 { host } else { std::ptr::null_mut() })),
            bytes,
            host: storage,
            mover,
            lock: Mutex::new(()),
        }
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
    #[cfg_attr(any(not(test), loom), allow(dead_code))]
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

    /// Steps 1 and 2: pins the replica in `space` and returns its base pointer, with the
    /// current contents when `contents` says they are needed.
    pub(crate) fn acquire(&self, space: usize, contents: Contents) -> Result<NonNull<u8>> {
        self.pins[space].fetch_add(1, Acquire);
        let word = self.states.load(Acquire);
        let base = self.bases[space].load(Acquire);
        let ready = state_in(word, space) != State::Invalid || contents == Contents::Overwritten;
        if let (true, Some(base)) = (ready, NonNull::new(base)) {
            return Ok(base);
        }
        self.make_valid(space, contents).inspect_err(|_| {
            self.pins[space].fetch_sub(1, Release);
        })
    }

    /// Step 2 alone: starts making `space` valid before a task needs it.
    pub(crate) fn prefetch(&self, space: usize) -> Result<()> {
        if self.state(space) != State::Invalid {
            return Ok(());
        }
        self.make_valid(space, Contents::Needed).map(|_| ())
    }

    #[cold]
    fn make_valid(&self, space: usize, contents: Contents) -> Result<NonNull<u8>> {
        let _guard = lock(&self.lock);
        let word = self.states.load(Relaxed);
        let base = match NonNull::new(self.bases[space].load(Relaxed)) {
            Some(base) => base,
            None => {
                let base = self.mover.allocate(space, self.bytes)?;
                self.bases[space].store(base.as_ptr(), Release);
                base
            }
        };
        if contents == Contents::Needed && state_in(word, space) == State::Invalid {
            let from = (0..MAX_SPACES)
                .find(|&s| state_in(word, s) != State::Invalid)
                .expect("invariant 1: some replica is valid");
            let src = NonNull::new(self.bases[from].load(Relaxed)).expect("a valid replica has storage");
            // SAFETY: both replicas have `bytes` bytes of storage (allocated with that
            // size); the tracker runs no writer of this object while a task needs its
            // contents, and the lock keeps other transfers out of `dst`.
            unsafe { self.mover.copy(from, src, space, base, self.bytes)? };
            let word = with_state(word, space, State::Shared);
            self.states.store(with_state(word, from, State::Shared), Release);
        }
        Ok(base)
    }

    /// Step 3: the task that acquired `space` is done; `wrote`: it wrote there.
    pub(crate) fn release(&self, space: usize, wrote: bool) {
        if wrote && self.states.load(Acquire) != only_modified(space) {
            let _guard = lock(&self.lock);
            self.states.store(only_modified(space), Release);
        }
        self.pins[space].fetch_sub(1, Release);
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for space in 1..MAX_SPACES {
            if let Some(p) = NonNull::new(self.bases[space].load(Acquire)) {
                // SAFETY: allocated by this mover with `bytes` (`make_valid`); the object is
                // being dropped, so no task holds it.
                unsafe { self.mover.free(space, p, self.bytes) };
            }
        }
        if let (HostStorage::Owned { layout, recycle }, Some(p)) =
            (&self.host, NonNull::new(self.bases[0].load(Acquire)))
        {
            // SAFETY: the host buffer came from `recycle::allocate` with `layout` (the
            // only constructor of owned storage, `Tile::allocate`), and this is its last
            // owner: no task holds the object any more.
            unsafe { recycle::release_raw(p, *layout, *recycle) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
