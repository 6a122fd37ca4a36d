//! Reductions: they wait for the values and return a scalar.

use super::DArray;
use crate::datadeps::{spawn_with, In};
use crate::error::Result;
use crate::runtime::TaskOptions;
use crate::Scalar;

impl<T: Scalar> DArray<T> {
    /// Per-tile partial results of `f`, combined in tile order (deterministic for a given
    /// partition), once every task writing the tiles has finished.
    fn reduce_tiles(&self, name: &'static str, f: fn(ndarray::ArrayView2<'_, T>) -> f64) -> Result<f64> {
        let parts: Vec<_> = self
            .tile_indices()
            .map(|(i, j)| spawn_with(TaskOptions::named(name), (In(self.tile(i, j)),), move |(t,)| f(t)))
            .collect();
        let parts: Vec<Result<f64>> = parts.into_iter().map(|p| p.wait()).collect();
        parts.into_iter().sum()
    }

    /// The sum of all elements (accumulated in `f64`). Waits. Panics if a task that wrote
    /// the values failed.
    #[track_caller]
    pub fn sum(&self) -> T {
        let s = self.reduce_tiles("sum", |t| t.iter().map(|x| x.to_f64()).sum());
        T::from_f64(s.unwrap_or_else(|e| panic!("DArray::sum: {e}")))
    }

    /// The Frobenius norm, `sqrt(Σ aᵢⱼ²)` (accumulated in `f64`). Waits. Panics if a task
    /// that wrote the values failed.
    #[track_caller]
    pub fn norm_fro(&self) -> T {
        let s = self.reduce_tiles("norm_fro", |t| t.iter().map(|x| x.to_f64().powi(2)).sum());
        T::from_f64(s.unwrap_or_else(|e| panic!("DArray::norm_fro: {e}")).sqrt())
    }
}
