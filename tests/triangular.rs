//! Tiled triangular solves: every side/uplo/trans/diag case in f32 and f64, matrix and
//! vector right-hand sides, ragged and mismatched cuts, by the LAPACK-style residual
//! ‖op(A)·X − α·B‖ / (n·‖A‖·‖X‖·ε); the triangle a solve must not read holds NaN.
//! `ldiv`/`rdiv`: the four structure wrappers, the singularity check (X untouched),
//! shape errors with both shapes, empty operands.

mod common;

use common::{fro, Rng};
use mosaic::linalg::{trsm, Diag, Side, Trans, Uplo};
use mosaic::prelude::*;
use mosaic::Scalar;
use ndarray::Array2;

/// A triangular matrix (`uplo`) that is well conditioned, with NaN everywhere a solve
/// must not look: the other triangle, and the diagonal when it is a unit one.
fn triangle(n: usize, uplo: Uplo, diag: Diag, rng: &mut Rng) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(i, j)| {
        let inside = if uplo == Uplo::Lower { i > j } else { i < j };
        if i == j {
            match diag {
                Diag::Unit => f64::NAN,
                Diag::NonUnit => rng.pick(&[-1.0, 1.0]) * rng.f64_in(1.0, 2.0),
            }
        } else if inside {
            rng.f64_in(-1.0, 1.0) / (n as f64).sqrt()
        } else {
            f64::NAN
        }
    })
}

/// What `triangle` means: NaN replaced by zeros, the unit diagonal by ones.
fn dense(a: &Array2<f64>, diag: Diag) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| match (i == j, diag) {
        (true, Diag::Unit) => 1.0,
        _ if a[(i, j)].is_nan() => 0.0,
        _ => a[(i, j)],
    })
}

fn to<T: Scalar>(a: &Array2<f64>) -> Array2<T> {
    a.mapv(T::from_f64)
}

fn back<T: Scalar>(a: &Array2<T>) -> Array2<f64> {
    a.mapv(T::to_f64)
}

/// Solves one case with `trsm` and returns the scaled residual.
#[allow(clippy::too_many_arguments)]
fn solve_case<T: Scalar>(
    case: (Side, Uplo, Trans, Diag),
    n: usize,
    k: usize,
    pa: Blocks,
    pb: Blocks,
    alpha: f64,
    seed: u64,
) -> f64 {
    let (side, uplo, trans, diag) = case;
    let mut rng = Rng::new(seed);
    let a = to::<T>(&triangle(n, uplo, diag, &mut rng));
    let shape = if side == Side::Left { (n, k) } else { (k, n) };
    let b = to::<T>(&Array2::from_shape_fn(shape, |_| rng.f64_in(-1.0, 1.0)));
    let da = DArray::from_ndarray(&a, pa);
    let mut x = DArray::from_ndarray(&b, pb);
    trsm(side, uplo, trans, diag, T::from_f64(alpha), &da, &mut x).unwrap();
    assert_eq!(
        x.block_size(),
        DArray::from_ndarray(&b, pb).block_size(),
        "X keeps its cut"
    );
    let x = back(&x.to_ndarray());
    let m = dense(&back(&a), diag);
    let m = if trans == Trans::Yes { m.t().to_owned() } else { m };
    let got = if side == Side::Left { m.dot(&x) } else { x.dot(&m) };
    let want = back(&b) * alpha;
    fro(&(&got - &want)) / (n as f64 * fro(&m) * fro(&x).max(f64::MIN_POSITIVE) * T::EPSILON)
}

fn every_case() -> impl Iterator<Item = (Side, Uplo, Trans, Diag)> {
    [Side::Left, Side::Right].into_iter().flat_map(|s| {
        [Uplo::Lower, Uplo::Upper].into_iter().flat_map(move |u| {
            [Trans::No, Trans::Yes]
                .into_iter()
                .flat_map(move |t| [Diag::NonUnit, Diag::Unit].into_iter().map(move |d| (s, u, t, d)))
        })
    })
}

fn all_cases<T: Scalar>() {
    // (n, k, A's cut, B's cut): matching cuts, ragged edges, cuts that differ (B is solved
    // on a re-cut copy and copied back), non-square A tiles, one tile, vector RHS.
    let shapes = [
        (32, 12, Blocks(8, 8), Blocks(8, 5)),
        (29, 7, Blocks(6, 6), Blocks(6, 6)),
        (30, 9, Blocks(7, 7), Blocks(5, 4)),
        (23, 5, Blocks(4, 9), Blocks(11, 3)),
        (10, 3, Blocks(64, 64), Blocks(64, 64)),
        (40, 1, Blocks(8, 8), Blocks(8, 1)),
        (33, 1, Blocks(8, 8), Blocks(5, 1)),
    ];
    for (c, case) in every_case().enumerate() {
        for (s, &(n, k, pa, pb)) in shapes.iter().enumerate() {
            // B is n×k on the left and k×n on the right (k = 1: a column or a row vector).
            let pb = if case.0 == Side::Right {
                Blocks(pb.1, pb.0)
            } else {
                pb
            };
            let r = solve_case::<T>(
                case,
                n,
                k,
                pa,
                pb,
                if s % 2 == 0 { 1.0 } else { -0.5 },
                (c * 10 + s) as u64,
            );
            assert!(r < 1.0, "{case:?} n={n} k={k} {pa:?}/{pb:?}: scaled residual {r}");
        }
    }
}

#[test]
fn every_case_f64() {
    all_cases::<f64>();
}

#[test]
fn every_case_f32() {
    all_cases::<f32>();
}

/// The residual is sensitive: solving with the wrong triangle is caught.
#[test]
fn residual_detects_a_wrong_solve() {
    let mut rng = Rng::new(1);
    let n = 20;
    let a = dense(&triangle(n, Uplo::Lower, Diag::NonUnit, &mut rng), Diag::NonUnit);
    let b = Array2::from_shape_fn((n, 3), |_| rng.f64_in(-1.0, 1.0));
    let mut x = DArray::from_ndarray(&b, Blocks(6, 3));
    // Solve Lᵀ·X = B but check L·X = B.
    trsm(
        Side::Left,
        Uplo::Lower,
        Trans::Yes,
        Diag::NonUnit,
        1.0,
        &DArray::from_ndarray(&a, Blocks(6, 6)),
        &mut x,
    )
    .unwrap();
    let x = x.to_ndarray();
    let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f64::EPSILON);
    assert!(r > 1e6, "a wrong solve must show: {r}");
}

#[test]
fn ldiv_and_rdiv_with_every_wrapper() {
    let n = 27;
    let mut rng = Rng::new(9);
    for (uplo, diag) in [
        (Uplo::Upper, Diag::NonUnit),
        (Uplo::Lower, Diag::NonUnit),
        (Uplo::Upper, Diag::Unit),
        (Uplo::Lower, Diag::Unit),
    ] {
        let a = triangle(n, uplo, diag, &mut rng);
        let m = dense(&a, diag);
        let da = DArray::from_ndarray(&a, Blocks(8, 8));
        let b = Array2::from_shape_fn((n, 4), |_| rng.f64_in(-1.0, 1.0));
        let mut x = DArray::from_ndarray(&b, Blocks(8, 4));
        let mut y = DArray::from_ndarray(&b.t().to_owned(), Blocks(4, 8));
        match (uplo, diag) {
            (Uplo::Upper, Diag::NonUnit) => {
                ldiv(UpperTriangular(&da), &mut x).unwrap();
                rdiv(&mut y, UpperTriangular(&da)).unwrap();
            }
            (Uplo::Lower, Diag::NonUnit) => {
                ldiv(LowerTriangular(&da), &mut x).unwrap();
                rdiv(&mut y, LowerTriangular(&da)).unwrap();
            }
            (Uplo::Upper, Diag::Unit) => {
                ldiv(UnitUpperTriangular(&da), &mut x).unwrap();
                rdiv(&mut y, UnitUpperTriangular(&da)).unwrap();
            }
            (Uplo::Lower, Diag::Unit) => {
                ldiv(UnitLowerTriangular(&da), &mut x).unwrap();
                rdiv(&mut y, UnitLowerTriangular(&da)).unwrap();
            }
        }
        let (x, y) = (x.to_ndarray(), y.to_ndarray());
        let scale = n as f64 * fro(&m) * fro(&x) * f64::EPSILON;
        assert!(fro(&(&m.dot(&x) - &b)) / scale < 1.0, "ldiv {uplo:?} {diag:?}");
        let scale = n as f64 * fro(&m) * fro(&y) * f64::EPSILON;
        assert!(
            fro(&(&y.dot(&m) - &b.t())) / scale < 1.0,
            "rdiv {uplo:?} {diag:?}"
        );
    }
}

#[test]
fn ldiv_vector_f32() {
    let n = 50;
    let mut rng = Rng::new(4);
    let a = dense(&triangle(n, Uplo::Lower, Diag::NonUnit, &mut rng), Diag::NonUnit);
    let b = Array2::from_shape_fn((n, 1), |_| rng.f64_in(-1.0, 1.0));
    let mut x = DArray::<f32>::from_ndarray(&to::<f32>(&b), AutoBlocks);
    ldiv(
        LowerTriangular(&DArray::from_ndarray(&to::<f32>(&a), Blocks(16, 16))),
        &mut x,
    )
    .unwrap();
    let x = back(&x.to_ndarray());
    let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f32::EPSILON as f64);
    assert!(r < 1.0, "scaled residual {r}");
}

#[test]
fn a_zero_on_the_diagonal_is_singular_and_leaves_x_alone() {
    let n = 30;
    let mut a = Array2::<f64>::eye(n) * 2.0;
    a[(17, 17)] = 0.0;
    a[(25, 25)] = 0.0;
    let da = DArray::from_ndarray(&a, Blocks(8, 8));
    let b = Array2::from_shape_fn((n, 2), |(i, j)| (i + j) as f64);
    let mut x = DArray::from_ndarray(&b, Blocks(8, 2));
    assert_eq!(
        ldiv(UpperTriangular(&da), &mut x),
        Err(Error::Singular { index: 17 })
    );
    assert_eq!(
        ldiv(LowerTriangular(&da), &mut x),
        Err(Error::Singular { index: 17 })
    );
    assert_eq!(x.to_ndarray(), b, "a failed ldiv must not touch X");
    // A unit diagonal is not read, so the zeros do not matter.
    ldiv(UnitUpperTriangular(&da), &mut x).unwrap();
    assert_eq!(x.to_ndarray(), b);
}

#[test]
fn shape_mismatches_name_both_shapes() {
    let a = DArray::<f64>::eye(AutoBlocks, 5);
    let mut x = DArray::<f64>::ones(AutoBlocks, 4, 2);
    let err = ldiv(UpperTriangular(&a), &mut x).unwrap_err();
    assert_eq!(err.to_string(), "shape mismatch in ldiv: (5, 5) vs (4, 2)");
    let err = rdiv(&mut x, LowerTriangular(&a)).unwrap_err();
    assert_eq!(err.to_string(), "shape mismatch in rdiv: (5, 5) vs (4, 2)");
    let rect = DArray::<f64>::ones(AutoBlocks, 4, 3);
    let err = trsm(Side::Left, Uplo::Lower, Trans::No, Diag::Unit, 1.0, &rect, &mut x).unwrap_err();
    assert_eq!(err.to_string(), "shape mismatch in trsm: (4, 3) vs (4, 2)");
}

#[test]
fn empty_operands() {
    let a = DArray::<f64>::zeros(AutoBlocks, 0, 0);
    let mut x = DArray::<f64>::zeros(AutoBlocks, 0, 3);
    ldiv(UpperTriangular(&a), &mut x).unwrap();
    assert_eq!(x.shape(), (0, 3));
    let a = DArray::<f64>::eye(AutoBlocks, 4) * 2.0;
    let mut x = DArray::<f64>::zeros(AutoBlocks, 4, 0);
    ldiv(LowerTriangular(&a), &mut x).unwrap();
    assert_eq!(x.shape(), (4, 0));
}
