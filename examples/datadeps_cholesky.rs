//! A tiled Cholesky factorization written by hand with `datadeps` over one ordinary
//! `ndarray` matrix, run in parallel by the runtime and checked against the same tasks run
//! one at a time: how to parallelise your own in-place code.
//!
//! `cargo run --release --example datadeps_cholesky [n] [tile]` (defaults 1024 and 128).
//!
//! The tiles are slices of the user's matrix; the diagonal tiles are accessed through
//! their lower triangle only (`LowerTriangular`), so the tracker knows the upper part is
//! never touched. Priorities follow the critical path (potrf > trsm > syrk > gemm), which
//! lets the next panel start while the trailing update of the previous one still runs.
//! The run's trace is written to `datadeps_cholesky.trace.json` (open it in <https://ui.perfetto.dev>).
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

/// Spawns a kernel task. With `serial`, every task also read-writes one shared token, so
/// the tasks run one at a time in submission order (the sequential baseline, same tasks and
/// same runtime); otherwise they only read it, which orders nothing.
macro_rules! kernel {
    ($s:expr, $serial:expr, $token:expr, $options:expr, ($($access:expr),+), $f:expr) => {
        if $serial {
            $s.spawn_with($options, ($($access,)+ InOut($token)), $f);
        } else {
            $s.spawn_with($options, ($($access,)+ In($token)), $f);
        }
    };
}

fn cholesky_tiled(a: &mut Array2<f64>, b: usize, serial: bool) {
    let n = a.nrows();
    let nt = n.div_ceil(b);
    let r = |i: usize| i * b..((i + 1) * b).min(n);
    let mut token = ndarray::Array1::<f64>::zeros(1);
    datadeps(|s| {
        let m = s.write(a);
        let t = s.write(&mut token);
        let tile = |i: usize, j: usize| m.slice(s![r(i), r(j)]);
        for k in 0..nt {
            kernel!(
                s,
                serial,
                t,
                TaskOptions::named("potrf").priority(3),
                (InOut(LowerTriangular(tile(k, k)))),
                |(mut akk, _)| potrf(&mut akk)
            );
            for i in k + 1..nt {
                kernel!(
                    s,
                    serial,
                    t,
                    TaskOptions::named("trsm").priority(2),
                    (InOut(tile(i, k)), In(LowerTriangular(tile(k, k)))),
                    |(mut aik, lkk, _)| trsm(&lkk, &mut aik)
                );
            }
            for i in k + 1..nt {
                kernel!(
                    s,
                    serial,
                    t,
                    TaskOptions::named("syrk").priority(1),
                    (InOut(LowerTriangular(tile(i, i))), In(tile(i, k))),
                    |(mut aii, aik, _)| syrk(&mut aii, &aik)
                );
                for j in k + 1..i {
                    kernel!(
                        s,
                        serial,
                        t,
                        TaskOptions::named("gemm"),
                        (InOut(tile(i, j)), In(tile(i, k)), In(tile(j, k))),
                        |(mut aij, aik, ajk, _)| gemm_nt(&mut aij, &aik, &ajk)
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

    // The same tasks one at a time (in submission order), then as a task graph.
    let mut serial = spd.clone();
    let t0 = Instant::now();
    cholesky_tiled(&mut serial, b, true);
    let t_serial = t0.elapsed().as_secs_f64();

    let mut par = spd.clone();
    mosaic::trace::start();
    let t0 = Instant::now();
    cholesky_tiled(&mut par, b, false);
    let t_par = t0.elapsed().as_secs_f64();
    let trace = mosaic::trace::stop();
    trace
        .write_chrome_json("datadeps_cholesky.trace.json")
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
        "  one task at a time (in order)   {:>8.3} s  {:>6.2} GFLOP/s",
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
    println!(
        "  identical to the one-at-a-time run: {}",
        lower(&par) == lower(&serial)
    );
    println!(
        "  {} tasks traced -> datadeps_cholesky.trace.json (open in ui.perfetto.dev)",
        trace.events().len()
    );
    assert!(scaled < 10.0, "residual too large");
    assert!(
        lower(&par) == lower(&serial),
        "datadeps must reproduce the one-at-a-time result exactly"
    );
}

fn lower(a: &Array2<f64>) -> Vec<f64> {
    a.indexed_iter()
        .filter(|((i, j), _)| i >= j)
        .map(|(_, x)| *x)
        .collect()
}
