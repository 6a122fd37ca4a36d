//! Parallelism inside the QR, from the trace (its own test binary, with a lock, so the
//! trace holds only one test's tasks): `unmqr` (strictly lower part of the diagonal tile)
//! runs at the same time as `tsqrt` (its upper triangle) of the same step, and a tall and
//! skinny matrix has panel tiles factored at the same time (the tree).

use mosaic::prelude::*;
use std::sync::Mutex;

static TRACE: Mutex<()> = Mutex::new(());

#[test]
fn tall_skinny_panels_factor_in_parallel() {
    let _g = TRACE.lock().unwrap_or_else(|e| e.into_inner());
    if mosaic::num_threads() < 2 {
        eprintln!("one worker: nothing can overlap, the check does not apply");
        return;
    }
    let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 4096, 64, 6);
    a.wait().unwrap();
    mosaic::trace::start();
    let qr = a.qr().unwrap();
    qr.r().wait().unwrap();
    let trace = mosaic::trace::stop();
    let geqrt: Vec<_> = trace.events().iter().filter(|e| e.name == "geqrt").collect();
    assert_eq!(geqrt.len(), 64);
    let concurrent = geqrt.iter().any(|x| {
        geqrt
            .iter()
            .any(|y| x.task != y.task && x.start_ns < y.end_ns && y.start_ns < x.end_ns)
    });
    assert!(concurrent, "no two panel tiles were factored at the same time");
    let q = qr.q().to_ndarray();
    let err = (&a.to_ndarray() - &q.dot(&qr.r().to_ndarray()))
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(err < 1e-10, "error {err}");
}

#[test]
fn updates_overlap_the_panel_factorization() {
    let _g = TRACE.lock().unwrap_or_else(|e| e.into_inner());
    if mosaic::num_threads() < 2 {
        eprintln!("one worker: nothing can overlap, the check does not apply");
        return;
    }
    let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 512, 512, 5);
    a.wait().unwrap();
    mosaic::trace::start();
    let qr = a.qr().unwrap();
    qr.r().wait().unwrap();
    let trace = mosaic::trace::stop();
    let events = trace.events();
    let of = |name| events.iter().filter(move |e| e.name == name);
    // A task's step: how many `geqrt` were submitted before it.
    let step = |task: u64| of("geqrt").filter(|g| g.task < task).count();
    let overlapping = of("unmqr")
        .filter(|u| {
            of("tsqrt")
                .any(|t| step(t.task) == step(u.task) && u.start_ns < t.end_ns && t.start_ns < u.end_ns)
        })
        .count();
    assert!(
        overlapping > 0,
        "no unmqr ran during a tsqrt: the diagonal tile's parts are not used independently"
    );
    let q = qr.q().to_ndarray();
    let r = qr.r().to_ndarray();
    let err = (&a.to_ndarray() - &q.dot(&r))
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(err < 1e-10, "error {err}");
}
