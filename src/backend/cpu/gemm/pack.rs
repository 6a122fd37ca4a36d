//! Packing: a block of an operand copied into the contiguous panels the microkernels
//! stream through, and each thread's buffers for them.

use std::ops::AddAssign;

/// The element types mosaic's kernels exist for: `f32` and `f64` only (the trait is
/// private to the crate, and the buffers below rely on it).
pub(crate) trait Element: Copy + AddAssign + num_traits::Zero + 'static {}
impl Element for f32 {}
impl Element for f64 {}

/// A matrix operand by address: element `(i, j)` at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<E> {
    pub(crate) ptr: *const E,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: isize,
    pub(crate) cs: isize,
}

impl<E> Operand<E> {
    /// The operand of an ndarray view's pointer, shape and strides.
    pub(crate) fn of(ptr: *const E, (rows, cols): (usize, usize), strides: &[isize]) -> Self {
        Operand {
            ptr,
            rows,
            cols,
            rs: strides[0],
            cs: strides[1],
        }
    }

    /// The transpose.
    pub(crate) fn t(self) -> Self {
        Operand {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Where element `(i, j)` is (an address; reading it is the caller's business).
    pub(crate) fn at(&self, i: usize, j: usize) -> *const E {
        self.ptr
            .wrapping_offset(i as isize * self.rs + j as isize * self.cs)
    }

    /// The part from `(i, j)` on (`i ≤ rows`, `j ≤ cols`).
    pub(crate) fn sub(self, i: usize, j: usize) -> Self {
        Operand {
            ptr: self.at(i, j),
            rows: self.rows - i,
            cols: self.cols - j,
            ..self
        }
    }
}

/// Packs `src`'s first `rows` rows and `kc` columns into panels of `r` rows:
/// panel `q` holds rows `q·r ..` as `kc` groups of `r` values (group `p` is column `p`),
/// rows past `rows` zero. `dst` holds at least `rows.next_multiple_of(r) · kc` elements.
///
/// # Safety
/// `src`'s first `rows × kc` elements are readable.
pub(crate) unsafe fn panels<E: Element>(dst: &mut [E], src: Operand<E>, rows: usize, kc: usize, r: usize) {
    assert!(dst.len() >= rows.next_multiple_of(r) * kc);
    for (q, panel) in dst.chunks_exact_mut(r * kc).take(rows.div_ceil(r)).enumerate() {
        let i0 = q * r;
        let h = r.min(rows - i0);
        let src = src.sub(i0, 0);
        if src.rs == 1 && h == r {
            // Each column's `r` values are contiguous (a column-major `A`, a row-major `B`):
            // copies of a size known at compile time for the kernels' `mr` and `nr`.
            // SAFETY: `src`'s first `r` rows of `kc` columns are readable (the caller's
            // contract), its rows contiguous.
            unsafe {
                match r {
                    6 => copy_columns::<E, 6>(panel, src),
                    8 => copy_columns::<E, 8>(panel, src),
                    14 => copy_columns::<E, 14>(panel, src),
                    16 => copy_columns::<E, 16>(panel, src),
                    32 => copy_columns::<E, 32>(panel, src),
                    _ => copy_columns_of(panel, src, r),
                }
            }
        } else if src.cs == 1 && h == r {
            // Each row is contiguous (`B` of `A·B`, column-major): the `r` rows read side
            // by side, each group written whole.
            // SAFETY: `src`'s first `r` rows of `kc` columns are readable (the caller's
            // contract), its columns contiguous.
            unsafe {
                match r {
                    6 => gather_rows::<E, 6>(panel, src),
                    14 => gather_rows::<E, 14>(panel, src),
                    _ => gather_rows_of(panel, src, r, r),
                }
            }
        } else if src.cs == 1 {
            // SAFETY: as above, `h` rows.
            unsafe { gather_rows_of(panel, src, h, r) };
            zero_rows(panel, h, r);
        } else {
            for p in 0..kc {
                for i in 0..h {
                    // SAFETY: `(i, p)` is within the first `rows × kc` (`i < h ≤ rows - i0`).
                    panel[p * r + i] = unsafe { *src.at(i, p) };
                }
            }
            zero_rows(panel, h, r);
        }
    }
}

/// The contiguous case of [`panels`] for `R` rows.
///
/// # Safety
/// `src`'s first `R` rows of `panel.len() / R` columns are readable; its rows are contiguous.
unsafe fn copy_columns<E: Element, const R: usize>(panel: &mut [E], src: Operand<E>) {
    for (p, group) in panel.chunks_exact_mut(R).enumerate() {
        // SAFETY: column `p`'s first `R` rows (the caller's contract).
        let from = unsafe { &*(src.at(0, p) as *const [E; R]) };
        group.copy_from_slice(from);
    }
}

/// [`copy_columns`] for any `r`.
///
/// # Safety
/// As [`copy_columns`].
unsafe fn copy_columns_of<E: Element>(panel: &mut [E], src: Operand<E>, r: usize) {
    for (p, group) in panel.chunks_exact_mut(r).enumerate() {
        // SAFETY: column `p`'s first `r` rows (the caller's contract).
        group.copy_from_slice(unsafe { std::slice::from_raw_parts(src.at(0, p), r) });
    }
}

/// The row-contiguous case of [`panels`] for `R` rows.
///
/// # Safety
/// `src`'s first `R` rows of `panel.len() / R` columns are readable; its columns are
/// contiguous (`cs = 1`).
unsafe fn gather_rows<E: Element, const R: usize>(panel: &mut [E], src: Operand<E>) {
    let starts: [*const E; R] = std::array::from_fn(|i| src.at(i, 0));
    for (p, group) in panel.chunks_exact_mut(R).enumerate() {
        for (x, start) in group.iter_mut().zip(&starts) {
            // SAFETY: row `i`'s column `p` (the caller's contract).
            *x = unsafe { *start.add(p) };
        }
    }
}

/// [`gather_rows`] for the first `h` rows of groups of `r` (the other rows untouched).
///
/// # Safety
/// As [`gather_rows`], `h` rows.
unsafe fn gather_rows_of<E: Element>(panel: &mut [E], src: Operand<E>, h: usize, r: usize) {
    for i in 0..h {
        let start = src.at(i, 0);
        for (p, group) in panel.chunks_exact_mut(r).enumerate() {
            // SAFETY: row `i`'s column `p` (the caller's contract).
            group[i] = unsafe { *start.add(p) };
        }
    }
}

/// Zeros rows `h..r` of every group of a panel.
fn zero_rows<E: Element>(panel: &mut [E], h: usize, r: usize) {
    if h < r {
        for group in panel.chunks_exact_mut(r) {
            group[h..].fill(E::zero());
        }
    }
}

/// 64 bytes, 64-aligned: the unit of the packing buffers, so that every panel starts
/// on a cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u64; 8]);

/// A thread's buffers for packed `A` and `B` blocks, grown as needed.
#[derive(Default)]
pub(crate) struct Buffers {
    a: Vec<Line>,
    b: Vec<Line>,
}

impl Buffers {
    /// Buffers of at least `na` and `nb` elements of `E`.
    pub(crate) fn get<E: Element>(&mut self, na: usize, nb: usize) -> (&mut [E], &mut [E]) {
        (view(&mut self.a, na), view(&mut self.b, nb))
    }
}

/// `n` elements of `E` over `lines`, grown to hold them.
fn view<E: Element>(lines: &mut Vec<Line>, n: usize) -> &mut [E] {
    let bytes = n * size_of::<E>();
    let needed = bytes.div_ceil(size_of::<Line>());
    if lines.len() < needed {
        lines.resize(needed, Line::default());
    }
    // SAFETY: the lines hold at least `bytes` initialized bytes, 64-aligned (more than
    // `E`'s alignment); `E` is `f32` or `f64`, for which every bit pattern is a value;
    // the slice borrows `lines` mutably for its lifetime.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr() as *mut E, n) }
}
