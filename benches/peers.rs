//! mosaic against faer on this machine, interleaved: for each operation, size and element
//! type, every repetition runs mosaic, faer with `Par::rayon(workers)` and faer with
//! `Par::Seq` one after the other (so noise on the shared core hits all three alike), each
//! repetition starting with the next runner (so none always runs first), and the table
//! reports medians, GFLOP/s and mosaic's ratio to each. The ratios are paired: mosaic's
//! speed over the peer's *in the same repetition* (they run seconds apart), as the median
//! and the range over the repetitions. On a machine whose speed drifts (a shared core),
//! a ratio of two medians taken over different phases can be off by more than the effect
//! being measured; a paired ratio is not, and its range shows how settled it is.
//!
//! `cargo bench --bench peers -- [--ops gemm,potrf,getrf,geqrf,trsm] [--sizes 256,512,...]
//! [--types f64,f32] [--reps 5] [--threads N] [--blocks auto,256,512] [--unpacked] [--skip-seq]
//! [--csv peers.csv] [--svg peers.svg]`
//!
//! `--skip-seq` leaves out faer's sequential run (for the largest sizes, where it is slow).
//!
//! `--blocks` runs mosaic once per partition (AutoBlocks, and fixed square tiles), each
//! interleaved with the others, to check AutoBlocks against the best fixed tile size: the
//! first partition's speed over each other's is paired like the peers' ratios.
//!
//! `--unpacked` runs mosaic a second time per partition with the sharing of packed
//! operands off (`mosaic::linalg::set_shared_packing(false)`), interleaved the same way.
//!
//! With `--features openblas`, OpenBLAS's BLAS/LAPACK (Debian's libopenblas-dev) runs too,
//! on column-major copies; set `OPENBLAS_CORETYPE=SkylakeX` on AVX-512 machines (Debian's
//! 0.3.21 misdetects them) and `OPENBLAS_NUM_THREADS` to the thread count wanted.
//!
//! `--threads N` sets mosaic's workers (and faer's threads) before first use: run once with
//! 1 and once with 2 for the scaling. The CSV gets one line per (type, op, n, library); the
//! SVG plots GFLOP/s against n per operation.

#[path = "../examples/common/faer_dense.rs"]
mod faer_dense;
#[cfg(feature = "openblas")]
#[path = "../examples/common/openblas_dense.rs"]
mod openblas_dense;

use std::fmt::Write as _;

use faer::{Mat, Par};
use faer_dense::{seconds, to_faer};
use mosaic::linalg::{Diag, Side, Trans, Uplo};
use mosaic::prelude::*;
use mosaic::Scalar;
use ndarray::ShapeBuilder;

const OPS: [&str; 5] = ["gemm", "potrf", "getrf", "geqrf", "trsm"];
const PEERS: [&str; 3] = ["faer (threads)", "faer (1 thread)", "OpenBLAS"];

/// OpenBLAS's routine for `op` (feature `openblas`), seconds; `None` without the feature.
trait Reference: Scalar {
    fn openblas(op: &str, x: &Inputs<Self>) -> Option<f64>;
}

#[cfg(not(feature = "openblas"))]
impl<T: Scalar> Reference for T {
    fn openblas(_: &str, _: &Inputs<Self>) -> Option<f64> {
        None
    }
}

#[cfg(feature = "openblas")]
impl<T: Scalar + lax::Lapack> Reference for T {
    fn openblas(op: &str, x: &Inputs<Self>) -> Option<f64> {
        let (a, b, spd, lower) = &x.column_major;
        // Each routine works in place: the copy is made before the clock starts.
        let mut work = match op {
            "potrf" => spd.clone(),
            "trsm" => b.clone(),
            _ => a.clone(),
        };
        let t = std::time::Instant::now();
        match op {
            "gemm" => return Some(openblas_dense::gemm(a, b)),
            "potrf" => openblas_dense::potrf(&mut work).map(drop),
            "getrf" => openblas_dense::getrf(&mut work).map(drop),
            "geqrf" => openblas_dense::geqrf(&mut work).map(drop),
            "trsm" => openblas_dense::trsm(lower, &mut work),
            _ => unreachable!(),
        }
        .expect("OpenBLAS failed");
        Some(t.elapsed().as_secs_f64())
    }
}

fn flops(op: &str, n: f64) -> f64 {
    match op {
        "gemm" => 2.0 * n.powi(3),
        "potrf" => n.powi(3) / 3.0,
        "getrf" => 2.0 * n.powi(3) / 3.0,
        "geqrf" => 4.0 * n.powi(3) / 3.0,
        "trsm" => n.powi(3),
        _ => unreachable!(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// One measurement of mosaic's `op` on size `n` (seconds), inputs prepared outside.
/// mosaic's operands cut one way.
struct Tiled<T> {
    label: String,
    /// Share packed operands (`set_shared_packing`) while this variant runs.
    packing: bool,
    a: DArray<T>,
    b: DArray<T>,
    spd: DArray<T>,
    lower: DArray<T>,
}

/// The operands of one size: mosaic's under every partition asked for, faer's and
/// OpenBLAS's dense copies of the same values.
struct Inputs<T> {
    tiled: Vec<Tiled<T>>,
    dense: (Mat<T>, Mat<T>, Mat<T>, Mat<T>),
    /// Column-major copies for OpenBLAS.
    #[cfg_attr(not(feature = "openblas"), allow(dead_code))]
    column_major: (
        ndarray::Array2<T>,
        ndarray::Array2<T>,
        ndarray::Array2<T>,
        ndarray::Array2<T>,
    ),
}

/// `blocks`: `None` for `AutoBlocks`, `Some(b)` for `Blocks(b, b)`, each with packed
/// operands shared or not.
fn inputs<T: Scalar>(n: usize, blocks: &[(Option<usize>, bool)]) -> Inputs<T> {
    let a = DArray::<T>::rand_seeded(AutoBlocks, n, n, 1);
    let b = DArray::<T>::rand_seeded(AutoBlocks, n, n, 2);
    let spd = &(&a * &a.t()) + &(&DArray::eye(AutoBlocks, n) * T::from_f64(n as f64));
    // A well-conditioned lower triangle for trsm: the Cholesky factor of the SPD matrix.
    let lower = spd.cholesky().expect("SPD").l().clone();
    let (ad, bd, sd, ld) = (
        a.to_ndarray(),
        b.to_ndarray(),
        spd.to_ndarray(),
        lower.to_ndarray(),
    );
    let auto = a.block_size().0;
    let tiled = blocks
        .iter()
        .map(|&(blk, packing)| {
            // AutoBlocks leaves the factorizations their own tile size; `auto=` shows the
            // one it picks for the operands (and the product).
            let one_cut = blocks.iter().all(|(b, _)| b.is_none());
            let label = match blk {
                None if one_cut => "mosaic".to_string(),
                None => format!("mosaic auto={auto}"),
                Some(b) => format!("mosaic b={b}"),
            } + if packing { "" } else { " unpacked" };
            let cut = |d: &ndarray::Array2<T>| match blk {
                None => DArray::from_ndarray(d, AutoBlocks),
                Some(b) => DArray::from_ndarray(d, Blocks(b, b)),
            };
            Tiled {
                label,
                packing,
                a: cut(&ad),
                b: cut(&bd),
                spd: cut(&sd),
                lower: cut(&ld),
            }
        })
        .collect();
    let dense = (to_faer(&ad), to_faer(&bd), to_faer(&sd), to_faer(&ld));
    let fortran = |m: &ndarray::Array2<T>| {
        let mut f = ndarray::Array2::zeros(m.dim().f());
        f.assign(m);
        f
    };
    let column_major = (fortran(&ad), fortran(&bd), fortran(&sd), fortran(&ld));
    Inputs {
        tiled,
        dense,
        column_major,
    }
}

fn run_mosaic<T: Scalar>(op: &str, x: &Tiled<T>) -> f64 {
    // Like the peers, which are timed in place on a copy made just before, mosaic factors
    // (the consuming `into_*`) or solves in place on a copy made outside the timing. Its
    // factorizations still copy inside when the input's tiles are not their working tiles
    // (AutoBlocks above 256: the factorization re-cuts).
    let input = match op {
        "potrf" => Some(x.spd.clone()),
        "getrf" | "geqrf" => Some(x.a.clone()),
        "trsm" => Some(x.b.clone()),
        _ => None,
    };
    if let Some(input) = &input {
        input.wait().expect("copy");
    }
    mosaic::linalg::set_shared_packing(x.packing);
    let (r, t) = seconds(|| match (op, input) {
        ("gemm", _) => (&x.a * &x.b).wait(),
        ("potrf", Some(a)) => a.into_cholesky().and_then(|c| c.wait()),
        ("getrf", Some(a)) => a.into_lu().and_then(|f| f.wait()),
        ("geqrf", Some(a)) => a.into_qr().and_then(|f| f.wait()),
        ("trsm", Some(mut rhs)) => {
            let (side, uplo) = (Side::Left, Uplo::Lower);
            mosaic::linalg::trsm(side, uplo, Trans::No, Diag::NonUnit, T::one(), &x.lower, &mut rhs)
                .and_then(|()| rhs.wait())
        }
        _ => unreachable!(),
    });
    r.expect("mosaic failed");
    t
}

fn run_faer<T: Scalar>(op: &str, x: &Inputs<T>, par: Par) -> f64 {
    let (a, b, spd, lower) = &x.dense;
    match op {
        "gemm" => faer_dense::gemm(a, b, par),
        "potrf" => faer_dense::potrf(spd, par),
        "getrf" => faer_dense::getrf(a, par),
        "geqrf" => faer_dense::geqrf(a, par),
        "trsm" => faer_dense::trsm(lower, b, par),
        _ => unreachable!(),
    }
}

/// Rows of results: (type, op, n, library, median seconds, GFLOP/s, and for every column
/// but the first the paired ratio of the first mosaic column to it).
type Row = (
    &'static str,
    &'static str,
    usize,
    String,
    f64,
    f64,
    Option<Paired>,
);

fn bench<T: Reference>(
    ty: &'static str,
    ops: &[&'static str],
    sizes: &[usize],
    blocks: &[(Option<usize>, bool)],
    reps: usize,
    skip_seq: bool,
    rows: &mut Vec<Row>,
) {
    let threads = mosaic::num_threads();
    for &n in sizes {
        let x = inputs::<T>(n, blocks);
        let mut libs: Vec<String> = x.tiled.iter().map(|t| t.label.clone()).collect();
        libs.extend(PEERS.iter().map(|p| p.to_string()));
        if rows.is_empty() {
            print!("{:<4} {:<6} {:>6}", "type", "op", "n");
            for l in &libs {
                print!(" {:>14}", l);
            }
            println!("   (GFLOP/s; first mosaic column / peer, paired: median [min-max])");
        }
        for &op in ops {
            // times[k][rep]: runner k's seconds in repetition `rep` (`None`: not run).
            let mut times = vec![Vec::with_capacity(reps); libs.len()];
            let m = x.tiled.len();
            // Each repetition starts with a different runner, so that none always runs
            // first (after the previous operation) or right after the same neighbour.
            for rep in 0..reps {
                for step in 0..libs.len() {
                    let k = (step + rep) % libs.len();
                    // OpenBLAS's threads spin for a while after a call (about 2^28 cycles),
                    // taking a core from whichever runner comes next: a pause before every
                    // runner lets them sleep, so that none is timed against them.
                    std::thread::sleep(std::time::Duration::from_millis(250));
                    let t = match k.checked_sub(m) {
                        None => Some(run_mosaic(op, &x.tiled[k])),
                        Some(0) => Some(run_faer(op, &x, Par::rayon(threads))),
                        Some(1) => (!skip_seq).then(|| run_faer(op, &x, Par::Seq)),
                        Some(_) => T::openblas(op, &x),
                    };
                    times[k].push(t);
                }
            }
            let gf: Vec<Option<(f64, f64)>> = times
                .iter()
                .map(|t| {
                    let t: Vec<f64> = t.iter().flatten().copied().collect();
                    (!t.is_empty())
                        .then(|| median(t))
                        .map(|t| (t, flops(op, n as f64) / t / 1e9))
                })
                .collect();
            print!("{ty:<4} {op:<6} {n:>6}");
            for g in &gf {
                print!(" {:>14}", g.map_or("-".to_string(), |g| format!("{:.1}", g.1)));
            }
            // paired[k]: the first column against column k (none for the first itself).
            let paired: Vec<Option<Paired>> = times
                .iter()
                .enumerate()
                .map(|(k, t)| if k == 0 { None } else { paired(&times[0], t) })
                .collect();
            // Against every other column: the other tilings of mosaic's operands (so the
            // AutoBlocks sweep is paired too) and the peers.
            let ratios: Vec<String> = paired[1..]
                .iter()
                .zip(&libs[1..])
                .filter_map(|(r, p)| r.map(|r| format!("{:.2} [{:.2}-{:.2}] vs {p}", r.median, r.min, r.max)))
                .collect();
            println!("   {}", ratios.join(", "));
            for (k, (lib, g)) in libs.iter().zip(&gf).enumerate() {
                if let Some((t, g)) = g {
                    rows.push((ty, op, n, lib.clone(), *t, *g, paired[k]));
                }
            }
        }
    }
}

/// mosaic's speed against a peer's, repetition by repetition (the peer's time over
/// mosaic's in the same repetition, so a slow phase of the machine hits both sides of
/// each ratio): the median and the range over the repetitions.
#[derive(Clone, Copy, Debug)]
struct Paired {
    median: f64,
    min: f64,
    max: f64,
}

/// The paired ratios of `mosaic`'s times to `peer`'s, over the repetitions both ran.
fn paired(mosaic: &[Option<f64>], peer: &[Option<f64>]) -> Option<Paired> {
    let r: Vec<f64> = mosaic
        .iter()
        .zip(peer)
        .filter_map(|(m, p)| Some(p.as_ref()? / m.as_ref()?))
        .collect();
    let (min, max) = r
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    (!r.is_empty()).then(|| Paired {
        median: median(r),
        min,
        max,
    })
}

fn arg_list<'a>(args: &'a [String], name: &str) -> Option<Vec<&'a str>> {
    let i = args.iter().position(|a| a == name)?;
    Some(args.get(i + 1)?.split(',').collect())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(t) = arg_list(&args, "--threads") {
        mosaic::set_num_threads(t[0].parse().expect("--threads N"));
    }
    let ops: Vec<&'static str> = arg_list(&args, "--ops")
        .map(|v| {
            v.iter()
                .map(|o| *OPS.iter().find(|k| *k == o).expect("unknown op"))
                .collect()
        })
        .unwrap_or(OPS.to_vec());
    let sizes: Vec<usize> = arg_list(&args, "--sizes")
        .map(|v| v.iter().map(|s| s.parse().expect("sizes")).collect())
        .unwrap_or(vec![256, 512, 1024, 2048]);
    let types = arg_list(&args, "--types").unwrap_or(vec!["f64"]);
    let reps: usize = arg_list(&args, "--reps").map_or(5, |v| v[0].parse().expect("--reps N"));
    let skip_seq = args.iter().any(|a| a == "--skip-seq");
    let blocks: Vec<Option<usize>> = arg_list(&args, "--blocks")
        .map(|v| {
            v.iter()
                .map(|b| (*b != "auto").then(|| b.parse().expect("--blocks auto,256,...")))
                .collect()
        })
        .unwrap_or(vec![None]);
    let packing: &[bool] = if args.iter().any(|a| a == "--unpacked") {
        &[true, false]
    } else {
        &[true]
    };
    let blocks: Vec<(Option<usize>, bool)> = blocks
        .iter()
        .flat_map(|&b| packing.iter().map(move |&p| (b, p)))
        .collect();
    println!(
        "mosaic {} workers; faer Par::rayon({0}) and Par::Seq; medians of {reps}, interleaved; \
         ratios: mosaic's speed over the peer's in the same repetition, median [min-max]",
        mosaic::num_threads()
    );
    let mut rows = Vec::new();
    for ty in types {
        match ty {
            "f64" => bench::<f64>("f64", &ops, &sizes, &blocks, reps, skip_seq, &mut rows),
            "f32" => bench::<f32>("f32", &ops, &sizes, &blocks, reps, skip_seq, &mut rows),
            other => panic!("unknown type {other}"),
        }
    }
    if let Some(path) = arg_list(&args, "--csv") {
        let mut csv = String::from("type,op,n,library,median_s,gflops,paired_ratio,ratio_min,ratio_max\n");
        for (ty, op, n, lib, t, gf, r) in &rows {
            let r = r.map_or(",,".to_string(), |r| {
                format!("{:.3},{:.3},{:.3}", r.median, r.min, r.max)
            });
            let _ = writeln!(csv, "{ty},{op},{n},{lib},{t:.6},{gf:.2},{r}");
        }
        std::fs::write(path[0], csv).expect("write the CSV");
    }
    if let Some(path) = arg_list(&args, "--svg") {
        std::fs::write(path[0], plot(&rows)).expect("write the SVG");
    }
}

/// GFLOP/s against n (log scale), one panel per (type, op), one line per library.
fn plot(rows: &[Row]) -> String {
    let mut panels: Vec<(&str, &str)> = rows.iter().map(|r| (r.0, r.1)).collect();
    panels.dedup();
    let (pw, ph, cols) = (380.0, 260.0, 3usize);
    let nrows = panels.len().div_ceil(cols);
    let (w, h) = (pw * cols as f64, ph * nrows as f64 + 30.0);
    let colours = [
        "#e15759", "#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
    ];
    let mut libs: Vec<&str> = Vec::new();
    for r in rows {
        if !libs.contains(&r.3.as_str()) {
            libs.push(&r.3);
        }
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
    );
    for (i, lib) in libs.iter().enumerate() {
        let x = 20.0 + i as f64 * 160.0;
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"8\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"18\">{lib}</text>",
            colours[i % colours.len()],
            x + 16.0
        );
    }
    for (p, (ty, op)) in panels.iter().enumerate() {
        let (x0, y0) = ((p % cols) as f64 * pw + 50.0, (p / cols) as f64 * ph + 40.0);
        let (iw, ih) = (pw - 70.0, ph - 60.0);
        let pts: Vec<&Row> = rows.iter().filter(|r| r.0 == *ty && r.1 == *op).collect();
        let (nmin, nmax) = pts.iter().fold((f64::MAX, 0.0f64), |(a, b), r| {
            (a.min(r.2 as f64), b.max(r.2 as f64))
        });
        let gmax = pts.iter().fold(1.0f64, |m, r| m.max(r.5)) * 1.1;
        let xs = |n: f64| {
            if nmax > nmin {
                x0 + (n / nmin).log2() / (nmax / nmin).log2() * iw
            } else {
                x0 + iw / 2.0
            }
        };
        let ys = |g: f64| y0 + ih - g / gmax * ih;
        let _ = writeln!(
            out,
            "<text x=\"{x0}\" y=\"{:.0}\" font-weight=\"bold\">{op} ({ty})</text><rect x=\"{x0}\" y=\"{y0}\" width=\"{iw}\" height=\"{ih}\" fill=\"none\" stroke=\"#999\"/>",
            y0 - 6.0
        );
        for k in 0..=4 {
            let g = gmax * k as f64 / 4.0;
            let _ = writeln!(
                out,
                "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{g:.0}</text>",
                x0 - 4.0,
                ys(g) + 4.0
            );
        }
        let mut sizes: Vec<usize> = pts.iter().map(|r| r.2).collect();
        sizes.dedup();
        for n in sizes {
            let _ = writeln!(
                out,
                "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">{n}</text>",
                xs(n as f64),
                y0 + ih + 14.0
            );
        }
        for (i, lib) in libs.iter().enumerate() {
            let line: Vec<String> = pts
                .iter()
                .filter(|r| r.3 == *lib)
                .map(|r| format!("{:.1},{:.1}", xs(r.2 as f64), ys(r.5)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                line.join(" "),
                colours[i % colours.len()]
            );
        }
    }
    out.push_str("</svg>\n");
    out
}
