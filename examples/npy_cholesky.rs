//! Cholesky of a matrix larger than the host memory budget (or the machine's RAM), from an
//! `.npy` file to an `.npy` file, reporting the time of each step, the peak RSS and the
//! spill traffic.
//!
//! ```text
//! cargo run --release --example npy_cholesky -- 57344 8192 /data
//! #                                              n     budget in MiB   directory for the files
//! ```
//! Steps: write a random diagonally dominant n×n f64 matrix to `dir/a.npy` (generated
//! tile by tile under the budget), read it back, delete the input file (the disk then
//! holds only the spilled tiles), factor, write `dir/l.npy`, then check the first and the
//! last diagonal tiles of L·Lᵀ, from the output file, against A's (kept aside).

use std::time::Instant;

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace};

fn vm_hwm_mib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        })
        .unwrap_or(0)
        >> 10
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(8192, |s| s.parse().expect("n"));
    let mib: usize = args.get(1).map_or(1024, |s| s.parse().expect("budget in MiB"));
    let dir = std::path::PathBuf::from(
        args.get(2)
            .map_or_else(|| std::env::temp_dir().display().to_string(), String::clone),
    );
    runtime::set_memory_limit(MemorySpace::Host, Some(mib << 20))?;
    let (input, output) = (dir.join("a.npy"), dir.join("l.npy"));
    let seed = 2026;
    let step = |name: &str, t: Instant| {
        let st = runtime::memory_stats(MemorySpace::Host);
        println!(
            "{name}: {:.1} s, vmhwm {} MiB, budget peak {} MiB, spilled {} MiB, reloaded {} MiB",
            t.elapsed().as_secs_f64(),
            vm_hwm_mib(),
            st.peak >> 20,
            st.spilled_bytes >> 20,
            st.reloaded_bytes >> 20
        );
    };

    let t = Instant::now();
    let tile = |a: &DArray<f64>, i: usize, j: usize| spawn((In(a.tile(i, j)),), |(t,)| t.to_owned()).wait();
    let (first, last) = {
        // Uniform [0, 1) plus n on the diagonal: one DArray, the diagonal added in place.
        let a = DArray::<f64>::rand_seeded(AutoBlocks, n, n, seed);
        let nt = a.tile_grid().0;
        datadeps(|s| {
            for k in 0..nt {
                s.spawn((InOut(Diagonal(a.tile(k, k))),), move |(mut d,)| d += n as f64);
            }
        });
        a.write_npy(&input)?;
        (tile(&a, 0, 0)?, tile(&a, nt - 1, nt - 1)?)
    };
    step("generate + write a.npy", t);

    let t = Instant::now();
    let a = DArray::<f64>::read_npy(&input, AutoBlocks)?;
    a.wait()?;
    std::fs::remove_file(&input).expect("remove the input file");
    step("read a.npy (then deleted)", t);

    let t = Instant::now();
    let chol = a.cholesky()?;
    chol.l().wait()?;
    drop(a);
    let secs = t.elapsed().as_secs_f64();
    step("cholesky", t);
    let nf = n as f64;
    println!(
        "cholesky rate: {:.1} GF/s ({} x {} tiles)",
        nf * nf * nf / 3.0 / secs / 1e9,
        chol.l().block_size().0,
        chol.l().block_size().1
    );

    let t = Instant::now();
    chol.l().write_npy(&output)?;
    drop(chol);
    step("write l.npy", t);

    // Spot check from the file: A's first and last diagonal tiles are Σₖ L(i,k)·L(i,k)ᵀ
    // over the tiles of L's first and last tile rows.
    let l = DArray::<f64>::read_npy(&output, AutoBlocks)?;
    let nt = l.tile_grid().0;
    let gram = |i: usize| -> Result<ndarray::Array2<f64>, Error> {
        let parts: Vec<_> = (0..=i)
            .map(|k| spawn((In(l.tile(i, k)),), |(t,)| t.dot(&t.t())))
            .collect();
        let mut sum = None::<ndarray::Array2<f64>>;
        for p in parts {
            let g = p.wait()?;
            sum = Some(match sum {
                Some(s) => s + g,
                None => g,
            });
        }
        Ok(sum.expect("at least one tile"))
    };
    let rel = |g: ndarray::Array2<f64>, a: &ndarray::Array2<f64>| {
        (&g - a).iter().fold(0.0f64, |m, x| m.max(x.abs())) / (nf * f64::EPSILON)
    };
    // The lower triangle is what the factorization read.
    let lower = |a: &ndarray::Array2<f64>| {
        ndarray::Array2::from_shape_fn(a.dim(), |(i, j)| if i >= j { a[[i, j]] } else { a[[j, i]] })
    };
    println!(
        "max |L·Lᵀ - A| / (n·eps) on the first and last diagonal tiles: {:.2}, {:.2}",
        rel(gram(0)?, &lower(&first)),
        rel(gram(nt - 1)?, &lower(&last))
    );
    std::fs::remove_file(&output).expect("remove the output file");
    Ok(())
}
