//! Empty (0×0, 0×n, n×0) and 1×1 arrays through every operation: each gives the result
//! its mathematical definition gives (empty products, sums of nothing, the determinant of
//! the empty matrix is 1, …) or the documented error, under every tiling.

use mosaic::linalg::{gemm, Diag, Linalg, Side, Trans, Uplo};
use mosaic::prelude::*;
use ndarray::Array2;

const SHAPES: [(usize, usize); 5] = [(0, 0), (0, 3), (3, 0), (1, 1), (1, 4)];

fn each_tiling(mut f: impl FnMut(&str, &dyn Fn(usize, usize, u64) -> DArray<f64>)) {
    f("AutoBlocks", &|r, c, s| DArray::rand_seeded(AutoBlocks, r, c, s));
    f("Blocks(2, 2)", &|r, c, s| {
        DArray::rand_seeded(Blocks(2, 2), r, c, s)
    });
    f("Blocks(1, 5)", &|r, c, s| {
        DArray::rand_seeded(Blocks(1, 5), r, c, s)
    });
}

fn dense(r: usize, c: usize, s: u64) -> Array2<f64> {
    DArray::<f64>::rand_seeded(Blocks(7, 7), r, c, s).to_ndarray()
}

#[test]
fn constructors_and_elementwise_operations() {
    for (r, c) in SHAPES {
        for part in [Blocks(2, 2), Blocks(5, 1)] {
            assert_eq!(
                DArray::<f64>::zeros(part, r, c).to_ndarray(),
                Array2::zeros((r, c))
            );
            assert_eq!(DArray::<f32>::ones(part, r, c).to_ndarray(), Array2::ones((r, c)));
            assert_eq!(DArray::<f64>::randn(part, r, c).shape(), (r, c));
            assert_eq!(DArray::<f64>::eye(part, r).to_ndarray(), Array2::eye(r));
            let dense = dense(r, c, 4);
            assert_eq!(DArray::from_ndarray(&dense, part).to_ndarray(), dense);
        }
        each_tiling(|tiling, make| {
            let (a, b) = (make(r, c, 1), make(r, c, 2));
            let (x, y) = (a.to_ndarray(), b.to_ndarray());
            let what = format!("{r}×{c}, {tiling}");
            assert_eq!((&a + &b).to_ndarray(), &x + &y, "{what}");
            assert_eq!((&a - &b).to_ndarray(), &x - &y, "{what}");
            assert_eq!(a.hadamard(&b).to_ndarray(), &x * &y, "{what}");
            assert_eq!((&a * 2.0).to_ndarray(), &x * 2.0, "{what}");
            assert_eq!((&a / 2.0).to_ndarray(), &x / 2.0, "{what}");
            assert_eq!((-&a).to_ndarray(), -&x, "{what}");
            assert_eq!(a.map(f64::sqrt).to_ndarray(), x.mapv(f64::sqrt), "{what}");
            assert_eq!(a.t().to_ndarray(), x.t(), "{what}");
            let mut c2 = a.clone();
            c2 += &b;
            c2 -= &a;
            c2 *= 3.0;
            assert_eq!(c2.to_ndarray(), &y * 3.0, "{what}");
            assert_eq!(a.sum(), x.sum(), "{what}");
            assert!((a.norm_fro() - x.iter().map(|v| v * v).sum::<f64>().sqrt()).abs() < 1e-15);
            a.wait().unwrap();
            assert!(a.try_to_ndarray().is_ok());
        });
    }
}

#[test]
fn products_with_empty_and_unit_dimensions() {
    let dims = [0, 1, 3];
    each_tiling(|tiling, make| {
        for m in dims {
            for k in dims {
                for n in dims {
                    let (a, b) = (make(m, k, 1), make(k, n, 2));
                    let want = a.to_ndarray().dot(&b.to_ndarray());
                    let what = format!("({m}×{k})·({k}×{n}), {tiling}");
                    let got = (&a * &b).to_ndarray();
                    assert_eq!(got.dim(), (m, n), "{what}");
                    assert!(
                        got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-14),
                        "{what}"
                    );
                    // C ← 2·A·B + 0·C: C's old contents (NaN here) are not read.
                    let mut c = make(m, n, 3).map(|_| f64::NAN);
                    gemm(2.0, &a, Trans::No, &b, Trans::No, 0.0, &mut c);
                    let got = c.to_ndarray();
                    assert!(
                        got.iter().zip(&want).all(|(g, w)| (g - 2.0 * w).abs() < 1e-14),
                        "{what}"
                    );
                }
            }
        }
    });
}

#[test]
fn factorizations_of_empty_matrices() {
    each_tiling(|tiling, make| {
        let empty = make(0, 0, 1);
        let ch = empty.cholesky().unwrap_or_else(|e| panic!("{tiling}: {e}"));
        assert_eq!(ch.l().shape(), (0, 0));
        assert_eq!(ch.solve(&make(0, 2, 2)).unwrap().shape(), (0, 2));
        let lu = empty.lu().unwrap();
        assert_eq!(
            (lu.l().shape(), lu.u().shape(), lu.p().len()),
            ((0, 0), (0, 0), 0)
        );
        assert_eq!(lu.det().unwrap(), 1.0, "the empty product");
        assert_eq!(empty.det().unwrap(), 1.0);
        assert_eq!(empty.inv().unwrap().shape(), (0, 0));
        assert_eq!(empty.solve(&make(0, 3, 2)).unwrap().shape(), (0, 3));
        let qr = empty.qr().unwrap();
        assert_eq!((qr.q().shape(), qr.r().shape()), ((0, 0), (0, 0)));

        for (m, n) in [(0, 3), (3, 0)] {
            let a = make(m, n, 4);
            let lu = a.lu().unwrap_or_else(|e| panic!("lu {m}×{n}, {tiling}: {e}"));
            assert_eq!(
                (lu.l().shape(), lu.u().shape(), lu.p().len()),
                ((m, 0), (0, n), m)
            );
            let qr = a.qr().unwrap();
            assert_eq!((qr.q().shape(), qr.r().shape()), ((m, 0), (0, n)), "qr {m}×{n}");
            let mut c = make(m, 2, 5);
            let before = c.to_ndarray();
            qr.apply_qt(&mut c).unwrap();
            qr.apply_q(&mut c).unwrap();
            assert_eq!(
                c.to_ndarray(),
                before,
                "Q of an empty factorization is the identity"
            );
        }
        // A 3×0 least-squares problem has the empty solution.
        let x = make(3, 0, 6)
            .qr()
            .unwrap()
            .solve_least_squares(&make(3, 2, 7))
            .unwrap();
        assert_eq!(x.shape(), (0, 2));
    });
}

#[test]
fn factorizations_of_one_by_one_matrices() {
    for (x, tiling) in [(4.0, Blocks(1, 1)), (0.25, Blocks(3, 3))] {
        let a = DArray::from_ndarray(&ndarray::arr2(&[[x]]), tiling);
        let root = f64::sqrt(x);
        assert_eq!(a.cholesky().unwrap().l().to_ndarray()[(0, 0)], root);
        let lu = a.lu().unwrap();
        assert_eq!(
            (lu.l().to_ndarray()[(0, 0)], lu.u().to_ndarray()[(0, 0)]),
            (1.0, x)
        );
        assert_eq!(a.det().unwrap(), x);
        assert_eq!(a.inv().unwrap().to_ndarray()[(0, 0)], 1.0 / x);
        let qr = a.qr().unwrap();
        let (q, r) = (qr.q().to_ndarray()[(0, 0)], qr.r().to_ndarray()[(0, 0)]);
        assert_eq!((q.abs(), r.abs(), q * r), (1.0, x, x));
        let b = DArray::from_ndarray(&ndarray::arr2(&[[2.0 * x]]), tiling);
        assert_eq!(a.solve(&b).unwrap().to_ndarray()[(0, 0)], 2.0);
        assert_eq!(qr.solve_least_squares(&b).unwrap().to_ndarray()[(0, 0)], 2.0);
        let mut y = b.clone();
        ldiv(UpperTriangular(&a), &mut y).unwrap();
        assert_eq!(y.to_ndarray()[(0, 0)], 2.0);
    }
    for bad in [0.0, -1.0] {
        let a = DArray::from_ndarray(&ndarray::arr2(&[[bad]]), Blocks(1, 1));
        assert_eq!(a.cholesky().unwrap_err(), Error::NotPositiveDefinite { index: 0 });
    }
    let zero = DArray::<f64>::zeros(AutoBlocks, 1, 1);
    assert_eq!(zero.lu().unwrap_err(), Error::Singular { index: 0 });
    assert_eq!(zero.det().unwrap(), 0.0);
    assert_eq!(zero.inv().unwrap_err(), Error::Singular { index: 0 });
    let qr = zero.qr().unwrap();
    let b = DArray::<f64>::ones(AutoBlocks, 1, 1);
    assert_eq!(
        qr.solve_least_squares(&b).unwrap_err(),
        Error::Singular { index: 0 }
    );
    let mut y = b.clone();
    assert_eq!(
        ldiv(LowerTriangular(&zero), &mut y).unwrap_err(),
        Error::Singular { index: 0 }
    );
}

#[test]
fn triangular_solves_with_empty_sides() {
    each_tiling(|tiling, make| {
        let linalg = Linalg::cpu();
        for (side, a, b) in [
            (Side::Left, make(0, 0, 1), make(0, 3, 2)),
            (Side::Right, make(0, 0, 1), make(3, 0, 2)),
            (Side::Left, make(3, 3, 1), make(3, 0, 2)),
            (Side::Right, make(3, 3, 1), make(0, 3, 2)),
        ] {
            let mut x = b.clone();
            linalg
                .trsm(side, Uplo::Lower, Trans::No, Diag::Unit, 1.0, &a, &mut x)
                .unwrap_or_else(|e| panic!("{side:?}, {tiling}: {e}"));
            assert_eq!(x.to_ndarray(), b.to_ndarray());
            let mut x = b.clone();
            match side {
                Side::Left => ldiv(UnitLowerTriangular(&a), &mut x).unwrap(),
                Side::Right => rdiv(&mut x, UnitUpperTriangular(&a)).unwrap(),
            }
            assert_eq!(x.shape(), b.shape());
        }
    });
}
