//! Wrong shapes in every operation: the ones that return `Result` give
//! `Err(ShapeMismatch)` naming the operation and both shapes; the operators and `gemm`,
//! which cannot return an error, panic with both shapes in the message. Either way no
//! task is left behind and the operands are untouched.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use mosaic::linalg::{gemm, Diag, Linalg, Pivot, Side, Trans, Uplo};
use mosaic::prelude::*;
use ndarray::Array2;

fn m(rows: usize, cols: usize) -> DArray<f64> {
    DArray::rand_seeded(Blocks(2, 3), rows, cols, (rows * 31 + cols) as u64)
}

fn spd(n: usize) -> DArray<f64> {
    let a = m(n, n).to_ndarray();
    DArray::from_ndarray(&(a.dot(&a.t()) + Array2::<f64>::eye(n) * n as f64), Blocks(2, 2))
}

/// `result` is `ShapeMismatch` for `op` with exactly these shapes, and its message shows both.
#[track_caller]
fn mismatch<R: std::fmt::Debug>(
    result: Result<R, Error>,
    op: &str,
    left: (usize, usize),
    right: (usize, usize),
) {
    let err = result.expect_err("a shape mismatch must be an error");
    match &err {
        Error::ShapeMismatch {
            op: o,
            left: l,
            right: r,
        } => assert_eq!((*o, *l, *r), (op, left, right)),
        other => panic!("expected a shape mismatch in {op}, got {other:?}"),
    }
    let text = err.to_string();
    for needle in [op.to_owned(), format!("{left:?}"), format!("{right:?}")] {
        assert!(text.contains(&needle), "`{text}` should name {needle}");
    }
}

/// `f` panics with a message naming `op` and both shapes.
#[track_caller]
fn panics_with_shapes(op: &str, left: (usize, usize), right: (usize, usize), f: impl FnOnce()) {
    common::silence_panics(|p| common::payload_text(p).contains("shape mismatch"));
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("a shape mismatch must panic");
    let text = common::payload_text(&*payload);
    for needle in [op.to_owned(), format!("{left:?}"), format!("{right:?}")] {
        assert!(text.contains(&needle), "`{text}` should name {needle}");
    }
}

#[test]
fn elementwise_operators_panic_with_both_shapes() {
    let (a, b) = (m(4, 5), m(5, 4));
    panics_with_shapes("+", (4, 5), (5, 4), || drop(&a + &b));
    panics_with_shapes("-", (4, 5), (5, 4), || drop(&a - &b));
    panics_with_shapes("+", (4, 5), (5, 4), || drop(a.clone() + &b));
    panics_with_shapes("hadamard", (4, 5), (5, 4), || drop(a.hadamard(&b)));
    let mut c = a.clone();
    panics_with_shapes("+=", (4, 5), (5, 4), || c += &b);
    panics_with_shapes("-=", (4, 5), (5, 4), || c -= &b);
    // The failed updates changed nothing.
    assert_eq!(c.to_ndarray(), a.to_ndarray());
}

#[test]
fn products_panic_with_both_shapes() {
    let (a, b) = (m(4, 5), m(4, 5));
    panics_with_shapes("*", (4, 5), (4, 5), || drop(&a * &b));
    panics_with_shapes("*", (4, 5), (4, 5), || drop(Linalg::cpu().matmul(&a, &b)));
    let mut c = m(4, 4);
    let before = c.to_ndarray();
    panics_with_shapes("gemm", (4, 5), (4, 5), || {
        gemm(1.0, &a, Trans::No, &b, Trans::No, 0.0, &mut c)
    });
    // Inner dimensions fit (Aᵀ·B is 5×5), the result does not.
    panics_with_shapes("gemm", (4, 4), (5, 5), || {
        gemm(1.0, &a, Trans::Yes, &b, Trans::No, 0.0, &mut c)
    });
    assert_eq!(c.to_ndarray(), before);
}

#[test]
fn factorizations_of_non_square_matrices_say_so() {
    let a = m(4, 6);
    mismatch(a.cholesky().map(|_| ()), "cholesky", (4, 6), (6, 4));
    mismatch(
        a.lu_with(Pivot::NoPivot).map(|_| ()),
        "lu without pivoting",
        (4, 6),
        (6, 4),
    );
    mismatch(a.solve(&m(4, 1)), "solve", (4, 6), (6, 4));
    mismatch(a.inv(), "inv", (4, 6), (6, 4));
    mismatch(a.det(), "det", (4, 6), (6, 4));
    // A rectangular LU exists, but what needs a square matrix says it is not.
    let lu = a.lu().expect("a random 4×6 has full rank");
    mismatch(lu.det(), "det", (4, 6), (6, 4));
    mismatch(lu.solve(&m(4, 1)), "Lu::solve", (4, 6), (4, 1));
    mismatch(lu.inv(), "Lu::solve", (4, 6), (4, 4));
}

#[test]
fn solves_with_a_right_hand_side_of_the_wrong_height_say_so() {
    let a = spd(5);
    mismatch(a.solve(&m(4, 2)), "Lu::solve", (5, 5), (4, 2));
    mismatch(a.lu().unwrap().solve(&m(6, 2)), "Lu::solve", (5, 5), (6, 2));
    mismatch(
        a.cholesky().unwrap().solve(&m(4, 2)),
        "Cholesky::solve",
        (5, 5),
        (4, 2),
    );

    let tall = m(7, 3);
    let qr = tall.qr().unwrap();
    mismatch(
        qr.solve_least_squares(&m(6, 2)),
        "solve_least_squares",
        (7, 3),
        (6, 2),
    );
    let wide = m(3, 7).qr().unwrap();
    mismatch(
        wide.solve_least_squares(&m(3, 2)),
        "solve_least_squares",
        (3, 7),
        (3, 2),
    );
    let mut c = m(6, 2);
    let before = c.to_ndarray();
    mismatch(qr.apply_q(&mut c), "apply_q", (7, 3), (6, 2));
    mismatch(qr.apply_qt(&mut c), "apply_qt", (7, 3), (6, 2));
    assert_eq!(c.to_ndarray(), before);
}

#[test]
fn triangular_solves_with_wrong_shapes_say_so() {
    let (square, wide) = (spd(4), m(4, 5));
    let mut x = m(5, 3);
    let before = x.to_ndarray();
    mismatch(ldiv(LowerTriangular(&square), &mut x), "ldiv", (4, 4), (5, 3));
    mismatch(rdiv(&mut x, UpperTriangular(&square)), "rdiv", (4, 4), (5, 3));
    mismatch(ldiv(LowerTriangular(&wide), &mut x), "ldiv", (4, 5), (5, 3));
    let linalg = Linalg::cpu();
    for side in [Side::Left, Side::Right] {
        let r = linalg.trsm(side, Uplo::Upper, Trans::Yes, Diag::Unit, 1.0, &square, &mut x);
        mismatch(r, "trsm", (4, 4), (5, 3));
        let r = linalg.trsm(side, Uplo::Lower, Trans::No, Diag::NonUnit, 1.0, &wide, &mut x);
        mismatch(r, "trsm", (4, 5), (5, 3));
    }
    assert_eq!(x.to_ndarray(), before);
}
