//! Parallelism and ordering, read from the runtime's trace (start and end of every task).
//!
//! - Tasks on disjoint data (slices, strided slices, complementary triangles, readers of
//!   the same data) overlap in time when there are two workers.
//! - Conflicting tasks (a chain of `InOut`, `In` after `Out` on overlapping slices,
//!   `Diagonal` after `UpperTriangular`, `Out` after `In`, …) never overlap: each starts
//!   after its predecessor ended, even while a worker is free to run it (shown by an
//!   independent task overlapping the chain).
//! - Ready tasks start in priority order, equal priorities first-come first-served
//!   (deterministic: all workers but one are kept busy while the queue is filled).
//!
//! The trace is process-global, so every test here holds `LOCK`; tasks get names and
//! only named events are looked at. Overlap uses sleeps of 50 ms, and ordering uses
//! the trace's timestamps, never wall-clock guesses.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use mosaic::datadeps::{Scope, WriteHandle};
use mosaic::prelude::*;
use mosaic::trace::Event;
use ndarray::{s, Array1, Array2, Ix1};

static LOCK: Mutex<()> = Mutex::new(());

/// Takes the lock and asks for two workers; returns the guard and the worker count.
fn setup() -> (MutexGuard<'static, ()>, usize) {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // Every test of this binary asks for 2 before anything else starts the runtime.
    mosaic::set_num_threads(2);
    (guard, mosaic::num_threads())
}

/// Runs `f` with tracing on; returns its result and the recorded events.
fn traced<R>(f: impl FnOnce() -> R) -> (R, Vec<Event>) {
    mosaic::trace::start();
    let r = f();
    let trace = mosaic::trace::stop();
    (r, trace.events().to_vec())
}

/// The one event called `name`.
fn event<'a>(events: &'a [Event], name: &str) -> &'a Event {
    let mut found = events.iter().filter(|e| e.name == name);
    let e = found
        .next()
        .unwrap_or_else(|| panic!("no event `{name}` in the trace"));
    assert!(found.next().is_none(), "several events `{name}`");
    assert!(!e.cancelled, "`{name}` was cancelled");
    assert!(e.start_ns <= e.end_ns, "`{name}` ends before it starts");
    e
}

fn overlap(a: &Event, b: &Event) -> bool {
    a.start_ns < b.end_ns && b.start_ns < a.end_ns
}

/// `later` started after `earlier` ended.
fn assert_after(events: &[Event], earlier: &str, later: &str) {
    let (a, b) = (event(events, earlier), event(events, later));
    assert!(
        a.end_ns <= b.start_ns,
        "`{later}` (start {} ns) must wait for `{earlier}` (end {} ns)",
        b.start_ns,
        a.end_ns
    );
}

/// With two workers, the two tasks ran at the same time (on different workers); with
/// one, one after the other.
fn assert_parallel(events: &[Event], workers: usize, x: &str, y: &str) {
    let (a, b) = (event(events, x), event(events, y));
    if workers >= 2 {
        assert!(
            overlap(a, b),
            "`{x}` [{}, {}] and `{y}` [{}, {}] should overlap",
            a.start_ns,
            a.end_ns,
            b.start_ns,
            b.end_ns
        );
        assert_ne!(a.worker, b.worker, "overlapping tasks on one worker");
    } else {
        assert!(!overlap(a, b), "one worker ran two tasks at once");
    }
}

fn nap(ms: u64) {
    sleep(Duration::from_millis(ms));
}

#[test]
fn runtime_uses_the_requested_two_workers() {
    let (_g, workers) = setup();
    // If this fails, the overlap assertions of this file degrade to their one-worker form.
    assert_eq!(workers, 2, "set_num_threads(2) was not honoured");
    let mut x = Array1::<f64>::zeros(2);
    let (_, events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            s.spawn_with(
                TaskOptions::named("w0"),
                (InOut(h.slice(s![0..1])),),
                |(mut v,)| {
                    nap(50);
                    v.fill(1.0)
                },
            );
            s.spawn_with(
                TaskOptions::named("w1"),
                (InOut(h.slice(s![1..2])),),
                |(mut v,)| {
                    nap(50);
                    v.fill(2.0)
                },
            );
        })
    });
    assert_eq!(x.to_vec(), vec![1.0, 2.0]);
    let ws: Vec<Option<usize>> = ["w0", "w1"].iter().map(|n| event(&events, n).worker).collect();
    // `None`: the region's own thread, which runs a ready task while it waits in place of
    // a worker that sleeps.
    assert!(
        ws.iter().all(|w| w.is_none_or(|w| w < 2)),
        "events on unknown threads: {ws:?}"
    );
    assert_parallel(&events, workers, "w0", "w1");
}

#[test]
fn independent_tasks_on_disjoint_slices_overlap() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("independent_tasks_on_disjoint_slices_overlap", 60);
    const NAMES: [&str; 4] = ["slice0", "slice1", "slice2", "slice3"];
    let mut x = Array1::<f64>::zeros(400);
    let (_, events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            for (k, name) in NAMES.into_iter().enumerate() {
                let part = h.slice(s![k * 100..(k + 1) * 100]);
                s.spawn_with(TaskOptions::named(name), (InOut(part),), move |(mut v,)| {
                    nap(50);
                    v.fill(k as f64 + 1.0);
                });
            }
        })
    });
    for k in 0..4 {
        assert!(x
            .slice(s![k * 100..(k + 1) * 100])
            .iter()
            .all(|&v| v == k as f64 + 1.0));
    }
    let evs: Vec<&Event> = NAMES.iter().map(|n| event(&events, n)).collect();
    let overlapping: Vec<(usize, usize)> = (0..4)
        .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
        .filter(|&(i, j)| overlap(evs[i], evs[j]))
        .collect();
    if workers >= 2 {
        assert!(
            !overlapping.is_empty(),
            "four independent 50 ms tasks never overlapped: {evs:?}"
        );
        for &(i, j) in &overlapping {
            assert_ne!(evs[i].worker, evs[j].worker, "a worker ran two tasks at once");
        }
    } else {
        assert!(overlapping.is_empty(), "one worker ran two tasks at once");
    }
}

#[test]
fn chain_of_inout_tasks_never_overlaps_while_an_independent_task_runs_beside_it() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("chain_of_inout_tasks_never_overlaps", 60);
    const CHAIN: [&str; 4] = ["chain0", "chain1", "chain2", "chain3"];
    let mut x = Array1::<f64>::zeros(16);
    let mut y = Array1::<f64>::zeros(16);
    let (_, events) = traced(|| {
        datadeps(|s| {
            let hx = s.write(&mut x);
            let hy = s.write(&mut y);
            for (k, name) in CHAIN.into_iter().enumerate() {
                // Alternate the whole array with overlapping slices.
                let part = if k % 2 == 0 { hx } else { hx.slice(s![k..k + 4]) };
                s.spawn_with(TaskOptions::named(name), (InOut(part),), move |(mut v,)| {
                    nap(15);
                    v.mapv_inplace(|e| e * 10.0 + k as f64);
                });
            }
            s.spawn_with(TaskOptions::named("beside"), (InOut(hy),), |(mut v,)| {
                nap(50);
                v.fill(7.0);
            });
        })
    });
    // Serial order: x = ((0*10+0)*10+1 on 1..5)*10+2 …, computed directly.
    let mut want = Array1::<f64>::zeros(16);
    for k in 0..4 {
        let mut part = if k % 2 == 0 {
            want.view_mut()
        } else {
            want.slice_mut(s![k..k + 4])
        };
        part.mapv_inplace(|e| e * 10.0 + k as f64);
    }
    assert_eq!(x, want);
    assert!(y.iter().all(|&v| v == 7.0));
    for pair in CHAIN.windows(2) {
        assert_after(&events, pair[0], pair[1]);
    }
    if workers >= 2 {
        // A worker was free during the chain, so only the dependencies kept it serial.
        let beside = event(&events, "beside");
        assert!(
            CHAIN.iter().any(|n| overlap(event(&events, n), beside)),
            "the independent task never ran beside the chain"
        );
    }
}

#[test]
fn read_after_write_on_overlapping_slices_waits_and_disjoint_read_does_not() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("read_after_write_on_overlapping_slices", 60);
    let mut x = Array1::<f64>::zeros(100);
    let ((seen_overlap, seen_disjoint), events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            s.spawn_with(
                TaskOptions::named("out0..60"),
                (Out(h.slice(s![0..60])),),
                |(mut v,)| {
                    nap(50);
                    v.fill(1.0);
                },
            );
            // Shares 50..60 with the writer: must see its result.
            let a = s.spawn_with(
                TaskOptions::named("in50..100"),
                (In(h.slice(s![50..100])),),
                |(v,)| v.sum(),
            );
            // Disjoint from the writer: free to run at once.
            let b = s.spawn_with(
                TaskOptions::named("in60..100"),
                (In(h.slice(s![60..100])),),
                |(v,)| {
                    nap(50);
                    v.sum()
                },
            );
            (a.wait().unwrap(), b.wait().unwrap())
        })
    });
    assert_eq!(seen_overlap, 10.0, "the reader ran before the writer finished");
    assert_eq!(seen_disjoint, 0.0);
    assert_after(&events, "out0..60", "in50..100");
    assert_parallel(&events, workers, "out0..60", "in60..100");
}

#[test]
fn write_after_read_waits_for_every_reader_and_readers_share() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("write_after_read_waits_for_every_reader", 60);
    let mut x = Array1::<f64>::from_elem(10, 1.0);
    let ((r1, r2), events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            let r1 = s.spawn_with(TaskOptions::named("reader1"), (In(h),), |(v,)| {
                nap(50);
                v.sum()
            });
            let r2 = s.spawn_with(TaskOptions::named("reader2"), (In(h.slice(s![..;3])),), |(v,)| {
                nap(50);
                v.sum()
            });
            s.spawn_with(
                TaskOptions::named("overwrite"),
                (Out(h.slice(s![9..])),),
                |(mut v,)| v.fill(5.0),
            );
            s.spawn_with(TaskOptions::named("rewrite"), (Out(h),), |(mut v,)| v.fill(2.0));
            (r1.wait().unwrap(), r2.wait().unwrap())
        })
    });
    assert_eq!((r1, r2), (10.0, 4.0), "a reader saw a later write");
    assert!(x.iter().all(|&v| v == 2.0));
    // Both readers read element 9, which `overwrite` writes.
    assert_after(&events, "reader1", "overwrite");
    assert_after(&events, "reader2", "overwrite");
    assert_after(&events, "reader1", "rewrite");
    assert_after(&events, "reader2", "rewrite");
    assert_after(&events, "overwrite", "rewrite");
    assert_parallel(&events, workers, "reader1", "reader2");
}

#[test]
fn complementary_triangles_overlap_and_diagonal_waits_for_upper() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("complementary_triangles_overlap", 60);
    let mut m = Array2::<f64>::zeros((6, 6));
    let (_, events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut m);
            s.spawn_with(
                TaskOptions::named("upper"),
                (InOut(UpperTriangular(h)),),
                |(mut u,)| {
                    nap(50);
                    u.fill(1.0);
                },
            );
            s.spawn_with(
                TaskOptions::named("unit-lower"),
                (InOut(UnitLowerTriangular(h)),),
                |(mut l,)| {
                    nap(50);
                    l.fill(2.0);
                },
            );
            s.spawn_with(
                TaskOptions::named("diagonal"),
                (InOut(Diagonal(h)),),
                |(mut d,)| d *= 10.0,
            );
        })
    });
    for ((i, j), &v) in m.indexed_iter() {
        let want = match i.cmp(&j) {
            std::cmp::Ordering::Less => 1.0,
            std::cmp::Ordering::Equal => 10.0,
            std::cmp::Ordering::Greater => 2.0,
        };
        assert_eq!(v, want, "at ({i}, {j})");
    }
    assert_parallel(&events, workers, "upper", "unit-lower");
    assert_after(&events, "upper", "diagonal");
}

#[test]
fn lower_and_unit_upper_overlap_but_upper_and_lower_share_the_diagonal() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("lower_and_unit_upper_overlap", 60);
    let mut m = Array2::<f64>::zeros((5, 5));
    let (_, events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut m);
            s.spawn_with(
                TaskOptions::named("lower"),
                (InOut(LowerTriangular(h)),),
                |(mut l,)| {
                    nap(50);
                    l.fill(1.0);
                },
            );
            s.spawn_with(
                TaskOptions::named("unit-upper"),
                (Out(UnitUpperTriangular(h)),),
                |(mut u,)| {
                    nap(50);
                    u.fill(2.0);
                },
            );
            // Shares the diagonal with `lower`.
            s.spawn_with(TaskOptions::named("upper"), (In(UpperTriangular(h)),), |(u,)| {
                let (n, _) = u.dim();
                assert_eq!(
                    u.get(0, 0),
                    Some(&1.0),
                    "the upper reader ran before `lower` wrote the diagonal"
                );
                assert_eq!(u.get(1, 0), None);
                n
            });
        })
    });
    assert_parallel(&events, workers, "lower", "unit-upper");
    assert_after(&events, "lower", "upper");
    assert_after(&events, "unit-upper", "upper");
}

/// Spawns a task named `name` that sleeps 50 ms, then adds `val` to `part`.
fn add_slowly<'s>(s: &'s Scope<'s, '_>, name: &'static str, part: WriteHandle<'s, f64, Ix1>, val: f64) {
    s.spawn_with(TaskOptions::named(name), (InOut(part),), move |(mut v,)| {
        nap(50);
        v += val;
    });
}

#[test]
fn strided_slices_overlap_exactly_when_they_share_no_element() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("strided_slices_overlap_exactly", 60);
    let mut x = Array1::<f64>::zeros(12);
    let mut m = Array2::<f64>::zeros((4, 4));
    let (_, events) = traced(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            // Evens and odds, the odds walked backwards: disjoint.
            add_slowly(s, "evens", h.slice(s![..;2]), 1.0);
            add_slowly(s, "odds-reversed", h.slice(s![..;-2]), 2.0);
            // Multiples of 3 share 0, 6 with the evens and 3, 9 with the odds.
            add_slowly(s, "threes", h.slice(s![..;3]), 4.0);
        });
        datadeps(|s| {
            let hm = s.write(&mut m);
            add_slowly(s, "row0", hm.slice(s![0, ..]), 1.0);
            add_slowly(s, "row1", hm.slice(s![1, ..]), 2.0);
            // Column 0 crosses both rows.
            add_slowly(s, "col0", hm.slice(s![.., 0]), 4.0);
        })
    });
    let want_x: Vec<f64> = (0..12)
        .map(|i| [1.0, 2.0][i % 2] + if i % 3 == 0 { 4.0 } else { 0.0 })
        .collect();
    assert_eq!(x.to_vec(), want_x);
    assert_eq!(
        (m[(0, 0)], m[(1, 0)], m[(2, 0)], m[(0, 3)], m[(1, 3)], m[(3, 3)]),
        (5.0, 6.0, 4.0, 1.0, 2.0, 0.0)
    );
    assert_parallel(&events, workers, "evens", "odds-reversed");
    assert_after(&events, "evens", "threes");
    assert_after(&events, "odds-reversed", "threes");
    assert_parallel(&events, workers, "row0", "row1");
    assert_after(&events, "row0", "col0");
    assert_after(&events, "row1", "col0");
}

/// Releases every blocker when dropped, so that a failing assertion cannot leave a region
/// waiting forever.
struct ReleaseAll<'a>(&'a [AtomicBool]);

impl Drop for ReleaseAll<'_> {
    fn drop(&mut self) {
        for flag in self.0 {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn ready_tasks_start_in_priority_order_then_fifo() {
    let (_g, workers) = setup();
    let _wd = common::watchdog("ready_tasks_start_in_priority_order", 60);
    let started = AtomicUsize::new(0);
    let release: Vec<AtomicBool> = (0..workers).map(|_| AtomicBool::new(false)).collect();
    let order = Mutex::new(Vec::new());
    datadeps(|s| {
        let _release_all = ReleaseAll(&release);
        // Occupy every worker.
        for flag in &release {
            let started = &started;
            s.spawn_with(TaskOptions::named("blocker"), (), move |()| {
                started.fetch_add(1, Ordering::SeqCst);
                while !flag.load(Ordering::SeqCst) {
                    nap(1);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while started.load(Ordering::SeqCst) < workers {
            assert!(Instant::now() < deadline, "the blockers did not all start");
            nap(1);
        }
        // Every worker is busy: these all wait in the ready queue.
        let specs = [
            ("p1", 1),
            ("p5", 5),
            ("p3", 3),
            ("p-2", -2),
            ("p5-second", 5),
            ("p0", 0),
            ("p0-second", 0),
        ];
        let futures: Vec<_> = specs
            .iter()
            .map(|&(name, priority)| {
                let order = &order;
                s.spawn_with(TaskOptions::named(name).priority(priority), (), move |()| {
                    order.lock().unwrap().push(name)
                })
            })
            .collect();
        // Free one worker: it alone drains the queue, highest priority first.
        release[0].store(true, Ordering::SeqCst);
        for f in futures {
            f.wait().unwrap();
        }
    });
    assert_eq!(
        *order.lock().unwrap(),
        ["p5", "p5-second", "p3", "p1", "p0", "p0-second", "p-2"]
    );
}
