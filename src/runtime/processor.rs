//! Processors and memory spaces.
//!
//! A processor executes tasks and reads and writes one memory space. Today every
//! processor is a CPU worker thread on host memory. CUDA devices (each a processor with a
//! device memory space) and MPI ranks (remote host memory) come in as further variants;
//! data objects already track their replicas per [`MemorySpace`] (see `data.rs`), so a
//! task placed on a device will find which inputs must be copied there.

/// The kinds of processor a task can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessorKind {
    /// A CPU worker thread.
    Cpu,
}

/// Where a replica of a data object can live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemorySpace {
    /// The process's own memory.
    Host,
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
