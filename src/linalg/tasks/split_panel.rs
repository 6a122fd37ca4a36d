//! LU's panel when its tiles are on several ranks (under MPI, a grid with more than one row
//! of ranks): partial pivoting with the pivot search across ranks, as ScaLAPACK's `pdgetf2`
//! does it, in tasks.
//!
//! The panel's tiles are split into groups, one per rank holding some of them. For each
//! column `j`, every group's `getf2` task finds the first largest magnitude among its rows
//! still in play and writes that row, its candidate (the group holding the diagonal tile
//! adds row `j`, the one a pivot displaces). An `iamax` task reads the candidates, picks the
//! pivot (the first largest in row order, as LAPACK's `i?amax`; a NaN is never larger) and
//! writes the pivot row, the displaced row and the pivot's index. The next `getf2` task of
//! every group applies that swap to its rows, scales column `j` and updates the rest of the
//! block of [`BLOCK`] columns `j` is in. At the end of a block every group updates the rest
//! of the panel with one product, `U₁₂` solved from the block's pivot rows, which each group
//! keeps in a workspace of its own; so most of the work is still matrix products.
//!
//! The candidates, the pivot and the workspaces are data objects like any tile: a group's
//! `getf2` runs where its tiles are, `iamax` on the diagonal tile's rank, and under MPI each
//! column costs two messages per group elsewhere, its candidate there and the pivot back.
//! It computes what [`Backend::getrf_tiles`] computes on the whole column, with the same
//! pivot rule, the updates in another order: the values differ by rounding, and so may a
//! pivot where two candidates differ by a rounding error.

use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, ShapeBuilder};

use super::{Panel, PanelResult, Swaps};
use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::datadeps::kernel::spawn_kernel;
use crate::datadeps::{In, InOut, Out};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

/// Columns eliminated one at a time before the rest of the panel is updated with a product.
const BLOCK: usize = 32;

/// Rows of column 2 of a candidate or pivot object: a flag (candidate only: 1 if the group
/// has one) and a panel row in three 20-bit parts, each exact in any `Scalar`.
const META: usize = 4;

/// The tiles of one rank's part of a panel: `positions[t]` is tile `t`'s place in the
/// panel's column of tiles (0: the diagonal tile), ascending.
pub(crate) struct Group<T> {
    pub(crate) positions: Vec<usize>,
    pub(crate) tiles: Vec<Tile<T>>,
}

/// The panel whose top row is global row `row0`, split into `groups` (tiles of height `tb`,
/// the diagonal tile at least as tall as the panel is wide), factored with partial
/// pivoting; `home` is the diagonal tile's rank, where the pivots are chosen. The future
/// and `swaps` are those of [`super::getrf`].
pub(crate) fn getrf_split<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    groups: Vec<Group<T>>,
    tb: usize,
    row0: usize,
    swaps: Swaps,
    home: usize,
) -> Panel {
    let width = groups[0].tiles[0].shape().1;
    let top = groups
        .iter()
        .position(|g| g.positions[0] == 0)
        .expect("one group holds the diagonal tile");
    let rows = width.max(META);
    let block = BLOCK.min(width);
    let pivot = Tile::filled(rows, 3, rows, T::zero());
    pivot.set_home(home);
    let status: Tile<usize> = Tile::filled(1, 1, 1, usize::MAX);
    let candidates: Vec<Tile<T>> = groups
        .iter()
        .map(|_| Tile::filled(rows, 3, rows, T::zero()))
        .collect();
    let works: Vec<Tile<T>> = groups
        .iter()
        .map(|_| Tile::filled(block, width, block, T::zero()))
        .collect();
    let mut last = None;
    for j in 0..=width {
        for (g, group) in groups.iter().enumerate() {
            let objects = (works[g].clone(), candidates[g].clone(), pivot.clone());
            getf2(be, priority, group, tb, objects, j);
        }
        if j < width {
            let objects = (pivot.clone(), swaps.clone(), status.clone());
            last = Some(iamax(priority, candidates.clone(), top, objects, row0, j));
        }
    }
    last.expect("a panel has a column")
}

/// Group `group`'s task of column `j`: the swap, scaling and update of column `j - 1`
/// (from `pivot`), then its candidate for column `j` (none for `j` = the width).
fn getf2<T: Scalar, B: Backend>(
    be: &B,
    priority: i32,
    group: &Group<T>,
    tb: usize,
    (work, candidate, pivot): (Tile<T>, Tile<T>, Tile<T>),
    j: usize,
) {
    let (be, positions) = (be.clone(), group.positions.clone());
    let width = group.tiles[0].shape().1;
    let height: usize = group.tiles.iter().map(|t| t.shape().0).sum();
    let block = work.shape().0;
    let mut flops = 2.0 * (height * block) as f64;
    if j.is_multiple_of(block) && j > 0 && j < width {
        flops += 2.0 * (height * block * (width - j)) as f64;
    }
    let tiles: Vec<_> = group.tiles.iter().cloned().map(InOut).collect();
    drop(spawn_kernel(
        TaskOptions::named("getf2").priority(priority).flops(flops),
        (tiles, InOut(work), Out(candidate), In(pivot)),
        move |(mut tiles, mut work, mut candidate, pivot)| {
            if j > 0 {
                apply(&be, &mut tiles, &positions, tb, &mut work, &pivot, j - 1);
            }
            if j < width {
                search(&tiles, &positions, tb, j, &mut candidate);
            }
        },
        None,
    ));
}

/// The choice of column `j`'s pivot among the groups' candidates: `pivot` gets the pivot
/// row, the row it displaces and its panel row, `swaps` its global row. The last column's
/// future carries the panel's swaps and zero-pivot report.
fn iamax<T: Scalar>(
    priority: i32,
    candidates: Vec<Tile<T>>,
    top: usize,
    (pivot, swaps, status): (Tile<T>, Swaps, Tile<usize>),
    row0: usize,
    j: usize,
) -> Panel {
    let candidates: Vec<_> = candidates.into_iter().map(In).collect();
    spawn_kernel(
        TaskOptions::named("iamax").priority(priority),
        (candidates, InOut(pivot), InOut(swaps), InOut(status)),
        move |(candidates, mut pivot, mut swaps, mut status)| -> PanelResult {
            let width = swaps.nrows();
            let displaced = candidates[top].slice(s![..width, 1]);
            let (g, p) = choose(&candidates, top, j);
            let row = if p == j {
                displaced
            } else {
                candidates[g].slice(s![..width, 0])
            };
            pivot.slice_mut(s![..width, 0]).assign(&row);
            pivot.slice_mut(s![..width, 1]).assign(&displaced);
            put_index(pivot.column_mut(2), p);
            swaps[(j, 0)] = row0 + p;
            if row[j] == T::zero() && status[(0, 0)] == usize::MAX {
                status[(0, 0)] = j;
            }
            if j + 1 < width {
                return (None, Ok(()));
            }
            let result = match status[(0, 0)] {
                usize::MAX => Ok(()),
                i => Err(row0 + i),
            };
            (Some(swaps.column(0).to_vec()), result)
        },
        None,
    )
}

/// The group and panel row of column `j`'s pivot: the diagonal itself if it is a NaN, else
/// the first largest magnitude in row order (NaNs left out).
fn choose<T: Scalar>(candidates: &[ArrayView2<'_, T>], top: usize, j: usize) -> (usize, usize) {
    if candidates[top][(j, 1)].to_f64().is_nan() {
        return (top, j);
    }
    let mut best: Option<(f64, usize, usize)> = None;
    for (g, c) in candidates.iter().enumerate() {
        if c[(0, 2)] == T::zero() {
            continue; // no candidate: every row of the group in play is a NaN in column j
        }
        let (value, row) = (c[(j, 0)].to_f64().abs(), index(c.column(2)));
        if best.is_none_or(|(m, r, _)| value > m || (value == m && row < r)) {
            best = Some((value, row, g));
        }
    }
    best.map_or((top, j), |(_, row, g)| (g, row))
}

/// Column `j`'s candidate of a group: its first largest magnitude (NaNs left out) on panel
/// rows from `j` down, as column 0 of `candidate` with its panel row in column 2 (flag 0 if
/// there is none); the group with the diagonal tile puts row `j` in column 1.
fn search<T: Scalar>(
    tiles: &[ArrayViewMut2<'_, T>],
    positions: &[usize],
    tb: usize,
    j: usize,
    candidate: &mut ArrayViewMut2<'_, T>,
) {
    let width = tiles[0].ncols();
    let mut best: Option<(f64, usize, usize)> = None;
    for (t, (tile, &pos)) in tiles.iter().zip(positions).enumerate() {
        let from = if pos == 0 { j } else { 0 };
        for (i, x) in tile.column(j).iter().enumerate().skip(from) {
            let value = x.to_f64().abs();
            if !value.is_nan() && best.is_none_or(|(m, ..)| value > m) {
                best = Some((value, t, i));
            }
        }
    }
    let mut meta = candidate.column_mut(2);
    meta[0] = T::zero();
    if let Some((_, t, i)) = best {
        candidate.slice_mut(s![..width, 0]).assign(&tiles[t].row(i));
        let mut meta = candidate.column_mut(2);
        meta[0] = T::one();
        put_index(meta, positions[t] * tb + i);
    }
    if positions[0] == 0 {
        candidate.slice_mut(s![..width, 1]).assign(&tiles[0].row(j));
    }
}

/// Step `s` on a group: the swap of `pivot` (its row into row `s`, the displaced row into
/// the pivot's), column `s` scaled below the diagonal, the rest of its block updated; at the
/// end of a block, the rest of the panel.
fn apply<T: Scalar, B: Backend>(
    be: &B,
    tiles: &mut [ArrayViewMut2<'_, T>],
    positions: &[usize],
    tb: usize,
    work: &mut ArrayViewMut2<'_, T>,
    pivot: &ArrayView2<'_, T>,
    s: usize,
) {
    let width = tiles[0].ncols();
    let (row, displaced) = (pivot.slice(s![..width, 0]), pivot.slice(s![..width, 1]));
    let p = index(pivot.column(2));
    if p != s {
        if let Some(t) = positions.iter().position(|&q| q == p / tb) {
            tiles[t].row_mut(p % tb).assign(&displaced);
        }
    }
    if positions[0] == 0 {
        tiles[0].row_mut(s).assign(&row);
    }
    let block = work.nrows();
    let c0 = s - s % block;
    let end = (c0 + block).min(width);
    work.row_mut(s - c0).assign(&row);
    if row[s] != T::zero() {
        let scale = T::one() / row[s];
        let u = row.slice(s![s + 1..end]);
        for (tile, &pos) in tiles.iter_mut().zip(positions) {
            let from = if pos == 0 { s + 1 } else { 0 };
            let part = tile.slice_mut(s![from.., s..end]);
            let (mut l, mut rest) = part.split_at(Axis(1), 1);
            let mut l = l.column_mut(0);
            l.mapv_inplace(|x| x * scale);
            for (mut x, &u) in rest.columns_mut().into_iter().zip(&u) {
                if u != T::zero() {
                    x.scaled_add(T::zero() - u, &l);
                }
            }
        }
    }
    if s + 1 == end && end < width {
        update(be, tiles, positions, work.view(), c0..end);
    }
}

/// The end of the block of `columns`: `U₁₂ ← L₁₁⁻¹·A₁₂` from the block's pivot rows (kept
/// in `work`), written into the diagonal tile's rows, and `A₂₂ ← A₂₂ − L₂₁·U₁₂` on every row
/// below the block.
fn update<T: Scalar, B: Backend>(
    be: &B,
    tiles: &mut [ArrayViewMut2<'_, T>],
    positions: &[usize],
    work: ArrayView2<'_, T>,
    columns: std::ops::Range<usize>,
) {
    let (c0, end) = (columns.start, columns.end);
    let width = tiles[0].ncols();
    let mut u12 = Array2::zeros((end - c0, width - end).f());
    u12.assign(&work.slice(s![..end - c0, end..]));
    let l11 = work.slice(s![..end - c0, c0..end]);
    be.trsm(
        Side::Left,
        Uplo::Lower,
        Trans::No,
        Diag::Unit,
        T::one(),
        l11,
        u12.view_mut(),
    );
    let minus_one = T::zero() - T::one();
    for (tile, &pos) in tiles.iter_mut().zip(positions) {
        let from = if pos == 0 {
            tile.slice_mut(s![c0..end, end..]).assign(&u12);
            end
        } else {
            0
        };
        let (left, right) = tile.view_mut().split_at(Axis(1), end);
        let l21 = left.slice_move(s![from.., c0..]);
        let a22 = right.slice_move(s![from.., ..]);
        be.gemm(
            minus_one,
            l21.view(),
            Trans::No,
            u12.view(),
            Trans::No,
            T::one(),
            a22,
        );
    }
}

/// Writes panel row `i` into rows 1 to 3 of `meta`, 20 bits each (exact in `f32`).
fn put_index<T: Scalar>(mut meta: ArrayViewMut1<'_, T>, i: usize) {
    for (k, part) in [i >> 40, (i >> 20) & 0xF_FFFF, i & 0xF_FFFF]
        .into_iter()
        .enumerate()
    {
        meta[1 + k] = T::from_f64(part as f64);
    }
}

/// The panel row that [`put_index`] wrote.
fn index<T: Scalar>(meta: ArrayView1<'_, T>) -> usize {
    (1..META).fold(0, |i, k| (i << 20) | meta[k].to_f64() as usize)
}

#[cfg(test)]
#[path = "split_panel_tests.rs"]
mod tests;
