//! Shared packed operands change no result: every driver that packs gives, bit for bit,
//! what it gives with sharing off, on tiles large enough to pack (mosaic's kernel) and
//! with a ragged last tile (whose products are not packed).

use ndarray::Array2;

use super::OFF_HERE;
use crate::backend::{Cpu, Recording, Trans};
use crate::darray::DArray;
use crate::linalg::{Linalg, Pivot};
use crate::{Blocks, Scalar};

/// `f` run with sharing on (through a recorder: the number of `pack` kernels it ran) and
/// off; the results.
fn both<R>(f: impl Fn(&Linalg<Recording<Cpu>>) -> R) -> ((R, usize), R) {
    let rec = Recording::new(Cpu);
    let on = f(&Linalg::new(rec.clone()));
    OFF_HERE.with(|o| o.set(true));
    let off = f(&Linalg::new(Recording::new(Cpu)));
    OFF_HERE.with(|o| o.set(false));
    ((on, rec.count("pack")), off)
}

fn same_bits<T: Scalar>(what: &str, x: &Array2<T>, y: &Array2<T>) {
    assert_eq!(x.dim(), y.dim());
    let differ = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.to_f64().to_bits() != b.to_f64().to_bits());
    assert_eq!(differ.count(), 0, "{what}: packed operands changed the result");
}

/// An SPD matrix of order `n` in tiles of `b`.
fn spd<T: Scalar>(n: usize, b: usize) -> DArray<T> {
    let r = DArray::<T>::rand_seeded(Blocks(b, b), n, n, 7);
    &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * T::from_f64(n as f64))
}

/// Whether this processor has mosaic's kernel for `T` (where it has none, nothing packs).
fn packs<T: Scalar>() -> bool {
    Cpu::gemm_kernel::<T>() != "faer"
}

fn cholesky_packed<T: Scalar>() {
    for (n, b) in [(768, 192), (800, 192)] {
        let a = spd::<T>(n, b);
        let ((l, packs_run), l_off) = both(|la| la.cholesky(&a).unwrap().l().to_ndarray());
        same_bits("cholesky", &l, &l_off);
        assert_eq!(
            packs_run > 0,
            packs::<T>(),
            "cholesky ({n}, {b}) ran {packs_run} pack tasks"
        );
        // ‖A·x − L·(Lᵀ·x)‖ / (‖A‖·‖x‖), matrix-vector products only.
        let (l64, a64) = (l.mapv(T::to_f64), a.to_ndarray().mapv(T::to_f64));
        let x = ndarray::Array1::from_shape_fn(n, |i| ((i * 37 % 11) as f64 - 5.0) / 5.0);
        let r = a64.dot(&x) - l64.dot(&l64.t().dot(&x));
        let norm = |v: &ndarray::Array1<f64>| v.dot(v).sqrt();
        let rel = norm(&r) / (a64.iter().map(|v| v * v).sum::<f64>().sqrt() * norm(&x));
        let eps = if size_of::<T>() == 8 {
            f64::EPSILON
        } else {
            f32::EPSILON as f64
        };
        assert!(rel <= 10.0 * eps * n as f64, "cholesky ({n}, {b}) residual {rel}");
    }
}

#[test]
fn cholesky_with_packed_operands_is_bitwise_the_same() {
    cholesky_packed::<f64>();
    cholesky_packed::<f32>();
}

#[test]
fn lu_with_packed_operands_is_bitwise_the_same() {
    for pivot in [Pivot::RowMaximum, Pivot::NoPivot] {
        for (n, b) in [(768, 192), (800, 192)] {
            // Partial pivoting on a general matrix, whose rows really swap (checked below).
            let a = match pivot {
                Pivot::RowMaximum => DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 11),
                Pivot::NoPivot => spd::<f64>(n, b),
            };
            let ((lu, packs_run), lu_off) = both(|la| {
                let f = la.lu_with(&a, pivot).unwrap();
                (f.l().to_ndarray(), f.u().to_ndarray(), f.p())
            });
            same_bits("lu: L", &lu.0, &lu_off.0);
            same_bits("lu: U", &lu.1, &lu_off.1);
            assert_eq!(lu.2, lu_off.2);
            let swapped = lu.2.iter().enumerate().filter(|(i, p)| *i != **p).count();
            assert!(
                pivot == Pivot::NoPivot || swapped > n / 2,
                "only {swapped} rows moved"
            );
            assert_eq!(
                packs_run > 0,
                packs::<f64>(),
                "lu ({n}, {b}, {pivot:?}) ran {packs_run}"
            );
        }
    }
}

#[test]
fn products_with_packed_operands_are_bitwise_the_same() {
    // 3 × 3 products of 3 tiles each; the last row, column and inner tile ragged.
    let (m, k, n) = (500, 700, 450);
    let a = DArray::<f64>::rand_seeded(Blocks(200, 256), m, k, 1);
    let b = DArray::<f64>::rand_seeded(Blocks(256, 200), k, n, 2);
    let c0 = DArray::<f64>::rand_seeded(Blocks(200, 200), m, n, 3);
    let v = ndarray::Array1::from_shape_fn(n, |i| ((i * 37 % 11) as f64 - 5.0) / 5.0);
    for (ta, tb) in [(Trans::No, Trans::No), (Trans::Yes, Trans::Yes)] {
        for beta in [0.0, 1.0, -0.5] {
            let (x, y) = match (ta, tb) {
                (Trans::No, _) => (a.clone(), b.clone()),
                _ => (a.t(), b.t()),
            };
            let ((c, packs_run), c_off) = both(|la| {
                let mut c = c0.clone();
                la.gemm(1.5, &x, ta, &y, tb, beta, &mut c);
                c.to_ndarray()
            });
            same_bits("gemm", &c, &c_off);
            assert_eq!(packs_run > 0, packs::<f64>(), "gemm {ta:?} {tb:?} β {beta}");
            // C·v against 1.5·A·(B·v) + β·C₀·v.
            let expected = a.to_ndarray().dot(&b.to_ndarray().dot(&v)) * 1.5 + c0.to_ndarray().dot(&v) * beta;
            let err = (c.dot(&v) - &expected).mapv(f64::abs).sum() / m as f64;
            assert!(err < 1e-11, "gemm error {err}");
        }
    }
}

/// Nothing is packed for products that could not read it: a product of tiles of 200 by
/// columns of 100 (too narrow for a packed form) packs neither operand.
#[test]
fn a_product_packs_nothing_when_one_side_cannot_be_packed() {
    let a = DArray::<f64>::rand_seeded(Blocks(200, 256), 600, 768, 1);
    let b = DArray::<f64>::rand_seeded(Blocks(256, 100), 768, 300, 2);
    let ((c, packs_run), c_off) = both(|la| la.matmul(&a, &b).to_ndarray());
    same_bits("narrow product", &c, &c_off);
    assert_eq!(packs_run, 0);
}
