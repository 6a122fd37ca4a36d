//! Serial equivalence of random task programs over runtime-owned tiles under random host
//! budgets of a few tiles: tiles are evicted to spill files and read back between the
//! tasks, and every result must equal the serial run bit for bit.
//!
//! A program has 4-10 tiles of random shapes (some never materialized until written) and
//! 20-80 tasks; each writes one tile (`InOut`, or `Out` of the whole tile, or `InOut` of
//! its lower triangle) from up to two others it reads (whole, or their upper triangle),
//! with an order-sensitive formula. The budget is drawn between the largest task's own
//! data (so every task fits) and three times that.

mod common;

use common::Rng;
use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

#[derive(Clone, Copy, Debug)]
enum Write {
    Whole,
    Out,
    Lower,
}

#[derive(Clone, Debug)]
struct Task {
    dst: usize,
    write: Write,
    srcs: Vec<(usize, bool)>, // (tile, upper triangle only)
    k: f64,
}

fn mean_of(v: &ArrayView2<'_, f64>, upper: bool) -> f64 {
    let mut s = 0.0;
    for ((i, j), x) in v.indexed_iter() {
        if !upper || i <= j {
            s += x;
        }
    }
    s / (v.len().max(1) as f64)
}

/// The task's effect on `dst` given the means of what it read.
fn apply(t: &Task, dst: &mut ArrayViewMut2<'_, f64>, means: f64) {
    for ((i, j), x) in dst.indexed_iter_mut() {
        let v = (i * 7 + j) as f64 * 1e-3;
        match t.write {
            Write::Whole => *x = *x * 0.5 + means * t.k + v,
            Write::Out => *x = means * t.k - v,
            Write::Lower if i >= j => *x = *x * 0.25 - means + v,
            Write::Lower => {}
        }
    }
}

fn gen(rng: &mut Rng) -> (Vec<(usize, usize)>, Vec<Task>) {
    let shapes: Vec<(usize, usize)> = (0..rng.range(4, 11))
        .map(|_| (rng.range(8, 40), rng.range(8, 40)))
        .collect();
    let tasks = (0..rng.range(20, 81))
        .map(|_| {
            let dst = rng.below(shapes.len());
            let write = match rng.below(3) {
                0 => Write::Whole,
                1 => Write::Out,
                _ => Write::Lower,
            };
            let mut srcs: Vec<(usize, bool)> = Vec::new();
            for _ in 0..rng.below(3) {
                let s = rng.below(shapes.len());
                if s != dst && !srcs.iter().any(|&(o, _)| o == s) {
                    srcs.push((s, rng.chance(0.3)));
                }
            }
            Task {
                dst,
                write,
                srcs,
                k: rng.f64_in(-1.0, 1.0),
            }
        })
        .collect();
    (shapes, tasks)
}

fn reference(shapes: &[(usize, usize)], tasks: &[Task]) -> Vec<Array2<f64>> {
    let mut tiles: Vec<Array2<f64>> = shapes.iter().map(|&s| Array2::zeros(s)).collect();
    for t in tasks {
        let means = t
            .srcs
            .iter()
            .map(|&(s, up)| mean_of(&tiles[s].view(), up))
            .fold(0.0, |a, b| a + b);
        apply(t, &mut tiles[t.dst].view_mut(), means);
    }
    tiles
}

fn run(shapes: &[(usize, usize)], tasks: &[Task]) -> Vec<Array2<f64>> {
    let tiles: Vec<Tile<f64>> = shapes.iter().map(|&(r, c)| Tile::zeros(r, c)).collect();
    datadeps(|s| {
        for t in tasks {
            let t2 = t.clone();
            let reads = move |views: &[(ArrayView2<'_, f64>, bool)]| -> f64 {
                views
                    .iter()
                    .map(|(v, up)| mean_of(v, *up))
                    .fold(0.0, |a, b| a + b)
            };
            let src = |i: usize| tiles[t.srcs[i].0].clone();
            let up = |i: usize| t.srcs.get(i).is_some_and(|s| s.1);
            let dst = tiles[t.dst].clone();
            macro_rules! go {
                ($w:expr) => {
                    match t.srcs.len() {
                        0 => {
                            s.spawn(($w,), move |(mut d,)| apply(&t2, &mut d, 0.0));
                        }
                        1 => {
                            let u0 = up(0);
                            s.spawn(($w, In(src(0))), move |(mut d, a)| {
                                let m = reads(&[(a, u0)]);
                                apply(&t2, &mut d, m)
                            });
                        }
                        _ => {
                            let (u0, u1) = (up(0), up(1));
                            s.spawn(($w, In(src(0)), In(src(1))), move |(mut d, a, b)| {
                                let m = reads(&[(a, u0), (b, u1)]);
                                apply(&t2, &mut d, m)
                            });
                        }
                    }
                };
            }
            match t.write {
                Write::Whole => go!(InOut(dst)),
                Write::Out => go!(Out(dst)),
                Write::Lower => {
                    // The masked view hands the task the whole tile; `apply` touches only
                    // the lower triangle, as declared.
                    let t3 = t.clone();
                    match t.srcs.len() {
                        0 => {
                            s.spawn((InOut(LowerTriangular(dst)),), move |(mut d,)| {
                                // SAFETY: `apply` with `Write::Lower` writes only i >= j.
                                let mut full = unsafe { d.full_view_mut() };
                                apply(&t3, &mut full, 0.0)
                            });
                        }
                        _ => {
                            let u0 = up(0);
                            s.spawn((InOut(LowerTriangular(dst)), In(src(0))), move |(mut d, a)| {
                                let m = reads(&[(a, u0)]);
                                // SAFETY: as above.
                                let mut full = unsafe { d.full_view_mut() };
                                apply(&t3, &mut full, m)
                            });
                        }
                    }
                }
            }
        }
    });
    let mut out = Vec::new();
    for t in &tiles {
        out.push(spawn((In(t.clone()),), |(v,)| v.to_owned()).wait().unwrap());
    }
    out
}

#[test]
fn random_tile_programs_match_serial_execution_under_random_budgets() {
    let _wd = common::watchdog(
        "random_tile_programs_match_serial_execution_under_random_budgets",
        300,
    );
    for seed in 0..60 {
        let mut rng = Rng::new(seed);
        let (shapes, mut tasks) = gen(&mut rng);
        // Lower-triangle writes read at most one tile (the `go!` arms above).
        for t in &mut tasks {
            if matches!(t.write, Write::Lower) {
                t.srcs.truncate(1);
            }
        }
        let want = reference(&shapes, &tasks);
        let bytes = |i: usize| {
            let (r, c) = shapes[i];
            r.max(1).next_multiple_of(8) * c * 8 + 64
        };
        let largest = tasks
            .iter()
            .map(|t| bytes(t.dst) + t.srcs.iter().map(|&(s, _)| bytes(s)).sum::<usize>())
            .max()
            .unwrap_or(0);
        let limit = largest + rng.below(2 * largest);
        runtime::set_memory_limit(MemorySpace::Host, Some(limit)).unwrap();
        let got = run(&shapes, &tasks);
        runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits()),
                "seed {seed}: tile {i} differs under a {limit}-byte budget"
            );
        }
    }
    let st = runtime::memory_stats(MemorySpace::Host);
    assert!(
        st.evictions > 0 && st.reloaded_bytes > 0,
        "the budgets never forced a spill: {st:?}"
    );
}
