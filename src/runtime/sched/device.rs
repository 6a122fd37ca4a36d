//! Accelerators as processors: one ready queue and one executor thread per device.
//!
//! A task placed on device `d` (a tile kernel: `placement.rs`) goes to that device's
//! queue when it is ready. The device's executor pops it (highest priority first), makes
//! its accesses valid in the device's memory (copies from the host, usually started
//! already by the transfer thread when the task became ready: `graph/deps.rs`), runs its
//! kernel there, and releases them: what it wrote stays on the device until a task
//! elsewhere reads it.
//!
//! A simulated device (`MOSAIC_SIM_DEVICES`) runs the CPU tile kernel on the device
//! replicas, on its executor thread, then, if its configured slowdown is above 1, holds
//! the task for the rest of the modelled kernel time (`memory/device.rs` has the rest of
//! the simulation: separate memory, copies that take the link's time).
//!
//! A CUDA device has one executor thread per compute stream (`COMPUTE_STREAMS`), all
//! popping from its queue: each runs a task's CUDA kernels on its own stream and waits for
//! them before releasing the task's data, so up to that many kernels run on the device at
//! once, and the copies of the transfer thread (on the copy streams) overlap them.

use super::queue::ReadyQueue;
use super::worker;
use crate::runtime::graph::access::Exec;
use crate::runtime::graph::task::TaskRef;
use crate::runtime::processor::Processor;
use crate::runtime::Runtime;

/// One accelerator's scheduling state.
pub(crate) struct Device {
    pub(crate) processor: Processor,
    pub(crate) queue: ReadyQueue<TaskRef>,
    /// A simulated kernel lasts this many times its CPU time (≥ 1).
    pub(crate) slowdown: f64,
}

impl Device {
    pub(crate) fn new(processor: Processor, slowdown: f64) -> Self {
        Device {
            processor,
            queue: ReadyQueue::new(),
            slowdown: slowdown.max(1.0),
        }
    }
}

/// How many empty polls an idle executor makes before sleeping.
const SPIN_ROUNDS: u32 = 16;

/// Starts the executor threads of device `d` of `rt`: one per stream of a CUDA device,
/// one for a simulated device.
pub(crate) fn spawn_executors(rt: &'static Runtime, d: usize) {
    for exec in executors(d) {
        std::thread::Builder::new()
            .name(format!("mosaic-device-{d}"))
            .stack_size(4 << 20)
            .spawn(move || executor_main(rt, d, exec))
            .expect("mosaic: failed to start a device executor");
    }
}

/// What each executor thread of device `d` hands its tasks.
fn executors(d: usize) -> Vec<Exec> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = crate::runtime::memory::device::gpu(d) {
        use crate::backend::cuda::{Launch, COMPUTE_STREAMS};
        return (0..COMPUTE_STREAMS)
            .map(|stream| Exec::Cuda(Launch { gpu, stream }))
            .collect();
    }
    let _ = d;
    vec![Exec::Host]
}

fn executor_main(rt: &'static Runtime, d: usize, exec: Exec) {
    let device = &rt.devices[d];
    let mut next = None;
    loop {
        let task = match next.take() {
            Some(task) => task,
            None => {
                device.queue.start_search();
                let found = (0..SPIN_ROUNDS).find_map(|_| {
                    let t = device.queue.try_pop_searching();
                    if t.is_none() {
                        std::thread::yield_now();
                    }
                    t
                });
                found.unwrap_or_else(|| device.queue.sleep_pop())
            }
        };
        next = worker::execute_on_device(rt, task, device, exec);
    }
}
