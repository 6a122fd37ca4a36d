//! mosaic's main demo: build a symmetric positive definite matrix from
//! `DArray::rand(AutoBlocks, n, n)`, factor it (Cholesky), factor the random matrix itself
//! (LU with partial pivoting, QR), solve, fit a least-squares problem, multiply, check
//! the residuals, and
//! time each step next to faer's dense routine on the same input (one thread, and as many
//! threads as mosaic has workers). The Cholesky run is traced: `demo.trace.json` (open it
//! in <https://ui.perfetto.dev>), a Gantt chart `demo.gantt.svg`, the task graph
//! `demo.dot`, and a per-kernel summary on the terminal.
//!
//! `cargo run --release --example demo [n] [right-hand sides]` (defaults 4096 and 16).

#[path = "common/faer_dense.rs"]
mod faer_dense;

use faer::Par;
use faer_dense::{seconds, to_faer};
use mosaic::prelude::*;

fn gflops(flops: f64, secs: f64) -> String {
    format!("{secs:>7.3} s {:>6.1} GFLOP/s", flops / secs / 1e9)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("sizes are integers"));
    let n = args.next().unwrap_or(4096);
    let k = args.next().unwrap_or(16);
    let workers = mosaic::num_threads();
    let nf = n as f64;
    let eps = f64::EPSILON;

    // A = R·Rᵀ + n·I: symmetric positive definite. Everything returns at once; `wait`
    // makes the timing honest.
    let r = DArray::<f64>::rand(AutoBlocks, n, n);
    r.wait()?;
    let (a, t_gemm) = seconds(|| {
        let a = &(&r * &r.t()) + &(&DArray::eye(AutoBlocks, n) * nf);
        a.wait().map(|()| a)
    });
    let a = a?;
    let (tb, _) = a.block_size();
    let (gt, _) = a.tile_grid();
    println!(
        "mosaic demo: n = {n}, f64, AutoBlocks -> {tb}x{tb} tiles ({gt}x{gt}; the factorizations pick \
         their own), {workers} workers"
    );

    // Factor (traced), then solve A·X = B for k right-hand sides.
    mosaic::trace::start();
    let (chol, t_potrf) = seconds(|| a.cholesky());
    let trace = mosaic::trace::stop();
    let chol = chol?;
    trace
        .write_chrome_json("demo.trace.json")
        .expect("write demo.trace.json");
    trace
        .write_gantt_svg("demo.gantt.svg")
        .expect("write demo.gantt.svg");
    trace.write_dot("demo.dot").expect("write demo.dot");
    let b = DArray::<f64>::randn(AutoBlocks, n, k);
    b.wait()?;
    let (x, t_solve) = seconds(|| {
        let x = chol.solve(&b)?;
        x.wait().map(|()| x)
    });
    let x = x?;

    // LU with partial pivoting of the (unsymmetric) R, and a solve with it.
    let (lu, t_getrf) = seconds(|| r.lu());
    let lu = lu?;
    let (y, t_lu_solve) = seconds(|| {
        let y = lu.solve(&b)?;
        y.wait().map(|()| y)
    });
    let y = y?;

    // QR of R, and least squares with a tall matrix S (n × n/8: its panels are reduced by
    // a tree).
    let (qr, t_geqrf) = seconds(|| {
        let qr = r.qr()?;
        qr.r().wait().map(|()| qr)
    });
    let q_r = qr?.r();
    let s = DArray::<f64>::rand(AutoBlocks, n, (n / 8).max(1));
    s.wait()?;
    let (z, t_lstsq) = seconds(|| {
        let z = s.qr()?.solve_least_squares(&b)?;
        z.wait().map(|()| z)
    });
    let z = z?;

    // Residuals, LAPACK-style, computed with DArray operations themselves.
    let l = chol.l();
    let (llt, t_check) = seconds(|| {
        let llt = l * &l.t();
        llt.wait().map(|()| llt)
    });
    let a_norm = a.norm_fro();
    let factor_residual = (&a - &llt?).norm_fro() / (nf * a_norm * eps);
    let solve_residual = (&(&a * &x) - &b).norm_fro() / (nf * a_norm * x.norm_fro() * eps);
    let lu_residual = (&(&r * &y) - &b).norm_fro() / (nf * r.norm_fro() * y.norm_fro() * eps);
    // |R| of the QR has the column norms of R: ‖R_qr‖_F = ‖R‖_F.
    let qr_norm = ((q_r.norm_fro() - r.norm_fro()) / r.norm_fro()).abs() / (nf * eps);
    let mut normal = DArray::zeros(AutoBlocks, s.shape().1, k);
    mosaic::linalg::gemm(
        1.0,
        &s,
        mosaic::linalg::Trans::Yes,
        &(&b - &(&s * &z)),
        mosaic::linalg::Trans::No,
        0.0,
        &mut normal,
    );
    let lstsq_ratio = normal.norm_fro() / (nf * s.norm_fro() * b.norm_fro() * eps);

    // faer's dense routines on the same matrices.
    // (Rᵀ stored, as mosaic's `t()` stores it.)
    let r_dense = r.to_ndarray();
    let (rt_dense, r_dense) = (to_faer(&r_dense.t().to_owned()), to_faer(&r_dense));
    let a_dense = to_faer(&a.to_ndarray());
    let f1_gemm = faer_dense::gemm(&r_dense, &rt_dense, Par::Seq);
    let f1_potrf = faer_dense::potrf(&a_dense, Par::Seq);
    let fp_gemm = faer_dense::gemm(&r_dense, &rt_dense, Par::rayon(workers));
    let fp_potrf = faer_dense::potrf(&a_dense, Par::rayon(workers));
    let f1_getrf = faer_dense::getrf(&r_dense, Par::Seq);
    let fp_getrf = faer_dense::getrf(&r_dense, Par::rayon(workers));
    let f1_geqrf = faer_dense::geqrf(&r_dense, Par::Seq);
    let fp_geqrf = faer_dense::geqrf(&r_dense, Par::rayon(workers));

    let (gemm_flops, potrf_flops) = (2.0 * nf.powi(3), nf.powi(3) / 3.0);
    let getrf_flops = 2.0 * nf.powi(3) / 3.0;
    let geqrf_flops = 4.0 * nf.powi(3) / 3.0;
    let solve_flops = 2.0 * nf * nf * k as f64;
    println!();
    println!(
        "{:<28} {:<26} {:<26} faer dense, {workers} threads",
        "", "mosaic (tiled tasks)", "faer dense, 1 thread"
    );
    println!(
        "{:<28} {:<26} {:<26} {}",
        "A = R*R^T + n*I  (gemm)",
        gflops(gemm_flops, t_gemm),
        gflops(gemm_flops, f1_gemm),
        gflops(gemm_flops, fp_gemm)
    );
    println!(
        "{:<28} {:<26} {:<26} {}",
        "A = L*L^T        (Cholesky)",
        gflops(potrf_flops, t_potrf),
        gflops(potrf_flops, f1_potrf),
        gflops(potrf_flops, fp_potrf)
    );
    println!(
        "{:<28} {:<26} {:<26} {}",
        "P*R = L*U        (LU)",
        gflops(getrf_flops, t_getrf),
        gflops(getrf_flops, f1_getrf),
        gflops(getrf_flops, fp_getrf)
    );
    println!(
        "{:<28} {:<26} {:<26} {}",
        "R = Q*R'         (QR)",
        gflops(geqrf_flops, t_geqrf),
        gflops(geqrf_flops, f1_geqrf),
        gflops(geqrf_flops, fp_geqrf)
    );
    let (sm, sn) = s.shape();
    let lstsq_flops = 2.0 * (sm * sn * sn) as f64 - 2.0 * (sn as f64).powi(3) / 3.0;
    println!(
        "{:<28} {}",
        format!("min |S*Z - B|, S {sm}x{sn}"),
        gflops(lstsq_flops, t_lstsq)
    );
    println!(
        "{:<28} {}",
        format!("A*X = B, {k} rhs (2 trsm)"),
        gflops(solve_flops, t_solve)
    );
    println!(
        "{:<28} {}",
        format!("R*Y = B, {k} rhs (LU)"),
        gflops(solve_flops, t_lu_solve)
    );
    println!(
        "{:<28} {}",
        "L*L^T            (gemm)",
        gflops(gemm_flops, t_check)
    );
    println!();
    println!("||A - L*L^T||_F / (n ||A||_F eps)         = {factor_residual:.2e}");
    println!("||A*X - B||_F / (n ||A||_F ||X||_F eps)   = {solve_residual:.2e}");
    println!("||R*Y - B||_F / (n ||R||_F ||Y||_F eps)   = {lu_residual:.2e}");
    println!("| ||R'||_F - ||R||_F | / (n ||R||_F eps)    = {qr_norm:.2e}");
    println!("||S^T (B - S*Z)||_F / (n ||S|| ||B|| eps)  = {lstsq_ratio:.2e}");
    println!(
        "\n{} Cholesky tasks traced -> demo.trace.json (ui.perfetto.dev), demo.gantt.svg, demo.dot",
        trace.events().len()
    );
    print!("{}", trace.summary_table());
    assert!(factor_residual < 1.0, "factorization residual too large");
    assert!(solve_residual < 1.0, "solve residual too large");
    assert!(lu_residual < 1.0, "LU solve residual too large");
    assert!(qr_norm < 1.0, "QR does not preserve the norm");
    assert!(lstsq_ratio < 1.0, "least-squares residual not orthogonal to S");
    Ok(())
}
