//! A panicking closure in every task path, and its failure carried through every operation.
//!
//! - A matrix one of whose tiles was written by a panicking `map` is *failed*: every
//!   operation that reads it (elementwise, products, reductions, every factorization and
//!   solve) returns or panics with an error naming the original panic, never a value, and
//!   never hangs. The other tiles and unrelated matrices are unaffected, and overwriting
//!   the failed matrix entirely makes it usable again.
//! - Task bodies that panic through `Vec` accesses, triangular accesses, inside nested
//!   regions, and while their worker waits for another future report the panic to their
//!   own future and nowhere else.
//!
//! Every test runs under a watchdog that aborts the process if it hangs.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::watchdog;
use mosaic::linalg::{gemm, Trans};
use mosaic::prelude::*;
use ndarray::{Array2, ArrayViewMut2};

const MESSAGE: &str = "deliberate: bad tile";

fn quiet() {
    common::silence_panics(|p| {
        let text = common::payload_text(p);
        text.starts_with("deliberate") || text.starts_with("DArray::") && text.contains("deliberate")
    });
}

/// An 8×8 matrix (4×4 tiles) whose tile (1, 0) was written by a `map` that panicked;
/// without the failure it would be symmetric positive definite (`1 + 8·I`).
fn failed_matrix() -> DArray<f64> {
    let mut a = Array2::<f64>::ones((8, 8)) + Array2::<f64>::eye(8) * 8.0;
    a[(5, 2)] = f64::NAN;
    DArray::from_ndarray(&a, Blocks(4, 4)).map(|x| if x.is_nan() { panic!("{MESSAGE}") } else { x })
}

/// `err` is the failure of the `map` task or a cancellation going back to it.
#[track_caller]
fn goes_back_to_the_map(err: &Error, what: &str) {
    match err {
        Error::TaskPanicked { task, message } => {
            assert_eq!((task.as_str(), message.as_str()), ("map", MESSAGE))
        }
        Error::DependencyFailed { cause, .. } => {
            assert_eq!(cause, &format!("task `map` panicked: {MESSAGE}"), "{what}")
        }
        other => panic!("{what}: expected the map's failure, got {other:?}"),
    }
}

/// The value of a matrix computed from the failed one.
#[track_caller]
fn failed(d: DArray<f64>, what: &str) {
    goes_back_to_the_map(&d.try_to_ndarray().expect_err(what), what);
    goes_back_to_the_map(&d.wait().expect_err(what), what);
}

/// A computation that panics (operators cannot return an error) with the map's failure.
#[track_caller]
fn panics_with_the_cause(what: &str, f: impl FnOnce()) {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err(what);
    let text = common::payload_text(&*payload);
    assert!(text.contains(MESSAGE) && text.contains("`map`"), "{what}: {text}");
}

#[test]
fn a_failed_matrix_fails_every_elementwise_operation_and_reduction() {
    quiet();
    let _wd = watchdog("a_failed_matrix_fails_every_elementwise_operation", 120);
    let (bad, good) = (failed_matrix(), DArray::<f64>::ones(Blocks(4, 4), 8, 8));
    failed(bad.clone(), "clone");
    failed(&bad + &good, "+");
    failed(&good - &bad, "-");
    failed(bad.hadamard(&good), "hadamard");
    failed(&bad * 2.0, "* scalar");
    failed(-&bad, "neg");
    failed(bad.t(), "t");
    failed(bad.map(|x| x + 1.0), "map");
    let mut sum = good.clone();
    sum += &bad;
    failed(sum, "+=");
    panics_with_the_cause("sum", || _ = bad.sum());
    panics_with_the_cause("norm_fro", || _ = bad.norm_fro());
    panics_with_the_cause("to_ndarray", || drop(bad.to_ndarray()));
    // Only tile (1, 0) failed: the other tiles of the result of `+` are there.
    let c = &bad + &good;
    let two_plus_8i = Array2::from_elem((4, 4), 2.0) + Array2::<f64>::eye(4) * 8.0;
    assert_eq!(c.tile(0, 0).to_ndarray().unwrap(), two_plus_8i);
    // The operand that did not fail is intact, and a full overwrite heals the failed one.
    assert_eq!(good.to_ndarray(), Array2::ones((8, 8)));
    let mut healed = bad.clone();
    healed *= 0.0;
    failed(healed, "scaling reads the old values");
    let mut healed = bad;
    gemm(1.0, &good, Trans::No, &good, Trans::No, 0.0, &mut healed);
    assert_eq!(
        healed.to_ndarray(),
        Array2::from_elem((8, 8), 8.0),
        "β = 0 does not read C"
    );
}

/// Regression (gemm with β = 0 failed on a failed C): BLAS does not read C when β = 0, but
/// the product's tasks declared C `InOut`, so a C written by a failed task cancelled them.
/// They now declare it `Out` (also the k = 0 case, which only scales C).
#[test]
fn gemm_with_beta_zero_overwrites_a_failed_c() {
    quiet();
    let _wd = watchdog("gemm_with_beta_zero_overwrites_a_failed_c", 60);
    let good = DArray::<f64>::ones(Blocks(4, 4), 8, 8);
    let mut c = failed_matrix();
    gemm(1.0, &good, Trans::No, &good, Trans::Yes, 0.0, &mut c);
    assert_eq!(c.to_ndarray(), Array2::from_elem((8, 8), 8.0));
    let empty = DArray::<f64>::ones(Blocks(4, 4), 8, 0);
    let mut c = failed_matrix();
    gemm(1.0, &empty, Trans::No, &empty, Trans::Yes, 0.0, &mut c);
    assert_eq!(c.to_ndarray(), Array2::zeros((8, 8)));
    // With β ≠ 0, C is read, and its failure is the product's.
    let mut c = failed_matrix();
    gemm(1.0, &good, Trans::No, &good, Trans::Yes, 0.5, &mut c);
    failed(c, "β = 0.5");
}

/// Regression (unnamed copy tasks): `to_ndarray`'s copy tasks were named after their
/// closure's type (`mosaic::darray::DArray<f64>::try_to_ndarray::{{closure}}…`) in errors
/// and traces.
#[test]
fn to_ndarray_copy_tasks_are_named_to_ndarray() {
    quiet();
    let _wd = watchdog("to_ndarray_copy_tasks_are_named_to_ndarray", 60);
    match (&failed_matrix() * 2.0).try_to_ndarray() {
        Err(Error::DependencyFailed { task, .. }) => assert_eq!(task, "to_ndarray"),
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
}

#[test]
fn a_failed_matrix_fails_every_product_factorization_and_solve() {
    quiet();
    let _wd = watchdog("a_failed_matrix_fails_every_factorization", 120);
    let bad = failed_matrix();
    let spd = {
        let r = DArray::<f64>::rand_seeded(Blocks(4, 4), 8, 8, 1).to_ndarray();
        DArray::from_ndarray(&(r.dot(&r.t()) + Array2::<f64>::eye(8) * 8.0), Blocks(4, 4))
    };
    failed(&bad * &spd, "A·B");
    failed(&spd * &bad, "B·A");
    let mut c = spd.clone();
    gemm(1.0, &spd, Trans::No, &bad, Trans::Yes, 1.0, &mut c);
    failed(c, "gemm");
    // Factorizations wait for their pivots, so they return the failure themselves.
    goes_back_to_the_map(&bad.cholesky().map(|_| ()).unwrap_err(), "cholesky");
    goes_back_to_the_map(&bad.lu().map(|_| ()).unwrap_err(), "lu");
    goes_back_to_the_map(&bad.det().unwrap_err(), "det");
    goes_back_to_the_map(&bad.inv().map(|_| ()).unwrap_err(), "inv");
    goes_back_to_the_map(&bad.solve(&spd).map(|_| ()).unwrap_err(), "solve");
    // QR does not wait; its factors and what is computed from them carry the failure.
    let qr = bad.qr().expect("QR returns at once");
    failed(qr.r(), "qr r");
    failed(qr.q(), "qr q");
    goes_back_to_the_map(&qr.solve_least_squares(&spd).map(|_| ()).unwrap_err(), "lstsq");
    // A failed right-hand side fails the solution, not the factorization.
    let ch = spd.cholesky().unwrap();
    failed(ch.solve(&bad).unwrap(), "Cholesky::solve");
    failed(spd.lu().unwrap().solve(&bad).unwrap(), "Lu::solve");
    let mut x = bad.clone();
    spd.qr().unwrap().apply_qt(&mut x).unwrap();
    failed(x, "apply_qt");
    let mut x = bad.clone();
    let l = ch.l();
    ldiv(LowerTriangular(l), &mut x).unwrap();
    failed(x, "ldiv");
    // Solving with a failed triangle fails the solution; the other triangle is not read.
    let mut x = spd.clone();
    ldiv(LowerTriangular(&bad), &mut x).unwrap();
    failed(x, "ldiv by a failed lower triangle");
    let mut x = spd.clone();
    ldiv(UpperTriangular(&bad), &mut x).unwrap();
    x.wait().expect("the failed tile is below the diagonal");
    // Nothing else was harmed.
    let back = (l * &l.t()).to_ndarray();
    assert!((&back - &spd.to_ndarray()).iter().all(|d| d.abs() < 1e-12));
}

#[test]
fn panics_in_vec_triangular_and_nested_task_bodies_reach_their_own_futures() {
    quiet();
    let _wd = watchdog("panics_in_every_task_body", 120);
    let mut parts = vec![Array2::<f64>::zeros((3, 3)); 4];
    let mut lower = Array2::<f64>::zeros((4, 4));
    let mut other = Array2::<f64>::zeros((2, 2));
    datadeps(|s| {
        let hs: Vec<_> = parts.iter_mut().map(|p| s.write(p)).collect();
        let tri = s.write(&mut lower);
        let o = s.write(&mut other);
        let vec_task = s.spawn(hs.iter().cloned().map(InOut).collect::<Vec<_>>(), |_| -> () {
            panic!("deliberate: vec")
        });
        let tri_task = s.spawn((InOut(LowerTriangular(tri)),), |(_,)| -> () {
            panic!("deliberate: tri")
        });
        let nested = s.spawn((), |()| {
            datadeps(|inner| {
                inner.spawn((), |()| -> () { panic!("deliberate: nested") });
            })
        });
        // A task that waits for a failing future: its worker may run that task meanwhile.
        let waiter = s.spawn((InOut(o),), move |(mut o,): (ArrayViewMut2<'_, f64>,)| {
            let inner = mosaic::spawn((), |()| -> () { panic!("deliberate: waited for") });
            let err = inner.wait().unwrap_err();
            o.fill(1.0);
            err
        });
        let text = |e: Error| e.to_string();
        assert!(text(vec_task.wait().unwrap_err()).contains("deliberate: vec"));
        assert!(text(tri_task.wait().unwrap_err()).contains("deliberate: tri"));
        assert!(text(nested.wait().unwrap_err()).contains("deliberate: nested"));
        assert!(text(waiter.wait().unwrap()).contains("deliberate: waited for"));
    });
    assert_eq!(
        other,
        Array2::ones((2, 2)),
        "the waiting task finished its own work"
    );
    assert!(parts.iter().all(|p| p.iter().all(|&x| x == 0.0)));
}
