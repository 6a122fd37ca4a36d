//! Tiled Cholesky: residual ‖A − L·Lᵀ‖ / (n·‖A‖·ε), f32 and f64, ragged and non-square
//! tiles; non-SPD input names the global pivot; the task graph has the expected shape.

mod common;

use common::fro;
use mosaic::prelude::*;
use ndarray::Array2;
use std::sync::Mutex;

/// Guards the process-global trace: every test of this file takes it, so the traced ones
/// see only their own tasks.
static TRACE: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    TRACE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A symmetric positive definite matrix: M·Mᵀ + n·I.
fn spd(n: usize, seed: u64) -> Array2<f64> {
    let m = DArray::<f64>::rand_seeded(AutoBlocks, n, n, seed).to_ndarray();
    m.dot(&m.t()) + Array2::<f64>::eye(n) * n as f64
}

fn check(n: usize, part: impl mosaic::darray::Partition + std::fmt::Debug) {
    let _g = serial();
    let a = spd(n, n as u64);
    let chol = DArray::from_ndarray(&a, part).cholesky().expect("SPD");
    let l = chol.l().to_ndarray();
    for i in 0..n {
        for j in i + 1..n {
            assert_eq!(l[(i, j)], 0.0, "L must be zero above the diagonal");
        }
    }
    let r = fro(&(&a - &l.dot(&l.t()))) / (n as f64 * fro(&a) * f64::EPSILON);
    assert!(r < 1.0, "n = {n}, {part:?}: scaled residual {r}");
}

#[test]
fn residuals_f64() {
    check(64, Blocks(16, 16));
    check(100, Blocks(32, 32)); // ragged edge tiles
    check(50, Blocks(10, 25)); // non-square tiles are re-cut
    check(7, Blocks(100, 100)); // one tile
}

/// `AutoBlocks` leaves the tiles to the factorization: one tile up to order 512,
/// 256-tiles above.
#[test]
fn auto_tiled_inputs() {
    for n in [1, 300, 512, 513, 700] {
        check(n, AutoBlocks);
    }
}

/// Only the lower triangle is read (documented): NaN above the diagonal changes nothing,
/// in the one-tile path (which copies only the lower part into a recycled buffer whose
/// stale upper part the kernel must not read either) and in the tiled path.
#[test]
fn the_upper_triangle_is_not_read() {
    let _g = serial();
    let n = 300;
    let a = spd(n, 11);
    let poisoned = Array2::from_shape_fn((n, n), |(i, j)| if i < j { f64::NAN } else { a[(i, j)] });
    for part in [Blocks(n, n), Blocks(64, 64)] {
        // A dropped tile of the working copy's size: its NaN buffer is recycled for it.
        drop(DArray::from_ndarray(&Array2::from_elem((n, n), f64::NAN), part));
        let l = DArray::from_ndarray(&poisoned, part)
            .cholesky()
            .expect("SPD")
            .l()
            .to_ndarray();
        let r = fro(&(&a - &l.dot(&l.t()))) / (n as f64 * fro(&a) * f64::EPSILON);
        assert!(r < 1.0, "{part:?}: scaled residual {r}");
        assert!(
            l.indexed_iter().all(|((i, j), &x)| i >= j || x == 0.0),
            "{part:?}: L not lower"
        );
    }
}

#[test]
fn residual_f32() {
    let _g = serial();
    let n = 60;
    let a64 = spd(n, 3);
    let a = a64.mapv(|x| x as f32);
    let l = DArray::from_ndarray(&a, Blocks(16, 16))
        .cholesky()
        .unwrap()
        .l()
        .to_ndarray()
        .mapv(f64::from);
    let af = a.mapv(f64::from);
    let r = fro(&(&af - &l.dot(&l.t()))) / (n as f64 * fro(&af) * f32::EPSILON as f64);
    assert!(r < 1.0, "scaled residual {r}");
}

#[test]
fn not_positive_definite_names_the_global_pivot() {
    let _g = serial();
    let mut a = spd(40, 5);
    // Make the leading 23×23 block singular-ish: row/col 23 breaks positivity.
    a[(23, 23)] = -1.0e6;
    let err = DArray::from_ndarray(&a, Blocks(8, 8)).cholesky().unwrap_err();
    assert_eq!(err, Error::NotPositiveDefinite { index: 23 });
    // The same through the one-tile path (one task copies and factors), from one input
    // tile, and from several (AutoBlocks cuts 300 into 128-tiles; the copy is one tile).
    let err = DArray::from_ndarray(&a, Blocks(40, 40)).cholesky().unwrap_err();
    assert_eq!(err, Error::NotPositiveDefinite { index: 23 });
    let mut b = spd(300, 6);
    b[(223, 223)] = -1.0e9;
    let b = DArray::from_ndarray(&b, AutoBlocks);
    assert!(b.tile_grid().0 > 1);
    assert_eq!(
        b.cholesky().unwrap_err(),
        Error::NotPositiveDefinite { index: 223 }
    );
}

#[test]
fn non_square_is_a_shape_error() {
    let _g = serial();
    let err = DArray::<f64>::zeros(AutoBlocks, 3, 4).cholesky().unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "cholesky", .. }));
}

#[test]
fn task_graph_shape_for_k_by_k_tiles() {
    let _g = serial();
    let nt = 5;
    let a = DArray::from_ndarray(&spd(nt * 8, 9), Blocks(8, 8));
    mosaic::trace::start();
    let _chol = a.cholesky().unwrap();
    let trace = mosaic::trace::stop();
    let count = |name: &str| trace.events().iter().filter(|e| e.name == name).count();
    assert_eq!(count("potrf"), nt);
    assert_eq!(count("trsm"), nt * (nt - 1) / 2);
    assert_eq!(count("syrk"), nt * (nt - 1) / 2);
    assert_eq!(count("gemm"), nt * (nt - 1) * (nt - 2) / 6);
}

#[test]
fn cholesky_of_a_product_starts_before_the_product_ends() {
    let _g = serial();
    // Tiles large enough that the product's gemm tasks (8³ of 64³) outlast the submission
    // of the Cholesky's tasks: with 32-tiles the whole product could finish first.
    let n = 512;
    let m = DArray::<f64>::rand_seeded(Blocks(64, 64), n, n, 11);
    let shift = &DArray::<f64>::eye(Blocks(64, 64), n) * n as f64;
    mosaic::trace::start();
    let prod = &m * &m.t();
    let a = &prod + &shift;
    let chol = a.cholesky().unwrap();
    let trace = mosaic::trace::stop();
    let last_gemm_of_product = trace
        .events()
        .iter()
        .filter(|e| {
            e.name == "gemm"
                && e.task
                    < trace
                        .events()
                        .iter()
                        .filter(|e| e.name == "potrf")
                        .map(|e| e.task)
                        .min()
                        .unwrap()
        })
        .map(|e| e.end_ns)
        .max()
        .unwrap();
    let first_potrf_start = trace
        .events()
        .iter()
        .filter(|e| e.name == "potrf")
        .map(|e| e.start_ns)
        .min()
        .unwrap();
    assert!(
        first_potrf_start < last_gemm_of_product,
        "no barrier: the first potrf ({first_potrf_start}) starts before the product's last gemm ends ({last_gemm_of_product})"
    );
    // And the result is right.
    let (an, l) = (a.to_ndarray(), chol.l().to_ndarray());
    let r = fro(&(&an - &l.dot(&l.t()))) / (n as f64 * fro(&an) * f64::EPSILON);
    assert!(r < 1.0, "scaled residual {r}");
}

#[test]
fn solve_by_residual_with_matrix_and_vector_right_hand_sides() {
    let _g = serial();
    let n = 70;
    let a = spd(n, 21);
    let chol = DArray::from_ndarray(&a, Blocks(16, 16)).cholesky().unwrap();
    for (k, part) in [(1, Blocks(16, 1)), (9, Blocks(10, 4)), (20, Blocks(32, 7))] {
        let b = DArray::<f64>::randn_seeded(part, n, k, k as u64).to_ndarray();
        let x = chol.solve(&DArray::from_ndarray(&b, part)).unwrap().to_ndarray();
        let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f64::EPSILON);
        assert!(r < 1.0, "k = {k}: scaled residual {r}");
    }
    let wrong = DArray::<f64>::zeros(AutoBlocks, n + 1, 1);
    assert!(matches!(chol.solve(&wrong), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn solve_f32() {
    let _g = serial();
    let n = 45;
    let a = spd(n, 8).mapv(|x| x as f32);
    let chol = DArray::from_ndarray(&a, Blocks(8, 8)).cholesky().unwrap();
    let b = DArray::<f32>::randn_seeded(Blocks(8, 3), n, 3, 2);
    let x = chol.solve(&b).unwrap().to_ndarray().mapv(f64::from);
    let (a, b) = (a.mapv(f64::from), b.to_ndarray().mapv(f64::from));
    let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f32::EPSILON as f64);
    assert!(r < 1.0, "scaled residual {r}");
}
