//! mosaic's main demo: a tiled Cholesky factorization written with `datadeps` over one
//! ordinary `ndarray` matrix, run in parallel by the runtime and checked against the
//! same algorithm run serially.
//!
//! `cargo run --release --example demo [n] [tile]` (defaults 1024 and 128).
//!
//! The tiles are slices of the user's matrix; the diagonal tiles are accessed through
//! their lower triangle only (`LowerTriangular`), so the tracker knows the upper part is
//! never touched. Priorities follow the critical path (potrf > trsm > syrk > gemm), which
//! lets the next panel start while the trailing update of the previous one still runs.
//! The run's trace is written to `demo.trace.json` (open it in <https://ui.perfetto.dev>).
//!
//! The tile kernels here are plain loops, to keep the example self-contained; the
//! library's own factorizations use optimised kernels.

use std::time::Instant;

use mosaic::datadeps::{TriangularView, TriangularViewMut};
use mosaic::prelude::*;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

/// A ← L with A = L·Lᵀ, on the lower triangle of a diagonal tile.
fn potrf(a: &mut TriangularViewMut<'_, f64>) {
    let n = a.dim().0;
    for j in 0..n {
        let mut d = *a.get(j, j).unwrap();
        for k in 0..j {
            d -= a.get(j, k).unwrap().powi(2);
        }
        assert!(d > 0.0, "matrix is not positive definite");
        let d = d.sqrt();
        *a.get_mut(j, j).unwrap() = d;
        for i in j + 1..n {
            let mut x = *a.get(i, j).unwrap();
            for k in 0..j {
                x -= a.get(i, k).unwrap() * a.get(j, k).unwrap();
            }
            *a.get_mut(i, j).unwrap() = x / d;
        }
    }
}

/// B ← B·L⁻ᵀ.
fn trsm(l: &TriangularView<'_, f64>, b: &mut ArrayViewMut2<'_, f64>) {
    let n = l.dim().0;
    for mut row in b.rows_mut() {
        for j in 0..n {
            let mut x = row[j];
            for k in 0..j {
                x -= row[k] * l.get(j, k).unwrap();
            }
            row[j] = x / l.get(j, j).unwrap();
        }
    }
}

/// C ← C − A·Bᵀ.
fn gemm_nt(c: &mut ArrayViewMut2<'_, f64>, a: &ArrayView2<'_, f64>, b: &ArrayView2<'_, f64>) {
    ndarray::linalg::general_mat_mul(-1.0, a, &b.t(), 1.0, c);
}

/// C ← C − A·Aᵀ on the lower triangle of a diagonal tile.
fn syrk(c: &mut TriangularViewMut<'_, f64>, a: &ArrayView2<'_, f64>) {
    for i in 0..c.dim().0 {
        let ai = a.row(i);
        let mut row = c.row_mut(i); // columns 0..=i
        for j in 0..=i {
            row[j] -= ai.dot(&a.row(j));
        }
    }
}

fn cholesky_tiled(a: &mut Array2<f64>, b: usize) {
    let n = a.nrows();
    let nt = n.div_ceil(b);
    let r = |i: usize| i * b..((i + 1) * b).min(n);
    datadeps(|s| {
        let m = s.write(a);
        let tile = |i: usize, j: usize| m.slice(s![r(i), r(j)]);
        for k in 0..nt {
            s.spawn_with(
                TaskOptions::named("potrf").priority(3),
                (InOut(LowerTriangular(tile(k, k))),),
                |(mut akk,)| potrf(&mut akk),
            );
            for i in k + 1..nt {
                s.spawn_with(
                    TaskOptions::named("trsm").priority(2),
                    (InOut(tile(i, k)), In(LowerTriangular(tile(k, k)))),
                    |(mut aik, lkk)| trsm(&lkk, &mut aik),
                );
            }
            for i in k + 1..nt {
                s.spawn_with(
                    TaskOptions::named("syrk").priority(1),
                    (InOut(LowerTriangular(tile(i, i))), In(tile(i, k))),
                    |(mut aii, aik)| syrk(&mut aii, &aik),
                );
                for j in k + 1..i {
                    s.spawn_with(
                        TaskOptions::named("gemm"),
                        (InOut(tile(i, j)), In(tile(i, k)), In(tile(j, k))),
                        |(mut aij, aik, ajk)| gemm_nt(&mut aij, &aik, &ajk),
                    );
                }
            }
        }
    });
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let n = args.next().unwrap_or(1024);
    let b = args.next().unwrap_or(128);

    // A symmetric positive definite matrix: M·Mᵀ + n·I, M uniform in [0, 1).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let m = Array2::from_shape_fn((n, n), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    });
    let spd = m.dot(&m.t()) + Array2::<f64>::eye(n) * n as f64;
    let flops = (n as f64).powi(3) / 3.0;

    // The same graph on one thread (tasks in submission order) and on every worker.
    let mut serial = spd.clone();
    let t0 = Instant::now();
    cholesky_serial(&mut serial, b);
    let t_serial = t0.elapsed().as_secs_f64();

    let mut par = spd.clone();
    mosaic::trace::start();
    let t0 = Instant::now();
    cholesky_tiled(&mut par, b);
    let t_par = t0.elapsed().as_secs_f64();
    let trace = mosaic::trace::stop();
    trace
        .write_chrome_json("demo.trace.json")
        .expect("write the trace");

    let l = Array2::from_shape_fn((n, n), |(i, j)| if i >= j { par[(i, j)] } else { 0.0 });
    let residual = (&spd - &l.dot(&l.t()))
        .iter()
        .fold(0.0f64, |acc, x| acc.max(x.abs()));
    let norm = spd.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let scaled = residual / (n as f64 * norm * f64::EPSILON);

    println!(
        "tiled Cholesky, n = {n}, tiles {b}x{b}, {} workers",
        mosaic::num_threads()
    );
    println!(
        "  serial (same tasks, one thread) {:>8.3} s  {:>6.2} GFLOP/s",
        t_serial,
        flops / t_serial / 1e9
    );
    println!(
        "  datadeps                         {:>8.3} s  {:>6.2} GFLOP/s",
        t_par,
        flops / t_par / 1e9
    );
    println!("  speedup {:.2}x", t_serial / t_par);
    println!("  |A - L*L^T|_max / (n |A|_max eps) = {scaled:.3}");
    println!("  identical to the serial run: {}", lower(&par) == lower(&serial));
    println!(
        "  {} tasks traced -> demo.trace.json (open in ui.perfetto.dev)",
        trace.events().len()
    );
    assert!(scaled < 10.0, "residual too large");
    assert!(
        lower(&par) == lower(&serial),
        "datadeps must reproduce the serial result exactly"
    );
}

/// The tiled algorithm's tasks, in submission order, on the calling thread.
fn cholesky_serial(a: &mut Array2<f64>, b: usize) {
    let n = a.nrows();
    let nt = n.div_ceil(b);
    let r = |i: usize| i * b..((i + 1) * b).min(n);
    // One single-task region per kernel call runs the same kernel code on the same views.
    for k in 0..nt {
        datadeps(|s| {
            let m = s.write(a);
            s.spawn((InOut(LowerTriangular(m.slice(s![r(k), r(k)]))),), |(mut akk,)| {
                potrf(&mut akk)
            });
        });
        for i in k + 1..nt {
            datadeps(|s| {
                let m = s.write(a);
                s.spawn(
                    (
                        InOut(m.slice(s![r(i), r(k)])),
                        In(LowerTriangular(m.slice(s![r(k), r(k)]))),
                    ),
                    |(mut aik, lkk)| trsm(&lkk, &mut aik),
                );
            });
        }
        for i in k + 1..nt {
            datadeps(|s| {
                let m = s.write(a);
                s.spawn(
                    (
                        InOut(LowerTriangular(m.slice(s![r(i), r(i)]))),
                        In(m.slice(s![r(i), r(k)])),
                    ),
                    |(mut aii, aik)| syrk(&mut aii, &aik),
                );
            });
            for j in k + 1..i {
                datadeps(|s| {
                    let m = s.write(a);
                    s.spawn(
                        (
                            InOut(m.slice(s![r(i), r(j)])),
                            In(m.slice(s![r(i), r(k)])),
                            In(m.slice(s![r(j), r(k)])),
                        ),
                        |(mut aij, aik, ajk)| gemm_nt(&mut aij, &aik, &ajk),
                    );
                });
            }
        }
    }
}

fn lower(a: &Array2<f64>) -> Vec<f64> {
    a.indexed_iter()
        .filter(|((i, j), _)| i >= j)
        .map(|(_, x)| *x)
        .collect()
}
