//! What this rank has done: tasks run, messages and bytes sent and received.

use std::sync::atomic::{AtomicU64, Ordering};

static TASKS_RUN: AtomicU64 = AtomicU64::new(0);
static TASKS_ELSEWHERE: AtomicU64 = AtomicU64::new(0);
static MESSAGES_SENT: AtomicU64 = AtomicU64::new(0);
static BYTES_SENT: AtomicU64 = AtomicU64::new(0);
static MESSAGES_RECEIVED: AtomicU64 = AtomicU64::new(0);
static BYTES_RECEIVED: AtomicU64 = AtomicU64::new(0);

/// What this rank has done since `init` (see [`stats`](super::stats)). Counts only the
/// program's tasks, not the sends and receives the runtime adds; bytes include each
/// message's 24-byte key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RankStats {
    /// The program's tasks this rank ran (every rank runs the tasks that write only its own
    /// data).
    pub tasks_run: u64,
    /// The program's tasks this rank tracked but another rank ran.
    pub tasks_elsewhere: u64,
    /// Messages this rank sent (one per tile version and destination).
    pub messages_sent: u64,
    /// Bytes of those messages.
    pub bytes_sent: u64,
    /// Messages this rank received.
    pub messages_received: u64,
    /// Bytes of those messages.
    pub bytes_received: u64,
}

impl std::ops::Sub for RankStats {
    type Output = RankStats;
    /// What was done between two readings.
    fn sub(self, earlier: RankStats) -> RankStats {
        RankStats {
            tasks_run: self.tasks_run - earlier.tasks_run,
            tasks_elsewhere: self.tasks_elsewhere - earlier.tasks_elsewhere,
            messages_sent: self.messages_sent - earlier.messages_sent,
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            messages_received: self.messages_received - earlier.messages_received,
            bytes_received: self.bytes_received - earlier.bytes_received,
        }
    }
}

pub(super) fn read() -> RankStats {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    RankStats {
        tasks_run: get(&TASKS_RUN),
        tasks_elsewhere: get(&TASKS_ELSEWHERE),
        messages_sent: get(&MESSAGES_SENT),
        bytes_sent: get(&BYTES_SENT),
        messages_received: get(&MESSAGES_RECEIVED),
        bytes_received: get(&BYTES_RECEIVED),
    }
}

/// A program task: run here (`true`) or elsewhere.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(super) fn task(here: bool) {
    match here {
        true => TASKS_RUN.fetch_add(1, Ordering::Relaxed),
        false => TASKS_ELSEWHERE.fetch_add(1, Ordering::Relaxed),
    };
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(super) fn sent(bytes: usize) {
    MESSAGES_SENT.fetch_add(1, Ordering::Relaxed);
    BYTES_SENT.fetch_add(bytes as u64, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(super) fn received(bytes: usize) {
    MESSAGES_RECEIVED.fetch_add(1, Ordering::Relaxed);
    BYTES_RECEIVED.fetch_add(bytes as u64, Ordering::Relaxed);
}
