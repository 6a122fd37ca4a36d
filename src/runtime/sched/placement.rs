//! Placement: which kind of processor runs a task, and in which memory space its data
//! must be valid when it starts.
//!
//! `Runtime::submit` asks the policy once per task, with what is known of it at
//! submission: its name, priority, flop count and accesses (objects, modes, footprints,
//! sizes, and where each object is valid now). The answer is written in the task's header;
//! the ready task goes to that kind's queue, and the worker that runs it resolves every
//! access in that memory space (`worker.rs`, step 3). With CPU workers only, the one
//! policy is [`CpuOnly`]; with devices, the estimated-finish-time policy of DESIGN §2.3
//! (kernel time per processor kind plus the transfer time of the missing inputs) is a
//! second implementation of the same trait.

use std::fmt::Debug;

use crate::runtime::graph::AccessRecord;
use crate::runtime::processor::{Placed, Processor};

/// What a placement policy is told about a task. [`CpuOnly`] needs none of it; a policy
/// that weighs tasks (by flops, by where their data is valid) reads it.
#[derive(Debug)]
#[cfg_attr(any(not(test), loom), allow(dead_code))]
pub(crate) struct TaskInfo<'a> {
    pub(crate) name: &'static str,
    pub(crate) priority: i32,
    pub(crate) flops: f64,
    pub(crate) accesses: &'a [AccessRecord],
}

/// A placement policy.
pub(crate) trait Placement: Send + Sync + Debug {
    /// Where `task` runs, among `processors` (never empty). The answer must name a kind
    /// of processor present in `processors`, and its memory space.
    fn place(&self, task: &TaskInfo<'_>, processors: &[Processor]) -> Placed;
}

/// Every task on the CPU workers, in host memory: the policy while the CPU workers are
/// the only processors.
#[derive(Debug, Default)]
pub(crate) struct CpuOnly;

impl Placement for CpuOnly {
    fn place(&self, _task: &TaskInfo<'_>, _processors: &[Processor]) -> Placed {
        Placed::CPU
    }
}
