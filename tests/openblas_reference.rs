//! mosaic against OpenBLAS's LAPACK as an independent reference (feature `openblas`):
//! the same factors from potrf, getrf (same pivots), geqrf (R up to the signs of its rows),
//! trtrs and gemm, f64 and f32, with ragged tiles.
#![cfg(feature = "openblas")]

#[path = "../examples/common/openblas_dense.rs"]
mod openblas_dense;

use mosaic::prelude::*;
use ndarray::Array2;
use openblas_dense::fortran;

fn random(m: usize, n: usize, seed: u64) -> Array2<f64> {
    DArray::<f64>::rand_seeded(AutoBlocks, m, n, seed).to_ndarray() - 0.5
}

fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

fn lower(a: &Array2<f64>, unit: bool) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| match i.cmp(&j) {
        std::cmp::Ordering::Greater => a[(i, j)],
        std::cmp::Ordering::Equal if unit => 1.0,
        std::cmp::Ordering::Equal => a[(i, j)],
        std::cmp::Ordering::Less => 0.0,
    })
}

fn upper(a: &Array2<f64>) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| if i <= j { a[(i, j)] } else { 0.0 })
}

#[test]
fn cholesky_matches_potrf() {
    let n = 70;
    let r = random(n, n, 1);
    let spd = r.dot(&r.t()) + Array2::<f64>::eye(n) * n as f64;
    let ours = DArray::from_ndarray(&spd, Blocks(16, 16))
        .cholesky()
        .unwrap()
        .l()
        .to_ndarray();
    let mut theirs = fortran(&spd);
    openblas_dense::potrf(&mut theirs).unwrap();
    assert!(max_diff(&ours, &lower(&theirs, false)) < 1e-12 * n as f64);
}

#[test]
fn lu_matches_getrf_with_the_same_pivots() {
    let n = 61;
    let a = random(n, n, 2);
    let lu = DArray::from_ndarray(&a, Blocks(16, 16)).lu().unwrap();
    let mut theirs = fortran(&a);
    let ipiv = openblas_dense::getrf(&mut theirs).unwrap();
    let mut p: Vec<usize> = (0..n).collect();
    for (i, &s) in ipiv.iter().enumerate() {
        p.swap(i, s as usize - 1); // LAPACK's pivots count from 1
    }
    assert_eq!(lu.p(), p, "the same row maxima, so the same permutation");
    assert!(max_diff(&lu.l().to_ndarray(), &lower(&theirs, true)) < 1e-11);
    assert!(max_diff(&lu.u().to_ndarray(), &upper(&theirs)) < 1e-11 * n as f64);
}

#[test]
fn qr_r_matches_geqrf_up_to_row_signs() {
    for (m, n) in [(50, 30), (30, 50), (64, 64)] {
        let a = random(m, n, 3);
        let ours = DArray::from_ndarray(&a, Blocks(8, 8))
            .qr()
            .unwrap()
            .r()
            .to_ndarray();
        let mut theirs = fortran(&a);
        openblas_dense::geqrf(&mut theirs).unwrap();
        let k = m.min(n);
        let theirs = upper(&theirs.slice(ndarray::s![..k, ..]).to_owned());
        let ours_abs = ours.mapv(f64::abs);
        assert!(
            max_diff(&ours_abs, &theirs.mapv(f64::abs)) < 1e-12 * m as f64,
            "{m}x{n}"
        );
    }
}

#[test]
fn trsm_and_gemm_match_blas_f32_and_f64() {
    let n = 45;
    let l = lower(&random(n, n, 4), false) + Array2::<f64>::eye(n) * 4.0;
    let b = random(n, 7, 5);
    let mut ours = DArray::from_ndarray(&b, Blocks(8, 8));
    ldiv(
        LowerTriangular(&DArray::from_ndarray(&l, Blocks(8, 8))),
        &mut ours,
    )
    .unwrap();
    let mut theirs = fortran(&b);
    openblas_dense::trsm(&fortran(&l), &mut theirs).unwrap();
    assert!(max_diff(&ours.to_ndarray(), &theirs) < 1e-13);

    let (x, y) = (
        random(33, 21, 6).mapv(|v| v as f32),
        random(21, 40, 7).mapv(|v| v as f32),
    );
    let ours =
        (&DArray::from_ndarray(&x, Blocks(8, 8)) * &DArray::from_ndarray(&y, Blocks(8, 8))).to_ndarray();
    let theirs = fortran(&x).dot(&fortran(&y)); // sgemm through ndarray's BLAS path
    let diff = ours
        .iter()
        .zip(&theirs)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-5, "sgemm difference {diff}");
}
