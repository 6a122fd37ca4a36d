//! Tree reduction of many arrays with `datadeps`, and a Chrome-trace Gantt view of it.
//!
//! `cargo run --release --example tree_reduce [arrays] [length]` sums `arrays` arrays of
//! `length` elements pairwise, level by level: at each level, array `i` gets array
//! `i + stride` added to it. The tasks of one level are independent; a task of the next
//! level waits only for the two tasks that produced its inputs, not for the whole level.
//! The trace is written to `tree_reduce.trace.json`: open it in <https://ui.perfetto.dev>.

use std::time::Instant;

use mosaic::prelude::*;
use ndarray::Array1;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let count = args.next().unwrap_or(64);
    let len = args.next().unwrap_or(1 << 20);
    let inputs: Vec<Array1<f64>> = (0..count)
        .map(|k| Array1::from_shape_fn(len, |i| ((i % 7) as f64) * 0.5 + k as f64))
        .collect();

    // Serial reference: the same pairwise order, one array at a time.
    let mut serial = inputs.clone();
    let t0 = Instant::now();
    let mut stride = 1;
    while stride < count {
        for i in (0..count).step_by(2 * stride) {
            if i + stride < count {
                let (lo, hi) = serial.split_at_mut(i + stride);
                lo[i] += &hi[0];
            }
        }
        stride *= 2;
    }
    let serial_time = t0.elapsed();

    let mut arrays = inputs;
    mosaic::trace::start();
    let t0 = Instant::now();
    datadeps(|s| {
        let handles: Vec<_> = arrays.iter_mut().map(|a| s.write(a)).collect();
        let mut stride = 1;
        while stride < count {
            for i in (0..count).step_by(2 * stride) {
                if i + stride < count {
                    s.spawn_with(
                        TaskOptions::named("add"),
                        (InOut(handles[i]), In(handles[i + stride])),
                        |(mut acc, x)| acc += &x,
                    );
                }
            }
            stride *= 2;
        }
    });
    let parallel_time = t0.elapsed();
    let trace = mosaic::trace::stop();
    trace
        .write_chrome_json("tree_reduce.trace.json")
        .expect("write the trace");

    assert_eq!(
        arrays[0], serial[0],
        "the parallel reduction must equal the serial one exactly"
    );
    println!("{count} arrays of {len} f64, {} workers", mosaic::num_threads());
    println!("serial    {:>8.2} ms", serial_time.as_secs_f64() * 1e3);
    println!("datadeps  {:>8.2} ms", parallel_time.as_secs_f64() * 1e3);
    println!(
        "speedup   {:>8.2}x",
        serial_time.as_secs_f64() / parallel_time.as_secs_f64()
    );
    println!(
        "{} tasks traced -> tree_reduce.trace.json (open in ui.perfetto.dev)",
        trace.events().len()
    );
    println!("sum of the reduced array: {}", arrays[0].sum());
}
