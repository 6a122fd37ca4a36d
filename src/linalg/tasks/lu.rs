//! The tile kernels of LU with partial pivoting that are not BLAS: the panel factorization
//! (`getrf` on a column of tiles), the row interchanges (`laswp`), and the panel of LU
//! without pivoting (`getrf_nopiv`). The panel (cuSOLVER's `getrf` on the gathered
//! column) and the interchanges (`kernels/laswp.cu`) have CUDA bodies; `getrf_nopiv` has
//! none (cuSOLVER has no LU without pivoting) and runs on the CPUs.

use ndarray::{ArrayViewMut1, ArrayViewMut2};

#[cfg(feature = "cuda")]
use super::checked;
use crate::backend::Backend;
use crate::datadeps::kernel::{device_body, spawn_kernel};
use crate::datadeps::{In, InOut, Out, TaskFuture};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

/// The swaps of one panel: a `width × 1` tile of global row indices (step `i` of the panel
/// swapped rows `row0 + i` and `swaps[i]`), written by the panel task.
pub(crate) type Swaps = Tile<usize>;

/// What a panel task returns: a copy of its swaps for the factorization's `ipiv` (none
/// without pivoting), and its zero-pivot report (`Err`: the global index).
pub(crate) type PanelResult = (Option<Vec<usize>>, std::result::Result<(), usize>);

/// A submitted panel.
pub(crate) type Panel = TaskFuture<PanelResult>;

/// The panel whose top row is global row `row0`, a column of tiles, factored with partial
/// pivoting ([`Backend::getrf_tiles`]); its swaps (global rows) written to `swaps` for the
/// row-interchange tasks and returned for `ipiv`.
pub(crate) fn getrf<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    column: Vec<Tile<T>>,
    row0: usize,
    swaps: Swaps,
) -> Panel {
    let be = be.clone();
    let (pm, pn) = (
        column.iter().map(|t| t.shape().0).sum::<usize>() as f64,
        column[0].shape().1 as f64,
    );
    let column: Vec<_> = column.into_iter().map(InOut).collect();
    let device = device_body!(move |l: crate::backend::cuda::Launch,
                                    t: &[crate::backend::cuda::DeviceTile]| {
        let (column, swaps) = t.split_at(t.len() - 1);
        let mut ipiv = vec![0; swaps[0].rows];
        // SAFETY: see `linalg/tasks/mod.rs`.
        let result = checked(unsafe {
            crate::backend::cuda::solver::getrf_tiles::<T>(l.gpu, l.stream, column, &mut ipiv)
        });
        ipiv.iter_mut().for_each(|p| *p += row0);
        // SAFETY: the swaps tile is the task's own output (see `linalg/tasks/mod.rs`),
        // `ipiv.len()` elements of `usize`, as its host replica stores them.
        checked(unsafe { l.gpu.write_small(l.stream, swaps[0].ptr, &ipiv) });
        (Some(ipiv), result.map_err(|i| row0 + i))
    });
    spawn_kernel(
        TaskOptions::named("getrf")
            .priority(priority)
            .flops(pm * pn * pn - pn.powi(3) / 3.0),
        (column, Out(swaps)),
        move |(mut tiles, mut swaps)| getrf_panel(&be, &mut tiles, row0, swaps.column_mut(0)),
        device,
    )
}

fn getrf_panel<T: Scalar, B: Backend>(
    be: &B,
    tiles: &mut [ArrayViewMut2<'_, T>],
    row0: usize,
    mut swaps: ArrayViewMut1<'_, usize>,
) -> PanelResult {
    let width = tiles[0].ncols();
    let height: usize = tiles.iter().map(|t| t.nrows()).sum();
    let mut ipiv = vec![0; width.min(height)];
    let result = be.getrf_tiles(tiles, &mut ipiv);
    for (s, p) in swaps.iter_mut().zip(ipiv.iter_mut()) {
        *p += row0;
        *s = *p;
    }
    (Some(ipiv), result.map_err(|i| row0 + i))
}

/// The interchanges of the panel whose top row is global row `row0`, read from its `swaps`
/// when they are written, applied to a column of tiles from that row down
/// ([`Backend::laswp`]).
pub(crate) fn laswp_after<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    column: Vec<Tile<T>>,
    swaps: Swaps,
    row0: usize,
) {
    let be = be.clone();
    let column: Vec<_> = column.into_iter().map(InOut).collect();
    let device = device_body!(move |l: crate::backend::cuda::Launch,
                                    t: &[crate::backend::cuda::DeviceTile]| {
        let (column, swaps) = t.split_at(t.len() - 1);
        let ipiv = (swaps[0].ptr, swaps[0].rows, row0);
        // SAFETY: see `linalg/tasks/mod.rs`; the pivots are the task's input, global rows
        // (`base` = the stack's first row).
        checked(unsafe { crate::backend::cuda::launch::laswp::<T>(l.gpu, l.stream, column, ipiv) })
    });
    drop(spawn_kernel(
        TaskOptions::named("laswp").priority(priority),
        (column, In(swaps)),
        move |(mut tiles, swaps)| {
            // Global rows to rows of the stack, which starts at the panel's.
            let ipiv: Vec<usize> = swaps.column(0).iter().map(|&p| p - row0).collect();
            be.laswp(&mut tiles, &ipiv);
        },
        device,
    ));
}

/// Known interchanges `ipiv` (rows of the stack) applied to a column of tiles
/// ([`Backend::laswp`]).
pub(crate) fn laswp<T: Scalar, B: Backend>(be: &B, column: Vec<Tile<T>>, ipiv: Vec<usize>) {
    let be = be.clone();
    let column: Vec<_> = column.into_iter().map(InOut).collect();
    #[cfg(feature = "cuda")]
    let on_device = ipiv.clone();
    let device = device_body!(move |l: crate::backend::cuda::Launch,
                                    t: &[crate::backend::cuda::DeviceTile]| {
        let pivots = checked(crate::backend::cuda::Scratch::new(
            l.gpu,
            l.stream,
            on_device.len() * 8,
        ));
        // SAFETY: the scratch holds the pivots and only this stream uses it; then see
        // `linalg/tasks/mod.rs` (rows of the stack: `base` 0).
        checked(unsafe { l.gpu.write_small(l.stream, pivots.ptr(), &on_device) });
        let ipiv = (pivots.ptr(), on_device.len(), 0);
        // SAFETY: as above.
        checked(unsafe { crate::backend::cuda::launch::laswp::<T>(l.gpu, l.stream, t, ipiv) })
    });
    drop(spawn_kernel(
        TaskOptions::named("laswp"),
        column,
        move |mut tiles| be.laswp(&mut tiles, &ipiv),
        device,
    ));
}

/// The diagonal tile `a`, whose top row is global row `row0`, factored without pivoting
/// ([`Backend::getrf_nopiv`]).
pub(crate) fn getrf_nopiv<T: Scalar, B: Backend>(be: &B, priority: i32, a: Tile<T>, row0: usize) -> Panel {
    let be = be.clone();
    let n = a.shape().0 as f64;
    spawn_kernel(
        TaskOptions::named("getrf_nopiv")
            .priority(priority)
            .flops(2.0 * n * n * n / 3.0),
        (InOut(a),),
        move |(a,)| (None, be.getrf_nopiv(a).map_err(|i| row0 + i)),
        None,
    )
}
