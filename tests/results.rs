//! Task results: a result nobody reads is dropped before its region returns, whether its
//! future was dropped before or after the task ran, so results may borrow from the
//! region's environment. A result read through `wait` is moved out exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use mosaic::datadeps::spawn_with;
use mosaic::prelude::*;
use ndarray::Array1;

/// A result that borrows the caller's counter and counts its own drops.
struct Borrowing<'a>(&'a AtomicUsize);

impl Drop for Borrowing<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn unread_results_are_dropped_before_the_region_returns() {
    let drops = AtomicUsize::new(0);
    let mut x = Array1::<f64>::zeros(4);
    datadeps(|s| {
        let h = s.write(&mut x);
        let drops = &drops;
        // Future dropped before the task runs (the task waits behind a sleeping one).
        s.spawn((InOut(h),), |_| sleep(Duration::from_millis(20)));
        drop(s.spawn((InOut(h),), move |_| Borrowing(drops)));
        // Future dropped after the task ran.
        let late = s.spawn((), move |()| Borrowing(drops));
        while !late.is_finished() {
            sleep(Duration::from_millis(1));
        }
        drop(late);
        // Future never touched.
        s.spawn((), move |()| Borrowing(drops));
    });
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "every unread result was dropped inside the region"
    );
}

#[test]
fn a_result_read_through_wait_is_moved_out_once() {
    let drops = AtomicUsize::new(0);
    datadeps(|s| {
        let drops = &drops;
        let r = s.spawn((), move |()| Borrowing(drops)).wait().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0, "the result is the caller's now");
        drop(r);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "and it was not dropped a second time"
    );
}

#[test]
fn global_futures_detached_or_waited() {
    let t = Tile::<f64>::zeros(2, 2);
    let counter = std::sync::Arc::new(AtomicUsize::new(0));
    struct Owned(std::sync::Arc<AtomicUsize>);
    impl Drop for Owned {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let c = counter.clone();
    drop(spawn((InOut(t.clone()),), move |(mut v,)| {
        v.fill(1.0);
        Owned(c)
    }));
    // A later reader orders after the detached writer; once it is done, so is the writer.
    assert_eq!(spawn((In(t.clone()),), |(v,)| v.sum()).wait(), Ok(4.0));
    while counter.load(Ordering::SeqCst) == 0 {
        sleep(Duration::from_millis(1)); // the writer's result is dropped as it finishes
    }
    assert_eq!(counter.load(Ordering::SeqCst), 1);
}

/// Regression: a task used to drop its accesses' keep-alives before running its closure,
/// so when it held the last handle to a tile, the tile was freed under the running task
/// (found by `darray_elementwise::arithmetic_matches_ndarray_with_mixed_partitions`).
#[test]
fn regression_a_task_holding_the_last_handle_keeps_the_tile_alive() {
    for _ in 0..50 {
        let ok = spawn((In(Tile::<f64>::filled(64, 64, 64, 7.0)),), |(v,)| {
            // Same-size allocations would reuse the tile's memory if it had been freed.
            let junk: Vec<Vec<f64>> = (0..8).map(|_| vec![0.0; 64 * 64]).collect();
            std::hint::black_box(&junk);
            v.iter().all(|&x| x == 7.0)
        })
        .wait();
        assert_eq!(ok, Ok(true));
    }
}

/// Regression: a task's future used to wake its waiter before the runtime had recorded the
/// task's trace event, so a trace stopped right after `wait()` could miss the task (seen
/// as a failing doc-test in CI). Waking now comes after the task is fully complete.
#[test]
fn regression_a_waited_task_is_already_traced() {
    for _ in 0..300 {
        mosaic::trace::start();
        let t = Tile::<f64>::zeros(2, 2);
        spawn_with(TaskOptions::named("traced-task"), (InOut(t),), |(mut v,)| {
            v.fill(1.0)
        })
        .wait()
        .unwrap();
        let trace = mosaic::trace::stop();
        assert!(
            trace.events().iter().any(|e| e.name == "traced-task"),
            "the waited task is missing from the trace"
        );
    }
}
