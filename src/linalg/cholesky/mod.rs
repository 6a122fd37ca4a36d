//! Tiled Cholesky factorization, right-looking: for each panel `k`, `potrf` on the
//! diagonal tile, `trsm` on the tiles below it, then `syrk`/`gemm` updates of the trailing
//! matrix. Priorities follow the critical path: an earlier panel before a later one, and
//! within a panel potrf > trsm > syrk > gemm, so the next panel's potrf starts while the
//! trailing update of the previous one still runs (lookahead).
//!
//! On `nt × nt` tiles the graph has `nt` potrf, `nt(nt−1)/2` trsm and syrk and
//! `nt(nt−1)(nt−2)/6` gemm tasks (plus the `laset` tasks that zero the upper part, and
//! where the backend packs operands, up to two `pack` tasks per tile of `L` below the
//! diagonal: `tasks/pack.rs`).

mod solve;

use super::tasks::{self, priority};
use super::tiling::{self, Factorization, Input};
use super::Linalg;
use crate::backend::{Backend, Cpu, Diag, Side, Trans, Uplo};
use crate::darray::DArray;
use crate::datadeps::TaskFuture;
use crate::error::{Error, Result};
use crate::runtime::TaskOptions;
use crate::Scalar;

/// The factor `L` of `A = L·Lᵀ` (lower triangular, zeros above the diagonal), and the
/// backend its solves run on.
#[derive(Debug)]
pub struct Cholesky<T, B = Cpu> {
    l: DArray<T>,
    linalg: Linalg<B>,
}

impl<T: Scalar, B: Backend> Cholesky<T, B> {
    /// The lower factor.
    pub fn l(&self) -> &DArray<T> {
        &self.l
    }

    /// Waits until every task of the factorization has finished.
    pub fn wait(&self) -> Result<()> {
        self.l.wait()
    }
}

impl<T: Scalar> DArray<T> {
    /// The Cholesky factorization of a symmetric positive definite matrix (only its lower
    /// triangle is read). Waits for the factorization to finish, since a non-positive pivot
    /// must be reported: `Err(NotPositiveDefinite { index })` with the global index, and
    /// `Err(ShapeMismatch)` for a non-square matrix.
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let r = DArray::<f64>::rand_seeded(Blocks(3, 3), 8, 8, 5);
    /// let spd = &(&r * &r.t()) + &(&DArray::eye(Blocks(3, 3), 8) * 8.0);
    /// let ch = spd.cholesky()?;
    /// let back = ch.l() * &ch.l().t();
    /// assert!((&back - &spd).norm_fro() < 1e-12 * spd.norm_fro());
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn cholesky(&self) -> Result<Cholesky<T>> {
        Linalg::cpu().cholesky(self)
    }

    /// [`cholesky`](Self::cholesky), consuming the matrix: its own tiles become `L` when
    /// they are already what the factorization works on (square tiles of its working
    /// size: a matrix of up to 256 × 256 under `AutoBlocks`, whose one tile is factored
    /// in place, the 256 × 256 tiles `AutoBlocks` cuts a larger matrix into when each
    /// worker still gets two per dimension (from order 769 with two workers), or
    /// `Blocks(b, b)`), and for a matrix of order 257 to 512 under
    /// `AutoBlocks`, whose tiles are factored as they are (where `cholesky` gathers them
    /// into one tile), with no copy and no second matrix in memory; otherwise it copies as
    /// `cholesky` does. On an error the matrix is gone (keep a copy, or use `cholesky`,
    /// when it is needed afterwards).
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let r = DArray::<f64>::rand_seeded(Blocks(3, 3), 8, 8, 5);
    /// let spd = &(&r * &r.t()) + &(&DArray::eye(Blocks(3, 3), 8) * 8.0);
    /// let ch = spd.clone().into_cholesky()?;
    /// let back = ch.l() * &ch.l().t();
    /// assert!((&back - &spd).norm_fro() < 1e-12 * spd.norm_fro());
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn into_cholesky(self) -> Result<Cholesky<T>> {
        Linalg::cpu().into_cholesky(self)
    }
}

impl<B: Backend> Linalg<B> {
    /// The Cholesky factorization of `a` (see [`DArray::cholesky`]), kernels on this backend.
    pub fn cholesky<T: Scalar>(&self, a: &DArray<T>) -> Result<Cholesky<T, B>> {
        self.cholesky_of(Input::Borrowed(a))
    }

    /// The Cholesky factorization of `a`, consumed (see [`DArray::into_cholesky`]),
    /// kernels on this backend.
    pub fn into_cholesky<T: Scalar>(&self, a: DArray<T>) -> Result<Cholesky<T, B>> {
        self.cholesky_of(Input::Owned(a))
    }

    fn cholesky_of<T: Scalar>(&self, input: Input<'_, T>) -> Result<Cholesky<T, B>> {
        let (m, n) = input.matrix().shape();
        if m != n {
            return Err(Error::ShapeMismatch {
                op: "cholesky",
                left: (m, n),
                right: (n, m),
            });
        }
        let be = self.backend.clone();
        let options = TaskOptions::named("potrf").flops((n as f64).powi(3) / 3.0);
        let one_tile = tiling::one_tile(input, Factorization::Cholesky, options, move |mut t| {
            let pivot = be.potrf(Uplo::Lower, t.view_mut());
            // potrf may leave partial sums above the diagonal (see `Backend::potrf`).
            be.laset(Some(Uplo::Upper), T::zero(), t);
            pivot
        });
        let input = match one_tile {
            Ok((l, potrf)) => {
                let distributed = l.is_distributed();
                check_pivots(distributed, vec![potrf])?;
                return Ok(Cholesky {
                    l,
                    linalg: self.clone(),
                });
            }
            Err(input) => input,
        };
        let (l, b) = tiling::working(input, Factorization::Cholesky);
        let nt = l.tile_grid().0;
        let minus_one = T::zero() - T::one();
        let mut pivots: Vec<TaskFuture<std::result::Result<(), usize>>> = Vec::with_capacity(nt);
        let packing = tasks::Packing::new(l.is_distributed());
        for k in 0..nt {
            pivots.push(tasks::potrf(
                &self.backend,
                priority(nt, k, 3),
                l.tile(k, k),
                k * b,
            ));
            for i in k + 1..nt {
                let kind = (Side::Right, Uplo::Lower, Trans::Yes, Diag::NonUnit);
                let (a, d) = (l.tile(i, k), l.tile(k, k));
                tasks::trsm(&self.backend, priority(nt, k, 2), kind, T::one(), d, a);
            }
            // L_ik is the left operand of the updates of row i and, transposed, the right
            // one of column i's, and both of the syrk's. The updates of column k + 1 (and
            // its syrk), which the next step's potrf and trsm wait for, take the tiles as
            // they are: they do not wait for a pack task. So the left operand of i − k − 1
            // products that read packed forms, the right one of nt − i (none for i = k + 1).
            let uses = |i: usize| (priority(nt, k, 2), i - k - 1);
            let left: Vec<_> = (k + 1..nt)
                .map(|i| packing.operand(&self.backend, uses(i), Side::Left, (l.tile(i, k), Trans::No)))
                .collect();
            // (The syrk's use counts only where L_ik's left form exists: i − k − 1 ≥ 2.)
            let uses = |i: usize| {
                let syrk = usize::from(i >= k + 3);
                (priority(nt, k, 2), if i == k + 1 { 0 } else { nt - i - 1 + syrk })
            };
            let right: Vec<_> = (k + 1..nt)
                .map(|i| packing.operand(&self.backend, uses(i), Side::Right, (l.tile(i, k), Trans::Yes)))
                .collect();
            for i in k + 1..nt {
                let (prio, a) = (
                    priority(nt, k, 1),
                    (left[i - k - 1].clone(), right[i - k - 1].clone()),
                );
                tasks::syrk(
                    &self.backend,
                    prio,
                    Uplo::Lower,
                    minus_one,
                    a,
                    T::one(),
                    l.tile(i, i),
                );
                for j in k + 1..i {
                    let operands = if j == k + 1 {
                        let tiles = ((l.tile(i, k), Trans::No), (l.tile(j, k), Trans::Yes));
                        (tiles.0.into(), tiles.1.into())
                    } else {
                        (left[i - k - 1].clone(), right[j - k - 1].clone())
                    };
                    let prio = priority(nt, k, 0);
                    tasks::gemm(&self.backend, prio, minus_one, operands, T::one(), l.tile(i, j));
                }
            }
        }
        zero_upper(&self.backend, &l);
        check_pivots(l.is_distributed(), pivots)?;
        Ok(Cholesky {
            l,
            linalg: self.clone(),
        })
    }
}

/// Waits for the diagonal blocks' factorizations (on every rank under MPI, `distributed`):
/// `NotPositiveDefinite` with the first non-positive pivot's global index.
fn check_pivots(distributed: bool, pivots: Vec<TaskFuture<std::result::Result<(), usize>>>) -> Result<()> {
    // 0: positive definite; i + 1: not, at index i.
    use crate::darray::settle::{bytes_u64, u64_bytes};
    let encode = |r: &std::result::Result<(), usize>| u64_bytes(r.err().map_or(0, |i| i as u64 + 1));
    let decode = |b: &[u8]| bytes_u64(b).map(|v| if v == 0 { Ok(()) } else { Err(v as usize - 1) });
    for p in crate::darray::settle::settle("potrf", distributed, pivots, encode, decode) {
        if let Err(index) = p? {
            return Err(Error::NotPositiveDefinite { index });
        }
    }
    Ok(())
}

/// Zeros above the diagonal: the upper tiles, and the strictly upper part of the diagonal
/// tiles (which the kernels leave as they found it).
fn zero_upper<T: Scalar, B: Backend>(be: &B, l: &DArray<T>) {
    let nt = l.tile_grid().0;
    for j in 0..nt {
        for i in 0..j {
            tasks::laset(be, None, T::zero(), l.tile(i, j));
        }
        tasks::laset(be, Some(Uplo::Upper), T::zero(), l.tile(j, j));
    }
}
