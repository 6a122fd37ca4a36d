//! mosaic with shared packed operands against mosaic without (`set_shared_packing`), in
//! one process, nothing else running: each repetition runs both, alternating which goes
//! first; medians, and the paired ratio (sharing on over off, speed) as median [min–max].
//!
//! `cargo bench --bench shared_packing -- [--ops gemm,potrf,getrf] [--sizes 2048,4096]
//! [--types f64,f32] [--reps 11]`

use std::time::Instant;

use mosaic::linalg::set_shared_packing;
use mosaic::prelude::*;
use mosaic::Scalar;

fn arg_list(args: &[String], name: &str) -> Option<Vec<String>> {
    let at = args.iter().position(|a| a == name)?;
    Some(args.get(at + 1)?.split(',').map(String::from).collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds of one run of `op` on copies of the operands made outside the timing.
fn run<T: Scalar>(op: &str, a: &DArray<T>, spd: &DArray<T>) -> f64 {
    let input = if op == "potrf" { spd.clone() } else { a.clone() };
    input.wait().expect("copy");
    let t = Instant::now();
    let done = match op {
        "gemm" => (a * a).wait(),
        "potrf" => input.into_cholesky().and_then(|c| c.wait()),
        "getrf" => input.into_lu().and_then(|f| f.wait()),
        other => panic!("unknown op {other}"),
    };
    done.expect("mosaic failed");
    t.elapsed().as_secs_f64()
}

fn bench<T: Scalar>(ty: &str, ops: &[String], sizes: &[usize], reps: usize) {
    for &n in sizes {
        let a = DArray::<T>::rand_seeded(AutoBlocks, n, n, 1);
        let spd = &(&a * &a.t()) + &(&DArray::eye(AutoBlocks, n) * T::from_f64(n as f64));
        spd.wait().expect("operands");
        for op in ops {
            let flops = match op.as_str() {
                "gemm" => 2.0,
                "potrf" => 1.0 / 3.0,
                _ => 2.0 / 3.0,
            } * (n as f64).powi(3);
            let (mut on, mut off) = (Vec::new(), Vec::new());
            for rep in 0..reps {
                for sharing in [rep % 2 == 0, rep % 2 == 1] {
                    set_shared_packing(sharing);
                    let t = run(op, &a, &spd);
                    if sharing { &mut on } else { &mut off }.push(t);
                }
            }
            let paired: Vec<f64> = on.iter().zip(&off).map(|(x, y)| y / x).collect();
            let gf = |t: &Vec<f64>| flops / median(t.clone()) / 1e9;
            let (lo, hi) = paired
                .iter()
                .fold((f64::MAX, 0.0f64), |(l, h), r| (l.min(*r), h.max(*r)));
            println!(
                "{ty:<4} {op:<6} {n:>6} {:>10.1} {:>10.1}   {:.2} [{lo:.2}-{hi:.2}]",
                gf(&on),
                gf(&off),
                median(paired.clone())
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ops = arg_list(&args, "--ops").unwrap_or(vec!["gemm".into(), "potrf".into(), "getrf".into()]);
    let sizes: Vec<usize> = arg_list(&args, "--sizes")
        .map(|v| v.iter().map(|s| s.parse().expect("--sizes")).collect())
        .unwrap_or(vec![2048, 4096]);
    let types = arg_list(&args, "--types").unwrap_or(vec!["f64".into(), "f32".into()]);
    let reps: usize = arg_list(&args, "--reps").map_or(11, |v| v[0].parse().expect("--reps N"));
    println!(
        "mosaic {} workers, medians of {reps}; GFLOP/s with sharing on, off; on over off, paired",
        mosaic::num_threads()
    );
    println!("type op          n         on        off   ratio [min-max]");
    for ty in &types {
        match ty.as_str() {
            "f64" => bench::<f64>("f64", &ops, &sizes, reps),
            "f32" => bench::<f32>("f32", &ops, &sizes, reps),
            other => panic!("unknown type {other}"),
        }
    }
}
