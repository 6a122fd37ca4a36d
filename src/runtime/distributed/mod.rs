//! One program on every rank of an MPI job (feature `mpi`, run under `mpirun -np N`): the
//! world (this process's rank among how many), the process grid that says which rank owns
//! which tile of a distributed `DArray`, and the distribution of every operation over it.
//!
//! ```no_run
//! # #[cfg(feature = "mpi")]
//! # fn main() -> mosaic::Result<()> {
//! use mosaic::prelude::*;
//! let world = mosaic::distributed::init()?; // once per process; later calls return it again
//! println!("rank {} of {}", world.rank(), world.size());
//! let grid = world.grid(); // p × q, p ≤ q, p·q = size, p as large as possible
//! // Every rank runs the same program; each allocates and computes its own tiles.
//! let a = DArray::<f64>::rand_seeded(Blocks(256, 256), 4096, 4096, 1);
//! assert_eq!(a.owner(3, 5), grid.owner(3, 5));
//! let c = &a * &a.t(); // each tile of c computed by its owner
//! let s = c.sum(); // collective: the same value on every rank
//! let l = (&c + &(&DArray::eye(Blocks(256, 256), 4096) * 4096.0)).cholesky()?;
//! let whole = l.l().to_ndarray(); // collective: every rank gets the whole factor
//! let st = mosaic::distributed::stats(); // this rank's tasks, messages, bytes
//! # let _ = (s, whole, st);
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
//! After `init`, every rank runs the same program and the runtime distributes it (owner
//! computes, `tracker.rs`): every rank tracks every task, runs the ones it owns, and sends
//! the tiles it wrote to the ranks whose tasks read them (`route.rs`), once per version.
//! What a future of a task another rank ran returns: `Err(Error::RanElsewhere { rank })`
//! at once (its value is on that rank). `DArray::wait` waits for this rank's tiles.
//!
//! A received copy is counted against the host budget (spilled under one like any tile)
//! and freed once a newer version is written elsewhere and this rank's tasks on it are
//! done; a copy of a tile nobody writes again stays until the array is dropped.
//!
//! An LU panel whose tiles are on several ranks goes to the diagonal tile's rank by
//! default; with `MOSAIC_LU_PANEL=split` it is factored where its tiles are, each column's
//! pivot searched across the ranks (two messages a column: slower on the machines measured,
//! BENCHMARKS.md).

#[cfg(feature = "mpi")]
mod comm;
#[cfg(feature = "mpi")]
mod history;
#[cfg(feature = "mpi")]
mod merge;
#[cfg(feature = "mpi")]
mod message;
#[cfg(feature = "mpi")]
mod program;
#[cfg(feature = "mpi")]
mod route;
mod stats;
pub(crate) mod tracker;

#[cfg(feature = "mpi")]
pub use merge::merge_trace;
#[cfg(feature = "mpi")]
pub(crate) use route::route;
pub use stats::RankStats;
pub(crate) use tracker::Tracked;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Rank 0's seed, the same on every rank: fresh random matrices agree.
    seed: u64,
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
            .filter(|p| size.is_multiple_of(*p))
            .last()
            .unwrap_or(1);
        Grid { p, q: size / p }
    }

    /// The grid `PxQ` (`"1x4"`) names, if it has `size` ranks.
    pub fn parse(shape: &str, size: usize) -> std::result::Result<Grid, String> {
        let bad = || format!("MOSAIC_MPI_GRID={shape:?}: expected PxQ with P·Q = {size} ranks");
        let (p, q) = shape.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let (p, q): (usize, usize) = (p.parse().map_err(|_| bad())?, q.parse().map_err(|_| bad())?);
        if p == 0 || p * q != size {
            return Err(bad());
        }
        Ok(Grid { p, q })
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
/// and returns this process's world; a second call returns the same world. The grid is
/// [`Grid::for_ranks`]'s, or the one `MOSAIC_MPI_GRID=PxQ` names (an error unless
/// `P·Q` is the number of ranks). MPI is
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
    let (comm, started) = comm::Comm::start(clock_seed())?;
    let grid = match std::env::var("MOSAIC_MPI_GRID") {
        Ok(shape) => Grid::parse(&shape, started.size).map_err(comm::error)?,
        Err(_) => Grid::for_ranks(started.size),
    };
    let world = World {
        rank: started.rank,
        size: started.size,
        grid,
        seed: started.seed,
        comm,
    };
    Ok(WORLD.get_or_init(|| world))
}

/// A seed from the clock (rank 0's is broadcast at `init`).
#[cfg(feature = "mpi")]
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What this rank has done so far: the program's tasks it ran (about `1/size` of them),
/// the ones other ranks ran, and the messages and bytes it sent and received. All zero
/// without MPI.
pub fn stats() -> RankStats {
    stats::read()
}

/// One part of a gathered list: a value's bytes, or the description of its failure.
#[cfg(feature = "mpi")]
pub(crate) type Part = std::result::Result<Vec<u8>, String>;

/// Collective: every rank gives the parts of a list it has (`Some`; `Err`: the part failed
/// there, with its description) and gets the whole list back, each part from the rank
/// that had it (the lowest such rank).
#[cfg(feature = "mpi")]
pub(crate) fn gather_parts(mine: Vec<Option<Part>>) -> Result<Vec<Part>> {
    let world = world().ok_or_else(|| comm::error("gather_parts before init"))?;
    let mut bytes = Vec::new();
    for (k, part) in mine.iter().enumerate() {
        let Some(part) = part else { continue };
        bytes.extend_from_slice(&(k as u64).to_le_bytes());
        let (tag, body) = match part {
            Ok(v) => (0, v.as_slice()),
            Err(message) => (1, message.as_bytes()),
        };
        bytes.push(tag);
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(body);
    }
    let n = mine.len();
    let mut all: Vec<Option<Part>> = vec![None; n];
    for (rank, part) in world
        .comm
        .all_gather(bytes, program::current())?
        .into_iter()
        .enumerate()
    {
        decode_parts(&part, &mut all)
            .ok_or_else(|| comm::error(format!("a malformed all-gather part from rank {rank}")))?;
    }
    all.into_iter()
        .enumerate()
        .map(|(k, p)| {
            p.ok_or_else(|| comm::error(format!("no rank had part {k} of {n}: the ranks' programs differ")))
        })
        .collect()
}

/// Reads one rank's parts (see [`gather_parts`]) into `all`, keeping parts already there.
#[cfg(feature = "mpi")]
fn decode_parts(mut bytes: &[u8], all: &mut [Option<Part>]) -> Option<()> {
    use message::{take, take_u64};
    while !bytes.is_empty() {
        let k = take_u64(&mut bytes)? as usize;
        let tag = take(&mut bytes, 1)?[0];
        let len = take_u64(&mut bytes)? as usize;
        let body = take(&mut bytes, len)?;
        let part = match tag {
            0 => Ok(body.to_vec()),
            _ => Err(String::from_utf8_lossy(body).into_owned()),
        };
        let slot = all.get_mut(k)?;
        if slot.is_none() {
            *slot = Some(part);
        }
    }
    Some(())
}

thread_local! {
    /// Inside [`local`] on this thread?
    static LOCAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as if without MPI: the arrays it creates are whole on this rank and the tasks
/// it submits run here, on this rank's data only (each rank computes its own copy). For
/// small replicated data, and for checking a distributed result against one computed
/// locally. Arrays made outside must not be used inside, nor arrays made inside outside.
///
/// ```
/// use mosaic::prelude::*;
/// let a = mosaic::distributed::local(|| DArray::<f64>::eye(AutoBlocks, 4));
/// assert_eq!(a.to_ndarray()[[2, 2]], 1.0);
/// ```
pub fn local<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCAL.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LOCAL.with(|l| l.replace(true)));
    f()
}

/// Is the calling thread submitting the SPMD program (under MPI, outside [`local`] and
/// outside any running task)?
pub(crate) fn distributing() -> bool {
    world().is_some() && !LOCAL.with(|l| l.get()) && !crate::runtime::sched::worker::in_task()
}

/// The tracker's state for an object made now by the runtime: tracked (everywhere, until
/// given a home) when the program itself makes it under MPI, else `None`.
pub(crate) fn track_new() -> Option<Tracked> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let world = world()?;
    distributing().then(|| Tracked::everywhere(NEXT.fetch_add(1, Ordering::Relaxed), world.size))
}

/// Under MPI (outside [`local`]), the rank that owns tile `(i, j)` of a distributed array,
/// and this rank; `None` when arrays made now are whole on this rank.
pub(crate) fn placement_of_tiles() -> Option<(Grid, usize)> {
    let world = world()?;
    distributing().then_some((world.grid, world.rank))
}

/// Under MPI, rank 0's seed (the same on every rank), for fresh random matrices.
pub(crate) fn shared_seed() -> Option<u64> {
    let world = world()?;
    distributing().then_some(world.seed)
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
    fn a_grid_can_be_named() {
        assert_eq!(Grid::parse("1x4", 4).map(|g| (g.rows(), g.cols())), Ok((1, 4)));
        assert_eq!(Grid::parse(" 2X3 ", 6).map(|g| (g.rows(), g.cols())), Ok((2, 3)));
        for bad in ["2x3", "4", "0x4", "ax4", "1x4x1"] {
            assert!(Grid::parse(bad, 4).is_err(), "{bad}");
        }
    }

    #[test]
    fn there_is_no_world_before_init() {
        // No unit test calls `init`.
        assert!(world().is_none());
    }
}
