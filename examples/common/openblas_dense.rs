//! OpenBLAS's BLAS and LAPACK (feature `openblas`), timed, on column-major copies:
//! `dgemm` through ndarray's BLAS path, `potrf`, `getrf`, `geqrf`, `trtrs` through `lax`.
//! Shared by the `peers` benchmark and the reference tests (`#[path]`-included).

#![allow(dead_code)] // each includer uses a subset

use lax::layout::MatrixLayout;
use lax::{Diag, Lapack, UPLO};
use ndarray::{Array2, ShapeBuilder};

/// A column-major copy.
pub fn fortran<T: Copy + num_traits::Zero>(a: &Array2<T>) -> Array2<T> {
    let mut f = Array2::zeros(a.dim().f());
    f.assign(a);
    f
}

fn layout<T>(a: &Array2<T>) -> MatrixLayout {
    MatrixLayout::F {
        col: a.ncols() as i32,
        lda: a.nrows() as i32,
    }
}

fn slice_mut<T>(a: &mut Array2<T>) -> &mut [T] {
    a.as_slice_memory_order_mut().expect("contiguous")
}

/// `A·B` by `?gemm` (seconds).
pub fn gemm<T: Lapack + ndarray::LinalgScalar>(a: &Array2<T>, b: &Array2<T>) -> f64 {
    let t = std::time::Instant::now();
    let c = a.dot(b);
    let s = t.elapsed().as_secs_f64();
    drop(c);
    s
}

/// The lower Cholesky factor in place (`?potrf`).
pub fn potrf<T: Lapack>(a: &mut Array2<T>) -> lax::error::Result<()> {
    let l = layout(a);
    T::cholesky(l, UPLO::Lower, slice_mut(a))
}

/// LU with partial pivoting in place (`?getrf`); the pivots, from 1 as LAPACK gives them.
pub fn getrf<T: Lapack>(a: &mut Array2<T>) -> lax::error::Result<Vec<i32>> {
    let l = layout(a);
    T::lu(l, slice_mut(a))
}

/// Householder QR in place (`?geqrf`): R above the diagonal, reflectors below; the taus.
pub fn geqrf<T: Lapack>(a: &mut Array2<T>) -> lax::error::Result<Vec<T>> {
    let l = layout(a);
    T::householder(l, slice_mut(a))
}

/// `B ← L⁻¹·B` with the lower triangle of `l` (`?trtrs`).
pub fn trsm<T: Lapack>(l: &Array2<T>, b: &mut Array2<T>) -> lax::error::Result<()> {
    let (al, bl) = (layout(l), layout(b));
    T::solve_triangular(
        al,
        bl,
        UPLO::Lower,
        Diag::NonUnit,
        l.as_slice_memory_order().expect("contiguous"),
        slice_mut(b),
    )
}
