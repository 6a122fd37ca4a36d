//! Factor a matrix under a host memory budget and report the rate, the peak RSS and the
//! spill traffic.
//!
//! ```text
//! cargo run --release --example out_of_core -- potrf 16384 512
//! #                                            op    n     budget in MiB (0: none)
//! ```
//! `op` is `potrf` (Cholesky), `getrf` (LU) or `geqrf` (QR). The matrix is uniform random
//! plus n·I (diagonally dominant, so its lower triangle is the one of an SPD matrix), in
//! `AutoBlocks` tiles. One line of `key=value` figures is printed.

use std::time::Instant;

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace};

fn vm_hwm_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let op = args.first().map_or("potrf", String::as_str).to_owned();
    let n: usize = args.get(1).map_or(4096, |s| s.parse().expect("n"));
    let mib: usize = args.get(2).map_or(0, |s| s.parse().expect("budget in MiB"));
    if mib > 0 {
        runtime::set_memory_limit(MemorySpace::Host, Some(mib << 20))?;
    }
    let a =
        &DArray::<f64>::rand_seeded(AutoBlocks, n, n, 7) + &(&DArray::<f64>::eye(AutoBlocks, n) * n as f64);
    a.wait()?;
    let before = runtime::memory_stats(MemorySpace::Host);
    let nf = n as f64;
    let start = Instant::now();
    let flops = match op.as_str() {
        "potrf" => {
            let c = a.cholesky()?;
            c.l().wait()?;
            nf * nf * nf / 3.0
        }
        "getrf" => {
            let lu = a.lu()?;
            lu.u().wait()?;
            2.0 * nf * nf * nf / 3.0
        }
        "geqrf" => {
            let qr = a.qr()?;
            qr.r().wait()?;
            4.0 * nf * nf * nf / 3.0
        }
        other => panic!("unknown op {other}: potrf, getrf or geqrf"),
    };
    let secs = start.elapsed().as_secs_f64();
    let st = runtime::memory_stats(MemorySpace::Host);
    println!(
        "op={op} n={n} budget_mib={mib} block={} secs={secs:.2} gflops={:.1} peak_mib={} vmhwm_mib={} \
         spilled_mib={} reloaded_mib={} evictions={}",
        a.block_size().0,
        flops / secs / 1e9,
        st.peak >> 20,
        vm_hwm_kib() >> 10,
        (st.spilled_bytes - before.spilled_bytes) >> 20,
        (st.reloaded_bytes - before.reloaded_bytes) >> 20,
        st.evictions - before.evictions,
    );
    Ok(())
}
