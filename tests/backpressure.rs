//! Back-pressure, in two places:
//! - a region that submits far more tasks than can be in flight (16,384 unfinished tasks
//!   per region) is held back and resumes, in the main thread and inside a task, and still
//!   gives the serial result;
//! - every submitter outside a task (the free `spawn`, which every `DArray` operation
//!   uses) waits while the runtime's unfinished tasks pass `SubmitLimits`, counted in tasks
//!   and in bytes of the distinct data they access, and resumes at half.
//!
//! Every test holds `LIMITS`: the counts are the runtime's, so tests running beside one
//! another would see each other's tasks.

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mosaic::prelude::*;
use mosaic::runtime::{self, SubmitLimits};
use ndarray::{s, Array1};

const TASKS: usize = 50_000;

static LIMITS: Mutex<()> = Mutex::new(());

#[test]
fn a_long_chain_passes_through_the_gate() {
    let _limits = LIMITS.lock().unwrap_or_else(|e| e.into_inner());
    let mut x = Array1::<u64>::zeros(1);
    datadeps(|s| {
        let h = s.write(&mut x);
        for i in 0..TASKS as u64 {
            // Order-sensitive: the result is only right if the chain ran in order.
            s.spawn((InOut(h),), move |(mut v,)| {
                v[0] = v[0].wrapping_mul(31).wrapping_add(i)
            });
        }
    });
    let serial = (0..TASKS as u64).fold(0u64, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
    assert_eq!(x[0], serial);
}

#[test]
fn a_nested_region_inside_a_task_passes_through_the_gate() {
    let _limits = LIMITS.lock().unwrap_or_else(|e| e.into_inner());
    let mut x = Array1::<u64>::zeros(64);
    datadeps(|s| {
        let h = s.write(&mut x);
        s.spawn((InOut(h),), |(mut v,)| {
            datadeps(|inner| {
                let w = inner.write(&mut v);
                for i in 0..TASKS {
                    let k = i % 64;
                    inner.spawn((InOut(w.slice(s![k..k + 1])),), |(mut e,)| e[0] += 1);
                }
            });
        });
    });
    let per_slot = (TASKS / 64) as u64;
    for (k, v) in x.iter().enumerate() {
        let extra = u64::from(k < TASKS % 64);
        assert_eq!(*v, per_slot + extra, "slot {k}");
    }
}

/// Waits until `done` holds, or fails after 20 s.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Submits `n` tasks from a thread of its own, each behind a gate task on `gate`, each
/// also writing `tile(i)`; returns the thread, a receiver of its progress (tasks submitted)
/// and the sender that opens the gate.
fn submit_behind_a_gate(
    n: usize,
    tile: impl Fn(usize) -> Tile<f64> + Send + 'static,
) -> (
    std::thread::JoinHandle<()>,
    mpsc::Receiver<usize>,
    mpsc::Sender<()>,
) {
    let gate = Tile::<f64>::zeros(1, 1);
    let (open, wait_open) = mpsc::channel::<()>();
    let gate_task = spawn((InOut(gate.clone()),), move |_| wait_open.recv().unwrap());
    let (progress, seen) = mpsc::channel();
    let submitter = std::thread::spawn(move || {
        let mut futures = Vec::with_capacity(n);
        for i in 0..n {
            futures.push(spawn((In(gate.clone()), InOut(tile(i))), |(_, mut t)| {
                t[(0, 0)] += 1.0
            }));
            progress.send(i + 1).unwrap();
        }
        for f in futures {
            f.wait().unwrap();
        }
        gate_task.wait().unwrap();
    });
    (submitter, seen, open)
}

#[test]
fn a_submitter_waits_while_too_many_tasks_are_unfinished() {
    let _limits = LIMITS.lock().unwrap_or_else(|e| e.into_inner());
    let before = runtime::submit_limits();
    runtime::set_submit_limits(SubmitLimits { tasks: 256, ..before });
    let throttled = runtime::in_flight().throttled;
    let target = Tile::<f64>::zeros(1, 1);
    let shared = target.clone();
    let (submitter, progress, open) = submit_behind_a_gate(2_000, move |_| shared.clone());
    // Everything waits for the gate: the submitter must stop near the limit (the counts
    // are looked at every 32nd task) instead of submitting all 2,000.
    eventually("the submitter is held back", || {
        runtime::in_flight().throttled > throttled
    });
    std::thread::sleep(Duration::from_millis(100));
    let submitted = progress.try_iter().last().unwrap_or(0);
    let in_flight = runtime::in_flight().tasks;
    assert!(
        submitted < 2_000,
        "the submitter was not held back ({submitted} submitted)"
    );
    assert!(
        in_flight <= 256 + 32 + 1,
        "{in_flight} tasks in flight with a limit of 256"
    );
    open.send(()).unwrap();
    submitter.join().unwrap();
    runtime::set_submit_limits(before);
    assert_eq!(
        target.to_ndarray().unwrap()[(0, 0)],
        2_000.0,
        "every task ran, in order"
    );
}

#[test]
fn a_submitter_waits_while_unfinished_tasks_hold_too_many_bytes() {
    let _limits = LIMITS.lock().unwrap_or_else(|e| e.into_inner());
    let before = runtime::submit_limits();
    // Each task writes a tile of its own: 64 × 64 f64 = 32 KiB; 2 MiB is room for ~64.
    let tile_bytes = 64 * 64 * 8;
    runtime::set_submit_limits(SubmitLimits {
        tasks: 1 << 20,
        bytes: 64 * tile_bytes,
    });
    let throttled = runtime::in_flight().throttled;
    let tiles: Vec<Tile<f64>> = (0..1_000).map(|_| Tile::zeros(64, 64)).collect();
    let kept = tiles.clone();
    let (submitter, progress, open) = submit_behind_a_gate(1_000, move |i| kept[i].clone());
    eventually("the submitter is held back", || {
        runtime::in_flight().throttled > throttled
    });
    std::thread::sleep(Duration::from_millis(100));
    let submitted = progress.try_iter().last().unwrap_or(0);
    let held = runtime::in_flight().bytes;
    assert!(
        submitted < 1_000,
        "the submitter was not held back ({submitted} submitted)"
    );
    assert!(
        held <= (64 + 32 + 1) * tile_bytes + 8,
        "{held} bytes held by unfinished tasks with a limit of {}",
        64 * tile_bytes
    );
    open.send(()).unwrap();
    submitter.join().unwrap();
    runtime::set_submit_limits(before);
    for t in &tiles {
        assert_eq!(t.to_ndarray().unwrap()[(0, 0)], 1.0);
    }
    assert_eq!(
        runtime::in_flight().bytes,
        0,
        "nothing is held once every task finished"
    );
}

#[test]
fn operations_on_arrays_are_held_back_too_and_give_the_same_result() {
    let _limits = LIMITS.lock().unwrap_or_else(|e| e.into_inner());
    let before = runtime::submit_limits();
    runtime::set_submit_limits(SubmitLimits { tasks: 64, ..before });
    let throttled = runtime::in_flight().throttled;
    let a = DArray::<f64>::rand_seeded(Blocks(8, 8), 64, 64, 7);
    // A task holding every tile of `a` until the submitter has been held back: every
    // operation below waits for it, so the unfinished tasks pile up past the limit.
    let (open, wait_open) = mpsc::channel::<()>();
    let (r, c) = a.tile_grid();
    let all: Vec<_> = (0..r)
        .flat_map(|i| (0..c).map(move |j| (i, j)))
        .map(|(i, j)| InOut(a.tile(i, j)))
        .collect();
    let gate = spawn(all, move |_| wait_open.recv().unwrap());
    let opener = std::thread::spawn(move || {
        eventually("the operations are held back", || {
            runtime::in_flight().throttled > throttled
        });
        open.send(()).unwrap();
    });
    let mut c = DArray::<f64>::zeros(Blocks(8, 8), 64, 64);
    for _ in 0..20 {
        c = &c + &a; // 64 tile tasks each
    }
    let got = c.to_ndarray();
    opener.join().unwrap();
    gate.wait().unwrap();
    runtime::set_submit_limits(before);
    let want = a.to_ndarray() * 20.0;
    assert!(got
        .iter()
        .zip(want.iter())
        .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0)));
}
