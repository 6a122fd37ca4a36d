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
    if let Ok(shape) = std::env::var("MOSAIC_MPI_GRID") {
        assert_eq!(
            format!("{}x{}", grid.rows(), grid.cols()),
            shape,
            "the named grid"
        );
    } else {
        assert!(grid.rows() <= grid.cols());
    }
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

/// `‖x − y‖_F / ‖y‖_F`.
fn relative(x: &DArray<f64>, y: &DArray<f64>) -> f64 {
    (x - y).norm_fro() / y.norm_fro()
}

/// A well-conditioned square matrix of order `n`, tiles `b × b`.
fn general(n: usize, b: usize, seed: u64) -> DArray<f64> {
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, seed);
    &r + &(&DArray::eye(Blocks(b, b), n) * 4.0)
}

#[test]
fn lu_solve_inv_det_hold_their_residuals_and_match_one_process() {
    world();
    let (n, b) = (230, 48);
    let a = general(n, b, 10);
    let lu = a.lu().unwrap();
    let pa = DArray::from_ndarray(&a.to_ndarray().select(ndarray::Axis(0), &lu.p()), Blocks(b, b));
    assert!(relative(&(&lu.l() * &lu.u()), &pa) < 1e-13);
    let local_p = distributed::local(|| general(n, b, 10).lu().unwrap().p());
    assert_eq!(lu.p(), local_p, "the same pivots as one process");
    let rhs = DArray::<f64>::rand_seeded(Blocks(b, 20), n, 20, 11);
    let x = lu.solve(&rhs).unwrap();
    assert!(relative(&(&a * &x), &rhs) < 1e-12);
    let inv = a.inv().unwrap();
    assert!(relative(&(&a * &inv), &DArray::eye(Blocks(b, b), n)) < 1e-12);
    let det = a.det().unwrap();
    let local_det = distributed::local(|| general(n, b, 10).det().unwrap());
    assert!(
        ((det - local_det) / local_det).abs() < 1e-12,
        "{det} vs {local_det}"
    );
    let x = spd(n, b).cholesky().unwrap().solve(&rhs).unwrap();
    assert!(relative(&(&spd(n, b) * &x), &rhs) < 1e-12);
}

/// On a grid with several rows of ranks a panel's tiles are on several ranks: with
/// `MOSAIC_LU_PANEL=split` its pivots are searched across them (one `iamax` task per
/// column, on the diagonal tile's rank), otherwise one task factors it on the diagonal
/// tile's rank; either way rows move between ranks, with the pivots of one process and its
/// residual. A random matrix, so that pivots come from everywhere in the column.
#[test]
fn lu_searches_each_column_for_its_pivot_across_ranks() {
    let w = world();
    let (n, b) = (230, 48);
    let a = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 15);
    mosaic::trace::start();
    let lu = a.lu().unwrap();
    lu.wait().unwrap();
    let merged = distributed::merge_trace(&mosaic::trace::stop()).unwrap();
    let local_p = distributed::local(|| {
        DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 15)
            .lu()
            .unwrap()
            .p()
    });
    assert_eq!(lu.p(), local_p, "the same pivots as one process");
    let pa = DArray::from_ndarray(&a.to_ndarray().select(ndarray::Axis(0), &lu.p()), Blocks(b, b));
    assert!(relative(&(&lu.l() * &lu.u()), &pa) < 1e-13);
    let grid = w.grid();
    let searches: Vec<usize> = merged
        .events()
        .iter()
        .filter(|e| e.name == "iamax")
        .map(|e| e.rank)
        .collect();
    let split = std::env::var("MOSAIC_LU_PANEL").is_ok_and(|v| v.trim() == "split");
    if grid.rows() > 1 && split {
        // Every panel but the last (one tile) is split, and its b searches run on the rank
        // of its diagonal tile.
        let mut expected = vec![0; w.size()];
        for k in 0..4 {
            expected[a.owner(k, k)] += b;
        }
        let mut counted = vec![0; w.size()];
        for &r in &searches {
            counted[r] += 1;
        }
        assert_eq!(counted, expected, "iamax tasks per rank");
    } else {
        assert!(searches.is_empty(), "one task factors each panel");
    }
    if grid.rows() > 1 {
        // The premise: this matrix's pivots do move rows between ranks.
        let row_rank = |row: usize| a.owner(row / b, 0) / grid.cols();
        let moved = lu
            .p()
            .iter()
            .enumerate()
            .filter(|&(i, &p)| row_rank(i) != row_rank(p))
            .count();
        assert!(moved > 0, "some pivot rows come from another rank");
    }
}

#[test]
fn qr_of_every_shape_and_least_squares_hold_their_residuals() {
    world();
    // Square, wide, and tall enough for the tree reduction (mt ≥ 2·nt).
    for (m, n, b) in [(200, 200, 48), (120, 260, 40), (400, 90, 40)] {
        let a = DArray::<f64>::rand_seeded(Blocks(b, b), m, n, 12);
        let qr = a.qr().unwrap();
        assert!(relative(&(&qr.q() * &qr.r()), &a) < 1e-13, "{m} × {n}");
    }
    let a = DArray::<f64>::rand_seeded(Blocks(40, 40), 300, 80, 13);
    let rhs = DArray::<f64>::rand_seeded(Blocks(40, 40), 300, 3, 14);
    let x = a.qr().unwrap().solve_least_squares(&rhs).unwrap();
    // The residual is orthogonal to the columns of A.
    let r = &(&a * &x) - &rhs;
    assert!((&a.t() * &r).norm_fro() < 1e-10 * a.norm_fro() * rhs.norm_fro());
}

/// A tiled Cholesky written by hand over a DArray's tiles (the `datadeps_cholesky`
/// example's graph): the user's own tasks, distributed by the tiles they write.
fn user_cholesky(a: &DArray<f64>) {
    use mosaic::datadeps::{spawn_with, InOut};
    let nt = a.tile_grid().0;
    let kernel = |name| TaskOptions::named(name);
    for k in 0..nt {
        drop(spawn_with(kernel("potrf"), (InOut(a.tile(k, k)),), |(mut t,)| {
            let n = t.nrows();
            for j in 0..n {
                let d = (t[(j, j)] - (0..j).map(|p| t[(j, p)] * t[(j, p)]).sum::<f64>()).sqrt();
                t[(j, j)] = d;
                for i in j + 1..n {
                    let s = (0..j).map(|p| t[(i, p)] * t[(j, p)]).sum::<f64>();
                    t[(i, j)] = (t[(i, j)] - s) / d;
                }
            }
        }));
        for i in k + 1..nt {
            drop(spawn_with(
                kernel("trsm"),
                (InOut(a.tile(i, k)), In(a.tile(k, k))),
                |(mut x, l)| {
                    for mut row in x.rows_mut() {
                        for j in 0..l.nrows() {
                            let s = (0..j).map(|p| row[p] * l[(j, p)]).sum::<f64>();
                            row[j] = (row[j] - s) / l[(j, j)];
                        }
                    }
                },
            ));
        }
        for i in k + 1..nt {
            for j in k + 1..=i {
                let accesses = (InOut(a.tile(i, j)), In(a.tile(i, k)), In(a.tile(j, k)));
                drop(spawn_with(kernel("update"), accesses, |(mut c, x, y)| {
                    ndarray::linalg::general_mat_mul(-1.0, &x, &y.t(), 1.0, &mut c)
                }));
            }
        }
    }
}

#[test]
fn a_users_tiled_cholesky_over_darray_tiles_equals_one_process_bitwise() {
    same_as_local("user cholesky", || {
        let a = spd(190, 40);
        user_cholesky(&a);
        a
    });
}

#[test]
fn a_failing_task_fails_its_dependents_on_every_rank() {
    let w = world();
    let a = DArray::<f64>::rand_seeded(Blocks(20, 20), 60, 60, 15);
    // Tile (1, 1)'s task panics, on its owner only; the product reads it everywhere.
    let bad = a.map(|x| if x > 0.999 { panic!("a bad element") } else { x });
    let c = &bad * &a;
    let e = c.try_to_ndarray().unwrap_err();
    assert!(e.to_string().contains("a bad element"), "rank {}: {e}", w.rank());
    // The runtime stays usable.
    assert_eq!(
        (&a * 2.0).sum().to_bits(),
        distributed::local(|| (&DArray::<f64>::rand_seeded(Blocks(20, 20), 60, 60, 15) * 2.0).sum())
            .to_bits()
    );
}

#[test]
fn bad_shapes_are_reported_on_every_rank() {
    world();
    let a = DArray::<f64>::zeros(Blocks(10, 10), 30, 20);
    assert!(matches!(a.cholesky(), Err(mosaic::Error::ShapeMismatch { .. })));
    assert!(matches!(a.det(), Err(mosaic::Error::ShapeMismatch { .. })));
}

#[test]
fn a_task_writing_only_this_ranks_data_runs_on_every_rank() {
    let w = world();
    let a = DArray::<f64>::rand_seeded(Blocks(16, 16), 64, 64, 16);
    let mut mine = ndarray::Array2::<f64>::zeros((16, 16));
    mosaic::datadeps::datadeps(|s| {
        let m = s.write(&mut mine);
        s.spawn((In(a.tile(3, 2)), Out(m)), |(t, mut m)| m.assign(&t));
    });
    let want = a.to_ndarray().slice(ndarray::s![48..64, 32..48]).to_owned();
    assert_eq!(mine, want, "rank {}", w.rank());
}

#[test]
fn npy_files_are_read_and_written_tile_by_tile_by_their_owners() {
    let w = world();
    // One file every rank names (same machine: a shared temporary directory).
    let path = std::env::temp_dir().join(format!("mosaic-mpi-suite-{}.npy", w.size()));
    let a = DArray::<f64>::rand_seeded(Blocks(24, 16), 70, 50, 17);
    a.write_npy(&path).unwrap();
    let whole: ndarray::Array2<f64> = ndarray_npy::read_npy(&path).unwrap();
    assert_eq!(
        whole,
        a.to_ndarray(),
        "rank {}: the file holds every rank's tiles",
        w.rank()
    );
    let b = DArray::<f64>::read_npy(&path, Blocks(20, 20)).unwrap();
    assert_eq!(b.to_ndarray(), whole);
    let missing = DArray::<f64>::read_npy(path.with_extension("missing"), Blocks(8, 8));
    assert!(matches!(missing, Err(mosaic::Error::File { .. })));
    w.barrier().unwrap();
    if w.rank() == 0 {
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn traces_merge_into_one_timeline_with_a_row_per_rank() {
    let w = world();
    mosaic::trace::start();
    let l = spd(160, 40).cholesky().unwrap();
    l.wait().unwrap();
    let mine = mosaic::trace::stop();
    assert!(mine.events().iter().all(|e| e.rank == w.rank()));
    let merged = distributed::merge_trace(&mine).unwrap();
    for r in 0..w.size() {
        assert!(merged.events().iter().any(|e| e.rank == r), "rank {r}'s events");
    }
    let sends = merged.events().iter().filter(|e| e.name == "send").count();
    let receives = merged.events().iter().filter(|e| e.name == "receive").count();
    if w.size() > 1 {
        assert!(
            sends > 0 && receives >= sends,
            "{sends} sends, {receives} receives"
        );
    } else {
        assert_eq!((sends, receives), (0, 0));
    }
    let json = merged.to_chrome_json();
    assert!(json.contains(&format!("\"name\":\"rank {}\"", w.size() - 1)));
    if w.size() > 1 {
        assert!(merged
            .to_gantt_svg()
            .contains(&format!("r{} worker 0", w.size() - 1)));
    }
}

/// The messages rank `r` sends in a tiled Cholesky of `nt × nt` tiles on `grid` under
/// owner computes when each tile goes once to each rank that reads it (the 2-D
/// block-cyclic algorithm's count): tile `(m, k)` of the panel is read by the owner of
/// every tile of row `m` right of column `k` up to the diagonal and of every tile of
/// column `m` below it (`trsm`, `syrk`, `gemm`); then one all-gather of the pivots.
fn cholesky_messages(grid: distributed::Grid, nt: usize, size: usize) -> Vec<u64> {
    let mut sent = vec![0u64; size];
    for k in 0..nt {
        for m in k..nt {
            let mut readers: Vec<usize> = (k + 1..=m)
                .map(|j| grid.owner(m, j))
                .chain((m + 1..nt).map(|i| grid.owner(i, m)))
                .collect();
            if m == k {
                readers = (k + 1..nt).map(|i| grid.owner(i, k)).collect();
            }
            readers.sort_unstable();
            readers.dedup();
            let owner = grid.owner(m, k);
            sent[owner] += readers.iter().filter(|&&r| r != owner).count() as u64;
        }
    }
    sent.iter().map(|s| s + size as u64 - 1).collect()
}

#[test]
fn cholesky_sends_each_tile_once_to_each_rank_that_reads_it() {
    let w = world();
    let (n, b) = (300, 30);
    let a = spd(n, b);
    a.wait().unwrap();
    w.barrier().unwrap();
    let before = distributed::stats();
    let l = a.into_cholesky().unwrap();
    l.wait().unwrap();
    w.barrier().unwrap();
    let d = distributed::stats() - before;
    let want = cholesky_messages(w.grid(), n / b, w.size())[w.rank()];
    assert_eq!(d.messages_sent, want, "rank {}: {d:?}", w.rank());
    let nt = (n / b) as u64;
    let tasks = nt * (nt + 1) * (nt + 2) / 6 + nt * (nt + 1) / 2; // factorization + zeroing
    assert!(d.tasks_run + d.tasks_elsewhere >= tasks, "{d:?}");
    if w.size() > 1 {
        // About 1/size of the tasks each.
        let share = d.tasks_run as f64 / (d.tasks_run + d.tasks_elsewhere) as f64;
        assert!((share - 1.0 / w.size() as f64).abs() < 0.2, "{share}");
    }
}

#[test]
fn a_future_whose_task_ran_elsewhere_says_where() {
    let w = world();
    let a = DArray::<f64>::ones(Blocks(8, 8), 16, 16);
    let owner = a.owner(1, 1);
    // Writes tile (1, 1): runs on its owner; every other rank's future says so at once.
    let f = mosaic::datadeps::spawn((InOut(a.tile(1, 1)),), |(mut t,)| {
        t *= 3.0;
        t.sum()
    });
    match f.wait() {
        Ok(sum) => {
            assert_eq!(w.rank(), owner);
            assert_eq!(sum, 192.0);
        }
        Err(mosaic::Error::RanElsewhere { rank, task }) => {
            assert_ne!(w.rank(), owner);
            assert_eq!(rank, owner, "{task}");
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(a.sum(), 256.0 + 128.0, "every rank sees the write");
}

/// Bytes of tiles this rank holds now (the runtime's host memory less the dropped buffers
/// it keeps for reuse), once its local tasks are done.
fn held_bytes() -> usize {
    let t0 = std::time::Instant::now();
    while mosaic::runtime::in_flight().tasks > 0 && t0.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    mosaic::runtime::memory_stats(mosaic::runtime::MemorySpace::Host).resident
        - mosaic::runtime::recycled_bytes()
}

#[test]
fn copies_made_stale_by_a_write_elsewhere_are_freed() {
    let w = world();
    let mut a = DArray::<f64>::rand_seeded(Blocks(64, 64), 256, 256, 18);
    a.wait().unwrap();
    w.barrier().unwrap();
    let before = held_bytes();
    // Every rank receives the tiles it does not own (16 tiles, 16 × 64 × 64 × 8 bytes a
    // tile at least), and keeps them: they are the current version.
    let whole = a.to_ndarray();
    let others = (0..4)
        .flat_map(|i| (0..4).map(move |j| (i, j)))
        .filter(|&(i, j)| a.owner(i, j) != w.rank())
        .count();
    let received = held_bytes();
    assert!(
        received >= before + others * 64 * 64 * 8,
        "{before} -> {received}"
    );
    // Each owner writes its tiles: every other rank's copies are stale, and freed.
    a *= 2.0;
    a.wait().unwrap();
    w.barrier().unwrap();
    let after = held_bytes();
    assert!(
        after < before + 64 * 64 * 8,
        "rank {}: {before} -> {received} -> {after}",
        w.rank()
    );
    assert_eq!(a.to_ndarray(), whole * 2.0);
}
