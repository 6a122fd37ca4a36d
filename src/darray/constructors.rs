//! Constructors: `zeros`, `ones`, `eye`, `rand`, `rand_seeded`, `randn`, `from_ndarray`.
//!
//! They return at once: tiles whose contents are not a constant are filled by tasks (one
//! per tile, in parallel), and anything that reads the tiles orders after those tasks.

use std::sync::Arc;

use ndarray::{ArrayBase, Data, Ix2};

use super::partition::Partition;
use super::random;
use super::DArray;
use crate::linalg::tasks::{self, Generator};
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
        let eye = |i, j| if i == j { T::one() } else { T::zero() };
        Self::from_fn(partition, n, n, ("eye", Generator::Eye), eye)
    }

    /// Uniform in [0, 1), from a fresh seed.
    pub fn rand(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::rand_seeded(partition, rows, cols, random::fresh_seed())
    }

    /// Uniform in [0, 1), reproducible: the same seed gives the same matrix under every
    /// partition.
    pub fn rand_seeded(partition: impl Partition, rows: usize, cols: usize, seed: u64) -> Self {
        Self::from_fn(
            partition,
            rows,
            cols,
            ("rand", Generator::Uniform(seed)),
            move |i, j| T::from_f64(random::uniform(seed, i, j)),
        )
    }

    /// Standard normal, from a fresh seed.
    pub fn randn(partition: impl Partition, rows: usize, cols: usize) -> Self {
        Self::randn_seeded(partition, rows, cols, random::fresh_seed())
    }

    /// Standard normal, reproducible like [`DArray::rand_seeded`].
    pub fn randn_seeded(partition: impl Partition, rows: usize, cols: usize, seed: u64) -> Self {
        // On the CPUs only: a GPU's `log` and `cos` may differ from libm's in the last bit,
        // and the matrix must not depend on where its tiles were made.
        Self::from_fn(partition, rows, cols, ("randn", Generator::None), move |i, j| {
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

    /// A matrix whose element `(i, j)` is `f(i, j)`, filled by one task per tile (named
    /// `name`; on a CUDA device by `generator`'s kernel, which gives the same values).
    fn from_fn(
        partition: impl Partition,
        rows: usize,
        cols: usize,
        (name, generator): (&'static str, Generator),
        f: impl Fn(usize, usize) -> T + Send + Sync + 'static,
    ) -> Self {
        let out = Self::for_overwrite(partition, rows, cols);
        let f = Arc::new(f);
        for (i, j) in out.tile_indices() {
            let (r, c) = out.tile_range(i, j);
            let f = f.clone();
            // Detached: whoever reads the tile orders after this task.
            tasks::generate(
                name,
                generator,
                out.tile(i, j),
                (r.start, c.start),
                move |i, j| f(i, j),
            );
        }
        out
    }
}
