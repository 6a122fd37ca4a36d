//! Householder QR tile kernels on faer: `geqrt`, `unmqr`, and the "triangle on top of a
//! square" pair `tsqrt`/`tsmqr`, the latter two by factoring the stacked `[R; A]` densely.
//! With `R` upper triangular, the Householder vectors of the stack are exactly zero below
//! the diagonal of the top part (each reflector only mixes row `j` of the top with the
//! bottom), so the top part of `V` is the identity and only `V₂` needs storing.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
    apply_block_householder_sequence_transpose_on_the_left_in_place_scratch,
    apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch};
use faer::{Conj, Par};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::{mat_mut, mat_ref};
use crate::backend::Trans;
use crate::Scalar;

/// QR in place; `t` is `ib × min(m, n)`.
pub(super) fn geqrt<T: Scalar>(mut a: ArrayViewMut2<'_, T>, mut t: ArrayViewMut2<'_, T>) {
    let (m, n) = a.dim();
    if m.min(n) == 0 {
        return;
    }
    let ib = t.nrows();
    let mut buf = MemBuffer::new(qr_in_place_scratch::<T>(m, n, ib, Par::Seq, Default::default()));
    qr_in_place(
        mat_mut(&mut a),
        mat_mut(&mut t),
        Par::Seq,
        MemStack::new(&mut buf),
        Default::default(),
    );
}

/// `C ← op(Q)·C` with `Q` from the strictly lower part of `v` and from `t`.
pub(super) fn unmqr<T: Scalar>(
    trans: Trans,
    v: ArrayView2<'_, T>,
    t: ArrayView2<'_, T>,
    mut c: ArrayViewMut2<'_, T>,
) {
    let k = t.ncols();
    if k == 0 || c.ncols() == 0 {
        return;
    }
    let v = v.slice(s![.., ..k]);
    let (m, ib, nc) = (v.nrows(), t.nrows(), c.ncols());
    let (v, t, c) = (mat_ref(&v), mat_ref(&t), mat_mut(&mut c));
    match trans {
        Trans::Yes => {
            let req = apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<T>(m, ib, nc);
            let mut buf = MemBuffer::new(req);
            apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
                v,
                t,
                Conj::No,
                c,
                Par::Seq,
                MemStack::new(&mut buf),
            );
        }
        Trans::No => {
            let req = apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, ib, nc);
            let mut buf = MemBuffer::new(req);
            apply_block_householder_sequence_on_the_left_in_place_with_conj(
                v,
                t,
                Conj::No,
                c,
                Par::Seq,
                MemStack::new(&mut buf),
            );
        }
    }
}

/// QR of `[R; A]`: the upper triangle of `r` and all of `a` are replaced.
pub(super) fn tsqrt<T: Scalar>(r: ArrayViewMut2<'_, T>, a: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
    stacked_qr(r, a, false, t)
}

/// QR of `[R₁; R₂]`, both upper triangular (or trapezoidal): only their upper parts are
/// read and written; `R₂`'s is replaced by `V₂`, which is upper triangular too.
pub(super) fn ttqrt<T: Scalar>(r1: ArrayViewMut2<'_, T>, r2: ArrayViewMut2<'_, T>, t: ArrayViewMut2<'_, T>) {
    stacked_qr(r1, r2, true, t)
}

/// Copies the upper part of `r` and `a` (all of it, or its upper part when `a_upper`) into
/// one block, factors it, and copies the same parts back.
fn stacked_qr<T: Scalar>(
    mut r: ArrayViewMut2<'_, T>,
    mut a: ArrayViewMut2<'_, T>,
    a_upper: bool,
    t: ArrayViewMut2<'_, T>,
) {
    let (m, n) = a.dim();
    let mut stack = Array2::<T>::zeros((n + m, n).f());
    for j in 0..n {
        for i in 0..=j {
            stack[(i, j)] = r[(i, j)];
        }
        for i in 0..if a_upper { m.min(j + 1) } else { m } {
            stack[(n + i, j)] = a[(i, j)];
        }
    }
    geqrt(stack.view_mut(), t);
    for j in 0..n {
        for i in 0..=j {
            r[(i, j)] = stack[(i, j)];
        }
        for i in 0..if a_upper { m.min(j + 1) } else { m } {
            a[(i, j)] = stack[(n + i, j)];
        }
    }
}

/// `[C₁; C₂] ← op(Q)·[C₁; C₂]`, `Q` from `[I; V₂]` and `t`; only the upper part of `v2`
/// is read when `v2_upper` (the reflectors of `ttqrt`).
pub(super) fn tsmqr<T: Scalar>(
    trans: Trans,
    mut c1: ArrayViewMut2<'_, T>,
    mut c2: ArrayViewMut2<'_, T>,
    v2: ArrayView2<'_, T>,
    v2_upper: bool,
    t: ArrayView2<'_, T>,
) {
    let (m, n) = v2.dim();
    let k = c1.ncols();
    // The basis [I; V₂]: faer reads only below the top part's diagonal, which is zero.
    let mut basis = Array2::<T>::zeros((n + m, n).f());
    for j in 0..n {
        for i in 0..if v2_upper { m.min(j + 1) } else { m } {
            basis[(n + i, j)] = v2[(i, j)];
        }
    }
    let mut c = Array2::<T>::zeros((n + m, k).f());
    c.slice_mut(s![..n, ..]).assign(&c1);
    c.slice_mut(s![n.., ..]).assign(&c2);
    unmqr(trans, basis.view(), t, c.view_mut());
    c1.assign(&c.slice(s![..n, ..]));
    c2.assign(&c.slice(s![n.., ..]));
}
