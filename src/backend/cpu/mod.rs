//! CPU tile kernels: mosaic's own product (`gemm/`) and faer's other kernels with
//! `Par::Seq`. Each runs single-threaded on one tile, the parallelism comes from the task
//! graph. Tiles arrive as `ndarray` views (column-major,
//! padded leading dimension) and are handed to faer without copying.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::lu::partial_pivoting::factor::{lu_in_place, lu_in_place_scratch};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve as tri;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

use super::{Backend, Diag, Side, Trans, Uplo};
use crate::Scalar;

mod gemm;
mod panel;
mod qr;
#[cfg(test)]
mod tests;
mod tpqrt;

/// The CPU backend: mosaic's tile product and faer's other kernels, one thread per call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu;

impl Cpu {
    /// The tile product [`Backend::gemm`] runs for `T` on this processor: mosaic's own
    /// kernel for `f32` and `f64` on x86-64 (`"avx512"`, `"avx2"`: the widest instruction
    /// set the processor has), faer's elsewhere (`"faer"`). Products with a side under 192
    /// (tiles of 128 and less) run faer's everywhere: it is faster there.
    /// `MOSAIC_TILE_GEMM=faer` in the environment, read once, selects faer's everywhere
    /// (for comparisons).
    pub fn gemm_kernel<T: Scalar>() -> &'static str {
        gemm::kernel_name::<T>()
    }
}

pub(super) fn mat_ref<'a, T: Scalar>(a: &'a ArrayView2<'_, T>) -> MatRef<'a, T> {
    let (m, n) = a.dim();
    let s = a.strides();
    // SAFETY: the pointer, shape and strides describe exactly the elements of `a`, which
    // is borrowed (shared) for `'a`, so faer reads only live elements nobody writes.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), m, n, s[0], s[1]) }
}

pub(super) fn mat_mut<'a, T: Scalar>(a: &'a mut ArrayViewMut2<'_, T>) -> MatMut<'a, T> {
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

/// `C`'s part of a product's `β`, as BLAS: with `β = 0`, `C` is to be overwritten (not
/// read: a NaN in it does not propagate), `Accum::Replace`; otherwise `C ← β·C`, then
/// `Accum::Add`. With `α = 0` there is nothing to add (`A` and `B` are not read): `C` is
/// settled here and the answer is `None`.
fn scale_c<T: Scalar>(alpha: T, beta: T, c: &mut ArrayViewMut2<'_, T>) -> Option<Accum> {
    let accum = if beta == T::zero() {
        Accum::Replace
    } else {
        if beta != T::one() {
            c.mapv_inplace(|x| x * beta);
        }
        Accum::Add
    };
    if alpha == T::zero() {
        if accum == Accum::Replace {
            c.fill(T::zero());
        }
        return None;
    }
    Some(accum)
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

// SAFETY: each kernel hands faer (or its own loops) exactly the parts its documentation
// names: triangular solves and products use faer's triangular routines, which read only
// the named triangle (and not a unit diagonal); `unmqr` passes the Householder basis to
// faer's block-reflector routines, which read only below its diagonal; `tsqrt` copies in
// and out only the upper triangle of `r` (and of `r2` in `ttqrt`, of `v2` in `ttmqr`;
// see `qr.rs`). The tests put NaN outside the
// parts and check that it never reaches a result.
unsafe impl Backend for Cpu {
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
        assert!(
            a.nrows() == c.nrows() && b.ncols() == c.ncols() && a.ncols() == b.nrows(),
            "gemm: op(A) is {:?}, op(B) {:?}, C {:?}",
            a.dim(),
            b.dim(),
            c.dim()
        );
        let Some(accum) = scale_c(alpha, beta, &mut c) else {
            return;
        };
        // With β = 0, `C` is not read: whatever it holds (a NaN) is overwritten.
        // SAFETY: the shapes agree (asserted above).
        if !unsafe { gemm::gemm((alpha, accum == Accum::Add), &a, &b, &mut c) } {
            faer::linalg::matmul::matmul(mat_mut(&mut c), accum, mat_ref(&a), mat_ref(&b), alpha, Par::Seq);
        }
    }

    fn packed_len<T: Scalar>(&self, side: Side, shape: (usize, usize)) -> Option<usize> {
        gemm::packed_len::<T>(side == Side::Left, shape)
    }

    fn pack<T: Scalar>(&self, side: Side, a: ArrayView2<'_, T>, trans: Trans, out: &mut [T]) {
        gemm::pack(side == Side::Left, &op(a, trans), out)
    }

    fn gemm_packed<T: Scalar>(
        &self,
        alpha: T,
        packed: (&[T], &[T], usize),
        beta: T,
        (mut c, uplo): (ArrayViewMut2<'_, T>, Option<Uplo>),
    ) {
        if uplo.is_some() {
            assert!(c.nrows() == c.ncols(), "syrk on packed forms: C is {:?}", c.dim());
            if beta != T::one() {
                scale_triangle(uplo.unwrap_or(Uplo::Lower), beta, &mut c);
            }
            gemm::gemm_packed((alpha, true), packed, (&mut c, uplo));
        } else if let Some(accum) = scale_c(alpha, beta, &mut c) {
            gemm::gemm_packed((alpha, accum == Accum::Add), packed, (&mut c, None));
        }
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
        if gemm::syrk(uplo, alpha, &a, &mut c) {
            return;
        }
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
        let (mut buf, _held) = scratch(cholesky_in_place_scratch::<T>(n, Par::Seq, Default::default()));
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
        let (mut buf, _held) = scratch(lu_in_place_scratch::<usize, T>(
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

    fn getrf_tiles<T: Scalar>(
        &self,
        tiles: &mut [ArrayViewMut2<'_, T>],
        ipiv: &mut [usize],
    ) -> Result<(), usize> {
        match tiles {
            [tile] => self.getrf(tile.view_mut(), ipiv),
            _ => panel::getrf_tiles(tiles, ipiv),
        }
    }

    fn getrf_nopiv<T: Scalar>(&self, mut a: ArrayViewMut2<'_, T>) -> Result<(), usize> {
        lu_nopiv(a.view_mut());
        match (0..a.nrows().min(a.ncols())).find(|&i| a[(i, i)] == T::zero()) {
            Some(i) => Err(i),
            None => Ok(()),
        }
    }

    fn geqrt<T: Scalar>(&self, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
        qr::geqrt(a, t)
    }

    fn unmqr<T: Scalar>(
        &self,
        trans: Trans,
        v: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
        c: ArrayViewMut2<'_, T>,
    ) {
        qr::unmqr(trans, v, t, c)
    }

    fn tsqrt<T: Scalar>(&self, r: ArrayViewMut2<'_, T>, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
        tpqrt::tpqrt(r, a, false, t)
    }

    fn tsmqr<T: Scalar>(
        &self,
        trans: Trans,
        c1: ArrayViewMut2<'_, T>,
        c2: ArrayViewMut2<'_, T>,
        v2: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
    ) {
        tpqrt::tpmqrt(trans, c1, c2, v2, false, t)
    }

    fn ttqrt<T: Scalar>(&self, r1: ArrayViewMut2<'_, T>, r2: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
        tpqrt::tpqrt(r1, r2, true, t)
    }

    fn ttmqr<T: Scalar>(
        &self,
        trans: Trans,
        c1: ArrayViewMut2<'_, T>,
        c2: ArrayViewMut2<'_, T>,
        v2: ArrayView2<'_, T>,
        t: ArrayView2<'_, T>,
    ) {
        tpqrt::tpmqrt(trans, c1, c2, v2, true, t)
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

/// faer's scratch for one kernel call, counted against the host memory budget while held
/// (see `crate::scratch`).
pub(super) fn scratch(req: StackReq) -> (MemBuffer, crate::scratch::Scratch) {
    let held = crate::scratch::Scratch::hold(req.size_bytes());
    (MemBuffer::new(req), held)
}
