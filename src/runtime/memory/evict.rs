//! Eviction under a budget: which replicas leave a full space, and when. Host replicas go
//! to the spill files; device replicas go to the host.
//!
//! Every runtime-owned object (a tile) is listed here from its creation to its drop. When
//! an allocation does not fit under a space's limit, [`make_room_before`] frees, in this
//! order (for a device, step 2 only, with "a spill file" read as "the host"):
//! 1. dropped buffers kept for reuse (`recycle.rs`);
//! 2. host replicas by the tracker's knowledge of the future: the objects no unfinished
//!    task uses first, then those whose next use (the earliest unfinished task that
//!    accesses them, by submission order) is farthest away (Belady's rule), clean ones
//!    (a valid copy in a spill file already) before dirty ones within each group. Pinned
//!    replicas (held by a running task) are never chosen; a dirty victim is written to a
//!    spill file before it is freed (`replica.rs`, "Eviction").
//!
//! A batch frees a sixteenth of the limit beyond the request, so the scan (one pass over
//! the listed objects, a sort) is paid once per many allocations. Evicted buffers of
//! `f32`/`f64` tiles go to the reuse pool (still counted against the budget), so the
//! allocations that follow take them without a page fault.
//!
//! The transfer thread (`transfer.rs`) uses the same ranking for prefetches (which evict
//! only objects needed later than the task they prefetch for) and for write-backs ahead of
//! need (dirty victims written while the host copy stays, so that their eviction later is
//! only a free).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::budget;
use super::recycle;
use super::replica::{Evicted, Replicas};
use super::space::{HOST, SPILL};

/// Where an evicted replica of `space` goes: the spill files for the host's, the host
/// for a device's.
fn destination(space: usize) -> usize {
    if space == HOST {
        SPILL
    } else {
        HOST
    }
}
use crate::error::Result;

/// A runtime-owned object as eviction sees it.
pub(crate) trait Resident: Send + Sync {
    /// Its replicas.
    fn replicas(&self) -> &Replicas;
    /// The id of the earliest unfinished task that accesses it (`u64::MAX`: none; 0: one
    /// is running or about to).
    fn next_use(&self) -> u64;
}

type Listed = HashMap<u64, Weak<dyn Resident>>;

// `std`'s mutex even under loom: a process-wide static no model explores.
fn listed() -> std::sync::MutexGuard<'static, Listed> {
    static LISTED: std::sync::OnceLock<Mutex<Listed>> = std::sync::OnceLock::new();
    LISTED
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Lists the object `id` (at its creation).
pub(crate) fn register(id: u64, object: Weak<dyn Resident>) {
    listed().insert(id, object);
}

/// Takes the object `id` off the list (at its drop).
pub(crate) fn unregister(id: u64) {
    listed().remove(&id);
}

/// A victim and its rank: larger first.
struct Candidate {
    object: Arc<dyn Resident>,
    key: (bool, bool, u64),
}

/// Objects whose replica in `space` could be evicted now, best victims first; only those
/// needed after `horizon` (a task id) when one is given.
fn candidates(space: usize, horizon: Option<u64>) -> Vec<Candidate> {
    // Upgraded outside the lock: an object whose last other handle goes away meanwhile is
    // dropped here, and its drop takes the lock to unlist itself.
    let weak: Vec<Weak<dyn Resident>> = listed().values().cloned().collect();
    let objects: Vec<Arc<dyn Resident>> = weak
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|o| o.replicas().candidate(space).is_some())
        .collect();
    let mut out: Vec<Candidate> = objects
        .into_iter()
        .filter_map(|object| {
            let dirty = object.replicas().candidate(space)?;
            let next = object.next_use();
            if horizon.is_some_and(|h| next <= h) {
                return None;
            }
            Some(Candidate {
                key: (next == u64::MAX, !dirty, next),
                object,
            })
        })
        .collect();
    out.sort_unstable_by_key(|c| std::cmp::Reverse(c.key));
    out
}

/// Makes room for `bytes` more under the limit of `space` (a replica slot; see the module
/// docs): `Ok(true)` when they now fit, as free budget or, on the host, as a kept buffer
/// of that size (evicted buffers of `f32`/`f64` tiles are kept for reuse, still counted);
/// `Ok(false)` if not enough can be evicted now (the rest is pinned). A spill file that
/// cannot be written is an error. `horizon`: for a prefetch ahead of that task, evict only
/// objects needed after it.
pub(crate) fn make_room_before(space: usize, bytes: usize, horizon: Option<u64>) -> Result<bool> {
    let b = budget::of(space);
    let Some(limit) = b.limit() else {
        return Ok(true);
    };
    if bytes > limit {
        return Ok(false);
    }
    let target = bytes + limit / 16;
    let kept = || if space == HOST { recycle::kept_of(bytes) } else { 0 };
    let available = || limit.saturating_sub(b.resident()) + kept();
    if horizon.is_none() && space == HOST {
        recycle::trim_except(bytes, target.saturating_sub(available()));
    }
    let mut error = None;
    if available() < target {
        for c in candidates(space, horizon) {
            match c.object.replicas().evict(space, destination(space), false) {
                Ok(Evicted::Freed(_)) => b.count_eviction(),
                Ok(_) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
            if available() >= target {
                break;
            }
        }
    }
    if available() >= bytes {
        return Ok(true);
    }
    match error {
        Some(e) => Err(e),
        None => Ok(false),
    }
}

/// Evicts until `space` (a replica slot) is within its limit again (after an allocation
/// that could not wait, or a lowered limit); `Ok(false)` if what is left over it is pinned.
pub(crate) fn trim_excess(space: usize) -> Result<bool> {
    let b = budget::of(space);
    if b.excess() == 0 {
        return Ok(true);
    }
    if space == HOST {
        recycle::trim_except(0, b.excess());
    }
    if b.excess() == 0 {
        return Ok(true);
    }
    for c in candidates(space, None) {
        if b.excess() == 0 {
            break;
        }
        if let Evicted::Freed(_) = c.object.replicas().evict(space, destination(space), false)? {
            b.count_eviction();
            if space == HOST {
                // Evicted buffers are kept for reuse; here the point is to give them back.
                recycle::trim_except(0, b.excess());
            }
        }
    }
    Ok(b.excess() == 0)
}

/// Writes dirty host replicas that are needed latest to the spill files, keeping them,
/// until `bytes` have been written or none is left (see `transfer.rs`).
pub(crate) fn write_back(bytes: usize) -> Result<()> {
    let mut written = 0;
    for c in candidates(HOST, None) {
        if written >= bytes {
            break;
        }
        if !c.key.1 {
            if let Evicted::Cleaned = c.object.replicas().evict(HOST, SPILL, true)? {
                written += c.object.replicas().bytes();
            }
        }
    }
    Ok(())
}
