//! Simulated accelerators (`runtime::set_simulated_devices`, as `MOSAIC_SIM_DEVICES` does):
//! every operation gives bitwise the CPU's result whether its kernels run on the CPUs, on
//! a device, or wherever placement puts them; `on` scoping and `NoProcessor`; device
//! budgets with eviction to the host; a failing kernel on a device.

use mosaic::backend::{Backend, Cpu, Diag, Side, Trans, Uplo};
use mosaic::linalg::Linalg;
use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace, ProcessorKind, SimulatedDevices};
use mosaic::{on, Target};
use ndarray::Array2;

/// Two simulated devices of 64 MiB, a fast link (the tests are about results, not time).
/// One test at a time: some look at traces and device statistics, which are global.
fn setup() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sim = SimulatedDevices {
        count: 2,
        memory: 64 << 20,
        bandwidth: 50e9,
        latency: std::time::Duration::from_micros(1),
        ..SimulatedDevices::default()
    };
    assert!(
        runtime::set_simulated_devices(sim),
        "the runtime started without the devices"
    );
    let kinds: Vec<ProcessorKind> = runtime::processors().iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds.iter().filter(|&&k| k == ProcessorKind::Simulated).count(),
        2
    );
    guard
}

/// `f` run with every kernel on the CPUs, on device 0, on device 1, and placed freely:
/// the four results, which must be bitwise equal.
fn everywhere(name: &str, f: impl Fn() -> Array2<f64>) {
    let _one = setup();
    let cpu = on(Target::cpu(), &f).unwrap();
    for target in [Target::device(0), Target::device(1), Target::any()] {
        let there = on(target, &f).unwrap();
        assert_eq!(cpu.shape(), there.shape(), "{name} on {target}");
        let same = cpu
            .iter()
            .zip(there.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name} on {target} differs from the CPU's");
    }
}

fn spd(n: usize, b: usize, seed: u64) -> DArray<f64> {
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, seed);
    &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * n as f64)
}

#[test]
fn products_and_elementwise_operations_equal_the_cpus_bitwise() {
    everywhere("matmul", || {
        let a = DArray::<f64>::rand_seeded(Blocks(48, 40), 150, 130, 1);
        let b = DArray::<f64>::randn_seeded(Blocks(40, 56), 130, 170, 2);
        (&a * &b).to_ndarray()
    });
    everywhere("elementwise", || {
        let a = DArray::<f64>::rand_seeded(Blocks(32, 32), 100, 90, 3);
        let b = DArray::<f64>::ones(Blocks(32, 32), 100, 90);
        let mut c = &(&a + &b) - &a.hadamard(&b);
        c *= 3.0;
        c += &a;
        (&c.t() * 2.0).to_ndarray()
    });
}

#[test]
fn factorizations_and_solves_equal_the_cpus_bitwise() {
    everywhere("cholesky", || {
        spd(200, 64, 4).cholesky().unwrap().l().to_ndarray()
    });
    everywhere("cholesky solve", || {
        let b = DArray::<f64>::rand_seeded(Blocks(64, 64), 200, 3, 5);
        spd(200, 64, 4)
            .cholesky()
            .unwrap()
            .solve(&b)
            .unwrap()
            .to_ndarray()
    });
    everywhere("lu", || {
        let a = DArray::<f64>::rand_seeded(Blocks(50, 50), 180, 180, 6);
        let lu = a.lu().unwrap();
        let (l, u) = (lu.l(), lu.u());
        ndarray::concatenate![ndarray::Axis(1), l.to_ndarray(), u.to_ndarray()]
    });
    everywhere("qr", || {
        let a = DArray::<f64>::rand_seeded(Blocks(40, 40), 170, 90, 7);
        let qr = a.qr().unwrap();
        ndarray::concatenate![ndarray::Axis(0), qr.q().to_ndarray(), qr.r().to_ndarray()]
    });
    everywhere("least squares", || {
        let a = DArray::<f64>::rand_seeded(Blocks(40, 40), 170, 90, 7);
        let b = DArray::<f64>::rand_seeded(Blocks(40, 40), 170, 2, 8);
        a.qr().unwrap().solve_least_squares(&b).unwrap().to_ndarray()
    });
    everywhere("inverse", || spd(130, 32, 9).inv().unwrap().to_ndarray());
}

#[test]
fn solves_determinants_and_the_other_operations_equal_the_cpus_bitwise() {
    everywhere("triangular solve", || {
        let u = &spd(150, 48, 14) + &DArray::eye(Blocks(48, 48), 150);
        let mut x = DArray::<f64>::rand_seeded(Blocks(48, 30), 150, 70, 15);
        mosaic::linalg::trsm(
            Side::Left,
            Uplo::Upper,
            Trans::Yes,
            Diag::NonUnit,
            2.0,
            &u,
            &mut x,
        )
        .unwrap();
        x.to_ndarray()
    });
    everywhere("lu solve and det", || {
        let a = DArray::<f64>::rand_seeded(Blocks(40, 40), 160, 160, 16);
        let b = DArray::<f64>::rand_seeded(Blocks(40, 40), 160, 5, 17);
        let lu = a.lu().unwrap();
        let mut x = lu.solve(&b).unwrap().to_ndarray();
        x[(0, 0)] += lu.det().unwrap();
        x
    });
    everywhere("lu without pivoting", || {
        let a = spd(140, 48, 18);
        a.lu_with(mosaic::linalg::Pivot::NoPivot)
            .unwrap()
            .u()
            .to_ndarray()
    });
    everywhere("apply Qᵀ", || {
        let a = DArray::<f64>::rand_seeded(Blocks(32, 32), 120, 60, 19);
        let mut c = DArray::<f64>::rand_seeded(Blocks(32, 32), 120, 7, 20);
        a.into_qr().unwrap().apply_qt(&mut c).unwrap();
        c.to_ndarray()
    });
    everywhere("scalar division, in-place difference, copies", || {
        let a = DArray::<f64>::randn_seeded(Blocks(32, 24), 90, 70, 21);
        let mut b = &a / 3.0;
        b -= &a.clone();
        b /= 7.0;
        (&b - &a.t().t()).to_ndarray()
    });
}

#[test]
fn kernels_run_where_on_says_and_results_come_home() {
    let _one = setup();
    mosaic::trace::start();
    let c = on(Target::device(1), || {
        let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 128, 128, 10);
        &a * &a
    })
    .unwrap();
    let before = runtime::memory_stats(MemorySpace::Device(1));
    let host = c.to_ndarray();
    let trace = mosaic::trace::stop();
    let device_row = runtime::processors()
        .iter()
        .find(|p| p.kind == ProcessorKind::Simulated && p.device_index() == Some(1))
        .unwrap()
        .index;
    let gemms: Vec<_> = trace.events().iter().filter(|e| e.name == "gemm").collect();
    assert_eq!(gemms.len(), 8);
    assert!(gemms.iter().all(|e| e.worker == Some(device_row)), "{gemms:?}");
    // The copy out ran on a CPU (a worker, or this thread while it waited), which brought
    // the tiles home.
    let copies: Vec<_> = trace.events().iter().filter(|e| e.name == "to_ndarray").collect();
    assert!(!copies.is_empty());
    assert!(copies
        .iter()
        .all(|e| e.worker.is_none_or(|w| w < mosaic::num_threads())));
    let after = runtime::memory_stats(MemorySpace::Device(1));
    assert!(after.copied_out >= before.copied_out + 128 * 128 * 8);
    let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 128, 128, 10);
    assert_eq!(host, on(Target::cpu(), || &a * &a).unwrap().to_ndarray());
}

#[test]
fn a_target_without_a_processor_is_an_error() {
    let _one = setup();
    for target in [Target::cuda(0), Target::device(2)] {
        let r = on(target, || 1);
        assert!(matches!(r, Err(Error::NoProcessor { .. })), "{target}: {r:?}");
    }
    // A closure pinned to a device is CPU code: its task fails, the runtime goes on.
    let t = mosaic::Tile::<f64>::zeros(4, 4);
    let f = mosaic::datadeps::spawn_with(
        TaskOptions::named("closure").target(Target::device(0)),
        (InOut(t.clone()),),
        |(mut v,)| v.fill(1.0),
    );
    assert!(matches!(f.wait(), Err(Error::NoProcessor { .. })));
    // Under `on(device)`, closures run on the CPUs.
    let s = on(Target::device(0), || {
        DArray::<f64>::ones(Blocks(8, 8), 16, 16).map(|x| x + 1.0).sum()
    })
    .unwrap();
    assert_eq!(s, 512.0);
}

#[test]
fn a_device_budget_evicts_to_the_host_and_loses_nothing() {
    let _one = setup();
    // 24 tiles of 512 KiB (12 MiB) through device 1 under a 4 MiB budget.
    let old = runtime::memory_limit(MemorySpace::Device(1));
    runtime::set_memory_limit(MemorySpace::Device(1), Some(4 << 20)).unwrap();
    let before = runtime::memory_stats(MemorySpace::Device(1));
    let a = DArray::<f64>::rand_seeded(Blocks(256, 256), 1024, 1536, 11);
    let b = on(Target::device(1), || &(&a * 2.0) + &a).unwrap();
    let got = b.to_ndarray();
    let stats = runtime::memory_stats(MemorySpace::Device(1));
    runtime::set_memory_limit(MemorySpace::Device(1), old).unwrap();
    assert_eq!(got, a.to_ndarray().mapv(|x| x * 2.0 + x));
    assert!(stats.peak <= 4 << 20, "peak {} over the budget", stats.peak);
    assert!(stats.evictions > before.evictions, "{stats:?}");
    // A task whose own data exceeds the device's budget fails with OutOfMemory.
    runtime::set_memory_limit(MemorySpace::Device(1), Some(1 << 20)).unwrap();
    let big = DArray::<f64>::rand_seeded(Blocks(512, 512), 512, 512, 12);
    let r = on(Target::device(1), || (&big * &big).try_to_ndarray()).unwrap();
    runtime::set_memory_limit(MemorySpace::Device(1), old).unwrap();
    assert!(
        matches!(
            r,
            Err(Error::OutOfMemory {
                space: MemorySpace::Device(1),
                ..
            })
        ),
        "{r:?}"
    );
    // The runtime goes on.
    assert_eq!(
        on(Target::device(1), || (&big * 2.0).sum()).unwrap(),
        big.sum() * 2.0
    );
}

/// The CPU's kernels, except that `trsm` panics.
#[derive(Clone, Debug)]
struct FaultyTrsm;

// SAFETY: every kernel is the CPU backend's (which honours the contract), or panics before
// touching anything.
unsafe impl Backend for FaultyTrsm {
    fn gemm<T: mosaic::Scalar>(
        &self,
        alpha: T,
        a: ndarray::ArrayView2<'_, T>,
        ta: Trans,
        b: ndarray::ArrayView2<'_, T>,
        tb: Trans,
        beta: T,
        c: ndarray::ArrayViewMut2<'_, T>,
    ) {
        Cpu.gemm(alpha, a, ta, b, tb, beta, c)
    }
    fn syrk<T: mosaic::Scalar>(
        &self,
        uplo: Uplo,
        trans: Trans,
        alpha: T,
        a: ndarray::ArrayView2<'_, T>,
        beta: T,
        c: ndarray::ArrayViewMut2<'_, T>,
    ) {
        Cpu.syrk(uplo, trans, alpha, a, beta, c)
    }
    fn potrf<T: mosaic::Scalar>(&self, uplo: Uplo, a: ndarray::ArrayViewMut2<'_, T>) -> Result<(), usize> {
        Cpu.potrf(uplo, a)
    }
    fn getrf<T: mosaic::Scalar>(
        &self,
        a: ndarray::ArrayViewMut2<'_, T>,
        ipiv: &mut [usize],
    ) -> Result<(), usize> {
        Cpu.getrf(a, ipiv)
    }
    fn getrf_nopiv<T: mosaic::Scalar>(&self, a: ndarray::ArrayViewMut2<'_, T>) -> Result<(), usize> {
        Cpu.getrf_nopiv(a)
    }
    fn geqrt<T: mosaic::Scalar>(&self, a: ndarray::ArrayViewMut2<'_, T>, t: ndarray::ArrayViewMut2<'_, T>) {
        Cpu.geqrt(a, t)
    }
    fn unmqr<T: mosaic::Scalar>(
        &self,
        trans: Trans,
        v: ndarray::ArrayView2<'_, T>,
        t: ndarray::ArrayView2<'_, T>,
        c: ndarray::ArrayViewMut2<'_, T>,
    ) {
        Cpu.unmqr(trans, v, t, c)
    }
    fn tsqrt<T: mosaic::Scalar>(
        &self,
        r: ndarray::ArrayViewMut2<'_, T>,
        a: ndarray::ArrayViewMut2<'_, T>,
        t: ndarray::ArrayViewMut2<'_, T>,
    ) {
        Cpu.tsqrt(r, a, t)
    }
    fn tsmqr<T: mosaic::Scalar>(
        &self,
        trans: Trans,
        c1: ndarray::ArrayViewMut2<'_, T>,
        c2: ndarray::ArrayViewMut2<'_, T>,
        v2: ndarray::ArrayView2<'_, T>,
        t: ndarray::ArrayView2<'_, T>,
    ) {
        Cpu.tsmqr(trans, c1, c2, v2, t)
    }
    fn ttqrt<T: mosaic::Scalar>(
        &self,
        r1: ndarray::ArrayViewMut2<'_, T>,
        r2: ndarray::ArrayViewMut2<'_, T>,
        t: ndarray::ArrayViewMut2<'_, T>,
    ) {
        Cpu.ttqrt(r1, r2, t)
    }
    fn ttmqr<T: mosaic::Scalar>(
        &self,
        trans: Trans,
        c1: ndarray::ArrayViewMut2<'_, T>,
        c2: ndarray::ArrayViewMut2<'_, T>,
        v2: ndarray::ArrayView2<'_, T>,
        t: ndarray::ArrayView2<'_, T>,
    ) {
        Cpu.ttmqr(trans, c1, c2, v2, t)
    }
    fn trsm<T: mosaic::Scalar>(
        &self,
        _side: Side,
        _uplo: Uplo,
        _trans: Trans,
        _diag: Diag,
        _alpha: T,
        _a: ndarray::ArrayView2<'_, T>,
        _b: ndarray::ArrayViewMut2<'_, T>,
    ) {
        panic!("trsm failed on purpose");
    }
}

#[test]
fn a_kernel_that_fails_on_a_device_fails_its_dependents_and_the_runtime_goes_on() {
    let _one = setup();
    let a = spd(256, 64, 13);
    a.wait().unwrap();
    mosaic::trace::start();
    // The panels' trsm panic; the next panel's potrf, which depends on them, is cancelled,
    // and the factorization reports it, naming the panic.
    let r = on(Target::device(0), || Linalg::new(FaultyTrsm).cholesky(&a)).unwrap();
    let trace = mosaic::trace::stop();
    match r {
        Err(Error::TaskPanicked { message, .. }) | Err(Error::DependencyFailed { cause: message, .. }) => {
            assert!(message.contains("trsm failed on purpose"), "{message}");
        }
        other => panic!("expected the panic, got {other:?}"),
    }
    let device_row = runtime::processors()
        .iter()
        .find(|p| p.device_index() == Some(0))
        .unwrap()
        .index;
    let trsm: Vec<_> = trace.events().iter().filter(|e| e.name == "trsm").collect();
    assert!(
        !trsm.is_empty() && trsm.iter().all(|e| e.worker == Some(device_row)),
        "{trsm:?}"
    );
    assert!(trace.events().iter().any(|e| e.cancelled), "dependents cancelled");
    // The device, and the runtime, go on.
    let ok = on(Target::device(0), || a.cholesky()).unwrap().unwrap();
    let cpu = on(Target::cpu(), || a.cholesky()).unwrap().unwrap();
    assert_eq!(ok.l().to_ndarray(), cpu.l().to_ndarray());
}
