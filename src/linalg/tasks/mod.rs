//! One task per tile kernel: the accesses each kernel declares, its flop count, its
//! bodies (the backend's kernel on host views; with the `cuda` feature, the cuBLAS or
//! cuSOLVER kernel on device tiles where there is one) and the priorities of the
//! factorizations' critical paths, in one place, so every algorithm emits them the same way.
//!
//! A CUDA body (`device_body!`) gets the task's accesses as device tiles in declaration
//! order and the launch (device and stream) its executor thread owns. Every unsafe call in
//! one rests on the same argument: the tiles are the task's own accesses, acquired in that
//! device's memory and held by the task until its body returns and the runtime has waited
//! for the stream (`datadeps/kernel.rs`), so nothing else reads or writes what the kernel
//! writes, or writes what it reads, meanwhile; the element type is the tiles' `T`.

use ndarray::{s, ArrayView2, ArrayViewMut2};

use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::datadeps::kernel::{device_body, spawn_kernel};
use crate::datadeps::{In, InOut, Out, TaskFuture};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

mod elementwise;
mod lu;
mod pack;
mod qr;
mod split_panel;

pub(crate) use elementwise::{
    elementwise, elementwise_assign, elementwise_scalar, elementwise_scalar_assign, generate, lacpy, sum,
    transpose, Generator,
};
pub(crate) use lu::{getrf, getrf_nopiv, laswp, laswp_after, Panel, PanelResult, Swaps};
pub use pack::{set_shared_packing, shared_packing};
pub(crate) use pack::{Operand, Packing};
pub(crate) use qr::{geqrt, tsmqr, tsqrt, ttmqr, ttqrt, unmqr};
pub(crate) use split_panel::{getrf_split, Group};

/// The value of a CUDA library call, or a panic with its message (which fails the task).
#[cfg(feature = "cuda")]
pub(super) fn checked<V>(result: Result<V, String>) -> V {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The critical-path priority of a task of step (panel) `k` of a factorization of `steps`
/// steps: an earlier step before a later one, and within a step by `level` (0 to 3:
/// for Cholesky potrf 3, trsm 2, syrk 1, gemm 0; for LU and QR the panel 3, the next
/// column's updates 2, the other updates 1), so that the next panel starts while the
/// trailing updates of this one still run (lookahead).
pub(crate) fn priority(steps: usize, k: usize, level: i32) -> i32 {
    (steps - k) as i32 * 4 + level
}

/// The Cholesky factor of a diagonal tile in place (`potrf`, lower), as a task: the
/// future's value is `Err(row0 + i)` for a non-positive pivot at row `i` of the tile.
pub(crate) fn potrf<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    a: Tile<T>,
    row0: usize,
) -> TaskFuture<std::result::Result<(), usize>> {
    let be = be.clone();
    let n = a.shape().0 as f64;
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see the module docs.
        let r =
            checked(unsafe { crate::backend::cuda::solver::potrf::<T>(l.gpu, l.stream, Uplo::Lower, t[0]) });
        r.map_err(|i| row0 + i)
    });
    spawn_kernel(
        TaskOptions::named("potrf")
            .priority(priority)
            .flops(n * n * n / 3.0),
        (InOut(a),),
        move |(a,)| be.potrf(Uplo::Lower, a).map_err(|i| row0 + i),
        device,
    )
}

/// `a`'s elements (all, or its strictly upper or lower part: [`Backend::laset`]) set to
/// `alpha`, as a task. Setting all of them overwrites the tile without reading it.
pub(crate) fn laset<T: Scalar, B: Backend>(be: &B, uplo: Option<Uplo>, alpha: T, a: Tile<T>) {
    let be = be.clone();
    let options = TaskOptions::named("laset");
    let task = move |(a,): (ArrayViewMut2<'_, T>,)| be.laset(uplo, alpha, a);
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see the module docs.
        checked(unsafe { crate::backend::cuda::launch::laset::<T>(l.gpu, l.stream, uplo, alpha, t[0]) })
    });
    match uplo {
        None => drop(spawn_kernel(options, (Out(a),), task, device)),
        Some(_) => drop(spawn_kernel(options, (InOut(a),), task, device)),
    }
}

/// `C ← α·op(A)·op(B) + β·C` as a task: reads `a` and `b` (their packed forms when both
/// have one: [`Packing`]), updates `c`.
pub(crate) fn gemm<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    alpha: T,
    (a, b): (impl Into<Operand<T>>, impl Into<Operand<T>>),
    beta: T,
    c: Tile<T>,
) {
    let (a, b) = (a.into(), b.into());
    let (m, n) = c.shape();
    let k = a.shape().1;
    let options = TaskOptions::named("gemm")
        .priority(priority)
        .flops(2.0 * (m * n * k) as f64);
    if let (Some(pa), Some(pb)) = (a.packed, b.packed) {
        let task = packed_body(be.clone(), (alpha, beta), k, None);
        return spawn_gemm(options, beta, (c, pa, pb), task, None);
    }
    let be = be.clone();
    let ((a, ta), (b, tb)) = ((a.tile, a.trans), (b.tile, b.trans));
    let task = move |(c, a, b): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>, ArrayView2<'_, T>)| {
        be.gemm(alpha, a, ta, b, tb, beta, c)
    };
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see the module docs.
        checked(unsafe {
            crate::backend::cuda::blas::gemm::<T>(l.gpu, l.stream, alpha, t[1], ta, t[2], tb, beta, t[0])
        })
    });
    spawn_gemm(options, beta, (c, a, b), task, device)
}

/// The body of a product task on packed forms (`Backend::gemm_packed`), on `C`'s `part`.
fn packed_body<T: Scalar, B: Backend>(
    be: B,
    (alpha, beta): (T, T),
    k: usize,
    part: Option<Uplo>,
) -> impl for<'t> FnOnce((ArrayViewMut2<'t, T>, ArrayView2<'t, T>, ArrayView2<'t, T>)) + Send + 'static {
    move |(c, pa, pb)| {
        let contiguous = "a packed form's tile is one contiguous column";
        let (pa, pb) = (pa.to_slice().expect(contiguous), pb.to_slice().expect(contiguous));
        be.gemm_packed(alpha, (pa, pb, k), beta, (c, part))
    }
}

/// Spawns a product task on `(c, a, b)`. BLAS: with β = 0, C is not read, so the task
/// declares it write-only: it still orders after C's earlier readers and writers, but a
/// failed old C does not fail the product.
fn spawn_gemm<T: Scalar, F>(
    options: TaskOptions,
    beta: T,
    (c, a, b): (Tile<T>, Tile<T>, Tile<T>),
    task: F,
    device: Option<crate::datadeps::kernel::DeviceBody<()>>,
) where
    F: for<'t> FnOnce((ArrayViewMut2<'t, T>, ArrayView2<'t, T>, ArrayView2<'t, T>)) + Send + 'static,
{
    if beta == T::zero() {
        drop(spawn_kernel(options, (Out(c), In(a), In(b)), task, device));
    } else {
        drop(spawn_kernel(options, (InOut(c), In(a), In(b)), task, device));
    }
}

/// The triangular solve of one tile (see [`Backend::trsm`]) as a task: reads `a`,
/// updates `b`. The triangle is the leading square of `a` that fits `b` (all of a square
/// diagonal tile; the left part of a wide matrix's last diagonal tile).
#[allow(clippy::too_many_arguments)] // the BLAS signature plus the task's priority
pub(crate) fn trsm<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    (side, uplo, trans, diag): (Side, Uplo, Trans, Diag),
    alpha: T,
    a: Tile<T>,
    b: Tile<T>,
) {
    let be = be.clone();
    let (m, n) = b.shape();
    let flops = (if side == Side::Left { m * m * n } else { m * n * n }) as f64;
    let k = if side == Side::Left { m } else { n };
    let task = move |(b, a): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>)| {
        be.trsm(side, uplo, trans, diag, alpha, a.slice_move(s![..k, ..k]), b)
    };
    let device = device_body!(move |l: crate::backend::cuda::Launch,
                                    t: &[crate::backend::cuda::DeviceTile]| {
        let a = t[1].leading(k, k);
        // SAFETY: see the module docs.
        checked(unsafe {
            crate::backend::cuda::blas::trsm::<T>(l.gpu, l.stream, side, uplo, trans, diag, alpha, a, t[0])
        })
    });
    drop(spawn_kernel(
        TaskOptions::named("trsm").priority(priority).flops(flops),
        (InOut(b), In(a)),
        task,
        device,
    ));
}

/// `C ← α·op(A)·op(A)ᵀ + β·C` on the `uplo` triangle of `c`, as a task: `a` is `op(A)`
/// (`trans` names `op`), `at` the same tile as `op(A)ᵀ`, for its packed form: when both
/// have one ([`Packing`]), the task reads those.
pub(crate) fn syrk<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    uplo: Uplo,
    alpha: T,
    (a, at): (impl Into<Operand<T>>, impl Into<Operand<T>>),
    beta: T,
    c: Tile<T>,
) {
    let (a, at) = (a.into(), at.into());
    let (n, k) = (c.shape().0, a.shape().1);
    let options = TaskOptions::named("syrk")
        .priority(priority)
        .flops((n * n * k) as f64);
    let be = be.clone();
    if let (Some(pa), Some(pb)) = (a.packed, at.packed) {
        let task = packed_body(be, (alpha, beta), k, Some(uplo));
        return drop(spawn_kernel(options, (InOut(c), In(pa), In(pb)), task, None));
    }
    let (a, trans) = (a.tile, a.trans);
    let task =
        move |(c, a): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>)| be.syrk(uplo, trans, alpha, a, beta, c);
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see the module docs.
        checked(unsafe {
            crate::backend::cuda::blas::syrk::<T>(l.gpu, l.stream, uplo, trans, alpha, t[1], beta, t[0])
        })
    });
    drop(spawn_kernel(options, (InOut(c), In(a)), task, device));
}
