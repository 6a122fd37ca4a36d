//! What a QR factorization gives: `Qᵀ·C` and `Q·C` without forming `Q`, the thin `Q`,
//! `R`, and least squares.

use ndarray::ArrayViewMut2;

use super::Qr;
use crate::backend::{Backend, Trans};
use crate::darray::DArray;
use crate::datadeps::{spawn_with, InOut, UpperTriangular};
use crate::error::{Error, Result};
use crate::linalg::tasks;
use crate::runtime::TaskOptions;
use crate::{Blocks, Scalar};

impl<T: Scalar, B: Backend> Qr<T, B> {
    /// `(m, n)` of the factored matrix.
    pub fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }

    /// Waits until every task of the factorization has finished.
    pub fn wait(&self) -> Result<()> {
        self.a.wait()?;
        self.t.wait()?;
        self.tree.as_ref().map_or(Ok(()), |t| t.wait())
    }

    /// Diagonal tiles that hold reflectors.
    fn steps(&self) -> usize {
        let (m, n) = self.a.shape();
        let (mt, nt) = self.a.tile_grid();
        if m == 0 || n == 0 {
            0
        } else {
            mt.min(nt)
        }
    }

    /// `C ← Qᵀ·C` in place, without forming `Q` (`C` has `m` rows, any partition).
    /// Returns at once; `Err(ShapeMismatch)` if the rows differ.
    pub fn apply_qt(&self, c: &mut DArray<T>) -> Result<()> {
        self.apply(Trans::Yes, c)
    }

    /// `C ← Q·C` in place, without forming `Q` (`C` has `m` rows, any partition).
    pub fn apply_q(&self, c: &mut DArray<T>) -> Result<()> {
        self.apply(Trans::No, c)
    }

    fn apply(&self, trans: Trans, c: &mut DArray<T>) -> Result<()> {
        if c.shape().0 != self.a.shape().0 {
            return Err(Error::ShapeMismatch {
                op: if trans == Trans::Yes {
                    "apply_qt"
                } else {
                    "apply_q"
                },
                left: self.a.shape(),
                right: c.shape(),
            });
        }
        let b = self.a.block_size().0;
        if c.block_size().0 == b {
            self.sweep(trans, c);
        } else {
            let mut work = c.recut(b, c.block_size().1);
            self.sweep(trans, &mut work);
            c.copy_from(&work, "copy");
        }
        Ok(())
    }

    /// The reflectors applied to `c` (rows cut like `A`): in factorization order for
    /// `Qᵀ`, in reverse for `Q`.
    fn sweep(&self, trans: Trans, c: &mut DArray<T>) {
        let (a, t, la) = (&self.a, &self.t, &self.linalg);
        let mt = a.tile_grid().0;
        let ct = c.tile_grid().1;
        let step = |k: usize| {
            let unmqr =
                |i, j| tasks::unmqr(la.backend(), 0, trans, (a.tile(i, k), t.tile(i, k)), c.tile(i, j));
            match &self.tree {
                None => {
                    let below = |i, j| {
                        let reflectors = (a.tile(i, k), t.tile(i, k));
                        tasks::tsmqr(la.backend(), 0, trans, reflectors, (c.tile(k, j), c.tile(i, j)))
                    };
                    if trans == Trans::Yes {
                        (0..ct).for_each(|j| unmqr(k, j));
                        (k + 1..mt).for_each(|i| (0..ct).for_each(|j| below(i, j)));
                    } else {
                        (k + 1..mt).rev().for_each(|i| (0..ct).for_each(|j| below(i, j)));
                        (0..ct).for_each(|j| unmqr(k, j));
                    }
                }
                Some(t2) => {
                    let merge = |(p, q): (usize, usize)| {
                        for j in 0..ct {
                            let reflectors = (a.tile(q, k), t2.tile(q, k));
                            tasks::ttmqr(la.backend(), 0, trans, reflectors, (c.tile(p, j), c.tile(q, j)));
                        }
                    };
                    let levels = super::tree_levels(k, mt);
                    if trans == Trans::Yes {
                        (k..mt).for_each(|i| (0..ct).for_each(|j| unmqr(i, j)));
                        levels.into_iter().flatten().for_each(merge);
                    } else {
                        levels.into_iter().rev().flatten().for_each(merge);
                        (k..mt).for_each(|i| (0..ct).for_each(|j| unmqr(i, j)));
                    }
                }
            }
        };
        if trans == Trans::Yes {
            (0..self.steps()).for_each(step);
        } else {
            (0..self.steps()).rev().for_each(step);
        }
    }

    /// The thin `Q`: `m × min(m, n)`, orthonormal columns, `A = Q·R`.
    pub fn q(&self) -> DArray<T> {
        let (m, n) = self.a.shape();
        let b = self.a.block_size().0;
        let mut e = DArray::zeros(Blocks(b, b), m, m.min(n));
        let (gr, gc) = e.tile_grid();
        for d in 0..gr.min(gc) {
            let task = |(mut t,): (ArrayViewMut2<'_, T>,)| t.diag_mut().fill(T::one());
            drop(spawn_with(
                TaskOptions::named("laset").kernel(),
                (InOut(e.tile(d, d)),),
                task,
            ));
        }
        self.sweep(Trans::No, &mut e);
        e
    }

    /// `R`: `min(m, n) × n`, upper triangular (upper trapezoidal when `m < n`).
    pub fn r(&self) -> DArray<T> {
        let (m, n) = self.a.shape();
        self.a
            .leading(m.min(n), n, |i, j, x| if i <= j { x } else { T::zero() })
    }

    /// The least-squares solution of `A·X ≈ B` for `m ≥ n`: `X` (`n × k`) minimises
    /// `‖A·X − B‖_F`, from `R·X = (Qᵀ·B)[..n]`. Waits for the factorization's diagonal:
    /// `Err(Singular { index })` when `R` has an exactly zero diagonal entry (exactly
    /// rank-deficient `A`); `Err(ShapeMismatch)` for `m < n` or a `B` without `m` rows.
    pub fn solve_least_squares(&self, rhs: &DArray<T>) -> Result<DArray<T>> {
        let (m, n) = self.a.shape();
        if m < n || rhs.shape().0 != m {
            return Err(Error::ShapeMismatch {
                op: "solve_least_squares",
                left: self.a.shape(),
                right: rhs.shape(),
            });
        }
        let b = self.a.block_size().0;
        let mut y = if rhs.block_size().0 == b {
            rhs.clone() // deep: Qᵀ is applied in place
        } else {
            rhs.recut(b, rhs.block_size().1)
        };
        self.sweep(Trans::Yes, &mut y);
        let mut x = y.leading(n, y.shape().1, |_, _, x| x);
        self.linalg.ldiv(UpperTriangular(&self.r()), &mut x)?;
        Ok(x)
    }
}
