//! Householder QR of one tile on faer: `geqrt` and `unmqr` (the stacked kernels are in
//! `tpqrt.rs`).

use faer::dyn_stack::MemStack;
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
    apply_block_householder_sequence_transpose_on_the_left_in_place_scratch,
    apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch};
use faer::{Conj, Par};
use ndarray::{s, ArrayView2, ArrayViewMut2};

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
    let (mut buf, _held) = super::scratch(qr_in_place_scratch::<T>(m, n, ib, Par::Seq, Default::default()));
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
            let (mut buf, _held) = super::scratch(req);
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
            let (mut buf, _held) = super::scratch(req);
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
