//! Worker threads, the execution of one task, and waiting.
//!
//! # A worker's loop
//! 1. Pop the highest-priority ready task; if the queue is empty, spin briefly (a task
//!    usually arrives within microseconds while a graph is being submitted), then sleep on
//!    the queue's condition variable.
//! 2. Claim it (`READY → RUNNING`), push its id on the thread's *running stack*, run or
//!    cancel its closure, pop the id.
//! 3. Complete it: release its successors (pushing the ones that become ready), then count
//!    it off its group, which may set the group's latch and wake a waiter.
//!
//! # Waiting
//! A worker that waits (a region or a future opened inside a task) runs other ready tasks
//! until the latch is set, so waiting never takes a worker away from the pool and nested
//! regions cannot deadlock it. Other threads block on the latch.
//!
//! The running stack lets a submission made inside a task see which tasks this thread is
//! in the middle of: waiting for an access that one of them holds could never finish, so
//! it is reported instead of hanging (see `datadeps`).
//!
//! # Shutdown
//! The runtime lives as long as the process. Idle workers sleep on the queue's condition
//! variable and use no CPU; they are not joined at exit (like rayon's global pool), which
//! is safe because no task can still be running once every region and waited future has
//! returned, and detached futures are documented to be abandoned at exit.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;

use super::deps;
use super::latch::Latch;
use super::task::TaskRef;
use super::Runtime;

thread_local! {
    static WORKER_INDEX: Cell<Option<usize>> = const { Cell::new(None) };
    static RUNNING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Stack of a worker thread. A worker that waits runs other tasks on top of the waiting
/// one, so nested regions stack up frames; 16 MiB of (lazily committed) stack gives room
/// for deep nesting.
const WORKER_STACK: usize = 16 << 20;

/// How many empty polls an idle worker makes before sleeping.
const SPIN_ROUNDS: u32 = 64;
/// How many of those rounds yield the CPU instead of busy-spinning.
const YIELD_ROUNDS: u32 = 16;

/// The worker index of the calling thread, if it is a worker.
pub(crate) fn current_worker() -> Option<usize> {
    WORKER_INDEX.with(|w| w.get())
}

/// Calls `f` with the ids of the tasks the calling thread is executing, innermost last.
pub(crate) fn with_running<R>(f: impl FnOnce(&[u64]) -> R) -> R {
    RUNNING.with(|r| f(&r.borrow()))
}

/// Is the calling thread inside a task?
pub(crate) fn in_task() -> bool {
    RUNNING.with(|r| !r.borrow().is_empty())
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

pub(crate) fn spawn_workers(rt: &'static Runtime, n: usize) {
    for index in 0..n {
        std::thread::Builder::new()
            .name(format!("mosaic-worker-{index}"))
            .stack_size(WORKER_STACK)
            .spawn(move || worker_main(rt, index))
            .expect("mosaic: failed to start a worker thread");
    }
}

fn worker_main(rt: &'static Runtime, index: usize) {
    WORKER_INDEX.with(|w| w.set(Some(index)));
    loop {
        let task = match find_work(rt) {
            Some(task) => task,
            None => match rt.queue.pop_or_sleep(|| false) {
                Some(task) => task,
                None => continue,
            },
        };
        execute(rt, task, index);
    }
}

/// Step 1's spinning: a few polls of the queue before going to sleep.
fn find_work(rt: &Runtime) -> Option<TaskRef> {
    for round in 0..SPIN_ROUNDS {
        if let Some(task) = rt.queue.try_pop() {
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

/// Steps 2 and 3 for one task, on worker `index` (or on a helping thread).
pub(crate) fn execute(rt: &Runtime, task: TaskRef, index: usize) {
    let guard = AbortIfPanic;
    let header = task.header();
    if !header.claim() {
        panic!("task {} was scheduled twice", header.id);
    }
    let cancelled = header.poisoned.load(Ordering::Acquire);
    let start = rt.trace.now_if_enabled();
    RUNNING.with(|r| r.borrow_mut().push(header.id));
    let failed = task.execute(cancelled);
    RUNNING.with(|r| r.borrow_mut().pop());
    if let Some(start) = start {
        rt.trace.record(header.name, header.id, index, start, cancelled);
    }
    deps::complete(&task, failed, &mut |t| rt.queue.push(t));
    if let Some(group) = &header.group {
        group.done(|| rt.queue.notify_all());
    }
    std::mem::forget(guard);
}

/// Waits until `latch` is set; a worker thread runs ready tasks meanwhile.
pub(crate) fn wait(rt: &Runtime, latch: &Latch) {
    if latch.probe() {
        return;
    }
    let Some(index) = current_worker() else {
        latch.block();
        return;
    };
    latch.enter_worker_wait();
    while !latch.probe() {
        match rt.queue.pop_or_sleep(|| latch.probe()) {
            Some(task) => execute(rt, task, index),
            None => break,
        }
    }
    latch.leave_worker_wait();
}
