//! Panics in tasks: propagation, cancellation, and recovery.
//!
//! - A region re-raises an unobserved task panic with its original payload, after all its
//!   other tasks are done; a panic observed through `ScopedFuture::wait` is returned as
//!   `Err(TaskPanicked)` instead and not re-raised.
//! - Tasks reading data a failed task wrote are cancelled (their closures dropped unrun,
//!   their futures `Err(DependencyFailed)`), transitively; independent tasks, tasks on
//!   disjoint parts, and `Out` tasks still run, and an `Out` covering the failed write
//!   clears the failure for later readers (bound arrays and tiles alike).
//! - A panicking region body still waits for its tasks.
//! - A task declaring overlapping accesses of which one writes panics at `spawn` with a
//!   clear message, and leaves nothing behind.
//! - The runtime stays usable: later and concurrent regions compute correctly.
//!
//! Every test runs under a watchdog that aborts the process if it hangs. Deliberate panic
//! messages start with "deliberate" and are kept out of the test output.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::Duration;

use common::{payload_text, watchdog};
use mosaic::datadeps::spawn_with;
use mosaic::prelude::*;
use ndarray::{s, Array1, Array2};

/// Guards the (process-global) trace.
static TRACE_LOCK: Mutex<()> = Mutex::new(());

/// A non-string panic payload.
#[derive(Debug, PartialEq)]
struct Custom(u32);

/// Keeps deliberate panics out of the output; everything else goes to the default hook.
fn quiet_deliberate_panics() {
    common::silence_panics(|payload| {
        let text = payload_text(payload);
        payload.is::<Custom>()
            || text.starts_with("deliberate")
            || text.starts_with("a task declares overlapping accesses")
    });
}

fn nap(ms: u64) {
    sleep(Duration::from_millis(ms));
}

/// Counts how often it is dropped: lets a test see that a cancelled closure was dropped.
struct DropCounter<'a>(&'a AtomicUsize);

impl Drop for DropCounter<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

const WRITER: &str = "writer";
const WRITER_FAILED: &str = "deliberate: writer failed";

/// The error of a task `name` cancelled because of `root`'s panic with `message`, however
/// many cancelled tasks lie between.
fn dependency_failed(name: &str, root: &str, message: &str) -> Error {
    Error::DependencyFailed {
        task: name.to_owned(),
        cause: format!("task `{root}` panicked: {message}"),
    }
}

#[test]
fn region_reraises_an_unobserved_task_panic_with_its_payload() {
    quiet_deliberate_panics();
    let _wd = watchdog("region_reraises_an_unobserved_task_panic_with_its_payload", 60);
    // A formatted message (a `String` payload: the number is not a compile-time constant).
    let k = std::hint::black_box(7);
    let err = catch_unwind(|| {
        datadeps(|s| {
            s.spawn((), move |()| panic!("deliberate: task {k} failed"));
        })
    })
    .expect_err("the region must re-raise the task's panic");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("deliberate: task 7 failed")
    );

    // A literal message (a `&'static str` payload).
    let err = catch_unwind(|| {
        datadeps(|s| {
            s.spawn((), |()| panic!("deliberate: literal"));
        })
    })
    .expect_err("the region must re-raise the task's panic");
    assert_eq!(err.downcast_ref::<&str>().copied(), Some("deliberate: literal"));

    let err = catch_unwind(|| {
        datadeps(|s| {
            s.spawn((), |()| std::panic::panic_any(Custom(42)));
        })
    })
    .expect_err("the region must re-raise the task's panic");
    assert_eq!(
        err.downcast_ref::<Custom>(),
        Some(&Custom(42)),
        "the payload was not preserved"
    );
}

#[test]
fn first_failure_in_dependency_order_is_the_one_reraised() {
    quiet_deliberate_panics();
    let _wd = watchdog("first_failure_in_dependency_order_is_the_one_reraised", 60);
    let mut x = Array1::<f64>::zeros(4);
    let err = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            s.spawn((InOut(h),), |_| -> () { panic!("deliberate: first") });
            // Runs after the first (it writes the same data without reading it), fails too.
            s.spawn((Out(h),), |_| -> () { panic!("deliberate: second") });
        })
    }))
    .unwrap_err();
    assert_eq!(payload_text(err.as_ref()), "deliberate: first");
}

#[test]
fn failure_cancels_readers_of_its_writes_and_spares_everything_else() {
    quiet_deliberate_panics();
    let _wd = watchdog("failure_cancels_readers_of_its_writes", 60);
    let mut x = Array1::<f64>::zeros(8);
    let (mut y, mut z, mut w, mut u) = (
        Array1::<f64>::zeros(4),
        Array1::<f64>::zeros(4),
        Array1::zeros(4),
        Array1::zeros(4),
    );
    let drops = AtomicUsize::new(0);
    let cancelled_ran = AtomicBool::new(false);
    let mut results = None;
    let err = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            let (hx, hy, hz, hw, hu) = (
                s.write(&mut x),
                s.write(&mut y),
                s.write(&mut z),
                s.write(&mut w),
                s.write(&mut u),
            );
            s.spawn_with(
                TaskOptions::named("writer"),
                (InOut(hx.slice(s![..4])),),
                |(mut v,)| {
                    v.fill(1.0);
                    panic!("deliberate: writer failed");
                },
            );
            let independent = s.spawn_with(TaskOptions::named("independent"), (InOut(hy),), |(mut v,)| {
                v.fill(2.0)
            });
            // Reads x[4..], which the writer did not touch.
            let disjoint = s.spawn_with(
                TaskOptions::named("disjoint"),
                (In(hx.slice(s![4..])), Out(hw)),
                |(xs, mut v)| {
                    nap(10);
                    v.fill(xs.sum() + 3.0)
                },
            );
            // Reads x[2..6], half of it written by the failed writer: cancelled.
            let guard = DropCounter(&drops);
            let cancelled_ran = &cancelled_ran;
            let reader = s.spawn_with(
                TaskOptions::named("reader"),
                (In(hx.slice(s![2..6])), InOut(hz)),
                move |(_, mut v)| {
                    let _guard = guard;
                    cancelled_ran.store(true, Ordering::SeqCst);
                    v.fill(9.0)
                },
            );
            // Reads z, which the cancelled reader "wrote": cancelled in turn.
            let reader_of_reader =
                s.spawn_with(TaskOptions::named("reader-of-reader"), (InOut(hz),), |(mut v,)| {
                    cancelled_ran.store(true, Ordering::SeqCst);
                    v += 1.0
                });
            // Every other element: x[1] and x[3] were written by the failed writer.
            let strided = s.spawn_with(
                TaskOptions::named("strided"),
                (In(hx.slice(s![1..;2])),),
                |(v,)| v.sum(),
            );
            // Reads only x[5] and x[7]: runs.
            let strided_far = s.spawn_with(
                TaskOptions::named("strided-far"),
                (In(hx.slice(s![5..;2])), Out(hu)),
                |(v, mut o)| o.fill(v.sum() + 4.0),
            );
            // Overwrites what the writer failed to write, without reading it: runs.
            let out = s.spawn_with(TaskOptions::named("out"), (Out(hx.slice(s![..4])),), |(mut v,)| {
                v.fill(5.0)
            });
            // Reads data the `Out` task wrote: runs and sees it.
            let after = s.spawn_with(TaskOptions::named("after"), (In(hx),), |(v,)| v.sum());
            results = Some([
                independent.wait().map(|()| 0.0),
                disjoint.wait().map(|()| 0.0),
                reader.wait().map(|()| 0.0),
                reader_of_reader.wait().map(|()| 0.0),
                strided.wait(),
                strided_far.wait().map(|()| 0.0),
                out.wait().map(|()| 0.0),
                after.wait(),
            ]);
        })
    }))
    .expect_err("the writer's panic must be re-raised");
    assert_eq!(payload_text(err.as_ref()), "deliberate: writer failed");
    let results = results.expect("the region body finished");
    assert_eq!(
        results,
        [
            Ok(0.0),
            Ok(0.0),
            Err(dependency_failed("reader", WRITER, WRITER_FAILED)),
            Err(dependency_failed("reader-of-reader", WRITER, WRITER_FAILED)),
            Err(dependency_failed("strided", WRITER, WRITER_FAILED)),
            Ok(0.0),
            Ok(0.0),
            Ok(20.0),
        ]
    );
    assert!(y.iter().all(|&v| v == 2.0), "the independent task did not run");
    assert!(
        w.iter().all(|&v| v == 3.0),
        "the task on the untouched half did not run"
    );
    assert!(
        u.iter().all(|&v| v == 4.0),
        "the task on untouched elements did not run"
    );
    assert!(z.iter().all(|&v| v == 0.0), "a cancelled task ran: {z}");
    assert!(!cancelled_ran.load(Ordering::SeqCst), "a cancelled closure ran");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the cancelled closure was not dropped exactly once"
    );
    assert_eq!(x.to_vec(), [5.0, 5.0, 5.0, 5.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn cancellation_propagates_through_chains_of_written_data() {
    quiet_deliberate_panics();
    let _wd = watchdog("cancellation_propagates_through_chains", 60);
    let (mut a, mut b, mut c) = (
        Array1::<f64>::zeros(3),
        Array1::<f64>::zeros(3),
        Array1::<f64>::zeros(3),
    );
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            let (ha, hb, hc) = (s.write(&mut a), s.write(&mut b), s.write(&mut c));
            let root = s.spawn_with(TaskOptions::named("root"), (Out(ha),), |_| -> () {
                panic!("deliberate: root")
            });
            let ab = s.spawn_with(TaskOptions::named("a->b"), (In(ha), Out(hb)), |(x, mut y)| {
                y.assign(&x)
            });
            let bc = s.spawn_with(TaskOptions::named("b->c"), (In(hb), Out(hc)), |(x, mut y)| {
                y.assign(&x)
            });
            let c_reader = s.spawn_with(TaskOptions::named("c-reader"), (In(hc),), |(v,)| v.sum());
            // A fresh write of b, and a reader of it: the chain is broken here.
            let b_fresh = s.spawn_with(TaskOptions::named("b-fresh"), (Out(hb),), |(mut v,)| v.fill(6.0));
            let b_reader = s.spawn_with(TaskOptions::named("b-reader"), (In(hb),), |(v,)| v.sum());
            (
                root.wait(),
                [ab.wait(), bc.wait(), b_fresh.wait()],
                c_reader.wait(),
                b_reader.wait(),
            )
        })
    }))
    .expect("the root's panic was observed, so the region must not re-raise it");
    let (root, middle, c_reader, b_reader) = outcome;
    assert_eq!(
        root,
        Err(Error::TaskPanicked {
            task: "root".to_owned(),
            message: "deliberate: root".to_owned()
        })
    );
    assert_eq!(
        middle,
        [
            Err(dependency_failed("a->b", "root", "deliberate: root")),
            Err(dependency_failed("b->c", "root", "deliberate: root")),
            Ok(())
        ]
    );
    assert_eq!(
        c_reader,
        Err(dependency_failed("c-reader", "root", "deliberate: root"))
    );
    assert_eq!(b_reader, Ok(18.0));
    assert_eq!(b.to_vec(), [6.0; 3]);
    assert_eq!(c.to_vec(), [0.0; 3]);
}

#[test]
fn observed_panics_are_not_reraised_but_unobserved_ones_are() {
    quiet_deliberate_panics();
    let _wd = watchdog("observed_panics_are_not_reraised", 60);
    let mut x = Array1::<f64>::zeros(4);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            let f = s.spawn_with(TaskOptions::named("observed"), (InOut(h),), |_| -> () {
                panic!("deliberate: observed")
            });
            let e = f.wait();
            // Its dependents are cancelled all the same.
            let dependent = s.spawn_with(TaskOptions::named("dependent"), (In(h),), |(v,)| v.sum());
            (e, dependent.wait())
        })
    }));
    let (e, dependent) = outcome.expect("an observed panic must not be re-raised");
    let e = e.unwrap_err();
    assert_eq!(
        e,
        Error::TaskPanicked {
            task: "observed".to_owned(),
            message: "deliberate: observed".to_owned()
        }
    );
    let text = e.to_string();
    assert!(
        text.contains("observed") && text.contains("deliberate: observed"),
        "unhelpful message: {text}"
    );
    assert_eq!(
        dependent,
        Err(dependency_failed("dependent", "observed", "deliberate: observed"))
    );

    // One observed, one not: the unobserved one is re-raised.
    let err = catch_unwind(|| {
        datadeps(|s| {
            let seen = s.spawn((), |()| -> () { panic!("deliberate: seen") });
            s.spawn((), |()| -> () {
                nap(20);
                panic!("deliberate: unseen")
            });
            assert!(seen.wait().is_err());
        })
    })
    .unwrap_err();
    assert_eq!(payload_text(err.as_ref()), "deliberate: unseen");
}

#[test]
fn panicking_region_body_still_waits_for_its_tasks() {
    quiet_deliberate_panics();
    let _wd = watchdog("panicking_region_body_still_waits_for_its_tasks", 60);
    let mut x = Array1::<f64>::zeros(4);
    let finished = AtomicUsize::new(0);
    let err = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            let finished = &finished;
            s.spawn((InOut(h.slice(s![..2])),), move |(mut v,)| {
                nap(50);
                v.fill(3.0);
                finished.fetch_add(1, Ordering::SeqCst);
            });
            // Depends on the first: runs after it, still before the region returns.
            s.spawn((InOut(h),), move |(mut v,)| {
                v += 1.0;
                finished.fetch_add(1, Ordering::SeqCst);
            });
            panic!("deliberate: body failed");
        })
    }))
    .unwrap_err();
    assert_eq!(payload_text(err.as_ref()), "deliberate: body failed");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        2,
        "the region returned before its tasks finished"
    );
    assert_eq!(x.to_vec(), [4.0, 4.0, 1.0, 1.0]);

    // Body and task both panic: the body's panic wins, and the task still ran.
    let ran = AtomicBool::new(false);
    let err = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            s.spawn((), |()| {
                nap(20);
                ran.store(true, Ordering::SeqCst);
                panic!("deliberate: task failed");
            });
            panic!("deliberate: body failed too");
        })
    }))
    .unwrap_err();
    assert_eq!(payload_text(err.as_ref()), "deliberate: body failed too");
    assert!(ran.load(Ordering::SeqCst));
}

#[test]
fn global_future_reports_panic_and_poisons_the_tile_until_overwritten() {
    quiet_deliberate_panics();
    let _wd = watchdog("global_future_reports_panic_and_poisons_the_tile", 60);
    let t = Tile::<f64>::zeros(3, 3);
    let failing = spawn_with(TaskOptions::named("exploding"), (InOut(t.clone()),), |(mut v,)| {
        v.fill(1.0);
        panic!("deliberate: tile task failed");
    });
    let reader = spawn_with(TaskOptions::named("tile-reader"), (In(t.clone()),), |(v,)| {
        v.sum()
    });
    let part = spawn_with(
        TaskOptions::named("tile-upper"),
        (InOut(UpperTriangular(t.clone())),),
        |(mut u,)| u.fill(2.0),
    );
    assert_eq!(
        failing.wait(),
        Err(Error::TaskPanicked {
            task: "exploding".to_owned(),
            message: "deliberate: tile task failed".to_owned()
        })
    );
    let (root, message) = ("exploding", "deliberate: tile task failed");
    assert_eq!(
        reader.wait(),
        Err(dependency_failed("tile-reader", root, message))
    );
    assert_eq!(part.wait(), Err(dependency_failed("tile-upper", root, message)));
    assert!(
        matches!(t.to_ndarray(), Err(Error::DependencyFailed { .. })),
        "a copy of failed data was handed out"
    );

    // A region task reading the tile is cancelled as well; observed through its future,
    // the cancellation does not fail the region.
    let in_region = datadeps(|s| s.spawn((In(t.clone()),), |(v,)| v.sum()).wait());
    assert!(matches!(in_region, Err(Error::DependencyFailed { .. })));
    // Unobserved, it does: the region must not return as if the task had run.
    let err = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            s.spawn_with(
                TaskOptions::named("unobserved-reader"),
                (In(t.clone()),),
                |(v,)| v.sum(),
            );
        })
    }))
    .expect_err("a region with a cancelled, unobserved task must not return normally");
    let text = payload_text(err.as_ref());
    assert!(
        text.contains("unobserved-reader")
            && text.contains("did not run")
            && text.contains("deliberate: tile task failed"),
        "got: {text}"
    );

    // A full `Out` write clears the failure.
    spawn((Out(t.clone()),), |(mut v,)| v.fill(7.0))
        .wait()
        .expect("an Out task is not cancelled");
    assert_eq!(spawn((In(t.clone()),), |(v,)| v.sum()).wait(), Ok(63.0));
    assert_eq!(t.to_ndarray().unwrap(), Array2::from_elem((3, 3), 7.0));
}

#[test]
fn detached_failed_future_poisons_silently() {
    quiet_deliberate_panics();
    let _wd = watchdog("detached_failed_future_poisons_silently", 60);
    let t = Tile::<f64>::zeros(2, 2);
    drop(spawn((InOut(t.clone()),), |_| -> () {
        panic!("deliberate: detached")
    }));
    match t.to_ndarray() {
        Err(Error::DependencyFailed { cause, .. }) => {
            assert!(
                cause.contains("deliberate: detached"),
                "the panic is named: {cause}"
            )
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
    // A region that binds nothing failed is unaffected.
    let v = datadeps(|s| s.spawn((), |()| 5).wait());
    assert_eq!(v, Ok(5));
}

#[test]
fn self_overlapping_accesses_panic_at_spawn_and_leave_nothing_behind() {
    quiet_deliberate_panics();
    let _wd = watchdog("self_overlapping_accesses_panic_at_spawn", 60);
    let mut x = Array1::<f64>::zeros(8);
    let mut m = Array2::<f64>::zeros((3, 3));
    let rejected = |r: std::thread::Result<()>| -> String {
        let payload = r.expect_err("aliasing accesses were accepted");
        payload_text(payload.as_ref())
    };
    let accepted = |r: std::thread::Result<()>| assert!(r.is_ok(), "disjoint accesses were rejected");
    datadeps(|s| {
        let h = s.write(&mut x);
        let hm = s.write(&mut m);
        let text = rejected(catch_unwind(AssertUnwindSafe(|| {
            s.spawn((InOut(h), In(h.slice(s![..2]))), |_| ());
        })));
        assert!(
            text.contains("declares overlapping accesses #0")
                && text.contains("#1")
                && text.contains("alias"),
            "unclear message: {text}"
        );
        // Even and from-4 slices share 4 and 6.
        rejected(catch_unwind(AssertUnwindSafe(|| {
            s.spawn((Out(h.slice(s![..;2])), InOut(h.slice(s![4..]))), |_| ());
        })));
        rejected(catch_unwind(AssertUnwindSafe(|| {
            s.spawn((In(hm), In(h), InOut(Diagonal(hm))), |_| ());
        })));
        rejected(catch_unwind(AssertUnwindSafe(|| {
            s.spawn((InOut(UpperTriangular(hm)), In(LowerTriangular(hm))), |_| ());
        })));
        accepted(catch_unwind(AssertUnwindSafe(|| {
            s.spawn(
                (InOut(UpperTriangular(hm)), In(UnitLowerTriangular(hm))),
                |(mut u, l)| {
                    u.for_each_mut(|i, j, x| {
                        *x = 1.0 + l.get(j + 1, j).copied().unwrap_or(0.0) + (i + j) as f64
                    });
                },
            );
        })));
        accepted(catch_unwind(AssertUnwindSafe(|| {
            s.spawn((In(h), In(h.slice(s![..;-1]))), |_| ());
            s.spawn((Out(h.slice(s![..;2])), In(h.slice(s![1..;2]))), |(mut e, o)| {
                e.assign(&o)
            });
        })));
        // A rejected task left no trace: this one, touching everything, runs.
        s.spawn((InOut(h),), |(mut v,)| v += 1.0);
        s.spawn((InOut(hm),), |(mut v,)| v *= 2.0);
    });
    assert_eq!(x.to_vec(), [1.0; 8]);
    assert_eq!(
        m,
        ndarray::arr2(&[[2.0, 4.0, 6.0], [0.0, 6.0, 8.0], [0.0, 0.0, 10.0]])
    );

    // Tiles too, outside a region.
    let t = Tile::<f64>::zeros(2, 2);
    let text = rejected(catch_unwind(|| {
        drop(spawn((InOut(t.clone()), In(t.clone())), |_| ()));
    }));
    assert!(
        text.contains("declares overlapping accesses"),
        "unclear message: {text}"
    );
    assert_eq!(spawn((InOut(t.clone()),), |(mut v,)| v.fill(1.0)).wait(), Ok(()));
}

#[test]
fn runtime_stays_usable_after_failures_and_regions_are_isolated() {
    quiet_deliberate_panics();
    let _wd = watchdog("runtime_stays_usable_after_failures", 60);
    let mut x = Array1::<f64>::zeros(64);
    for round in 0..5 {
        // One thread runs a failing region while another runs a healthy one.
        std::thread::scope(|scope| {
            let failing = scope.spawn(|| {
                catch_unwind(|| {
                    datadeps(|s| {
                        for k in 0..8 {
                            s.spawn((), move |()| {
                                nap(1);
                                if k % 3 == 0 {
                                    panic!("deliberate: round {round} task {k}");
                                }
                            });
                        }
                    })
                })
                .is_err()
            });
            datadeps(|s| {
                let h = s.write(&mut x);
                for k in 0..8 {
                    s.spawn((InOut(h.slice(s![k * 8..(k + 1) * 8])),), move |(mut v,)| {
                        v += k as f64
                    });
                    s.spawn((InOut(h),), |(mut v,)| v *= 2.0);
                }
            });
            assert!(failing.join().unwrap(), "the failing region did not re-raise");
        });
    }
    // Each round: x = ((x + k on block k) * 2) eight times, for each block.
    let mut want = Array1::<f64>::zeros(64);
    for _ in 0..5 {
        for k in 0..8 {
            want.slice_mut(s![k * 8..(k + 1) * 8])
                .mapv_inplace(|v| v + k as f64);
            want *= 2.0;
        }
    }
    assert_eq!(x, want);
}

#[test]
fn cancelled_tasks_are_traced_as_cancelled() {
    quiet_deliberate_panics();
    let _lock = TRACE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let _wd = watchdog("cancelled_tasks_are_traced_as_cancelled", 60);
    let mut x = Array1::<f64>::zeros(4);
    mosaic::trace::start();
    let r = catch_unwind(AssertUnwindSafe(|| {
        datadeps(|s| {
            let h = s.write(&mut x);
            s.spawn_with(TaskOptions::named("trace-fail"), (Out(h),), |_| -> () {
                panic!("deliberate: traced")
            });
            s.spawn_with(TaskOptions::named("trace-cancelled"), (In(h),), |_| ());
            s.spawn_with(TaskOptions::named("trace-ok"), (Out(h),), |_| ());
        })
    }));
    let trace = mosaic::trace::stop();
    assert!(r.is_err());
    let find = |name: &str| {
        let found: Vec<_> = trace.events().iter().filter(|e| e.name == name).collect();
        assert_eq!(found.len(), 1, "events named {name}: {found:?}");
        found[0].clone()
    };
    let (fail, cancelled, ok) = (find("trace-fail"), find("trace-cancelled"), find("trace-ok"));
    assert!(!fail.cancelled && cancelled.cancelled && !ok.cancelled);
    // Submission order, and the cancelled reader before the writer that follows it.
    assert!(fail.task < cancelled.task && cancelled.task < ok.task);
    assert!(fail.end_ns <= cancelled.start_ns && cancelled.end_ns <= ok.start_ns);
}

/// Regression (detached task panic lost its message): an elementwise task that panics is
/// detached (nobody holds its future), so its message used to reach nobody; readers of its
/// result now get it as the cause of their `DependencyFailed`, through further operations.
#[test]
fn detached_elementwise_panic_is_named_by_later_readers() {
    quiet_deliberate_panics();
    let _wd = watchdog("detached_elementwise_panic_is_named_by_later_readers", 60);
    let a = mosaic::DArray::<f64>::ones(mosaic::Blocks(2, 2), 4, 4);
    let b = a.map(|x| {
        if x > 0.0 {
            panic!("deliberate: map failed")
        } else {
            x
        }
    });
    let c = &(&b + &a) * 2.0;
    match c.try_to_ndarray() {
        Err(Error::DependencyFailed { cause, .. }) => {
            assert!(cause.contains("deliberate: map failed"), "{cause}");
            assert!(cause.contains("`map`"), "the failed task is named: {cause}");
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
}
