//! Tiled QR: ‖A − Q·R‖ / (m·‖A‖·ε) and ‖I − QᵀQ‖ / (m·ε) for square, tall, wide, ragged
//! and tall-skinny shapes in f32 and f64; Qᵀ applied without forming Q; least squares
//! (normal-equation residual, consistent systems); rank-deficient input; kernel counts;
//! updates overlapping the panel through the triangular footprints.

mod common;

use common::{fro, Rng};
use mosaic::backend::{Cpu, Recording};
use mosaic::linalg::Linalg;
use mosaic::prelude::*;
use mosaic::Scalar;
use ndarray::{s, Array2};

fn random(m: usize, n: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((m, n), |_| rng.f64_in(-1.0, 1.0))
}

fn check<T: Scalar>(a: &Array2<f64>, part: impl mosaic::darray::Partition + std::fmt::Debug) {
    check_within::<T>(a, part, 1.0)
}

/// `check` with residuals below `bound` (scaled by m·ε as there).
fn check_within<T: Scalar>(
    a: &Array2<f64>,
    part: impl mosaic::darray::Partition + std::fmt::Debug,
    bound: f64,
) {
    let (m, n) = a.dim();
    let at = a.mapv(T::from_f64);
    let qr = DArray::from_ndarray(&at, part).qr().unwrap();
    let (q, r) = (
        qr.q().to_ndarray().mapv(T::to_f64),
        qr.r().to_ndarray().mapv(T::to_f64),
    );
    let k = m.min(n);
    assert_eq!(q.dim(), (m, k));
    assert_eq!(r.dim(), (k, n));
    for i in 0..k {
        for j in 0..i.min(n) {
            assert_eq!(r[(i, j)], 0.0, "R is upper triangular");
        }
    }
    let a = at.mapv(T::to_f64);
    let scale = m.max(1) as f64 * T::EPSILON;
    let res = fro(&(&a - &q.dot(&r))) / (scale * fro(&a).max(f64::MIN_POSITIVE));
    assert!(res < bound, "{m}x{n} {part:?}: ‖A − QR‖ scaled {res}");
    let orth = fro(&(Array2::<f64>::eye(k) - q.t().dot(&q))) / scale;
    assert!(orth < bound, "{m}x{n} {part:?}: ‖I − QᵀQ‖ scaled {orth}");
}

#[test]
fn factors_every_shape_f64() {
    check::<f64>(&random(40, 40, 1), Blocks(8, 8));
    check::<f64>(&random(50, 20, 2), Blocks(8, 8)); // tall
    check::<f64>(&random(20, 50, 3), Blocks(8, 8)); // wide
    check::<f64>(&random(37, 23, 4), Blocks(8, 8)); // ragged both ways
    check::<f64>(&random(23, 37, 5), Blocks(8, 8));
    check::<f64>(&random(30, 30, 6), Blocks(6, 10)); // re-cut to square tiles
    check::<f64>(&random(200, 8, 7), Blocks(16, 16)); // tall-skinny: one tile column
    check::<f64>(&random(7, 5, 8), Blocks(64, 64)); // one tile
    check::<f64>(&random(1, 1, 9), Blocks(1, 1));
    // 1×1 tiles: every element goes through its own chain of 2-row reflectors (measured
    // ‖I − QᵀQ‖ = 1.1·m·ε with the structured kernels).
    check_within::<f64>(&random(9, 9, 10), Blocks(1, 1), 4.0);
}

/// `AutoBlocks` leaves the tiles to the factorization: one tile up to order 512 (tall,
/// wide and square), 256-tiles above (a tree for tall-skinny ones).
#[test]
fn auto_tiled_inputs() {
    for (m, n) in [
        (300, 200),
        (200, 300),
        (512, 512),
        (700, 300),
        (300, 700),
        (1100, 200),
    ] {
        check::<f64>(&random(m, n, (m + n) as u64), AutoBlocks);
    }
    check::<f32>(&random(600, 513, 3), AutoBlocks);
}

#[test]
fn factors_every_shape_f32() {
    check::<f32>(&random(40, 24, 11), Blocks(8, 8));
    check::<f32>(&random(24, 40, 12), Blocks(8, 8));
    check::<f32>(&random(33, 33, 13), Blocks(8, 8));
}

#[test]
fn q_transpose_applied_without_forming_q() {
    let (m, n) = (45, 17);
    let a = random(m, n, 14);
    let qr = DArray::from_ndarray(&a, Blocks(8, 8)).qr().unwrap();
    // Qᵀ·A = [R; 0], with A cut differently from the factorization.
    let mut x = DArray::from_ndarray(&a, Blocks(5, 7));
    qr.apply_qt(&mut x).unwrap();
    assert_eq!(x.block_size(), (5, 7), "C keeps its cut");
    let x = x.to_ndarray();
    let r = qr.r().to_ndarray();
    assert!(fro(&(&x.slice(s![..n, ..]) - &r)) < 1e-13 * fro(&a) * m as f64);
    assert!(fro(&x.slice(s![n.., ..]).to_owned()) < 1e-13 * fro(&a) * m as f64);
    // Q·(Qᵀ·B) = B.
    let b = random(m, 3, 15);
    let mut y = DArray::from_ndarray(&b, Blocks(8, 3));
    qr.apply_qt(&mut y).unwrap();
    qr.apply_q(&mut y).unwrap();
    assert!(fro(&(&y.to_ndarray() - &b)) < 1e-13 * fro(&b) * m as f64);
    let mut wrong = DArray::<f64>::zeros(AutoBlocks, m + 1, 2);
    assert!(matches!(
        qr.apply_qt(&mut wrong),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn least_squares() {
    for (m, n, k, part) in [
        (60, 20, 3, Blocks(8, 8)),
        (33, 33, 1, Blocks(8, 8)),
        (100, 7, 2, Blocks(16, 16)),
    ] {
        let a = random(m, n, m as u64);
        let b = random(m, k, 16);
        let qr = DArray::from_ndarray(&a, part).qr().unwrap();
        let x = qr
            .solve_least_squares(&DArray::from_ndarray(&b, AutoBlocks))
            .unwrap()
            .to_ndarray();
        assert_eq!(x.dim(), (n, k));
        // The residual is orthogonal to A's columns (LAPACK's test ratio).
        let res = &b - &a.dot(&x);
        let ratio = fro(&a.t().dot(&res)) / (m.max(n).max(k) as f64 * fro(&a) * fro(&b) * f64::EPSILON);
        assert!(ratio < 10.0, "{m}x{n}: ‖Aᵀ(B − AX)‖ scaled {ratio}");
        // A consistent system is solved exactly.
        let x0 = random(n, k, 17);
        let x = qr
            .solve_least_squares(&DArray::from_ndarray(&a.dot(&x0), part))
            .unwrap()
            .to_ndarray();
        assert!(fro(&(&x - &x0)) < 1e-10 * fro(&x0), "{m}x{n}: consistent system");
    }
    let a32 = random(50, 10, 18).mapv(|v| v as f32);
    let b32 = random(50, 1, 19).mapv(|v| v as f32);
    let x = DArray::from_ndarray(&a32, Blocks(8, 8))
        .qr()
        .unwrap()
        .solve_least_squares(&DArray::from_ndarray(&b32, AutoBlocks))
        .unwrap()
        .to_ndarray();
    let (a, b, x) = (a32.mapv(f64::from), b32.mapv(f64::from), x.mapv(f64::from));
    let ratio = fro(&a.t().dot(&(&b - &a.dot(&x)))) / (50.0 * fro(&a) * fro(&b) * f32::EPSILON as f64);
    assert!(ratio < 10.0, "f32: scaled {ratio}");
    let wide = DArray::<f64>::ones(AutoBlocks, 3, 5).qr().unwrap();
    let err = wide
        .solve_least_squares(&DArray::ones(AutoBlocks, 3, 1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in solve_least_squares: (3, 5) vs (3, 1)"
    );
}

#[test]
fn rank_deficient_input() {
    let (m, n) = (30, 12);
    let mut a = random(m, n, 20);
    a.column_mut(5).fill(0.0);
    check::<f64>(&a, Blocks(8, 8)); // the factorization itself is fine
    let qr = DArray::from_ndarray(&a, Blocks(8, 8)).qr().unwrap();
    let err = qr
        .solve_least_squares(&DArray::ones(AutoBlocks, m, 1))
        .unwrap_err();
    assert_eq!(err, Error::Singular { index: 5 });
    let zero = Array2::<f64>::zeros((10, 4));
    check::<f64>(&zero, Blocks(4, 4));
}

#[test]
fn empty_shapes() {
    for (m, n) in [(0, 0), (0, 5), (5, 0)] {
        let qr = DArray::<f64>::zeros(AutoBlocks, m, n).qr().unwrap();
        assert_eq!(qr.q().shape(), (m, m.min(n)));
        assert_eq!(qr.r().shape(), (m.min(n), n));
    }
}

#[test]
fn kernel_counts_on_k_by_k_tiles() {
    for k in 1..=5 {
        let n = 4 * k;
        let rec = Recording::new(Cpu);
        let qr = Linalg::new(rec.clone())
            .qr(&DArray::from_ndarray(&random(n, n, 21), Blocks(4, 4)))
            .unwrap();
        qr.r().wait().unwrap();
        let counts = rec.counts();
        let get = |name| counts.get(name).copied().unwrap_or(0);
        assert_eq!(get("geqrt"), k, "k = {k}");
        assert_eq!(get("unmqr"), k * (k - 1) / 2, "k = {k}");
        assert_eq!(get("tsqrt"), k * (k - 1) / 2, "k = {k}");
        assert_eq!(get("tsmqr"), (k - 1) * k * (2 * k - 1) / 6, "k = {k}");
    }
}

#[test]
fn tall_matrices_reduce_each_panel_by_a_tree() {
    let count = |m: usize, n: usize| {
        let rec = Recording::new(Cpu);
        let a = DArray::from_ndarray(&random(m, n, 22), Blocks(4, 4));
        let qr = Linalg::new(rec.clone()).qr(&a).unwrap();
        qr.r().wait().unwrap();
        let counts = rec.counts();
        let get = |name: &str| counts.get(name).copied().unwrap_or(0);
        (
            get("geqrt"),
            get("unmqr"),
            get("ttqrt"),
            get("ttmqr"),
            get("tsqrt") + get("tsmqr"),
        )
    };
    // 16×1 tiles: every tile factored, then 15 merges in 4 levels; no flat-tree kernel.
    assert_eq!(count(64, 4), (16, 0, 15, 0, 0));
    // 8×2 tiles: panel 0 has 8 tiles (8 unmqr and 7 ttmqr on column 1), panel 1 has 7.
    assert_eq!(count(32, 8), (15, 8, 13, 7, 0));
    // 3×2 tiles is not tall enough: the flat tree.
    assert_eq!(count(12, 8).2, 0);
}
