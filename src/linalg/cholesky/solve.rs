//! `A·X = B` from `A = L·Lᵀ`: a forward sweep `L·Y = B`, then a backward sweep `Lᵀ·X = Y`,
//! each a graph of trsm (diagonal tiles) and gemm (updates) tasks on a copy of `B`.

use super::Cholesky;
use crate::backend::cpu::{self, Trans};
use crate::darray::DArray;
use crate::datadeps::{spawn_with, In, InOut};
use crate::error::{Error, Result};
use crate::runtime::TaskOptions;
use crate::Scalar;

impl<T: Scalar> Cholesky<T> {
    /// Solves `A·X = B` (`B` is `n × k`, any partition). Returns at once with the solution,
    /// computed by tasks; `Err(ShapeMismatch)` if `B` has the wrong number of rows.
    pub fn solve(&self, b: &DArray<T>) -> Result<DArray<T>> {
        let l = &self.l;
        let n = l.shape().0;
        if b.shape().0 != n {
            return Err(Error::ShapeMismatch {
                op: "Cholesky::solve",
                left: l.shape(),
                right: b.shape(),
            });
        }
        let bs = l.block_size().0;
        let x = if b.block_size().0 == bs {
            b.clone()
        } else {
            b.recut(bs, b.block_size().1)
        };
        let (nt, ct) = (l.tile_grid().0, x.tile_grid().1);
        // Forward: L·Y = B.
        for k in 0..nt {
            for j in 0..ct {
                trsm(l, k, Trans::No, &x, j);
                for i in k + 1..nt {
                    update(l.tile(i, k), Trans::No, &x, k, i, j);
                }
            }
        }
        // Backward: Lᵀ·X = Y.
        for k in (0..nt).rev() {
            for j in 0..ct {
                trsm(l, k, Trans::Yes, &x, j);
                for i in 0..k {
                    update(l.tile(k, i), Trans::Yes, &x, k, i, j);
                }
            }
        }
        Ok(x)
    }
}

/// `X_kj ← op(L_kk)⁻¹·X_kj`.
fn trsm<T: Scalar>(l: &DArray<T>, k: usize, t: Trans, x: &DArray<T>, j: usize) {
    let task = move |(mut b, d): (ndarray::ArrayViewMut2<'_, T>, ndarray::ArrayView2<'_, T>)| {
        cpu::trsm_left_lower(d, t, &mut b)
    };
    drop(spawn_with(
        TaskOptions::named("trsm").priority(1),
        (InOut(x.tile(k, j)), In(l.tile(k, k))),
        task,
    ));
}

/// `X_ij ← X_ij − op(L_tile)·X_kj`.
fn update<T: Scalar>(l_tile: crate::Tile<T>, t: Trans, x: &DArray<T>, k: usize, i: usize, j: usize) {
    let task = move |(mut c, a, b): (
        ndarray::ArrayViewMut2<'_, T>,
        ndarray::ArrayView2<'_, T>,
        ndarray::ArrayView2<'_, T>,
    )| { cpu::gemm(T::zero() - T::one(), a, t, b, Trans::No, T::one(), &mut c) };
    drop(spawn_with(
        TaskOptions::named("gemm"),
        (InOut(x.tile(i, j)), In(l_tile), In(x.tile(k, j))),
        task,
    ));
}
