//! CUDA devices (feature `cuda`), on a machine with a GPU: kernels run where `on` says, with
//! their results checked against the CPU's (bitwise for mosaic's own elementwise kernels,
//! by LAPACK-style residuals for cuBLAS and cuSOLVER), out-of-core under a device budget,
//! a failing factorization, and CPUs and the GPU together.
//!
//! Without a CUDA device (every CI machine), each test prints why and passes, unless
//! `MOSAIC_REQUIRE_GPU=1` (the device script, `scripts/gpu-check.sh`), which makes it fail.
#![cfg(feature = "cuda")]

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace, ProcessorKind};
use mosaic::{on, Target};

/// One test at a time (traces and device statistics are global); `None`, after saying
/// why, when there is no CUDA device.
fn gpu() -> Option<std::sync::MutexGuard<'static, ()>> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if runtime::processors()
        .iter()
        .any(|p| p.kind == ProcessorKind::Cuda)
    {
        return Some(guard);
    }
    let why = "no CUDA device (no GPU, no driver, or libcublas/libcusolver not found)";
    assert!(
        std::env::var("MOSAIC_REQUIRE_GPU").as_deref() != Ok("1"),
        "MOSAIC_REQUIRE_GPU=1 but {why}"
    );
    println!("skipped: {why}");
    None
}

/// The processor row of CUDA device 0 in traces.
fn cuda_row() -> usize {
    runtime::processors()
        .iter()
        .find(|p| p.kind == ProcessorKind::Cuda && p.device_index() == Some(0))
        .expect("CUDA device 0")
        .index
}

/// How many tasks named `kernel` ran on CUDA device 0 in `trace`.
fn ran_on_gpu(trace: &mosaic::trace::Trace, kernel: &str) -> usize {
    let row = cuda_row();
    trace
        .events()
        .iter()
        .filter(|e| e.worker == Some(row) && e.name == kernel)
        .count()
}

fn spd(n: usize, b: usize, seed: u64) -> DArray<f64> {
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, seed);
    &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * n as f64)
}

/// ‖a − b‖_F / (‖a‖_F · n · ε), computed on the CPUs.
fn scaled_difference(a: &DArray<f64>, b: &DArray<f64>, n: usize) -> f64 {
    on(Target::cpu(), || {
        (a - b).norm_fro() / (a.norm_fro() * n as f64 * f64::EPSILON)
    })
    .unwrap()
}

#[test]
fn elementwise_kernels_on_the_gpu_equal_the_cpus_bitwise() {
    let Some(_one) = gpu() else { return };
    let program = || {
        let a = DArray::<f64>::rand_seeded(Blocks(96, 80), 300, 250, 1);
        let b = DArray::<f64>::randn_seeded(Blocks(96, 80), 300, 250, 2);
        let mut c = &(&(&a + &b) - &a.hadamard(&b)) / 3.0;
        c += &a;
        c -= &b;
        c *= 0.5;
        let d = &(&c * 2.0) / 4.0;
        // The sums: each tile's on the device, in the CPU's order.
        let (sum, norm) = (d.sum(), d.norm_fro());
        let mut all = d.clone().t().to_ndarray().into_raw_vec_and_offset().0;
        all.extend([sum, norm]);
        all
    };
    let cpu = on(Target::cpu(), program).unwrap();
    mosaic::trace::start();
    let gpu = on(Target::cuda(0), program).unwrap();
    let trace = mosaic::trace::stop();
    assert!(
        cpu.iter()
            .zip(gpu.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits()),
        "the GPU's elementwise results or sums differ from the CPU's"
    );
    let row = cuda_row();
    let on_gpu = trace.events().iter().filter(|e| e.worker == Some(row)).count();
    assert!(on_gpu > 0, "no kernel ran on the GPU");
}

#[test]
fn a_product_on_the_gpu_matches_the_cpus_to_rounding() {
    let Some(_one) = gpu() else { return };
    let a = DArray::<f64>::rand_seeded(Blocks(256, 256), 1000, 900, 3);
    let b = DArray::<f64>::randn_seeded(Blocks(256, 256), 900, 1100, 4);
    let cpu = on(Target::cpu(), || &a * &b).unwrap();
    let gpu = on(Target::cuda(0), || &a * &b).unwrap();
    let r = scaled_difference(&cpu, &gpu, 900);
    println!("gemm: ‖C_cpu − C_gpu‖ / (‖C‖ k ε) = {r:.3}");
    assert!(r < 10.0, "{r}");
}

#[test]
fn factorizations_on_the_gpu_have_small_residuals() {
    let Some(_one) = gpu() else { return };
    let n = 1500;
    let a = spd(n, 256, 5);
    let l = on(Target::cuda(0), || a.cholesky().map(|c| c.l().clone()))
        .unwrap()
        .unwrap();
    let r = scaled_difference(&a, &on(Target::cpu(), || &l * &l.t()).unwrap(), n);
    println!("cholesky: ‖A − L·Lᵀ‖ / (‖A‖ n ε) = {r:.3}");
    assert!(r < 10.0, "{r}");
    // LU runs on the GPU whole.
    let g = DArray::<f64>::rand_seeded(Blocks(256, 256), n, n, 6);
    let (p, l, u) = on(Target::cuda(0), || g.lu().map(|f| (f.p(), f.l(), f.u())))
        .unwrap()
        .unwrap();
    let pa = DArray::from_ndarray(&g.to_ndarray().select(ndarray::Axis(0), &p), Blocks(256, 256));
    let r = scaled_difference(&pa, &on(Target::cpu(), || &l * &u).unwrap(), n);
    println!("lu: ‖P·A − L·U‖ / (‖A‖ n ε) = {r:.3}");
    assert!(r < 10.0, "{r}");
    mosaic::trace::start();
    let (q, rr) = on(Target::cuda(0), || g.qr().map(|f| (f.q(), f.r())))
        .unwrap()
        .unwrap();
    rr.wait().unwrap();
    let trace = mosaic::trace::stop();
    // A square QR's flat tree: its updates (unmqr, tsmqr) on the GPU, its panels on the CPUs.
    for kernel in ["unmqr", "tsmqr"] {
        assert!(ran_on_gpu(&trace, kernel) > 0, "no {kernel} ran on the GPU");
    }
    let r = scaled_difference(&g, &on(Target::cpu(), || &q * &rr).unwrap(), n);
    println!("qr: ‖A − Q·R‖ / (‖A‖ n ε) = {r:.3}");
    assert!(r < 10.0, "{r}");
}

#[test]
fn least_squares_on_the_gpu_agrees_with_the_cpus() {
    let Some(_gpu) = gpu() else { return };
    // Six tiles tall, two wide: the binary-tree QR (ttqrt/ttmqr), and Qᵀ applied to b, with
    // the reflector applications on the GPU and the panels on the CPUs.
    let (m, n) = (1536, 512);
    let a = DArray::<f64>::rand_seeded(Blocks(256, 256), m, n, 8);
    let b = DArray::<f64>::rand_seeded(Blocks(256, 256), m, 3, 9);
    let solve = |target| {
        on(target, || a.qr().and_then(|f| f.solve_least_squares(&b)))
            .unwrap()
            .unwrap()
            .to_ndarray()
    };
    mosaic::trace::start();
    let gpu = solve(Target::cuda(0));
    let trace = mosaic::trace::stop();
    let cpu = solve(Target::cpu());
    for kernel in ["unmqr", "ttmqr"] {
        assert!(ran_on_gpu(&trace, kernel) > 0, "no {kernel} ran on the GPU");
    }
    let difference = (&gpu - &cpu).iter().map(|x| x * x).sum::<f64>().sqrt();
    let size = cpu.iter().map(|x| x * x).sum::<f64>().sqrt();
    println!(
        "least squares: ‖x_gpu − x_cpu‖ / ‖x_cpu‖ = {:.3e}",
        difference / size
    );
    // A random 1536 × 512 matrix is well conditioned (κ of order 10²): the two solutions
    // agree to well within 10³·m·ε.
    assert!(
        difference <= 1e3 * f64::EPSILON * m as f64 * size,
        "{difference} vs {size}"
    );
}

#[test]
fn a_matrix_that_is_not_positive_definite_fails_on_the_gpu_as_on_the_cpu() {
    let Some(_one) = gpu() else { return };
    let mut a = spd(600, 128, 7);
    a -= &(&DArray::eye(Blocks(128, 128), 600) * 1e6);
    let cpu = on(Target::cpu(), || a.cholesky().map(|_| ())).unwrap();
    let gpu = on(Target::cuda(0), || a.cholesky().map(|_| ())).unwrap();
    let index = |r: mosaic::Result<()>| match r {
        Err(Error::NotPositiveDefinite { index }) => index,
        other => panic!("expected NotPositiveDefinite, got {other:?}"),
    };
    assert_eq!(index(cpu), index(gpu));
    // The runtime goes on.
    assert!(on(Target::cuda(0), || spd(300, 128, 8).cholesky().is_ok()).unwrap());
}

#[test]
fn a_matrix_larger_than_the_device_budget_factors_out_of_core() {
    let Some(_one) = gpu() else { return };
    // 3000² f64 is 72 MiB, through a 24 MiB budget.
    let n = 3000;
    let a = spd(n, 500, 9);
    let old = runtime::memory_limit(MemorySpace::Device(0));
    runtime::set_memory_limit(MemorySpace::Device(0), Some(24 << 20)).unwrap();
    let before = runtime::memory_stats(MemorySpace::Device(0));
    let l = on(Target::cuda(0), || a.cholesky().map(|c| c.l().clone()));
    let stats = runtime::memory_stats(MemorySpace::Device(0));
    runtime::set_memory_limit(MemorySpace::Device(0), old).unwrap();
    let l = l.unwrap().unwrap();
    let r = scaled_difference(&a, &on(Target::cpu(), || &l * &l.t()).unwrap(), n);
    println!("out-of-core cholesky: residual {r:.3}, {stats:?}");
    assert!(r < 10.0, "{r}");
    assert!(stats.peak <= 24 << 20, "peak {} over the budget", stats.peak);
    assert!(stats.evictions > before.evictions, "{stats:?}");
}

#[test]
fn cpus_and_the_gpu_share_a_factorization() {
    let Some(_one) = gpu() else { return };
    let n = 4096;
    let a = spd(n, 512, 10);
    mosaic::trace::start();
    let l = a.cholesky().map(|c| c.l().clone()).unwrap();
    let trace = mosaic::trace::stop();
    let r = scaled_difference(&a, &on(Target::cpu(), || &l * &l.t()).unwrap(), n);
    let row = cuda_row();
    let kernels: Vec<_> = trace.events().iter().filter(|e| !e.transfer).collect();
    let on_gpu = kernels.iter().filter(|e| e.worker == Some(row)).count();
    println!(
        "cholesky n={n}: {on_gpu} of {} tasks on the GPU, residual {r:.3}",
        kernels.len()
    );
    assert!(r < 10.0, "{r}");
}
