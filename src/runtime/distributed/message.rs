//! The messages ranks exchange: a 40-byte header (the key: class and flags, object or
//! all-gather number, version; then the sender's program stamp) and a payload (a tile's
//! bytes, a failure's description, or a rank's part of an all-gather). The MPI tag is made
//! from the key too (informational: matching goes by the whole key and the source).

use super::program::Stamp;

/// Message classes (the low byte of a key's first word).
const DATA: u64 = 1;
const GATHER: u64 = 2;
/// A request for the sender's remembered program (`program::history_bytes`), and the answer.
const HISTORY_ASK: u64 = 3;
const HISTORY: u64 = 4;
/// Flag: the message carries a failure's description, not the contents.
const FAILED: u64 = 1 << 8;
/// Bytes of a message's header: its key and the sender's program stamp.
pub(crate) const HEADER_BYTES: usize = 40;

/// What a message is: `(class, number, version)`, the same on every rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(super) class: u64,
    pub(super) id: u64,
    pub(super) version: u64,
}

impl Key {
    /// Version `version` of tracked object `id`.
    pub(crate) fn data(id: u64, version: u64) -> Key {
        Key {
            class: DATA,
            id,
            version,
        }
    }

    /// The `n`th all-gather.
    pub(super) fn gather(n: u64) -> Key {
        Key {
            class: GATHER,
            id: n,
            version: 0,
        }
    }

    /// A request for the receiver's remembered program.
    pub(super) fn history_ask() -> Key {
        Key {
            class: HISTORY_ASK,
            id: 0,
            version: 0,
        }
    }

    /// The answer to [`Key::history_ask`].
    pub(super) fn history() -> Key {
        Key {
            class: HISTORY,
            id: 0,
            version: 0,
        }
    }

    /// Is this a request for this rank's remembered program?
    pub(super) fn asks_history(&self) -> bool {
        self.class == HISTORY_ASK
    }

    /// The MPI tag: from the object and version (informational: matching goes by key).
    pub(super) fn tag(&self) -> i32 {
        let h = self.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.version.wrapping_mul(0xc2b2_ae3d);
        (h >> 40) as i32 & 0x7fff
    }

    /// A message: this key (with `failed`), the sender's `stamp`, and `payload`.
    pub(crate) fn message(&self, failed: bool, stamp: Stamp, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(HEADER_BYTES + payload.len());
        let class = self.class | if failed { FAILED } else { 0 };
        for w in [class, self.id, self.version, stamp.seq, stamp.hash] {
            m.extend_from_slice(&w.to_le_bytes());
        }
        m.extend_from_slice(payload);
        m
    }

    /// The key of a received message, whether it carries a failure, and its stamp.
    pub(crate) fn of(message: &[u8]) -> Option<(Key, bool, Stamp)> {
        let word = |k: usize| {
            let bytes: [u8; 8] = message.get(8 * k..8 * k + 8)?.try_into().ok()?;
            Some(u64::from_le_bytes(bytes))
        };
        let class = word(0)?;
        let key = Key {
            class: class & 0xff,
            id: word(1)?,
            version: word(2)?,
        };
        let stamp = Stamp {
            seq: word(3)?,
            hash: word(4)?,
        };
        Some((key, class & FAILED != 0, stamp))
    }
}

/// A message that arrived for an expected receive: the whole message (key first), or the
/// failure the sender's copy of the data goes back to.
pub(crate) enum Arrival {
    Data(Vec<u8>),
    Failed(String),
    /// The ranks' programs differ (what the watchdog saw).
    Diverged(String),
}

/// The next `n` bytes of `bytes`, which then starts after them (reading a payload).
pub(super) fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = (bytes.get(..n)?, bytes.get(n..)?);
    *bytes = rest;
    Some(head)
}

/// The next little-endian `u64` of `bytes` (see [`take`]).
pub(super) fn take_u64(bytes: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(bytes, 8)?.try_into().ok()?))
}
