//! Bounded host memory: every operation gives bitwise the same result under a budget of a
//! few tiles as without one; the budget holds (peak within 25%); eviction spills and reads
//! back; a task that cannot fit fails at once with `OutOfMemory` through every path, and
//! a larger limit lets the same program run; bad spill directories are errors naming them.
//!
//! Every test holds `BUDGET`: the limit and the statistics are the process's.

use std::sync::Mutex;

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace};

static BUDGET: Mutex<()> = Mutex::new(());

fn budget() -> std::sync::MutexGuard<'static, ()> {
    let g = BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
    g
}

/// Runs `program` without a limit and under `limit` bytes; both results must be
/// bitwise equal, the limited run must have spilled and read back, and its peak must stay
/// within 25% of the limit.
fn same_under_limit<R: PartialEq + std::fmt::Debug>(limit: usize, program: impl Fn() -> R) {
    let free = program();
    let before = runtime::memory_stats(MemorySpace::Host);
    runtime::set_memory_limit(MemorySpace::Host, Some(limit)).unwrap();
    runtime::reset_peak(MemorySpace::Host);
    let bounded = program();
    let after = runtime::memory_stats(MemorySpace::Host);
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
    assert_eq!(free, bounded, "results differ under a {limit}-byte budget");
    assert!(
        after.spilled_bytes > before.spilled_bytes && after.reloaded_bytes > before.reloaded_bytes,
        "the budget should have forced spills: {before:?} -> {after:?}"
    );
    assert!(after.evictions > before.evictions);
    assert!(
        after.peak <= limit + limit / 4,
        "peak {} over the limit {limit} + 25%",
        after.peak
    );
}

fn spd(n: usize, b: usize, seed: u64) -> DArray<f64> {
    let a = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, seed);
    &(&a * &a.t()) + &(&DArray::<f64>::eye(Blocks(b, b), n) * n as f64)
}

// 384×384 f64 in 64×64 tiles: 32 KiB a tile, 36 tiles (1.1 MiB) a matrix.
const N: usize = 384;
const B: usize = 64;
const TILE: usize = B * B * 8;

#[test]
fn matmul_and_elementwise_are_bitwise_the_same_under_a_budget() {
    let _b = budget();
    same_under_limit(24 * TILE, || {
        let a = DArray::<f64>::rand_seeded(Blocks(B, B), N, N, 1);
        let b = DArray::<f64>::rand_seeded(Blocks(B, B), N, N, 2);
        let c = &(&a * &b) + &a.map(|x| x.sin());
        let d = c.hadamard(&b) * 0.5;
        d.to_ndarray()
    });
}

#[test]
fn factorizations_are_bitwise_the_same_under_a_budget() {
    let _b = budget();
    same_under_limit(20 * TILE, || {
        let a = spd(N, B, 3);
        let l = a.cholesky().unwrap().l().to_ndarray();
        let lu = a.lu().unwrap();
        let (p, u) = (lu.p().to_vec(), lu.u().to_ndarray());
        let r = a.qr().unwrap().r().to_ndarray();
        (l, p, u, r)
    });
}

#[test]
fn solves_and_user_regions_are_bitwise_the_same_under_a_budget() {
    let _b = budget();
    same_under_limit(16 * TILE, || {
        let a = spd(N, B, 4);
        let rhs = DArray::<f64>::rand_seeded(Blocks(B, B), N, 2 * B, 5);
        let x = a.cholesky().unwrap().solve(&rhs).unwrap().to_ndarray();
        // A user region over DArray tiles: every tile doubled, then a running sum down
        // each column of tiles.
        let m = DArray::<f64>::rand_seeded(Blocks(B, B), N, N, 6);
        let (gr, gc) = m.tile_grid();
        datadeps(|s| {
            for j in 0..gc {
                for i in 0..gr {
                    s.spawn((InOut(m.tile(i, j)),), |(mut t,)| t *= 2.0);
                    if i > 0 {
                        s.spawn((InOut(m.tile(i, j)), In(m.tile(i - 1, j))), |(mut t, u)| t += &u);
                    }
                }
            }
        });
        (x, m.to_ndarray())
    });
}

#[test]
fn a_task_larger_than_the_budget_fails_at_once_and_a_larger_limit_lets_it_run() {
    let _b = budget();
    let a = DArray::<f64>::rand_seeded(Blocks(256, 256), 256, 256, 7);
    let before = a.to_ndarray();
    let tile_bytes = runtime::memory_stats(MemorySpace::Host).resident;
    let limit = 300 * 256 * 8; // more than one tile's 256 × 256 elements, less than two
    runtime::set_memory_limit(MemorySpace::Host, Some(limit)).unwrap();
    // A future that reads one tile and writes another: two tiles are needed at once.
    let program = |a: &DArray<f64>| {
        let out = Tile::<f64>::zeros(256, 256);
        let f = spawn((In(a.tile(0, 0)), Out(out.clone())), |(t, mut o)| {
            o.assign(&t.t())
        });
        let g = spawn((In(out),), |(o,)| o.sum());
        (f.wait(), g.wait())
    };
    match program(&a) {
        (
            Err(Error::OutOfMemory {
                space,
                needed,
                limit: l,
            }),
            Err(dependent),
        ) => {
            assert_eq!(space, MemorySpace::Host);
            assert!(needed > limit && needed >= 2 * 256 * 256 * 8, "{needed}");
            assert_eq!(l, limit);
            assert!(
                dependent.to_string().contains("out of memory"),
                "the dependent task did not run: {dependent}"
            );
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
    // Through a DArray operation and its wait: the same error.
    let twice = a.t();
    assert!(matches!(twice.wait(), Err(Error::OutOfMemory { .. })));
    assert!(matches!(twice.try_to_ndarray(), Err(Error::OutOfMemory { .. })));
    // Through a factorization.
    let spd = DArray::<f64>::eye(Blocks(256, 256), 256);
    assert!(matches!(
        spd.cholesky().map(|_| ()),
        Err(Error::OutOfMemory { .. })
    ));
    // The input is intact, and a larger limit lets the same program run.
    runtime::set_memory_limit(MemorySpace::Host, Some(8 * tile_bytes)).unwrap();
    assert_eq!(a.to_ndarray(), before);
    let (f, g) = program(&a);
    f.unwrap();
    assert_eq!(g.unwrap(), before.sum());
    assert_eq!(a.t().to_ndarray(), before.t());
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
}

#[test]
fn a_region_task_larger_than_the_budget_fails_the_region() {
    let _b = budget();
    let t = Tile::<f64>::filled(200, 200, 200, 1.0);
    runtime::set_memory_limit(MemorySpace::Host, Some(100_000)).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        datadeps(|s| {
            s.spawn((In(t.clone()),), |(v,)| v.sum());
        })
    }));
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
    let msg = match r {
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
        Ok(()) => panic!("the region should have failed"),
    };
    assert!(msg.contains("out of memory"), "{msg}");
    // Still usable, data intact.
    let f = spawn((In(t),), |(v,)| v.sum());
    assert_eq!(f.wait().unwrap(), 40_000.0);
}

#[test]
fn a_limit_lowered_below_what_is_resident_evicts_to_fit() {
    let _b = budget();
    let a = DArray::<f64>::rand_seeded(Blocks(B, B), N, N, 8);
    let want = a.to_ndarray();
    let resident = runtime::memory_stats(MemorySpace::Host).resident;
    let limit = 8 * TILE;
    assert!(resident > limit, "{resident}");
    runtime::set_memory_limit(MemorySpace::Host, Some(limit)).unwrap();
    let st = runtime::memory_stats(MemorySpace::Host);
    assert!(st.resident <= limit, "{st:?}");
    assert_eq!(a.to_ndarray(), want, "read back from the spill files");
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
    assert_eq!(runtime::memory_limit(MemorySpace::Host), None);
}

#[test]
fn a_limit_below_pinned_data_is_refused_and_the_old_one_stays() {
    let _b = budget();
    let t = Tile::<f64>::filled(256, 256, 256, 1.0);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let f = spawn((InOut(t.clone()),), move |(mut v,)| {
        started_tx.send(()).unwrap();
        rx.recv().unwrap();
        v += 1.0;
    });
    started_rx.recv().unwrap();
    let err = runtime::set_memory_limit(MemorySpace::Host, Some(1024)).unwrap_err();
    assert!(matches!(err, Error::OutOfMemory { limit: 1024, .. }), "{err}");
    assert_eq!(runtime::memory_limit(MemorySpace::Host), None);
    tx.send(()).unwrap();
    f.wait().unwrap();
}

#[test]
fn a_missing_or_unusable_spill_directory_is_an_error_naming_it() {
    let _b = budget();
    let missing = std::env::temp_dir().join("mosaic-no-such-dir/deeper");
    let err = runtime::set_spill_dir(&missing).unwrap_err();
    assert!(err.to_string().contains("mosaic-no-such-dir"), "{err}");
    let file = std::env::temp_dir().join(format!("mosaic-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, b"x").unwrap();
    let err = runtime::set_spill_dir(&file).unwrap_err();
    assert!(err.to_string().contains("mosaic-not-a-dir"), "{err}");
    std::fs::remove_file(&file).unwrap();
    assert_ne!(runtime::spill_dir(), missing);
}
