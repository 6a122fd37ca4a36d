//! QR's reflector applications on a device: `unmqr`, `tsmqr`, `ttmqr` on [`DeviceTile`]s,
//! with the contracts of their [`Backend`](crate::backend::Backend) namesakes, as cuBLAS
//! calls and `kernels/*.cu` masks (`backend/wy.rs`'s algorithm over [`OnStream`]).
//!
//! These are most of a tiled QR's flops; the panel kernels (`geqrt`, `tsqrt`, `ttqrt`) stay
//! on the CPUs, as in MAGMA's hybrid QR. Each call takes a workspace of device memory
//! (`ib × k` elements, more for `ttmqr`), freed once the stream has run the call.
//!
//! # Safety (every kernel here)
//! As in [`blas`](super::blas): every tile names live device memory of `gpu` holding `T`s as
//! [`DeviceTile`] says, `stream < COMPUTE_STREAMS`, and no other device work touches what a
//! call writes, or writes what it reads, while the stream runs it.

use std::mem::size_of;
use std::ptr::NonNull;

use super::gpu::{DeviceTile, Gpu, Scratch};
use super::{blas, launch};
use crate::backend::wy::{self, Blas3};
use crate::backend::{Diag, Elementwise, Side, Trans, Uplo};
use crate::Scalar;

/// A compute stream of a device, as the [`Blas3`] the reflector applications run on.
struct OnStream<'g> {
    gpu: &'g Gpu,
    stream: usize,
}

impl<T: Scalar> Blas3<T> for OnStream<'_> {
    type Block = DeviceTile;

    fn shape(b: DeviceTile) -> (usize, usize) {
        (b.rows, b.cols)
    }

    fn block(b: DeviceTile, (r0, c0): (usize, usize), (rows, cols): (usize, usize)) -> DeviceTile {
        assert!(
            r0 + rows <= b.rows && c0 + cols <= b.cols,
            "a {rows}×{cols} block at ({r0}, {c0}) of a {}×{} tile",
            b.rows,
            b.cols
        );
        let at = b.ptr.as_ptr().wrapping_add((r0 + c0 * b.ld) * size_of::<T>());
        DeviceTile {
            ptr: NonNull::new(at).expect("a device address is not 0"),
            rows,
            cols,
            ld: b.ld,
        }
    }

    unsafe fn gemm(
        &mut self,
        alpha: T,
        (a, ta): (DeviceTile, Trans),
        (b, tb): (DeviceTile, Trans),
        beta: T,
        c: DeviceTile,
    ) -> Result<(), String> {
        // SAFETY: `Blas3`'s contract is `blas`'s.
        unsafe { blas::gemm::<T>(self.gpu, self.stream, alpha, a, ta, b, tb, beta, c) }
    }

    unsafe fn trmm(
        &mut self,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        a: DeviceTile,
        b: DeviceTile,
    ) -> Result<(), String> {
        // SAFETY: as for `gemm`.
        unsafe { blas::trmm::<T>(self.gpu, self.stream, (uplo, trans, diag), a, b) }
    }

    unsafe fn trsm(
        &mut self,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        a: DeviceTile,
        b: DeviceTile,
    ) -> Result<(), String> {
        // SAFETY: as for `gemm`.
        unsafe {
            blas::trsm::<T>(
                self.gpu,
                self.stream,
                Side::Left,
                uplo,
                trans,
                diag,
                T::one(),
                a,
                b,
            )
        }
    }

    unsafe fn lacpy(&mut self, a: DeviceTile, b: DeviceTile) -> Result<(), String> {
        // SAFETY: as for `gemm` (`launch` has the same contract).
        unsafe { launch::lacpy::<T>(self.gpu, self.stream, a, b) }
    }

    unsafe fn sub_assign(&mut self, c: DeviceTile, w: DeviceTile) -> Result<(), String> {
        // SAFETY: as for `lacpy`; the kernel reads each element of `c` before writing it.
        unsafe { launch::elementwise::<T>(self.gpu, self.stream, Elementwise::Sub, c, w, c) }
    }

    unsafe fn copy_upper(&mut self, a: DeviceTile, b: DeviceTile) -> Result<(), String> {
        // SAFETY: as for `lacpy`.
        unsafe { launch::copy_upper::<T>(self.gpu, self.stream, a, b) }
    }
}

/// `shape` elements of device memory for `stream`, as a block; freed (after the stream
/// has run what uses it) when the [`Scratch`] goes.
fn workspace<T>(
    gpu: &Gpu,
    stream: usize,
    (rows, cols): (usize, usize),
) -> Result<(Scratch<'_>, DeviceTile), String> {
    let scratch = Scratch::new(gpu, stream, rows * cols * size_of::<T>())?;
    let block = DeviceTile {
        ptr: scratch.ptr(),
        rows,
        cols,
        ld: rows.max(1),
    };
    Ok((scratch, block))
}

/// `Backend::unmqr`: `C ← op(Q)·C`, `Q` from `geqrt`'s `v` (strictly lower part read) and
/// `t` (`ib × k`, faer's factors).
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn unmqr<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    trans: Trans,
    v: DeviceTile,
    t: DeviceTile,
    c: DeviceTile,
) -> Result<(), String> {
    let (_scratch, work) = workspace::<T>(gpu, stream, wy::workspace(t.rows, c.cols, None))?;
    // SAFETY: the tiles are the caller's; `work` is this call's own memory, which lives
    // (`_scratch`) until the stream has run everything enqueued here.
    unsafe { wy::unmqr::<T, _>(&mut OnStream { gpu, stream }, trans, v, t, c, work) }
}

/// `Backend::tsmqr` (`upper` false) and `Backend::ttmqr` (`upper`): `[C₁; C₂] ← op(Q)·[C₁;
/// C₂]`, `Q` from `v2` (`m × n`; its upper part only when `upper`) and `t` (`ib × n`).
///
/// # Safety
/// See the module docs.
pub(crate) unsafe fn tpmqrt<T: Scalar>(
    gpu: &Gpu,
    stream: usize,
    trans: Trans,
    (c1, c2): (DeviceTile, DeviceTile),
    (v2, upper): (DeviceTile, bool),
    t: DeviceTile,
) -> Result<(), String> {
    let shape = wy::workspace(t.rows, c1.cols, Some((upper, v2.rows)));
    let (_scratch, work) = workspace::<T>(gpu, stream, shape)?;
    // SAFETY: as in `unmqr`.
    unsafe { wy::tpmqrt::<T, _>(&mut OnStream { gpu, stream }, trans, (c1, c2), v2, upper, t, work) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_starts_at_its_first_element_and_keeps_the_leading_dimension() {
        // Addresses only: no device memory is touched.
        let tile = DeviceTile {
            ptr: NonNull::new(0x1000 as *mut u8).unwrap(),
            rows: 10,
            cols: 7,
            ld: 12,
        };
        let b = <OnStream<'_> as Blas3<f64>>::block(tile, (3, 2), (4, 5));
        assert_eq!(b.ptr.as_ptr() as usize, 0x1000 + (3 + 2 * 12) * 8);
        assert_eq!((b.rows, b.cols, b.ld), (4, 5, 12));
        let b = <OnStream<'_> as Blas3<f32>>::block(tile, (9, 6), (1, 1));
        assert_eq!(b.ptr.as_ptr() as usize, 0x1000 + (9 + 6 * 12) * 4);
        // An empty block at the far edge is allowed (the algorithm's last V₂ of a square tile).
        let b = <OnStream<'_> as Blas3<f64>>::block(tile, (10, 0), (0, 7));
        assert_eq!((b.rows, b.cols), (0, 7));
        assert_eq!(<OnStream<'_> as Blas3<f64>>::shape(b), (0, 7));
    }

    #[test]
    #[should_panic(expected = "a 4×5 block at (7, 2) of a 10×7 tile")]
    fn a_block_outside_its_tile_is_refused() {
        let tile = DeviceTile {
            ptr: NonNull::dangling(),
            rows: 10,
            cols: 7,
            ld: 10,
        };
        let _ = <OnStream<'_> as Blas3<f64>>::block(tile, (7, 2), (4, 5));
    }

    #[test]
    fn the_workspace_fits_w_and_the_masked_copy_side_by_side() {
        assert_eq!(wy::workspace(32, 100, None), (32, 100));
        assert_eq!(wy::workspace(32, 100, Some((false, 256))), (32, 100));
        // ttmqr: W (ib × k) at column 0, V₂'s masked block (m × ib) at column k.
        assert_eq!(wy::workspace(32, 100, Some((true, 256))), (256, 132));
        assert_eq!(wy::workspace(32, 100, Some((true, 8))), (32, 132));
    }
}
