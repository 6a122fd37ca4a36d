//! One program on every rank of an MPI job (feature `mpi`, run under `mpirun -np N`): the
//! world (this process's rank among how many), and the process grid that says which rank
//! owns which tile of a distributed `DArray`.
//!
//! ```no_run
//! # #[cfg(feature = "mpi")]
//! # fn main() -> mosaic::Result<()> {
//! let world = mosaic::distributed::init()?; // once per process; later calls return it again
//! println!("rank {} of {}", world.rank(), world.size());
//! let grid = world.grid(); // p × q, p ≤ q, p·q = size, p as large as possible
//! assert!(grid.owner(3, 5) < world.size());
//! world.barrier()?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "mpi"))]
//! # fn main() {}
//! ```
//!
//! MPI is driven by one communication thread per process (`comm.rs`), which initializes it
//! (`MPI_THREAD_MULTIPLE` requested), owns the communicator (rsmpi's are not `Send`), serves
//! the other threads' requests, and finalizes MPI when the process exits.
//!
//! Where this stands: `init`, `world`, the rank, the size, the grid and a barrier work;
//! `DArray`s are not distributed yet (every rank holds and computes whole arrays, as
//! without MPI).

#[cfg(feature = "mpi")]
mod comm;

use std::sync::OnceLock;

#[cfg(feature = "mpi")]
use crate::error::Result;

/// This process in its MPI job: its rank, the number of ranks and their grid. Got from
/// `init()` (feature `mpi`), then [`world`].
#[derive(Debug)]
pub struct World {
    rank: usize,
    size: usize,
    grid: Grid,
    #[cfg(feature = "mpi")]
    comm: comm::Comm,
}

impl World {
    /// This process's rank, `0..size()`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks in the job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The process grid over which distributed arrays are cut.
    pub fn grid(&self) -> Grid {
        self.grid
    }

    /// Returns once every rank has called it (`MPI_Barrier`).
    #[cfg(feature = "mpi")]
    pub fn barrier(&self) -> Result<()> {
        self.comm.barrier()
    }
}

/// A `p × q` grid of ranks, row-major: rank `r` sits at row `r / q`, column `r % q`. Tile
/// `(i, j)` of a distributed array belongs to the rank at `(i mod p, j mod q)` (2-D block
/// cyclic, ScaLAPACK's layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Grid {
    p: usize,
    q: usize,
}

impl Grid {
    /// The grid of `size` ranks: `p ≤ q`, `p·q = size`, `p` as large as possible (1×1, 1×2,
    /// 1×3, 2×2, 1×5, 2×3, …). Panics if `size` is 0.
    pub fn for_ranks(size: usize) -> Grid {
        assert!(size > 0, "a grid of no ranks");
        let p = (1..=size)
            .take_while(|p| p * p <= size)
            .filter(|p| size % p == 0)
            .last()
            .unwrap_or(1);
        Grid { p, q: size / p }
    }

    /// The number of rows of ranks, `p`.
    pub fn rows(&self) -> usize {
        self.p
    }

    /// The number of columns of ranks, `q`.
    pub fn cols(&self) -> usize {
        self.q
    }

    /// The rank that owns tile `(i, j)`: `(i mod p)·q + (j mod q)`.
    pub fn owner(&self, i: usize, j: usize) -> usize {
        (i % self.p) * self.q + j % self.q
    }
}

static WORLD: OnceLock<World> = OnceLock::new();

/// The world, once `init()` has run; `None` before (and always without the `mpi` feature).
pub fn world() -> Option<&'static World> {
    WORLD.get()
}

/// Initializes MPI (from the communication thread, with `MPI_THREAD_MULTIPLE` requested)
/// and returns this process's world; a second call returns the same world. MPI is
/// finalized when the process exits. Run without `mpirun`, the world has one rank.
///
/// Fails with [`Error::Distributed`](crate::Error::Distributed) when MPI cannot start, or
/// was started by someone else (rsmpi, another library) before.
#[cfg(feature = "mpi")]
pub fn init() -> Result<&'static World> {
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(world) = WORLD.get() {
        return Ok(world);
    }
    let (comm, rank, size) = comm::Comm::start()?;
    let world = World {
        rank,
        size,
        grid: Grid::for_ranks(size),
        comm,
    };
    Ok(WORLD.get_or_init(|| world))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_as_square_as_the_rank_count_allows() {
        let shape = |n| {
            let g = Grid::for_ranks(n);
            (g.rows(), g.cols())
        };
        for (n, want) in [
            (1, (1, 1)),
            (2, (1, 2)),
            (3, (1, 3)),
            (4, (2, 2)),
            (6, (2, 3)),
            (8, (2, 4)),
            (9, (3, 3)),
            (11, (1, 11)),
            (12, (3, 4)),
            (16, (4, 4)),
        ] {
            assert_eq!(shape(n), want, "{n} ranks");
        }
        assert_eq!(shape(18), (3, 6));
    }

    #[test]
    fn tiles_are_dealt_block_cyclically() {
        let g = Grid::for_ranks(6); // 2 × 3
        assert_eq!(g.owner(0, 0), 0);
        assert_eq!(g.owner(0, 2), 2);
        assert_eq!(g.owner(1, 0), 3);
        assert_eq!(g.owner(3, 4), 4, "(3 mod 2, 4 mod 3) = (1, 1)");
        // Every rank owns the same number of tiles of a 6 × 6 tiled array.
        let mut count = [0; 6];
        for i in 0..6 {
            for j in 0..6 {
                count[g.owner(i, j)] += 1;
            }
        }
        assert_eq!(count, [6; 6]);
        assert!((0..7).all(|i| (0..7).all(|j| Grid::for_ranks(1).owner(i, j) == 0)));
    }

    #[test]
    fn there_is_no_world_before_init() {
        // No unit test calls `init`.
        assert!(world().is_none());
    }
}
