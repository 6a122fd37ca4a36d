//! Soak test, ignored by default (CI runs it for a few minutes):
//!
//! ```text
//! MOSAIC_SOAK_SECS=180 cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! Two user threads run random mixes, for `MOSAIC_SOAK_SECS` seconds (default 60), of
//! DArray operations on random sizes (1–160) and tilings (AutoBlocks and random blocks),
//! each checked against a dense reference (products and elementwise results against
//! `ndarray`, factorizations and solves by LAPACK-style residuals), of error paths
//! (non-SPD, singular, wrong shapes, a panicking `map`: the right error, and the runtime
//! carries on), of results dropped before they are computed, and of random `datadeps`
//! programs checked bit for bit against their serial run (`tests/programs`).
//!
//! Memory: the process's resident set and the recycled-tile pool are measured after a
//! warm-up (every kind of step run a few times), every tenth of the run, and at the end.
//! The pool is bounded (`mosaic::runtime::RECYCLED_BYTES_LIMIT`, 256 MiB); everything else
//! may grow by at most [`GROWTH_BOUND`] overall and [`PLATEAU_BOUND`] over the second half:
//! the runtime's own state (task records, access histories) must not grow with the number
//! of tasks run.

mod common;
#[macro_use]
#[allow(unused_macros)]
mod programs;

use std::time::{Duration, Instant};

use common::{fro, Rng};
use mosaic::prelude::*;
use ndarray::Array2;

/// Allowed growth of the resident set besides the recycled-tile pool's (which is bounded by
/// `mosaic::runtime::RECYCLED_BYTES_LIMIT`, 256 MiB) from the warm-up to the end: room for
/// the allocator's per-thread caches and fragmentation (measured: about 62 MiB, reached in
/// the first tenth of the run), far below what keeping the state of the millions of tasks a
/// soak runs would take.
const GROWTH_BOUND: usize = 128 << 20;

/// Allowed growth of the same over the second half of the run: it must level off
/// (measured: about 5 MiB in two minutes).
const PLATEAU_BOUND: usize = 16 << 20;

/// Resident set size of this process, in bytes (Linux `/proc/self/status`).
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib << 10
}

fn tiling(rng: &mut Rng, rows: usize, cols: usize) -> (DArray<f64>, Array2<f64>) {
    let seed = rng.next_u64();
    let a = if rng.chance(0.3) {
        DArray::rand_seeded(AutoBlocks, rows, cols, seed)
    } else {
        // Tiles from an eighth of the size up, so the task count stays moderate.
        let br = rng.range(rows.div_ceil(8).max(1), rows.max(1));
        let bc = rng.range(cols.div_ceil(8).max(1), cols.max(1));
        DArray::rand_seeded(Blocks(br, bc), rows, cols, seed)
    };
    let dense = a.to_ndarray();
    (a, dense)
}

/// A random well-conditioned SPD matrix: `M·Mᵀ + n·I`.
fn spd(rng: &mut Rng, n: usize) -> (DArray<f64>, Array2<f64>) {
    let (m, dm) = tiling(rng, n, n);
    let a = &(&m * &m.t()) + &(DArray::eye(Blocks(m.block_size().0, m.block_size().0), n) * n as f64);
    let dense = dm.dot(&dm.t()) + Array2::<f64>::eye(n) * n as f64;
    (a, dense)
}

/// `‖got − want‖ ≤ tol · ε · scale`, with `what` in the message.
#[track_caller]
fn close(got: &Array2<f64>, want: &Array2<f64>, scale: f64, what: &str) {
    assert_eq!(got.dim(), want.dim(), "{what}");
    let err = fro(&(got - want));
    assert!(
        err <= 100.0 * f64::EPSILON * scale.max(1.0),
        "{what}: error {err:e}, scale {scale:e}"
    );
}

/// Kinds of step; every kind runs during warm-up.
const KINDS: usize = 9;

fn step(rng: &mut Rng, kind: usize) {
    let n = rng.range(1, 160);
    match kind {
        0 => {
            let (k, m) = (rng.range(1, 160), rng.range(1, 160));
            let ((a, da), (b, db)) = (tiling(rng, n, k), tiling(rng, k, m));
            let scale = k as f64 * fro(&da) * fro(&db);
            close(&(&a * &b).to_ndarray(), &da.dot(&db), scale, "A·B");
        }
        1 => {
            let cols = rng.range(1, 160);
            let ((a, da), (b, db)) = (tiling(rng, n, cols), tiling(rng, n, cols));
            let c = &(&(&a + &b) * 2.0) - &a.hadamard(&b).map(|x| x * 0.5);
            let want = (&da + &db) * 2.0 - (&da * &db).mapv(|x| x * 0.5);
            assert_eq!(c.t().to_ndarray(), want.t(), "elementwise");
        }
        2 => {
            let (a, da) = spd(rng, n);
            let ch = a.cholesky().expect("SPD");
            let l = ch.l().to_ndarray();
            close(&l.dot(&l.t()), &da, n as f64 * fro(&da), "L·Lᵀ");
            let k = rng.range(1, 8);
            let (b, db) = tiling(rng, n, k);
            let x = ch.solve(&b).unwrap().to_ndarray();
            close(&da.dot(&x), &db, n as f64 * fro(&da) * fro(&x), "Cholesky solve");
        }
        3 => {
            let (a, da) = tiling(rng, n, n);
            let k = rng.range(1, 8);
            let (b, db) = tiling(rng, n, k);
            let lu = a.lu().expect("a random matrix is nonsingular");
            let x = lu.solve(&b).unwrap().to_ndarray();
            let cond_guard = fro(&da) * fro(&x);
            close(&da.dot(&x), &db, n as f64 * cond_guard, "LU solve");
        }
        4 => {
            let m = n + rng.range(0, 40);
            let (a, da) = tiling(rng, m, n);
            let k = rng.range(1, 4);
            let (b, db) = tiling(rng, m, k);
            let x = a.qr().unwrap().solve_least_squares(&b).unwrap().to_ndarray();
            // The residual is orthogonal to A's columns.
            let normal = da.t().dot(&(da.dot(&x) - &db));
            let scale = m as f64 * fro(&da) * (fro(&da) * fro(&x) + fro(&db));
            close(&normal, &Array2::zeros(normal.dim()), scale, "least squares");
        }
        5 => {
            let (a, _) = spd(rng, n);
            let l = a.cholesky().unwrap().l().clone();
            let dl = l.to_ndarray();
            let k = rng.range(1, 8);
            let (b, db) = tiling(rng, n, k);
            let mut x = b.clone();
            ldiv(LowerTriangular(&l), &mut x).unwrap();
            let x = x.to_ndarray();
            close(&dl.dot(&x), &db, n as f64 * fro(&dl) * fro(&x), "ldiv");
        }
        6 => {
            let seed = rng.next_u64();
            let opts = programs::GenOptions {
                max_sleep_us: 0,
                priorities: rng.chance(0.5),
            };
            programs::check_program(&programs::gen_program(seed, opts));
        }
        7 => {
            // Error paths: each gives its error, and nothing is left behind.
            let (a, _) = tiling(rng, n, n);
            let neg = &a * 0.0 - &DArray::eye(AutoBlocks, n);
            assert_eq!(
                neg.cholesky().unwrap_err(),
                Error::NotPositiveDefinite { index: 0 }
            );
            let (br, bc) = a.block_size();
            let zero = DArray::<f64>::zeros(Blocks(br, bc), n, n);
            assert_eq!(zero.lu().unwrap_err(), Error::Singular { index: 0 });
            let wide = DArray::<f64>::zeros(AutoBlocks, n, n + 1);
            assert!(matches!(wide.cholesky(), Err(Error::ShapeMismatch { .. })));
            let failed = a.map(|x| if x >= 0.0 { panic!("deliberate: soak") } else { x });
            assert!((&failed * &a).try_to_ndarray().is_err());
        }
        _ => {
            // Results dropped before they are computed; the inputs stay right.
            let (a, da) = tiling(rng, n, n);
            drop(&a * &a.t());
            drop(a.qr().unwrap());
            drop(&a + &a);
            assert_eq!(a.to_ndarray(), da);
        }
    }
}

fn run(seed: u64, until: Instant, warm: &std::sync::Barrier) -> usize {
    let mut rng = Rng::new(seed);
    for round in 0..3 {
        (0..KINDS).for_each(|k| step(&mut rng, (k + round) % KINDS));
    }
    warm.wait(); // the main thread measures
    warm.wait();
    let mut steps = 0;
    while Instant::now() < until {
        let kind = rng.below(KINDS);
        step(&mut rng, kind);
        steps += 1;
    }
    steps
}

#[test]
#[ignore = "soak: minutes long; CI runs it with MOSAIC_SOAK_SECS"]
fn soak_random_operations_and_regions_against_references() {
    common::silence_panics(|p| common::payload_text(p).starts_with("deliberate"));
    let secs: u64 = std::env::var("MOSAIC_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let _wd = common::watchdog("soak", secs + 300);
    let warm = std::sync::Arc::new(std::sync::Barrier::new(3));
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let warm = warm.clone();
            std::thread::spawn(move || run(0x50a4 + t, until, &warm))
        })
        .collect();
    warm.wait();
    let (rss_warm, pool_warm) = (resident_bytes(), mosaic::runtime::recycled_bytes());
    warm.wait();
    // (resident, recycled) every tenth of the run, to show the trend.
    let mut samples = Vec::new();
    while !threads.iter().all(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(100 * secs.max(1)));
        samples.push((resident_bytes(), mosaic::runtime::recycled_bytes()));
    }
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    let trend: Vec<_> = samples
        .iter()
        .map(|&(r, p)| format!("{:.0}/{:.0}", mib(r), mib(p)))
        .collect();
    println!(
        "soak: resident/recycled MiB every {} s: {}",
        secs as f64 / 10.0,
        trend.join(" ")
    );
    let steps: usize = threads
        .into_iter()
        .map(|t| t.join().expect("a soak thread failed"))
        .sum();
    let (rss_end, pool_end) = (resident_bytes(), mosaic::runtime::recycled_bytes());
    println!(
        "soak: {steps} steps in {:.0} s; resident {:.1} MiB after warm-up, {:.1} MiB at the end; \
         recycled tiles {:.1} → {:.1} MiB",
        start.elapsed().as_secs_f64(),
        mib(rss_warm),
        mib(rss_end),
        mib(pool_warm),
        mib(pool_end)
    );
    // Memory other than the recycled tiles: what the runtime's state, the allocator's
    // caches and fragmentation take.
    let other = |(rss, pool): (usize, usize)| rss.saturating_sub(pool);
    let (warm, half, end) = (
        other((rss_warm, pool_warm)),
        other(
            samples
                .get(samples.len() / 2)
                .copied()
                .unwrap_or((rss_end, pool_end)),
        ),
        other((rss_end, pool_end)),
    );
    assert!(
        end <= warm + GROWTH_BOUND,
        "memory besides recycled tiles grew from {:.1} to {:.1} MiB (bound {:.0} MiB)",
        mib(warm),
        mib(end),
        mib(GROWTH_BOUND)
    );
    assert!(
        end <= half + PLATEAU_BOUND,
        "memory besides recycled tiles still grows: {:.1} MiB half-way, {:.1} MiB at the end",
        mib(half),
        mib(end)
    );
}
