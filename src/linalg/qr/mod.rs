//! Tiled Householder QR (compact WY) for any `m × n`, PLASMA's flat-tree algorithm: for
//! each diagonal tile `k`,
//! 1. `geqrt` factors tile `(k, k)`: `R` on and above its diagonal, `V` below;
//! 2. `unmqr` applies its `Qᵀ` to the tiles right of it, reading only the strictly lower
//!    part of `(k, k)`;
//! 3. for each tile `(i, k)` below, `tsqrt` factors `[R; A_ik]`, rewriting only the upper
//!    triangle of `(k, k)`, and `tsmqr` applies that `Qᵀ` to the pairs `(k, j)`, `(i, j)`.
//!
//! Because `unmqr` declares the strictly lower triangle of the diagonal tile and `tsqrt`
//! its upper triangle, the updates right of the diagonal run while the column below is
//! still being factored. The compact-WY factors live in a second matrix of `ib × b` tiles.
//! Priorities: factorization of the panel first, the next tile column second (lookahead),
//! then the rest.
//!
//! A flat tree serialises a panel's `tsqrt`s on the diagonal tile's `R`, which leaves a
//! tall and skinny matrix without parallelism. For matrices at least twice as tall as wide
//! (in tiles) each panel is reduced by a binary tree instead (TSQR/CAQR): `geqrt` on every
//! tile of the panel at once, then `ttqrt` merges pairs of triangles `R_p`, `R_q` level by
//! level (the reflectors `V₂` go to the upper triangle of tile `q`, whose strictly lower
//! part keeps its `geqrt` reflectors), with `ttmqr` updating the rows right of them. The
//! tree's compact-WY factors take a third matrix.

mod solve;

use ndarray::s;

use super::tasks::priority;
use super::tiling::{self, Input};
use super::Linalg;
use crate::backend::{Backend, Cpu, Trans};
use crate::darray::DArray;
use crate::datadeps::{spawn_with, In, InOut, Out, UnitLowerTriangular, UpperTriangular};
use crate::error::Result;
use crate::runtime::TaskOptions;
use crate::{Blocks, Scalar, Tile};

/// Reflectors per compact-WY block (faer's `blocksize`): the row count of a `T` tile.
const IB: usize = 32;

/// `A = Q·R`: `R` and the Householder vectors packed in one matrix, and the compact-WY
/// factors of every tile's reflectors.
#[derive(Debug)]
pub struct Qr<T, B = Cpu> {
    a: DArray<T>,
    t: DArray<T>,
    /// The compact-WY factors of the tree merges, when panels are reduced by a tree.
    tree: Option<DArray<T>>,
    linalg: Linalg<B>,
}

/// The merges of a binary tree over tile rows `k..mt`, level by level: `(p, q)` merges
/// the triangle of row `q` into that of row `p`.
pub(super) fn tree_levels(k: usize, mt: usize) -> Vec<Vec<(usize, usize)>> {
    let mut levels = Vec::new();
    let mut stride = 1;
    while k + stride < mt {
        let level = (k..mt)
            .step_by(2 * stride)
            .filter(|p| p + stride < mt)
            .map(|p| (p, p + stride))
            .collect();
        levels.push(level);
        stride *= 2;
    }
    levels
}

impl<T: Scalar> DArray<T> {
    /// The QR factorization of any `m × n` matrix by tiled Householder reflections.
    /// Returns at once (QR cannot fail); the factorization runs as tasks.
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let a = DArray::<f64>::rand_seeded(Blocks(4, 4), 10, 6, 1);
    /// let qr = a.qr()?;
    /// let (q, r) = (qr.q(), qr.r()); // 10×6 and 6×6
    /// approx::assert_abs_diff_eq!(&q * &r, a, epsilon = 1e-12);
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn qr(&self) -> Result<Qr<T>> {
        Linalg::cpu().qr(self)
    }

    /// [`qr`](Self::qr), consuming the matrix: its own tiles hold `R` and the reflectors
    /// when they are already what the factorization works on (square tiles of its
    /// working size), with no copy; otherwise it copies as `qr` does.
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let a = DArray::<f64>::rand_seeded(Blocks(4, 4), 10, 6, 1);
    /// let qr = a.clone().into_qr()?;
    /// approx::assert_abs_diff_eq!(&qr.q() * &qr.r(), a, epsilon = 1e-12);
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn into_qr(self) -> Result<Qr<T>> {
        Linalg::cpu().into_qr(self)
    }
}

/// Flops of a dense Householder QR of an `m × n` block (LAPACK's count).
fn qr_flops((m, n): (usize, usize)) -> f64 {
    let (m, n, k) = (m as f64, n as f64, m.min(n) as f64);
    2.0 * m * n * k - (m + n) * k * k + 2.0 * k.powi(3) / 3.0
}

/// Flops of applying the reflectors of an `m × k` basis to `nc` columns.
fn apply_flops((m, k): (usize, usize), nc: usize) -> f64 {
    let (m, k, nc) = (m as f64, m.min(k) as f64, nc as f64);
    4.0 * m * k * nc - 2.0 * k * k * nc
}

impl<B: Backend> Linalg<B> {
    /// The QR factorization of `a` (see [`DArray::qr`]), kernels on this backend.
    pub fn qr<T: Scalar>(&self, a: &DArray<T>) -> Result<Qr<T, B>> {
        self.qr_of(Input::Borrowed(a))
    }

    /// The QR factorization of `a`, consumed (see [`DArray::into_qr`]), kernels on this
    /// backend.
    pub fn into_qr<T: Scalar>(&self, a: DArray<T>) -> Result<Qr<T, B>> {
        self.qr_of(Input::Owned(a))
    }

    fn qr_of<T: Scalar>(&self, input: Input<'_, T>) -> Result<Qr<T, B>> {
        let (m, n) = input.matrix().shape();
        let (a, b) = tiling::working(input, tiling::Factorization::Qr);
        let ib = IB.min(b);
        let (mt, nt) = a.tile_grid();
        let t = DArray::zeros(Blocks(ib, b), mt * ib, n);
        let kt = if m == 0 || n == 0 { 0 } else { mt.min(nt) };
        let tree = (mt >= 2 * nt && mt > 2).then(|| DArray::zeros(Blocks(ib, b), mt * ib, n));
        for k in 0..kt {
            let level = |j: usize| priority(kt, k, if j == k + 1 { 2 } else { 1 });
            match &tree {
                None => {
                    self.geqrt(&a, &t, k, k, priority(kt, k, 3));
                    for j in k + 1..nt {
                        self.unmqr(Trans::Yes, (a.tile(k, k), t.tile(k, k)), a.tile(k, j), level(j));
                    }
                    for i in k + 1..mt {
                        self.tsqrt(&a, &t, i, k, priority(kt, k, 3));
                        for j in k + 1..nt {
                            let reflectors = (a.tile(i, k), t.tile(i, k));
                            self.tsmqr(Trans::Yes, reflectors, (a.tile(k, j), a.tile(i, j)), level(j));
                        }
                    }
                }
                Some(t2) => {
                    for i in k..mt {
                        self.geqrt(&a, &t, i, k, priority(kt, k, 3));
                        for j in k + 1..nt {
                            self.unmqr(Trans::Yes, (a.tile(i, k), t.tile(i, k)), a.tile(i, j), level(j));
                        }
                    }
                    for (p, q) in tree_levels(k, mt).into_iter().flatten() {
                        self.ttqrt(&a, t2, (p, q), k, priority(kt, k, 3));
                        for j in k + 1..nt {
                            let reflectors = (a.tile(q, k), t2.tile(q, k));
                            self.ttmqr(Trans::Yes, reflectors, (a.tile(p, j), a.tile(q, j)), level(j));
                        }
                    }
                }
            }
        }
        Ok(Qr {
            a,
            t,
            tree,
            linalg: self.clone(),
        })
    }

    fn geqrt<T: Scalar>(&self, a: &DArray<T>, t: &DArray<T>, i: usize, k: usize, priority: i32) {
        let be = self.backend.clone();
        drop(spawn_with(
            TaskOptions::named("geqrt")
                .kernel()
                .priority(priority)
                .flops(qr_flops(a.tile(i, k).shape())),
            (InOut(a.tile(i, k)), Out(t.tile(i, k))),
            move |(a, mut t)| {
                let kmin = a.nrows().min(a.ncols());
                be.geqrt(a, t.slice_mut(s![.., ..kmin]))
            },
        ));
    }

    fn tsqrt<T: Scalar>(&self, a: &DArray<T>, t: &DArray<T>, i: usize, k: usize, priority: i32) {
        let be = self.backend.clone();
        drop(spawn_with(
            TaskOptions::named("tsqrt")
                .kernel()
                .priority(priority)
                .flops(qr_flops((
                    a.tile(i, k).shape().0 + a.tile(k, k).shape().1,
                    a.tile(k, k).shape().1,
                ))),
            (
                InOut(UpperTriangular(a.tile(k, k))),
                InOut(a.tile(i, k)),
                Out(t.tile(i, k)),
            ),
            move |(mut r, v2, t)| {
                // SAFETY: the task holds the upper triangle of tile (k, k) (declared above),
                // and `tsqrt` reads and writes only that part of `r` (its contract, which
                // every `Backend` implementation promises to keep).
                let full = unsafe { r.full_view_mut() };
                let n = full.ncols();
                be.tsqrt(full.slice_move(s![..n, ..]), v2, t)
            },
        ));
    }

    /// Merges the triangle of tile row `q` into that of `p` (both in tile column `k`).
    fn ttqrt<T: Scalar>(
        &self,
        a: &DArray<T>,
        t2: &DArray<T>,
        (p, q): (usize, usize),
        k: usize,
        priority: i32,
    ) {
        let be = self.backend.clone();
        let (r1, r2) = (UpperTriangular(a.tile(p, k)), UpperTriangular(a.tile(q, k)));
        drop(spawn_with(
            TaskOptions::named("ttqrt")
                .kernel()
                .priority(priority)
                .flops(qr_flops((
                    a.tile(q, k).shape().0 + a.tile(p, k).shape().1,
                    a.tile(p, k).shape().1,
                ))),
            (InOut(r1), InOut(r2), Out(t2.tile(q, k))),
            move |(mut r1, mut r2, t)| {
                // SAFETY: the task holds the upper triangles of both tiles (declared above),
                // the only parts `ttqrt` reads or writes (its contract).
                let (r1, r2) = unsafe { (r1.full_view_mut(), r2.full_view_mut()) };
                let n = r1.ncols();
                be.ttqrt(r1.slice_move(s![..n, ..]), r2, t)
            },
        ));
    }

    /// `[C₁; C₂] ← op(Q)·[C₁; C₂]` with `Q` from `ttqrt`'s reflectors.
    fn ttmqr<T: Scalar>(
        &self,
        trans: Trans,
        (v2, t): (Tile<T>, Tile<T>),
        (c1, c2): (Tile<T>, Tile<T>),
        priority: i32,
    ) {
        let be = self.backend.clone();
        drop(spawn_with(
            TaskOptions::named("ttmqr")
                .kernel()
                .priority(priority)
                .flops(apply_flops(
                    (v2.shape().0 + v2.shape().1, v2.shape().1),
                    c1.shape().1,
                )),
            (InOut(c1), InOut(c2), In(UpperTriangular(v2)), In(t)),
            move |(c1, c2, v2, t)| {
                // SAFETY: the task holds read access to the upper triangle of the tile
                // (declared above), the only part `ttmqr` reads of `v2` (its contract).
                let v2 = unsafe { v2.full_view() };
                let n = v2.ncols();
                be.ttmqr(trans, c1.slice_move(s![..n, ..]), c2, v2, t)
            },
        ));
    }

    /// `C ← op(Q)·C` with `Q` from a diagonal tile's reflectors.
    fn unmqr<T: Scalar>(&self, trans: Trans, (v, t): (Tile<T>, Tile<T>), c: Tile<T>, priority: i32) {
        let be = self.backend.clone();
        drop(spawn_with(
            TaskOptions::named("unmqr")
                .kernel()
                .priority(priority)
                .flops(apply_flops(v.shape(), c.shape().1)),
            (In(UnitLowerTriangular(v)), In(t), InOut(c)),
            move |(v, t, c)| {
                // SAFETY: the task holds read access to the strictly lower part of the tile
                // (declared above), the only part `unmqr` reads of `v` (its contract).
                let v = unsafe { v.full_view() };
                let kmin = v.nrows().min(v.ncols());
                be.unmqr(trans, v, t.slice(s![.., ..kmin]), c)
            },
        ));
    }

    /// `[C₁; C₂] ← op(Q)·[C₁; C₂]` with `Q` from `tsqrt`'s reflectors.
    fn tsmqr<T: Scalar>(
        &self,
        trans: Trans,
        (v2, t): (Tile<T>, Tile<T>),
        (c1, c2): (Tile<T>, Tile<T>),
        priority: i32,
    ) {
        let be = self.backend.clone();
        drop(spawn_with(
            TaskOptions::named("tsmqr")
                .kernel()
                .priority(priority)
                .flops(apply_flops(
                    (v2.shape().0 + v2.shape().1, v2.shape().1),
                    c1.shape().1,
                )),
            (InOut(c1), InOut(c2), In(v2), In(t)),
            move |(c1, c2, v2, t)| {
                // The reflectors reach the first `n` rows of the top tile (all of them but
                // for a tall diagonal tile in the last tile column).
                let n = v2.ncols();
                be.tsmqr(trans, c1.slice_move(s![..n, ..]), c2, v2, t)
            },
        ));
    }
}
