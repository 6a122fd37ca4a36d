//! Worker threads, the execution of one task, and waiting.
//!
//! # A worker's loop
//! 1. If the pool runs more workers than cores (a blocked worker came back), park as a
//!    spare (see `compensation.rs`).
//! 2. Pop the highest-priority ready task; if the queue is empty, spin briefly (a task
//!    usually arrives within microseconds while a graph is being submitted), then sleep on
//!    the queue's condition variable.
//! 3. Claim it (`READY → RUNNING`) and make it the thread's *current task*. Resolve its
//!    accesses in the memory space it was placed in: each object's replica there is
//!    acquired (pinned, made valid if it is not; `memory/replica.rs`), which gives the base
//!    pointers its views are built from. Run its closure on them, then release them (a
//!    write makes a new version). A cancelled task, or one whose access cannot be
//!    granted, has its closure dropped unrun and fails (with that error).
//! 4. Complete it: record its trace event, drop its accesses (counting them off the
//!    back-pressure), release its successors (pushing the ones that become ready, except
//!    one kept to run next when the queue is empty), wake its future's waiters, then count
//!    it off its group, which may set the group's latch. A waiter thus finds the task
//!    traced, its data released and its successors released.
//!
//! # Waiting
//! A thread outside the pool that waits (a region's end, a future) polls the latch for a
//! while and, if it runs no task itself, meanwhile runs ready tasks in place of an idle
//! sleeping worker (see `help_until_set`); then it blocks on the latch. A worker that
//! blocks first asks the pool to keep a worker running per core (waking a spare or
//! starting one), so nested regions and waits inside tasks never starve the pool; it does
//! not run other tasks on top of the waiting one (see `compensation.rs` for why).
//!
//! Every task records its *parent*, the task that was running on the thread that spawned
//! it. Its ancestors are the tasks it is nested in: a task spawned inside a running task on
//! data an ancestor holds could never run before that ancestor ends, so waiting for it is
//! reported instead of hanging (see `datadeps`).
//!
//! # Shutdown
//! The runtime lives as long as the process. Idle workers sleep on the queue's condition
//! variable (spares on the pool's) and use no CPU; they are not joined at exit, like
//! rayon's global pool. Every region and every waited future has finished its tasks before
//! returning; a detached future still running at exit is abandoned, like a detached thread.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::compensation::Compensation;
use super::device::Device;
use crate::error::Error;
use crate::runtime::graph::access::{acquire_all, dequeue_all, release_all, Exec, Granted};
use crate::runtime::graph::deps;
use crate::runtime::graph::task::{Start, TaskRef};
use crate::runtime::latch::Latch;
use crate::runtime::memory;
use crate::runtime::processor::{Placed, ProcessorKind};
use crate::runtime::Runtime;

thread_local! {
    static WORKER_INDEX: Cell<Option<usize>> = const { Cell::new(None) };
    static CURRENT: RefCell<Option<TaskRef>> = const { RefCell::new(None) };
    /// Is this thread, outside the pool, running tasks it popped while waiting (a helper
    /// holding a core, see `ReadyQueue`'s rule 3)?
    static HELPING: Cell<bool> = const { Cell::new(false) };
}

/// Stack of a worker thread: 16 MiB (committed lazily), room for deep recursion in tasks.
const WORKER_STACK: usize = 16 << 20;
/// How many empty polls an idle worker makes before sleeping.
const SPIN_ROUNDS: u32 = 64;
/// How many of those rounds yield the CPU instead of busy-spinning.
const YIELD_ROUNDS: u32 = 16;

/// The worker index of the calling thread, if it is a worker.
pub(crate) fn current_worker() -> Option<usize> {
    WORKER_INDEX.with(|w| w.get())
}

/// The task the calling thread is running, if any.
pub(crate) fn current_task() -> Option<TaskRef> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Is the calling thread running a task? (`current_task().is_some()` without the clone.)
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn in_task() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// The ids of the calling thread's current task and of every task it is nested in.
pub(crate) fn ancestor_ids() -> Vec<u64> {
    let mut ids = Vec::new();
    let mut task = current_task();
    while let Some(t) = task {
        ids.push(t.header().id);
        task = crate::sync::lock(&t.header().node).parent.clone();
    }
    ids
}

/// Aborts the process if dropped during unwinding: the runtime's own code must never
/// unwind through the scheduler (user panics are caught inside the job).
struct AbortIfPanic;

impl Drop for AbortIfPanic {
    fn drop(&mut self) {
        eprintln!("mosaic: internal error while executing a task; aborting");
        std::process::abort();
    }
}

pub(crate) fn spawn_worker(rt: &'static Runtime, index: usize) {
    std::thread::Builder::new()
        .name(format!("mosaic-worker-{index}"))
        .stack_size(WORKER_STACK)
        .spawn(move || worker_main(rt, index))
        .expect("mosaic: failed to start a worker thread");
}

fn worker_main(rt: &'static Runtime, index: usize) {
    WORKER_INDEX.with(|w| w.set(Some(index)));
    let mut next = None;
    loop {
        let task = match next.take() {
            Some(task) => task,
            None => {
                rt.pool.park_if_surplus();
                rt.queue.start_search();
                find_work(rt).unwrap_or_else(|| rt.queue.sleep_pop())
            }
        };
        next = execute(rt, task, Some(index), |_| true);
    }
}

/// Step 2's search: a few polls of the queue before going to sleep.
fn find_work(rt: &Runtime) -> Option<TaskRef> {
    for round in 0..SPIN_ROUNDS {
        if let Some(task) = rt.queue.try_pop_searching() {
            return Some(task);
        }
        if round < SPIN_ROUNDS - YIELD_ROUNDS {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    None
}

/// Steps 3 and 4 for one task, on worker `worker` (`None`: a helper, see [`help`]).
/// Returns a successor it made ready, one that `may_keep` accepts, to run next on this
/// thread, skipping the queue: when the queue is empty, nothing ready is more urgent, and
/// the successor's inputs are hot in this core's cache (a chain of dependent tasks then
/// runs on one thread without touching the queue).
fn execute(
    rt: &Runtime,
    task: TaskRef,
    worker: Option<usize>,
    may_keep: impl Fn(&TaskRef) -> bool,
) -> Option<TaskRef> {
    let mut next = None;
    run(rt, task, worker, (Exec::Host, rt.cpu_slowdown), &mut |t| {
        let cpu = t.header().placed().kind == ProcessorKind::Cpu;
        if next.is_none() && cpu && may_keep(&t) && !rt.queue.looks_nonempty() {
            next = Some(t);
        } else {
            rt.push(t);
        }
    });
    next
}

/// Steps 3 and 4 for a task placed on `device`, on one of its executor threads (`exec`:
/// what that thread hands the task); returns a successor placed on the same device to run
/// next, as [`execute`] does for workers.
pub(crate) fn execute_on_device(rt: &Runtime, task: TaskRef, device: &Device, exec: Exec) -> Option<TaskRef> {
    let mut next = None;
    let here = Placed::on(&device.processor);
    run(
        rt,
        task,
        Some(device.processor.index),
        (exec, device.slowdown),
        &mut |t| {
            if next.is_none() && t.header().placed() == here && !device.queue.looks_nonempty() {
                next = Some(t);
            } else {
                rt.push(t);
            }
        },
    );
    next
}

/// Steps 3 and 4 for a task that became ready at its submission, on the submitting thread
/// (see `Runtime::submit`); its successors go to the queue.
pub(crate) fn execute_here(rt: &Runtime, task: TaskRef) {
    run(
        rt,
        task,
        current_worker(),
        (Exec::Host, rt.cpu_slowdown),
        &mut |t| rt.push(t),
    );
}

/// Runs `task` on this thread (`row`: its processor's index, for the trace; `exec`: what
/// runs its body) and completes it, handing the successors it makes ready to `ready`.
/// `slowdown`: the task is held until it has lasted this many times its own time
/// (simulated devices' time model).
fn run(
    rt: &Runtime,
    task: TaskRef,
    row: Option<usize>,
    (exec, slowdown): (Exec, f64),
    ready: &mut impl FnMut(TaskRef),
) {
    let guard = AbortIfPanic;
    let header = task.header();
    if !header.claim() {
        panic!("task {} was scheduled twice", header.id);
    }
    let placed = header.placed();
    // SAFETY: this thread claimed the task just now (task.rs, invariant 4); the reference
    // ends before `drop_accesses` below.
    let accesses = unsafe { task.accesses() };
    let cancelled = header.poisoned.load(Ordering::Acquire);
    let start = rt.trace.now_if_enabled();
    let outer = CURRENT.with(|c| c.replace(Some(task.clone())));
    let mut took = Duration::ZERO;
    // Timing costs two clock reads a task: only when placement learns from it or the
    // task is to be held (simulated time).
    let measures = rt.placement.measures();
    let timed = slowdown > 1.0 || measures;
    // Bytes copied at its start, for the trace only.
    let copied_before = start.map(|_| memory::device::copied_here());
    let failed = if cancelled {
        task.execute(Start::Cancelled)
    } else if placed.kind == ProcessorKind::Cpu && !header.target.admits_cpu() {
        // Nothing its target admits can run it (placement.rs).
        task.execute(Start::Failed(Error::NoProcessor {
            target: header.target.to_string(),
        }))
    } else {
        match acquire_all(accesses, placed.memory) {
            Ok(bases) => {
                let t0 = timed.then(Instant::now);
                let failed = task.execute(Start::Run(Granted {
                    accesses,
                    bases: &bases,
                    exec,
                }));
                took = t0.map_or(Duration::ZERO, |t0| t0.elapsed());
                if slowdown > 1.0 {
                    // Simulated time: held for the rest of its modelled time.
                    std::thread::sleep(took.mul_f64(slowdown - 1.0));
                    took = took.mul_f64(slowdown);
                }
                release_all(accesses, placed.memory);
                failed
            }
            Err(error) => task.execute(Start::Failed(error)),
        }
    };
    CURRENT.with(|c| *c.borrow_mut() = outer);
    if let Some(start) = start {
        let bytes = memory::device::copied_here() - copied_before.unwrap_or(0);
        rt.trace
            .record(header, row.unwrap_or(usize::MAX), start, cancelled, bytes);
    }
    if measures {
        rt.placement
            .finished(&rt.task_info(header, accesses), header.decision(), took);
    }
    let freed = dequeue_all(accesses);
    // SAFETY: claimed by this thread, and `accesses` is not used after this.
    unsafe { task.drop_accesses() };
    rt.throttle.done(freed);
    deps::complete(&task, failed, ready);
    task.completed();
    if let Some(group) = &header.group {
        group.done();
    }
    std::mem::forget(guard);
}

/// Waits until `latch` is set.
pub(crate) fn wait(rt: &'static Runtime, latch: &Latch) {
    if latch.probe() || help_until_set(rt, latch) {
        return;
    }
    // A helper whose task blocks lends its core back to the pool meanwhile: a sleeping
    // worker may be the only thread left to run what the task waits for.
    let helping = HELPING.with(|h| h.get());
    if helping {
        rt.queue.helper_done();
    }
    blocking(rt, || latch.block());
    if helping {
        rt.queue.helper_resume();
    }
}

/// How long a thread outside the pool polls a latch before it sleeps on it. Waking a
/// sleeping thread costs tens of microseconds (more on a virtual machine, whose idle vCPU
/// must be rescheduled by the host), which is what a small operation takes in all; polling
/// this long costs nothing measurable on a long wait.
#[cfg(not(loom))]
const SPIN_FOR: std::time::Duration = std::time::Duration::from_micros(50);

/// On a thread outside the pool: polls `latch` for [`SPIN_FOR`] (a worker never spins:
/// its core is better used by the pool), and meanwhile, unless the thread runs a task
/// itself, runs ready tasks it submitted in place of an idle sleeping worker
/// (`ReadyQueue`'s rule 3, see [`help`]). Is the latch set?
///
/// A small operation on an idle pool is then one thread's work from submission to result:
/// its task would otherwise wait for a sleeping worker to wake, and the waiter for that
/// worker to wake it in turn, which cost a tenth to a fifth of a 256×256 product here.
///
/// Only a thread that runs no task helps: a task run on top of a waiting task could wait
/// for data that task holds, which only it, suspended below on the same stack, can release.
#[cfg(not(loom))]
fn help_until_set(rt: &Runtime, latch: &Latch) -> bool {
    if current_worker().is_some() {
        return false;
    }
    let may_help = current_task().is_none();
    let me = crate::runtime::graph::task::thread_tag();
    let mut idle_since = std::time::Instant::now();
    while idle_since.elapsed() < SPIN_FOR {
        for _ in 0..64 {
            if latch.probe() {
                return true;
            }
            std::hint::spin_loop();
        }
        match may_help.then(|| rt.queue.try_pop_for_waiter(me)).flatten() {
            Some(task) => {
                help(rt, task, me, latch);
                idle_since = std::time::Instant::now();
            }
            None => std::thread::yield_now(),
        }
    }
    latch.probe()
}

/// Runs `task`, popped under rule 3 by the thread tagged `me`, and then, as a worker does,
/// a successor it makes ready while the queue is empty (if `me` submitted it too), and so
/// on, until `latch` is set (the waiter returns at most one task's time late, as a thread
/// in `rayon::join` does); then hands the core back.
#[cfg(not(loom))]
fn help(rt: &Runtime, task: TaskRef, me: u64, latch: &Latch) {
    HELPING.with(|h| h.set(true));
    let mut next = Some(task);
    while let Some(task) = next.take() {
        next = execute(rt, task, None, |t| t.header().origin == me);
        if latch.probe() {
            if let Some(t) = next.take() {
                rt.push(t);
            }
        }
    }
    HELPING.with(|h| h.set(false));
    rt.queue.helper_done();
}

/// Under loom every wait blocks (the models explore the blocking handshake).
#[cfg(loom)]
fn help_until_set(_rt: &Runtime, _latch: &Latch) -> bool {
    false
}

/// Runs `block` (which blocks the thread); on a worker, the pool keeps one running worker
/// per core meanwhile.
pub(crate) fn blocking<R>(rt: &'static Runtime, block: impl FnOnce() -> R) -> R {
    if current_worker().is_none() {
        return block();
    }
    if let Compensation::StartWorker(index) = rt.pool.block_begin() {
        spawn_worker(rt, index);
    }
    let r = block();
    rt.pool.block_end();
    r
}
