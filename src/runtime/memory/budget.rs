//! The byte budget of a memory space: what the runtime has allocated there (resident),
//! its high-water mark, the limit, and the traffic to and from the spill files.
//!
//! `resident` counts every buffer the runtime allocates in the space: tile replicas
//! (DArray tiles, tiles of user task graphs, reloaded copies) and the dropped buffers kept
//! for reuse (`recycle.rs`). Not the user's own arrays bound in regions.
//!
//! # Protocol
//! 1. An allocation first tries [`Budget::try_charge`], a compare-and-swap that never
//!    takes `resident` over the limit. Without a limit it always succeeds.
//! 2. If it fails, the allocator makes room (`evict.rs`) and tries again; a task that
//!    finds everything else pinned releases what it holds and [`Budget::wait`]s for a
//!    change (a release, a free), so no two tasks can each hold half of what the other
//!    needs.
//! 3. Frees, and tasks unpinning data, call [`Budget::notify`]: a relaxed load of
//!    `waiters` when nobody waits.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::space::{HOST, MAX_SPACES};

// `std`'s primitives even under loom: the budget is a process-wide static that outlives
// any one model, and no model explores it.

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// No limit.
const NONE: usize = usize::MAX;

/// The budget of one space.
#[derive(Debug)]
pub(crate) struct Budget {
    resident: AtomicUsize,
    peak: AtomicUsize,
    limit: AtomicUsize,
    spilled: AtomicUsize,
    reloaded: AtomicUsize,
    evictions: AtomicUsize,
    copied_in: AtomicUsize,
    copied_out: AtomicUsize,
    waiters: AtomicUsize,
    changes: Mutex<u64>,
    cv: Condvar,
}

/// A space's memory figures (see `runtime::memory_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes the runtime holds in the space now.
    pub resident: usize,
    /// The most it held at once since the start or the last `reset_peak`.
    pub peak: usize,
    /// The limit, if one is set.
    pub limit: Option<usize>,
    /// Bytes written to spill files so far.
    pub spilled_bytes: usize,
    /// Bytes read back from spill files so far.
    pub reloaded_bytes: usize,
    /// Replicas evicted so far (from the host: dirty ones written to a spill file first;
    /// from a device: dirty ones copied to the host first).
    pub evictions: usize,
    /// Bytes copied into the space from other spaces (host and devices, not spill files).
    pub copied_in: usize,
    /// Bytes copied out of the space to other spaces (host and devices, not spill files).
    pub copied_out: usize,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget {
            resident: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            limit: AtomicUsize::new(NONE),
            spilled: AtomicUsize::new(0),
            reloaded: AtomicUsize::new(0),
            evictions: AtomicUsize::new(0),
            copied_in: AtomicUsize::new(0),
            copied_out: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            changes: Mutex::new(0),
            cv: Condvar::new(),
        }
    }

    /// The limit, if any.
    pub(crate) fn limit(&self) -> Option<usize> {
        Some(self.limit.load(Relaxed)).filter(|&l| l != NONE)
    }

    /// Sets the limit (`None`: none). Waiters re-check.
    pub(crate) fn set_limit(&self, limit: Option<usize>) {
        if limit.is_some() && std::ptr::eq(self, host()) {
            return_large_frees_to_the_system();
        }
        self.limit.store(limit.unwrap_or(NONE), SeqCst);
        self.notify_all();
    }

    /// Bytes resident now.
    pub(crate) fn resident(&self) -> usize {
        self.resident.load(Relaxed)
    }

    /// Is the space more than seven-eighths full (false without a limit)?
    #[inline]
    pub(crate) fn short(&self) -> bool {
        let limit = self.limit.load(Relaxed);
        limit != NONE && self.resident.load(Relaxed) > limit / 8 * 7
    }

    /// Bytes over the limit (0 without one).
    pub(crate) fn excess(&self) -> usize {
        self.resident().saturating_sub(self.limit.load(Relaxed))
    }

    /// Step 1: counts `bytes` if they fit under the limit.
    pub(crate) fn try_charge(&self, bytes: usize) -> bool {
        let limit = self.limit.load(Relaxed);
        let mut now = self.resident.load(Relaxed);
        loop {
            let next = now.saturating_add(bytes);
            if next > limit {
                return false;
            }
            match self.resident.compare_exchange_weak(now, next, SeqCst, Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Relaxed);
                    return true;
                }
                Err(seen) => now = seen,
            }
        }
    }

    /// Counts `bytes` whatever the limit (memory that exists already, or an allocation
    /// that cannot wait: the excess is evicted next).
    pub(crate) fn charge(&self, bytes: usize) {
        let next = self.resident.fetch_add(bytes, SeqCst) + bytes;
        self.peak.fetch_max(next, Relaxed);
    }

    /// `bytes` were freed.
    pub(crate) fn uncharge(&self, bytes: usize) {
        self.resident.fetch_sub(bytes, SeqCst);
        self.notify();
    }

    pub(crate) fn count_spill(&self, bytes: usize) {
        self.spilled.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn count_reload(&self, bytes: usize) {
        self.reloaded.fetch_add(bytes, Relaxed);
    }

    /// `bytes` were copied into this space (`incoming`) or out of it, to or from another
    /// space than the spill files.
    pub(crate) fn count_copy(&self, bytes: usize, incoming: bool) {
        let counter = if incoming {
            &self.copied_in
        } else {
            &self.copied_out
        };
        counter.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn count_eviction(&self) {
        self.evictions.fetch_add(1, Relaxed);
    }

    pub(crate) fn stats(&self) -> MemoryStats {
        MemoryStats {
            resident: self.resident.load(Relaxed),
            peak: self.peak.load(Relaxed),
            limit: self.limit(),
            spilled_bytes: self.spilled.load(Relaxed),
            reloaded_bytes: self.reloaded.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
            copied_in: self.copied_in.load(Relaxed),
            copied_out: self.copied_out.load(Relaxed),
        }
    }

    /// The peak starts again from what is resident now.
    pub(crate) fn reset_peak(&self) {
        self.peak.store(self.resident.load(Relaxed), Relaxed);
    }

    /// Step 3: something that can make room happened (a free, an unpin).
    #[inline]
    pub(crate) fn notify(&self) {
        if self.waiters.load(SeqCst) > 0 {
            self.notify_all();
        }
    }

    #[cold]
    fn notify_all(&self) {
        let mut changes = lock(&self.changes);
        *changes += 1;
        self.cv.notify_all();
    }

    /// The count of changes so far, to pass to [`Budget::wait`].
    pub(crate) fn changes(&self) -> u64 {
        *lock(&self.changes)
    }

    /// Step 2: blocks until a change after `seen` (or `timeout`: a change that happened
    /// between the caller's check and this call is then picked up late, never lost for good).
    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        self.waiters.fetch_add(1, SeqCst);
        let changes = lock(&self.changes);
        if *changes == seen {
            drop(self.cv.wait_timeout(changes, timeout));
        }
        self.waiters.fetch_sub(1, SeqCst);
    }
}

/// Under a budget, memory the runtime frees must leave the process, or its resident set
/// grows past the limit while the budget's count stays under it. glibc's allocator serves
/// blocks of 128 KiB and more with `mmap` (returned at `free`), but raises that threshold
/// after the first such free, after which freed tiles stay in its heap. Fixing the
/// threshold keeps every tile-sized block an `mmap` of its own. (Tile buffers are reused
/// through `recycle.rs` first, so the page faults this costs are few.)
fn return_large_frees_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: `mallopt` only sets a parameter of glibc's allocator; any value is
            // accepted or refused (returning 0), and allocations already made are unaffected.
            unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10) };
        });
    }
}

/// The host's budget.
pub(crate) fn host() -> &'static Budget {
    of(HOST)
}

/// The budget of the space in replica slot `slot` (the spill slot's is unused: spill
/// files are bounded by the disk).
pub(crate) fn of(slot: usize) -> &'static Budget {
    static BUDGETS: std::sync::OnceLock<[Budget; MAX_SPACES]> = std::sync::OnceLock::new();
    &BUDGETS.get_or_init(|| std::array::from_fn(|_| Budget::new()))[slot]
}

/// Counts kernel scratch against the host budget (installed in `crate::scratch` when the
/// runtime starts): taken, it is counted even over the limit (a running kernel cannot
/// wait for room) and other data is evicted to make up for it; given back, uncounted.
pub(crate) fn count_scratch(bytes: usize, taken: bool) {
    let b = host();
    if taken {
        b.charge(bytes);
        if b.excess() > 0 {
            // A spill failure here surfaces at the next allocation that needs the room.
            let _ = super::evict::trim_excess(HOST);
        }
    } else {
        b.uncharge(bytes);
    }
}

/// Parses a size with an optional K/M/G/T suffix (powers of 1024): `512M`, `2G`, `1048576`.
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last()? {
        (i, 'K' | 'k') => (&s[..i], 10),
        (i, 'M' | 'm') => (&s[..i], 20),
        (i, 'G' | 'g') => (&s[..i], 30),
        (i, 'T' | 't') => (&s[..i], 40),
        _ => (s, 0),
    };
    let n: usize = digits.trim().parse().ok()?;
    n.checked_mul(1usize << shift)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size(" 2g "), Some(2 << 30));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("3K"), Some(3072));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn charges_stay_under_the_limit_and_the_peak_follows() {
        let b = Budget::new();
        assert!(b.try_charge(100));
        b.set_limit(Some(150));
        assert!(!b.try_charge(51));
        assert!(b.try_charge(50));
        b.uncharge(120);
        let st = b.stats();
        assert_eq!((st.resident, st.peak, st.limit), (30, 150, Some(150)));
        b.reset_peak();
        assert_eq!(b.stats().peak, 30);
        b.charge(200);
        assert_eq!(b.excess(), 80);
    }
}
