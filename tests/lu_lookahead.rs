//! Lookahead in the tiled LU, from the trace (its own test binary, so the trace holds only
//! this test's tasks): the second panel starts before the first panel's trailing update
//! has finished, and an LU of a product starts before the product is done.

use mosaic::prelude::*;

#[test]
fn the_next_panel_starts_during_the_trailing_update() {
    if mosaic::num_threads() < 2 {
        eprintln!("one worker: nothing can overlap, the check does not apply");
        return;
    }
    let n = 512;
    let r = DArray::<f64>::rand_seeded(Blocks(64, 64), n, n, 3);
    r.wait().unwrap();
    mosaic::trace::start();
    let a = &r * &r;
    let lu = a.lu().unwrap();
    let trace = mosaic::trace::stop();
    let events = trace.events();
    let panels: Vec<_> = {
        let mut p: Vec<_> = events.iter().filter(|e| e.name == "getrf").collect();
        p.sort_by_key(|e| e.task);
        p
    };
    assert_eq!(panels.len(), n / 64);
    // The first panel's gemm updates: submitted between the first and second panels.
    let update_end = events
        .iter()
        .filter(|e| e.name == "gemm" && e.task > panels[0].task && e.task < panels[1].task)
        .map(|e| e.end_ns)
        .max()
        .unwrap();
    assert!(
        panels[1].start_ns < update_end,
        "lookahead: panel 1 starts at {} ns, the first trailing update ends at {update_end} ns",
        panels[1].start_ns
    );
    // No barrier after the product: the first panel starts before its last gemm ends.
    let product_end = events
        .iter()
        .filter(|e| e.name == "gemm" && e.task < panels[0].task)
        .map(|e| e.end_ns)
        .max()
        .unwrap();
    assert!(
        panels[0].start_ns < product_end,
        "the LU waits for the whole product"
    );
    let (a, l, u) = (a.to_ndarray(), lu.l().to_ndarray(), lu.u().to_ndarray());
    let pa = a.select(ndarray::Axis(0), &lu.p());
    let err = (&pa - &l.dot(&u)).iter().fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(err < 1e-9, "error {err}");
}
