//! faer's dense routines, timed, on matrices with a padded column stride (faer runs ~2×
//! slower on power-of-two strides; padding gives it its best case, as mosaic's tiles have).
//! Shared by the demo and the `peers` benchmark (`#[path]`-included).

#![allow(dead_code)] // each includer uses a subset

use std::time::Instant;

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::lu::partial_pivoting::factor::{lu_in_place, lu_in_place_scratch};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
use faer::{Accum, Mat, Par};
use mosaic::Scalar;

/// Seconds `f` took, and its result.
pub fn seconds<R>(f: impl FnOnce() -> R) -> (R, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// `d` as a faer matrix whose column stride is `rows + 8`.
pub fn to_faer<T: Scalar>(d: &ndarray::Array2<T>) -> Mat<T> {
    let (m, n) = d.dim();
    Mat::from_fn(m + 8, n, |i, j| if i < m { d[(i, j)] } else { T::zero() })
}

fn rows<T: Scalar>(a: &Mat<T>) -> usize {
    a.nrows() - 8
}

/// Seconds for `A·B`.
pub fn gemm<T: Scalar>(a: &Mat<T>, b: &Mat<T>, par: Par) -> f64 {
    let (m, k, n) = (rows(a), a.ncols(), b.ncols());
    let mut c = Mat::<T>::zeros(m + 8, n);
    let (a, b) = (a.as_ref().submatrix(0, 0, m, k), b.as_ref().submatrix(0, 0, k, n));
    let ((), t) = seconds(|| {
        let c = c.as_mut().submatrix_mut(0, 0, m, n);
        faer::linalg::matmul::matmul(c, Accum::Replace, a, b, T::one(), par)
    });
    t
}

/// Seconds for the Cholesky factorization of the SPD `a`.
pub fn potrf<T: Scalar>(a: &Mat<T>, par: Par) -> f64 {
    let n = a.ncols();
    let mut f = a.clone();
    let mut buf = MemBuffer::new(cholesky_in_place_scratch::<T>(n, par, Default::default()));
    let (ok, t) = seconds(|| {
        cholesky_in_place(
            f.as_mut().submatrix_mut(0, 0, n, n),
            Default::default(),
            par,
            MemStack::new(&mut buf),
            Default::default(),
        )
    });
    ok.expect("faer: the matrix is SPD");
    t
}

/// Seconds for LU with partial pivoting.
pub fn getrf<T: Scalar>(a: &Mat<T>, par: Par) -> f64 {
    let (m, n) = (rows(a), a.ncols());
    let mut f = a.clone();
    let (mut perm, mut perm_inv) = (vec![0usize; m], vec![0usize; m]);
    let mut buf = MemBuffer::new(lu_in_place_scratch::<usize, T>(m, n, par, Default::default()));
    let (_, t) = seconds(|| {
        lu_in_place(
            f.as_mut().submatrix_mut(0, 0, m, n),
            &mut perm,
            &mut perm_inv,
            par,
            MemStack::new(&mut buf),
            Default::default(),
        );
    });
    t
}

/// Seconds for Householder QR.
pub fn geqrf<T: Scalar>(a: &Mat<T>, par: Par) -> f64 {
    let (m, n) = (rows(a), a.ncols());
    let mut f = a.clone();
    let bs = recommended_block_size::<T>(m, n);
    let mut coeff = Mat::<T>::zeros(bs, m.min(n));
    let mut buf = MemBuffer::new(qr_in_place_scratch::<T>(m, n, bs, par, Default::default()));
    let (_, t) = seconds(|| {
        qr_in_place(
            f.as_mut().submatrix_mut(0, 0, m, n),
            coeff.as_mut(),
            par,
            MemStack::new(&mut buf),
            Default::default(),
        );
    });
    t
}

/// Seconds for `X ← L⁻¹·B`, `L` the lower triangle of `l`.
pub fn trsm<T: Scalar>(l: &Mat<T>, b: &Mat<T>, par: Par) -> f64 {
    let (n, k) = (l.ncols(), b.ncols());
    let mut x = b.clone();
    let l = l.as_ref().submatrix(0, 0, n, n);
    let ((), t) = seconds(|| {
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            l,
            x.as_mut().submatrix_mut(0, 0, n, k),
            par,
        )
    });
    t
}
