//! `DArray`: a dense matrix stored as a grid of runtime-owned tiles.
//!
//! # Invariants
//! 1. The matrix is `rows × cols`, cut into tiles of `block = (br, bc)`; the grid has
//!    `ceil(rows / br) × ceil(cols / bc)` tiles, and the last tile row/column may be smaller
//!    (ragged edges). An empty dimension has one tile of extent 0.
//! 2. `tiles` holds the grid in column-major order: tile `(i, j)` is `tiles[i + j * grid.0]`.
//! 3. Each tile is column-major with a leading dimension `padded_ld(tile rows)` (padded when
//!    the row count is a large multiple of 16: faer is slow on power-of-two strides).
//! 4. The elements are only touched by tasks: constructors, operations and conversions
//!    submit tasks on the tiles and return at once; reading values out (`to_ndarray`)
//!    waits for every earlier task that writes them.
//! 5. `auto` records that the tiling was left to the library ([`AutoBlocks`], and results
//!    of operations on such matrices): a factorization, which works on a private copy
//!    anyway, may then cut that copy at the tile size it runs best with. An explicit
//!    `Blocks` tiling is always kept.
//!
//! ```
//! use mosaic::prelude::*;
//! let a = DArray::<f64>::rand_seeded(Blocks(3, 3), 5, 4, 7);
//! let b = DArray::<f64>::rand_seeded(AutoBlocks, 5, 4, 7);
//! assert_eq!(a.tile_grid(), (2, 2));
//! assert_eq!(a.to_ndarray(), b.to_ndarray()); // the same seed gives the same matrix under any tiling
//! ```

mod compare;
mod constructors;
mod elementwise;
mod npy;
mod ops;
mod partition;
mod random;
mod reduce;
pub(crate) mod settle;

use std::fmt;

use ndarray::{s, Array2};

pub use partition::{AutoBlocks, Blocks, Partition};

use crate::datadeps::{datadeps, In, Out};
use crate::error::Result;
use crate::runtime::distributed::{self, Grid};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};
pub(crate) use partition::FACTORIZATION_TILE;
use partition::{padded_ld, Cuts};

/// A dense `rows × cols` matrix of `T` (`f32` or `f64`) stored as a grid of tiles.
pub struct DArray<T> {
    rows: Cuts,
    cols: Cuts,
    tiles: Vec<Tile<T>>,
    auto: bool,
    /// Under MPI, the grid its tiles are dealt over (`None`: whole on the rank that made it).
    owners: Option<Grid>,
}

impl<T> fmt::Debug for DArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DArray")
            .field("shape", &(self.rows.n, self.cols.n))
            .field("block_size", &(self.rows.b, self.cols.b))
            .field("tile_grid", &(self.rows.count(), self.cols.count()))
            .finish()
    }
}

impl<T: Scalar> DArray<T> {
    /// A matrix of tiles made by `make(global rows, global cols, leading_dim)` for each
    /// tile, laid out by `partition` (invariants 1–3).
    pub(crate) fn with_tiles(
        partition: impl Partition,
        rows: usize,
        cols: usize,
        make: impl Fn(std::ops::Range<usize>, std::ops::Range<usize>, usize) -> Tile<T>,
    ) -> Self {
        let (br, bc) = partition.block_size(rows, cols, std::mem::size_of::<T>());
        let (rows, cols) = (
            Cuts {
                n: rows,
                b: br.max(1),
            },
            Cuts {
                n: cols,
                b: bc.max(1),
            },
        );
        let grid = (rows.count().max(1), cols.count().max(1));
        let owners = distributed::placement_of_tiles();
        let mut tiles = Vec::with_capacity(grid.0 * grid.1);
        for j in 0..grid.1 {
            for i in 0..grid.0 {
                let (r0, c0) = (rows.start(i).min(rows.n), cols.start(j).min(cols.n));
                let (m, n) = (tile_len(rows, i), tile_len(cols, j));
                let tile = match owners {
                    // Another rank's tile: tracked here, never given contents here.
                    Some((g, me)) if g.owner(i, j) != me => Tile::placeholder(m, n, padded_ld(m)),
                    _ => make(r0..r0 + m, c0..c0 + n, padded_ld(m)),
                };
                if let Some((g, _)) = owners {
                    tile.set_home(g.owner(i, j));
                }
                tiles.push(tile);
            }
        }
        DArray {
            rows,
            cols,
            tiles,
            auto: partition.is_auto(),
            owners: owners.map(|(g, _)| g),
        }
    }

    /// Are its tiles dealt over the ranks (made under MPI, outside `local`)?
    pub(crate) fn is_distributed(&self) -> bool {
        self.owners.is_some()
    }

    /// The rank that owns tile `(i, j)` under MPI (its tasks write it there; see
    /// [`crate::distributed`]): `(i mod p)·q + (j mod q)` on the `p × q` grid; this rank for
    /// an array made in [`crate::distributed::local`];
    /// 0 without MPI.
    pub fn owner(&self, i: usize, j: usize) -> usize {
        match self.owners {
            Some(g) => g.owner(i, j),
            None => distributed::world().map_or(0, |w| w.rank()),
        }
    }

    /// Was the tiling left to the library (invariant 5)?
    pub(crate) fn auto_blocked(&self) -> bool {
        self.auto
    }

    /// `self`, marked as tiled by the library or not (invariant 5).
    pub(crate) fn with_auto(mut self, auto: bool) -> Self {
        self.auto = auto;
        self
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows.n, self.cols.n)
    }

    /// The tile shape `(tile rows, tile cols)` (edge tiles may be smaller).
    pub fn block_size(&self) -> (usize, usize) {
        (self.rows.b, self.cols.b)
    }

    /// The number of tiles `(tile rows, tile cols)`.
    pub fn tile_grid(&self) -> (usize, usize) {
        (self.rows.count().max(1), self.cols.count().max(1))
    }

    /// Tile `(i, j)`, usable as a task access (`In(a.tile(i, j))`, …). Panics if out of the grid.
    #[track_caller]
    pub fn tile(&self, i: usize, j: usize) -> Tile<T> {
        let (gr, gc) = self.tile_grid();
        assert!(
            i < gr && j < gc,
            "tile ({i}, {j}) is outside the {gr}×{gc} tile grid"
        );
        self.tiles[i + j * gr].clone()
    }

    /// The global row and column ranges of tile `(i, j)`.
    pub fn tile_range(&self, i: usize, j: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let r0 = self.rows.start(i).min(self.rows.n);
        let c0 = self.cols.start(j).min(self.cols.n);
        (r0..r0 + tile_len(self.rows, i), c0..c0 + tile_len(self.cols, j))
    }

    /// The tile holding element `(i, j)` and the element's place inside it.
    pub fn locate(&self, i: usize, j: usize) -> ((usize, usize), (usize, usize)) {
        let ((ti, ii), (tj, jj)) = (self.rows.locate(i), self.cols.locate(j));
        ((ti, tj), (ii, jj))
    }

    /// Waits until every task submitted so far that writes this matrix has finished;
    /// `Err` with the error of one that failed. Operations return at once, so this is how
    /// to time one, or to make sure a result exists before leaving a thread.
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let a = DArray::<f64>::rand(AutoBlocks, 300, 300);
    /// let c = &a * &a; // returns at once
    /// c.wait()?;       // the product is done
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn wait(&self) -> Result<()> {
        let reads: Vec<_> = self
            .tiles
            .iter()
            // A task that reads nothing: it runs where the tile is (a wait must not bring a
            // tile home from a device).
            .map(|t| {
                let options = crate::TaskOptions::named("wait").follows_data();
                let on_device = crate::datadeps::kernel::device_body!(|_, _| ());
                crate::datadeps::kernel::spawn_kernel_with(
                    options,
                    (In(t.clone()),),
                    (|_| (), on_device),
                    true,
                )
            })
            .collect();
        let done: Vec<Result<()>> = reads.into_iter().map(|r| r.wait()).collect();
        done.into_iter()
            // Under MPI, a tile another rank holds is waited for there.
            .filter(|r| !matches!(r, Err(crate::Error::RanElsewhere { .. })))
            .collect()
    }

    /// A copy of the contents, once every task that writes them has finished. Panics if
    /// one of those tasks failed; [`DArray::try_to_ndarray`] returns the error instead.
    #[track_caller]
    pub fn to_ndarray(&self) -> Array2<T> {
        self.try_to_ndarray()
            .unwrap_or_else(|e| panic!("DArray::to_ndarray: {e}"))
    }

    /// A copy of the contents, or the error of a failed task that wrote them.
    pub fn try_to_ndarray(&self) -> Result<Array2<T>> {
        let mut out = Array2::<T>::zeros(self.shape());
        let (gr, gc) = self.tile_grid();
        datadeps(|s| {
            let o = s.write(&mut out);
            let copies: Vec<_> = (0..gc)
                .flat_map(|j| (0..gr).map(move |i| (i, j)))
                .map(|(i, j)| {
                    let (r, c) = self.tile_range(i, j);
                    let accesses = (In(self.tile(i, j)), Out(o.slice(s![r, c])));
                    s.spawn_with(TaskOptions::named("to_ndarray"), accesses, |(t, mut dst)| {
                        dst.assign(&t)
                    })
                })
                .collect();
            // Wait for every copy (an unobserved failure would fail the region), then
            // report the first error.
            let done: Vec<Result<()>> = copies.into_iter().map(|c| c.wait()).collect();
            done.into_iter().collect::<Result<Vec<()>>>()
        })?;
        Ok(out)
    }
}

fn tile_len(cuts: Cuts, k: usize) -> usize {
    if cuts.n == 0 {
        0
    } else {
        cuts.len(k)
    }
}
