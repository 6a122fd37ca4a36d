//! A thread outside the pool that waits runs ready tasks in place of an idle sleeping
//! worker (the ready queue's rule 3). These tests drive that path from many threads at
//! once and through tasks that wait themselves, and check that every result is right and
//! nothing hangs (a watchdog aborts the process on a deadlock).

mod common;

use std::thread::sleep;
use std::time::Duration;

use common::{fro, watchdog, Rng};
use mosaic::prelude::*;
use mosaic::Tile;

/// Small products, Cholesky factorizations and solves from four threads at once, each
/// waiting for its own results while the others submit: every waiter may run tasks of the
/// others' operations, and each result must still be exact to rounding.
#[test]
fn small_operations_from_many_threads_are_right() {
    mosaic::set_num_threads(2);
    let _wd = watchdog("small_operations_from_many_threads_are_right", 240);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(t);
                for step in 0..30 {
                    let n = rng.range(1, 80);
                    let a = DArray::<f64>::rand_seeded(AutoBlocks, n, n, 100 * t + step);
                    let b = DArray::<f64>::rand_seeded(Blocks(16, 16), n, n, 200 * t + step);
                    let (da, db) = (a.to_ndarray(), b.to_ndarray());
                    let c = (&a * &b).to_ndarray();
                    let err = fro(&(&c - &da.dot(&db)));
                    assert!(err <= 1e-12 * (1.0 + fro(&da) * fro(&db)), "product {n}: {err}");
                    let spd = &(&a * &a.t()) + &(&DArray::eye(AutoBlocks, n) * n as f64);
                    let l = spd.cholesky().expect("SPD").l().to_ndarray();
                    let ds = spd.to_ndarray();
                    let r = fro(&(&ds - &l.dot(&l.t()))) / (n as f64 * fro(&ds) * f64::EPSILON);
                    assert!(r < 1.0, "cholesky {n}: scaled residual {r}");
                    if step % 7 == 0 {
                        // Let the workers fall asleep, so the next waits find an idle pool.
                        sleep(Duration::from_millis(3));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread failed");
    }
}

/// A task that the waiting thread may run itself waits inside for a task it spawns: the
/// waiting thread, now running that task, must lend its core back while it blocks (a
/// sleeping worker may be the only thread left to run the nested task).
#[test]
fn a_task_run_by_a_waiting_thread_can_wait_for_a_task_it_spawns() {
    mosaic::set_num_threads(2);
    let _wd = watchdog(
        "a_task_run_by_a_waiting_thread_can_wait_for_a_task_it_spawns",
        240,
    );
    for i in 0..200u32 {
        // Idle workers sleep after a short search: the outer task then finds an idle pool.
        sleep(Duration::from_millis(1));
        let t = Tile::<f64>::zeros(4, 4);
        let inner_tile = t.clone();
        let outer = spawn((), move |()| {
            let inner = spawn((InOut(inner_tile),), move |(mut v,)| {
                v.fill(f64::from(i));
                v.sum()
            });
            inner.wait().expect("the nested task runs")
        });
        assert_eq!(outer.wait().expect("the outer task runs"), 16.0 * f64::from(i));
    }
}
