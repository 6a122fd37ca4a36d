//! Tiled LU with partial pivoting: ‖P·A − L·U‖ / (n·‖A‖·ε) in f32 and f64 with ragged and
//! re-cut tiles; pivots chosen over the whole column across tiles (|L| ≤ 1); zero
//! diagonals; singular input; solve, inverse and determinant; the graph's kernel counts.

mod common;

use common::{fro, Rng};
use mosaic::backend::{Cpu, Recording};
use mosaic::linalg::{Linalg, Pivot};
use mosaic::prelude::*;
use mosaic::Scalar;
use ndarray::{Array2, Axis};

fn random(n: usize, seed: u64) -> Array2<f64> {
    random_mn(n, n, seed)
}

fn random_mn(m: usize, n: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((m, n), |_| rng.f64_in(-1.0, 1.0))
}

/// Factors `a` (m×n) cut by `part`; checks P·A = L·U by residual, |L| ≤ 1, and the
/// shapes of the factors. Returns the permutation.
fn check<T: Scalar>(a: &Array2<f64>, part: impl mosaic::darray::Partition + std::fmt::Debug) -> Vec<usize> {
    let (m, n) = a.dim();
    let k = m.min(n);
    let at = a.mapv(T::from_f64);
    let lu = DArray::from_ndarray(&at, part).lu().expect("nonsingular");
    let (p, l, u) = (
        lu.p(),
        lu.l().to_ndarray().mapv(T::to_f64),
        lu.u().to_ndarray().mapv(T::to_f64),
    );
    assert_eq!((l.dim(), u.dim()), ((m, k), (k, n)));
    let mut sorted = p.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..m).collect::<Vec<_>>(), "p is a permutation");
    for i in 0..k {
        assert_eq!(l[(i, i)], 1.0, "unit diagonal");
        for j in i + 1..k {
            assert_eq!(l[(i, j)], 0.0, "L is lower");
        }
        for j in 0..i {
            assert_eq!(u[(i, j)], 0.0, "U is upper");
        }
    }
    let worst = l.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(worst <= 1.0, "partial pivoting keeps |L| <= 1, got {worst}");
    let pa = at.mapv(T::to_f64).select(Axis(0), &p);
    let r = fro(&(&pa - &l.dot(&u))) / (m.max(n) as f64 * fro(&pa) * T::EPSILON);
    assert!(r < 1.0, "{m}x{n}, {part:?}: scaled residual {r}");
    p
}

#[test]
fn residuals_f64() {
    check::<f64>(&random(64, 1), Blocks(16, 16));
    check::<f64>(&random(75, 2), Blocks(16, 16)); // ragged
    check::<f64>(&random(50, 3), Blocks(10, 25)); // re-cut to square tiles
    check::<f64>(&random(9, 4), Blocks(100, 100)); // one tile
    check::<f64>(&random(1, 5), Blocks(1, 1));
}

#[test]
fn tall_and_wide() {
    check::<f64>(&random_mn(50, 20, 31), Blocks(8, 8)); // tall, ragged
    check::<f64>(&random_mn(20, 50, 32), Blocks(8, 8)); // wide, ragged
    check::<f64>(&random_mn(19, 42, 33), Blocks(8, 8)); // wide, last diagonal tile 3×8
    check::<f64>(&random_mn(64, 16, 34), Blocks(16, 16));
    check::<f32>(&random_mn(40, 24, 35), Blocks(8, 8));
    check::<f32>(&random_mn(24, 40, 36), Blocks(8, 8));
}

/// `AutoBlocks` leaves the tiles to the factorization: one tile up to order 512 (tall,
/// wide and square), 256-tiles above.
#[test]
fn auto_tiled_inputs() {
    for (m, n) in [
        (300, 200),
        (200, 300),
        (512, 512),
        (700, 300),
        (300, 700),
        (600, 600),
    ] {
        check::<f64>(&random_mn(m, n, (m + n) as u64), AutoBlocks);
    }
    check::<f32>(&random_mn(513, 513, 3), AutoBlocks);
}

#[test]
fn residuals_f32() {
    check::<f32>(&random(60, 6), Blocks(16, 16));
    check::<f32>(&random(37, 7), Blocks(8, 8));
}

#[test]
fn pivots_come_from_the_whole_column_across_tiles() {
    // Zero diagonal, and every column's largest entry in another tile than the diagonal:
    // pivoting only inside the diagonal tile would divide by zero or give |L| > 1.
    let n = 32;
    let mut a = random(n, 8);
    for j in 0..n {
        a[(j, j)] = 0.0;
        a[((j + 20) % n, j)] = 10.0 + j as f64;
    }
    let p = check::<f64>(&a, Blocks(8, 8));
    assert_eq!(
        p[0], 20,
        "the first pivot is the column maximum, three tiles down"
    );
}

#[test]
fn singular_input_names_the_zero_pivot() {
    let n = 30;
    let mut a = random(n, 9);
    a.column_mut(13).fill(0.0);
    let d = DArray::from_ndarray(&a, Blocks(8, 8));
    assert_eq!(d.lu().unwrap_err(), Error::Singular { index: 13 });
    // The one-tile path (one task gathers and factors) reports the same.
    let one = DArray::from_ndarray(&a, Blocks(30, 30));
    assert_eq!(one.lu().unwrap_err(), Error::Singular { index: 13 });
    let mut b = random(300, 10);
    b.column_mut(213).fill(0.0);
    let b = DArray::from_ndarray(&b, AutoBlocks); // several tiles, gathered into one
    assert!(b.tile_grid().0 > 1);
    assert_eq!(b.lu().unwrap_err(), Error::Singular { index: 213 });
    assert_eq!(d.det().unwrap(), 0.0);
    assert_eq!(d.inv().unwrap_err(), Error::Singular { index: 13 });
    let rect = DArray::<f64>::ones(AutoBlocks, 3, 4);
    assert_eq!(rect.lu().unwrap_err(), Error::Singular { index: 1 }); // rank one
    for err in [
        rect.det().unwrap_err(),
        rect.inv().unwrap_err(),
        rect.solve(&DArray::ones(AutoBlocks, 3, 1)).unwrap_err(),
    ] {
        assert!(err.to_string().ends_with("(3, 4) vs (4, 3)"), "{err}");
    }
}

#[test]
fn solve_inverse_and_determinant() {
    let n = 45;
    let a = random(n, 10) + Array2::<f64>::eye(n);
    let da = DArray::from_ndarray(&a, Blocks(8, 8));
    let lu = da.lu().unwrap();
    for (k, part) in [(1, Blocks(8, 1)), (7, Blocks(5, 3))] {
        let b = random(n.max(k), 11).slice(ndarray::s![..n, ..k]).to_owned();
        let x = lu.solve(&DArray::from_ndarray(&b, part)).unwrap().to_ndarray();
        let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f64::EPSILON);
        assert!(r < 1.0, "k = {k}: scaled residual {r}");
    }
    let x = da.solve(&DArray::ones(AutoBlocks, n, 2)).unwrap().to_ndarray();
    assert!(fro(&(&a.dot(&x) - &Array2::<f64>::ones((n, 2)))) < 1e-10 * fro(&a) * fro(&x));
    let inv = da.inv().unwrap().to_ndarray();
    let r = fro(&(&a.dot(&inv) - &Array2::<f64>::eye(n))) / (n as f64 * fro(&a) * fro(&inv) * f64::EPSILON);
    assert!(r < 1.0, "inverse: scaled residual {r}");
    assert!(matches!(
        lu.solve(&DArray::zeros(AutoBlocks, n + 1, 1)),
        Err(Error::ShapeMismatch { .. })
    ));

    // det of a row permutation of diag(d): ±∏d, the sign from the permutation's parity.
    let d = [2.0, -3.0, 0.5, 4.0, 1.5, -1.0, 3.0];
    let perm = [3, 0, 6, 1, 2, 5, 4]; // cycles (0 3 1)(2 6 4)(5): even
    let m = Array2::from_shape_fn((7, 7), |(i, j)| if perm[i] == j { d[j] } else { 0.0 });
    let det = DArray::from_ndarray(&m, Blocks(3, 3)).det().unwrap();
    assert!((det - d.iter().product::<f64>()).abs() < 1e-12, "det {det}");
    let odd = m.select(Axis(0), &[1, 0, 2, 3, 4, 5, 6]);
    let det = DArray::from_ndarray(&odd, Blocks(3, 3)).det().unwrap();
    assert!((det + d.iter().product::<f64>()).abs() < 1e-12, "det {det}");
    let small = ndarray::array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]];
    let det = DArray::from_ndarray(&small, Blocks(2, 2)).det().unwrap();
    assert!((det + 3.0).abs() < 1e-5, "det {det}");
}

#[test]
fn solve_f32() {
    let n = 40;
    let a = random(n, 12) + Array2::<f64>::eye(n);
    let b = random(n, 13).slice(ndarray::s![.., ..3]).to_owned();
    let x = DArray::from_ndarray(&a.mapv(|v| v as f32), Blocks(8, 8))
        .solve(&DArray::from_ndarray(&b.mapv(|v| v as f32), Blocks(8, 3)))
        .unwrap()
        .to_ndarray()
        .mapv(f64::from);
    let (a, b) = (a.mapv(|v| v as f32 as f64), b.mapv(|v| v as f32 as f64));
    let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f32::EPSILON as f64);
    assert!(r < 1.0, "scaled residual {r}");
}

#[test]
fn kernel_counts_on_k_by_k_tiles() {
    for k in 1..=6 {
        let n = 4 * k - usize::from(k > 1);
        let rec = Recording::new(Cpu);
        let a = DArray::from_ndarray(&(random(n, k as u64) + Array2::<f64>::eye(n) * 4.0), Blocks(4, 4));
        let lu = Linalg::new(rec.clone()).lu(&a).unwrap();
        lu.l().wait().unwrap();
        let counts = rec.counts();
        let get = |name| counts.get(name).copied().unwrap_or(0);
        assert_eq!(get("getrf"), k, "k = {k}");
        assert_eq!(get("trsm"), k * (k - 1) / 2, "k = {k}");
        assert_eq!(get("gemm"), (k - 1) * k * (2 * k - 1) / 6, "k = {k}");
    }
}

#[test]
fn empty_matrix() {
    let a = DArray::<f64>::zeros(AutoBlocks, 0, 0);
    let lu = a.lu().unwrap();
    assert!(lu.p().is_empty());
    assert_eq!(a.det().unwrap(), 1.0);
    assert_eq!(
        lu.solve(&DArray::zeros(AutoBlocks, 0, 2)).unwrap().shape(),
        (0, 2)
    );
}

#[test]
fn no_pivot_variant() {
    for (n, part) in [(48, Blocks(8, 8)), (53, Blocks(16, 16)), (30, Blocks(7, 11))] {
        // Diagonally dominant: no pivoting needed.
        let a = random(n, n as u64) + Array2::<f64>::eye(n) * n as f64;
        let lu = DArray::from_ndarray(&a, part).lu_with(Pivot::NoPivot).unwrap();
        assert_eq!(lu.p(), (0..n).collect::<Vec<_>>());
        let (l, u) = (lu.l().to_ndarray(), lu.u().to_ndarray());
        let r = fro(&(&a - &l.dot(&u))) / (n as f64 * fro(&a) * f64::EPSILON);
        assert!(r < 1.0, "n = {n}: scaled residual {r}");
        let b = random(n, 3).slice(ndarray::s![.., ..2]).to_owned();
        let x = lu
            .solve(&DArray::from_ndarray(&b, AutoBlocks))
            .unwrap()
            .to_ndarray();
        let r = fro(&(&a.dot(&x) - &b)) / (n as f64 * fro(&a) * fro(&x) * f64::EPSILON);
        assert!(r < 1.0, "n = {n}: solve residual {r}");
    }
    let a32 = (random(40, 5) + Array2::<f64>::eye(40) * 40.0).mapv(|v| v as f32);
    let lu = DArray::from_ndarray(&a32, Blocks(8, 8))
        .lu_with(Pivot::NoPivot)
        .unwrap();
    let (l, u) = (
        lu.l().to_ndarray().mapv(f64::from),
        lu.u().to_ndarray().mapv(f64::from),
    );
    let a = a32.mapv(f64::from);
    let r = fro(&(&a - &l.dot(&u))) / (40.0 * fro(&a) * f32::EPSILON as f64);
    assert!(r < 1.0, "f32: scaled residual {r}");
    // A zero pivot that partial pivoting avoids is an error without pivoting.
    let mut z = random(20, 6);
    z[(0, 0)] = 0.0;
    let d = DArray::from_ndarray(&z, Blocks(8, 8));
    assert_eq!(
        d.lu_with(Pivot::NoPivot).unwrap_err(),
        Error::Singular { index: 0 }
    );
    assert!(d.lu().is_ok());
}

#[test]
fn no_pivot_kernel_counts() {
    for k in 1..=5 {
        let n = 4 * k;
        let rec = Recording::new(Cpu);
        let a = DArray::from_ndarray(&(random(n, 1) + Array2::<f64>::eye(n) * n as f64), Blocks(4, 4));
        Linalg::new(rec.clone())
            .lu_with(&a, Pivot::NoPivot)
            .unwrap()
            .l()
            .wait()
            .unwrap();
        let counts = rec.counts();
        let get = |name| counts.get(name).copied().unwrap_or(0);
        assert_eq!(get("getrf_nopiv"), k, "k = {k}");
        assert_eq!(get("trsm"), k * (k - 1), "k = {k}");
        assert_eq!(get("gemm"), (k - 1) * k * (2 * k - 1) / 6, "k = {k}");
    }
}
