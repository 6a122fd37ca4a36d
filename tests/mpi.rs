//! The MPI suite (feature `mpi`). Run under `mpirun -np 1`, `2` and `4 --oversubscribe`
//! (`.ci/run` does, README "Optional features"): every rank runs every test, one at a time
//! (`--test-threads=1`), and checks what it should see as its rank. Run without `mpirun`,
//! the job has one rank.
#![cfg(feature = "mpi")]

use mosaic::distributed;
use mosaic::prelude::*;

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

/// The world (every test starts it: tests run in name order, one at a time).
fn world() -> &'static distributed::World {
    distributed::init().unwrap()
}

/// `f`'s matrix computed distributed, and computed whole on this rank: bitwise equal.
fn same_as_local(what: &str, f: impl Fn() -> DArray<f64>) {
    world();
    let distributed = f().to_ndarray();
    let local = distributed::local(|| f().to_ndarray());
    assert_eq!(distributed.dim(), local.dim(), "{what}: shape");
    let differ = distributed
        .iter()
        .zip(local.iter())
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(
        differ, 0,
        "{what}: {differ} elements differ from the one-process result"
    );
}

#[test]
fn tiles_are_owned_block_cyclically() {
    let w = world();
    let a = DArray::<f64>::zeros(Blocks(10, 10), 45, 37);
    let (gr, gc) = a.tile_grid();
    for i in 0..gr {
        for j in 0..gc {
            assert_eq!(a.owner(i, j), w.grid().owner(i, j));
        }
    }
    let l = distributed::local(|| DArray::<f64>::zeros(Blocks(10, 10), 5, 5));
    assert_eq!(l.owner(0, 0), w.rank(), "an array made in `local` is this rank's");
}

#[test]
fn elementwise_ops_and_constructors_equal_one_process() {
    same_as_local("a + b", || {
        let a = DArray::<f64>::rand_seeded(Blocks(64, 48), 200, 150, 1);
        let b = DArray::<f64>::randn_seeded(Blocks(64, 48), 200, 150, 2);
        &(&a + &b) * 3.0
    });
    same_as_local("ones - eye", || {
        &DArray::<f64>::ones(Blocks(30, 30), 100, 100) - &DArray::eye(Blocks(30, 30), 100)
    });
    same_as_local("map", || {
        DArray::<f64>::rand_seeded(Blocks(7, 9), 20, 31, 3).map(|x| x * x + 1.0)
    });
    let a = ndarray::Array2::from_shape_fn((33, 21), |(i, j)| (i * 100 + j) as f64);
    same_as_local("from_ndarray", || DArray::from_ndarray(&a, Blocks(8, 8)));
    same_as_local("transpose", || {
        DArray::<f64>::rand_seeded(Blocks(16, 16), 40, 70, 4).t()
    });
}

#[test]
fn reductions_are_collective_and_equal_one_process() {
    world();
    let make = || DArray::<f64>::rand_seeded(Blocks(50, 40), 333, 222, 5);
    let (s, n) = {
        let a = make();
        (a.sum(), a.norm_fro())
    };
    let (ls, ln) = distributed::local(|| {
        let a = make();
        (a.sum(), a.norm_fro())
    });
    assert_eq!((s.to_bits(), n.to_bits()), (ls.to_bits(), ln.to_bits()));
}

#[test]
fn the_product_equals_one_process_bitwise() {
    same_as_local("a * b", || {
        let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 300, 200, 6);
        let b = DArray::<f64>::rand_seeded(Blocks(64, 64), 200, 250, 7);
        &a * &b
    });
}

/// A symmetric positive definite matrix of order `n`, tiles `b × b`.
fn spd(n: usize, b: usize) -> DArray<f64> {
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 8);
    &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * n as f64)
}

#[test]
fn the_cholesky_factor_equals_one_process_bitwise() {
    same_as_local("cholesky", || spd(300, 64).cholesky().unwrap().l().clone());
}

#[test]
fn a_non_spd_matrix_fails_the_same_on_every_rank() {
    world();
    let a = &spd(200, 50) - &(&DArray::eye(Blocks(50, 50), 200) * 1e4);
    let e = a.cholesky().unwrap_err();
    let local = distributed::local(|| {
        let a = &spd(200, 50) - &(&DArray::eye(Blocks(50, 50), 200) * 1e4);
        a.cholesky().unwrap_err()
    });
    assert_eq!(e.to_string(), local.to_string());
    assert!(
        matches!(e, mosaic::Error::NotPositiveDefinite { index: 0 }),
        "{e}"
    );
}

#[test]
fn stats_count_this_ranks_tasks_and_messages() {
    let w = world();
    let before = distributed::stats();
    let a = DArray::<f64>::rand_seeded(Blocks(32, 32), 128, 128, 9);
    let c = &a * &a;
    c.wait().unwrap();
    w.barrier().unwrap();
    let d = distributed::stats() - before;
    assert!(d.tasks_run > 0, "{d:?}");
    if w.size() > 1 {
        assert!(d.tasks_elsewhere > 0, "{d:?}");
        assert!(d.messages_sent > 0 && d.bytes_sent >= 32 * 32 * 8, "{d:?}");
    } else {
        assert_eq!((d.tasks_elsewhere, d.messages_sent), (0, 0), "{d:?}");
    }
}
