//! The MPI suite (feature `mpi`). Run under `mpirun -np 1`, `2` and `4 --oversubscribe`
//! (`.ci/run` does, README "Optional features"): every rank runs every test, one at a time
//! (`--test-threads=1`), and checks what it should see as its rank. Run without `mpirun`,
//! the job has one rank.
#![cfg(feature = "mpi")]

use mosaic::distributed;

/// The job's size and this process's rank, as OpenMPI's launcher tells them (1 and 0
/// without a launcher).
fn launched() -> (usize, usize) {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    (
        var("OMPI_COMM_WORLD_SIZE").unwrap_or(1),
        var("OMPI_COMM_WORLD_RANK").unwrap_or(0),
    )
}

#[test]
fn every_rank_joins_one_world() {
    let world = distributed::init().unwrap();
    let (size, rank) = launched();
    assert_eq!((world.size(), world.rank()), (size, rank));
    assert!(
        std::ptr::eq(world, distributed::init().unwrap()),
        "a second init returns the same world"
    );
    assert!(std::ptr::eq(world, distributed::world().unwrap()));
    let grid = world.grid();
    assert_eq!(grid.rows() * grid.cols(), size);
    assert!(grid.rows() <= grid.cols());
    // Every rank reaches the barrier, or none returns from it.
    world.barrier().unwrap();
    world.barrier().unwrap();
}
