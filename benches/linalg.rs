//! Criterion benches of the tiled operations on `AutoBlocks` matrices (2 workers by
//! default; `MOSAIC_NUM_THREADS=1` for one): the product, Cholesky, LU with partial
//! pivoting, QR and a triangular solve with n right-hand sides, f64, n = 256, 1024 and 2048.
//! Each iteration includes what a user's call includes (the factorization's private copy)
//! and waits for the result.
//!
//! `cargo bench --bench linalg` (about 4 minutes); `cargo bench --bench linalg -- potrf`
//! runs one group. The `peers` bench puts the same operations next to faer and OpenBLAS.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mosaic::linalg::{trsm, Diag, Side, Trans, Uplo};
use mosaic::prelude::*;
use std::time::Duration;

const SIZES: [usize; 3] = [256, 1024, 2048];

/// A random `n × n` matrix, an SPD one and a well-conditioned lower triangle.
type Inputs = (DArray<f64>, DArray<f64>, DArray<f64>);

fn inputs(n: usize) -> Inputs {
    let a = DArray::<f64>::rand_seeded(AutoBlocks, n, n, 1);
    let spd = &(&a * &a.t()) + &(DArray::eye(AutoBlocks, n) * n as f64);
    let lower = spd.cholesky().expect("SPD").l().clone();
    (a, spd, lower)
}

/// Runs `op` under a group named `name`, throughput in flops(n).
fn group(c: &mut Criterion, name: &str, flops: fn(f64) -> f64, op: fn(&Inputs)) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    for n in SIZES {
        let x = inputs(n);
        g.throughput(Throughput::Elements(flops(n as f64) as u64));
        g.measurement_time(Duration::from_secs(if n >= 2048 { 8 } else { 3 }));
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| b.iter(|| op(x)));
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    group(
        c,
        "gemm",
        |n| 2.0 * n * n * n,
        |(a, _, _)| (a * a).wait().unwrap(),
    );
    group(
        c,
        "potrf",
        |n| n * n * n / 3.0,
        |(_, spd, _)| spd.cholesky().unwrap().wait().unwrap(),
    );
    group(
        c,
        "getrf",
        |n| 2.0 * n * n * n / 3.0,
        |(a, _, _)| a.lu().unwrap().wait().unwrap(),
    );
    group(
        c,
        "geqrf",
        |n| 4.0 * n * n * n / 3.0,
        |(a, _, _)| a.qr().unwrap().wait().unwrap(),
    );
    group(
        c,
        "trsm",
        |n| n * n * n,
        |(a, _, l)| {
            let mut x = a.clone();
            trsm(Side::Left, Uplo::Lower, Trans::No, Diag::NonUnit, 1.0, l, &mut x).unwrap();
            x.wait().unwrap()
        },
    );
}

criterion_group!(linalg, benches);
criterion_main!(linalg);
