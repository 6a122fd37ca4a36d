//! Reductions: they wait for the values and return a scalar.

use super::settle::{bytes_u64, u64_bytes};
use super::DArray;
use crate::backend::SumOf;
use crate::error::Result;
use crate::linalg::tasks;
use crate::Scalar;

impl<T: Scalar> DArray<T> {
    /// Per-tile sums ([`Backend::sum`](crate::backend::Backend::sum): one order on every
    /// processor), combined in tile order: deterministic for a given partition, wherever
    /// the tiles are. Waits for every task writing the tiles.
    fn reduce_tiles(&self, name: &'static str, of: SumOf) -> Result<f64> {
        let parts: Vec<_> = self
            .tile_indices()
            .map(|(i, j)| tasks::sum(name, of, self.tile(i, j)))
            .collect();
        // Under MPI each rank sums its tiles; the parts are gathered, and every rank adds
        // them in tile order: the same sum everywhere, the one a single process gets.
        super::settle::settle(
            name,
            self.is_distributed(),
            parts,
            |v| u64_bytes(v.to_bits()),
            |b| bytes_u64(b).map(f64::from_bits),
        )
        .into_iter()
        .sum()
    }

    /// The sum of all elements (accumulated in `f64`). Waits. Panics if a task that wrote
    /// the values failed.
    #[track_caller]
    pub fn sum(&self) -> T {
        let s = self.reduce_tiles("sum", SumOf::Values);
        T::from_f64(s.unwrap_or_else(|e| panic!("DArray::sum: {e}")))
    }

    /// The Frobenius norm, `sqrt(Σ aᵢⱼ²)` (accumulated in `f64`). Waits. Panics if a task
    /// that wrote the values failed.
    #[track_caller]
    pub fn norm_fro(&self) -> T {
        let s = self.reduce_tiles("norm_fro", SumOf::Squares);
        T::from_f64(s.unwrap_or_else(|e| panic!("DArray::norm_fro: {e}")).sqrt())
    }
}
