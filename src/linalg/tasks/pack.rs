//! Shared packed operands: a tile that one step of a factorization (or a product)
//! multiplies by many others is packed once, by a `pack` task that writes the backend's
//! packed form ([`Backend::pack`]) into a tile of its own, and every product that uses
//! it reads that form ([`Backend::gemm_packed`]) instead of packing the tile again.
//!
//! A product runs on packed forms only when both of its operands have one; otherwise it
//! runs [`Backend::gemm`] on the tiles, so a result never depends on which products were
//! packed (the CPU backend's packed product is, bit for bit, its product of the tiles).
//! Nothing is packed where a product could run on a CUDA device (a packed product has no
//! CUDA body) or on arrays dealt over MPI ranks (the packed layout belongs to the
//! processor's kernel, and ranks may have different processors).

use std::sync::atomic::{AtomicU8, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::backend::{Backend, Side, Trans};
use crate::datadeps::kernel::spawn_kernel;
use crate::datadeps::{In, Out};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

/// [`shared_packing`]'s state: 0 not yet read from the environment, 1 on, 2 off.
static SHARING: AtomicU8 = AtomicU8::new(0);

/// Whether the tiled drivers share packed operands between the products that multiply
/// the same tile (on by default; `MOSAIC_PACK=off` in the environment turns it off).
/// Sharing changes no result, only the speed: see [`set_shared_packing`].
pub fn shared_packing() -> bool {
    match SHARING.load(Ordering::Relaxed) {
        0 => {
            let off = std::env::var_os("MOSAIC_PACK").is_some_and(|v| v == "off");
            // A concurrent `set_shared_packing` wins over the environment.
            let _ =
                SHARING.compare_exchange(0, if off { 2 } else { 1 }, Ordering::Relaxed, Ordering::Relaxed);
            SHARING.load(Ordering::Relaxed) == 1
        }
        state => state == 1,
    }
}

/// Turns the sharing of packed operands on or off for the operations submitted from now
/// on, for comparisons: a tile that one step of a Cholesky or LU factorization (or a
/// product) multiplies by many others is then packed once for the processor's tile
/// product, by a task of its own, instead of once in every product that uses it. Results
/// are the same, bit for bit, either way.
pub fn set_shared_packing(on: bool) {
    SHARING.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// An operand of a product task ([`super::gemm`]): a tile, transposed or not, and the
/// packed form of `op(tile)` when one is shared.
#[derive(Clone, Debug)]
pub(crate) struct Operand<T> {
    pub(crate) tile: Tile<T>,
    pub(crate) trans: Trans,
    pub(crate) packed: Option<Tile<T>>,
}

impl<T> From<(Tile<T>, Trans)> for Operand<T> {
    fn from((tile, trans): (Tile<T>, Trans)) -> Self {
        Operand {
            tile,
            trans,
            packed: None,
        }
    }
}

impl<T> Operand<T> {
    /// `op(tile)`'s shape.
    pub(crate) fn shape(&self) -> (usize, usize) {
        let (r, c) = self.tile.shape();
        if self.trans == Trans::Yes {
            (c, r)
        } else {
            (r, c)
        }
    }
}

/// Whether a driver shares packed operands: see the module documentation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Packing {
    on: bool,
}

impl Packing {
    /// For the products of a driver whose arrays are `distributed` (or not), submitted
    /// from this thread.
    pub(crate) fn new(distributed: bool) -> Self {
        let off = !shared_packing();
        #[cfg(test)]
        let off = off || OFF_HERE.with(|o| o.get());
        Packing {
            on: !off && !distributed && !crate::runtime::cuda_admitted(),
        }
    }

    /// Would [`operand`](Self::operand) pack an operand of shape `shape` used `uses` times?
    pub(crate) fn packs<T: Scalar, B: Backend>(
        self,
        be: &B,
        side: Side,
        shape: (usize, usize),
        uses: usize,
    ) -> bool {
        self.on && uses >= 2 && be.packed_len::<T>(side, shape).is_some()
    }

    /// `op(tile)` as the `side` operand of `uses` products: packed by a task of priority
    /// `priority` (submitted here, after the tasks that write the tile) when it is used
    /// more than once and the backend has a packed form of its shape; as it is otherwise.
    pub(crate) fn operand<T: Scalar, B: Backend>(
        self,
        be: &B,
        (priority, uses): (i32, usize),
        side: Side,
        (tile, trans): (Tile<T>, Trans),
    ) -> Operand<T> {
        let mut operand = Operand::from((tile, trans));
        if !self.on || uses < 2 {
            return operand;
        }
        let Some(len) = be.packed_len::<T>(side, operand.shape()) else {
            return operand;
        };
        let packed = Tile::for_overwrite(len, 1, len.max(1));
        let be = be.clone();
        let task = move |(mut out, x): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>)| {
            let out = out
                .as_slice_memory_order_mut()
                .expect("a packed form's tile is one contiguous column");
            be.pack(side, x, trans, out)
        };
        let options = TaskOptions::named("pack").priority(priority);
        drop(spawn_kernel(
            options,
            (Out(packed.clone()), In(operand.tile.clone())),
            task,
            None,
        ));
        operand.packed = Some(packed);
        operand
    }
}

#[cfg(test)]
thread_local! {
    /// Turns sharing off for the products this thread submits (the tests' reference runs).
    static OFF_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
