//! Serial equivalence of `datadeps` regions on random programs (see `programs/mod.rs`
//! for what a program is): the runtime's result must equal the serial run bit for bit.

mod common;
#[macro_use]
mod programs;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::Rng;
use mosaic::prelude::*;
use ndarray::SliceInfoElem;
use programs::*;

/// Worker count for this binary: more workers than the CI's cores, to vary interleavings.
const THREADS: usize = 4;

fn setup() {
    // Every test asks for the same count, so whichever starts the runtime sets it.
    mosaic::set_num_threads(THREADS);
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

const PLAIN: GenOptions = GenOptions {
    max_sleep_us: 0,
    priorities: false,
};

#[test]
fn random_programs_match_serial_execution() {
    setup();
    let _wd = common::watchdog("random_programs_match_serial_execution", 120);
    for seed in 0..300 {
        check_program(&gen_program(seed, PLAIN));
    }
}

#[test]
fn random_programs_with_priorities_match_serial_execution() {
    setup();
    let _wd = common::watchdog("random_programs_with_priorities_match_serial_execution", 120);
    // Priorities reorder ready tasks; they must never reorder conflicting ones.
    for seed in 1000..1100 {
        check_program(&gen_program(
            seed,
            GenOptions {
                max_sleep_us: 0,
                priorities: true,
            },
        ));
    }
}

#[test]
fn random_programs_with_sleeps_match_serial_execution() {
    setup();
    let _wd = common::watchdog("random_programs_with_sleeps_match_serial_execution", 120);
    // Sleeping tasks leave long windows in which a missing dependency would show.
    for seed in 2000..2020 {
        check_program(&gen_program(
            seed,
            GenOptions {
                max_sleep_us: 200,
                priorities: seed % 2 == 0,
            },
        ));
    }
}

/// Two tasks conflict when one writes an element the other touches.
fn conflict(x: &Task, y: &Task) -> bool {
    x.accs.iter().any(|a| y.accs.iter().any(|b| self_conflict(a, b)))
}

#[test]
fn swapping_two_conflicting_tasks_changes_the_result() {
    setup();
    let mut checked = 0;
    for seed in 0..40 {
        let mut p = gen_program(seed, PLAIN);
        let Some(i) = (0..p.tasks.len() - 1).find(|&i| conflict(&p.tasks[i], &p.tasks[i + 1])) else {
            continue;
        };
        // End the program with the pair, so that no later task can overwrite the evidence.
        p.tasks.truncate(i + 2);
        p.init.means.truncate(i + 2);
        let mut order: Vec<usize> = (0..p.tasks.len()).collect();
        let want = run_reference(&p, &order);
        order.swap(i, i + 1);
        let swapped = run_reference(&p, &order);
        let got = run_runtime(&p);
        assert_eq!(
            got.first_difference(&want),
            None,
            "seed {seed}: the runtime differs from the reference"
        );
        assert!(
            got.first_difference(&swapped).is_some(),
            "seed {seed}: swapping conflicting tasks {i} and {} went unnoticed",
            i + 1
        );
        checked += 1;
    }
    assert!(
        checked >= 30,
        "only {checked} programs had adjacent conflicting tasks"
    );
}

#[test]
fn generated_programs_cover_every_class_and_many_conflicts() {
    // Guards the generator: a bug that made every task independent (or never produced some
    // kind of access) would make the equivalence tests vacuous.
    let mut seen = std::collections::HashSet::new();
    let (mut pairs, mut conflicting, mut empty, mut negative_steps) = (0, 0, 0, 0);
    for seed in 0..300 {
        let p = gen_program(seed, PLAIN);
        for (k, t) in p.tasks.iter().enumerate() {
            seen.insert((t.accs.len(), t.accs[0].class));
            for acc in &t.accs {
                seen.insert((0, acc.class));
                empty += usize::from(acc.elems.is_empty());
                let steps = match &acc.sel {
                    Sel::Mat { slices, .. } => slices.iter().flatten().copied().collect::<Vec<_>>(),
                    Sel::Vector { slices } => slices.clone(),
                    Sel::Line { pre, index, post, .. } => {
                        pre.iter().flatten().chain(index).chain(post).copied().collect()
                    }
                };
                negative_steps += usize::from(
                    steps
                        .iter()
                        .any(|e| matches!(e, SliceInfoElem::Slice { step, .. } if *step < 0)),
                );
            }
            for u in &p.tasks[k + 1..] {
                pairs += 1;
                conflicting += usize::from(conflict(t, u));
            }
        }
    }
    for class in ANY {
        assert!(seen.contains(&(0, class)), "class {class:?} never generated");
        assert!(seen.contains(&(1, class)), "class {class:?} never alone");
    }
    assert!(seen.iter().any(|&(n, _)| n == 3), "no three-access task");
    assert!(
        conflicting * 5 > pairs,
        "too few conflicts: {conflicting} of {pairs} task pairs"
    );
    assert!(
        empty > 0 && negative_steps > 100,
        "empty {empty}, negative steps {negative_steps}"
    );
}

#[test]
fn self_conflict_check_agrees_with_element_sets() {
    setup();
    // Silence the expected spawn panics (only those) to keep the test output readable.
    common::silence_panics(|payload| {
        common::payload_text(payload).starts_with("a task declares overlapping accesses")
    });
    let (mut rejected, mut accepted) = (0, 0);
    for seed in 0..150 {
        let mut rng = Rng::new(seed + 5000);
        let p = gen_program(seed + 5000, PLAIN);
        // Pairs of accesses drawn without the generator's conflict filter, often on the
        // same array.
        let pairs: Vec<(Acc, Acc)> = (0..12)
            .filter_map(|_| {
                let (cx, cy) = (rng.pick(&ANY), rng.pick(&SECOND));
                let x = gen_acc(&mut rng, cx, &p)?;
                let y = gen_acc(&mut rng, cy, &p)?;
                Some((x, y))
            })
            .filter(|(x, y)| available(x.class, &p) && available(y.class, &p))
            .collect();
        let mut a = p.a.map(|shape| Mat2::new(shape, &p.init.a, Layout::C));
        let mut b = p.b.map(|_| Vec1::new(&p.init.b, Layout::C));
        let mut r = p.r.map(|shape| Mat2::new(shape, &p.init.r, Layout::C));
        let mut av = a.as_mut().map(Mat2::view_mut);
        let mut bv = b.as_mut().map(Vec1::view_mut);
        let rv = r.as_mut().map(Mat2::view_mut);
        datadeps(|s| {
            let h = Handles {
                a: av.as_mut().map(|v| s.write(v)),
                b: bv.as_mut().map(|v| s.write(v)),
                r: rv.as_ref().map(|v| s.read(v)),
            };
            for (xa, ya) in &pairs {
                let expected = self_conflict(xa, ya);
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    dispatch!(
                        h,
                        xa,
                        [
                            InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo,
                            OutLo, InUUp, InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag,
                            OutDiag, InR1, InR2, InUpR, InDiagR
                        ],
                        |x| dispatch!(
                            h,
                            ya,
                            [InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InOutULo, InUp, InR2],
                            |y| drop(s.spawn((x, y), |_| ()))
                        )
                    )
                }));
                match outcome {
                    Ok(()) => {
                        assert!(
                            !expected,
                            "seed {seed}: aliasing accesses accepted: {xa:?} / {ya:?}"
                        );
                        accepted += 1;
                    }
                    Err(payload) => {
                        let text = common::payload_text(payload.as_ref());
                        assert!(
                            expected,
                            "seed {seed}: disjoint accesses rejected ({text}): {xa:?} / {ya:?}"
                        );
                        assert!(
                            text.contains("declares overlapping accesses"),
                            "unclear message: {text}"
                        );
                        rejected += 1;
                    }
                }
            }
        });
    }
    assert!(
        rejected > 80 && accepted > 80,
        "rejected {rejected}, accepted {accepted}"
    );
}
