//! Constructors: `zeros`, `ones`, `eye`, `rand`, `rand_seeded`, `randn`, `from_ndarray`.
//!
//! They return at once: tiles whose contents are not a constant are filled by tasks (one
//! per tile, in parallel), and anything that reads the tiles orders after those tasks.

use std::sync::Arc;

use ndarray::{ArrayBase, Data, Ix2};

use super::partition::Partition;
use super::random;
use super::DArray;
use crate::datadeps::{spawn_with, Out};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

impl<T: Scalar> DArray<T> {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::with_tiles(partition, rows, cols, |r, c, ld| {
            Tile::filled(r.len(), c.len(), ld, T::zero())
        })
    }

    /// A `rows × cols` matrix whose elements are valid but unspecified (recycled tile
    /// memory), for a result that tasks submitted next overwrite entirely: anything that
    /// reads it orders after them.
    pub(crate) fn for_overwrite(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::with_tiles(partition, rows, cols, |r, c, ld| {
            Tile::for_overwrite(r.len(), c.len(), ld)
        })
    }

    /// A `rows × cols` matrix of ones.
    pub fn ones(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::with_tiles(partition, rows, cols, |r, c, ld| {
            Tile::filled(r.len(), c.len(), ld, T::one())
        })
    }

    /// The `n × n` identity.
    pub fn eye(partition: impl Partition, n: usize) -> Self {
        Self::from_fn(
            partition,
            n,
            n,
            "eye",
            |i, j| if i == j { T::one() } else { T::zero() },
        )
    }

    /// Uniform in [0, 1), from a fresh seed.
    pub fn rand(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::rand_seeded(partition, rows, cols, random::fresh_seed())
    }

    /// Uniform in [0, 1), reproducible: the same seed gives the same matrix under every
    /// partition.
    pub fn rand_seeded(partition: impl Partition, rows: usize, cols: usize, seed: u64) -> Self {
        Self::from_fn(partition, rows, cols, "rand", move |i, j| {
            T::from_f64(random::uniform(seed, i, j))
        })
    }

    /// Standard normal, from a fresh seed.
    pub fn randn(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::randn_seeded(partition, rows, cols, random::fresh_seed())
    }

    /// Standard normal, reproducible like [`DArray::rand_seeded`].
    pub fn randn_seeded(partition: impl Partition, rows: usize, cols: usize, seed: u64) -> Self {
        Self::from_fn(partition, rows, cols, "randn", move |i, j| {
            T::from_f64(random::normal(seed, i, j))
        })
    }

    /// A copy of `a`, cut by `partition`.
    pub fn from_ndarray<S: Data<Elem = T>>(a: &ArrayBase<S, Ix2>, partition: impl Partition) -> Self {
        let (rows, cols) = a.dim();
        Self::with_tiles(partition, rows, cols, |r, c, ld| {
            Tile::from_ndarray(&a.slice(ndarray::s![r, c]), ld)
        })
    }

    /// A matrix whose element `(i, j)` is `f(i, j)`, filled by one task per tile.
    fn from_fn(
        partition: impl Partition,
        rows: usize,
        cols: usize,
        name: &'static str,
        f: impl Fn(usize, usize) -> T + Send + Sync + 'static,
    ) -> Self {
        let out = Self::for_overwrite(partition, rows, cols);
        let f = Arc::new(f);
        let (gr, gc) = out.tile_grid();
        for j in 0..gc {
            for i in 0..gr {
                let (r, c) = out.tile_range(i, j);
                let f = f.clone();
                let fill = move |(mut t,): (ndarray::ArrayViewMut2<'_, T>,)| {
                    for ((ii, jj), x) in t.indexed_iter_mut() {
                        *x = f(r.start + ii, c.start + jj);
                    }
                };
                // Detached: whoever reads the tile orders after this task.
                drop(spawn_with(
                    TaskOptions::named(name).kernel(),
                    (Out(out.tile(i, j)),),
                    fill,
                ));
            }
        }
        out
    }
}
