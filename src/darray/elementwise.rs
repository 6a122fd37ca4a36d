//! Elementwise operations, re-partitioning, transpose, copies. Each emits one task per
//! result tile (plus copy tasks when operands are cut differently) and returns at once.

use std::sync::Arc;

use ndarray::s;

use super::DArray;
use crate::backend::{Backend, Cpu, Elementwise};
use crate::datadeps::{spawn_with, In, InOut, Out};
use crate::linalg::tasks;
use crate::runtime::TaskOptions;
use crate::Scalar;

impl<T: Scalar> DArray<T> {
    /// Every tile position `(i, j)` of the grid, column by column.
    pub(crate) fn tile_indices(&self) -> impl Iterator<Item = (usize, usize)> {
        let (gr, gc) = self.tile_grid();
        (0..gc).flat_map(move |j| (0..gr).map(move |i| (i, j)))
    }

    /// A matrix cut like `self`, to be overwritten entirely (see [`DArray::for_overwrite`]).
    pub(crate) fn for_overwrite_like(&self) -> Self {
        Self::for_overwrite(super::Blocks(self.rows.b, self.cols.b), self.rows.n, self.cols.n)
            .with_auto(self.auto)
    }

    /// `other`'s values cut like `self` (`other` itself when it already is). A result tile
    /// gets one copy task per source tile it overlaps.
    pub(crate) fn aligned(&self, other: &Self) -> Self {
        other.recut(self.rows.b, self.cols.b)
    }

    /// The same values cut into `br × bc` tiles (`self` itself when already so cut), by
    /// one copy task per pair of overlapping old and new tiles.
    pub(crate) fn recut(&self, br: usize, bc: usize) -> Self {
        if (self.rows.b, self.cols.b) == (br, bc) {
            return self.clone_shallow();
        }
        self.copy_tiles_where(br, bc, |_, _| true)
    }

    /// A new matrix cut into `br × bc` tiles whose tiles `(i, j)` with `keep(i, j)` get
    /// `self`'s values (one copy task per pair of overlapping old and new tiles); the
    /// others are left with stale values, for the caller to overwrite.
    pub(crate) fn copy_tiles_where(&self, br: usize, bc: usize, keep: impl Fn(usize, usize) -> bool) -> Self {
        let other = self;
        let out = Self::for_overwrite(super::Blocks(br, bc), self.rows.n, self.cols.n);
        for (i, j) in out.tile_indices().filter(|&(i, j)| keep(i, j)) {
            let (r, c) = out.tile_range(i, j);
            if r.is_empty() || c.is_empty() {
                continue;
            }
            let ((si0, sj0), _) = other.locate(r.start, c.start);
            let ((si1, sj1), _) = other.locate(r.end - 1, c.end - 1);
            for sj in sj0..=sj1 {
                for si in si0..=si1 {
                    let (sr, sc) = other.tile_range(si, sj);
                    let (lo_r, hi_r) = (r.start.max(sr.start), r.end.min(sr.end));
                    let (lo_c, hi_c) = (c.start.max(sc.start), c.end.min(sc.end));
                    let (dr, dc, tr, tc) = (r.start, c.start, sr.start, sc.start);
                    let copy =
                        move |(src, mut dst): (ndarray::ArrayView2<'_, T>, ndarray::ArrayViewMut2<'_, T>)| {
                            Cpu.lacpy(
                                src.slice(s![lo_r - tr..hi_r - tr, lo_c - tc..hi_c - tc]),
                                dst.slice_mut(s![lo_r - dr..hi_r - dr, lo_c - dc..hi_c - dc]),
                            );
                        };
                    drop(spawn_with(
                        TaskOptions::named("copy").kernel(),
                        (In(other.tile(si, sj)), InOut(out.tile(i, j))),
                        copy,
                    ));
                }
            }
        }
        out
    }

    /// A second handle on the same tiles (no copy; for internal use, where the values
    /// are only read).
    pub(crate) fn clone_shallow(&self) -> Self {
        DArray {
            rows: self.rows,
            cols: self.cols,
            tiles: self.tiles.clone(),
            auto: self.auto,
            owners: self.owners,
        }
    }

    /// `f` applied to every element, in a new matrix cut like `self` (a closure is CPU
    /// code: its tasks run on the CPU workers).
    pub fn map(&self, f: impl Fn(T) -> T + Send + Sync + 'static) -> Self {
        let options = TaskOptions::named("map");
        let f = Arc::new(f);
        let out = self.for_overwrite_like();
        for (i, j) in self.tile_indices() {
            let f = f.clone();
            let task = move |(a, mut c): (ndarray::ArrayView2<'_, T>, ndarray::ArrayViewMut2<'_, T>)| {
                ndarray::Zip::from(&mut c).and(&a).for_each(|c, &a| *c = f(a));
            };
            drop(spawn_with(
                options,
                (In(self.tile(i, j)), Out(out.tile(i, j))),
                task,
            ));
        }
        out
    }

    /// `a op b` element by element (the backend's `elementwise` kernel), in a new matrix
    /// cut like `self`; `other` may be cut differently. Panics (naming `name` and both
    /// shapes) if the shapes differ.
    #[track_caller]
    pub(crate) fn zip_map(&self, other: &Self, name: &'static str, op: Elementwise) -> Self {
        assert_same_shape(name, self, other);
        let b = self.aligned(other);
        let out = self.for_overwrite_like();
        for (i, j) in self.tile_indices() {
            tasks::elementwise(name, op, self.tile(i, j), b.tile(i, j), out.tile(i, j));
        }
        out
    }

    /// `self ← self op other` element by element, in place (the `+=` family).
    #[track_caller]
    pub(crate) fn zip_assign(&mut self, other: &Self, name: &'static str, op: Elementwise) {
        assert_same_shape(name, self, other);
        let b = self.aligned(other);
        for (i, j) in self.tile_indices() {
            tasks::elementwise_assign(name, op, self.tile(i, j), b.tile(i, j));
        }
    }

    /// `self ← other`, tile by tile (`other` may be cut differently); panics (naming `name`
    /// and both shapes) if the shapes differ.
    #[track_caller]
    pub(crate) fn copy_from(&mut self, other: &Self, name: &'static str) {
        assert_same_shape(name, self, other);
        let b = self.aligned(other);
        for (i, j) in self.tile_indices() {
            tasks::lacpy(name, b.tile(i, j), self.tile(i, j));
        }
    }

    /// `self op alpha` element by element, in a new matrix cut like `self`.
    pub(crate) fn scalar_map(&self, name: &'static str, op: Elementwise, alpha: T) -> Self {
        let out = self.for_overwrite_like();
        for (i, j) in self.tile_indices() {
            tasks::elementwise_scalar(name, op, self.tile(i, j), alpha, out.tile(i, j));
        }
        out
    }

    /// `self ← self op alpha` element by element, in place.
    pub(crate) fn scalar_assign(&mut self, name: &'static str, op: Elementwise, alpha: T) {
        for (i, j) in self.tile_indices() {
            tasks::elementwise_scalar_assign(name, op, self.tile(i, j), alpha);
        }
    }

    /// The elementwise (Hadamard) product. `*` between two `DArray`s is the matrix product.
    #[track_caller]
    pub fn hadamard(&self, other: &Self) -> Self {
        self.zip_map(other, "hadamard", Elementwise::Mul)
    }

    /// The transpose, as a new matrix (tile `(j, i)` is the transpose of tile `(i, j)`).
    pub fn t(&self) -> Self {
        let out = Self::for_overwrite(super::Blocks(self.cols.b, self.rows.b), self.cols.n, self.rows.n)
            .with_auto(self.auto);
        for (i, j) in self.tile_indices() {
            tasks::transpose(self.tile(i, j), out.tile(j, i));
        }
        out
    }
}

impl<T: Scalar> Clone for DArray<T> {
    /// A deep copy (value semantics): the copy's tiles are new, filled by copy tasks.
    fn clone(&self) -> Self {
        let out = self.for_overwrite_like();
        for (i, j) in self.tile_indices() {
            tasks::lacpy("lacpy", self.tile(i, j), out.tile(i, j));
        }
        out
    }
}

#[track_caller]
fn assert_same_shape<T: Scalar>(op: &str, a: &DArray<T>, b: &DArray<T>) {
    assert!(
        a.shape() == b.shape(),
        "shape mismatch in {op}: {:?} vs {:?}",
        a.shape(),
        b.shape()
    );
}

impl<T: Scalar> DArray<T> {
    /// The leading `rows × cols` block, cut like `self` (so each result tile is the
    /// top-left of the tile at the same grid position), with `f(global row, global col,
    /// value)` applied to every element: one copy task per tile.
    pub(crate) fn leading(&self, rows: usize, cols: usize, f: fn(usize, usize, T) -> T) -> Self {
        assert!(
            rows <= self.rows.n && cols <= self.cols.n,
            "leading block larger than the matrix"
        );
        let out =
            Self::for_overwrite(super::Blocks(self.rows.b, self.cols.b), rows, cols).with_auto(self.auto);
        for (i, j) in out.tile_indices() {
            let (r, c) = out.tile_range(i, j);
            let (h, w) = (r.len(), c.len());
            let task = move |(src, mut dst): (ndarray::ArrayView2<'_, T>, ndarray::ArrayViewMut2<'_, T>)| {
                for ((li, lj), x) in dst.indexed_iter_mut() {
                    *x = f(r.start + li, c.start + lj, src[(li, lj)]);
                }
            };
            if h > 0 && w > 0 {
                drop(spawn_with(
                    TaskOptions::named("lacpy").kernel(),
                    (In(self.tile(i, j)), InOut(out.tile(i, j))),
                    task,
                ));
            }
        }
        out
    }
}
