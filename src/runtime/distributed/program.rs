//! The program each rank submits, summed up as it goes: how many tasks the tracker has
//! routed, and a hash of their names and accesses. Every message carries the sender's
//! summary at the point its transfer was planned, and every all-gather the callers': where
//! two ranks' summaries differ at the same point, their programs have diverged
//! (`Error::Diverged`), which would otherwise end in a wait for a message never sent.

use std::sync::atomic::{AtomicU64, Ordering};

/// A rank's program up to some task: tasks routed, and their hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) seq: u64,
    pub(crate) hash: u64,
}

static SEQ: AtomicU64 = AtomicU64::new(0);
static HASH: AtomicU64 = AtomicU64::new(0);

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x100_0000_01b3).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15
}

/// Adds one routed task (its name and, per tracked access, the object's number, whether
/// it writes, and its size) and returns the summary that includes it. Only the thread
/// submitting the program calls it (routing happens there).
pub(crate) fn record(name: &str, accesses: impl Iterator<Item = (u64, bool, usize)>) -> Stamp {
    let mut h = HASH.load(Ordering::Relaxed);
    for b in name.bytes() {
        h = mix(h, u64::from(b));
    }
    for (id, writes, bytes) in accesses {
        h = mix(mix(mix(h, id), u64::from(writes)), bytes as u64);
    }
    HASH.store(h, Ordering::Relaxed);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
    Stamp { seq, hash: h }
}

/// The summary of the program routed so far.
pub(crate) fn current() -> Stamp {
    Stamp {
        seq: SEQ.load(Ordering::Relaxed),
        hash: HASH.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_tells_programs_apart() {
        let a = mix(mix(7, 1), 2);
        let b = mix(mix(7, 2), 1);
        assert_ne!(a, b, "order matters");
        assert_ne!(mix(7, 0), 7);
    }
}
