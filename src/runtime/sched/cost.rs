//! The time model placement decides by: how long a kernel takes on a kind of processor,
//! per (kernel, tile shape), and how long moving bytes to a memory space takes.
//!
//! Kernel times are measured as the program runs (every kernel task's execution time is
//! recorded by the thread that ran it, as an exponentially weighted mean per key); a key
//! not seen yet is estimated from its flop count and the kind's rate, which a short
//! calibration measures when the runtime starts with accelerators (a few CPU `gemm`s).
//! Transfer times come from the link of the device at either end (`memory/device.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::runtime::graph::AccessRecord;
use crate::runtime::memory::{device, space};
use crate::runtime::processor::ProcessorKind;

/// What identifies a kernel's cost: its name, its operands' shapes, the processor kind.
pub(crate) type Key = (&'static str, u64, ProcessorKind);

/// The shapes of a task's operands, hashed into one number (the first three accesses:
/// a tile kernel's cost depends on its operands' dimensions).
pub(crate) fn shape_key(accesses: &[AccessRecord]) -> u64 {
    accesses.iter().take(3).fold(0xcbf2_9ce4_8422_2325, |h: u64, a| {
        let [r, c] = a.geometry.len;
        (h ^ ((r as u64) << 32 | c as u64)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Fixed cost of any task, in seconds: what a task's dispatch costs beyond its kernel.
const TASK_OVERHEAD: f64 = 2e-6;

/// Weight of a new measurement in the running mean.
const WEIGHT: f64 = 0.25;

/// The model.
#[derive(Debug)]
pub(crate) struct CostModel {
    /// Seconds per key, measured.
    measured: Mutex<HashMap<Key, f64>>,
    /// Flops per second of one CPU worker, for kernels not measured yet.
    cpu_rate: f64,
    /// Bytes per second one CPU worker writes or reads, for the same.
    cpu_bandwidth: f64,
    /// How many times a CPU worker's time a simulated device takes for an unmeasured
    /// kernel.
    device_factor: f64,
}

impl CostModel {
    /// A model whose unmeasured kernels run at `cpu_rate` flop/s and `cpu_bandwidth`
    /// bytes/s on a CPU worker and take `device_factor` times as long on a simulated
    /// device.
    pub(crate) fn new(cpu_rate: f64, cpu_bandwidth: f64, device_factor: f64) -> Self {
        CostModel {
            measured: Mutex::new(HashMap::new()),
            cpu_rate,
            cpu_bandwidth,
            device_factor,
        }
    }

    /// Seconds a kernel named by `key`, of `flops` on `bytes` of operands, takes: measured,
    /// or, until it is, the longer of its flops at the kind's rate and its bytes at the
    /// kind's bandwidth (a kernel without flops, a fill or a copy, costs its bytes).
    pub(crate) fn kernel(&self, key: Key, flops: f64, bytes: usize) -> f64 {
        if let Some(&t) = self.measured.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return t;
        }
        let cpu = TASK_OVERHEAD + (flops / self.cpu_rate).max(bytes as f64 / self.cpu_bandwidth);
        match key.2 {
            ProcessorKind::Cpu => cpu,
            ProcessorKind::Simulated => cpu * self.device_factor,
            // A GPU of the H100's class: ~50 Tflop/s f64 at large tiles, ~5 µs a launch.
            ProcessorKind::Cuda => 5e-6 + (flops / 50e12).max(bytes as f64 / 2e12),
        }
    }

    /// Records that a kernel named by `key` took `took`.
    pub(crate) fn record(&self, key: Key, took: Duration) {
        let t = took.as_secs_f64();
        let mut m = self.measured.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(key)
            .and_modify(|mean| *mean += WEIGHT * (t - *mean))
            .or_insert(t);
    }

    /// Sets the time of `key` (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn set(&self, key: Key, seconds: f64) {
        self.measured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, seconds);
    }
}

/// Seconds to copy `bytes` from replica slot `from` to slot `to` (0 within one space).
pub(crate) fn transfer(from: usize, to: usize, bytes: usize) -> f64 {
    if from == to {
        return 0.0;
    }
    [from, to]
        .into_iter()
        .filter_map(space::device_of)
        .filter_map(device::link)
        .map(|l| l.copy_time(bytes).as_secs_f64())
        .sum()
}

/// Bytes per second one CPU worker writes into fresh memory (page faults included, as
/// for a tile's first materialization): the median of a few 8 MiB fills of new buffers on
/// the calling thread (a few milliseconds in all).
pub(crate) fn calibrate_bandwidth() -> f64 {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            let v = std::hint::black_box(vec![1.0f64; 1 << 20]);
            drop(v);
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (8 << 20) as f64 / times[2].max(1e-9)
}

/// Flops per second of one CPU worker running a `gemm` tile kernel: the median of a few
/// 192 × 192 products on the calling thread (about a millisecond in all).
pub(crate) fn calibrate_cpu() -> f64 {
    use crate::backend::{Backend, Cpu, Trans};
    let n = 192;
    let a = ndarray::Array2::<f64>::from_elem((n, n), 0.5);
    let mut c = ndarray::Array2::<f64>::zeros((n, n));
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            Cpu.gemm(1.0, a.view(), Trans::No, a.view(), Trans::No, 0.0, c.view_mut());
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    2.0 * (n * n * n) as f64 / times[2].max(1e-9)
}
