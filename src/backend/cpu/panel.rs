//! LU with partial pivoting of a panel stored as a column of tiles, in place.
//!
//! Recursive (Toledo's algorithm): factor the left half of the columns, apply its swaps to
//! the right half, solve for the right half's top rows with the left half's unit lower
//! triangle, update the rest with one product per tile, factor the right half, and apply
//! its swaps back to the left half. Every step runs on the tiles where they are: nothing is
//! gathered into a contiguous block and scattered back (for the tall panels of a 4096 LU
//! that copying took about a third of the panels' time, docs/history.md). Most of the work
//! is in faer's matrix products; only the leaves (a few columns) are plain elimination.

use std::ops::Range;

use ndarray::{s, Array2, ArrayViewMut2, Axis, ShapeBuilder};
use smallvec::SmallVec;

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
    // The steps below work on columns as slices; tiles in another layout (never the
    // library's own) are factored as column-major copies.
    if !tiles.iter().all(|t| t.nrows() <= 1 || t.stride_of(Axis(0)) == 1) {
        let column_major = |t: &ArrayViewMut2<'_, T>| {
            let mut copy = Array2::zeros(t.dim().f());
            copy.assign(t);
            copy
        };
        let mut copies: Vec<Array2<T>> = tiles.iter().map(column_major).collect();
        let mut views: Vec<_> = copies.iter_mut().map(|c| c.view_mut()).collect();
        let result = getrf_tiles(&mut views, ipiv);
        for (tile, copy) in tiles.iter_mut().zip(&copies) {
            tile.assign(copy);
        }
        return result;
    }
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
/// time (each column of every tile is a contiguous slice).
fn swap_rows<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    tb: usize,
    first: usize,
    pivots: &[usize],
    columns: Range<usize>,
) {
    for c in columns {
        let mut column = column_slices(tiles, c);
        for (i, &p) in pivots.iter().enumerate() {
            swap(&mut column, tb, first + i, p);
        }
    }
}

/// Column `c` of every tile, top to bottom, as slices.
fn column_slices<'a, T: Scalar>(
    tiles: &'a mut [ArrayViewMut2<'_, T>],
    c: usize,
) -> SmallVec<[&'a mut [T]; 32]> {
    tiles
        .iter_mut()
        .map(|t| {
            t.column_mut(c)
                .into_slice()
                .expect("columns are contiguous (checked on entry)")
        })
        .collect()
}

/// Swaps the elements of rows `r1` (in the top tile) and `r2` of one column, given as the
/// slices of its tiles of height `tb`.
fn swap<T: Scalar>(column: &mut [&mut [T]], tb: usize, r1: usize, r2: usize) {
    let (t, i) = (r2 / tb, r2 % tb);
    if t == 0 {
        column[0].swap(r1, i);
    } else {
        let (top, below) = column.split_at_mut(t);
        std::mem::swap(&mut top[0][r1], &mut below[0][i]);
    }
}

/// Swaps rows `r1` (in the top tile) and `r2` within the few `columns` of a leaf.
fn swap_leaf_rows<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    tb: usize,
    (r1, r2): (usize, usize),
    columns: Range<usize>,
) {
    if r1 == r2 {
        return;
    }
    let (t, i) = (r2 / tb, r2 % tb);
    if t == 0 {
        columns.for_each(|c| tiles[0].swap((r1, c), (i, c)));
    } else {
        let (top, below) = tiles.split_at_mut(t);
        columns.for_each(|c| std::mem::swap(&mut top[0][(r1, c)], &mut below[0][(i, c)]));
    }
}

/// Plain elimination of the few `columns` of a leaf: for each, the pivot is the largest
/// magnitude in the whole column below the diagonal (the first such, as LAPACK's `i?amax`),
/// its row swapped up within the leaf, the column scaled, the leaf's later columns updated.
/// Everything runs on contiguous column slices (a leaf's columns stay in cache).
fn eliminate<T: Scalar>(
    tiles: &mut [ArrayViewMut2<'_, T>],
    tb: usize,
    columns: Range<usize>,
    ipiv: &mut [usize],
) {
    for (step, j) in columns.clone().enumerate() {
        let p = pivot_row(&column_slices(tiles, j), j);
        ipiv[step] = p;
        swap_leaf_rows(tiles, tb, (j, p), columns.clone());
        let pivot = tiles[0][(j, j)];
        if pivot == T::zero() {
            continue; // U[j, j] = 0: nothing to eliminate with; reported by the caller
        }
        let scale = T::one() / pivot;
        let u: SmallVec<[T; LEAF]> = (j + 1..columns.end).map(|c| tiles[0][(j, c)]).collect();
        for (t, tile) in tiles.iter_mut().enumerate() {
            let from = if t == 0 { j + 1 } else { 0 };
            let mut part = tile.slice_mut(s![from.., j..columns.end]);
            let mut cols = part
                .columns_mut()
                .into_iter()
                .map(|c| c.into_slice().expect("columns are contiguous (checked on entry)"));
            let l = cols.next().expect("column j");
            l.iter_mut().for_each(|x| *x *= scale);
            for (x, &u) in cols.zip(&u) {
                if u != T::zero() {
                    x.iter_mut().zip(l.iter()).for_each(|(x, &l)| *x -= l * u);
                }
            }
        }
    }
}

/// The row (from the top of the stack) of the first largest magnitude in column `j` (given
/// as its tiles' slices), on and below row `j`. A NaN is never larger than anything, as in
/// a plain scan that starts from the diagonal.
fn pivot_row<T: Scalar>(column: &[&mut [T]], j: usize) -> usize {
    let tb = column[0].len();
    let below = |t: usize| if t == 0 { j + 1 } else { 0 };
    let mut max = column[0][j].to_f64().abs();
    if max.is_nan() {
        return j;
    }
    for (t, part) in column.iter().enumerate() {
        max = max.max(max_abs(&part[below(t)..]));
    }
    if column[0][j].to_f64().abs() == max {
        return j;
    }
    for (t, part) in column.iter().enumerate() {
        let from = below(t);
        if let Some(i) = part[from..].iter().position(|x| x.to_f64().abs() == max) {
            return t * tb + from + i;
        }
    }
    unreachable!("the maximum is an element of the column")
}

/// The largest magnitude in `x`, NaNs left out (0 for an empty slice); eight running
/// maxima, so the loop vectorizes.
fn max_abs<T: Scalar>(x: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            let v = v.to_f64().abs();
            *a = if v > *a { v } else { *a };
        }
    }
    let tail = chunks.remainder().iter().map(|v| v.to_f64().abs());
    acc.into_iter()
        .chain(tail)
        .fold(0.0, |m, v| if v > m { v } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pivot_row` against the plain scan it replaces: the first largest magnitude from
    /// the diagonal down, NaNs never larger, ties broken towards the top.
    #[test]
    fn pivot_row_is_the_first_largest_magnitude_below_the_diagonal() {
        let scan = |col: &[f64], j: usize| {
            let (mut best, mut max) = (j, col[j].abs());
            for (i, x) in col.iter().enumerate().skip(j + 1) {
                if x.abs() > max {
                    (best, max) = (i, x.abs());
                }
            }
            best
        };
        let columns: [&[f64]; 7] = [
            &[1.0, 2.0, -3.0, 3.0, 0.5, -3.0, 1.0, 2.0, 0.0, 3.0, -1.0, 2.5],
            &[0.0; 12],
            &[
                9.0,
                f64::NAN,
                1.0,
                2.0,
                f64::NAN,
                7.0,
                -7.0,
                1.0,
                0.0,
                7.0,
                2.0,
                1.0,
            ],
            &[f64::NAN, 5.0, 1.0, 2.0, 4.0, 7.0, -7.0, 1.0, 0.0, 7.0, 2.0, 1.0],
            &[-0.0, 0.0, -0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1e-300, 0.0, 0.0],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, -11.0],
        ];
        for col in columns {
            for tb in [12, 5, 4, 3] {
                for j in 0..tb.min(col.len()) {
                    // Tiles of `tb` rows (the last one shorter).
                    let mut owned: Vec<Vec<f64>> = col.chunks(tb).map(<[f64]>::to_vec).collect();
                    let slices: Vec<&mut [f64]> = owned.iter_mut().map(Vec::as_mut_slice).collect();
                    let got = pivot_row(&slices, j);
                    assert_eq!(got, scan(col, j), "{col:?}, tiles of {tb}, column {j}");
                }
            }
        }
    }

    #[test]
    fn max_abs_leaves_out_nans() {
        let x: Vec<f64> = (0..37)
            .map(|i| if i % 5 == 0 { f64::NAN } else { -(i as f64) })
            .collect();
        assert_eq!(max_abs(&x), 36.0);
        assert_eq!(max_abs::<f64>(&[]), 0.0);
        assert_eq!(max_abs(&[f64::NAN; 9]), 0.0);
    }
}
