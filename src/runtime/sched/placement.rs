//! Placement: which processor runs a task, and in which memory space its data must be
//! valid when it starts.
//!
//! `Runtime::submit` asks the policy once per task, with what is known of it at
//! submission: its name, priority, flop count, target, whether it is a tile kernel, and
//! its accesses (objects, modes, footprints, sizes). The answer is written in the task's
//! header; the ready task goes to that processor's queue, and the thread that runs it
//! resolves every access in that memory space (`worker.rs`, step 3). When it has run,
//! the policy is told how long it took ([`Placement::finished`]).
//!
//! With CPU workers only, the policy is [`CpuOnly`]. With accelerators it is [`Eft`]
//! (DESIGN §2.3), unless `MOSAIC_PLACEMENT` names another: `round-robin` ([`RoundRobin`],
//! Dagger's default, for comparison) or `device` ([`DeviceFirst`]: every kernel on the
//! first device its target admits).
//!
//! Only tile kernels go to accelerators: a task that runs a closure is CPU code. A task
//! whose target admits no processor that can run it is placed on the CPUs and fails there
//! with `Error::NoProcessor` (`worker.rs`). A task that only orders after its data
//! (`DArray::wait`) runs where the data is, whatever the policy ([`decide`]).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cost::{self, CostModel};
use crate::runtime::graph::AccessRecord;
use crate::runtime::memory::replica::Contents;
use crate::runtime::memory::space::HOST;
use crate::runtime::memory::MemorySpace;
pub(crate) use crate::runtime::processor::Decision;
use crate::runtime::processor::{Placed, Processor, ProcessorKind, Target};

/// What a placement policy is told about a task.
#[derive(Debug)]
pub(crate) struct TaskInfo<'a> {
    pub(crate) name: &'static str,
    pub(crate) priority: i32,
    pub(crate) flops: f64,
    pub(crate) target: Target,
    pub(crate) kernel: bool,
    pub(crate) follows_data: bool,
    pub(crate) cuda: bool,
    pub(crate) accesses: &'a [AccessRecord],
}

/// A placement policy.
pub(crate) trait Placement: Send + Sync + Debug {
    /// Where `task` runs, among `processors` (the CPU workers first; never empty). The
    /// answer must name a kind of processor present in `processors`, and its memory space.
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision;

    /// The task placed by `decision` ran (or was dropped unrun) in `took`.
    fn finished(&self, _task: &TaskInfo<'_>, _decision: Decision, _took: Duration) {}

    /// Does the policy want [`Placement::finished`] called with measured times?
    fn measures(&self) -> bool {
        false
    }
}

/// Every task on the CPU workers, in host memory: the policy while the CPU workers are
/// the only processors.
#[derive(Debug, Default)]
pub(crate) struct CpuOnly;

impl Placement for CpuOnly {
    fn place(&self, _task: &TaskInfo<'_>, _processors: &[Processor]) -> Decision {
        Placed::CPU.into()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// May `task` run on `p`? Its target admits `p`, and `p` is a CPU worker, or an
/// accelerator whose backend has the task's kernel: a simulated device runs the CPU's
/// kernels, so it takes every tile kernel; a CUDA device only those with a CUDA
/// implementation. A closure (not a kernel) is CPU code.
fn runs_on(task: &TaskInfo<'_>, p: &Processor) -> bool {
    has_body(p.kind, task.kernel, task.cuda) && task.target.admits(p)
}

/// Can a processor of `kind` run a task that is a kernel (`kernel`) with a CUDA body
/// (`cuda`) or not? ([`runs_on`] without the target.)
fn has_body(kind: ProcessorKind, kernel: bool, cuda: bool) -> bool {
    match kind {
        ProcessorKind::Cpu => true,
        ProcessorKind::Simulated => kernel,
        ProcessorKind::Cuda => kernel && cuda,
    }
}

/// The target a kernel submitted in an `on(target)` scope gets: `target`, or the CPUs when
/// no processor `target` admits has a body for it (a kernel without a CUDA implementation
/// in an `on(Target::cuda(0))` scope runs on the CPUs, its data brought home, rather than
/// failing). A target a task names itself (`TaskOptions::target`) is kept as it is.
pub(crate) fn scoped_target(
    target: Target,
    (kernel, cuda): (bool, bool),
    processors: &[Processor],
) -> Target {
    let somewhere = processors
        .iter()
        .any(|p| target.admits(p) && has_body(p.kind, kernel, cuda));
    if somewhere {
        target
    } else {
        Target::cpu()
    }
}

/// The processors a task may run on ([`runs_on`]), the CPU workers as one (the first).
fn admitted<'p>(
    task: &'p TaskInfo<'_>,
    processors: &'p [Processor],
) -> impl Iterator<Item = &'p Processor> + 'p {
    let first_cpu = processors.iter().position(|p| p.kind == ProcessorKind::Cpu);
    processors
        .iter()
        .enumerate()
        .filter(move |&(i, p)| (p.kind != ProcessorKind::Cpu || Some(i) == first_cpu) && runs_on(task, p))
        .map(|(_, p)| p)
}

/// Notes on the objects of `task`, placed on `p` and expected to finish at `finish`, where
/// they will be valid (`DataObject::plan`): what it writes only in `p`'s memory from
/// `finish` on, what it reads there too.
fn note_plan(task: &TaskInfo<'_>, p: &Processor, finish: f64) -> Decision {
    let slot = p.memory.index();
    for a in task.accesses {
        if a.mode.writes() {
            a.object.set_plan(1 << slot, finish);
        } else {
            a.object.add_to_plan(1 << slot);
        }
    }
    Placed::on(p).into()
}

/// Where `policy` places `task`, except a task that only orders after its data's writers
/// (`follows_data`, with accelerators present): that one goes to the processor its target
/// admits whose memory its first access will be valid in (the CPUs first), whatever the
/// policy, so that it moves nothing.
pub(crate) fn decide(policy: &dyn Placement, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision {
    let devices = processors.last().is_some_and(|p| p.kind != ProcessorKind::Cpu);
    if task.follows_data && devices {
        if let Some(a) = task.accesses.first() {
            let slots = a.object.plan().0;
            if let Some(p) = admitted(task, processors).find(|p| slots & (1 << p.memory.index()) != 0) {
                return Placed::on(p).into();
            }
        }
    }
    policy.place(task, processors)
}

/// Earliest estimated finish time (HEFT's rule, applied online as tasks are submitted):
/// for each processor the task may run on, the estimated time it would finish there:
///
/// `max(when the processor is free, when the inputs are there) + the kernel's time`
///
/// where the processor is free once the work already placed on it, not finished, and of
/// the task's priority or higher is done (that work's estimates, summed, over its number
/// of workers: its queue runs higher priorities first), and an input is
/// there when the task that writes it is estimated to finish, plus its transfer when it
/// will be valid only in another space. The task goes where it finishes first (the CPUs
/// on a tie); its estimate joins that processor's backlog until it has run; the spaces
/// its inputs and outputs will be valid in, and when, are noted on their objects for the
/// tasks submitted after it.
#[derive(Debug)]
pub(crate) struct Eft {
    epoch: Instant,
    pub(crate) cost: CostModel,
    /// Per processor group (the CPUs, then each device): nanoseconds of estimated work
    /// placed there and not finished, by priority (a queue runs higher priorities first,
    /// so only the work at or above a task's priority is ahead of it).
    backlog: Vec<Mutex<BTreeMap<i32, u64>>>,
    /// Workers per entry of `backlog`.
    width: Vec<f64>,
    /// Seconds to copy bytes between two replica slots ([`cost::transfer`]).
    transfer: fn(usize, usize, usize) -> f64,
}

/// A candidate's estimate: finish time, the kernel's own time.
struct Estimate {
    finish: f64,
    exec: f64,
}

impl Eft {
    /// A policy for `processors` (CPU workers first) with this cost model.
    pub(crate) fn new(processors: &[Processor], cost: CostModel) -> Self {
        let cpus = processors.iter().filter(|p| p.kind == ProcessorKind::Cpu).count();
        let devices = processors.len() - cpus;
        let mut width = vec![cpus.max(1) as f64];
        width.extend(std::iter::repeat_n(1.0, devices));
        Eft {
            epoch: Instant::now(),
            cost,
            backlog: (0..=devices).map(|_| Mutex::new(BTreeMap::new())).collect(),
            width,
            transfer: cost::transfer,
        }
    }

    /// Seconds since the policy started.
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// The entry of `backlog` for the processor of memory `memory`.
    fn group(memory: MemorySpace) -> usize {
        match memory {
            MemorySpace::Device(d) => d + 1,
            MemorySpace::Host => 0,
        }
    }

    /// `task`'s estimate on `p`; `shape` and `bytes`: its operands' shapes
    /// ([`cost::shape_key`]) and their bytes.
    fn estimate(
        &self,
        task: &TaskInfo<'_>,
        p: &Processor,
        (shape, bytes): (u64, usize),
        now: f64,
    ) -> Estimate {
        let g = Self::group(p.memory);
        let ahead: u64 = lock(&self.backlog[g])
            .range(task.priority..)
            .map(|(_, ns)| ns)
            .sum();
        let free = now + ahead as f64 * 1e-9 / self.width[g];
        let slot = p.memory.index();
        let mut inputs = now;
        for a in task.accesses {
            if a.contents() != Contents::Needed {
                continue;
            }
            let (spaces, ready) = a.object.plan();
            let there = if spaces & (1 << slot) != 0 {
                0.0
            } else {
                let from = if spaces & (1 << HOST) != 0 || spaces == 0 {
                    HOST
                } else {
                    spaces.trailing_zeros() as usize
                };
                (self.transfer)(from, slot, a.object.bytes())
            };
            inputs = inputs.max(ready + there);
        }
        let exec = self.cost.kernel((task.name, shape, p.kind), task.flops, bytes);
        Estimate {
            finish: free.max(inputs) + exec,
            exec,
        }
    }
}

impl Placement for Eft {
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision {
        let now = self.now();
        let operands = (
            cost::shape_key(task.accesses),
            task.accesses.iter().map(|a| a.object.bytes()).sum(),
        );
        // The first of the earliest (to a nanosecond: sums of the same times in another
        // order must still tie).
        let best = admitted(task, processors)
            .map(|p| (p, self.estimate(task, p, operands, now)))
            .reduce(|best, next| {
                if next.1.finish < best.1.finish - 1e-9 {
                    next
                } else {
                    best
                }
            });
        let Some((p, e)) = best else {
            return Placed::CPU.into();
        };
        *lock(&self.backlog[Self::group(p.memory)])
            .entry(task.priority)
            .or_default() += (e.exec * 1e9) as u64;
        note_plan(task, p, e.finish);
        Decision {
            placed: Placed::on(p),
            estimate: e.exec,
        }
    }

    fn finished(&self, task: &TaskInfo<'_>, decision: Decision, took: Duration) {
        let mut backlog = lock(&self.backlog[Self::group(decision.placed.memory)]);
        if let Some(ns) = backlog.get_mut(&task.priority) {
            *ns = ns.saturating_sub((decision.estimate * 1e9) as u64);
            if *ns == 0 {
                backlog.remove(&task.priority);
            }
        }
        if task.kernel {
            let key = (task.name, cost::shape_key(task.accesses), decision.placed.kind);
            self.cost.record(key, took);
        }
    }

    fn measures(&self) -> bool {
        true
    }
}

/// Kernels to the processors their target admits in turn, the CPU workers counted one
/// by one (Dagger's default); other tasks on the CPUs.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    next: AtomicUsize,
}

impl Placement for RoundRobin {
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision {
        if !task.kernel {
            return note_plan(task, &processors[0], 0.0);
        }
        let admitted = || processors.iter().filter(|p| runs_on(task, p));
        let count = admitted().count();
        if count == 0 {
            return note_plan(task, &processors[0], 0.0);
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % count;
        note_plan(task, admitted().nth(i).expect("i < count"), 0.0)
    }
}

/// Every kernel on the first accelerator its target admits; other tasks on the CPUs.
#[derive(Debug, Default)]
pub(crate) struct DeviceFirst;

impl Placement for DeviceFirst {
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Decision {
        let device = processors
            .iter()
            .find(|p| p.kind != ProcessorKind::Cpu && runs_on(task, p));
        match device {
            Some(p) => note_plan(task, p, 0.0),
            None => note_plan(task, &processors[0], 0.0),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
