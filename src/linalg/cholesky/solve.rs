//! `A·X = B` from `A = L·Lᵀ`: a forward sweep `L·Y = B`, then a backward sweep `Lᵀ·X = Y`,
//! each the tiled triangular solve (trsm and gemm tasks) on a copy of `B`.

use super::Cholesky;
use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::darray::DArray;
use crate::error::{Error, Result};
use crate::Scalar;

impl<T: Scalar, B: Backend> Cholesky<T, B> {
    /// Solves `A·X = B` (`B` is `n × k`, any partition; a vector is `n × 1`). Returns at once
    /// with the solution, computed by tasks; `Err(ShapeMismatch)` if `B` has the wrong
    /// number of rows.
    pub fn solve(&self, b: &DArray<T>) -> Result<DArray<T>> {
        let n = self.l.shape().0;
        if b.shape().0 != n {
            return Err(Error::ShapeMismatch {
                op: "Cholesky::solve",
                left: self.l.shape(),
                right: b.shape(),
            });
        }
        // The solution is cut like L along its rows, so the sweeps need no re-cutting.
        let bs = self.l.block_size().0;
        let mut x = if b.block_size().0 == bs {
            b.clone() // deep: the solve works in place
        } else {
            b.recut(bs, b.block_size().1)
        };
        let la = &self.linalg;
        la.trsm(
            Side::Left,
            Uplo::Lower,
            Trans::No,
            Diag::NonUnit,
            T::one(),
            &self.l,
            &mut x,
        )?;
        la.trsm(
            Side::Left,
            Uplo::Lower,
            Trans::Yes,
            Diag::NonUnit,
            T::one(),
            &self.l,
            &mut x,
        )?;
        Ok(x)
    }
}
