//! Per-task tracing: start, end, worker and name of every task, exportable as
//! Chrome-trace JSON (open it in Perfetto or `chrome://tracing` for a Gantt view).
//!
//! When tracing is off, a task pays one relaxed atomic load. When it is on, each
//! finished task appends one [`Event`] to its worker's buffer (one uncontended lock).
//!
//! ```
//! use mosaic::prelude::*;
//! mosaic::trace::start();
//! let t = mosaic::Tile::<f64>::zeros(4, 4);
//! spawn((InOut(t.clone()),), |(mut v,)| v.fill(1.0)).wait().unwrap();
//! let trace = mosaic::trace::stop();
//! assert_eq!(trace.events().len(), 1); // on a worker, or on this thread while it waited
//! let json = trace.to_chrome_json();
//! assert!(json.starts_with("{\"traceEvents\":["));
//! ```

mod export;

pub use export::KernelStats;

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::sync::{lock, AtomicBool, Mutex};

/// One executed task, or one transfer between memory spaces.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The task's name.
    pub name: &'static str,
    /// The task's id (unique in the process, increasing in submission order).
    pub task: u64,
    /// The worker that ran it, or `None` for a thread outside the pool.
    pub worker: Option<usize>,
    /// Start, in nanoseconds since the runtime started.
    pub start_ns: u64,
    /// End, in nanoseconds since the runtime started.
    pub end_ns: u64,
    /// The task was cancelled (an input was written by a failed task) instead of run.
    pub cancelled: bool,
    /// Floating-point operations it declared (`TaskOptions::flops`), 0 if none.
    pub flops: f64,
    /// Bytes copied between memory spaces: for a task, those copied into its space when
    /// it started (inputs not already there); for a transfer, its size.
    pub bytes: u64,
    /// A copy between the host and a device (started ahead of a task, or by eviction)
    /// rather than a task: `task` is then the id of no task, `worker` is `None`.
    pub transfer: bool,
    /// The MPI rank that ran it (0 without MPI). In a trace merged across ranks
    /// (`distributed::merge_trace`), times are on rank 0's clock.
    pub rank: usize,
}

/// The recorder behind [`start`] and [`stop`].
pub(crate) struct Tracer {
    enabled: AtomicBool,
    epoch: Instant,
    /// One buffer per worker, plus one (the last) for other threads.
    buffers: Vec<Mutex<Vec<Event>>>,
    /// Dependencies (predecessor id, successor id) recorded while tracing.
    edges: Mutex<Vec<(u64, u64)>>,
}

impl Tracer {
    pub(crate) fn new(workers: usize) -> Self {
        Tracer {
            enabled: AtomicBool::new(false),
            epoch: Instant::now(),
            buffers: (0..=workers).map(|_| Mutex::new(Vec::new())).collect(),
            edges: Mutex::new(Vec::new()),
        }
    }

    /// The current time if tracing is on.
    #[inline]
    pub(crate) fn now_if_enabled(&self) -> Option<u64> {
        if self.enabled.load(Ordering::Relaxed) {
            Some(self.now())
        } else {
            None
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Records that `succ` depends on `pred`, if tracing is on.
    #[inline]
    pub(crate) fn edge(&self, pred: u64, succ: u64) {
        if self.enabled.load(Ordering::Relaxed) {
            lock(&self.edges).push((pred, succ));
        }
    }

    /// Records a task that ran on processor `worker` (`usize::MAX`: a thread outside the
    /// pool) from `start_ns` to now, with `bytes` copied into its space at its start.
    #[cold]
    pub(crate) fn record(
        &self,
        header: &crate::runtime::graph::task::TaskHeader,
        worker: usize,
        start_ns: u64,
        cancelled: bool,
        bytes: u64,
    ) {
        let end_ns = self.now();
        let slot = worker.min(self.buffers.len() - 1);
        let worker = (worker < self.buffers.len() - 1).then_some(worker);
        let event = Event {
            name: header.name,
            task: header.id,
            worker,
            start_ns,
            end_ns,
            cancelled,
            flops: header.flops,
            bytes,
            transfer: false,
            rank: 0,
        };
        lock(&self.buffers[slot]).push(event);
    }

    /// Records a copy of `bytes` named `name` from `start_ns` to now.
    #[cold]
    pub(crate) fn record_transfer(&self, name: &'static str, start_ns: u64, bytes: u64) {
        let event = Event {
            name,
            task: u64::MAX,
            worker: None,
            start_ns,
            end_ns: self.now(),
            cancelled: false,
            flops: 0.0,
            bytes,
            transfer: true,
            rank: 0,
        };
        lock(&self.buffers[self.buffers.len() - 1]).push(event);
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    pub(crate) fn drain(&self) -> (Vec<Event>, Vec<(u64, u64)>) {
        let mut all = Vec::new();
        for b in &self.buffers {
            all.append(&mut lock(b));
        }
        all.sort_by_key(|e| (e.start_ns, e.task));
        let mut edges = std::mem::take(&mut *lock(&self.edges));
        edges.sort_unstable();
        edges.dedup();
        (all, edges)
    }
}

/// Starts recording (discarding anything recorded before).
pub fn start() {
    let rt = super::runtime();
    rt.trace.drain();
    rt.trace.set_enabled(true);
}

/// Stops recording and returns what was recorded since [`start`]. Tasks still running
/// when it is called may or may not be in the trace.
pub fn stop() -> Trace {
    let rt = super::runtime();
    rt.trace.set_enabled(false);
    let (mut events, edges) = rt.trace.drain();
    let cpus = super::num_threads();
    if let Some(world) = super::distributed::world() {
        for e in &mut events {
            e.rank = world.rank();
        }
    }
    Trace { events, edges, cpus }
}

/// A recorded trace.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    events: Vec<Event>,
    edges: Vec<(u64, u64)>,
    /// The CPU workers (processors `0..cpus`; the accelerators come after them).
    cpus: usize,
}

impl Trace {
    /// A trace of these events (`cpus`: CPU workers per rank), without dependencies.
    #[cfg(feature = "mpi")]
    pub(crate) fn from_events(events: Vec<Event>, cpus: usize) -> Self {
        Trace {
            events,
            edges: Vec::new(),
            cpus,
        }
    }

    /// The events, ordered by start time.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Chrome-trace JSON ("complete" events, one row per processor, transfers on row -2,
    /// threads outside the pool on -1), loadable in Perfetto.
    pub fn to_chrome_json(&self) -> String {
        let mut out = String::from("{\"traceEvents\":[");
        let mut ranks: Vec<usize> = self.events.iter().map(|e| e.rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        // One process row per rank (pid = rank), named.
        for (i, r) in ranks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{r},\"args\":{{\"name\":\"rank {r}\"}}}}"
            );
        }
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 || !ranks.is_empty() {
                out.push(',');
            }
            let tid = match (e.transfer, e.worker) {
                (true, _) => -2,
                (false, w) => w.map_or(-1, |w| w as i64),
            };
            let _ = write!(
                out,
                "{{\"name\":\"{}\",\"cat\":\"{}\",\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{:.3},\"dur\":{:.3},\"args\":{{\"task\":{},\"bytes\":{}}}}}",
                json_escape(e.name),
                match (e.transfer, e.cancelled) {
                    (true, _) => "transfer",
                    (false, true) => "cancelled",
                    (false, false) => "task",
                },
                e.rank,
                tid,
                e.start_ns as f64 / 1e3,
                (e.end_ns.saturating_sub(e.start_ns)) as f64 / 1e3,
                e.task,
                e.bytes
            );
        }
        out.push_str("],\"displayTimeUnit\":\"ns\"}");
        out
    }

    /// Writes [`Trace::to_chrome_json`] to `path`.
    pub fn write_chrome_json(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_chrome_json())
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}
