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

use super::tasks::{self, priority};
use super::tiling::{self, Input};
use super::Linalg;
use crate::backend::{Backend, Cpu, Trans};
use crate::darray::DArray;
use crate::error::Result;
use crate::{Blocks, Scalar};

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
                    tasks::geqrt(&self.backend, priority(kt, k, 3), a.tile(k, k), t.tile(k, k));
                    for j in k + 1..nt {
                        tasks::unmqr(
                            &self.backend,
                            level(j),
                            Trans::Yes,
                            (a.tile(k, k), t.tile(k, k)),
                            a.tile(k, j),
                        );
                    }
                    for i in k + 1..mt {
                        tasks::tsqrt(
                            &self.backend,
                            priority(kt, k, 3),
                            a.tile(k, k),
                            a.tile(i, k),
                            t.tile(i, k),
                        );
                        for j in k + 1..nt {
                            let reflectors = (a.tile(i, k), t.tile(i, k));
                            tasks::tsmqr(
                                &self.backend,
                                level(j),
                                Trans::Yes,
                                reflectors,
                                (a.tile(k, j), a.tile(i, j)),
                            );
                        }
                    }
                }
                Some(t2) => {
                    for i in k..mt {
                        tasks::geqrt(&self.backend, priority(kt, k, 3), a.tile(i, k), t.tile(i, k));
                        for j in k + 1..nt {
                            tasks::unmqr(
                                &self.backend,
                                level(j),
                                Trans::Yes,
                                (a.tile(i, k), t.tile(i, k)),
                                a.tile(i, j),
                            );
                        }
                    }
                    for (p, q) in tree_levels(k, mt).into_iter().flatten() {
                        tasks::ttqrt(
                            &self.backend,
                            priority(kt, k, 3),
                            a.tile(p, k),
                            a.tile(q, k),
                            t2.tile(q, k),
                        );
                        for j in k + 1..nt {
                            let reflectors = (a.tile(q, k), t2.tile(q, k));
                            tasks::ttmqr(
                                &self.backend,
                                level(j),
                                Trans::Yes,
                                reflectors,
                                (a.tile(p, j), a.tile(q, j)),
                            );
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
}
