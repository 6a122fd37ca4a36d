//! Processors and targets: what executes tasks, each reading and writing one memory space,
//! and how a program says where its tasks may run.
//!
//! The CPU workers share the host's memory and one ready queue. Each accelerator (a CUDA
//! device, or a simulated one: `MOSAIC_SIM_DEVICES`, see `sched/device.rs`) is one
//! processor with a memory space of its own (`MemorySpace::Device(i)`) and a queue of its
//! own. The placement policy (`sched/placement.rs`) answers with a [`Placed`]: the
//! processor kind, and the memory space the task's data must be valid in when it starts.

use crate::runtime::memory::MemorySpace;

/// The kinds of processor a task can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessorKind {
    /// A CPU worker thread.
    Cpu,
    /// A CUDA device (feature `cuda`).
    Cuda,
    /// A simulated accelerator (`MOSAIC_SIM_DEVICES`): a memory space of its own, the CPU
    /// tile kernels, and real copies (with a modelled delay) to and from the host.
    Simulated,
}

/// One processor of the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Processor {
    /// Index among all processors: the CPU workers first (their worker number), then the
    /// accelerators. Trace events name it.
    pub index: usize,
    /// What it is.
    pub kind: ProcessorKind,
    /// The memory it reads and writes.
    pub memory: MemorySpace,
}

impl Processor {
    /// The `index`-th CPU worker.
    pub fn cpu(index: usize) -> Self {
        Processor {
            index,
            kind: ProcessorKind::Cpu,
            memory: MemorySpace::Host,
        }
    }

    /// Accelerator `device` (its memory is `Device(device)`), processor number `index`.
    pub(crate) fn device(index: usize, kind: ProcessorKind, device: usize) -> Self {
        Processor {
            index,
            kind,
            memory: MemorySpace::Device(device),
        }
    }

    /// The accelerator's number, if it is one.
    pub fn device_index(&self) -> Option<usize> {
        match self.memory {
            MemorySpace::Device(i) => Some(i),
            MemorySpace::Host => None,
        }
    }
}

/// Where tasks may run: any processor (the default), the CPUs, or one accelerator.
///
/// Given to [`crate::on`] for every task submitted inside it, or to one task with
/// [`crate::runtime::TaskOptions::target`]. Only tile kernels (the tasks `DArray`
/// operations emit) run on accelerators; a task that runs a closure is CPU code, and runs
/// on a CPU worker with its data brought home first.
///
/// ```
/// use mosaic::{on, Target};
/// use mosaic::prelude::*;
/// let a = DArray::<f64>::rand_seeded(AutoBlocks, 64, 64, 1);
/// let s = on(Target::cpu(), || a.sum())?;
/// assert!(s > 0.0);
/// # Ok::<(), mosaic::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Target(TargetKind);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
enum TargetKind {
    #[default]
    Any,
    Cpu,
    Device(usize),
    Cuda(usize),
}

impl Target {
    /// Any processor: the scheduler places each task by its estimated finish time.
    pub const fn any() -> Self {
        Target(TargetKind::Any)
    }

    /// The CPU workers.
    pub const fn cpu() -> Self {
        Target(TargetKind::Cpu)
    }

    /// Accelerator `i`, of any kind: the accelerators are numbered from 0, the CUDA devices
    /// first (in ordinal order, those that opened), then the simulated ones;
    /// `MemorySpace::Device(i)` is its memory.
    pub const fn device(i: usize) -> Self {
        Target(TargetKind::Device(i))
    }

    /// Accelerator `i` (numbered as in [`Target::device`]), only if it is a CUDA device.
    /// It is CUDA ordinal `i` unless a device before it failed to open (with a message).
    pub const fn cuda(i: usize) -> Self {
        Target(TargetKind::Cuda(i))
    }

    /// May a task with this target run on `p`?
    pub fn admits(&self, p: &Processor) -> bool {
        match self.0 {
            TargetKind::Any => true,
            TargetKind::Cpu => p.kind == ProcessorKind::Cpu,
            TargetKind::Device(i) => p.kind != ProcessorKind::Cpu && p.device_index() == Some(i),
            TargetKind::Cuda(i) => p.kind == ProcessorKind::Cuda && p.device_index() == Some(i),
        }
    }

    /// May a task with this target run on the CPU workers?
    pub(crate) fn admits_cpu(&self) -> bool {
        matches!(self.0, TargetKind::Any | TargetKind::Cpu)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            TargetKind::Any => write!(f, "any processor"),
            TargetKind::Cpu => write!(f, "the CPUs"),
            TargetKind::Device(i) => write!(f, "device {i}"),
            TargetKind::Cuda(i) => write!(f, "CUDA device {i}"),
        }
    }
}

/// Where a task runs: the kind of processor whose queue it goes to, and the memory space
/// its accesses are resolved in. The placement policy's answer (`sched/placement.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The processors that may run it.
    pub kind: ProcessorKind,
    /// Where its data must be valid when it starts.
    pub memory: MemorySpace,
}

impl Placed {
    /// A CPU worker, on host memory.
    pub const CPU: Placed = Placed {
        kind: ProcessorKind::Cpu,
        memory: MemorySpace::Host,
    };

    /// Where a task placed on `p` runs.
    pub fn on(p: &Processor) -> Placed {
        Placed {
            kind: p.kind,
            memory: p.memory,
        }
    }

    /// One byte for a task header: the kind in the high nibble, the space's slot in the
    /// low one (never `u8::MAX`).
    pub(crate) fn encode(self) -> u8 {
        let kind = match self.kind {
            ProcessorKind::Cpu => 0,
            ProcessorKind::Cuda => 1,
            ProcessorKind::Simulated => 2,
        };
        (kind << 4) | self.memory.index() as u8
    }

    /// The inverse of [`Placed::encode`].
    pub(crate) fn decode(code: u8) -> Placed {
        let kind = match code >> 4 {
            0 => ProcessorKind::Cpu,
            1 => ProcessorKind::Cuda,
            2 => ProcessorKind::Simulated,
            k => unreachable!("unknown processor kind code {k}"),
        };
        Placed {
            kind,
            memory: MemorySpace::from_index((code & 0xf) as usize),
        }
    }
}

/// A policy's answer: where, and how long the policy expects the task to take there
/// (seconds; 0 when it does not estimate), told back to it when the task has run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Decision {
    pub(crate) placed: Placed,
    pub(crate) estimate: f64,
}

impl From<Placed> for Decision {
    fn from(placed: Placed) -> Self {
        Decision {
            placed,
            estimate: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_survive_their_encoding() {
        for placed in [
            Placed::CPU,
            Placed::on(&Processor::device(3, ProcessorKind::Simulated, 0)),
            Placed::on(&Processor::device(4, ProcessorKind::Cuda, 1)),
        ] {
            assert_eq!(Placed::decode(placed.encode()), placed);
            assert_ne!(placed.encode(), u8::MAX);
        }
    }

    #[test]
    fn targets_admit_exactly_their_processors() {
        let cpu = Processor::cpu(0);
        let sim = Processor::device(2, ProcessorKind::Simulated, 0);
        let gpu = Processor::device(3, ProcessorKind::Cuda, 1);
        let admitted = |t: Target| [cpu, sim, gpu].map(|p| t.admits(&p));
        assert_eq!(admitted(Target::any()), [true, true, true]);
        assert_eq!(admitted(Target::cpu()), [true, false, false]);
        assert_eq!(admitted(Target::device(0)), [false, true, false]);
        assert_eq!(admitted(Target::device(1)), [false, false, true]);
        assert_eq!(admitted(Target::cuda(0)), [false, false, false]);
        assert_eq!(admitted(Target::cuda(1)), [false, false, true]);
        assert!(Target::any().admits_cpu() && Target::cpu().admits_cpu());
        assert!(!Target::device(0).admits_cpu());
    }
}
