//! Trace exports on a traced Cholesky (its own test binary: the trace is process-wide):
//! the per-kernel summary counts and flops, the DOT graph's nodes and dependency edges, and
//! the Gantt SVG's bars.
//!
//! A dependency is recorded as an edge only if the earlier task has not finished when the
//! later one is submitted, so a gate task holds the input until the whole graph is
//! submitted (without it, the first `potrf` could finish before its `trsm`s were submitted:
//! that happened once the Cholesky stopped copying the tiles above the diagonal).

mod common;

use std::time::Duration;

use mosaic::prelude::*;

#[test]
fn summary_graph_and_gantt_of_a_cholesky() {
    let (b, k) = (16, 4);
    let n = b * k;
    let r = DArray::<f64>::rand_seeded(Blocks(b, b), n, n, 1);
    let a = &(&r * &r.t()) + &(&DArray::eye(Blocks(b, b), n) * n as f64);
    a.wait().unwrap();
    mosaic::trace::start();
    let gate = common::gate(&a);
    let chol = std::thread::scope(|s| {
        // `cholesky` submits its graph, then waits for its pivots: on another thread.
        let chol = s.spawn(|| a.cholesky());
        std::thread::sleep(Duration::from_millis(300));
        gate.open();
        chol.join().unwrap().unwrap()
    });
    chol.l().wait().unwrap();
    let trace = mosaic::trace::stop();

    let summary = trace.summary();
    let get = |name: &str| summary.iter().find(|s| s.name == name).cloned().unwrap();
    assert_eq!(get("potrf").count, k);
    assert_eq!(get("gemm").count, k * (k - 1) * (k - 2) / 6);
    let b3 = (b * b * b) as f64;
    assert_eq!(get("gemm").flops, 2.0 * b3 * get("gemm").count as f64);
    assert_eq!(get("trsm").flops, b3 * get("trsm").count as f64);
    assert!((get("potrf").flops - b3 / 3.0 * k as f64).abs() < 1e-6);
    assert!(get("gemm").gflops() > 0.0);
    let table = trace.summary_table();
    assert!(table.lines().count() == summary.len() + 1 && table.contains("potrf"));

    // Every trsm of the first panel depends on the first potrf.
    let id = |name: &str, nth: usize| {
        let mut ids: Vec<u64> = trace
            .events()
            .iter()
            .filter(|e| e.name == name)
            .map(|e| e.task)
            .collect();
        ids.sort_unstable();
        ids[nth]
    };
    let potrf0 = id("potrf", 0);
    for i in 0..k - 1 {
        assert!(
            trace.edges().contains(&(potrf0, id("trsm", i))),
            "potrf 0 -> trsm {i}"
        );
    }
    let dot = trace.to_dot();
    assert!(dot.starts_with("digraph"));
    assert_eq!(dot.matches("[label=").count(), trace.events().len());
    assert!(dot.contains(&format!("t{potrf0} -> t{};", id("trsm", 0))));

    let svg = trace.to_gantt_svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<title>").count(), trace.events().len());
    for name in ["potrf", "trsm", "syrk", "gemm"] {
        assert!(svg.contains(&format!(">{name}</text>")), "legend has {name}");
    }
}
