//! The entries the rest of the crate calls besides [`super::gemm`]: packed forms shared
//! between products ([`packed_len`], [`pack`], [`gemm_packed`]) and the product on one
//! triangle ([`syrk`]), each on the kernel `super::gemm` would run for the same shapes.

use std::any::TypeId;

use ndarray::{ArrayView2, ArrayViewMut2};

use super::pack as panels;
use super::{
    best, kernels_f32, kernels_f64, pack_whole, packed_elements, run_part, use_own, Kernel, Source, SMALLEST,
};
use crate::backend::Uplo;
use crate::Scalar;

/// The kernel for `T` whose packed forms [`pack`] makes and [`gemm_packed`] reads, when
/// products of this shape run mosaic's kernel: `rows × cols` with both sides at least
/// [`SMALLEST`] (a product of two such operands runs mosaic's kernel through [`super::gemm`] too,
/// so packing changes no result).
fn packing_kernel<T: Scalar, E: panels::Element>(
    kernels: fn() -> &'static [Kernel<E>],
    (rows, cols): (usize, usize),
) -> Option<&'static Kernel<E>> {
    let typed = TypeId::of::<T>() == TypeId::of::<E>();
    if !typed || !use_own() || rows.min(cols) < SMALLEST {
        return None;
    }
    best(kernels())
}

/// Runs `$body` with `$kernel` bound to the packing kernel of `$t`'s element type and
/// `E` standing for it, or gives `$none` where there is none (see [`packing_kernel`]).
macro_rules! with_packing_kernel {
    ($t:ty, $shape:expr, |$kernel:ident: $e:ident| $body:expr, $none:expr) => {
        if let Some($kernel) = packing_kernel::<$t, f64>(kernels_f64, $shape) {
            #[allow(dead_code)] // not every body names it
            type $e = f64;
            $body
        } else if let Some($kernel) = packing_kernel::<$t, f32>(kernels_f32, $shape) {
            #[allow(dead_code)]
            type $e = f32;
            $body
        } else {
            $none
        }
    };
}

/// The number of elements of the packed form of an `rows × cols` operand, the left one
/// (`A` of `A·B`, `left`) or the right one, or `None` where products of this shape do not
/// run mosaic's kernel.
pub(crate) fn packed_len<T: Scalar>(left: bool, (rows, cols): (usize, usize)) -> Option<usize> {
    with_packing_kernel!(
        T,
        (rows, cols),
        |kernel: E| Some(if left {
            packed_elements(rows, kernel.mr, cols)
        } else {
            packed_elements(cols, kernel.nr, rows)
        }),
        None
    )
}

/// Packs `x`, the left or right operand of a product, into `out` (at least
/// [`packed_len`] elements). Panics where `packed_len` is `None`.
pub(crate) fn pack<T: Scalar>(left: bool, x: &ArrayView2<'_, T>, out: &mut [T]) {
    let no_kernel = || {
        panic!(
            "no packed form for a {:?} operand of {}",
            x.dim(),
            std::any::type_name::<T>()
        )
    };
    with_packing_kernel!(
        T,
        x.dim(),
        |kernel: E| {
            assert!(out.len() >= packed_len::<T>(left, x.dim()).unwrap_or(usize::MAX));
            let src = panels::Operand::of(x.as_ptr() as *const E, x.dim(), x.strides());
            let (src, r) = if left {
                (src, kernel.mr)
            } else {
                (src.t(), kernel.nr)
            };
            // SAFETY: `T` is `E` (`packing_kernel` checked), so `out` is a slice of `E`
            // of its own length; `src` describes the elements of the live view `x`.
            unsafe {
                let out = std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut E, out.len());
                pack_whole(kernel.kc, src, r, out)
            }
        },
        no_kernel()
    )
}

/// `C ← α·A·B + C` (`add`) or `C ← α·A·B` from the packed forms of `A` (`m × k`) and `B`
/// (`k × n`) ([`pack`]), for `C`'s `m × n`: bit for bit what [`super::gemm`] gives on the
/// operands. With `part`, only that triangle of a column-major `C` (`Cpu::syrk` with `B`
/// = `Aᵀ`, as [`syrk`]). Panics if a form is shorter than its [`packed_len`], or where
/// there is none.
pub(crate) fn gemm_packed<T: Scalar>(
    (alpha, add): (T, bool),
    (a, b, k): (&[T], &[T], usize),
    (c, part): (&mut ArrayViewMut2<'_, T>, Option<Uplo>),
) {
    let (m, n) = c.dim();
    let no_kernel = || panic!("no packed product of {m} × {k} by {k} × {n}");
    let (Some(a_len), Some(b_len)) = (packed_len::<T>(true, (m, k)), packed_len::<T>(false, (k, n))) else {
        no_kernel()
    };
    assert!(
        a.len() >= a_len && b.len() >= b_len,
        "packed operands of {} and {} elements for {m} × {k} by {k} × {n}",
        a.len(),
        b.len()
    );
    with_packing_kernel!(
        T,
        (m, k),
        |kernel: E| {
            // SAFETY: `T` and `E` are the same type (`packing_kernel` checked).
            let alpha = unsafe { *(&alpha as *const T as *const E) };
            let sources = (
                Source::Packed(a.as_ptr() as *const E),
                Source::Packed(b.as_ptr() as *const E),
                k,
            );
            let c = panels::Operand::of(c.as_mut_ptr() as *const E, c.dim(), c.strides());
            // SAFETY: the packed forms hold at least the elements this shape reads
            // (asserted); `c` describes a live view borrowed mutably, apart from the
            // slices (with a part, `run_part` checks the layout); `best` picked a kernel
            // the processor supports.
            unsafe { run_part(kernel, (alpha, add), sources, (c, part)) }
        },
        no_kernel()
    )
}

/// `C ← α·A·Aᵀ + C` on the `uplo` triangle of `C` (`n × n`, column-major: unit row
/// stride) with mosaic's kernel, `A` being `n × k`, where [`super::gemm`] would run it on these
/// sides (then `true`); otherwise nothing is done (`false`). The other triangle is neither
/// read nor written.
pub(crate) fn syrk<T: Scalar>(
    uplo: Uplo,
    alpha: T,
    a: &ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) -> bool {
    let (n, k) = a.dim();
    assert!(c.dim() == (n, n), "syrk: A is {:?}, C {:?}", a.dim(), c.dim());
    let column_major = c.strides()[0] == 1 && c.strides()[1] >= 0;
    if !column_major || n.min(k) < SMALLEST {
        return false;
    }
    with_packing_kernel!(
        T,
        (n, k),
        |kernel: E| {
            // SAFETY: `T` and `E` are the same type (`packing_kernel` checked).
            let alpha = unsafe { *(&alpha as *const T as *const E) };
            let a = panels::Operand::of(a.as_ptr() as *const E, a.dim(), a.strides());
            let sources = (Source::Strided(a), Source::Strided(a.t()), k);
            let c = panels::Operand::of(c.as_mut_ptr() as *const E, c.dim(), c.strides());
            // SAFETY: `a` describes a live view; `c` a live, column-major view borrowed
            // mutably, apart from it; `best` picked a kernel the processor supports.
            unsafe { run_part(kernel, (alpha, true), sources, (c, Some(uplo))) };
            true
        },
        false
    )
}
