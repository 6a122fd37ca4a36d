//! The shapes of the task graphs, counted by the `Recording` backend: how many times each
//! tile kernel runs for a Cholesky on k×k tiles, a product, a triangular solve and a
//! Cholesky solve, and that the results are still right.

use mosaic::backend::{Cpu, Recording};
use mosaic::linalg::{Diag, Linalg, Side, Trans, Uplo};
use mosaic::prelude::*;
use std::collections::BTreeMap;

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().filter(|&(_, c)| c > 0).collect()
}

fn spd(n: usize, b: usize) -> DArray<f64> {
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 3);
    &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * n as f64)
}

#[test]
fn cholesky_on_k_by_k_tiles() {
    for k in 1..=7 {
        let (b, n) = (5, 5 * k - usize::from(k > 1)); // the last tile ragged when k > 1
        let a = spd(n, b);
        let rec = Recording::new(Cpu);
        let ch = Linalg::new(rec.clone()).cholesky(&a).unwrap();
        let l = ch.l().to_ndarray(); // every kernel has run
        let want = counts(&[
            ("potrf", k),
            ("trsm", k * (k - 1) / 2),
            ("syrk", k * (k - 1) / 2),
            ("gemm", k * (k - 1) * k.saturating_sub(2) / 6),
            // zeros above the diagonal: the upper tiles, the diagonal tiles' upper parts
            ("laset", k * (k + 1) / 2),
        ]);
        assert_eq!(rec.counts(), want, "k = {k}");
        let err = (&a.to_ndarray() - &l.dot(&l.t()))
            .iter()
            .fold(0.0f64, |e, d| e.max(d.abs()));
        assert!(err < 1e-10 * n as f64, "k = {k}: error {err}");
    }
}

#[test]
fn product_is_one_gemm_per_tile_triple() {
    let rec = Recording::new(Cpu);
    let la = Linalg::new(rec.clone());
    let a = DArray::<f64>::rand_seeded(Blocks(4, 3), 10, 9, 1); // 3×3 tiles
    let b = DArray::<f64>::rand_seeded(Blocks(3, 5), 9, 11, 2); // 3×3 tiles
    let c = la.matmul(&a, &b).to_ndarray();
    assert_eq!(rec.counts(), counts(&[("gemm", 3 * 3 * 3)]));
    let want = a.to_ndarray().dot(&b.to_ndarray());
    assert!((&c - &want).iter().all(|d| d.abs() < 1e-12));
}

#[test]
fn triangular_solve_sweeps() {
    let rec = Recording::new(Cpu);
    let la = Linalg::new(rec.clone());
    let (nt, ct) = (5, 3);
    let a = &DArray::<f64>::rand_seeded(Blocks(4, 4), 4 * nt, 4 * nt, 5)
        + &(&DArray::eye(Blocks(4, 4), 4 * nt) * 8.0);
    for side in [Side::Left, Side::Right] {
        rec.reset();
        let mut x = match side {
            Side::Left => DArray::<f64>::ones(Blocks(4, 2), 4 * nt, 2 * ct),
            Side::Right => DArray::<f64>::ones(Blocks(2, 4), 2 * ct, 4 * nt),
        };
        la.trsm(side, Uplo::Upper, Trans::Yes, Diag::NonUnit, 1.0, &a, &mut x)
            .unwrap();
        x.to_ndarray();
        let want = counts(&[("trsm", nt * ct), ("gemm", nt * (nt - 1) / 2 * ct)]);
        assert_eq!(rec.counts(), want, "{side:?}");
    }
}

#[test]
fn cholesky_solve_is_two_sweeps() {
    let rec = Recording::new(Cpu);
    let (nt, ct) = (4, 2);
    let a = spd(6 * nt, 6);
    let ch = Linalg::new(rec.clone()).cholesky(&a).unwrap();
    ch.l().to_ndarray();
    rec.reset();
    let b = DArray::<f64>::ones(Blocks(6, 1), 6 * nt, ct);
    let x = ch.solve(&b).unwrap();
    let residual = (&(&a * &x) - &b).norm_fro();
    assert_eq!(
        rec.counts(),
        counts(&[("trsm", 2 * nt * ct), ("gemm", nt * (nt - 1) * ct)])
    );
    assert!(residual < 1e-10, "residual {residual}");
}
