//! Back-pressure: a region that submits far more tasks than can be in flight (the limit is
//! 16384 unfinished tasks per region) is held back and resumes, in the main thread and
//! inside a task, and still gives the serial result.

use mosaic::prelude::*;
use ndarray::{s, Array1};

const TASKS: usize = 50_000;

#[test]
fn a_long_chain_passes_through_the_gate() {
    let mut x = Array1::<u64>::zeros(1);
    datadeps(|s| {
        let h = s.write(&mut x);
        for i in 0..TASKS as u64 {
            // Order-sensitive: the result is only right if the chain ran in order.
            s.spawn((InOut(h),), move |(mut v,)| {
                v[0] = v[0].wrapping_mul(31).wrapping_add(i)
            });
        }
    });
    let serial = (0..TASKS as u64).fold(0u64, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
    assert_eq!(x[0], serial);
}

#[test]
fn a_nested_region_inside_a_task_passes_through_the_gate() {
    let mut x = Array1::<u64>::zeros(64);
    datadeps(|s| {
        let h = s.write(&mut x);
        s.spawn((InOut(h),), |(mut v,)| {
            datadeps(|inner| {
                let w = inner.write(&mut v);
                for i in 0..TASKS {
                    let k = i % 64;
                    inner.spawn((InOut(w.slice(s![k..k + 1])),), |(mut e,)| e[0] += 1);
                }
            });
        });
    });
    let per_slot = (TASKS / 64) as u64;
    for (k, v) in x.iter().enumerate() {
        let extra = u64::from(k < TASKS % 64);
        assert_eq!(*v, per_slot + extra, "slot {k}");
    }
}
