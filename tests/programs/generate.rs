//! Generating random programs: arrays, layouts, and tasks with non-conflicting accesses.

use super::*;

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub(crate) struct GenOptions {
    pub(crate) max_sleep_us: u64,
    pub(crate) priorities: bool,
}

/// A random slice of an axis of length `n`: random bounds (sometimes counted from the
/// end, sometimes empty) and a random step (negative included).
pub(crate) fn gen_axis(rng: &mut Rng, n: usize) -> SliceInfoElem {
    let step = rng.pick(&[1, 1, 1, 2, 3, -1, -1, -2, -3]);
    match rng.below(10) {
        0 => SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1,
        },
        1 => SliceInfoElem::Slice {
            start: 0,
            end: None,
            step,
        },
        2 => {
            // Possibly empty: `end` before `start`.
            let start = rng.range(0, n);
            let end = rng.range(0, start);
            SliceInfoElem::Slice {
                start: start as isize,
                end: Some(end as isize),
                step,
            }
        }
        _ => {
            let start = rng.range(0, n);
            let end = rng.range(start, n);
            let start = if start < n && rng.chance(0.3) {
                start as isize - n as isize
            } else {
                start as isize
            };
            let end = if end == n && rng.chance(0.5) {
                None
            } else if end < n && rng.chance(0.3) {
                Some(end as isize - n as isize)
            } else {
                Some(end as isize)
            };
            SliceInfoElem::Slice { start, end, step }
        }
    }
}

pub(crate) fn gen_slices2(
    rng: &mut Rng,
    shape: (usize, usize),
    max: usize,
) -> (Vec<[SliceInfoElem; 2]>, (usize, usize)) {
    let count = if rng.chance(0.3) { 0 } else { rng.range(1, max) };
    let idx = Array2::<u8>::zeros(shape);
    let mut v = idx.view();
    let mut slices = Vec::new();
    for _ in 0..count {
        let sl = [gen_axis(rng, v.nrows()), gen_axis(rng, v.ncols())];
        v = v.slice_move(info2(&sl));
        slices.push(sl);
    }
    (slices, v.dim())
}

pub(crate) fn gen_slices1(rng: &mut Rng, mut n: usize, max: usize) -> Vec<SliceInfoElem> {
    let count = if rng.chance(0.3) { 0 } else { rng.range(1, max) };
    let mut slices = Vec::new();
    for _ in 0..count {
        let sl = gen_axis(rng, n);
        let idx = Array1::<u8>::zeros(n);
        n = idx.view().slice_move(info1(&sl)).len();
        slices.push(sl);
    }
    slices
}

/// A row or column of a 2-D array of `shape`, or `None` if the pre-slices left no line.
pub(crate) fn gen_line(rng: &mut Rng, arr: Arr, shape: (usize, usize)) -> Option<Sel> {
    let (pre, (nr, nc)) = gen_slices2(rng, shape, 1);
    let along_rows = rng.chance(0.5);
    let (n_index, n_other) = if along_rows { (nr, nc) } else { (nc, nr) };
    if n_index == 0 {
        return None;
    }
    let i = rng.below(n_index);
    let i = if rng.chance(0.3) {
        i as isize - n_index as isize
    } else {
        i as isize
    };
    let other = gen_axis(rng, n_other);
    let index = if along_rows {
        [SliceInfoElem::Index(i), other]
    } else {
        [other, SliceInfoElem::Index(i)]
    };
    let len = Array1::<u8>::zeros(n_other)
        .view()
        .slice_move(info1(&other))
        .len();
    let post = gen_slices1(rng, len, 1);
    Some(Sel::Line {
        arr,
        pre,
        index,
        post,
    })
}

pub(crate) fn gen_sel(rng: &mut Rng, class: Class, p: &Program) -> Option<Sel> {
    match class.info().2 {
        Tgt::W2 => Some(Sel::Mat {
            arr: Arr::A,
            slices: gen_slices2(rng, p.a?, 2).0,
        }),
        Tgt::R2 => Some(Sel::Mat {
            arr: Arr::R,
            slices: gen_slices2(rng, p.r?, 2).0,
        }),
        Tgt::R1 => gen_line(rng, Arr::R, p.r?),
        Tgt::W1 => match (p.a, p.b) {
            (_, Some(n)) if p.a.is_none() || rng.chance(0.5) => Some(Sel::Vector {
                slices: gen_slices1(rng, n, 2),
            }),
            (Some(shape), _) => gen_line(rng, Arr::A, shape),
            _ => None,
        },
    }
}

pub(crate) fn available(class: Class, p: &Program) -> bool {
    match class.info().2 {
        Tgt::W1 => p.a.is_some() || p.b.is_some(),
        Tgt::W2 => p.a.is_some(),
        Tgt::R1 | Tgt::R2 => p.r.is_some(),
    }
}

/// Do two accesses of one task alias in a way the runtime must reject?
pub(crate) fn self_conflict(x: &Acc, y: &Acc) -> bool {
    (x.class.mode().writes() || y.class.mode().writes())
        && x.sel.arr() == y.sel.arr()
        && x.elems.iter().any(|(_, e)| y.elems.iter().any(|(_, f)| e == f))
}

pub(crate) fn gen_acc(rng: &mut Rng, class: Class, p: &Program) -> Option<Acc> {
    let sel = gen_sel(rng, class, p)?;
    let elems = elements(class, &sel, p.a, p.b, p.r);
    Some(Acc { class, sel, elems })
}

pub(crate) fn gen_task(rng: &mut Rng, p: &Program, opts: GenOptions) -> Task {
    let slots: &[&[Class]] = match rng.below(10) {
        0..=3 => &[&ANY],
        4..=7 => &[&ANY, &SECOND],
        _ => &[&THIRD_A, &THIRD_B, &THIRD_C],
    };
    let mut accs: Vec<Acc> = Vec::new();
    for slot in slots {
        let classes: Vec<Class> = slot.iter().copied().filter(|&c| available(c, p)).collect();
        if classes.is_empty() {
            continue;
        }
        for _attempt in 0..12 {
            let class = rng.pick(&classes);
            if let Some(acc) = gen_acc(rng, class, p) {
                if accs.iter().all(|other| !self_conflict(other, &acc)) {
                    accs.push(acc);
                    break;
                }
            }
        }
    }
    assert!(!accs.is_empty(), "seed {}: could not generate a task", p.seed);
    Task {
        accs,
        a: rng.f64_in(0.3, 0.6),
        b: rng.f64_in(-1.0, 1.0),
        c: rng.f64_in(-0.4, 0.4),
        d: rng.f64_in(-0.01, 0.01),
        e: rng.f64_in(-0.1, 0.1),
        sleep_us: if opts.max_sleep_us > 0 {
            rng.below(opts.max_sleep_us as usize + 1) as u64
        } else {
            0
        },
        priority: if opts.priorities {
            rng.irange(-3, 3) as i32
        } else {
            0
        },
        tri_get: rng.chance(0.5),
    }
}

pub(crate) fn gen_program(seed: u64, opts: GenOptions) -> Program {
    gen_program_from(&mut Rng::new(seed), seed, opts)
}

/// A program whose structure (arrays, layouts, tasks, accesses) is drawn from `rng`; the
/// initial values come from a second generator seeded by one draw, so that a fuzzer's
/// input is spent on structure.
pub(crate) fn gen_program_from(rng: &mut Rng, seed: u64, opts: GenOptions) -> Program {
    let mut values = Rng::new(rng.next_u64());
    let has_a = rng.chance(0.85);
    let has_b = !has_a || rng.chance(0.6);
    let has_r = rng.chance(0.5);
    let shape = |rng: &mut Rng| (rng.range(1, 12), rng.range(1, 12));
    let a = has_a.then(|| shape(rng));
    let b = has_b.then(|| rng.range(1, 64));
    let r = has_r.then(|| shape(rng));
    let layouts = [0, 1, 2].map(|_| rng.pick(&[Layout::C, Layout::F, Layout::Reversed]));
    let mut fill = |n: usize| (0..n).map(|_| values.f64_in(-1.0, 1.0)).collect::<Vec<_>>();
    let init = State {
        a: fill(a.map_or(0, |(r, c)| r * c)),
        b: fill(b.unwrap_or(0)),
        r: fill(r.map_or(0, |(r, c)| r * c)),
        means: Vec::new(),
    };
    let mut p = Program {
        seed,
        a,
        b,
        r,
        layouts,
        init,
        tasks: Vec::new(),
    };
    let n = rng.range(10, 60);
    for _ in 0..n {
        let t = gen_task(rng, &p, opts);
        p.tasks.push(t);
    }
    p.init.means = vec![0.0; n];
    p
}
