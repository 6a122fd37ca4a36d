//! Lookahead in the tiled LU, from the traced task graph (its own test binary, so the trace
//! holds only this test's tasks): the second panel does not wait for the first panel's
//! whole trailing update, and an LU of a product does not wait for the whole product.
//!
//! Regression (flaky lookahead test): this used to compare start and end times, which
//! failed about one run in seven on a busy machine when the submitting thread was
//! descheduled and the workers finished every update before the next panel was even
//! submitted. Now a gate task holds every input tile until the whole graph is submitted,
//! so every dependency is recorded, and the test checks the graph's structure: which tasks
//! a panel transitively waits for.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mosaic::prelude::*;
use mosaic::trace::Event;

/// The tasks `task` waits for, directly or through others.
fn ancestors(edges: &[(u64, u64)], task: u64) -> BTreeSet<u64> {
    let mut preds: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(p, s) in edges {
        preds.entry(s).or_default().push(p);
    }
    let (mut seen, mut todo) = (BTreeSet::new(), vec![task]);
    while let Some(t) = todo.pop() {
        for &p in preds.get(&t).map_or(&[][..], |v| v) {
            if seen.insert(p) {
                todo.push(p);
            }
        }
    }
    seen
}

fn named<'a>(events: &'a [Event], name: &str, ids: std::ops::Range<u64>) -> Vec<&'a Event> {
    let mut v: Vec<_> = events
        .iter()
        .filter(|e| e.name == name && ids.contains(&e.task))
        .collect();
    v.sort_by_key(|e| e.task);
    v
}

#[test]
fn the_next_panel_waits_only_for_its_own_column_and_the_lu_only_for_its_inputs() {
    let (n, b) = (512, 64);
    let nt = (n / b) as u64;
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 3);
    r.wait().unwrap();
    mosaic::trace::start();
    // Hold every tile of `r` until the product and the LU are submitted.
    let gate = common::gate(&r);
    let a = &r * &r;
    let lu = std::thread::scope(|s| {
        // `lu` submits its graph (about a millisecond), then waits for its pivots, so it
        // runs on another thread; the gate opens long after. Opening too early could only
        // lose edges and fail the counts below, never pass them wrongly.
        let lu = s.spawn(|| a.lu());
        std::thread::sleep(Duration::from_millis(500));
        gate.open();
        lu.join().unwrap()
    });
    let lu = lu.unwrap();
    let trace = mosaic::trace::stop();
    let (events, edges) = (trace.events(), trace.edges());

    let panels = named(events, "getrf", 0..u64::MAX);
    assert_eq!(panels.len(), nt as usize);
    // The first panel's trailing update: the gemms submitted between the first two panels,
    // (nt − 1)² of them; the second panel waits only for its own column's nt − 1.
    let update = named(events, "gemm", panels[0].task..panels[1].task);
    assert_eq!(update.len(), ((nt - 1) * (nt - 1)) as usize);
    let before_panel_1 = ancestors(edges, panels[1].task);
    let waited = update.iter().filter(|e| before_panel_1.contains(&e.task)).count();
    assert_eq!(
        waited,
        (nt - 1) as usize,
        "panel 1 waits for {waited} of the first update's gemms"
    );

    // The product's gemms (nt³ of them, all submitted before the LU): the first panel waits
    // only for those computing its column.
    let product = named(events, "gemm", 0..panels[0].task);
    assert_eq!(product.len(), (nt * nt * nt) as usize);
    let before_panel_0 = ancestors(edges, panels[0].task);
    let waited = product
        .iter()
        .filter(|e| before_panel_0.contains(&e.task))
        .count();
    assert_eq!(
        waited,
        (nt * nt) as usize,
        "panel 0 waits for {waited} of the product's gemms"
    );

    let (a, l, u) = (a.to_ndarray(), lu.l().to_ndarray(), lu.u().to_ndarray());
    let pa = a.select(ndarray::Axis(0), &lu.p());
    let err = (&pa - &l.dot(&u)).iter().fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(err < 1e-9, "error {err}");
}
