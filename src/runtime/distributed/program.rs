//! The program each rank submits, summed up as it goes: how many tasks the tracker has
//! routed, and a hash of their names and accesses. Every message carries the sender's
//! summary at the point its transfer was planned, and every all-gather the callers': where
//! two ranks' summaries differ at the same point, their programs have diverged
//! (`Error::Diverged`), which would otherwise end in a wait for a message never sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A rank's program up to some task: tasks routed, and their hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) seq: u64,
    pub(crate) hash: u64,
}

static SEQ: AtomicU64 = AtomicU64::new(0);
static HASH: AtomicU64 = AtomicU64::new(0);

/// Routed tasks remembered, the latest last, to name the first task where two ranks'
/// programs differ once they are found to.
const REMEMBERED: usize = 1 << 16;

/// One routed task: its number, the program's hash up to it, its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) hash: u64,
    pub(crate) name: String,
}

static RECENT: Mutex<VecDeque<(u64, u64, &'static str)>> = Mutex::new(VecDeque::new());

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x100_0000_01b3).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15
}

/// Adds one routed task (its name and, per tracked access, the object's number, whether
/// it writes, and its size) and returns the summary that includes it. Only the thread
/// submitting the program calls it (routing happens there).
pub(crate) fn record(name: &'static str, accesses: impl Iterator<Item = (u64, bool, usize)>) -> Stamp {
    let mut h = HASH.load(Ordering::Relaxed);
    for b in name.bytes() {
        h = mix(h, u64::from(b));
    }
    for (id, writes, bytes) in accesses {
        h = mix(mix(mix(h, id), u64::from(writes)), bytes as u64);
    }
    HASH.store(h, Ordering::Relaxed);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    if recent.len() == REMEMBERED {
        recent.pop_front();
    }
    recent.push_back((seq, h, name));
    Stamp { seq, hash: h }
}

/// The routed tasks remembered, oldest first, as bytes for another rank: per task its
/// number, hash, name length (little-endian `u64`s) and name.
pub(crate) fn history_bytes() -> Vec<u8> {
    let recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    encode(recent.iter().map(|&(seq, hash, name)| (seq, hash, name)))
}

fn encode<'a>(entries: impl Iterator<Item = (u64, u64, &'a str)>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (seq, hash, name) in entries {
        for w in [seq, hash, name.len() as u64] {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        bytes.extend_from_slice(name.as_bytes());
    }
    bytes
}

/// Another rank's [`history_bytes`] (`None` if malformed).
pub(crate) fn history_of(mut bytes: &[u8]) -> Option<Vec<Entry>> {
    use super::message::{take, take_u64};
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (seq, hash, len) = (
            take_u64(&mut bytes)?,
            take_u64(&mut bytes)?,
            take_u64(&mut bytes)?,
        );
        let name = String::from_utf8_lossy(take(&mut bytes, usize::try_from(len).ok()?)?).into_owned();
        entries.push(Entry { seq, hash, name });
    }
    Some(entries)
}

/// This rank's routed tasks remembered, oldest first.
pub(crate) fn history() -> Vec<Entry> {
    let recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    recent
        .iter()
        .map(|&(seq, hash, name)| Entry {
            seq,
            hash,
            name: name.to_owned(),
        })
        .collect()
}

/// The first task where two programs differ, from both ranks' histories: this rank's
/// entry and the other's at the first number both remember where the hashes differ;
/// `exact` when the entries just before it agree (otherwise the difference may lie before
/// what both remember). `None` when every task both remember agrees.
pub(crate) fn first_difference<'a>(
    mine: &'a [Entry],
    theirs: &'a [Entry],
) -> Option<(&'a Entry, &'a Entry, bool)> {
    let start = mine.first()?.seq.max(theirs.first()?.seq);
    let at = |h: &'a [Entry], seq: u64| {
        h.get(usize::try_from(seq - h[0].seq).ok()?)
            .filter(|e| e.seq == seq)
    };
    let mut seq = start;
    loop {
        let (a, b) = (at(mine, seq)?, at(theirs, seq)?);
        if a.hash != b.hash {
            return Some((a, b, seq > start || seq == 1));
        }
        seq += 1;
    }
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

    fn program(names: &[&str]) -> Vec<Entry> {
        let mut h = 0;
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                h = n.bytes().fold(h, |h, b| mix(h, u64::from(b)));
                Entry {
                    seq: i as u64 + 1,
                    hash: h,
                    name: n.to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn the_first_differing_task_is_found_in_both_histories() {
        let mine = program(&["fill", "fill", "gemm", "gemm", "sum"]);
        let theirs = program(&["fill", "fill", "scal", "gemm", "gemm", "sum"]);
        let (a, b, exact) = first_difference(&mine, &theirs).unwrap();
        assert_eq!(
            (a.seq, a.name.as_str(), b.name.as_str(), exact),
            (3, "gemm", "scal", true)
        );
        // Histories that keep only their latest tasks: the difference is at or before the
        // first task both remember.
        let (a, b, exact) = first_difference(&mine[3..], &theirs[2..]).unwrap();
        assert_eq!((a.seq, b.seq, exact), (4, 4, false));
        // The same programs, one further along: no difference where both remember.
        assert!(first_difference(&mine, &mine[..3]).is_none());
        let bytes = encode(theirs.iter().map(|e| (e.seq, e.hash, e.name.as_str())));
        assert_eq!(history_of(&bytes).unwrap(), theirs);
        assert!(history_of(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn the_hash_tells_programs_apart() {
        let a = mix(mix(7, 1), 2);
        let b = mix(mix(7, 2), 1);
        assert_ne!(a, b, "order matters");
        assert_ne!(mix(7, 0), 7);
    }
}
