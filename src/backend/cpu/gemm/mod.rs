//! mosaic's own tile product, `C ← C + α·A·B`, for `f32` and `f64` on x86-64 with AVX2+FMA
//! or AVX-512, chosen at run time; other element types and processors use faer's.
//!
//! The loops are BLIS's: for each block of `nc` columns of `B` and `kc` of the shared
//! dimension, `B`'s block is packed once into `nr`-column panels (`pack.rs`); for each block
//! of `mc` rows of `A`, `A`'s block is packed into `mr`-row panels; then a register-blocked
//! microkernel (`x86.rs`) multiplies every `A` panel by every `B` panel, keeping an
//! `mr × nr` block of `C` in registers for the whole `kc` loop. Sizes are chosen so that
//! a `B` panel stays in L1, `A`'s block in L2 and `B`'s block in L3. Packing makes every
//! operand layout (a transposed tile, a row-major view) the same contiguous stream for
//! the microkernel, so `A·Bᵀ` (Cholesky's update) runs as fast as `A·B`.
//!
//! An operand can also come packed whole beforehand (`shared.rs`: `pack`, `gemm_packed`): the
//! tiled drivers pack a tile that many products share once, in a task of its own
//! (`linalg/tasks/pack.rs`), and the products skip their packing. The packed form is the
//! blocks of `kc` columns one after another, each in the panels the loops would have
//! made, so the microkernel sees the same panels in the same order: the same result, bit
//! for bit.
//!
//! Against faer's product on one 256 × 256 tile the kernel is faster where faer's is
//! slowest: `A·Bᵀ` on column-major tiles (BENCHMARKS.md, "The tile product").

use std::any::TypeId;
use std::cell::RefCell;
use std::sync::OnceLock;

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::backend::Uplo;
use crate::Scalar;
pub(crate) use shared::{gemm_packed, pack, packed_len, syrk};

mod pack;
mod shared;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

/// `C[0..mr, 0..nr] ← α · Ap · Bp (+ C if `add`)` for one packed `A` panel (`kc` columns
/// of `mr` values) and one packed `B` panel (`kc` rows of `nr` values); `C` column-major
/// with leading dimension `ldc`, not read unless `add`.
///
/// # Safety
/// `a` and `b` hold `kc·mr` and `kc·nr` readable elements, `c` an `mr × nr` block with
/// `ldc ≥ mr` that nobody else reads or writes during the call, and the processor has the
/// kernel's instruction set (`Kernel::supported`).
type Micro<E> = unsafe fn(usize, *const E, *const E, *mut E, usize, (E, bool));

/// One microkernel and the block sizes it runs best with.
pub(super) struct Kernel<E: 'static> {
    /// For tables and `MOSAIC_TILE_GEMM`: `avx2`, `avx512`.
    name: &'static str,
    mr: usize,
    nr: usize,
    kc: usize,
    mc: usize,
    nc: usize,
    micro: Micro<E>,
    supported: fn() -> bool,
}

/// Products with a side shorter than this run faer's kernel: packing costs more than it
/// gains there (one tile, one thread, AMD Zen 3: at 64 and 128 mosaic's ran at 0.75–0.98
/// of faer's speed, from 192 on at 0.92–1.33; BENCHMARKS.md).
const SMALLEST: usize = 192;

/// Which product `Cpu::gemm` runs, decided once per process: `MOSAIC_TILE_GEMM=faer`
/// selects faer's (for comparisons), anything else the widest kernel this processor has.
fn use_own() -> bool {
    static OWN: OnceLock<bool> = OnceLock::new();
    *OWN.get_or_init(|| std::env::var("MOSAIC_TILE_GEMM").map_or(true, |v| v != "faer"))
}

/// The kernel `Cpu::gemm` uses for `E`, if this processor has one.
fn best<E: 'static>(kernels: &'static [Kernel<E>]) -> Option<&'static Kernel<E>> {
    kernels.iter().find(|k| (k.supported)())
}

/// The name of the kernel `Cpu::gemm` runs for `T` here (`faer` where none of mosaic's).
pub(super) fn kernel_name<T: Scalar>() -> &'static str {
    let own = if !use_own() {
        None
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        best(kernels_f64()).map(|k| k.name)
    } else if TypeId::of::<T>() == TypeId::of::<f32>() {
        best(kernels_f32()).map(|k| k.name)
    } else {
        None
    };
    own.unwrap_or("faer")
}

/// The `f64` kernels, widest first.
fn kernels_f64() -> &'static [Kernel<f64>] {
    #[cfg(target_arch = "x86_64")]
    {
        &x86::F64
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        &[]
    }
}

/// The `f32` kernels, widest first.
fn kernels_f32() -> &'static [Kernel<f32>] {
    #[cfg(target_arch = "x86_64")]
    {
        &x86::F32
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        &[]
    }
}

/// `C ← α·A·B + C` (`add`) or `C ← α·A·B` (not `add`: `C` is not read, a NaN in it is
/// overwritten) with mosaic's kernel, if there is one for `T` on this processor and every
/// side is at least [`SMALLEST`] (then `true`); otherwise nothing is done and the caller
/// uses faer's (`false`). Any strides.
///
/// # Safety
/// The shapes agree: `A` is `m × k`, `B` `k × n`, `C` `m × n` (`Cpu::gemm` asserts it).
pub(crate) unsafe fn gemm<T: Scalar>(
    (alpha, add): (T, bool),
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) -> bool {
    let k = a.ncols();
    debug_assert!(a.nrows() == c.nrows() && b.ncols() == c.ncols() && b.nrows() == k);
    if !use_own() || c.nrows().min(c.ncols()).min(k) < SMALLEST {
        return false;
    }
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        run_typed::<T, f64>(best(kernels_f64()), (alpha, add), a, b, c)
    } else if TypeId::of::<T>() == TypeId::of::<f32>() {
        run_typed::<T, f32>(best(kernels_f32()), (alpha, add), a, b, c)
    } else {
        false
    }
}

/// [`gemm`] with `T` known to be `E`; the same contract.
fn run_typed<T: Scalar, E: pack::Element>(
    kernel: Option<&'static Kernel<E>>,
    (alpha, add): (T, bool),
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) -> bool {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<E>());
    let Some(kernel) = kernel else { return false };
    // SAFETY: `T` and `E` are the same type (asserted), so the value and the pointers
    // are reinterpreted as themselves.
    let alpha = unsafe { *(&alpha as *const T as *const E) };
    let a = pack::Operand::of(a.as_ptr() as *const E, a.dim(), a.strides());
    let b = pack::Operand::of(b.as_ptr() as *const E, b.dim(), b.strides());
    let c = pack::Operand::of(c.as_mut_ptr() as *const E, c.dim(), c.strides());
    let sources = (Source::Strided(a), Source::Strided(b), a.cols);
    // SAFETY: the operands describe the elements of live views (`c`'s borrowed mutably
    // by the caller, so apart from `a` and `b` and nobody else's meanwhile) whose shapes
    // agree (`gemm`'s contract), and `best` picked a kernel the processor supports.
    unsafe { run(kernel, (alpha, add), sources, c) };
    true
}

/// An operand of [`run`]: elements to pack block by block as the loops reach them, or
/// the whole operand packed beforehand ([`pack_whole`]).
#[derive(Clone, Copy, Debug)]
pub(super) enum Source<E> {
    Strided(pack::Operand<E>),
    /// The start of a packed form: `A` (`m × k`) packed in `mr`-row panels, or `Bᵀ`
    /// (`n × k`) in `nr`-row panels, by the same kernel.
    Packed(*const E),
}

/// Where the packed block of an operand of `rows` rows (`rows ≤` this) starting at row
/// `i0` (a multiple of the panel height `r`) and depth `pc..pc + kc` lies in its packed
/// form: the form is the blocks of `kernel.kc` columns one after another, each
/// `rows.next_multiple_of(r) × kc` elements in panels of `r` rows ([`pack::panels`]).
fn packed_offset(rows: usize, r: usize, (i0, pc, kc): (usize, usize, usize)) -> usize {
    pc * rows.next_multiple_of(r) + i0 * kc
}

/// The number of elements of the packed form of an operand of `rows` rows (panels of `r`)
/// and `depth` columns.
pub(super) fn packed_elements(rows: usize, r: usize, depth: usize) -> usize {
    rows.next_multiple_of(r) * depth
}

/// Packs all of `x` (`rows × depth`) in panels of `r` rows, depth blocks of `kc`, into
/// `dst` (at least [`packed_elements`]): `A` with `r = mr`, `Bᵀ` with `r = nr`.
///
/// # Safety
/// `x` describes readable elements.
pub(super) unsafe fn pack_whole<E: pack::Element>(
    kc_max: usize,
    x: pack::Operand<E>,
    r: usize,
    dst: &mut [E],
) {
    assert!(dst.len() >= packed_elements(x.rows, r, x.cols));
    for pc in (0..x.cols).step_by(kc_max) {
        let kc = kc_max.min(x.cols - pc);
        let at = packed_offset(x.rows, r, (0, pc, kc));
        // SAFETY: a block of `x` inside it (the caller's contract).
        unsafe { pack::panels(&mut dst[at..], x.sub(0, pc), x.rows, kc, r) };
    }
}

/// `C ← α·A·B (+ C if `add`)` with `kernel`, `A` being `m × k` and `B` `k × n` for `C`'s
/// `m × n`. A packed operand gives the same result, bit for bit, as the operand it was
/// packed from: the microkernel gets the same panels in the same order.
///
/// # Safety
/// `a`, `b` describe readable elements (strided: of shapes `m × k`, `k × n`; packed: by
/// this kernel, of those shapes) and `c` elements the caller has exclusive use of; no
/// element of `c` is one of `a` or `b`; the processor supports `kernel`.
pub(super) unsafe fn run<E: pack::Element>(
    kernel: &Kernel<E>,
    (alpha, add): (E, bool),
    sources: (Source<E>, Source<E>, usize),
    c: pack::Operand<E>,
) {
    // SAFETY: the caller's contract, for the whole of `C`.
    unsafe { run_part(kernel, (alpha, add), sources, (c, None)) }
}

/// [`run`] on the `uplo` triangle of `C` only (diagonal included; all of `C` for `None`):
/// the other elements are neither read nor written, and the microkernel blocks wholly
/// outside the triangle are not computed (`syrk` is the lower or upper half of a product).
///
/// # Safety
/// As [`run`], the exclusive use of `C` only of the part named; with a part, `C` has unit
/// row stride and a non-negative column stride.
pub(super) unsafe fn run_part<E: pack::Element>(
    kernel: &Kernel<E>,
    (alpha, add): (E, bool),
    (a, b, k): (Source<E>, Source<E>, usize),
    (c, part): (pack::Operand<E>, Option<Uplo>),
) {
    debug_assert!((kernel.supported)());
    assert!(
        part.is_none() || (c.rs == 1 && c.cs >= 0),
        "a triangle of a column-major C only"
    );
    let (m, n) = (c.rows, c.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !add {
            for j in 0..n {
                let inside = |i: &usize| match part {
                    None => true,
                    Some(Uplo::Lower) => *i >= j,
                    Some(Uplo::Upper) => *i <= j,
                };
                for i in (0..m).filter(inside) {
                    // SAFETY: `(i, j)` is an element of `c` in the part the caller hands over.
                    unsafe { *(c.at(i, j) as *mut E) = E::zero() };
                }
            }
        }
        return;
    }
    if c.rs != 1 || c.cs < 0 {
        if let (Source::Strided(a), Source::Strided(b), true, true) = (a, b, c.cs == 1, c.rs >= 0) {
            // Cᵀ += α·Bᵀ·Aᵀ, with Cᵀ column-major where C is row-major.
            let swapped = (Source::Strided(b.t()), Source::Strided(a.t()), k);
            // SAFETY: the same elements, under the caller's contract.
            return unsafe { run(kernel, (alpha, add), swapped, c.t()) };
        }
        // Any other layout (or packed operands, whose panels are not those of the
        // transposed problem): through a column-major copy.
        // SAFETY: the elements of `c`, which the caller lets this call read and write.
        let mut copy: Vec<E> = (0..m * n).map(|x| unsafe { *c.at(x % m, x / m) }).collect();
        let dense = pack::Operand::of(copy.as_mut_ptr() as *const E, (m, n), &[1, m as isize]);
        // SAFETY: `dense` is this function's own column-major buffer, apart from `a` and `b`.
        unsafe { run(kernel, (alpha, add), (a, b, k), dense) };
        for (x, v) in copy.iter().enumerate() {
            // SAFETY: as the reads above.
            unsafe { *(c.at(x % m, x / m) as *mut E) = *v };
        }
        return;
    }
    let (mr, nr) = (kernel.mr, kernel.nr);
    let (kc_max, mc_max) = (kernel.kc.min(k), kernel.mc.min(m.next_multiple_of(mr)));
    let nc_max = kernel.nc.min(n.next_multiple_of(nr));
    let (a_len, b_len) = (mc_max * kc_max, kc_max * nc_max);
    let strided = |s: &Source<E>| matches!(s, Source::Strided(_));
    let held = usize::from(strided(&a)) * a_len + usize::from(strided(&b)) * b_len;
    let _held = crate::scratch::Scratch::hold(held * size_of::<E>());
    BUFFERS.with(|buffers| {
        let mut buffers = buffers.borrow_mut();
        let (a_pack, b_pack) = buffers.get::<E>(a_len, b_len);
        for jc in (0..n).step_by(kernel.nc) {
            let nc = kernel.nc.min(n - jc);
            for pc in (0..k).step_by(kernel.kc) {
                let kc = kernel.kc.min(k - pc);
                let b_block: &[E] = match b {
                    Source::Strided(b) => {
                        // SAFETY: a block of `B` inside it, readable (the caller's contract).
                        unsafe { pack::panels(b_pack, b.t().sub(jc, pc), nc, kc, nr) };
                        b_pack
                    }
                    // SAFETY: the packed form of `Bᵀ` (the caller's contract) holds this
                    // block's `nc` rows (rounded up to `nr`) of depth `kc` here.
                    Source::Packed(p) => unsafe {
                        let at = packed_offset(n, nr, (jc, pc, kc));
                        std::slice::from_raw_parts(p.add(at), nc.next_multiple_of(nr) * kc)
                    },
                };
                for ic in (0..m).step_by(kernel.mc) {
                    let mc = kernel.mc.min(m - ic);
                    let a_block: &[E] = match a {
                        Source::Strided(a) => {
                            // SAFETY: a block of `A` inside it, readable (the caller's contract).
                            unsafe { pack::panels(a_pack, a.sub(ic, pc), mc, kc, mr) };
                            a_pack
                        }
                        // SAFETY: as `B`'s, for `A`'s `mc` rows.
                        Source::Packed(p) => unsafe {
                            let at = packed_offset(m, mr, (ic, pc, kc));
                            std::slice::from_raw_parts(p.add(at), mc.next_multiple_of(mr) * kc)
                        },
                    };
                    for jr in (0..nc).step_by(nr) {
                        for ir in (0..mc).step_by(mr) {
                            let panels = (&a_block[ir * kc..], &b_block[jr * kc..]);
                            let (h, w) = (mr.min(mc - ir), nr.min(nc - jr));
                            let Some(cover) = coverage(part, (ic + ir, jc + jr), (h, w)) else {
                                continue;
                            };
                            // SAFETY: the blocks hold `kc·mr` and `kc·nr` elements per
                            // panel; the `h × w` block at `(ic + ir, jc + jr)` is inside
                            // `C`, of which the caller gives this call exclusive use; the
                            // processor supports the kernel (the caller's contract).
                            unsafe {
                                block(
                                    kernel,
                                    kc,
                                    panels,
                                    c.sub(ic + ir, jc + jr),
                                    (h, w, cover),
                                    (alpha, add || pc > 0),
                                )
                            };
                        }
                    }
                }
            }
        }
    });
}

/// Which elements of the `h × w` block of `C` at `(r0, c0)` an update of `part` of `C`
/// writes: `None` none (the block lies outside the triangle), `Some(None)` all of them,
/// `Some(Some((uplo, d)))` those on `uplo`'s side of the diagonal, element `(i, j)` of the
/// block being at distance `d + i − j` below it.
fn coverage(
    part: Option<Uplo>,
    (r0, c0): (usize, usize),
    (h, w): (usize, usize),
) -> Option<Option<(Uplo, isize)>> {
    let Some(uplo) = part else { return Some(None) };
    let (top, bottom, left, right) = (r0, r0 + h - 1, c0, c0 + w - 1);
    let (outside, inside) = match uplo {
        Uplo::Lower => (bottom < left, top >= right),
        Uplo::Upper => (top > right, bottom <= left),
    };
    match (outside, inside) {
        (true, _) => None,
        (false, true) => Some(None),
        (false, false) => Some(Some((uplo, r0 as isize - c0 as isize))),
    }
}

/// `C[0..h, 0..w] ← α · Ap · Bp (+ C if `add`)` for one `A` and one `B` panel, on the
/// elements `cover` names ([`coverage`]): straight into `C` when the block is whole
/// (`mr × nr`, all of it), otherwise through a local block.
///
/// # Safety
/// The panels hold `kc·mr` and `kc·nr` elements; `c` (column-major, `ldc = c.cs`) has an
/// `h × w` block at its start whose elements `cover` names nobody else reads or writes
/// during the call; the processor supports `kernel`.
unsafe fn block<E: pack::Element>(
    kernel: &Kernel<E>,
    kc: usize,
    (a, b): (&[E], &[E]),
    c: pack::Operand<E>,
    (h, w, cover): (usize, usize, Option<(Uplo, isize)>),
    (alpha, add): (E, bool),
) {
    // A mutable view's columns do not overlap: with unit row stride and a whole block of
    // `mr` rows and `nr ≥ 2` columns, the column stride is at least `mr`.
    let (mr, nr, ldc) = (kernel.mr, kernel.nr, c.cs as usize);
    debug_assert!(h < mr || w < nr || ldc >= mr);
    debug_assert!(a.len() >= kc * mr && b.len() >= kc * nr);
    let cp = c.ptr as *mut E;
    if h == mr && w == nr && cover.is_none() {
        // SAFETY: the caller's contract, for the whole `mr × nr` block.
        unsafe { (kernel.micro)(kc, a.as_ptr(), b.as_ptr(), cp, ldc, (alpha, add)) };
        return;
    }
    let mut edge = [E::zero(); EDGE];
    assert!(mr * nr <= EDGE);
    // SAFETY: `edge` is a local `mr × nr` block (leading dimension `mr`); the panels and
    // the processor as the caller guarantees.
    unsafe { (kernel.micro)(kc, a.as_ptr(), b.as_ptr(), edge.as_mut_ptr(), mr, (alpha, false)) };
    let written = |i: usize, j: usize| match cover {
        None => true,
        Some((Uplo::Lower, d)) => d + i as isize >= j as isize,
        Some((Uplo::Upper, d)) => d + i as isize <= j as isize,
    };
    for j in 0..w {
        for i in (0..h).filter(|&i| written(i, j)) {
            // SAFETY: `(i, j)` lies in the `h × w` block the caller hands over, in the
            // part it names.
            unsafe {
                let x = cp.add(i + j * ldc);
                *x = if add {
                    *x + edge[i + j * mr]
                } else {
                    edge[i + j * mr]
                };
            }
        }
    }
}

/// The most elements of a microkernel's block of `C` (AVX-512's `f32` kernel: 32 × 14).
const EDGE: usize = 512;

thread_local! {
    /// Each thread's packing buffers, kept between calls (a worker multiplies tile after
    /// tile of the same sizes).
    static BUFFERS: RefCell<pack::Buffers> = RefCell::new(pack::Buffers::default());
}
