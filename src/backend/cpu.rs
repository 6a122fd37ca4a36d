//! CPU tile kernels on faer with `Par::Seq`: each runs single-threaded on one tile, the
//! parallelism comes from the task graph. Tiles arrive as `ndarray` views (column-major,
//! padded leading dimension) and are handed to faer without copying.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

use crate::Scalar;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// `A`.
    No,
    /// `Aᵀ`.
    Yes,
}

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

/// `C ← α·op(A)·op(B) + β·C`.
pub fn gemm<T: Scalar>(
    alpha: T,
    a: ArrayView2<'_, T>,
    ta: Trans,
    b: ArrayView2<'_, T>,
    tb: Trans,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let a = if ta == Trans::Yes { a.reversed_axes() } else { a };
    let b = if tb == Trans::Yes { b.reversed_axes() } else { b };
    if beta == T::zero() {
        faer::linalg::matmul::matmul(
            mat_mut(c),
            Accum::Replace,
            mat_ref(&a),
            mat_ref(&b),
            alpha,
            Par::Seq,
        );
    } else {
        if beta != T::one() {
            c.mapv_inplace(|x| x * beta);
        }
        faer::linalg::matmul::matmul(mat_mut(c), Accum::Add, mat_ref(&a), mat_ref(&b), alpha, Par::Seq);
    }
}

/// Lower Cholesky factor in place: `A = L·Lᵀ`, `L` written over the lower triangle (the
/// strictly upper part is not touched). `Err(index)`: the first non-positive pivot.
pub fn potrf<T: Scalar>(a: &mut ArrayViewMut2<'_, T>) -> Result<(), usize> {
    let n = a.nrows();
    let mut buf = MemBuffer::new(cholesky_in_place_scratch::<T>(n, Par::Seq, Default::default()));
    let stack = MemStack::new(&mut buf);
    match cholesky_in_place(
        mat_mut(a),
        Default::default(),
        Par::Seq,
        stack,
        Default::default(),
    ) {
        Ok(_) => Ok(()),
        Err(LltError::NonPositivePivot { index }) => Err(index),
    }
}

/// `B ← B·L⁻ᵀ` with `L` lower triangular (the panel solve of a right-looking Cholesky).
pub fn trsm_right_lower_trans<T: Scalar>(l: ArrayView2<'_, T>, b: &mut ArrayViewMut2<'_, T>) {
    // B·L⁻ᵀ = (L⁻¹·Bᵀ)ᵀ: solve L·X = Bᵀ in place on the transposed view of B.
    let mut bt = b.view_mut().reversed_axes();
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(mat_ref(&l), mat_mut(&mut bt), Par::Seq);
}

/// `C ← C − A·Aᵀ` on the lower triangle of `C` (the strictly upper part is not touched).
pub fn syrk_lower<T: Scalar>(a: ArrayView2<'_, T>, c: &mut ArrayViewMut2<'_, T>) {
    let at = a.t();
    faer::linalg::matmul::triangular::matmul(
        mat_mut(c),
        faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
        Accum::Add,
        mat_ref(&a),
        faer::linalg::matmul::triangular::BlockStructure::Rectangular,
        mat_ref(&at),
        faer::linalg::matmul::triangular::BlockStructure::Rectangular,
        T::zero() - T::one(),
        Par::Seq,
    );
}

/// `B ← op(L)⁻¹·B` with `L` lower triangular (non-unit diagonal): the solve of a
/// triangular sweep with the right-hand side on the right of `L`.
pub fn trsm_left_lower<T: Scalar>(l: ArrayView2<'_, T>, tl: Trans, b: &mut ArrayViewMut2<'_, T>) {
    match tl {
        Trans::No => {
            faer::linalg::triangular_solve::solve_lower_triangular_in_place(mat_ref(&l), mat_mut(b), Par::Seq)
        }
        Trans::Yes => faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            mat_ref(&l).transpose(),
            mat_mut(b),
            Par::Seq,
        ),
    }
}
