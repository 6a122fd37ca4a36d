//! The shared task runtime: one per process, created on first use.
//!
//! Every task, whether a `DArray` operation emitted it or a user spawned it in a
//! `datadeps` region, goes through one dependency tracker and one set of
//! ready queues. See `src/runtime/README.md` for the protocol: task states, dependency
//! counting, placement, acquire/release, back-pressure, sleep and wake-up, shutdown.
//!
//! The number of CPU workers is the number of cores, or `MOSAIC_NUM_THREADS` when set;
//! accelerators (simulated ones with `MOSAIC_SIM_DEVICES`) are processors too, each with a
//! memory space, a queue and an executor of its own (`sched/device.rs`).

pub mod distributed;
pub(crate) mod graph;
pub(crate) mod latch;
pub(crate) mod memory;
pub mod processor;
pub(crate) mod sched;
mod tile;
pub mod trace;

#[cfg(all(test, loom))]
pub(crate) mod loom_models;
#[cfg(all(test, not(loom)))]
mod tests;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

pub use graph::footprint;
pub use graph::task::TaskOptions;
pub use graph::Mode;
pub use memory::{MemorySpace, MemoryStats, SimulatedDevices};
pub use processor::{Placed, Processor, ProcessorKind, Target};
pub use sched::throttle::{InFlight, SubmitLimits};
pub use tile::Tile;

use graph::deps;
use graph::task::TaskRef;
use graph::AccessRecord;
use sched::device::Device;
use sched::placement::{CpuOnly, DeviceFirst, Eft, Placement, RoundRobin, TaskInfo};
use sched::queue::{Prioritized, ReadyQueue};
use sched::throttle::Throttle;
use sched::{compensation, worker};

/// The process's runtime.
pub(crate) struct Runtime {
    /// The CPU workers' ready queue.
    pub(crate) queue: ReadyQueue<TaskRef>,
    /// The accelerators, by device number.
    pub(crate) devices: Vec<Device>,
    pub(crate) pool: compensation::Pool,
    pub(crate) trace: trace::Tracer,
    pub(crate) throttle: Throttle,
    pub(crate) placement: Box<dyn Placement>,
    /// A task on a CPU worker is held until it has lasted this many times its own time
    /// (simulated devices' time model; 1 otherwise).
    pub(crate) cpu_slowdown: f64,
    processors: Vec<Processor>,
    next_task: AtomicU64,
}

impl Prioritized for TaskRef {
    fn priority(&self) -> i32 {
        self.header().priority
    }

    fn origin(&self) -> u64 {
        self.header().origin
    }

    fn memory_short() -> bool {
        memory::budget::host().short()
    }

    fn data_at_hand(&self) -> bool {
        // SAFETY: called under the ready queue's lock while the task is queued: it is
        // ready, so its submitter has released the guard, and nobody can claim it before
        // it is popped under that lock (task.rs, invariant 4).
        let accesses = unsafe { self.accesses() };
        accesses.iter().all(|a| a.object.host_ready())
    }
}

static RUNTIME: OnceLock<&'static Runtime> = OnceLock::new();

/// Submission looks at the back-pressure counters at one task in this many (by id): the
/// workers update them at every task, and reading them costs the submitter a cache miss.
/// The limits are therefore kept to within this many tasks per submitting thread.
const THROTTLE_CHECK_EVERY: u64 = 32;

/// Is a CPU worker searching or asleep for want of work (a hint; false before the runtime
/// starts)?
/// Under MPI the communication thread polls without sleeping then: it takes no core a
/// worker needs, and a message that a waiting task needs is seen at once.
#[cfg(feature = "mpi")]
pub(crate) fn a_worker_is_idle() -> bool {
    RUNTIME.get().is_some_and(|r| r.queue.has_idle_thread())
}

/// The runtime, started on first use.
pub(crate) fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        crate::scratch::install(memory::budget::count_scratch);
        memory::device::install_trace(memory::device::CopyTrace {
            now: || tracer().now_if_enabled(),
            record: |name, start, bytes| tracer().record_transfer(name, start, bytes),
        });
        let sim = *lock_sim();
        let _ = STARTED_SIM.set(sim);
        let kinds: Vec<ProcessorKind> = (0..memory::device::install(sim))
            .map(|d| match memory::device::is_cuda(d) {
                true => ProcessorKind::Cuda,
                false => ProcessorKind::Simulated,
            })
            .collect();
        let slowdowns = (sim.cpu_slowdown.max(1.0), sim.slowdown.max(1.0));
        let rt = Runtime::start_with(configured_threads(), &kinds, slowdowns, |processors| {
            default_placement(processors, slowdowns)
        });
        if let Some(limit) = std::env::var("MOSAIC_HOST_MEMORY")
            .ok()
            .and_then(|s| memory::budget::parse_size(&s))
        {
            memory::budget::host().set_limit(Some(limit));
            rt.throttle.set_memory_cap(Some(limit));
        }
        rt
    })
}

/// The placement policy for these processors: [`CpuOnly`] without accelerators, else the
/// one `MOSAIC_PLACEMENT` names (`eft`, the default; `round-robin`; `device`).
fn default_placement(
    processors: &[Processor],
    (cpu_slowdown, device_slowdown): (f64, f64),
) -> Box<dyn Placement> {
    if processors.iter().all(|p| p.kind == ProcessorKind::Cpu) {
        return Box::new(CpuOnly);
    }
    match std::env::var("MOSAIC_PLACEMENT").as_deref().map(str::trim) {
        Ok("round-robin") => Box::new(RoundRobin::default()),
        Ok("device") => Box::new(DeviceFirst),
        _ => {
            let cpu_rate = sched::cost::calibrate_cpu() / cpu_slowdown;
            let bandwidth = sched::cost::calibrate_bandwidth() / cpu_slowdown;
            let cost = sched::cost::CostModel::new(cpu_rate, bandwidth, device_slowdown / cpu_slowdown);
            Box::new(Eft::new(processors, cost))
        }
    }
}

/// The simulated devices asked for: the environment's, or [`set_simulated_devices`]'s.
fn lock_sim() -> std::sync::MutexGuard<'static, SimulatedDevices> {
    static SIM: std::sync::OnceLock<std::sync::Mutex<SimulatedDevices>> = std::sync::OnceLock::new();
    SIM.get_or_init(|| std::sync::Mutex::new(SimulatedDevices::from_env()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Asks for simulated accelerators (overriding `MOSAIC_SIM_DEVICES` and its companions,
/// see [`SimulatedDevices`]), and starts the runtime with them if it has not started yet
/// (a first task, region or [`processors`] call starts it); returns `false` if it had
/// already started with others.
pub fn set_simulated_devices(sim: SimulatedDevices) -> bool {
    *lock_sim() = sim;
    runtime();
    STARTED_SIM.get() == Some(&sim)
}

/// The simulated devices the runtime started with.
static STARTED_SIM: std::sync::OnceLock<SimulatedDevices> = std::sync::OnceLock::new();

thread_local! {
    /// The target of the innermost [`on`] running on this thread.
    static SCOPE: std::cell::Cell<Target> = const { std::cell::Cell::new(Target::any()) };
}

/// The target tasks submitted by this thread get when they name none: the innermost
/// [`on`]'s.
pub(crate) fn scope_target() -> Target {
    SCOPE.with(|s| s.get())
}

/// The target of a kernel task submitted by this thread that names none (a kernel with a
/// CUDA body when `cuda`): the innermost [`on`]'s, or the CPUs when no processor it admits
/// has a body for the kernel (`sched/placement.rs`, `scoped_target`).
pub(crate) fn scoped_target(cuda: bool) -> Target {
    let target = scope_target();
    if target == Target::any() {
        return target;
    }
    sched::placement::scoped_target(target, (true, cuda), &runtime().processors)
}

/// Can a kernel task submitted by this thread, naming no target, run on a CUDA device?
pub(crate) fn cuda_admitted() -> bool {
    let target = scope_target();
    processors()
        .iter()
        .any(|p| p.kind == ProcessorKind::Cuda && target.admits(p))
}

/// Runs `f` with `target` as the default target of every task it submits from this
/// thread (`DArray` operations included), and returns its value; `Err(NoProcessor)`
/// without running it when no processor matches `target` (a CUDA device on a machine
/// without one). Only tile kernels go to accelerators: tasks that run closures (`map`,
/// user tasks, copies out to `ndarray`) run on the CPUs, their data brought home first,
/// and so do the kernels the target has no implementation of (on a CUDA device: QR's
/// panels, `randn`'s).
///
/// ```
/// use mosaic::{on, Target, Error};
/// use mosaic::prelude::*;
/// let a = DArray::<f64>::rand_seeded(AutoBlocks, 300, 300, 3);
/// let b = on(Target::cpu(), || &a * &a)?;
/// assert!(matches!(on(Target::cuda(7), || ()), Err(Error::NoProcessor { .. })));
/// # Ok::<(), mosaic::Error>(())
/// ```
pub fn on<R>(target: Target, f: impl FnOnce() -> R) -> crate::Result<R> {
    if !processors().iter().any(|p| target.admits(p)) {
        return Err(crate::Error::NoProcessor {
            target: target.to_string(),
        });
    }
    struct Restore(Target);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPE.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SCOPE.with(|s| s.replace(target)));
    Ok(f())
}

/// The runtime's tracer (for the memory layer's copies: the runtime is started by then).
fn tracer() -> &'static trace::Tracer {
    &runtime().trace
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
pub const RECYCLED_BYTES_LIMIT: usize = memory::recycle::LIMIT;

/// Bytes of dropped `f32`/`f64` tile buffers the runtime keeps to hand to new tiles of the
/// same size (saving the page faults of fresh memory), at most [`RECYCLED_BYTES_LIMIT`].
/// This memory stays with the process after the matrices are dropped.
pub fn recycled_bytes() -> usize {
    memory::recycle::kept_bytes()
}

/// Sets the byte budget of a memory space (`None`: no limit). The budget counts everything
/// the runtime allocates there: tiles, their reloaded copies, and the dropped buffers it
/// keeps for reuse (not the user's own arrays bound in regions). Beyond it, tiles are
/// evicted to spill files (in [`spill_dir`]) and read back when a task needs them, so
/// that results stay what they would be without a limit; submission waits while the
/// data of unfinished tasks exceeds it.
///
/// A limit below what is resident evicts to fit; if what is over it cannot be evicted
/// now (tasks hold it), the old limit stays and `Err(OutOfMemory)` is returned. A spill
/// file that cannot be written is `Err(Error::File)` naming it.
///
/// Read at start-up from `MOSAIC_HOST_MEMORY` (`512M`, `2G`: K/M/G/T suffixes).
///
/// ```
/// use mosaic::runtime::{self, MemorySpace};
/// runtime::set_memory_limit(MemorySpace::Host, Some(64 << 20))?;
/// let a = mosaic::DArray::<f64>::rand(mosaic::Blocks(256, 256), 1024, 1024);
/// let s = a.sum();
/// assert!(runtime::memory_stats(MemorySpace::Host).peak <= (64 << 20) + (64 << 20) / 4);
/// # runtime::set_memory_limit(MemorySpace::Host, None)?;
/// # Ok::<(), mosaic::Error>(())
/// ```
pub fn set_memory_limit(space: MemorySpace, limit: Option<usize>) -> crate::Result<()> {
    let rt = runtime();
    let slot = slot_of(space)?;
    let budget = memory::budget::of(slot);
    let host = space == MemorySpace::Host;
    let old = budget.limit();
    let set = |limit: Option<usize>| {
        budget.set_limit(limit);
        if host {
            rt.throttle.set_memory_cap(limit);
        }
    };
    set(limit);
    match memory::evict::trim_excess(slot) {
        Ok(true) => Ok(()),
        Ok(false) => {
            let resident = budget.resident();
            set(old);
            Err(crate::Error::OutOfMemory {
                space,
                needed: resident,
                limit: limit.unwrap_or(usize::MAX),
            })
        }
        Err(e) => {
            set(old);
            Err(e)
        }
    }
}

/// The replica slot of `space`, if the runtime has it.
fn slot_of(space: MemorySpace) -> crate::Result<usize> {
    match space {
        MemorySpace::Device(d) if d >= memory::device::count() => Err(crate::Error::MemorySpaceUnavailable {
            space: format!(
                "device {d} (this runtime has {} devices)",
                memory::device::count()
            ),
        }),
        space => Ok(space.index()),
    }
}

/// The byte budget of a memory space, if one is set (see [`set_memory_limit`]): on a
/// device, its memory (the simulated devices': [`SimulatedDevices::memory`]) unless set
/// otherwise.
pub fn memory_limit(space: MemorySpace) -> Option<usize> {
    runtime();
    let slot = slot_of(space).ok()?;
    memory::budget::of(slot).limit()
}

/// What the runtime holds in a memory space now, its peak, its limit, and the traffic to
/// and from it so far (all zero for a device the runtime does not have).
pub fn memory_stats(space: MemorySpace) -> MemoryStats {
    runtime();
    slot_of(space).map_or_else(
        |_| MemoryStats::default(),
        |slot| memory::budget::of(slot).stats(),
    )
}

/// Starts the space's peak again from what is resident now.
pub fn reset_peak(space: MemorySpace) {
    if let Ok(slot) = slot_of(space) {
        memory::budget::of(slot).reset_peak();
    }
}

/// The directory spill files go to: `MOSAIC_SPILL_DIR` at start-up, else the temp dir.
pub fn spill_dir() -> std::path::PathBuf {
    memory::spill::dir()
}

/// Spills to `dir` from now on. `Err(Error::File)` naming it if a file cannot be created
/// there (missing, not a directory, read-only). Spill files are unlinked as soon as they
/// are created: their space returns to the file system when the process ends.
pub fn set_spill_dir(dir: impl AsRef<std::path::Path>) -> crate::Result<()> {
    memory::spill::set_dir(dir.as_ref())
}

/// The processors the runtime schedules on.
pub fn processors() -> &'static [Processor] {
    &runtime().processors
}

/// The back-pressure limits: a thread that submits a task (outside any running task) waits
/// while more than `tasks` tasks are unfinished, or while those hold more than `bytes` of
/// distinct data, until both drop to half. The counts are looked at every 32nd task, so a
/// submitter can pass a limit by that many tasks. Defaults: [`SubmitLimits::default`].
pub fn submit_limits() -> SubmitLimits {
    runtime().throttle.limits()
}

/// Sets the back-pressure limits (see [`submit_limits`]); submitters waiting now re-check.
pub fn set_submit_limits(limits: SubmitLimits) {
    runtime().throttle.set_limits(limits);
}

/// What unfinished tasks hold now (tasks, bytes of distinct data), and how often a
/// submitter has waited for them.
pub fn in_flight() -> InFlight {
    runtime().throttle.in_flight()
}

impl Runtime {
    /// A runtime with `n` CPU workers (started here) and the given placement policy.
    #[cfg_attr(any(not(test), loom), allow(dead_code))]
    pub(crate) fn start(n: usize, placement: Box<dyn Placement>) -> &'static Runtime {
        Self::start_with(n, &[], (1.0, 1.0), |_| placement)
    }

    /// A runtime with `n` CPU workers and one accelerator per entry of `devices` (their
    /// executors started here), placed by the policy `placement` makes for its
    /// processors. `slowdowns`: a task on a CPU worker, and a kernel on a simulated device,
    /// is held until it has lasted that many times its own time (see
    /// [`SimulatedDevices::cpu_slowdown`]).
    pub(crate) fn start_with(
        n: usize,
        devices: &[ProcessorKind],
        (cpu_slowdown, slowdown): (f64, f64),
        placement: impl FnOnce(&[Processor]) -> Box<dyn Placement>,
    ) -> &'static Runtime {
        let mut processors: Vec<Processor> = (0..n).map(Processor::cpu).collect();
        processors.extend(
            devices
                .iter()
                .enumerate()
                .map(|(d, &kind)| Processor::device(n + d, kind, d)),
        );
        let rt: &'static Runtime = Box::leak(Box::new(Runtime {
            queue: ReadyQueue::new(),
            devices: processors[n..]
                .iter()
                .map(|&p| {
                    Device::new(
                        p,
                        if p.kind == ProcessorKind::Simulated {
                            slowdown
                        } else {
                            1.0
                        },
                    )
                })
                .collect(),
            pool: compensation::Pool::new(n),
            trace: trace::Tracer::new(processors.len()),
            throttle: Throttle::new(SubmitLimits::default()),
            placement: placement(&processors),
            cpu_slowdown,
            processors,
            next_task: AtomicU64::new(0),
        }));
        for index in 0..n {
            worker::spawn_worker(rt, index);
        }
        for d in 0..rt.devices.len() {
            sched::device::spawn_executors(rt, d);
        }
        rt
    }

    /// What the placement policy is told of a task.
    pub(crate) fn task_info<'a>(
        &self,
        header: &graph::task::TaskHeader,
        accesses: &'a [AccessRecord],
    ) -> TaskInfo<'a> {
        TaskInfo {
            name: header.name,
            priority: header.priority,
            flops: header.flops,
            target: header.target,
            kernel: header.kernel,
            follows_data: header.follows_data,
            cuda: header.cuda,
            accesses,
        }
    }

    pub(crate) fn next_task_id(&self) -> u64 {
        self.next_task.fetch_add(1, Ordering::Relaxed)
    }

    /// Submits `task`: waits first if the unfinished tasks are over the back-pressure
    /// limits (unless this thread runs a task, see `sched/throttle.rs`); places it;
    /// registers its accesses with the tracker; lets it go: it runs as soon as every
    /// earlier conflicting access has finished.
    /// `here`: when the task is ready at once, run it on the calling thread before returning.
    pub(crate) fn submit(&'static self, task: TaskRef, here: bool) {
        #[cfg(feature = "mpi")]
        if !distributed::route(self, &task) {
            return;
        }
        self.submit_local(task, here);
    }

    /// [`Runtime::submit`] on this rank, without asking where under MPI (the transfers the
    /// distributed router adds, and every task without MPI).
    pub(crate) fn submit_local(&'static self, task: TaskRef, here: bool) {
        let header = task.header();
        if header.id.is_multiple_of(THROTTLE_CHECK_EVERY)
            && self.throttle.over()
            && worker::current_task().is_none()
        {
            worker::blocking(self, || self.throttle.wait());
        }
        // SAFETY: the submission guard is still held (task.rs, invariant 4).
        let accesses = unsafe { task.accesses() };
        let info = self.task_info(header, accesses);
        let decision = sched::placement::decide(&*self.placement, &info, &self.processors);
        header.set_placed(decision);
        if let Some(group) = &header.group {
            group.add_task();
        }
        self.throttle.add(Self::register_all(&task, accesses));
        let mut ready_here = None;
        let here = here && decision.placed.kind == ProcessorKind::Cpu;
        deps::release(task, &mut |t| {
            if here {
                ready_here = Some(t);
            } else {
                self.push(t);
            }
        });
        if let Some(task) = ready_here {
            worker::execute_here(self, task);
        }
    }

    /// Registers a submitted task's accesses with their objects' histories (dependency
    /// counting) and counts them on their objects, in one pass (this path is hot); returns
    /// the bytes of the objects it is the first unfinished task to access (back-pressure).
    fn register_all(task: &TaskRef, accesses: &[AccessRecord]) -> usize {
        let mut first_bytes = 0;
        for a in accesses {
            a.object.register(task, a.mode, a.footprint);
            if a.object.enqueue() {
                first_bytes += a.object.bytes();
            }
        }
        first_bytes
    }

    /// A ready task goes to the queue of the processors it was placed on.
    pub(crate) fn push(&self, task: TaskRef) {
        match task.header().placed().memory {
            MemorySpace::Device(d) => self.devices[d].queue.push(task),
            MemorySpace::Host => self.queue.push(task),
        }
    }

    /// Waits for `latch`; a blocking worker is replaced while it waits.
    pub(crate) fn wait(&'static self, latch: &latch::Latch) {
        worker::wait(self, latch);
    }
}
