//! Task records: the type-erased unit of work the scheduler moves around.
//!
//! A task is one allocation, `Arc<TaskCell<J>>`, seen by the runtime as a [`TaskRef`]
//! (`Arc<dyn Job>`). The cell holds the [`TaskHeader`] (identity, priority, dependency
//! counter, successor list) and the job closure, which runs exactly once.
//!
//! # Invariants
//! 1. `pending` counts the unfinished predecessors plus one *submission guard* that the
//!    submitter holds while it registers the task's accesses. The task becomes ready
//!    exactly once: when `pending` drops to zero.
//! 2. The status moves `PENDING → READY → RUNNING → DONE | FAILED`, each step once.
//!    Only the thread that moves it to `RUNNING` touches the job cell.
//! 3. Once `node.finished` is set (under the node lock) no successor is added; every
//!    successor pushed before that is released exactly once by [`super::deps::complete`].
//! 4. The access records are read by the submitter while it registers them (before the
//!    submission guard is released), by the thread that makes the task ready (before it
//!    hands the task on, to start prefetches), by threads holding the ready queue's lock
//!    while it is queued (to see whether its data is resident; nobody can claim it until
//!    it is popped under that lock), then used and dropped by the thread that claimed the
//!    task. All of these only read the records, which stay as they are until then. The placement is set once, at submission, before the task can be ready.

use std::cell::UnsafeCell;

use super::access::{AccessRecord, Granted};
use crate::error::Error;
use crate::runtime::latch::Group;
use crate::runtime::processor::{Decision, Placed, Target};
use crate::sync::{Arc, AtomicBool, AtomicU8, AtomicUsize, Mutex};
use std::sync::atomic::Ordering;

/// A task as the runtime sees it.
/// Always `std`'s `Arc` (loom's cannot hold a `dyn`): reference counting is not what the
/// loom models explore.
pub(crate) type TaskRef = std::sync::Arc<dyn Job>;

/// The type-erased side of a task.
pub(crate) trait Job: Send + Sync {
    /// The task's bookkeeping.
    fn header(&self) -> &TaskHeader;
    /// Runs the closure with the granted accesses, or drops it unrun (cancelled, or an
    /// access could not be granted). Returns `true` when the task failed (panicked, was
    /// cancelled, or could not start). Called once, by the thread that claimed it.
    fn execute(&self, start: Start<'_>) -> bool;
    /// The declared accesses, in declaration order.
    ///
    /// # Safety
    /// Only by the submitter before the submission guard is released, by the thread that
    /// made the task ready before it hands the task on, by a thread holding the ready
    /// queue's lock while the task is queued, or by the thread that claimed the task until
    /// it calls `drop_accesses` (invariant 4).
    unsafe fn accesses(&self) -> &[AccessRecord];
    /// Drops the declared accesses (the task is done with its data).
    ///
    /// # Safety
    /// Only by the thread that claimed the task, once, with no reference from `accesses`
    /// alive (invariant 4).
    unsafe fn drop_accesses(&self);
    /// Called once the runtime is done with the task (traced, successors released): wakes
    /// whoever waits for it, so a waiter sees all of that.
    fn completed(&self);
}

/// How a claimed task starts.
#[derive(Debug)]
pub(crate) enum Start<'a> {
    /// Run the closure on these accesses.
    Run(Granted<'a>),
    /// An input was written by a failed task: drop the closure unrun.
    Cancelled,
    /// An access could not be granted (its replica could not be made valid): drop the
    /// closure unrun and report this.
    Failed(Error),
    /// Under MPI, the task runs on this other rank (`distributed/tracker.rs`): drop the
    /// closure unrun; this is not a failure.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    Elsewhere(usize),
}

/// The part of a task its future shares: told when the task is complete.
pub(crate) trait Payload: Send + Sync {
    /// The runtime is done with the task.
    fn completed(&self);
}

impl Payload for () {
    fn completed(&self) {}
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Status {
    /// Waiting for predecessors (or for its submission to finish).
    Pending = 0,
    /// In a ready queue.
    Ready = 1,
    /// Claimed by a thread.
    Running = 2,
    /// Finished successfully.
    Done = 3,
    /// Panicked or was cancelled because an input was written by a failed task.
    Failed = 4,
}

impl Status {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Status::Pending,
            1 => Status::Ready,
            2 => Status::Running,
            3 => Status::Done,
            _ => Status::Failed,
        }
    }
}

/// Scheduling hints a submitter can give a task.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskOptions {
    /// Shown in traces and error messages. Defaults to the closure's type name.
    pub name: Option<&'static str>,
    /// Higher runs first among ready tasks (critical-path first). Default 0.
    pub priority: i32,
    /// Floating-point operations the task performs, for the trace's per-kernel GFLOP/s
    /// (0 when unknown).
    pub flops: f64,
    /// Where it may run (default: where the enclosing [`crate::on`] says, else anywhere).
    /// A task that runs a closure is CPU code: pinned to an accelerator, it fails with
    /// `Error::NoProcessor`.
    pub target: Option<Target>,
    /// It runs a backend's tile kernel on its views rather than CPU code of its own: it
    /// may be placed on an accelerator whose backend has the kernel (a simulated device
    /// runs the CPU's; a CUDA device needs `cuda`).
    pub(crate) kernel: bool,
    /// It does nothing with its data but order after its writers (`DArray::wait`): it
    /// runs where its first access is valid, so that it moves nothing.
    pub(crate) follows_data: bool,
    /// It has a CUDA implementation: a kernel may go to CUDA devices only then (a
    /// simulated device runs the CPU's kernels, so it takes every kernel).
    pub(crate) cuda: bool,
    /// Under MPI, it runs on the rank holding its first input and moves nothing (a wait, a
    /// tile's partial sum); elsewhere it finishes unrun (`distributed/tracker.rs`).
    pub(crate) in_place: bool,
}

impl TaskOptions {
    /// Options with this name.
    pub fn named(name: &'static str) -> Self {
        TaskOptions {
            name: Some(name),
            ..Self::default()
        }
    }

    /// The same options with this priority.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// The same options with this flop count (shown per kernel by [`crate::trace::Trace::summary`]).
    pub fn flops(mut self, flops: f64) -> Self {
        self.flops = flops;
        self
    }

    /// The same options with this target (see [`TaskOptions::target`]).
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Marks a task that runs a backend tile kernel on its views (see `kernel`).
    pub(crate) fn kernel(mut self) -> Self {
        self.kernel = true;
        self
    }

    /// Marks a task that only orders after its data's writers (see `follows_data`).
    pub(crate) fn follows_data(mut self) -> Self {
        self.kernel = true;
        self.follows_data = true;
        self.in_place = true;
        self
    }

    /// Marks a task that runs where its first input is, under MPI (see `in_place`).
    pub(crate) fn in_place(mut self) -> Self {
        self.in_place = true;
        self
    }
}

/// The successor list and completion flags, guarded by one lock.
pub(crate) struct Node {
    pub(crate) finished: bool,
    pub(crate) failed: bool,
    /// Tasks waiting on this one, and whether this task's failure poisons them
    /// (true when this task writes data they read).
    pub(crate) successors: smallvec::SmallVec<[(TaskRef, bool); 2]>,
    /// The task that was running on the thread that spawned this one (the task it is
    /// nested in), until this one finishes: a finished task holds nothing, and dropping
    /// the link then keeps chains of continuations from piling up.
    pub(crate) parent: Option<TaskRef>,
}

/// The bookkeeping every task carries.
pub(crate) struct TaskHeader {
    pub(crate) id: u64,
    pub(crate) priority: i32,
    pub(crate) name: &'static str,
    pub(crate) flops: f64,
    /// Where it may run: its own target, else its `on` scope's.
    pub(crate) target: Target,
    /// It runs a backend tile kernel (may go to an accelerator).
    pub(crate) kernel: bool,
    /// It only orders after its data's writers: it runs where its data is.
    pub(crate) follows_data: bool,
    /// It has a CUDA implementation: it may go to CUDA devices.
    pub(crate) cuda: bool,
    /// Under MPI, it runs where its first input is (`TaskOptions::in_place`).
    pub(crate) in_place: bool,
    pub(crate) pending: AtomicUsize,
    status: AtomicU8,
    pub(crate) poisoned: AtomicBool,
    /// Why the task failed: its panic, or (when cancelled) the failure its input goes back
    /// to. Set before `poisoned` is, so whoever sees the flag finds the cause.
    cause: std::sync::OnceLock<std::sync::Arc<str>>,
    /// When the failure goes back to a task that could not start for want of a resource
    /// (memory, a spill file), that error: the tasks cancelled after it report it as
    /// their own, so `wait()` on any result of the program says what to change.
    resource: std::sync::OnceLock<crate::error::Error>,
    pub(crate) node: Mutex<Node>,
    pub(crate) group: Option<Arc<Group>>,
    /// The thread that submitted the task ([`thread_tag`]): a thread that waits runs only
    /// tasks it submitted itself (see `ReadyQueue`'s rule 3).
    pub(crate) origin: u64,
    /// Where the placement policy put it: written once by the submitter before it releases
    /// the submission guard, read by whoever runs the task after (the guard's release and
    /// the claim order the two), so relaxed accesses suffice. `NOT_PLACED` until then.
    placed: AtomicU8,
    /// The placement policy's estimate of the task's time there (`f64` bits, seconds),
    /// written and read like `placed`.
    estimate: std::sync::atomic::AtomicU64,
}

/// `TaskHeader::placed` before placement.
const NOT_PLACED: u8 = u8::MAX;

/// A number telling the process's threads apart, given to a thread when it first asks.
pub(crate) fn thread_tag() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    thread_local! {
        static TAG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    TAG.with(|tag| {
        if tag.get() == 0 {
            tag.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        tag.get()
    })
}

impl TaskHeader {
    /// Records why this task failed (the first cause wins).
    pub(crate) fn set_cause(&self, cause: String) {
        let _ = self.cause.set(cause.into());
    }

    /// Poisons this task (a predecessor it reads from failed), inheriting that one's cause.
    pub(crate) fn poison_from(&self, failed: &TaskHeader) {
        if let Some(cause) = failed.cause.get() {
            let _ = self.cause.set(cause.clone());
        }
        if let Some(error) = failed.resource.get() {
            let _ = self.resource.set(error.clone());
        }
        self.poisoned.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Records that this task could not start for want of a resource (see `resource`).
    pub(crate) fn set_resource_error(&self, error: crate::error::Error) {
        let _ = self.resource.set(error);
    }

    /// The resource error the failure goes back to, if it does.
    pub(crate) fn resource_error(&self) -> Option<&crate::error::Error> {
        self.resource.get()
    }

    /// Why this task failed, for error messages.
    pub(crate) fn cause(&self) -> String {
        match self.cause.get() {
            Some(cause) => cause.to_string(),
            None => "a task that failed".to_owned(),
        }
    }

    pub(crate) fn new(
        id: u64,
        name: &'static str,
        priority: i32,
        group: Option<Arc<Group>>,
        parent: Option<TaskRef>,
    ) -> Self {
        TaskHeader {
            id,
            priority,
            name,
            flops: 0.0,
            target: Target::any(),
            kernel: false,
            follows_data: false,
            cuda: false,
            in_place: false,
            pending: AtomicUsize::new(1), // the submission guard
            status: AtomicU8::new(Status::Pending as u8),
            poisoned: AtomicBool::new(false),
            cause: std::sync::OnceLock::new(),
            resource: std::sync::OnceLock::new(),
            node: Mutex::new(Node {
                finished: false,
                failed: false,
                successors: smallvec::SmallVec::new(),
                parent,
            }),
            group,
            origin: thread_tag(),
            placed: AtomicU8::new(NOT_PLACED),
            estimate: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records the placement policy's answer (once, before the task can be ready).
    pub(crate) fn set_placed(&self, decision: Decision) {
        self.placed.store(decision.placed.encode(), Ordering::Relaxed);
        self.estimate
            .store(decision.estimate.to_bits(), Ordering::Relaxed);
    }

    /// The placement policy's answer.
    pub(crate) fn decision(&self) -> Decision {
        Decision {
            placed: self.placed(),
            estimate: f64::from_bits(self.estimate.load(Ordering::Relaxed)),
        }
    }

    /// Where the task runs: the placement policy's answer (a CPU worker on host memory for
    /// a task never placed, as in the models of the protocol).
    pub(crate) fn placed(&self) -> Placed {
        match self.placed.load(Ordering::Relaxed) {
            NOT_PLACED => Placed::CPU,
            code => Placed::decode(code),
        }
    }

    pub(crate) fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    pub(crate) fn set_status(&self, s: Status) {
        self.status.store(s as u8, Ordering::Release);
    }

    /// Moves `Ready → Running`; false if someone else already did (a broken invariant).
    pub(crate) fn claim(&self) -> bool {
        self.status
            .compare_exchange(
                Status::Ready as u8,
                Status::Running as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

/// A task's allocation: header, the job closure, and a payload the job and the task's
/// future share (its result slot), so a task costs one allocation.
pub(crate) struct TaskCell<J, P, A = [AccessRecord; 0]> {
    header: TaskHeader,
    job: UnsafeCell<Option<J>>,
    /// The access records, exactly as many as declared (an array for a tuple of accesses,
    /// a `Vec` for a run-time number): no allocation, no unused room in the task.
    accesses: UnsafeCell<Option<A>>,
    payload: P,
}

// SAFETY: the job cell is only touched in `execute`, which the scheduler calls once, from
// the one thread that won `TaskHeader::claim` (invariant 2), after the `AcqRel` claim has
// synchronised with the submitter that wrote the cell. The access list is read by the
// submitter alone before it releases the guard, and taken by the claiming thread after
// (invariant 4): never by two threads at once. The header is `Sync` on its own, and so
// must the payload be. `J: Send` because the closure moves to the executing thread; the
// access list holds `Arc`s of `Send + Sync` data objects.
unsafe impl<J: Send, P: Sync, A: Send> Sync for TaskCell<J, P, A> {}

impl<J, P> TaskCell<J, P> {
    /// A task that declares no access.
    #[cfg(test)]
    pub(crate) fn new(header: TaskHeader, job: J, payload: P) -> Self {
        Self::with_accesses(header, [], job, payload)
    }
}

impl<J, P, A> TaskCell<J, P, A> {
    /// A task that declares `accesses`.
    pub(crate) fn with_accesses(header: TaskHeader, accesses: A, job: J, payload: P) -> Self {
        TaskCell {
            header,
            job: UnsafeCell::new(Some(job)),
            accesses: UnsafeCell::new(Some(accesses)),
            payload,
        }
    }

    /// The payload shared with the task's future.
    pub(crate) fn payload(&self) -> &P {
        &self.payload
    }
}

impl<J, P, A> Job for TaskCell<J, P, A>
where
    J: FnOnce(&TaskHeader, &P, Start<'_>) -> bool + Send,
    P: Payload,
    A: AsRef<[AccessRecord]> + Send,
{
    fn header(&self) -> &TaskHeader {
        &self.header
    }

    fn execute(&self, start: Start<'_>) -> bool {
        // SAFETY: see the `Sync` impl above: the caller claimed the task, so no other
        // thread reads or writes the cell, now or later.
        let job = unsafe { (*self.job.get()).take() };
        match job {
            Some(job) => job(&self.header, &self.payload, start),
            None => true,
        }
    }

    unsafe fn accesses(&self) -> &[AccessRecord] {
        // SAFETY: the caller is the submitter before the guard's release or the claiming
        // thread before `drop_accesses` (invariant 4): nobody writes the cell meanwhile.
        match unsafe { &*self.accesses.get() } {
            Some(a) => a.as_ref(),
            None => &[],
        }
    }

    unsafe fn drop_accesses(&self) {
        // SAFETY: the caller claimed the task and holds no reference into the cell
        // (invariant 4): this thread is the only one touching it.
        unsafe { *self.accesses.get() = None };
    }

    fn completed(&self) {
        self.payload.completed();
    }
}
