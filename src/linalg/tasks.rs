//! One task per tile kernel: the accesses each kernel declares, its flop count and the
//! priorities of the factorizations' critical paths, in one place, so every algorithm
//! emits them the same way.

use ndarray::{s, ArrayView2, ArrayViewMut2};

use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::datadeps::{spawn_with, In, InOut, Out, TaskFuture};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

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
    spawn_with(
        TaskOptions::named("potrf")
            .kernel()
            .priority(priority)
            .flops(n * n * n / 3.0),
        (InOut(a),),
        move |(a,)| be.potrf(Uplo::Lower, a).map_err(|i| row0 + i),
    )
}

/// `a`'s elements (all, or its strictly upper or lower part: [`Backend::laset`]) set to
/// `alpha`, as a task. Setting all of them overwrites the tile without reading it.
pub(crate) fn laset<T: Scalar, B: Backend>(be: &B, uplo: Option<Uplo>, alpha: T, a: Tile<T>) {
    let be = be.clone();
    let options = TaskOptions::named("laset").kernel();
    let task = move |(a,): (ArrayViewMut2<'_, T>,)| be.laset(uplo, alpha, a);
    match uplo {
        None => drop(spawn_with(options, (Out(a),), task)),
        Some(_) => drop(spawn_with(options, (InOut(a),), task)),
    }
}

/// `C ← α·op(A)·op(B) + β·C` as a task: reads `a` and `b`, updates `c`.
#[allow(clippy::too_many_arguments)] // the BLAS signature plus the task's priority
pub(crate) fn gemm<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    alpha: T,
    (a, ta): (Tile<T>, Trans),
    (b, tb): (Tile<T>, Trans),
    beta: T,
    c: Tile<T>,
) {
    let be = be.clone();
    let (m, n) = c.shape();
    let k = if ta == Trans::No { a.shape().1 } else { a.shape().0 };
    let task = move |(c, a, b): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>, ArrayView2<'_, T>)| {
        be.gemm(alpha, a, ta, b, tb, beta, c)
    };
    let options = TaskOptions::named("gemm")
        .kernel()
        .priority(priority)
        .flops(2.0 * (m * n * k) as f64);
    // BLAS: with β = 0, C is not read, so the task declares it write-only: it still orders
    // after C's earlier readers and writers, but a failed old C does not fail the product.
    if beta == T::zero() {
        drop(spawn_with(options, (Out(c), In(a), In(b)), task));
    } else {
        drop(spawn_with(options, (InOut(c), In(a), In(b)), task));
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
    drop(spawn_with(
        TaskOptions::named("trsm")
            .kernel()
            .priority(priority)
            .flops(flops),
        (InOut(b), In(a)),
        task,
    ));
}

/// `C ← α·op(A)·op(A)ᵀ + β·C` on the `uplo` triangle of `c`, as a task.
pub(crate) fn syrk<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    (uplo, trans): (Uplo, Trans),
    alpha: T,
    a: Tile<T>,
    beta: T,
    c: Tile<T>,
) {
    let be = be.clone();
    let n = c.shape().0;
    let k = if trans == Trans::No {
        a.shape().1
    } else {
        a.shape().0
    };
    let task =
        move |(c, a): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>)| be.syrk(uplo, trans, alpha, a, beta, c);
    drop(spawn_with(
        TaskOptions::named("syrk")
            .kernel()
            .priority(priority)
            .flops((n * n * k) as f64),
        (InOut(c), In(a)),
        task,
    ));
}
