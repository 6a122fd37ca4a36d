//! The six tile kernels of the tiled QR (PLASMA's): `geqrt` on a tile, `tsqrt` and `ttqrt`
//! merging a tile or a triangle into the one above, and `unmqr`, `tsmqr`, `ttmqr` applying
//! their reflectors. The three applications, most of the flops, have CUDA bodies (cuBLAS,
//! `backend/cuda/qr.rs`); the three panel kernels run on the CPUs (cuSOLVER's `geqrf` keeps
//! `tau`, not the compact-WY `T` factors the applications share), as in MAGMA's hybrid QR.

use ndarray::s;

use crate::backend::{Backend, Trans};
use crate::datadeps::kernel::{device_body, spawn_kernel, DeviceBody};
use crate::datadeps::{In, InOut, Out, UnitLowerTriangular, UpperTriangular};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

#[cfg(feature = "cuda")]
use super::checked;

/// Flops of a dense Householder QR of an `m × n` block (LAPACK's count).
fn qr_flops((m, n): (usize, usize)) -> f64 {
    let (m, n, k) = (m as f64, n as f64, m.min(n) as f64);
    2.0 * m * n * k - (m + n) * k * k + 2.0 * k.powi(3) / 3.0
}

/// Flops of applying the reflectors of an `m × k` basis to `nc` columns.
fn apply_flops((m, k): (usize, usize), nc: usize) -> f64 {
    let (m, k, nc) = (m as f64, m.min(k) as f64, nc as f64);
    4.0 * m * k * nc - 2.0 * k * k * nc
}

/// QR of tile `a` in place, its `T` factors in `t` ([`Backend::geqrt`]).
pub(crate) fn geqrt<T: Scalar, B: Backend>(be: &B, priority: i32, a: Tile<T>, t: Tile<T>) {
    let be = be.clone();
    drop(spawn_kernel(
        TaskOptions::named("geqrt")
            .priority(priority)
            .flops(qr_flops(a.shape())),
        (InOut(a), Out(t)),
        move |(a, mut t)| {
            let kmin = a.nrows().min(a.ncols());
            be.geqrt(a, t.slice_mut(s![.., ..kmin]))
        },
        None,
    ));
}

/// The triangle of `r` (a diagonal tile) and the tile `a` below it factored together
/// ([`Backend::tsqrt`]): `a` gets the reflectors, `t` their `T` factors.
pub(crate) fn tsqrt<T: Scalar, B: Backend>(be: &B, priority: i32, r: Tile<T>, a: Tile<T>, t: Tile<T>) {
    let be = be.clone();
    let flops = qr_flops((a.shape().0 + r.shape().1, r.shape().1));
    drop(spawn_kernel(
        TaskOptions::named("tsqrt").priority(priority).flops(flops),
        (InOut(UpperTriangular(r)), InOut(a), Out(t)),
        move |(mut r, v2, t)| {
            // SAFETY: the task holds the upper triangle of `r` (declared above), and
            // `tsqrt` reads and writes only that part of it (its contract, which every
            // `Backend` implementation promises to keep).
            let full = unsafe { r.full_view_mut() };
            let n = full.ncols();
            be.tsqrt(full.slice_move(s![..n, ..]), v2, t)
        },
        None,
    ));
}

/// The triangle of `r2` merged into that of `r1` ([`Backend::ttqrt`]): `r2`'s triangle
/// gets the reflectors, `t` their `T` factors.
pub(crate) fn ttqrt<T: Scalar, B: Backend>(be: &B, priority: i32, r1: Tile<T>, r2: Tile<T>, t: Tile<T>) {
    let be = be.clone();
    let flops = qr_flops((r2.shape().0 + r1.shape().1, r1.shape().1));
    drop(spawn_kernel(
        TaskOptions::named("ttqrt").priority(priority).flops(flops),
        (InOut(UpperTriangular(r1)), InOut(UpperTriangular(r2)), Out(t)),
        move |(mut r1, mut r2, t)| {
            // SAFETY: the task holds the upper triangles of both tiles (declared above),
            // the only parts `ttqrt` reads or writes (its contract).
            let (r1, r2) = unsafe { (r1.full_view_mut(), r2.full_view_mut()) };
            let n = r1.ncols();
            be.ttqrt(r1.slice_move(s![..n, ..]), r2, t)
        },
        None,
    ));
}

/// `C ← op(Q)·C` with `Q` from a diagonal tile's reflectors ([`Backend::unmqr`]).
pub(crate) fn unmqr<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    trans: Trans,
    (v, t): (Tile<T>, Tile<T>),
    c: Tile<T>,
) {
    let be = be.clone();
    let flops = apply_flops(v.shape(), c.shape().1);
    let device = device_body!(move |l: crate::backend::cuda::Launch, d: &[_]| {
        let (v, t, c) = (d[0], d[1], d[2]);
        let t = t.leading(t.rows, v.rows.min(v.cols));
        // SAFETY: see `tasks/mod.rs`; `unmqr` reads only the strictly lower part of `v`,
        // which is what the task holds of it.
        checked(unsafe { crate::backend::cuda::qr::unmqr::<T>(l.gpu, l.stream, trans, v, t, c) })
    });
    drop(spawn_kernel(
        TaskOptions::named("unmqr").priority(priority).flops(flops),
        (In(UnitLowerTriangular(v)), In(t), InOut(c)),
        move |(v, t, c)| {
            // SAFETY: the task holds read access to the strictly lower part of the tile
            // (declared above), the only part `unmqr` reads of `v` (its contract).
            let v = unsafe { v.full_view() };
            let kmin = v.nrows().min(v.ncols());
            be.unmqr(trans, v, t.slice(s![.., ..kmin]), c)
        },
        device,
    ));
}

/// `[C₁; C₂] ← op(Q)·[C₁; C₂]` with `Q` from `tsqrt`'s reflectors ([`Backend::tsmqr`]).
pub(crate) fn tsmqr<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    trans: Trans,
    (v2, t): (Tile<T>, Tile<T>),
    (c1, c2): (Tile<T>, Tile<T>),
) {
    let be = be.clone();
    let flops = apply_flops((v2.shape().0 + v2.shape().1, v2.shape().1), c1.shape().1);
    drop(spawn_kernel(
        TaskOptions::named("tsmqr").priority(priority).flops(flops),
        (InOut(c1), InOut(c2), In(v2), In(t)),
        move |(c1, c2, v2, t)| {
            // The reflectors reach the first `n` rows of the top tile (all of them but
            // for a tall diagonal tile in the last tile column).
            let n = v2.ncols();
            be.tsmqr(trans, c1.slice_move(s![..n, ..]), c2, v2, t)
        },
        tpmqrt_on_device::<T>(trans, false),
    ));
}

/// `[C₁; C₂] ← op(Q)·[C₁; C₂]` with `Q` from `ttqrt`'s reflectors ([`Backend::ttmqr`]).
pub(crate) fn ttmqr<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    trans: Trans,
    (v2, t): (Tile<T>, Tile<T>),
    (c1, c2): (Tile<T>, Tile<T>),
) {
    let be = be.clone();
    let flops = apply_flops((v2.shape().0 + v2.shape().1, v2.shape().1), c1.shape().1);
    drop(spawn_kernel(
        TaskOptions::named("ttmqr").priority(priority).flops(flops),
        (InOut(c1), InOut(c2), In(UpperTriangular(v2)), In(t)),
        move |(c1, c2, v2, t)| {
            // SAFETY: the task holds read access to the upper triangle of the tile
            // (declared above), the only part `ttmqr` reads of `v2` (its contract).
            let v2 = unsafe { v2.full_view() };
            let n = v2.ncols();
            be.ttmqr(trans, c1.slice_move(s![..n, ..]), c2, v2, t)
        },
        tpmqrt_on_device::<T>(trans, true),
    ));
}

/// The CUDA body of `tsmqr` (`upper` false) and `ttmqr` (`upper`), whose accesses are
/// `(c1, c2, v2, t)`.
#[cfg_attr(
    not(feature = "cuda"),
    allow(unused_variables, clippy::extra_unused_type_parameters)
)]
fn tpmqrt_on_device<T: Scalar>(trans: Trans, upper: bool) -> Option<DeviceBody<()>> {
    device_body!(move |l: crate::backend::cuda::Launch, d: &[_]| {
        let (c1, c2, v2, t) = (d[0], d[1], d[2], d[3]);
        let c1 = c1.leading(v2.cols, c1.cols);
        // SAFETY: see `tasks/mod.rs`; with `upper`, only the upper part of `v2` is read,
        // which is what the task holds of it.
        checked(unsafe {
            crate::backend::cuda::qr::tpmqrt::<T>(l.gpu, l.stream, trans, (c1, c2), (v2, upper), t)
        })
    })
}
