//! Kernel tests: each solves or factors correctly and never touches what it may not
//! (NaN is put there).

use ndarray::{Array2, ShapeBuilder};

use super::*;
use crate::backend::{Backend, Diag, Side, SumOf, Trans, Uplo};

/// A well-conditioned triangle (`uplo`) with NaN in the other triangle, and NaN on the
/// diagonal too when it is a unit one: kernels must not read what they may not read.
fn triangle(n: usize, uplo: Uplo, diag: Diag) -> Array2<f64> {
    Array2::from_shape_fn((n, n).f(), |(i, j)| {
        let inside = if uplo == Uplo::Lower { i > j } else { i < j };
        if i == j {
            if diag == Diag::Unit {
                f64::NAN
            } else {
                2.0 + i as f64 / n as f64
            }
        } else if inside {
            ((i * 7 + j * 3) % 5) as f64 / 10.0 - 0.2
        } else {
            f64::NAN
        }
    })
}

/// The dense matrix a kernel means: the triangle, zeros elsewhere, the unit diagonal.
fn dense(a: &Array2<f64>, uplo: Uplo, diag: Diag) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| match (i == j, diag) {
        (true, Diag::Unit) => 1.0,
        _ if (uplo == Uplo::Lower && i >= j) || (uplo == Uplo::Upper && i <= j) => a[(i, j)],
        _ => 0.0,
    })
}

#[test]
fn trsm_every_case_solves_and_reads_only_its_triangle() {
    let (n, k) = (7, 3);
    for side in [Side::Left, Side::Right] {
        for uplo in [Uplo::Lower, Uplo::Upper] {
            for trans in [Trans::No, Trans::Yes] {
                for diag in [Diag::NonUnit, Diag::Unit] {
                    let a = triangle(n, uplo, diag);
                    let shape = if side == Side::Left { (n, k) } else { (k, n) };
                    let b = Array2::from_shape_fn(shape.f(), |(i, j)| (i as f64 - j as f64).sin());
                    let mut x = b.clone();
                    Cpu.trsm(side, uplo, trans, diag, 0.5, a.view(), x.view_mut());
                    let m = dense(&a, uplo, diag);
                    let m = if trans == Trans::Yes { m.t().to_owned() } else { m };
                    let back = if side == Side::Left { m.dot(&x) } else { x.dot(&m) };
                    let err = (&back - &(&b * 0.5)).iter().fold(0.0f64, |e, d| e.max(d.abs()));
                    assert!(err < 1e-13, "{side:?} {uplo:?} {trans:?} {diag:?}: error {err}");
                }
            }
        }
    }
}

#[test]
fn potrf_and_syrk_touch_only_their_triangle() {
    // 300: faer's blocked path, which writes partial sums into the other triangle (and so
    // must not read it either: the one-tile Cholesky leaves stale values there).
    for n in [6, 300] {
        potrf_and_syrk_read_only_their_triangle(n);
    }
    let mut not_spd = -Array2::<f64>::eye(3);
    assert_eq!(Cpu.potrf(Uplo::Lower, not_spd.view_mut()), Err(0));
}

fn potrf_and_syrk_read_only_their_triangle(n: usize) {
    let r = Array2::from_shape_fn((n, n).f(), |(i, j)| ((i * 5 + j * 11) % 7) as f64 / 7.0);
    let spd = r.dot(&r.t()) + Array2::<f64>::eye(n) * n as f64;
    let tol = 1e-14 * (n * n) as f64;
    for uplo in [Uplo::Lower, Uplo::Upper] {
        let mut f = dense(&spd, uplo, Diag::NonUnit);
        f.zip_mut_with(&spd, |x, &s| {
            if *x == 0.0 && s != 0.0 {
                *x = f64::NAN
            }
        });
        Cpu.potrf(uplo, f.view_mut()).unwrap();
        let l = dense(&f, uplo, Diag::NonUnit);
        let back = if uplo == Uplo::Lower {
            l.dot(&l.t())
        } else {
            l.t().dot(&l)
        };
        let err = (&back - &spd).iter().fold(0.0f64, |e, d| e.max(d.abs()));
        assert!(err < tol, "{uplo:?}: error {err}");
        assert!(f.iter().filter(|x| x.is_nan()).count() == n * (n - 1) / 2);

        for trans in [Trans::No, Trans::Yes] {
            let mut c = f.clone();
            let a = r.slice(ndarray::s![.., 0..4]).to_owned();
            let a = if trans == Trans::Yes {
                a.t().as_standard_layout().to_owned()
            } else {
                a
            };
            Cpu.syrk(uplo, trans, -1.0, a.view(), 2.0, c.view_mut());
            let opa = if trans == Trans::Yes {
                a.t().to_owned()
            } else {
                a.clone()
            };
            let want = dense(&f, uplo, Diag::NonUnit) * 2.0 - dense(&opa.dot(&opa.t()), uplo, Diag::NonUnit);
            let err = (&dense(&c, uplo, Diag::NonUnit) - &want)
                .iter()
                .fold(0.0f64, |e, d| e.max(d.abs()));
            assert!(err < tol, "syrk {uplo:?} {trans:?}: error {err}");
            assert!(c.iter().filter(|x| x.is_nan()).count() == n * (n - 1) / 2);
        }
    }
}

/// `max |P·A − L·U|` for `getrf`'s output `f` (`m × n`, `m ≥ n`) and swaps `ipiv`, after
/// checking that every swap is with a later row and that `|L| ≤ 1` (partial pivoting).
fn lu_residual(a: &Array2<f64>, f: &Array2<f64>, ipiv: &[usize]) -> f64 {
    let (m, n) = f.dim();
    let mut pa = a.clone();
    for (i, &p) in ipiv.iter().enumerate() {
        assert!(p >= i, "step {i} swaps with an earlier row {p}");
        for j in 0..n {
            pa.swap((i, j), (p, j));
        }
    }
    let l = Array2::from_shape_fn((m, n), |(i, j)| match i.cmp(&j) {
        std::cmp::Ordering::Equal => 1.0,
        std::cmp::Ordering::Greater => f[(i, j)],
        std::cmp::Ordering::Less => 0.0,
    });
    let u = Array2::from_shape_fn((n, n), |(i, j)| if i <= j { f[(i, j)] } else { 0.0 });
    assert!(l.iter().all(|x| x.abs() <= 1.0), "|L| > 1");
    max_abs(&(&l.dot(&u) - &pa))
}

#[test]
fn getrf_pivots_like_lapack() {
    // Column maxima force swaps: P·A = L·U with |L| ≤ 1, and ipiv replays P.
    let (m, n) = (7, 5);
    let a = Array2::from_shape_fn((m, n).f(), |(i, j)| {
        (((i * 5 + j * 3) % 7) as f64 - 3.0) * (1.0 + j as f64)
    });
    let mut f = a.clone();
    let mut ipiv = vec![0; n];
    Cpu.getrf(f.view_mut(), &mut ipiv).unwrap();
    let err = lu_residual(&a, &f, &ipiv);
    assert!(err < 1e-12, "error {err}");
    let mut zero_col = a.clone();
    zero_col.column_mut(2).fill(0.0);
    assert_eq!(Cpu.getrf(zero_col.view_mut(), &mut ipiv), Err(2));
}

#[test]
fn getrf_nopiv_factors_a_dominant_matrix() {
    for n in [5, 16, 17, 40, 67] {
        let a = Array2::from_shape_fn((n, n).f(), |(i, j)| {
            if i == j {
                n as f64
            } else {
                ((i * 3 + j * 7) % 5) as f64 / 5.0 - 0.4
            }
        });
        let mut f = a.clone();
        Cpu.getrf_nopiv(f.view_mut()).unwrap();
        let l = Array2::from_shape_fn((n, n), |(i, j)| {
            if i == j {
                1.0
            } else if i > j {
                f[(i, j)]
            } else {
                0.0
            }
        });
        let u = Array2::from_shape_fn((n, n), |(i, j)| if i <= j { f[(i, j)] } else { 0.0 });
        let err = (&l.dot(&u) - &a).iter().fold(0.0f64, |e, d| e.max(d.abs()));
        assert!(err < 1e-12 * n as f64, "n = {n}: error {err}");
    }
    let mut z = Array2::<f64>::eye(20);
    z[(18, 18)] = 0.0;
    assert_eq!(Cpu.getrf_nopiv(z.view_mut()), Err(18));
}

#[test]
fn gemm_with_zero_beta_ignores_nan_in_c() {
    let a = Array2::from_shape_fn((3, 2).f(), |(i, j)| (i + j) as f64);
    let b = Array2::from_shape_fn((3, 4).f(), |(i, j)| (i * j) as f64);
    let mut c = Array2::from_elem((2, 4).f(), f64::NAN);
    Cpu.gemm(2.0, a.view(), Trans::Yes, b.view(), Trans::No, 0.0, c.view_mut());
    assert_eq!(c, a.t().dot(&b) * 2.0);
}

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |e, d| e.max(d.abs()))
}

fn sample(m: usize, n: usize, seed: usize) -> Array2<f64> {
    Array2::from_shape_fn((m, n).f(), |(i, j)| {
        (((i * 7 + j * 13 + seed * 5) % 11) as f64 - 5.0) / 3.0
    })
}

#[test]
fn geqrt_and_unmqr_reproduce_the_tile() {
    for (m, n, ib) in [(9, 6, 4), (6, 9, 2), (8, 8, 8), (12, 5, 1)] {
        let a = sample(m, n, 1);
        let mut f = a.clone();
        let k = m.min(n);
        let mut t = Array2::<f64>::zeros((ib, k).f());
        Cpu.geqrt(f.view_mut(), t.view_mut());
        // Qᵀ·A = R, reading V with NaN on and above the diagonal.
        let mut v = f.slice(ndarray::s![.., ..k]).to_owned();
        for j in 0..k {
            for i in 0..=j.min(m - 1) {
                v[(i, j)] = f64::NAN;
            }
        }
        let mut qta = a.clone();
        Cpu.unmqr(Trans::Yes, v.view(), t.view(), qta.view_mut());
        let r = Array2::from_shape_fn((m, n), |(i, j)| if i <= j { f[(i, j)] } else { 0.0 });
        assert!(max_abs(&(&qta - &r)) < 1e-12, "{m}x{n}: Qᵀ·A ≠ R");
        // Q·(Qᵀ·C) = C.
        let c = sample(m, 3, 2);
        let mut x = c.clone();
        Cpu.unmqr(Trans::Yes, v.view(), t.view(), x.view_mut());
        Cpu.unmqr(Trans::No, v.view(), t.view(), x.view_mut());
        assert!(max_abs(&(&x - &c)) < 1e-12, "{m}x{n}: Q·Qᵀ ≠ I");
    }
}

#[test]
fn tsqrt_and_tsmqr_factor_the_stack() {
    // Blocks of ib reflectors: dividing n or not, one block, ib = 1; bottoms taller and
    // shorter than the top.
    for (n, m, ib) in [(6, 8, 4), (5, 3, 2), (8, 8, 3), (4, 9, 8), (7, 7, 1)] {
        let top = sample(n, n, 3);
        let mut r = Array2::from_shape_fn((n, n).f(), |(i, j)| if i <= j { top[(i, j)] } else { f64::NAN });
        let a = sample(m, n, 4);
        let mut v2 = a.clone();
        let mut t = Array2::<f64>::zeros((ib, n).f());
        let r_in = Array2::from_shape_fn((n, n), |(i, j)| if i <= j { top[(i, j)] } else { 0.0 });
        Cpu.tsqrt(r.view_mut(), v2.view_mut(), t.view_mut());
        assert_eq!(
            r.iter().filter(|x| x.is_nan()).count(),
            n * (n - 1) / 2,
            "below R untouched"
        );
        // Qᵀ·[R_in; A] = [R_out; 0].
        let (mut c1, mut c2) = (r_in.clone(), a.clone());
        Cpu.tsmqr(Trans::Yes, c1.view_mut(), c2.view_mut(), v2.view(), t.view());
        let r_out = Array2::from_shape_fn((n, n), |(i, j)| if i <= j { r[(i, j)] } else { 0.0 });
        assert!(max_abs(&(&c1 - &r_out)) < 1e-12, "{n}x{m}/{ib}: top is R");
        assert!(max_abs(&c2) < 1e-12, "{n}x{m}/{ib}: bottom is annihilated");
        // Q·Qᵀ = I on another block.
        let (x1, x2) = (sample(n, 3, 5), sample(m, 3, 6));
        let (mut y1, mut y2) = (x1.clone(), x2.clone());
        Cpu.tsmqr(Trans::Yes, y1.view_mut(), y2.view_mut(), v2.view(), t.view());
        Cpu.tsmqr(Trans::No, y1.view_mut(), y2.view_mut(), v2.view(), t.view());
        assert!(max_abs(&(&y1 - &x1)) < 1e-12 && max_abs(&(&y2 - &x2)) < 1e-12);
    }
}

#[test]
fn ttqrt_and_ttmqr_factor_two_triangles() {
    let (n, ib) = (7, 3);
    for m in [7, 4] {
        // R₂ is m×n: triangular (m = n) or trapezoidal (m < n, a ragged bottom tile).
        let (top, bottom) = (sample(n, n, 7), sample(m, n, 8));
        let masked = |a: &Array2<f64>, fill: f64| {
            Array2::from_shape_fn(a.dim(), |(i, j)| if i <= j { a[(i, j)] } else { fill })
        };
        let (mut r1, mut r2) = (masked(&top, f64::NAN), masked(&bottom, f64::NAN));
        let mut t = Array2::<f64>::zeros((ib, n).f());
        Cpu.ttqrt(r1.view_mut(), r2.view_mut(), t.view_mut());
        let below = |a: &Array2<f64>| a.iter().filter(|x| x.is_nan()).count();
        assert_eq!(below(&r1), n * (n - 1) / 2, "below R₁ untouched");
        assert_eq!(
            below(&r2),
            (0..m).map(|i| i.min(n)).sum::<usize>(),
            "below R₂ untouched"
        );
        let (mut c1, mut c2) = (masked(&top, 0.0), masked(&bottom, 0.0));
        Cpu.ttmqr(Trans::Yes, c1.view_mut(), c2.view_mut(), r2.view(), t.view());
        assert!(max_abs(&(&c1 - &masked(&r1, 0.0))) < 1e-12, "m = {m}: top is R");
        assert!(max_abs(&c2) < 1e-12, "m = {m}: bottom is annihilated");
        let (x1, x2) = (sample(n, 2, 9), sample(m, 2, 10));
        let (mut y1, mut y2) = (x1.clone(), x2.clone());
        Cpu.ttmqr(Trans::Yes, y1.view_mut(), y2.view_mut(), r2.view(), t.view());
        Cpu.ttmqr(Trans::No, y1.view_mut(), y2.view_mut(), r2.view(), t.view());
        assert!(max_abs(&(&y1 - &x1)) < 1e-12 && max_abs(&(&y2 - &x2)) < 1e-12);
    }
}

/// `a` cut into tiles of these heights, top to bottom.
fn tiles_of(a: &Array2<f64>, heights: &[usize]) -> Vec<Array2<f64>> {
    let mut r = 0;
    let mut tiles = Vec::new();
    for &h in heights {
        // Column-major, as the library's tiles are.
        let mut tile = Array2::zeros((h, a.ncols()).f());
        tile.assign(&a.slice(ndarray::s![r..r + h, ..]));
        tiles.push(tile);
        r += h;
    }
    tiles
}

/// The tiles stacked back into one block.
fn stack(tiles: &[Array2<f64>], width: usize) -> Array2<f64> {
    let views: Vec<_> = tiles.iter().map(|t| t.view()).collect();
    let s = ndarray::concatenate(ndarray::Axis(0), &views).expect("one width");
    assert_eq!(s.ncols(), width);
    s
}

/// `getrf_tiles` on a column of tiles gives `getrf`'s result on the stacked block: the same
/// swaps and the same factors up to rounding, in every tile (ragged last tile, odd widths,
/// several recursion levels), and the same zero-pivot report.
#[test]
fn getrf_tiles_matches_getrf_on_the_stacked_block() {
    let cases: [(usize, &[usize]); 5] = [
        (8, &[8, 8, 5]),
        (5, &[8, 3]),
        (16, &[16, 16, 16, 16]),
        (37, &[40, 40, 9]),
        (12, &[12, 1]),
    ];
    for (case, &(width, heights)) in cases.iter().enumerate() {
        let height: usize = heights.iter().sum();
        for zero_column in [None, Some(width / 2)] {
            let a = Array2::from_shape_fn((height, width).f(), |(i, j)| match zero_column {
                Some(z) if j == z => 0.0,
                _ => {
                    // A hash, not a smooth function of (i, j): full rank, no ties in magnitude.
                    let h = (i as u64 * 2_654_435_761) ^ (j as u64 * 40_503 + case as u64 * 97);
                    (h % 1_000_003) as f64 / 1_000_003.0 - 0.5
                }
            });
            let mut whole = a.clone();
            let mut expected = vec![0; width];
            let expected_result = Cpu.getrf(whole.view_mut(), &mut expected);
            let mut tiles = tiles_of(&a, heights);
            let mut views: Vec<_> = tiles.iter_mut().map(|t| t.view_mut()).collect();
            let mut ipiv = vec![0; width];
            let result = Cpu.getrf_tiles(&mut views, &mut ipiv);
            // Row-major tiles (factored as column-major copies): the same, bit for bit.
            let mut rows: Vec<_> = tiles_of(&a, heights)
                .iter()
                .map(|t| t.as_standard_layout().to_owned())
                .collect();
            let mut views: Vec<_> = rows.iter_mut().map(|t| t.view_mut()).collect();
            let mut rows_ipiv = vec![0; width];
            let rows_result = Cpu.getrf_tiles(&mut views, &mut rows_ipiv);
            assert_eq!(
                (rows_result, &rows_ipiv),
                (result, &ipiv),
                "row-major, case {case}"
            );
            assert_eq!(
                stack(&rows, width),
                stack(&tiles, width),
                "row-major, case {case}"
            );
            // The trait's default (gather, `getrf`, scatter) agrees with `getrf`.
            let (mut gathered, mut gathered_ipiv) = (tiles_of(&a, heights), vec![0; width]);
            let mut views: Vec<_> = gathered.iter_mut().map(|t| t.view_mut()).collect();
            let gathered_result = crate::backend::getrf_gathered(&Cpu, &mut views, &mut gathered_ipiv);
            assert_eq!((gathered_result, &gathered_ipiv), (expected_result, &expected));
            let err = max_abs(&(&stack(&gathered, width) - &whole));
            assert!(err < 1e-12, "gathered, case {case}: factors differ by {err}");
            let label = format!("width {width}, tiles {heights:?}, zero column {zero_column:?}");
            assert_eq!(result, expected_result, "{label}");
            let stacked = stack(&tiles, width);
            if zero_column.is_none() {
                // Full rank: the swaps and so the factors are unique.
                assert_eq!(ipiv, expected, "{label}");
                let err = max_abs(&(&stacked - &whole));
                assert!(err < 1e-10, "{label}: factors differ by {err}");
            } else {
                // After a zero column the factors are not unique (faer stops swapping,
                // LAPACK and `getrf_tiles` go on): check P·A = L·U and |L| ≤ 1.
                let err = lu_residual(&a, &stacked, &ipiv);
                assert!(err < 1e-12, "{label}: residual {err}");
            }
        }
    }
}

/// NaN outside a kernel's part shows it is not *read*; a finite sentinel that must come back
/// bit for bit shows it is not *written* either (a write of a NaN-derived value would keep
/// the NaN). `potrf` is documented to write its other triangle; the others may not.
#[test]
fn kernels_do_not_write_outside_their_parts() {
    const SENTINEL: f64 = 7777.0;
    let n = 40; // past faer's unblocked sizes
    let outside = |uplo: Uplo, i: usize, j: usize| if uplo == Uplo::Lower { i < j } else { i > j };
    let untouched = |c: &Array2<f64>, uplo: Uplo| {
        c.indexed_iter()
            .filter(|&((i, j), _)| outside(uplo, i, j))
            .all(|(_, &x)| x == SENTINEL)
    };
    for uplo in [Uplo::Lower, Uplo::Upper] {
        for trans in [Trans::No, Trans::Yes] {
            let mut c = Array2::from_shape_fn(
                (n, n).f(),
                |(i, j)| {
                    if outside(uplo, i, j) {
                        SENTINEL
                    } else {
                        1.0
                    }
                },
            );
            let a = sample(n, n, 3);
            Cpu.syrk(uplo, trans, -1.0, a.view(), 2.0, c.view_mut());
            assert!(untouched(&c, uplo), "syrk {uplo:?} {trans:?}");
        }
    }
    let upper_only =
        |a: &Array2<f64>| Array2::from_shape_fn(a.dim(), |(i, j)| if i <= j { a[(i, j)] } else { SENTINEL });
    let (mut r, mut a, mut t) = (
        upper_only(&sample(n, n, 4)),
        sample(5, n, 5),
        Array2::zeros((3, n).f()),
    );
    Cpu.tsqrt(r.view_mut(), a.view_mut(), t.view_mut());
    assert!(untouched(&r, Uplo::Upper), "tsqrt: below R");
    let (mut r1, mut r2) = (upper_only(&sample(n, n, 6)), upper_only(&sample(n, n, 7)));
    Cpu.ttqrt(r1.view_mut(), r2.view_mut(), t.view_mut());
    assert!(
        untouched(&r1, Uplo::Upper) && untouched(&r2, Uplo::Upper),
        "ttqrt: below R₁, R₂"
    );
}

#[test]
fn laswp_on_a_stack_of_uneven_tiles_is_the_row_swaps_of_the_whole_block() {
    let heights = [4, 4, 3];
    let rows: usize = heights.iter().sum();
    let block = Array2::from_shape_fn((rows, 3).f(), |(i, j)| (10 * i + j) as f64);
    // LAPACK's pivots: each row swapped with itself or one below, across tiles too.
    let ipiv = [3, 1, 9, 10, 4, 7, 8, 7, 10, 9];
    let mut want = block.clone();
    for (i, &p) in ipiv.iter().enumerate() {
        for c in 0..3 {
            want.swap((i, c), (p, c));
        }
    }
    let mut tiles: Vec<Array2<f64>> = Vec::new();
    let mut r = 0;
    for h in heights {
        tiles.push(block.slice(ndarray::s![r..r + h, ..]).to_owned());
        r += h;
    }
    let mut views: Vec<_> = tiles.iter_mut().map(|t| t.view_mut()).collect();
    Cpu.laswp(&mut views, &ipiv);
    let got = ndarray::concatenate(
        ndarray::Axis(0),
        &tiles.iter().map(|t| t.view()).collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(got, want);
}

#[test]
fn laset_sets_exactly_the_part_it_names() {
    for (m, n) in [(4, 4), (5, 3), (3, 5)] {
        for uplo in [None, Some(Uplo::Upper), Some(Uplo::Lower)] {
            let mut a = Array2::from_elem((m, n).f(), 1.0);
            Cpu.laset(uplo, 7.0, a.view_mut());
            for ((i, j), &x) in a.indexed_iter() {
                let set = match uplo {
                    None => true,
                    Some(Uplo::Upper) => i < j,
                    Some(Uplo::Lower) => i > j,
                };
                assert_eq!(x, if set { 7.0 } else { 1.0 }, "{m}x{n} {uplo:?} ({i}, {j})");
            }
        }
        let a = Array2::from_shape_fn((m, n), |(i, j)| (i * n + j) as f64);
        let mut b = Array2::zeros((m, n).f());
        Cpu.lacpy(a.view(), b.view_mut());
        assert_eq!(a, b);
    }
}

#[test]
fn sum_adds_each_row_then_the_rows() {
    // Column by column this would be (1e16 − 1e16) + (1 + 1) = 2; row by row each row
    // rounds to ±1e16 and the total is 0: the order every backend keeps (a GPU's too).
    let a = ndarray::array![[1e16, 1.0], [-1e16, 1.0]];
    assert_eq!(Cpu.sum(SumOf::Values, a.view()), 0.0);
    assert_eq!(
        Cpu.sum(SumOf::Values, a.t()),
        2.0,
        "a transposed view: its own rows"
    );
    // Squares in f64, from f32 elements too.
    let b = ndarray::array![[3.0f32, 4.0], [0.5, -0.5]];
    assert_eq!(Cpu.sum(SumOf::Squares, b.view()), 25.5);
    assert_eq!(Cpu.sum(SumOf::Values, Array2::<f64>::zeros((0, 3)).view()), 0.0);
}
