//! CPU tile kernels. Each runs single-threaded on one tile (the parallelism comes from the
//! task graph).
//!
//! `gemm` uses `ndarray`'s matrix product (the `matrixmultiply` crate). The faer-based
//! kernels (potrf, trsm, syrk, …) of DESIGN §3 come with the factorizations.

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

/// `C ← α·op(A)·op(B) + β·C` on tiles.
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
    ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, c);
}
