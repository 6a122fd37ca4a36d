//! mosaic on a CUDA GPU, for the comparison with the vendor peers (`gpu_peers`): the
//! product, Cholesky, LU and QR of n×n f64 matrices cut into b×b tiles, with every kernel
//! that has a CUDA implementation on GPU 0 (`on(Target::cuda(0))`: QR's panel kernels have
//! none and run on the CPUs, its updates on the GPU) and placed freely over the CPUs and
//! the GPU (`Target::any()`, the earliest-finish-time policy), and Cholesky out of core:
//! under a device budget of 1/1.5 of the matrix (QR up to n = 16384 only: its panels run
//! on the CPUs). One line per (routine, target, n):
//!
//! `gpu_mosaic routine=dpotrf target=cuda0 n=16384 tile=2048 seconds=… gflops=…`
//!
//! `cargo bench --features cuda --bench gpu_mosaic -- [tile] [n …]` (defaults: 2048;
//! 8192 16384 32768). The inputs are generated and made resident first; the operation
//! alone is timed, once after a warm-up at the smallest size, to the result's last tile
//! (`DArray::wait`). Without a CUDA device the bench says so and exits 0.

use std::time::Instant;

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace, ProcessorKind};
use mosaic::{on, Target};

/// The largest n QR is timed at.
const QR_MAX: usize = 16384;

fn spd(n: usize, b: usize) -> DArray<f64> {
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 1);
    &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * n as f64)
}

/// Seconds `f` takes to its result's last tile.
fn time(f: impl FnOnce() -> DArray<f64>) -> f64 {
    let t = Instant::now();
    let out = f();
    out.wait().expect("the operation succeeds");
    t.elapsed().as_secs_f64()
}

fn report(routine: &str, target: &str, n: usize, b: usize, flops: f64, seconds: f64) {
    println!(
        "gpu_mosaic routine={routine} target={target} n={n} tile={b} seconds={seconds:.4} gflops={:.1}",
        flops / seconds / 1e9
    );
}

fn main() {
    if !runtime::processors()
        .iter()
        .any(|p| p.kind == ProcessorKind::Cuda)
    {
        println!("gpu_mosaic: no CUDA device; nothing to measure");
        return;
    }
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|s| s.parse().ok()).collect();
    let b = args.first().copied().unwrap_or(2048);
    let sizes = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![8192, 16384, 32768]
    };
    let warm = spd(sizes[0].min(4096), b);
    on(Target::cuda(0), || warm.cholesky().map(|c| c.l().wait()))
        .unwrap()
        .unwrap()
        .unwrap();
    for &n in &sizes {
        let nf = n as f64;
        let a = spd(n, b);
        a.wait().unwrap();
        for (name, target) in [("cuda0", Target::cuda(0)), ("any", Target::any())] {
            let s = time(|| on(target, || &a * &a).unwrap());
            report("dgemm", name, n, b, 2.0 * nf * nf * nf, s);
            let s = time(|| on(target, || a.cholesky().unwrap().l().clone()).unwrap());
            report("dpotrf", name, n, b, nf * nf * nf / 3.0, s);
            let s = time(|| on(target, || a.lu().unwrap().u()).unwrap());
            report("dgetrf", name, n, b, 2.0 * nf * nf * nf / 3.0, s);
            // QR's panels run on the CPUs: past 16384 they could take minutes of the device
            // machine's time.
            if n <= QR_MAX {
                let s = time(|| on(target, || a.qr().unwrap().r()).unwrap());
                report("dgeqrf", name, n, b, 4.0 * nf * nf * nf / 3.0, s);
            }
        }
        // Out of core: the device budget holds two thirds of the matrix.
        let old = runtime::memory_limit(MemorySpace::Device(0));
        let budget = (n * n * 8) as f64 / 1.5;
        runtime::set_memory_limit(MemorySpace::Device(0), Some(budget as usize)).unwrap();
        let s = time(|| on(Target::cuda(0), || a.cholesky().unwrap().l().clone()).unwrap());
        runtime::set_memory_limit(MemorySpace::Device(0), old).unwrap();
        report("dpotrf_1.5x_budget", "cuda0", n, b, nf * nf * nf / 3.0, s);
    }
}
