//! Cholesky, LU or QR of an `n × n` matrix distributed over the ranks of an MPI job, timed
//! like ScaLAPACK's `pdpotrf`/`pdgetrf`/`pdgeqrf` in `benches/scalapack/` (same tile size,
//! same 2-D block-cyclic layout, the grid of `mosaic::distributed`).
//!
//! ```text
//! cargo build --release --features mpi --example mpi_factor
//! mpirun -np 2 -x MOSAIC_NUM_THREADS=1 target/release/examples/mpi_factor potrf 4096 256 3
//! ```
//! Arguments: routine (`potrf`, `getrf`, `geqrf`), order, tile size (0: `AutoBlocks`),
//! repetitions, and optionally a path: the last repetition's trace, merged across the
//! ranks, is written there as Chrome JSON (`.json`) and a Gantt chart (`.svg`). Rank 0
//! prints one line per repetition and a summary (median), with this rank's statistics.

#[cfg(feature = "mpi")]
fn main() -> mosaic::Result<()> {
    use mosaic::prelude::*;
    use std::time::Instant;
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: usize, default: &str| args.get(k).cloned().unwrap_or_else(|| default.into());
    let routine = arg(1, "potrf");
    let n: usize = arg(2, "4096").parse().expect("order");
    let nb: usize = arg(3, "256").parse().expect("tile size");
    let reps: usize = arg(4, "3").parse().expect("repetitions");
    let trace = args.get(5).cloned();
    let world = mosaic::distributed::init()?;
    let grid = world.grid();
    let nf = n as f64;
    let flops = match routine.as_str() {
        "potrf" => nf.powi(3) / 3.0,
        "getrf" => 2.0 * nf.powi(3) / 3.0,
        "geqrf" => 4.0 * nf.powi(3) / 3.0,
        other => panic!("unknown routine {other}: potrf, getrf or geqrf"),
    };
    let make = || {
        let (r, eye) = match nb {
            0 => (
                DArray::<f64>::rand_seeded(AutoBlocks, n, n, 1),
                DArray::eye(AutoBlocks, n),
            ),
            nb => (
                DArray::<f64>::rand_seeded(Blocks(nb, nb), n, n, 1),
                DArray::eye(Blocks(nb, nb), n),
            ),
        };
        match routine.as_str() {
            // Symmetric positive definite without a product: r + rᵀ made diagonally
            // dominant (the factorization reads only the lower triangle).
            "potrf" => &(&r + &r.t()) + &(&eye * nf),
            _ => r,
        }
    };
    let mut times = Vec::with_capacity(reps);
    let mut last = mosaic::distributed::RankStats::default();
    for rep in 0..reps {
        let a = make();
        a.wait()?;
        world.barrier()?;
        let before = mosaic::distributed::stats();
        let traced = trace.is_some() && rep + 1 == reps;
        if traced {
            mosaic::trace::start();
        }
        let t0 = Instant::now();
        match routine.as_str() {
            "potrf" => a.into_cholesky()?.wait()?,
            "getrf" => a.into_lu()?.wait()?,
            _ => a.into_qr()?.wait()?,
        }
        world.barrier()?;
        let seconds = t0.elapsed().as_secs_f64();
        let s = mosaic::distributed::stats() - before;
        last = s;
        if let (true, Some(path)) = (traced, &trace) {
            let merged = mosaic::distributed::merge_trace(&mosaic::trace::stop())?;
            if world.rank() == 0 {
                merged
                    .write_chrome_json(format!("{path}.json"))
                    .expect("write the trace");
                merged
                    .write_gantt_svg(format!("{path}.svg"))
                    .expect("write the Gantt chart");
            }
        }
        times.push(seconds);
        if world.rank() == 0 {
            println!(
                "rep {rep}: {routine} n={n} nb={nb} grid={}x{} threads={} seconds={seconds:.4} gflops={:.2} \
                 rank0: tasks={} elsewhere={} sent={} MB in {} messages",
                grid.rows(),
                grid.cols(),
                mosaic::num_threads(),
                flops / seconds * 1e-9,
                s.tasks_run,
                s.tasks_elsewhere,
                s.bytes_sent / 1_000_000,
                s.messages_sent,
            );
        }
    }
    // Every rank's share of the last repetition, in rank order.
    for r in 0..world.size() {
        if r == world.rank() {
            let s = last;
            println!(
                "rank {r}: tasks_run={} tasks_elsewhere={} messages_sent={} bytes_sent={} messages_received={} bytes_received={}",
                s.tasks_run, s.tasks_elsewhere, s.messages_sent, s.bytes_sent, s.messages_received, s.bytes_received
            );
        }
        world.barrier()?;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    if world.rank() == 0 {
        println!(
            "mosaic routine={routine} n={n} nb={nb} grid={}x{} ranks={} threads={} reps={reps} best={:.4} \
             median={median:.4} gflops={:.2}",
            grid.rows(),
            grid.cols(),
            world.size(),
            mosaic::num_threads(),
            times[0],
            flops / median * 1e-9
        );
    }
    Ok(())
}

#[cfg(not(feature = "mpi"))]
fn main() {
    eprintln!("mpi_factor needs the mpi feature: cargo run --release --features mpi --example mpi_factor");
}
