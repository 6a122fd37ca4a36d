//! Tiled triangular solves, every BLAS case: `op(A)·X = α·B` (`Left`) or `X·op(A) = α·B`
//! (`Right`), `A` lower or upper, unit or not, `op` the identity or the transpose; `B` a
//! matrix or a vector (`n × 1` on the left, `1 × n` on the right).
//!
//! With `M = op(A)`, a left solve walks the tile rows of `X` in the order `M`'s triangle
//! dictates (forward for a lower `M`, backward for an upper one): a `trsm` on the diagonal
//! tile solves tile row `k`, then `gemm` tasks subtract `M_ik·X_k` from every later tile
//! row. α is applied by the first step (its `trsm` and the `β` of its `gemm`s), as in
//! PLASMA. A right solve walks tile columns the same way. Every `X` tile column is an
//! independent chain, and the updates of the next tile row have priority over the rest
//! (lookahead), so the next diagonal solve starts as soon as its inputs are ready.

mod ldiv;

pub use ldiv::{ldiv, rdiv, TriangularMatrix};

use super::{tasks, Linalg};
use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::darray::DArray;
use crate::error::{Error, Result};
use crate::Scalar;

/// `B ← α·op(A)⁻¹·B` (`Left`) or `B ← α·B·op(A)⁻¹` (`Right`) in place, on the CPU backend;
/// see [`Linalg::trsm`].
#[allow(clippy::too_many_arguments)] // the BLAS signature, which every reader knows
pub fn trsm<T: Scalar>(
    side: Side,
    uplo: Uplo,
    trans: Trans,
    diag: Diag,
    alpha: T,
    a: &DArray<T>,
    b: &mut DArray<T>,
) -> Result<()> {
    Linalg::cpu().trsm(side, uplo, trans, diag, alpha, a, b)
}

impl<B: Backend> Linalg<B> {
    /// `B ← α·op(A)⁻¹·B` (`Left`) or `B ← α·B·op(A)⁻¹` (`Right`) in place, with `A` square
    /// and triangular: only its `uplo` triangle is read, and not its diagonal when
    /// `diag` is `Unit`. Returns at once; the solve runs as tasks.
    ///
    /// Like BLAS `trsm`, a zero on the diagonal is not checked for (the result holds
    /// infinities or NaN); [`ldiv`] checks. Any partitions work: `A` is cut into square
    /// tiles and `B` is cut to match along the solved dimension (copies when they differ).
    /// `Err(ShapeMismatch)` if `A` is not square or does not fit `B`.
    ///
    /// ```
    /// use mosaic::linalg::{trsm, Diag, Side, Trans, Uplo};
    /// use mosaic::prelude::*;
    ///
    /// let u = DArray::<f64>::from_ndarray(&ndarray::array![[2.0, 1.0], [0.0, 4.0]], Blocks(1, 1));
    /// let mut x = DArray::from_ndarray(&ndarray::array![[1.0, 2.0]], Blocks(1, 1));
    /// trsm(Side::Right, Uplo::Upper, Trans::No, Diag::NonUnit, 1.0, &u, &mut x)?; // X·U = B
    /// assert_eq!(x.to_ndarray(), ndarray::array![[0.5, 0.375]]);
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)] // the BLAS signature
    pub fn trsm<T: Scalar>(
        &self,
        side: Side,
        uplo: Uplo,
        trans: Trans,
        diag: Diag,
        alpha: T,
        a: &DArray<T>,
        b: &mut DArray<T>,
    ) -> Result<()> {
        let n = a.shape().0;
        let solved = match side {
            Side::Left => b.shape().0,
            Side::Right => b.shape().1,
        };
        if a.shape().1 != n || solved != n {
            return Err(Error::ShapeMismatch {
                op: "trsm",
                left: a.shape(),
                right: b.shape(),
            });
        }
        if b.shape().0 == 0 || b.shape().1 == 0 {
            return Ok(());
        }
        let (abr, abc) = a.block_size();
        let ts = abr.min(abc);
        let a = a.recut(ts, ts);
        let (bbr, bbc) = b.block_size();
        let kind = (side, uplo, trans, diag);
        let cut = match side {
            Side::Left => (ts, bbc),
            Side::Right => (bbr, ts),
        };
        if cut == (bbr, bbc) {
            self.sweep(kind, alpha, &a, b);
        } else {
            // Solve on a copy cut to match A, then copy back into B's own tiles.
            let mut work = b.recut(cut.0, cut.1);
            self.sweep(kind, alpha, &a, &mut work);
            b.copy_from(&work, "copy");
        }
        Ok(())
    }

    /// The sweep over `x`'s tiles (cut like `a` along the solved dimension).
    fn sweep<T: Scalar>(&self, kind: (Side, Uplo, Trans, Diag), alpha: T, a: &DArray<T>, x: &mut DArray<T>) {
        let (side, uplo, trans, _) = kind;
        let nt = a.tile_grid().0;
        // M = op(A) is lower when exactly one of "A is lower" and "op transposes" holds…
        let m_lower = (uplo == Uplo::Lower) != (trans == Trans::Yes);
        // …and a left solve with a lower M, or a right one with an upper M, goes forward.
        let forward = m_lower == (side == Side::Left);
        let order: Vec<usize> = if forward {
            (0..nt).collect()
        } else {
            (0..nt).rev().collect()
        };
        // Tile (i, j) of M, as a tile of A and whether to transpose it.
        let m_tile = |i: usize, j: usize| match trans {
            Trans::No => (a.tile(i, j), Trans::No),
            Trans::Yes => (a.tile(j, i), Trans::Yes),
        };
        let minus_one = T::zero() - T::one();
        let (xr, xc) = x.tile_grid();
        for (step, &k) in order.iter().enumerate() {
            let step_alpha = if step == 0 { alpha } else { T::one() };
            let level = (nt - step) as i32 * 3;
            let others = match side {
                Side::Left => xc,
                Side::Right => xr,
            };
            for o in 0..others {
                let xk = match side {
                    Side::Left => x.tile(k, o),
                    Side::Right => x.tile(o, k),
                };
                tasks::trsm(&self.backend, level + 2, kind, step_alpha, a.tile(k, k), xk);
            }
            for (later, &i) in order[step + 1..].iter().enumerate() {
                let priority = level + i32::from(later == 0);
                for o in 0..others {
                    match side {
                        // X_i ← α·X_i − M_ik·X_k
                        Side::Left => {
                            let xk = (x.tile(k, o), Trans::No);
                            tasks::gemm(
                                &self.backend,
                                priority,
                                minus_one,
                                (m_tile(i, k), xk),
                                step_alpha,
                                x.tile(i, o),
                            );
                        }
                        // X_i ← α·X_i − X_k·M_ki
                        Side::Right => {
                            let xk = (x.tile(o, k), Trans::No);
                            tasks::gemm(
                                &self.backend,
                                priority,
                                minus_one,
                                (xk, m_tile(k, i)),
                                step_alpha,
                                x.tile(o, i),
                            );
                        }
                    }
                }
            }
        }
    }
}
