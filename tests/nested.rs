//! Nesting: regions inside tasks, regions inside region bodies, futures waited inside
//! tasks, and the two ways the runtime refuses a nested wait that could never end.
//!
//! - Recursive tree reductions and updates through nested regions (depth 6) give exactly
//!   (bit for bit) the serial results, including a whole-view task that must wait for
//!   both halves of its own nested region.
//! - With two workers, nested waits far deeper than the worker count (8 levels of regions,
//!   chains of 8 futures, several at once) finish: a waiting worker runs other tasks.
//! - A region nested in a region's body orders its tasks after the outer region's.
//! - Waiting, inside a task, on a future that needs data the task holds returns
//!   `Err(WouldDeadlock)` naming both tasks; the future's task still runs later. Waiting on
//!   futures that do not need it is fine.
//! - Spawning, in a region opened inside a task, a task that needs data the enclosing task
//!   holds panics with a message saying "held by the running task"; parts the holder does
//!   not hold (a complementary triangle) and shared reads are allowed.
//! - A panic deep in nested regions reaches the outermost region with its payload.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{payload_text, watchdog, Rng};
use mosaic::datadeps::{spawn_with, TaskFuture};
use mosaic::prelude::*;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayViewMut1};

/// The tests of this file run one at a time: the last two control which worker runs what.
static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Every test asks for two workers first, so nested waits outnumber the workers.
    mosaic::set_num_threads(2);
    common::silence_panics(|payload| {
        let text = payload_text(payload);
        text.starts_with("deliberate")
            || (text.starts_with("task `") && text.contains("held by the running task"))
    });
    guard
}

fn random_vector(n: usize, seed: u64) -> Array1<f64> {
    let mut rng = Rng::new(seed);
    Array1::from_shape_fn(n, |_| rng.f64_in(-1.0, 1.0))
}

/// Sum by halving, each half in a task of a nested region.
fn tree_sum(v: ArrayView1<'_, f64>, depth: u32) -> f64 {
    if depth == 0 || v.len() < 2 {
        return v.iter().fold(0.0, |a, &x| a + x);
    }
    let mid = v.len() / 2;
    datadeps(|s| {
        let h = s.read(&v);
        let left = s.spawn((In(h.slice(s![..mid])),), move |(l,)| tree_sum(l, depth - 1));
        let right = s.spawn((In(h.slice(s![mid..])),), move |(r,)| tree_sum(r, depth - 1));
        left.wait().unwrap() + right.wait().unwrap()
    })
}

fn serial_tree_sum(v: ArrayView1<'_, f64>, depth: u32) -> f64 {
    if depth == 0 || v.len() < 2 {
        return v.iter().fold(0.0, |a, &x| a + x);
    }
    let mid = v.len() / 2;
    serial_tree_sum(v.slice(s![..mid]), depth - 1) + serial_tree_sum(v.slice(s![mid..]), depth - 1)
}

/// An order-sensitive in-place update: both halves (nested, in parallel), then the whole
/// view, which must wait for both.
fn tree_update(mut v: ArrayViewMut1<'_, f64>, depth: u32, tag: f64) {
    if depth == 0 || v.len() < 2 {
        for (i, x) in v.iter_mut().enumerate() {
            *x = *x * 1.5 + tag + i as f64;
        }
        return;
    }
    let mid = v.len() / 2;
    datadeps(|s| {
        let h = s.write(&mut v);
        s.spawn((InOut(h.slice(s![..mid])),), move |(l,)| {
            tree_update(l, depth - 1, 2.0 * tag)
        });
        // Reversed, to vary the views handed down.
        s.spawn((InOut(h.slice(s![mid..;-1])),), move |(r,)| {
            tree_update(r, depth - 1, 2.0 * tag + 1.0)
        });
        s.spawn((InOut(h),), move |(mut all,)| {
            let first = all[0];
            all.mapv_inplace(|x| x * 0.5 - first * 0.25);
        });
    });
}

fn serial_tree_update(mut v: ArrayViewMut1<'_, f64>, depth: u32, tag: f64) {
    if depth == 0 || v.len() < 2 {
        for (i, x) in v.iter_mut().enumerate() {
            *x = *x * 1.5 + tag + i as f64;
        }
        return;
    }
    let mid = v.len() / 2;
    serial_tree_update(v.slice_mut(s![..mid]), depth - 1, 2.0 * tag);
    serial_tree_update(v.slice_mut(s![mid..;-1]), depth - 1, 2.0 * tag + 1.0);
    let first = v[0];
    v.mapv_inplace(|x| x * 0.5 - first * 0.25);
}

#[test]
fn tree_sum_through_nested_regions_equals_the_serial_sum() {
    let _serial = setup();
    let _wd = watchdog("tree_sum_through_nested_regions", 60);
    for (n, depth, seed) in [(1000, 6, 1), (777, 5, 2), (64, 4, 3), (3, 6, 4)] {
        let v = random_vector(n, seed);
        let got = datadeps(|s| {
            let h = s.read(&v);
            s.spawn((In(h),), move |(all,)| tree_sum(all, depth))
                .wait()
                .unwrap()
        });
        let want = serial_tree_sum(v.view(), depth);
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "n = {n}, depth = {depth}: {got} vs {want}"
        );
        assert!((got - v.sum()).abs() < 1e-9);
    }
}

#[test]
fn tree_update_through_nested_regions_equals_the_serial_update() {
    let _serial = setup();
    let _wd = watchdog("tree_update_through_nested_regions", 60);
    for (n, depth, seed) in [(512, 6, 10), (301, 5, 11)] {
        let mut got = random_vector(n, seed);
        let mut want = got.clone();
        datadeps(|s| {
            let h = s.write(&mut got);
            s.spawn((InOut(h.slice(s![1..])),), move |(v,)| tree_update(v, depth, 1.0));
            s.spawn((InOut(h.slice(s![..1])),), |(mut v,)| v += 100.0);
        });
        serial_tree_update(want.slice_mut(s![1..]), depth, 1.0);
        want[0] += 100.0;
        let diff = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(diff, None, "n = {n}: nested result differs from the serial one");
    }
}

#[test]
fn nested_regions_over_matrix_parts() {
    let _serial = setup();
    let _wd = watchdog("nested_regions_over_matrix_parts", 60);
    // A task holding the left columns splits them into row blocks in a nested region,
    // while another task fills the right columns.
    let mut m = Array2::<f64>::zeros((8, 8));
    datadeps(|s| {
        let h = s.write(&mut m);
        s.spawn((InOut(h.slice(s![.., ..4])),), |(mut left,)| {
            datadeps(|inner| {
                let l = inner.write(&mut left);
                for b in 0..4 {
                    inner.spawn((Out(l.slice(s![2 * b..2 * b + 2, ..])),), move |(mut blk,)| {
                        blk.fill(b as f64)
                    });
                }
                // Needs every block.
                inner.spawn((InOut(l),), |(mut all,)| all += 10.0);
            });
        });
        s.spawn((Out(h.slice(s![.., 4..])),), |(mut right,)| right.fill(-1.0));
    });
    for ((i, j), &x) in m.indexed_iter() {
        let want = if j < 4 { (i / 2) as f64 + 10.0 } else { -1.0 };
        assert_eq!(x, want, "at ({i}, {j})");
    }
}

#[test]
fn region_nested_in_a_region_body_orders_after_outer_tasks() {
    let _serial = setup();
    let _wd = watchdog("region_nested_in_a_region_body", 60);
    let mut x = Array1::<f64>::zeros(8);
    let seen = datadeps(|outer| {
        let h = outer.write(&mut x);
        outer.spawn((Out(h),), |(mut v,)| {
            sleep(Duration::from_millis(30));
            v.fill(1.0);
        });
        // The inner region's task uses the outer handle: it must wait for the outer task,
        // and the inner region must not return before it ran.
        let seen = datadeps(|inner| {
            inner
                .spawn((InOut(h.slice(s![..4])),), |(mut v,)| {
                    v *= 3.0;
                    v.sum()
                })
                .wait()
                .unwrap()
        });
        outer.spawn((InOut(h),), |(mut v,)| v += 1.0);
        seen
    });
    assert_eq!(seen, 12.0);
    assert_eq!(x.to_vec(), [4.0, 4.0, 4.0, 4.0, 2.0, 2.0, 2.0, 2.0]);
}

/// `levels` nested regions, each splitting its view in two tasks.
fn nest(level: u32, mut v: ArrayViewMut1<'_, f64>) {
    if level == 0 {
        v += 1.0;
        return;
    }
    let mid = v.len() / 2;
    datadeps(|s| {
        let h = s.write(&mut v);
        s.spawn((InOut(h.slice(s![..mid])),), move |(l,)| nest(level - 1, l));
        s.spawn((InOut(h.slice(s![mid..])),), move |(r,)| nest(level - 1, r));
    });
}

/// A chain of `level` futures, each waited for inside the task of the one before.
fn chain(level: u32) -> u32 {
    if level == 0 {
        return 0;
    }
    spawn((), move |()| chain(level - 1)).wait().unwrap() + 1
}

#[test]
fn nested_waits_deeper_than_the_worker_count_do_not_deadlock() {
    let _serial = setup();
    let _wd = watchdog("nested_waits_deeper_than_the_worker_count", 60);
    assert!(
        mosaic::num_threads() <= 2,
        "this test is meant to run with few workers"
    );
    // 8 levels of regions: 256 leaves, up to 8 nested waits per worker.
    let mut x = Array1::<f64>::zeros(512);
    datadeps(|s| {
        let h = s.write(&mut x);
        s.spawn((InOut(h),), |(v,)| nest(8, v));
    });
    assert!(x.iter().all(|&v| v == 1.0));

    // Chains of 8 futures, four at once, from a region.
    let depths = datadeps(|s| {
        let futures: Vec<_> = (0..4).map(|_| s.spawn((), |()| chain(8))).collect();
        futures.into_iter().map(|f| f.wait().unwrap()).collect::<Vec<_>>()
    });
    assert_eq!(depths, [8; 4]);

    // And from a global task.
    assert_eq!(spawn((), |()| chain(8)).wait(), Ok(8));
}

#[test]
fn tasks_can_wait_on_futures_that_need_nothing_they_hold() {
    let _serial = setup();
    let _wd = watchdog("tasks_can_wait_on_futures", 60);
    let tile = Tile::<f64>::zeros(2, 3);
    let mut x = Array1::<f64>::zeros(4);
    datadeps(|s| {
        let h = s.write(&mut x);
        let tile = tile.clone();
        s.spawn((InOut(h),), move |(mut v,)| {
            let f = spawn((Out(tile.clone()),), |(mut t,)| {
                t.fill(2.0);
                t.sum()
            });
            v.fill(f.wait().unwrap());
        });
    });
    assert_eq!(x.to_vec(), [12.0; 4]);
    // A holder that only reads the tile may wait for another reader of it.
    let t = tile.clone();
    let r = spawn((In(tile.clone()),), move |(v,)| {
        let other = spawn((In(t),), |(w,)| w.sum()).wait();
        (v.sum(), other)
    })
    .wait()
    .unwrap();
    assert_eq!(r, (12.0, Ok(12.0)));
    // A future made inside a holder can be waited for outside it.
    let t = tile.clone();
    let inner = spawn((InOut(tile.clone()),), move |(mut v,)| {
        v.fill(1.0);
        spawn((In(t),), |(w,)| w.sum())
    })
    .wait()
    .unwrap();
    assert_eq!(inner.wait(), Ok(6.0));
}

#[test]
fn waiting_inside_the_holder_on_a_future_that_needs_its_tile_is_would_deadlock() {
    let _serial = setup();
    let _wd = watchdog("waiting_inside_the_holder", 60);
    let tile = Tile::<f64>::zeros(2, 2);
    let seen = Arc::new(Mutex::new(None));
    let (t, seen2) = (tile.clone(), seen.clone());
    let outcome = spawn_with(
        TaskOptions::named("holder"),
        (InOut(tile.clone()),),
        move |(mut v,)| {
            v.fill(4.0);
            let inner = spawn_with(TaskOptions::named("inner"), (In(t),), move |(w,)| {
                *seen2.lock().unwrap() = Some(w.sum());
            });
            inner.wait()
        },
    )
    .wait()
    .expect("the holder itself succeeds");
    let err = outcome.unwrap_err();
    assert_eq!(
        err,
        Error::WouldDeadlock {
            task: "inner".to_owned(),
            holder: "holder".to_owned()
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("`inner`") && text.contains("`holder`") && text.contains("deadlock"),
        "{text}"
    );
    // The inner task was not lost: it ran after the holder, and saw its writes.
    spawn((InOut(tile.clone()),), |(mut v,)| v += 1.0).wait().unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(16.0));
    assert_eq!(tile.to_ndarray().unwrap(), Array2::from_elem((2, 2), 5.0));

    // The same from a region task holding the tile.
    let t = tile.clone();
    let outcome = datadeps(|s| {
        s.spawn_with(
            TaskOptions::named("region-holder"),
            (InOut(UpperTriangular(tile.clone())),),
            move |(mut u,)| {
                u.fill(0.0);
                // Needs (0, 1), inside the held upper part.
                let blocked =
                    spawn_with(TaskOptions::named("blocked"), (In(t.clone()),), |(w,)| w.sum()).wait();
                // Only the strictly lower part: held by nobody, so this one is fine.
                let free = spawn((In(UnitLowerTriangular(t)),), |(w,)| w.get(1, 0).copied()).wait();
                (blocked, free)
            },
        )
        .wait()
        .unwrap()
    });
    assert_eq!(
        outcome.0,
        Err(Error::WouldDeadlock {
            task: "blocked".to_owned(),
            holder: "region-holder".to_owned()
        })
    );
    assert_eq!(outcome.1, Ok(Some(5.0)));
}

#[test]
fn region_spawn_needing_data_held_by_the_running_task_panics() {
    let _serial = setup();
    let _wd = watchdog("region_spawn_needing_held_data_panics", 60);
    let tile = Tile::<f64>::zeros(3, 3);
    let t = tile.clone();
    let r = spawn_with(
        TaskOptions::named("holder"),
        (InOut(tile.clone()),),
        move |(mut v,)| {
            v.fill(1.0);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                datadeps(|s| {
                    s.spawn((In(t.clone()),), |(w,)| w.sum());
                })
            }));
            payload_text(
                caught
                    .expect_err("a region task needing held data must panic")
                    .as_ref(),
            )
        },
    )
    .wait()
    .unwrap();
    assert!(
        r.contains("held by the running task") && r.contains("`holder`"),
        "unclear message: {r}"
    );

    // Holding the upper triangle only: the strictly lower part is free.
    let t = tile.clone();
    let r = spawn((InOut(UpperTriangular(tile.clone())),), move |(mut u,)| {
        u.fill(2.0);
        datadeps(|s| {
            s.spawn((InOut(UnitLowerTriangular(t.clone())),), |(mut l,)| l.fill(3.0))
                .wait()
        })
    })
    .wait()
    .unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(
        tile.to_ndarray().unwrap(),
        ndarray::arr2(&[[2.0, 2.0, 2.0], [3.0, 2.0, 2.0], [3.0, 3.0, 2.0]])
    );

    // Holding a read: other reads are not held.
    let t = tile.clone();
    let r = spawn((In(tile.clone()),), move |(v,)| {
        let inner = datadeps(|s| s.spawn((In(t.clone()),), |(w,)| w.sum()).wait().unwrap());
        (v.sum(), inner)
    })
    .wait()
    .unwrap();
    assert_eq!(r, (21.0, 21.0));

    // Uncaught, the panic fails the holder, whose future reports it.
    let t = tile.clone();
    let err = spawn_with(
        TaskOptions::named("careless"),
        (Out(tile.clone()),),
        move |(mut v,)| {
            v.fill(0.0);
            datadeps(|s| {
                s.spawn((InOut(t.clone()),), |(mut w,)| w += 1.0);
            });
        },
    )
    .wait()
    .unwrap_err();
    match err {
        Error::TaskPanicked { task, message } => {
            assert_eq!(task, "careless");
            assert!(message.contains("held by the running task"), "{message}");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
}

#[test]
fn panic_deep_in_nested_regions_reaches_the_outermost_region() {
    let _serial = setup();
    let _wd = watchdog("panic_deep_in_nested_regions", 60);
    let sibling_ran = AtomicBool::new(false);
    let err = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            s.spawn((), |()| {
                datadeps(|s| {
                    s.spawn((), |()| {
                        datadeps(|s| {
                            s.spawn((), |()| -> () { panic!("deliberate: three levels down") });
                        })
                    });
                })
            });
            s.spawn((), |()| {
                sleep(Duration::from_millis(10));
                sibling_ran.store(true, Ordering::SeqCst);
            });
        })
    }))
    .unwrap_err();
    assert_eq!(payload_text(err.as_ref()), "deliberate: three levels down");
    assert!(sibling_ran.load(Ordering::SeqCst));
}

#[test]
fn futures_report_completion() {
    let _serial = setup();
    let _wd = watchdog("futures_report_completion", 60);
    let go = AtomicBool::new(false);
    let polls = AtomicUsize::new(0);
    let r = datadeps(|s| {
        let f = s.spawn((), |()| {
            while !go.load(Ordering::SeqCst) {
                sleep(Duration::from_millis(1));
            }
            7
        });
        assert!(!f.is_finished(), "finished before it was allowed to");
        go.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f.is_finished() {
            assert!(Instant::now() < deadline, "never finished");
            polls.fetch_add(1, Ordering::SeqCst);
            sleep(Duration::from_millis(1));
        }
        f.wait()
    });
    assert_eq!(r, Ok(7));
    let g = spawn((), |()| 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !g.is_finished() {
        assert!(Instant::now() < deadline, "never finished");
        sleep(Duration::from_millis(1));
    }
    assert_eq!(g.wait(), Ok(3));
}

/// Keeps every worker but one busy until dropped.
struct OtherWorkersBusy {
    release: Arc<AtomicBool>,
}

impl OtherWorkersBusy {
    fn new() -> Self {
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let n = mosaic::num_threads() - 1;
        for _ in 0..n {
            let (release, started) = (release.clone(), started.clone());
            drop(spawn_with(TaskOptions::named("busy"), (), move |()| {
                started.fetch_add(1, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    sleep(Duration::from_millis(1));
                }
            }));
        }
        let busy = OtherWorkersBusy { release };
        wait_until("the blockers to start", || started.load(Ordering::SeqCst) == n);
        busy
    }
}

impl Drop for OtherWorkersBusy {
    fn drop(&mut self) {
        self.release.store(true, Ordering::SeqCst);
    }
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(1));
    }
}

/// Spawns `holder`: a task holding `tile` that, once `go` is set, waits in a nested
/// region. Returns when the holder is running. With every other worker busy, the only
/// free worker is the holder's, which runs ready tasks (first come, first served) while
/// it waits: a task queued before `go` is set runs *on top of* the holder.
fn start_holder(tile: &Tile<f64>, go: &Arc<AtomicBool>) -> TaskFuture<()> {
    let running = Arc::new(AtomicBool::new(false));
    let (r, g) = (running.clone(), go.clone());
    let holder = spawn_with(
        TaskOptions::named("holder-a"),
        (InOut(tile.clone()),),
        move |(mut v,)| {
            r.store(true, Ordering::SeqCst);
            while !g.load(Ordering::SeqCst) {
                sleep(Duration::from_millis(1));
            }
            datadeps(|inner| {
                inner.spawn((), |()| sleep(Duration::from_millis(10)));
            });
            v.fill(1.0);
        },
    );
    wait_until("the holder to start", || running.load(Ordering::SeqCst));
    holder
}

/// RUNTIME BUG (fails today). A task that holds nothing and needs data another task holds
/// must simply wait for it. But when the only free worker is waiting inside the holder
/// (in a nested region), it runs the unrelated task on top of the holder, and the
/// "held by the running task" check, which looks at every task on the thread's stack,
/// blames the unrelated task: its region spawn panics. Serially the program is fine.
#[test]
fn unrelated_task_run_by_a_waiting_worker_is_not_blamed_for_the_holders_data() {
    let _serial = setup();
    let _wd = watchdog("unrelated_task_run_by_a_waiting_worker", 60);
    let tile = Tile::<f64>::zeros(2, 2);
    let go = Arc::new(AtomicBool::new(false));
    let busy = OtherWorkersBusy::new();
    let holder = start_holder(&tile, &go);
    let t = tile.clone();
    let unrelated = spawn_with(TaskOptions::named("unrelated"), (), move |()| {
        // Holds nothing; its region task just orders after the holder.
        datadeps(|s| s.spawn((In(t),), |(v,)| v.sum()).wait())
    });
    go.store(true, Ordering::SeqCst);
    let result = unrelated.wait();
    drop(busy);
    assert_eq!(holder.wait(), Ok(()));
    assert_eq!(result, Ok(Ok(4.0)), "a task that holds nothing was rejected");
}

/// RUNTIME BUG (fails today, and leaves two tasks stuck forever). The same schedule as
/// above, with a future made outside any task and waited for inside an unrelated task:
/// the waiting worker runs the unrelated task on top of the holder; the future needs the
/// holder's tile, the holder cannot resume until the unrelated task returns, and no other
/// worker can resume it. The program is fine serially (holder, reader, waiter). Also
/// reproducible inside a single region (holder `InOut(x)` with a nested region, reader
/// `In(x)`, a task waiting on the reader's `ScopedFuture`), where `datadeps` then never
/// returns.
#[test]
fn waiting_on_a_future_in_a_task_run_on_top_of_its_dependency_does_not_deadlock() {
    let _serial = setup();
    let _wd = watchdog("waiting_on_a_future_in_a_task_run_on_top_of_its_dependency", 60);
    let tile = Tile::<f64>::zeros(2, 2);
    let go = Arc::new(AtomicBool::new(false));
    let busy = OtherWorkersBusy::new();
    let _holder = start_holder(&tile, &go);
    let reader = spawn_with(TaskOptions::named("reader"), (In(tile.clone()),), |(v,)| v.sum());
    let waiter = spawn_with(TaskOptions::named("waiter"), (), move |()| reader.wait());
    go.store(true, Ordering::SeqCst);
    // The holder's nested region takes 10 ms; allow far more, then free the other workers.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while !waiter.is_finished() && Instant::now() < deadline {
        sleep(Duration::from_millis(5));
    }
    drop(busy);
    let deadline = Instant::now() + Duration::from_millis(500);
    while !waiter.is_finished() && Instant::now() < deadline {
        sleep(Duration::from_millis(5));
    }
    assert!(
        waiter.is_finished(),
        "deadlock: the waiter waits for the reader, which waits for the holder, stuck under the waiter"
    );
    assert_eq!(waiter.wait(), Ok(Ok(4.0)));
}
