//! The tiles a factorization works on.
//!
//! Every factorization runs on a private copy of its input, cut into square tiles. When the
//! input's tiling was the user's choice (`Blocks`), the copy keeps it. When it was left to
//! the library (`AutoBlocks`), making the copy costs the same whatever its tiles, so the
//! copy is cut at the size the factorization runs best with (measured: docs/history.md):
//! small matrices as one tile (one sequential kernel beats a graph of tiny ones), larger
//! ones at 256 (Cholesky and LU keep more tasks in flight with their cheap kernels), except
//! QR from order 2048 at 512 (its update kernels gain more from larger tiles).
//!
//! The consuming factorizations (`into_cholesky`, `into_lu`, `into_qr`) skip the copy and
//! factor the matrix's own tiles when these are already what the copy would be cut into
//! (square tiles of the working size: `AutoBlocks` cuts large matrices at 256 for that
//! reason), and Cholesky also the tiles `AutoBlocks` cuts a matrix of order 257 to 512
//! into; otherwise they copy like the borrowing ones.

use ndarray::{s, ArrayView2, ArrayViewMut2};

use crate::backend::{Backend, Cpu};
use crate::darray::{Blocks, DArray, FACTORIZATION_TILE};
use crate::datadeps::{spawn_here, In, InOut, Out, TaskFuture};
use crate::runtime::TaskOptions;
use crate::Scalar;

/// The factorization a working copy is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Factorization {
    Cholesky,
    Lu,
    Qr,
}

/// Up to this order, a factorization of an auto-tiled matrix is one tile.
const SINGLE_TILE: usize = 512;

impl Factorization {
    /// The square tile size for an auto-tiled `m × n` matrix.
    pub(crate) fn tile_size(self, m: usize, n: usize) -> usize {
        let order = m.max(n);
        if order <= SINGLE_TILE {
            return order.max(1);
        }
        match self {
            Factorization::Cholesky | Factorization::Lu => FACTORIZATION_TILE,
            Factorization::Qr if m.min(n) >= 2048 => 512,
            Factorization::Qr => 256,
        }
    }
}

/// The square tile size of `a`'s working copy: the operation's own for an auto-tiled
/// matrix, else the smaller side of `a`'s tiles.
fn working_tile_size<T: Scalar>(a: &DArray<T>, op: Factorization) -> usize {
    if a.auto_blocked() {
        let (m, n) = a.shape();
        op.tile_size(m, n)
    } else {
        a.block_size().0.min(a.block_size().1).max(1)
    }
}

/// The matrix a factorization starts from.
pub(crate) enum Input<'a, T> {
    /// The caller keeps it: the factorization works on a private copy.
    Borrowed(&'a DArray<T>),
    /// Given up by the caller: its own tiles are factored when their tiling suits.
    Owned(DArray<T>),
}

impl<T: Scalar> Input<'_, T> {
    /// The input matrix.
    pub(crate) fn matrix(&self) -> &DArray<T> {
        match self {
            Input::Borrowed(a) => a,
            Input::Owned(a) => a,
        }
    }

    /// The matrix itself and its tile size, when it is owned and its tiles suit `op`
    /// ([`own_tile_size`]). The factorization then needs no copy.
    fn in_place(self, op: Factorization) -> std::result::Result<(DArray<T>, usize), Self> {
        match self {
            Input::Owned(a) => match own_tile_size(&a, op) {
                Some(b) => Ok((a, b)),
                None => Err(Input::Owned(a)),
            },
            borrowed => Err(borrowed),
        }
    }
}

/// The tile size with which an owned `a` is factored in place, when its tiles suit `op`:
/// when they are the working copy's ([`has_working_tiles`]), and for Cholesky also when
/// `AutoBlocks` cut a matrix of order 257 to 512 into smaller square tiles (128 with two
/// workers). The working copy would be one tile there; factoring the input's own tiles
/// instead saves the copy and lets every worker take part, which measured faster for
/// Cholesky (1.1–1.3× the copy's speed at 384 and 512, docs/history.md) but
/// slower for LU, whose panel of tall thin tiles is then on the critical path.
fn own_tile_size<T: Scalar>(a: &DArray<T>, op: Factorization) -> Option<usize> {
    let b = working_tile_size(a, op);
    if has_working_tiles(a, b) {
        return Some(b);
    }
    let (m, n) = a.shape();
    let (br, bc) = a.block_size();
    let small_auto = a.auto_blocked() && m == n && m <= SINGLE_TILE && br == bc;
    (op == Factorization::Cholesky && small_auto).then_some(br)
}

/// Are `a`'s tiles already square tiles of `b` (edge tiles excepted), as the working copy
/// would cut them?
fn has_working_tiles<T: Scalar>(a: &DArray<T>, b: usize) -> bool {
    let (m, n) = a.shape();
    a.block_size() == (b.min(m.max(1)), b.min(n.max(1)))
}

/// The matrix to factor in place, and its tile size: `input` itself when it is owned and
/// its tiling suits `op`, else a private copy ([`working_copy`]).
pub(crate) fn working<T: Scalar>(input: Input<'_, T>, op: Factorization) -> (DArray<T>, usize) {
    match input.in_place(op) {
        Ok(working) => working,
        Err(input) => working_copy(input.matrix(), op),
    }
}

/// A private copy of `a` in square tiles, to be factored in place, and the tile size. For
/// Cholesky only the tiles on and below the diagonal are copied; the others are stale.
pub(crate) fn working_copy<T: Scalar>(a: &DArray<T>, op: Factorization) -> (DArray<T>, usize) {
    let b = working_tile_size(a, op);
    let copy = if op == Factorization::Cholesky {
        // Only the lower triangle is read: the tiles above the diagonal are not copied
        // (the factorization overwrites them with zeros).
        a.copy_tiles_where(b, b, |i, j| i >= j)
    } else if has_working_tiles(a, b) {
        a.clone()
    } else {
        a.recut(b, b)
    };
    (copy.with_auto(a.auto_blocked()), b)
}

/// For a factorization whose working matrix is one tile: one task runs `kernel` on that
/// tile, on the calling thread when the input is ready (the caller waits for it anyway),
/// saving the copy tasks and the hand-offs between threads (what a small factorization's
/// time goes to). The tile is the input's own when `input` is owned and one tile (see
/// [`working`]); otherwise the task first gathers the input into a new tile. Returns the
/// factored matrix and the task's result, or `input` back when the working matrix would
/// have several tiles (or none).
pub(crate) fn one_tile<'a, T: Scalar, R: Send + 'static>(
    input: Input<'a, T>,
    op: Factorization,
    options: TaskOptions,
    kernel: impl FnOnce(ArrayViewMut2<'_, T>) -> R + Send + 'static,
) -> std::result::Result<(DArray<T>, TaskFuture<R>), Input<'a, T>> {
    let (m, n) = input.matrix().shape();
    if m == 0 || n == 0 {
        return Err(input);
    }
    let input = match input.in_place(op) {
        Ok((a, b)) if b >= m.max(n) => {
            let task = move |(t,): (ArrayViewMut2<'_, T>,)| kernel(t);
            let future = spawn_here(options, (InOut(a.tile(0, 0)),), task);
            return Ok((a, future));
        }
        Ok((a, _)) => return Err(Input::Owned(a)),
        Err(input) => input,
    };
    let a = input.matrix();
    if working_tile_size(a, op) < m.max(n) {
        return Err(input);
    }
    let copy = DArray::for_overwrite(Blocks(m, n), m, n).with_auto(a.auto_blocked());
    // Cholesky reads the lower triangle only: the tiles and the parts of tiles above the
    // diagonal are neither waited for nor copied (a cold input's copy is what a small
    // factorization pays beyond the kernel: ~0.5 ms of ~2.3 ms at n = 512 for the whole
    // matrix, ~0.35 ms for the lower half).
    let lower = op == Factorization::Cholesky;
    let (sources, ranges): (Vec<_>, Vec<_>) = a
        .tile_indices()
        .map(|(i, j)| (In(a.tile(i, j)), a.tile_range(i, j)))
        .filter(|(_, (r, c))| !lower || r.end > c.start)
        .unzip();
    let task = move |(tiles, mut dst): (Vec<ArrayView2<'_, T>>, ArrayViewMut2<'_, T>)| {
        for (src, (r, c)) in tiles.into_iter().zip(ranges) {
            if lower {
                copy_lower(dst.slice_mut(s![r.clone(), c.clone()]), src, r.start, c.start);
            } else {
                Cpu.lacpy(src, dst.slice_mut(s![r, c]));
            }
        }
        kernel(dst)
    };
    let future = spawn_here(options, (sources, Out(copy.tile(0, 0))), task);
    Ok((copy, future))
}

/// Copies the part of `src` on and below the global diagonal (element `(i, j)` of `src` is
/// global `(r0 + i, c0 + j)`), column by column; `dst` keeps its other elements.
fn copy_lower<T: Scalar>(mut dst: ArrayViewMut2<'_, T>, src: ArrayView2<'_, T>, r0: usize, c0: usize) {
    let rows = src.nrows();
    for (k, (mut d, s)) in dst.columns_mut().into_iter().zip(src.columns()).enumerate() {
        let first = (c0 + k).saturating_sub(r0).min(rows);
        // Plain slices where the columns are contiguous (tiles are column-major): ndarray's
        // `slice_mut` costs about as much as copying a short column.
        match (d.as_slice_mut(), s.as_slice()) {
            (Some(d), Some(s)) => d[first..].copy_from_slice(&s[first..]),
            _ => d.slice_mut(s![first..]).assign(&s.slice(s![first..])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::darray::{AutoBlocks, Blocks};

    #[test]
    fn explicit_tiles_are_kept_and_auto_tiles_are_chosen_per_factorization() {
        let a = DArray::<f64>::zeros(Blocks(3, 5), 10, 10);
        let (c, b) = working_copy(&a, Factorization::Cholesky);
        assert_eq!((b, c.block_size(), c.auto_blocked()), (3, (3, 3), false));

        let small = DArray::<f64>::zeros(AutoBlocks, 300, 200);
        let (c, b) = working_copy(&small, Factorization::Lu);
        assert_eq!((b, c.tile_grid(), c.auto_blocked()), (300, (1, 1), true));

        let big = DArray::<f64>::zeros(AutoBlocks, 1100, 1000);
        for (op, want) in [
            (Factorization::Cholesky, 256),
            (Factorization::Lu, 256),
            (Factorization::Qr, 256),
        ] {
            let (c, b) = working_copy(&big, op);
            assert_eq!((b, c.block_size()), (want, (want, want)));
        }
        assert_eq!(Factorization::Qr.tile_size(4096, 4096), 512);
        assert_eq!(Factorization::Qr.tile_size(8192, 512), 256);
    }

    #[test]
    fn an_owned_input_is_worked_on_in_place_when_its_tiles_fit() {
        let same = |a: &DArray<f64>, c: &DArray<f64>| {
            a.tile_indices()
                .all(|(i, j)| a.tile(i, j).same_tile(&c.tile(i, j)))
        };
        for op in [Factorization::Cholesky, Factorization::Lu, Factorization::Qr] {
            // Square tiles of the user's choice: in place.
            let a = DArray::<f64>::zeros(Blocks(30, 30), 100, 70);
            let tiles = a.clone_shallow();
            let (w, b) = working(Input::Owned(a), op);
            assert!(same(&tiles, &w) && b == 30, "{op:?}: in place");
            // Non-square tiles: copied, cut square; and never in place when borrowed.
            let a = DArray::<f64>::zeros(Blocks(30, 40), 100, 70);
            let (w, _) = working(Input::Owned(a.clone_shallow()), op);
            assert!(!same(&a, &w) && w.block_size() == (30, 30), "{op:?}: copied");
            let (w, _) = working(Input::Borrowed(&a), op);
            assert!(!a.tile(0, 0).same_tile(&w.tile(0, 0)), "{op:?}: borrowed");
            // AutoBlocks' tiles (their size depends on the number of workers): in place
            // exactly when they are the factorization's working tiles.
            for n in [1024, 4096] {
                let a = DArray::<f64>::zeros(AutoBlocks, n, n);
                let fits = a.block_size().0 == op.tile_size(n, n);
                let (w, b) = working(Input::Owned(a.clone_shallow()), op);
                assert_eq!(same(&a, &w), fits, "{op:?}, AutoBlocks {n}");
                assert_eq!(w.block_size().0, b);
            }
        }
    }

    #[test]
    fn cholesky_factors_small_auto_tiled_inputs_in_place_and_lu_and_qr_copy_them() {
        for n in [300, 512] {
            let a = DArray::<f64>::zeros(AutoBlocks, n, n);
            // AutoBlocks cuts these in tiles smaller than the order with any number of
            // workers (256 with one, 128 with more).
            let tile = a.block_size().0;
            assert!(tile < n, "AutoBlocks {n}: tile {tile}");
            let (w, b) = working(Input::Owned(a.clone_shallow()), Factorization::Cholesky);
            assert!(w.tile(0, 0).same_tile(&a.tile(0, 0)) && b == tile, "Cholesky {n}");
            let options = TaskOptions::named("probe");
            let input = Input::Owned(a.clone_shallow());
            let one = one_tile(input, Factorization::Cholesky, options, |_| ());
            assert!(one.is_err(), "Cholesky {n}: not gathered into one tile");
            for op in [Factorization::Lu, Factorization::Qr] {
                let (w, b) = working(Input::Owned(a.clone_shallow()), op);
                assert!(!w.tile(0, 0).same_tile(&a.tile(0, 0)) && b == n, "{op:?} {n}");
            }
            // Borrowed: copied into one tile.
            let (w, b) = working(Input::Borrowed(&a), Factorization::Cholesky);
            assert!(!w.tile(0, 0).same_tile(&a.tile(0, 0)) && b == n, "borrowed {n}");
        }
        // Explicit non-square tiles are copied, cut square at their smaller side.
        let a = DArray::<f64>::zeros(Blocks(100, 120), 400, 400);
        let (w, b) = working(Input::Owned(a.clone_shallow()), Factorization::Cholesky);
        assert!(!w.tile(0, 0).same_tile(&a.tile(0, 0)) && b == 100);
    }

    #[test]
    fn an_owned_single_tile_is_factored_in_place() {
        let a = DArray::<f64>::eye(AutoBlocks, 200);
        let tile = a.tile(0, 0);
        let options = TaskOptions::named("probe");
        let Ok((w, f)) = one_tile(Input::Owned(a), Factorization::Lu, options, |t| t[(0, 0)]) else {
            panic!("one tile");
        };
        assert!(w.tile(0, 0).same_tile(&tile));
        assert_eq!(f.wait().expect("ran"), 1.0);
        // Several input tiles gathered into one working tile: a new tile.
        let a = DArray::<f64>::eye(Blocks(100, 100), 200).with_auto(true);
        let tile = a.tile(0, 0);
        let options = TaskOptions::named("probe");
        let Ok((w, _)) = one_tile(Input::Owned(a), Factorization::Lu, options, |_| ()) else {
            panic!("one tile");
        };
        assert!(!w.tile(0, 0).same_tile(&tile));
    }

    #[test]
    fn copy_lower_copies_exactly_the_part_on_and_below_the_global_diagonal() {
        let src = ndarray::Array2::from_shape_fn((7, 5), |(i, j)| (10 * i + j + 1) as f64);
        for (r0, c0) in [(0, 0), (3, 0), (0, 4), (2, 5), (10, 2), (0, 9)] {
            let mut dst = ndarray::Array2::from_elem((7, 5), -1.0);
            copy_lower(dst.view_mut(), src.view(), r0, c0);
            for ((i, j), &x) in dst.indexed_iter() {
                let want = if r0 + i >= c0 + j { src[(i, j)] } else { -1.0 };
                assert_eq!(x, want, "offset ({r0}, {c0}), element ({i}, {j})");
            }
        }
    }

    #[test]
    fn the_copy_is_a_copy() {
        let a = DArray::<f64>::rand_seeded(AutoBlocks, 600, 600, 3);
        let (c, _) = working_copy(&a, Factorization::Lu);
        assert!(!c.tile(0, 0).same_tile(&a.tile(0, 0)));
        assert_eq!(c.to_ndarray(), a.to_ndarray());
        // Cholesky reads only the lower triangle: the tiles on and below the diagonal.
        let (c, b) = working_copy(&a, Factorization::Cholesky);
        assert!(!c.tile(0, 0).same_tile(&a.tile(0, 0)));
        let (c, a) = (c.to_ndarray(), a.to_ndarray());
        let lower = c.indexed_iter().filter(|&((i, j), _)| i / b >= j / b);
        assert!(lower.clone().count() > 600 * 600 / 2);
        for ((i, j), &x) in lower {
            assert_eq!(x, a[(i, j)], "({i}, {j})");
        }
    }
}
