//! The shared task runtime: one per process, created on first use.
//!
//! Every task, whether a `DArray` operation emitted it or a user spawned it in a
//! [`datadeps`](crate::datadeps()) region, goes through one dependency tracker and one set of
//! ready queues. See `src/runtime/README.md` for the protocol: task states, dependency
//! counting, sleep and wake-up, shutdown.
//!
//! The number of CPU workers is the number of cores, or `MOSAIC_NUM_THREADS` when set.

pub(crate) mod buffers;
pub(crate) mod data;
pub(crate) mod deps;
pub mod footprint;
pub(crate) mod history;
pub(crate) mod latch;
pub(crate) mod pool;
pub mod processor;
pub(crate) mod scheduler;
pub(crate) mod task;
pub mod trace;
pub(crate) mod worker;

#[cfg(all(test, loom))]
pub(crate) mod loom_models;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

pub use deps::Mode;
pub use processor::{MemorySpace, Processor, ProcessorKind};
pub use task::TaskOptions;

pub(crate) use deps::{Decl, Decls};
use scheduler::ReadyQueue;
use task::TaskRef;

/// The process's runtime.
pub(crate) struct Runtime {
    pub(crate) queue: ReadyQueue<TaskRef>,
    pub(crate) pool: pool::Pool,
    pub(crate) trace: trace::Tracer,
    processors: Vec<Processor>,
    next_task: AtomicU64,
}

impl scheduler::Prioritized for TaskRef {
    fn priority(&self) -> i32 {
        self.header().priority
    }

    fn origin(&self) -> u64 {
        self.header().origin
    }
}

static RUNTIME: OnceLock<&'static Runtime> = OnceLock::new();

/// The runtime, started on first use.
pub(crate) fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let n = configured_threads();
        let rt: &'static Runtime = Box::leak(Box::new(Runtime {
            queue: ReadyQueue::new(),
            pool: pool::Pool::new(n),
            trace: trace::Tracer::new(n),
            processors: (0..n).map(Processor::cpu).collect(),
            next_task: AtomicU64::new(0),
        }));
        for index in 0..n {
            worker::spawn_worker(rt, index);
        }
        rt
    })
}

/// Threads asked for with [`set_num_threads`] (0: not asked).
static REQUESTED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Asks for `n` CPU workers (overriding `MOSAIC_NUM_THREADS` and the core count). Only
/// effective before the runtime starts (the first task, region or [`num_threads`] call);
/// returns `false` if it had already started with a different count.
pub fn set_num_threads(n: usize) -> bool {
    assert!(n > 0, "the runtime needs at least one worker");
    REQUESTED_THREADS.store(n, Ordering::SeqCst);
    num_threads() == n
}

fn configured_threads() -> usize {
    let requested = REQUESTED_THREADS.load(Ordering::SeqCst);
    if requested > 0 {
        return requested;
    }
    std::env::var("MOSAIC_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of CPU worker threads of the runtime (starting it if needed).
pub fn num_threads() -> usize {
    runtime()
        .processors
        .iter()
        .filter(|p| p.kind == ProcessorKind::Cpu)
        .count()
}

/// Worker threads started so far: one per core, plus spares started while workers were
/// blocked waiting inside tasks.
pub fn worker_threads() -> usize {
    runtime().pool.threads()
}

/// The most bytes of dropped tile buffers the runtime keeps for reuse (see
/// [`recycled_bytes`]): 256 MiB.
pub const RECYCLED_BYTES_LIMIT: usize = buffers::LIMIT;

/// Bytes of dropped `f32`/`f64` tile buffers the runtime keeps to hand to new tiles of the
/// same size (saving the page faults of fresh memory), at most [`RECYCLED_BYTES_LIMIT`].
/// This memory stays with the process after the matrices are dropped.
pub fn recycled_bytes() -> usize {
    buffers::kept_bytes()
}

/// The processors the runtime schedules on.
pub fn processors() -> &'static [Processor] {
    &runtime().processors
}

impl Runtime {
    pub(crate) fn next_task_id(&self) -> u64 {
        self.next_task.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers `task`'s accesses with the tracker and lets it go: it runs as soon as
    /// every earlier conflicting access has finished.
    /// `here`: when the task is ready at once, run it on the calling thread before returning.
    pub(crate) fn submit(&self, task: TaskRef, accesses: &[Decl<'_>], here: bool) {
        let placed = scheduler::place(&[ProcessorKind::Cpu]);
        debug_assert_eq!(placed, ProcessorKind::Cpu);
        if let Some(group) = &task.header().group {
            group.add_task();
        }
        for d in accesses {
            d.object.register(&task, d.mode, d.footprint);
        }
        let mut ready_here = None;
        deps::release(task, &mut |t| {
            if here {
                ready_here = Some(t);
            } else {
                self.queue.push(t);
            }
        });
        if let Some(task) = ready_here {
            worker::execute_here(self, task);
        }
    }

    /// Waits for `latch`; a blocking worker is replaced while it waits.
    pub(crate) fn wait(&'static self, latch: &latch::Latch) {
        worker::wait(self, latch);
    }
}
