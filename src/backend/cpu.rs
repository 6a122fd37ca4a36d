//! CPU tile kernels on faer with `Par::Seq`: each runs single-threaded on one tile, the
//! parallelism comes from the task graph. Tiles arrive as `ndarray` views (column-major,
//! padded leading dimension) and are handed to faer without copying.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::lu::partial_pivoting::factor::{lu_in_place, lu_in_place_scratch};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve as tri;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

use super::{Backend, Diag, Side, Trans, Uplo};
use crate::Scalar;

/// The CPU backend: faer kernels, one thread per call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu;

fn mat_ref<'a, T: Scalar>(a: &'a ArrayView2<'_, T>) -> MatRef<'a, T> {
    let (m, n) = a.dim();
    let s = a.strides();
    // SAFETY: the pointer, shape and strides describe exactly the elements of `a`, which
    // is borrowed (shared) for `'a`, so faer reads only live elements nobody writes.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), m, n, s[0], s[1]) }
}

fn mat_mut<'a, T: Scalar>(a: &'a mut ArrayViewMut2<'_, T>) -> MatMut<'a, T> {
    let (m, n) = a.dim();
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    // SAFETY: as in `mat_ref`, with `a` borrowed mutably for `'a`: faer gets exclusive use
    // of exactly `a`'s elements, which no two indices share (ndarray's view invariant).
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), m, n, rs, cs) }
}

fn op<T>(a: ArrayView2<'_, T>, t: Trans) -> ArrayView2<'_, T> {
    match t {
        Trans::No => a,
        Trans::Yes => a.reversed_axes(),
    }
}

/// `β·x` on the `uplo` triangle of `c` (its diagonal included), zero when `β = 0`.
fn scale_triangle<T: Scalar>(uplo: Uplo, beta: T, c: &mut ArrayViewMut2<'_, T>) {
    for ((i, j), x) in c.indexed_iter_mut() {
        let inside = match uplo {
            Uplo::Lower => i >= j,
            Uplo::Upper => i <= j,
        };
        if inside {
            *x = if beta == T::zero() { T::zero() } else { *x * beta };
        }
    }
}

/// `A = L·U` without pivoting, recursively: factor the leading half, solve for the blocks
/// beside and below it, update the trailing half with one product, factor that. Leaves
/// of at most 16 columns are done by plain elimination.
fn lu_nopiv<T: Scalar>(a: ArrayViewMut2<'_, T>) {
    let n = a.nrows().min(a.ncols());
    if n <= 16 {
        let mut a = a;
        for k in 0..n {
            let pivot = a[(k, k)];
            for i in k + 1..a.nrows() {
                a[(i, k)] /= pivot;
            }
            for j in k + 1..a.ncols() {
                let u = a[(k, j)];
                for i in k + 1..a.nrows() {
                    let l = a[(i, k)];
                    a[(i, j)] -= l * u;
                }
            }
        }
        return;
    }
    let h = n / 2;
    let (top, bottom) = a.split_at(ndarray::Axis(0), h);
    let (mut a11, mut a12) = top.split_at(ndarray::Axis(1), h);
    let (mut a21, a22) = bottom.split_at(ndarray::Axis(1), h);
    lu_nopiv(a11.view_mut());
    let one = T::one();
    Cpu.trsm(
        Side::Left,
        Uplo::Lower,
        Trans::No,
        Diag::Unit,
        one,
        a11.view(),
        a12.view_mut(),
    );
    Cpu.trsm(
        Side::Right,
        Uplo::Upper,
        Trans::No,
        Diag::NonUnit,
        one,
        a11.view(),
        a21.view_mut(),
    );
    let mut a22 = a22;
    Cpu.gemm(
        T::zero() - one,
        a21.view(),
        Trans::No,
        a12.view(),
        Trans::No,
        one,
        a22.view_mut(),
    );
    lu_nopiv(a22);
}

impl Backend for Cpu {
    fn gemm<T: Scalar>(
        &self,
        alpha: T,
        a: ArrayView2<'_, T>,
        ta: Trans,
        b: ArrayView2<'_, T>,
        tb: Trans,
        beta: T,
        mut c: ArrayViewMut2<'_, T>,
    ) {
        let (a, b) = (op(a, ta), op(b, tb));
        let accum = if beta == T::zero() {
            Accum::Replace
        } else {
            if beta != T::one() {
                c.mapv_inplace(|x| x * beta);
            }
            Accum::Add
        };
        faer::linalg::matmul::matmul(mat_mut(&mut c), accum, mat_ref(&a), mat_ref(&b), alpha, Par::Seq);
    }

    fn syrk<T: Scalar>(
        &self,
        uplo: Uplo,
        trans: Trans,
        alpha: T,
        a: ArrayView2<'_, T>,
        beta: T,
        mut c: ArrayViewMut2<'_, T>,
    ) {
        if beta != T::one() {
            scale_triangle(uplo, beta, &mut c);
        }
        let a = op(a, trans);
        let at = a.t();
        let structure = match uplo {
            Uplo::Lower => BlockStructure::TriangularLower,
            Uplo::Upper => BlockStructure::TriangularUpper,
        };
        triangular::matmul(
            mat_mut(&mut c),
            structure,
            Accum::Add,
            mat_ref(&a),
            BlockStructure::Rectangular,
            mat_ref(&at),
            BlockStructure::Rectangular,
            alpha,
            Par::Seq,
        );
    }

    fn potrf<T: Scalar>(&self, uplo: Uplo, a: ArrayViewMut2<'_, T>) -> Result<(), usize> {
        // faer factors the lower triangle; the upper one is the lower one of the transpose.
        let mut a = match uplo {
            Uplo::Lower => a,
            Uplo::Upper => a.reversed_axes(),
        };
        let n = a.nrows();
        let mut buf = MemBuffer::new(cholesky_in_place_scratch::<T>(n, Par::Seq, Default::default()));
        let stack = MemStack::new(&mut buf);
        match cholesky_in_place(
            mat_mut(&mut a),
            Default::default(),
            Par::Seq,
            stack,
            Default::default(),
        ) {
            Ok(_) => Ok(()),
            Err(LltError::NonPositivePivot { index }) => Err(index),
        }
    }

    fn getrf<T: Scalar>(&self, mut a: ArrayViewMut2<'_, T>, ipiv: &mut [usize]) -> Result<(), usize> {
        let (m, n) = a.dim();
        let mut perm = vec![0usize; m];
        let mut perm_inv = vec![0usize; m];
        let mut buf = MemBuffer::new(lu_in_place_scratch::<usize, T>(
            m,
            n,
            Par::Seq,
            Default::default(),
        ));
        lu_in_place(
            mat_mut(&mut a),
            &mut perm,
            &mut perm_inv,
            Par::Seq,
            MemStack::new(&mut buf),
            Default::default(),
        );
        // faer gives the permutation (row i of P·A is row perm[i] of A); LAPACK's ipiv is
        // the sequence of swaps that builds it: at step i, bring perm[i] to position i.
        let mut at: Vec<usize> = (0..m).collect(); // at[r]: where original row r is now
        let mut row: Vec<usize> = (0..m).collect(); // row[p]: the original row at p
        for (i, piv) in ipiv.iter_mut().enumerate().take(m.min(n)) {
            let j = at[perm[i]];
            *piv = j;
            row.swap(i, j);
            at[row[i]] = i;
            at[row[j]] = j;
        }
        match (0..m.min(n)).find(|&i| a[(i, i)] == T::zero()) {
            Some(i) => Err(i),
            None => Ok(()),
        }
    }

    fn getrf_nopiv<T: Scalar>(&self, mut a: ArrayViewMut2<'_, T>) -> Result<(), usize> {
        lu_nopiv(a.view_mut());
        match (0..a.nrows().min(a.ncols())).find(|&i| a[(i, i)] == T::zero()) {
            Some(i) => Err(i),
            None => Ok(()),
        }
    }

    fn trsm<T: Scalar>(
        &self,
        side: Side,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        alpha: T,
        a: ArrayView2<'_, T>,
        b: ArrayViewMut2<'_, T>,
    ) {
        // Left: solve M·X = α·B with M = op(A). Right: X·M = α·B is Mᵀ·Xᵀ = α·Bᵀ, so
        // solve with Mᵀ on the transposed view of B. Either way one left solve with a
        // matrix whose triangle is `uplo`, flipped once per transpose.
        let (t, mut b) = match side {
            Side::Left => (trans, b),
            Side::Right => (trans.flip(), b.reversed_axes()),
        };
        if alpha != T::one() {
            b.mapv_inplace(|x| x * alpha);
        }
        let (m, lower) = match t {
            Trans::No => (a, uplo == Uplo::Lower),
            Trans::Yes => (a.reversed_axes(), uplo == Uplo::Upper),
        };
        let (m, x) = (mat_ref(&m), mat_mut(&mut b));
        match (lower, diag) {
            (true, Diag::NonUnit) => tri::solve_lower_triangular_in_place(m, x, Par::Seq),
            (true, Diag::Unit) => tri::solve_unit_lower_triangular_in_place(m, x, Par::Seq),
            (false, Diag::NonUnit) => tri::solve_upper_triangular_in_place(m, x, Par::Seq),
            (false, Diag::Unit) => tri::solve_unit_upper_triangular_in_place(m, x, Par::Seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ShapeBuilder};

    use super::*;

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
        let n = 6;
        let r = Array2::from_shape_fn((n, n).f(), |(i, j)| ((i * 5 + j * 11) % 7) as f64 / 7.0);
        let spd = r.dot(&r.t()) + Array2::<f64>::eye(n) * n as f64;
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
            assert!(err < 1e-12, "{uplo:?}: error {err}");
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
                let want =
                    dense(&f, uplo, Diag::NonUnit) * 2.0 - dense(&opa.dot(&opa.t()), uplo, Diag::NonUnit);
                let err = (&dense(&c, uplo, Diag::NonUnit) - &want)
                    .iter()
                    .fold(0.0f64, |e, d| e.max(d.abs()));
                assert!(err < 1e-12, "syrk {uplo:?} {trans:?}: error {err}");
                assert!(c.iter().filter(|x| x.is_nan()).count() == n * (n - 1) / 2);
            }
        }
        let mut not_spd = -Array2::<f64>::eye(3);
        assert_eq!(Cpu.potrf(Uplo::Lower, not_spd.view_mut()), Err(0));
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
        let mut pa = a.clone();
        for (i, &p) in ipiv.iter().enumerate() {
            assert!(p >= i);
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
        let err = (&l.dot(&u) - &pa).iter().fold(0.0f64, |e, d| e.max(d.abs()));
        assert!(err < 1e-12, "error {err}");
        assert!(l.iter().all(|x| x.abs() <= 1.0));
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
}
