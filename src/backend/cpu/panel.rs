//! LU with partial pivoting of a panel stored as a column of tiles, in place.
//!
//! Recursive (Toledo's algorithm): factor the left half of the columns, apply its swaps to
//! the right half, solve for the right half's top rows with the left half's unit lower
//! triangle, update the rest with one product per tile, factor the right half, and apply
//! its swaps back to the left half. Every step runs on the tiles where they are: nothing is
//! gathered into a contiguous block and scattered back (for the tall panels of a 4096 LU
//! that copying took about a third of the panels' time, BENCHMARKS.md). Most of the work
//! is in faer's matrix products; only the leaves (a few columns) are plain elimination.

use std::ops::Range;

use ndarray::{s, ArrayViewMut2, Axis};

use super::Cpu;
use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::Scalar;

/// Columns factored by plain elimination at the bottom of the recursion.
const LEAF: usize = 4;

/// `P·A = L·U` of the stacked `tiles` (see [`Backend::getrf_tiles`]): `ipiv` gets the swaps,
/// rows counted from the top of the stack; `Err(i)` for the first exactly zero `U[i, i]`.
pub(super) fn getrf_tiles<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    ipiv: &mut [usize],
) -> Result<(), usize> {
    let tb = tiles[0].nrows();
    let width = tiles[0].ncols();
    assert!(
        width <= tb,
        "the top tile of a panel is at least as tall as it is wide"
    );
    assert!(
        tiles.iter().all(|t| t.ncols() == width),
        "the tiles of a panel have one width"
    );
    factor(tiles, tb, 0..width, &mut ipiv[..width]);
    match (0..width).find(|&i| tiles[0][(i, i)] == T::zero()) {
        Some(i) => Err(i),
        None => Ok(()),
    }
}

/// Factors the sub-panel of `columns` (rows from `columns.start` down); `ipiv` holds its
/// steps.
fn factor<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    tb: usize,
    columns: Range<usize>,
    ipiv: &mut [usize],
) {
    let (c0, c1) = (columns.start, columns.end);
    if c1 - c0 <= LEAF {
        return eliminate(tiles, tb, columns, ipiv);
    }
    let mid = c0 + (c1 - c0) / 2;
    let (left, right) = ipiv.split_at_mut(mid - c0);
    factor(tiles, tb, c0..mid, left);
    swap_rows(tiles, tb, c0, left, mid..c1);
    update(tiles, c0..mid, mid..c1);
    factor(tiles, tb, mid..c1, right);
    swap_rows(tiles, tb, mid, right, c0..mid);
}

/// After the left columns `l` are factored and their swaps applied to the right columns
/// `r`: `U₁₂ ← L₁₁⁻¹·A₁₂` in the top rows, then `A₂₂ ← A₂₂ − L₂₁·U₁₂` in every tile.
fn update<T: Scalar>(tiles: &mut [ArrayViewMut2<'_, T>], l: Range<usize>, r: Range<usize>) {
    let minus_one = T::zero() - T::one();
    let (top, below) = tiles.split_at_mut(1);
    let (left, right) = top[0].view_mut().split_at(Axis(1), r.start);
    let left = left.slice_move(s![.., l.start..]);
    let right = right.slice_move(s![.., ..r.len()]);
    let (mut a12, a22) = right.split_at(Axis(0), r.start);
    let mut a12 = a12.slice_mut(s![l.start.., ..]);
    let (l11, l21) = (
        left.slice(s![l.start..r.start, ..]),
        left.slice(s![r.start.., ..]),
    );
    Cpu.trsm(
        Side::Left,
        Uplo::Lower,
        Trans::No,
        Diag::Unit,
        T::one(),
        l11,
        a12.view_mut(),
    );
    let u12 = a12.view();
    Cpu.gemm(minus_one, l21, Trans::No, u12, Trans::No, T::one(), a22);
    for t in below {
        let (tl, tr) = t.view_mut().split_at(Axis(1), r.start);
        let (tl, tr) = (tl.slice_move(s![.., l.start..]), tr.slice_move(s![.., ..r.len()]));
        Cpu.gemm(minus_one, tl.view(), Trans::No, u12, Trans::No, T::one(), tr);
    }
}

/// Applies the swaps of the steps from `first` (step `first + i` swapped rows `first + i`
/// and `pivots[i]`, both counted from the top of the stack) to `columns`, a column at a
/// time.
fn swap_rows<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    tb: usize,
    first: usize,
    pivots: &[usize],
    columns: Range<usize>,
) {
    for c in columns {
        for (i, &p) in pivots.iter().enumerate() {
            swap(tiles, tb, (first + i, p), c);
        }
    }
}

/// Swaps the elements of rows `r1` (in the top tile) and `r2` in column `c`.
fn swap<T: Scalar>(tiles: &mut [ArrayViewMut2<'_, T>], tb: usize, (r1, r2): (usize, usize), c: usize) {
    if r1 == r2 {
        return;
    }
    let (t, i) = (r2 / tb, r2 % tb);
    if t == 0 {
        tiles[0].swap((r1, c), (i, c));
    } else {
        let (top, below) = tiles.split_at_mut(t);
        std::mem::swap(&mut top[0][(r1, c)], &mut below[0][(i, c)]);
    }
}

/// Plain elimination of the few `columns` of a leaf: for each, the pivot is the largest
/// magnitude in the whole column below the diagonal (the first such, as LAPACK's `i?amax`),
/// its row swapped up within the leaf, the column scaled, the leaf's later columns updated.
fn eliminate<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    tb: usize,
    columns: Range<usize>,
    ipiv: &mut [usize],
) {
    for (step, j) in columns.clone().enumerate() {
        let p = pivot_row(tiles, tb, j);
        ipiv[step] = p;
        for c in columns.clone() {
            swap(tiles, tb, (j, p), c);
        }
        let pivot = tiles[0][(j, j)];
        if pivot == T::zero() {
            continue; // U[j, j] = 0: nothing to eliminate with; reported by the caller
        }
        let scale = T::one() / pivot;
        for (t, tile) in tiles.iter_mut().enumerate() {
            let from = if t == 0 { j + 1 } else { 0 };
            tile.slice_mut(s![from.., j]).map_inplace(|x| *x *= scale);
        }
        let u: Vec<T> = (j + 1..columns.end).map(|c| tiles[0][(j, c)]).collect();
        for (t, tile) in tiles.iter_mut().enumerate() {
            let from = if t == 0 { j + 1 } else { 0 };
            let (l, mut rest) = tile.multi_slice_mut((s![from.., j], s![from.., j + 1..columns.end]));
            for (mut column, &u) in rest.columns_mut().into_iter().zip(&u) {
                if u != T::zero() {
                    column.zip_mut_with(&l, |x, &l| *x -= l * u);
                }
            }
        }
    }
}

/// The row (from the top of the stack) of the first largest magnitude in column `j`, on
/// and below row `j`.
fn pivot_row<T: Scalar>(tiles: &[ArrayViewMut2<'_, T>], tb: usize, j: usize) -> usize {
    let (mut best, mut max) = (j, tiles[0][(j, j)].to_f64().abs());
    for (t, tile) in tiles.iter().enumerate() {
        let from = if t == 0 { j + 1 } else { 0 };
        for (i, x) in tile.slice(s![from.., j]).iter().enumerate() {
            let m = x.to_f64().abs();
            if m > max {
                (best, max) = (t * tb + from + i, m);
            }
        }
    }
    best
}
