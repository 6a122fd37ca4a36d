//! Processors: what executes tasks, each reading and writing one memory space.
//!
//! Today every processor is a CPU worker thread on host memory. CUDA devices (a processor
//! with a device memory space each) and MPI ranks come in as further variants; data objects
//! already keep a replica per [`MemorySpace`] (see `memory/`), and the placement policy
//! (`sched/placement.rs`) already answers with a processor kind and its memory space.

use crate::runtime::memory::MemorySpace;

/// The kinds of processor a task can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessorKind {
    /// A CPU worker thread.
    Cpu,
}

/// One processor of the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Processor {
    /// Index among all processors (for traces: the worker number for CPU workers).
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

    /// One byte for a task header: the kind in the high nibble, the space's index in the
    /// low one (never `u8::MAX`).
    pub(crate) fn encode(self) -> u8 {
        let kind = match self.kind {
            ProcessorKind::Cpu => 0,
        };
        (kind << 4) | self.memory.index() as u8
    }

    /// The inverse of [`Placed::encode`].
    pub(crate) fn decode(code: u8) -> Placed {
        // The CPU workers and the host are the only kind and space so far.
        debug_assert_eq!(code, Placed::CPU.encode(), "unknown placement code {code}");
        Placed::CPU
    }
}
