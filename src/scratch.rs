//! Scratch memory of the tile kernels, counted.
//!
//! The CPU kernels (`backend`) allocate scratch buffers for faer's routines. The host
//! memory budget (`runtime::memory::budget`) counts them while a kernel holds them. The
//! backend sits below the runtime and does not import it: the runtime installs its
//! counting function here when it starts, and the backend only says how much it holds
//! ([`Scratch::hold`]), for as long as the returned guard lives.

use std::sync::OnceLock;

/// `count(bytes, true)` when scratch is taken, `count(bytes, false)` when it is given back.
type Count = fn(usize, bool);

static COUNT: OnceLock<Count> = OnceLock::new();

/// Installs the runtime's counting function (once; later calls change nothing).
pub(crate) fn install(count: Count) {
    let _ = COUNT.set(count);
}

/// `bytes` of scratch, counted until dropped.
#[derive(Debug)]
pub(crate) struct Scratch {
    bytes: usize,
    counted_by: Option<Count>,
}

impl Scratch {
    /// Counts `bytes` of scratch the caller is about to allocate.
    pub(crate) fn hold(bytes: usize) -> Self {
        let counted_by = COUNT.get().copied();
        if let Some(count) = counted_by {
            count(bytes, true);
        }
        Scratch { bytes, counted_by }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(count) = self.counted_by {
            count(self.bytes, false);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::{memory_stats, MemorySpace};

    #[test]
    fn a_held_scratch_is_counted_in_the_host_budget_until_dropped() {
        crate::runtime::num_threads(); // starts the runtime, which installs its counter
        assert!(COUNT.get().is_some());
        // 1 GiB: far above what the other tests of this binary allocate meanwhile.
        let held = Scratch::hold(1 << 30);
        let during = memory_stats(MemorySpace::Host);
        drop(held);
        let after = memory_stats(MemorySpace::Host);
        assert!(during.resident >= 1 << 30 && during.peak >= 1 << 30, "{during:?}");
        assert!(
            after.resident + (1 << 29) < during.resident,
            "{during:?} -> {after:?}"
        );
    }
}
