//! Matrix product against ndarray's, by relative residual ‖C − A·B‖ / (‖A‖·‖B‖·k·ε), in f32
//! and f64, with ragged tiles, mismatched inner cuts, transposes and accumulation.

mod common;

use common::fro;
use mosaic::linalg::gemm;
use mosaic::linalg::Trans;
use mosaic::prelude::*;
use ndarray::Array2;

fn rand(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    DArray::<f64>::rand_seeded(AutoBlocks, rows, cols, seed).to_ndarray()
}

fn residual(c: &Array2<f64>, want: &Array2<f64>, scale: f64, k: usize) -> f64 {
    fro(&(c - want)) / (scale * k.max(1) as f64 * f64::EPSILON)
}

#[test]
fn product_matches_ndarray_across_partitions() {
    let cases = [
        (64, 48, 80, Blocks(16, 16), Blocks(16, 16)),
        (37, 29, 41, Blocks(8, 5), Blocks(7, 9)), // ragged, inner cuts differ
        (5, 3, 4, Blocks(100, 100), Blocks(2, 2)),
        (1, 50, 1, Blocks(1, 8), Blocks(8, 1)),
    ];
    for (m, k, n, pa, pb) in cases {
        let (x, y) = (rand(m, k, 1), rand(k, n, 2));
        let a = DArray::from_ndarray(&x, pa);
        let b = DArray::from_ndarray(&y, pb);
        let c = (&a * &b).to_ndarray();
        let want = x.dot(&y);
        let r = residual(&c, &want, fro(&x) * fro(&y), k);
        assert!(r < 10.0, "{m}x{k}x{n}: scaled residual {r}");
    }
}

#[test]
fn product_in_f32() {
    let x = Array2::<f32>::from_shape_fn((33, 17), |(i, j)| ((i + 2 * j) % 7) as f32 * 0.25);
    let y = Array2::<f32>::from_shape_fn((17, 21), |(i, j)| ((3 * i + j) % 5) as f32 * 0.5);
    let c = (&DArray::from_ndarray(&x, Blocks(8, 8)) * &DArray::from_ndarray(&y, Blocks(5, 6))).to_ndarray();
    let want = x.dot(&y);
    let err = c
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        err <= 17.0 * f32::EPSILON * want.iter().fold(1.0f32, |m, v| m.max(v.abs())),
        "max error {err}"
    );
}

#[test]
fn general_form_with_transposes_and_accumulation() {
    let (x, y, z) = (rand(20, 30, 3), rand(25, 20, 4), rand(30, 25, 5));
    let a = DArray::from_ndarray(&x, Blocks(6, 7)); // 20×30, used as Aᵀ: 30×20
    let b = DArray::from_ndarray(&y, Blocks(9, 4)); // 25×20, used as Bᵀ: 20×25
    let mut c = DArray::from_ndarray(&z, Blocks(8, 8)); // 30×25
    gemm(2.0, &a, Trans::Yes, &b, Trans::Yes, 0.5, &mut c);
    let want = x.t().dot(&y.t()) * 2.0 + &z * 0.5;
    let r = residual(&c.to_ndarray(), &want, fro(&x) * fro(&y) * 2.0 + fro(&z), 20);
    assert!(r < 10.0, "scaled residual {r}");
}

#[test]
fn empty_inner_dimension_scales_c() {
    let a = DArray::<f64>::zeros(AutoBlocks, 4, 0);
    let b = DArray::<f64>::zeros(AutoBlocks, 0, 3);
    assert_eq!((&a * &b).to_ndarray(), Array2::<f64>::zeros((4, 3)));
    let mut c = DArray::<f64>::ones(Blocks(2, 2), 4, 3);
    gemm(1.0, &a, Trans::No, &b, Trans::No, 3.0, &mut c);
    assert_eq!(c.to_ndarray(), Array2::from_elem((4, 3), 3.0));
}

#[test]
fn a_product_feeds_later_operations_without_waiting() {
    let x = rand(40, 40, 6);
    let a = DArray::from_ndarray(&x, Blocks(10, 10));
    let c = &(&a * &a) - &(&a * &a); // all submitted at once
    assert!(c.to_ndarray().iter().all(|v| v.abs() < 1e-12));
}

#[test]
#[should_panic(expected = "shape mismatch in *: (3, 4) vs (5, 2)")]
fn inner_dimension_mismatch_names_both_shapes() {
    let _ = &DArray::<f64>::zeros(AutoBlocks, 3, 4) * &DArray::<f64>::zeros(AutoBlocks, 5, 2);
}

/// `C ← α·op(A)·op(B) + β·C` for all four transpose combinations, generic over the type.
fn every_transpose<T: mosaic::Scalar>() {
    let (m, k, n) = (23, 17, 19);
    for (ta, tb) in [
        (Trans::No, Trans::No),
        (Trans::Yes, Trans::No),
        (Trans::No, Trans::Yes),
        (Trans::Yes, Trans::Yes),
    ] {
        let sa = if ta == Trans::Yes { (k, m) } else { (m, k) };
        let sb = if tb == Trans::Yes { (n, k) } else { (k, n) };
        let (x, y, z) = (rand(sa.0, sa.1, 1), rand(sb.0, sb.1, 2), rand(m, n, 3));
        let conv = |a: &Array2<f64>| a.mapv(T::from_f64);
        let back = |a: &Array2<T>| a.mapv(T::to_f64);
        let (x, y, z) = (back(&conv(&x)), back(&conv(&y)), back(&conv(&z)));
        let a = DArray::from_ndarray(&conv(&x), Blocks(5, 6));
        let b = DArray::from_ndarray(&conv(&y), Blocks(7, 4));
        let mut c = DArray::from_ndarray(&conv(&z), Blocks(6, 6));
        gemm(T::from_f64(1.5), &a, ta, &b, tb, T::from_f64(-0.5), &mut c);
        let opx = if ta == Trans::Yes {
            x.t().to_owned()
        } else {
            x.clone()
        };
        let opy = if tb == Trans::Yes {
            y.t().to_owned()
        } else {
            y.clone()
        };
        let want = opx.dot(&opy) * 1.5 - &z * 0.5;
        let scale = fro(&x) * fro(&y) * 1.5 + fro(&z) * 0.5;
        let r = fro(&(&back(&c.to_ndarray()) - &want)) / (scale * k as f64 * T::EPSILON);
        assert!(r < 1.0, "{ta:?} {tb:?}: scaled residual {r}");
    }
}

#[test]
fn every_transpose_f64() {
    every_transpose::<f64>();
}

#[test]
fn every_transpose_f32() {
    every_transpose::<f32>();
}

#[test]
fn zero_beta_does_not_read_c() {
    let a = DArray::<f64>::ones(Blocks(2, 2), 3, 4);
    let mut c = DArray::<f64>::from_ndarray(&Array2::from_elem((3, 3), f64::NAN), Blocks(2, 2));
    gemm(1.0, &a, Trans::No, &a, Trans::Yes, 0.0, &mut c);
    assert_eq!(c.to_ndarray(), Array2::from_elem((3, 3), 4.0));
    let empty = DArray::<f64>::zeros(AutoBlocks, 3, 0);
    gemm(1.0, &empty, Trans::No, &empty, Trans::Yes, 0.0, &mut c);
    assert_eq!(
        c.to_ndarray(),
        Array2::zeros((3, 3)),
        "k = 0 and β = 0 give zeros, not NaN"
    );
}
