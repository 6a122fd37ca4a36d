//! Placement on a simulated accelerator: factor a matrix with its kernels placed by the
//! runtime's policy and report the modelled makespan, the tasks per processor and the
//! bytes moved between host and device; write the Gantt chart.
//!
//! ```text
//! MOSAIC_PLACEMENT=eft cargo run --release --example placement -- potrf 4096 512 600 gantt.svg
//! #                                                                op    n    tile ratio chart
//! ```
//! `op` is `potrf` (Cholesky) or `getrf` (LU); `MOSAIC_PLACEMENT` is `eft` (the default),
//! `round-robin` or `device` (every kernel on the device). The device is simulated
//! (`runtime::SimulatedDevices`) as `ratio` times as fast as one CPU worker with a link of
//! 25 GB/s and 10 µs per copy (a PCIe 5 GPU). The simulation dilates time: the device
//! computes at the CPU's own speed, every CPU task is held `ratio` times its length and
//! every copy lasts `ratio` times its modelled time, so the makespan printed is the wall
//! time divided by `ratio`. The matrix (uniform random plus n·I) is generated first, its
//! tiles placed by the same policy; the factorization alone is timed. One line of
//! `key=value` figures is printed.

use std::time::{Duration, Instant};

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace, ProcessorKind, SimulatedDevices};

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let op = args.first().map_or("potrf", String::as_str).to_owned();
    let n: usize = args.get(1).map_or(2048, |s| s.parse().expect("n"));
    let b: usize = args.get(2).map_or(512, |s| s.parse().expect("tile size"));
    let ratio: f64 = args.get(3).map_or(100.0, |s| s.parse().expect("ratio"));
    let chart = args.get(4).cloned();
    let sim = SimulatedDevices {
        count: 1,
        memory: 64 << 30,
        bandwidth: 25e9 / ratio,
        latency: Duration::from_micros(10).mul_f64(ratio),
        slowdown: 1.0,
        cpu_slowdown: ratio,
    };
    assert!(runtime::set_simulated_devices(sim));
    let policy = std::env::var("MOSAIC_PLACEMENT").unwrap_or_else(|_| "eft".into());
    let a = &DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 7)
        + &(&DArray::<f64>::eye(Blocks(b, b), n) * n as f64);
    a.wait()?;
    let moved = || {
        let d = runtime::memory_stats(MemorySpace::Device(0));
        d.copied_in + d.copied_out
    };
    let before = moved();
    mosaic::trace::start();
    let start = Instant::now();
    let nf = n as f64;
    let flops = match op.as_str() {
        "potrf" => {
            a.cholesky()?.l().wait()?;
            nf * nf * nf / 3.0
        }
        "getrf" => {
            a.lu()?.u().wait()?;
            2.0 * nf * nf * nf / 3.0
        }
        other => panic!("unknown op {other}: potrf or getrf"),
    };
    let wall = start.elapsed().as_secs_f64();
    let trace = mosaic::trace::stop();
    let bytes = moved() - before;
    let device_row = runtime::processors()
        .iter()
        .find(|p| p.kind == ProcessorKind::Simulated)
        .map(|p| p.index);
    let tasks: Vec<_> = trace.events().iter().filter(|e| !e.transfer).collect();
    let on_device = tasks.iter().filter(|e| e.worker == device_row).count();
    let makespan = wall / ratio;
    println!(
        "placement op={op} policy={policy} n={n} tile={b} ratio={ratio} makespan_s={makespan:.6} \
         gflops={:.1} tasks={} on_device={on_device} on_cpus={} moved_mib={:.1}",
        flops / makespan / 1e9,
        tasks.len(),
        tasks.len() - on_device,
        bytes as f64 / (1u64 << 20) as f64
    );
    if std::env::var_os("PLACEMENT_DETAIL").is_some() {
        for e in &tasks {
            eprintln!(
                "{} {} {:?} {:.3}ms {}",
                e.task,
                e.name,
                e.worker,
                (e.end_ns - e.start_ns) as f64 / 1e6,
                e.bytes
            );
        }
    }
    if let Some(path) = chart {
        trace.write_gantt_svg(&path).expect("the chart");
    }
    Ok(())
}
