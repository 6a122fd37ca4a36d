//! Runtime overhead per task: submission + dependency analysis + scheduling + execution of
//! a closure that does (almost) nothing, for 1M tasks per run.
//!
//! Patterns:
//! - `empty`: tasks with no access (pure scheduling);
//! - `independent`: tasks spread round-robin over 1024 bound arrays, each task
//!   read-writing one array (consecutive tasks never conflict);
//! - `disjoint_slices`: the same over 1024 one-element slices of a single array (exercises
//!   the footprint overlap test on a shared history);
//! - `chain`: every task read-writes the same element (one long dependency chain);
//! - `readers`: every task reads one shared array (no dependencies, one shared history).
//!
//! `cargo bench --bench runtime_overhead` prints criterion's figures; the time per
//! iteration divided by `TASKS` is the cost per task.

use criterion::{criterion_group, Criterion};
use mosaic::prelude::*;
use ndarray::{s, Array1};
use std::time::{Duration, Instant};

const TASKS: usize = 1_000_000;

fn empty(n: usize) {
    datadeps(|s| {
        for _ in 0..n {
            s.spawn((), |()| ());
        }
    });
}

fn independent(n: usize, data: &mut [Array1<f64>]) {
    datadeps(|s| {
        let handles: Vec<_> = data.iter_mut().map(|a| s.write(a)).collect();
        for i in 0..n {
            let h = handles[i % handles.len()];
            s.spawn((InOut(h),), |(mut v,)| v[0] += 1.0);
        }
    });
}

fn chain(n: usize, data: &mut Array1<f64>) {
    datadeps(|s| {
        let h = s.write(data);
        for _ in 0..n {
            s.spawn((InOut(h),), |(mut v,)| v[0] += 1.0);
        }
    });
}

fn disjoint_slices(n: usize, data: &mut Array1<f64>) {
    datadeps(|s| {
        let h = s.write(data);
        let len = h.shape()[0];
        for i in 0..n {
            let k = i % len;
            s.spawn((InOut(h.slice(s![k..k + 1])),), |(mut v,)| v[0] += 1.0);
        }
    });
}

fn readers(n: usize, data: &Array1<f64>) {
    datadeps(|s| {
        let h = s.read(data);
        for _ in 0..n {
            s.spawn((In(h),), |(v,)| {
                std::hint::black_box(v[0]);
            });
        }
    });
}

fn per_task(c: &mut Criterion) {
    let mut group = c.benchmark_group("runtime_overhead_1M_tasks");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(2));
    group.bench_function("empty", |b| b.iter(|| empty(TASKS)));
    let mut objs: Vec<Array1<f64>> = (0..1024).map(|_| Array1::zeros(1)).collect();
    group.bench_function("independent_1024_objects", |b| {
        b.iter(|| independent(TASKS, &mut objs))
    });
    let mut one = Array1::<f64>::zeros(1);
    group.bench_function("chain", |b| b.iter(|| chain(TASKS, &mut one)));
    let mut wide = Array1::<f64>::zeros(1024);
    group.bench_function("disjoint_slices_of_one_array", |b| {
        b.iter(|| disjoint_slices(TASKS, &mut wide))
    });
    let shared = Array1::<f64>::zeros(16);
    group.bench_function("readers_of_one_array", |b| b.iter(|| readers(TASKS, &shared)));
    group.finish();
}

/// A quick mode without criterion: `cargo bench --bench runtime_overhead -- --quick-table`
/// prints µs per task for each pattern (median of 5 runs); `MOSAIC_BENCH_ONLY=chain` runs
/// one pattern (for profiling).
fn quick_table() {
    let mut objs: Vec<Array1<f64>> = (0..1024).map(|_| Array1::zeros(1)).collect();
    let mut one = Array1::<f64>::zeros(1);
    let mut wide = Array1::<f64>::zeros(1024);
    let shared = Array1::<f64>::zeros(16);
    type Pattern<'a> = (&'static str, Box<dyn FnMut() + 'a>);
    let mut patterns: Vec<Pattern<'_>> = vec![
        ("empty", Box::new(|| empty(TASKS))),
        (
            "independent_1024_objects",
            Box::new(|| independent(TASKS, &mut objs)),
        ),
        ("chain", Box::new(|| chain(TASKS, &mut one))),
        (
            "disjoint_slices_of_one_array",
            Box::new(|| disjoint_slices(TASKS, &mut wide)),
        ),
        ("readers_of_one_array", Box::new(|| readers(TASKS, &shared))),
    ];
    println!("threads: {}", mosaic::num_threads());
    println!("{:<32} {:>12}", "pattern", "us/task");
    let only = std::env::var("MOSAIC_BENCH_ONLY").ok();
    for (name, f) in patterns.iter_mut() {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e6 / TASKS as f64
            })
            .collect();
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{:<32} {:>12.3}", name, times[2]);
    }
}

criterion_group!(benches, per_task);

fn main() {
    if std::env::args().any(|a| a == "--quick-table") {
        quick_table();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
