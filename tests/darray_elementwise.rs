//! Elementwise operations on DArray against ndarray, in f32 and f64, with ragged and mixed
//! partitions; shape mismatches panic with both shapes; clone is deep.

use mosaic::prelude::*;
use ndarray::Array2;

fn m(rows: usize, cols: usize, k: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 7 + j * 3) % 11) as f64 * 0.5 + k)
}

fn close(a: &Array2<f64>, b: &Array2<f64>) -> bool {
    a.dim() == b.dim()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
}

#[test]
fn arithmetic_matches_ndarray_with_mixed_partitions() {
    let (x, y) = (m(37, 23, 1.0), m(37, 23, -2.0));
    let a = DArray::from_ndarray(&x, Blocks(8, 5));
    let b = DArray::from_ndarray(&y, Blocks(10, 7)); // cut differently
    assert_eq!((&a + &b).to_ndarray(), &x + &y);
    assert_eq!((&a - &b).to_ndarray(), &x - &y);
    assert_eq!(a.hadamard(&b).to_ndarray(), &x * &y);
    assert_eq!((&a * 2.5).to_ndarray(), &x * 2.5);
    assert_eq!((&a / 4.0).to_ndarray(), &x / 4.0);
    assert_eq!(a.map(|v| v.sqrt()).to_ndarray(), x.mapv(f64::sqrt));
    // The result is cut like the left operand.
    assert_eq!((&a + &b).block_size(), (8, 5));
    assert_eq!((&b + &a).block_size(), (10, 7));
}

#[test]
fn compound_assignment() {
    let (x, y) = (m(20, 30, 0.0), m(20, 30, 3.0));
    let mut a = DArray::from_ndarray(&x, Blocks(6, 6));
    let b = DArray::from_ndarray(&y, AutoBlocks);
    a += &b;
    a -= &DArray::from_ndarray(&x, Blocks(20, 1));
    a *= 3.0;
    assert!(close(&a.to_ndarray(), &(&y * 3.0)));
}

#[test]
fn f32_elementwise() {
    let x = Array2::<f32>::from_shape_fn((9, 9), |(i, j)| (i + j) as f32);
    let a = DArray::from_ndarray(&x, Blocks(4, 4));
    let twice = &a + &a;
    assert_eq!(twice.to_ndarray(), &x * 2.0);
    assert_eq!(twice.sum(), x.sum() * 2.0);
}

#[test]
fn clone_is_deep() {
    let x = m(10, 10, 0.0);
    let a = DArray::from_ndarray(&x, Blocks(3, 3));
    let mut c = a.clone();
    c *= 2.0;
    assert_eq!(
        a.to_ndarray(),
        x,
        "changing the clone must not change the original"
    );
    assert_eq!(c.to_ndarray(), &x * 2.0);
}

#[test]
fn transpose() {
    let x = m(13, 7, 0.5);
    let a = DArray::from_ndarray(&x, Blocks(5, 3));
    let t = a.t();
    assert_eq!(t.shape(), (7, 13));
    assert_eq!(t.block_size(), (3, 5));
    assert_eq!(t.to_ndarray(), x.t().to_owned());
    assert_eq!(t.t().to_ndarray(), x);
}

#[test]
fn reductions() {
    let x = m(50, 40, -1.0);
    for a in [
        DArray::from_ndarray(&x, Blocks(7, 9)),
        DArray::from_ndarray(&x, AutoBlocks),
    ] {
        assert!((a.sum() - x.sum()).abs() < 1e-9);
        let fro = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((a.norm_fro() - fro).abs() < 1e-9);
    }
    assert_eq!(DArray::<f64>::zeros(AutoBlocks, 0, 3).sum(), 0.0);
}

#[test]
fn operations_chain_without_waiting() {
    // Everything below is submitted at once; only the final read waits.
    let x = m(64, 64, 0.0);
    let a = DArray::from_ndarray(&x, Blocks(16, 16));
    let b = &(&a + &a) * 0.5; // == a
    let c = &b - &a; // == 0
    let d = c.map(|v| v + 1.0);
    assert_eq!(d.to_ndarray(), Array2::from_elem((64, 64), 1.0));
}

#[test]
#[should_panic(expected = "shape mismatch in +: (3, 4) vs (4, 3)")]
fn shape_mismatch_names_both_shapes() {
    let a = DArray::<f64>::zeros(AutoBlocks, 3, 4);
    let b = DArray::<f64>::zeros(AutoBlocks, 4, 3);
    let _ = &a + &b;
}

#[test]
#[should_panic(expected = "shape mismatch in -=: (2, 2) vs (2, 3)")]
fn compound_shape_mismatch_names_both_shapes() {
    let mut a = DArray::<f64>::zeros(AutoBlocks, 2, 2);
    a -= &DArray::<f64>::zeros(AutoBlocks, 2, 3);
}

/// Every elementwise operation, generic over the element type: the same rounding as
/// ndarray's, so the results are compared exactly; reductions by relative error.
fn every_op<T: mosaic::Scalar + std::fmt::Debug>() {
    let conv = |a: &Array2<f64>| a.mapv(T::from_f64);
    let (x, y) = (conv(&m(19, 13, 0.25)), conv(&m(19, 13, -1.5)));
    let a = DArray::from_ndarray(&x, Blocks(5, 4));
    let b = DArray::from_ndarray(&y, Blocks(7, 3));
    let two = T::from_f64(2.0);
    assert_eq!((&a + &b).to_ndarray(), &x + &y);
    assert_eq!((&a - &b).to_ndarray(), &x - &y);
    assert_eq!(a.hadamard(&b).to_ndarray(), &x * &y);
    assert_eq!((&a * two).to_ndarray(), x.mapv(|v| v * two));
    assert_eq!((&a / two).to_ndarray(), x.mapv(|v| v / two));
    assert_eq!((-&a).to_ndarray(), x.mapv(|v| T::zero() - v));
    assert_eq!(a.map(|v| v * v).to_ndarray(), x.mapv(|v| v * v));
    assert_eq!(a.t().to_ndarray(), x.t());
    // By value: the left operand's tiles are reused.
    assert_eq!((a.clone() + &b).to_ndarray(), &x + &y);
    assert_eq!((a.clone() - &b).to_ndarray(), &x - &y);
    assert_eq!((a.clone() * two).to_ndarray(), x.mapv(|v| v * two));
    assert_eq!((a.clone() / two).to_ndarray(), x.mapv(|v| v / two));
    let mut c = a.clone();
    c += &b;
    c -= &a;
    c *= two;
    c /= two;
    assert_eq!(c.to_ndarray(), (&x + &y) - &x);
    let sum: f64 = x.iter().map(|v| v.to_f64()).sum();
    assert!((a.sum().to_f64() - sum).abs() <= 19.0 * 13.0 * T::EPSILON * sum.abs());
    let fro = x.iter().map(|v| v.to_f64().powi(2)).sum::<f64>().sqrt();
    assert!((a.norm_fro().to_f64() - fro).abs() <= 19.0 * 13.0 * T::EPSILON * fro);
}

#[test]
fn every_op_f64() {
    every_op::<f64>();
}

#[test]
fn every_op_f32() {
    every_op::<f32>();
}
