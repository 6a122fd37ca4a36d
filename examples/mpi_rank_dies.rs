//! A rank that dies ends the whole job with an error instead of leaving the others waiting
//! for its tiles (`.ci/run` checks that `mpirun -np 2` of this exits non-zero, promptly):
//! rank 1 panics while rank 0 waits for a product that needs rank 1's tiles.

#[cfg(feature = "mpi")]
fn main() -> mosaic::Result<()> {
    use mosaic::prelude::*;
    let world = mosaic::distributed::init()?;
    let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 256, 256, 1);
    if world.rank() == 1 {
        panic!("rank 1 dies before computing its tiles");
    }
    let c = (&a * &a).to_ndarray();
    println!(
        "rank {} got a product of {:?}: rank 1 did not die",
        world.rank(),
        c.dim()
    );
    Ok(())
}

#[cfg(not(feature = "mpi"))]
fn main() {
    eprintln!("mpi_rank_dies needs the mpi feature");
}
