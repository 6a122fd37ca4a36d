//! What tracking costs a rank for the tasks other ranks run: one column of `tiles` small
//! tiles (all owned by rank 0 on a 1 × q grid) is scaled, one task per tile; every rank
//! submits every task, rank 0 runs them, the others only track them. Each rank prints its
//! submission time per task (median of `reps`).
//!
//! ```text
//! cargo build --release --features mpi --example mpi_overhead
//! mpirun -np 2 --bind-to none -x MOSAIC_NUM_THREADS=1 target/release/examples/mpi_overhead 20000 5
//! ```

#[cfg(feature = "mpi")]
fn main() -> mosaic::Result<()> {
    use mosaic::prelude::*;
    use std::time::Instant;
    let args: Vec<String> = std::env::args().collect();
    let tiles: usize = args.get(1).map_or(20_000, |s| s.parse().expect("tiles"));
    let reps: usize = args.get(2).map_or(5, |s| s.parse().expect("repetitions"));
    let world = mosaic::distributed::init()?;
    assert_eq!(
        world.grid().rows(),
        1,
        "a 1 × q grid: one tile column is rank 0's"
    );
    let a = DArray::<f64>::ones(Blocks(4, 4), 4 * tiles, 4);
    a.wait()?;
    let mut per_task = Vec::with_capacity(reps);
    for _ in 0..reps {
        world.barrier()?;
        let t0 = Instant::now();
        let b = &a * 2.0;
        per_task.push(t0.elapsed().as_secs_f64() / tiles as f64 * 1e9);
        b.wait()?;
        world.barrier()?;
    }
    per_task.sort_by(f64::total_cmp);
    let runs = if world.rank() == 0 { "runs" } else { "tracks" };
    for r in 0..world.size() {
        if r == world.rank() {
            println!(
                "rank {r} {runs} {tiles} tasks: submission {:.0} ns a task (median of {reps})",
                per_task[reps / 2]
            );
        }
        world.barrier()?;
    }
    Ok(())
}

#[cfg(not(feature = "mpi"))]
fn main() {
    eprintln!("mpi_overhead needs the mpi feature");
}
