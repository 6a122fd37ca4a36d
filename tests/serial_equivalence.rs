//! Serial equivalence of `datadeps` regions on random programs.
//!
//! Each program binds up to three arrays (a written 2-D array `A`, a written 1-D array
//! `B`, a 2-D array `R` bound read-only) in assorted memory layouts (C order, Fortran
//! order, reversed strides, a stride-2 view) and submits 10-60 tasks. A task declares 1-3
//! accesses, each a mode (`In`, `InOut`, `Out`) on a target: a whole array, a random
//! (possibly nested) slice with random bounds and steps (negative included), a row or
//! column picked by an index, or an `UpperTriangular` / `LowerTriangular` /
//! `UnitUpperTriangular` / `UnitLowerTriangular` / `Diagonal` part of a 2-D target. No task
//! declares two overlapping accesses of which one writes (the runtime rejects those; see
//! `self_conflict_check_agrees_with_element_sets`).
//!
//! A task reads the mean of everything it declared `In`, then rewrites every element it
//! declared writable with an order-sensitive formula (`x*a + b + mean*c + …` for `InOut`,
//! `b + mean*c + …` for `Out`), and returns the mean. The same program runs through
//! `datadeps` and through a reference that applies the same formula, in submission order,
//! to plain vectors; the elements each access reaches are computed independently of the
//! runtime, by slicing an array of element indices with `ndarray` itself. Final arrays and
//! every task's mean must agree bit for bit.
//!
//! `swapping_two_conflicting_tasks_changes_the_result` shows the comparison is sensitive:
//! a reference with two conflicting tasks swapped disagrees with the runtime.
//!
//! The classes of access a task can combine are limited so that the number of distinct
//! access-tuple types (each one a separate monomorphisation) stays near 300: any access
//! alone, any access followed by one of nine common ones, and three-access tasks from small
//! sets. The slices themselves are unrestricted.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::Rng;
use mosaic::datadeps::{Handle, Mutable, ReadOnly, ScopedFuture, TriangularView, TriangularViewMut};
use mosaic::prelude::*;
use ndarray::{
    s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Ix1, Ix2, ShapeBuilder,
    SliceInfo, SliceInfoElem,
};

/// Worker count for this binary: more workers than the CI's cores, to vary interleavings.
const THREADS: usize = 4;

fn setup() {
    // Every test asks for the same count, so whichever starts the runtime sets it.
    mosaic::set_num_threads(THREADS);
}

// ---------------------------------------------------------------------------------------
// Program description
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    In,
    InOut,
    Out,
}

impl Mode {
    fn writes(self) -> bool {
        self != Mode::In
    }
}

/// Which elements of a 2-D view an access reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Plain,
    Upper,
    Lower,
    UnitUpper,
    UnitLower,
    Diag,
}

impl Part {
    fn admits(self, i: usize, j: usize) -> bool {
        match self {
            Part::Plain => true,
            Part::Upper => i <= j,
            Part::Lower => i >= j,
            Part::UnitUpper => i < j,
            Part::UnitLower => i > j,
            Part::Diag => i == j,
        }
    }
}

/// The arrays of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arr {
    /// 2-D, bound with `s.write`.
    A,
    /// 1-D, bound with `s.write`.
    B,
    /// 2-D, bound with `s.read`.
    R,
}

/// The kind of handle an access is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tgt {
    /// 1-D, writable (a slice of `B` or a line of `A`).
    W1,
    /// 2-D, writable (`A` or a slice of it).
    W2,
    /// 1-D, read-only (a line of `R`).
    R1,
    /// 2-D, read-only (`R` or a slice of it).
    R2,
}

/// One concrete `Access` type each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Class {
    InW1,
    InOutW1,
    OutW1,
    InW2,
    InOutW2,
    OutW2,
    InUp,
    InOutUp,
    OutUp,
    InLo,
    InOutLo,
    OutLo,
    InUUp,
    InOutUUp,
    OutUUp,
    InULo,
    InOutULo,
    OutULo,
    InDiag,
    InOutDiag,
    OutDiag,
    InR1,
    InR2,
    InUpR,
    InDiagR,
}

impl Class {
    fn info(self) -> (Mode, Part, Tgt) {
        use Class::*;
        use Mode::{In as I, InOut as IO, Out as O};
        match self {
            InW1 => (I, Part::Plain, Tgt::W1),
            InOutW1 => (IO, Part::Plain, Tgt::W1),
            OutW1 => (O, Part::Plain, Tgt::W1),
            InW2 => (I, Part::Plain, Tgt::W2),
            InOutW2 => (IO, Part::Plain, Tgt::W2),
            OutW2 => (O, Part::Plain, Tgt::W2),
            InUp => (I, Part::Upper, Tgt::W2),
            InOutUp => (IO, Part::Upper, Tgt::W2),
            OutUp => (O, Part::Upper, Tgt::W2),
            InLo => (I, Part::Lower, Tgt::W2),
            InOutLo => (IO, Part::Lower, Tgt::W2),
            OutLo => (O, Part::Lower, Tgt::W2),
            InUUp => (I, Part::UnitUpper, Tgt::W2),
            InOutUUp => (IO, Part::UnitUpper, Tgt::W2),
            OutUUp => (O, Part::UnitUpper, Tgt::W2),
            InULo => (I, Part::UnitLower, Tgt::W2),
            InOutULo => (IO, Part::UnitLower, Tgt::W2),
            OutULo => (O, Part::UnitLower, Tgt::W2),
            InDiag => (I, Part::Diag, Tgt::W2),
            InOutDiag => (IO, Part::Diag, Tgt::W2),
            OutDiag => (O, Part::Diag, Tgt::W2),
            InR1 => (I, Part::Plain, Tgt::R1),
            InR2 => (I, Part::Plain, Tgt::R2),
            InUpR => (I, Part::Upper, Tgt::R2),
            InDiagR => (I, Part::Diag, Tgt::R2),
        }
    }

    fn mode(self) -> Mode {
        self.info().0
    }

    fn part(self) -> Part {
        self.info().1
    }
}

/// Every class: a one-access task, or the first access of a two-access task.
const ANY: [Class; 25] = {
    use Class::*;
    [
        InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo, OutLo, InUUp,
        InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag, OutDiag, InR1, InR2, InUpR, InDiagR,
    ]
};
/// The second access of a two-access task.
const SECOND: [Class; 9] = {
    use Class::*;
    [InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InOutULo, InUp, InR2]
};
/// The three accesses of a three-access task. Dropping the second or third still gives
/// an (`ANY`, `SECOND`) pair.
const THIRD_A: [Class; 4] = {
    use Class::*;
    [InOutW2, OutW2, InOutUp, InOutW1]
};
const THIRD_B: [Class; 3] = {
    use Class::*;
    [InW2, InW1, InOutW1]
};
const THIRD_C: [Class; 3] = {
    use Class::*;
    [InW2, InR2, OutW1]
};

/// The target of an access, as slicing operations on one of the arrays.
#[derive(Clone, Debug)]
enum Sel {
    /// A 2-D view of `arr` (`A` or `R`), sliced by each of `slices` in turn.
    Mat {
        arr: Arr,
        slices: Vec<[SliceInfoElem; 2]>,
    },
    /// A 1-D view of `B`, sliced by each of `slices` in turn.
    Vector { slices: Vec<SliceInfoElem> },
    /// A row or column of `arr` (`A` or `R`): `pre` 2-D slices, then `index` (one `Index`
    /// and one `Slice`), then `post` 1-D slices.
    Line {
        arr: Arr,
        pre: Vec<[SliceInfoElem; 2]>,
        index: [SliceInfoElem; 2],
        post: Vec<SliceInfoElem>,
    },
}

impl Sel {
    fn arr(&self) -> Arr {
        match self {
            Sel::Mat { arr, .. } | Sel::Line { arr, .. } => *arr,
            Sel::Vector { .. } => Arr::B,
        }
    }
}

#[derive(Clone, Debug)]
struct Acc {
    class: Class,
    sel: Sel,
    /// The elements reached, in the order a task visits them: `(index in the view,
    /// row-major flat index in the array)`. The view index is `i * ncols + j` for 2-D
    /// plain and triangular views, the position for 1-D and diagonal views.
    elems: Vec<(usize, usize)>,
}

#[derive(Clone, Debug)]
struct Task {
    accs: Vec<Acc>,
    a: f64,
    b: f64,
    c: f64,
    d: f64,
    e: f64,
    sleep_us: u64,
    priority: i32,
    /// Write triangular views through `get_mut` instead of `for_each_mut`.
    tri_get: bool,
}

impl Task {
    /// The new value of an element the task writes through access `k`.
    fn update(&self, k: usize, mode: Mode, old: f64, lin: usize, mean: f64) -> f64 {
        let base = self.b + mean * self.c + lin as f64 * self.d + k as f64 * self.e;
        match mode {
            Mode::InOut => old * self.a + base,
            Mode::Out => base,
            Mode::In => unreachable!("`In` accesses are not written"),
        }
    }
}

/// How an array is laid out in memory (the tasks always see it in logical order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Row-major (2-D) / contiguous (1-D).
    C,
    /// Column-major (2-D) / every other element of a buffer twice as long (1-D).
    F,
    /// Both axes reversed: negative strides.
    Reversed,
}

#[derive(Clone, Debug)]
struct Program {
    seed: u64,
    a: Option<(usize, usize)>,
    b: Option<usize>,
    r: Option<(usize, usize)>,
    layouts: [Layout; 3],
    init: State,
    tasks: Vec<Task>,
}

/// Contents of the arrays (row-major, logical order) and the value each task returned.
#[derive(Clone, Debug, PartialEq)]
struct State {
    a: Vec<f64>,
    b: Vec<f64>,
    r: Vec<f64>,
    means: Vec<f64>,
}

impl State {
    fn array(&mut self, arr: Arr) -> &mut Vec<f64> {
        match arr {
            Arr::A => &mut self.a,
            Arr::B => &mut self.b,
            Arr::R => &mut self.r,
        }
    }

    /// The first difference from `other`, comparing bit patterns.
    fn first_difference(&self, other: &State) -> Option<String> {
        let parts = [
            ("A", &self.a, &other.a),
            ("B", &self.b, &other.b),
            ("R", &self.r, &other.r),
        ];
        for (name, x, y) in parts
            .into_iter()
            .chain([("task mean", &self.means, &other.means)])
        {
            if x.len() != y.len() {
                return Some(format!("{name}: lengths {} vs {}", x.len(), y.len()));
            }
            if let Some(k) = (0..x.len()).find(|&k| x[k].to_bits() != y[k].to_bits()) {
                return Some(format!("{name}[{k}]: {} vs {}", x[k], y[k]));
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// Slicing helpers, shared by the runtime side (handles) and the reference (ndarray)
// ---------------------------------------------------------------------------------------

fn info2(sl: &[SliceInfoElem; 2]) -> SliceInfo<[SliceInfoElem; 2], Ix2, Ix2> {
    SliceInfo::try_from(*sl).expect("a 2-D slice")
}

fn info_line(sl: &[SliceInfoElem; 2]) -> SliceInfo<[SliceInfoElem; 2], Ix2, Ix1> {
    SliceInfo::try_from(*sl).expect("an index and a slice")
}

fn info1(sl: &SliceInfoElem) -> SliceInfo<[SliceInfoElem; 1], Ix1, Ix1> {
    SliceInfo::try_from([*sl]).expect("a 1-D slice")
}

/// The elements an access reaches, computed with `ndarray` on an array of flat indices.
fn elements(
    class: Class,
    sel: &Sel,
    p_a: Option<(usize, usize)>,
    p_b: Option<usize>,
    p_r: Option<(usize, usize)>,
) -> Vec<(usize, usize)> {
    let index_matrix = |shape: Option<(usize, usize)>| {
        let (r, c) = shape.expect("array present");
        Array2::from_shape_fn((r, c), |(i, j)| i * c + j)
    };
    let shape_of = |arr: Arr| if arr == Arr::A { p_a } else { p_r };
    let part = class.part();
    match sel {
        Sel::Mat { arr, slices } => {
            let idx = index_matrix(shape_of(*arr));
            let mut v = idx.view();
            for sl in slices {
                v = v.slice_move(info2(sl));
            }
            let (nr, nc) = v.dim();
            if part == Part::Diag {
                (0..nr.min(nc)).map(|k| (k, v[(k, k)])).collect()
            } else {
                let mut out = Vec::new();
                for i in 0..nr {
                    for j in 0..nc {
                        if part.admits(i, j) {
                            out.push((i * nc + j, v[(i, j)]));
                        }
                    }
                }
                out
            }
        }
        Sel::Vector { slices } => {
            let idx = Array1::from_iter(0..p_b.expect("B present"));
            let mut v = idx.view();
            for sl in slices {
                v = v.slice_move(info1(sl));
            }
            v.iter().copied().enumerate().collect()
        }
        Sel::Line {
            arr,
            pre,
            index,
            post,
        } => {
            let idx = index_matrix(shape_of(*arr));
            let mut v = idx.view();
            for sl in pre {
                v = v.slice_move(info2(sl));
            }
            let mut line = v.slice_move(info_line(index));
            for sl in post {
                line = line.slice_move(info1(sl));
            }
            line.iter().copied().enumerate().collect()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct GenOptions {
    max_sleep_us: u64,
    priorities: bool,
}

/// A random slice of an axis of length `n`: random bounds (sometimes counted from the
/// end, sometimes empty) and a random step (negative included).
fn gen_axis(rng: &mut Rng, n: usize) -> SliceInfoElem {
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

fn gen_slices2(
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

fn gen_slices1(rng: &mut Rng, mut n: usize, max: usize) -> Vec<SliceInfoElem> {
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
fn gen_line(rng: &mut Rng, arr: Arr, shape: (usize, usize)) -> Option<Sel> {
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

fn gen_sel(rng: &mut Rng, class: Class, p: &Program) -> Option<Sel> {
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

fn available(class: Class, p: &Program) -> bool {
    match class.info().2 {
        Tgt::W1 => p.a.is_some() || p.b.is_some(),
        Tgt::W2 => p.a.is_some(),
        Tgt::R1 | Tgt::R2 => p.r.is_some(),
    }
}

/// Do two accesses of one task alias in a way the runtime must reject?
fn self_conflict(x: &Acc, y: &Acc) -> bool {
    (x.class.mode().writes() || y.class.mode().writes())
        && x.sel.arr() == y.sel.arr()
        && x.elems.iter().any(|(_, e)| y.elems.iter().any(|(_, f)| e == f))
}

fn gen_acc(rng: &mut Rng, class: Class, p: &Program) -> Option<Acc> {
    let sel = gen_sel(rng, class, p)?;
    let elems = elements(class, &sel, p.a, p.b, p.r);
    Some(Acc { class, sel, elems })
}

fn gen_task(rng: &mut Rng, p: &Program, opts: GenOptions) -> Task {
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

fn gen_program(seed: u64, opts: GenOptions) -> Program {
    let mut rng = Rng::new(seed);
    let has_a = rng.chance(0.85);
    let has_b = !has_a || rng.chance(0.6);
    let has_r = rng.chance(0.5);
    let shape = |rng: &mut Rng| (rng.range(1, 12), rng.range(1, 12));
    let a = has_a.then(|| shape(&mut rng));
    let b = has_b.then(|| rng.range(1, 64));
    let r = has_r.then(|| shape(&mut rng));
    let layouts = [0, 1, 2].map(|_| rng.pick(&[Layout::C, Layout::F, Layout::Reversed]));
    let mut fill = |n: usize| (0..n).map(|_| rng.f64_in(-1.0, 1.0)).collect::<Vec<_>>();
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
        let t = gen_task(&mut rng, &p, opts);
        p.tasks.push(t);
    }
    p.init.means = vec![0.0; n];
    p
}

// ---------------------------------------------------------------------------------------
// The reference: the same tasks, in a given order, on plain vectors
// ---------------------------------------------------------------------------------------

fn run_reference(p: &Program, order: &[usize]) -> State {
    let mut st = p.init.clone();
    for &ti in order {
        let t = &p.tasks[ti];
        let (mut sum, mut count) = (0.0, 0usize);
        for acc in t.accs.iter().filter(|a| a.class.mode() == Mode::In) {
            let data = st.array(acc.sel.arr());
            for &(_, e) in &acc.elems {
                sum += data[e];
                count += 1;
            }
        }
        let mean = if count == 0 { 0.0 } else { sum / count as f64 };
        for (k, acc) in t.accs.iter().enumerate() {
            let mode = acc.class.mode();
            if mode.writes() {
                let data = st.array(acc.sel.arr());
                for &(lin, e) in &acc.elems {
                    data[e] = t.update(k, mode, data[e], lin, mean);
                }
            }
        }
        st.means[ti] = mean;
    }
    st
}

// ---------------------------------------------------------------------------------------
// The runtime side
// ---------------------------------------------------------------------------------------

/// The views a task can receive, behind one type.
enum AnyView<'t> {
    R1(ArrayView1<'t, f64>),
    W1(ArrayViewMut1<'t, f64>),
    R2(ArrayView2<'t, f64>),
    W2(ArrayViewMut2<'t, f64>),
    RT(TriangularView<'t, f64>),
    WT(TriangularViewMut<'t, f64>),
}

trait IntoAny<'t> {
    fn into_any(self) -> AnyView<'t>;
}

impl<'t> IntoAny<'t> for ArrayView1<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::R1(self)
    }
}
impl<'t> IntoAny<'t> for ArrayViewMut1<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::W1(self)
    }
}
impl<'t> IntoAny<'t> for ArrayView2<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::R2(self)
    }
}
impl<'t> IntoAny<'t> for ArrayViewMut2<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::W2(self)
    }
}
impl<'t> IntoAny<'t> for TriangularView<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::RT(self)
    }
}
impl<'t> IntoAny<'t> for TriangularViewMut<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::WT(self)
    }
}

/// The body of every task: what `run_reference` does, on the views the runtime hands out.
fn run_task(t: &Task, mut views: Vec<AnyView<'_>>) -> f64 {
    if t.sleep_us > 0 {
        std::thread::sleep(Duration::from_micros(t.sleep_us));
    }
    let (mut sum, mut count) = (0.0, 0usize);
    for (acc, view) in t.accs.iter().zip(&views) {
        if acc.class.mode() != Mode::In {
            continue;
        }
        match view {
            AnyView::R1(v) => {
                for k in 0..v.len() {
                    sum += v[k];
                    count += 1;
                }
            }
            AnyView::R2(v) => {
                for i in 0..v.nrows() {
                    for j in 0..v.ncols() {
                        sum += v[(i, j)];
                        count += 1;
                    }
                }
            }
            AnyView::RT(v) => {
                let (nr, nc) = v.dim();
                for i in 0..nr {
                    for j in 0..nc {
                        let got = v.get(i, j);
                        assert_eq!(
                            got.is_some(),
                            acc.class.part().admits(i, j),
                            "TriangularView::get({i}, {j})"
                        );
                        if let Some(x) = got {
                            sum += *x;
                            count += 1;
                        }
                    }
                }
            }
            AnyView::W1(_) | AnyView::W2(_) | AnyView::WT(_) => {
                panic!("an `In` access got a mutable view")
            }
        }
    }
    let mean = if count == 0 { 0.0 } else { sum / count as f64 };
    for (k, (acc, view)) in t.accs.iter().zip(views.iter_mut()).enumerate() {
        let mode = acc.class.mode();
        if !mode.writes() {
            continue;
        }
        let f = |old: f64, lin: usize| t.update(k, mode, old, lin, mean);
        match view {
            AnyView::W1(v) => {
                for i in 0..v.len() {
                    v[i] = f(v[i], i);
                }
            }
            AnyView::W2(v) => {
                let nc = v.ncols();
                for i in 0..v.nrows() {
                    for j in 0..nc {
                        v[(i, j)] = f(v[(i, j)], i * nc + j);
                    }
                }
            }
            AnyView::WT(v) => {
                let (nr, nc) = v.dim();
                if t.tri_get {
                    for i in 0..nr {
                        for j in 0..nc {
                            if let Some(x) = v.get_mut(i, j) {
                                *x = f(*x, i * nc + j);
                            }
                        }
                    }
                } else {
                    v.for_each_mut(|i, j, x| *x = f(*x, i * nc + j));
                }
            }
            AnyView::R1(_) | AnyView::R2(_) | AnyView::RT(_) => {
                panic!("a writing access got a read-only view")
            }
        }
    }
    mean
}

/// The handles of one region.
struct Handles<'s> {
    a: Option<Handle<'s, f64, Ix2, Mutable>>,
    b: Option<Handle<'s, f64, Ix1, Mutable>>,
    r: Option<Handle<'s, f64, Ix2, ReadOnly>>,
}

fn mat<'s, P>(h: Handle<'s, f64, Ix2, P>, slices: &[[SliceInfoElem; 2]]) -> Handle<'s, f64, Ix2, P> {
    slices.iter().fold(h, |h, sl| h.slice(info2(sl)))
}

fn line<'s, P>(
    h: Handle<'s, f64, Ix2, P>,
    pre: &[[SliceInfoElem; 2]],
    index: &[SliceInfoElem; 2],
    post: &[SliceInfoElem],
) -> Handle<'s, f64, Ix1, P> {
    let l = mat(h, pre).slice(info_line(index));
    post.iter().fold(l, |h, sl| h.slice(info1(sl)))
}

impl<'s> Handles<'s> {
    fn w2(&self, sel: &Sel) -> Handle<'s, f64, Ix2, Mutable> {
        match sel {
            Sel::Mat { arr: Arr::A, slices } => mat(self.a.expect("A bound"), slices),
            other => panic!("not a 2-D target of A: {other:?}"),
        }
    }

    fn w1(&self, sel: &Sel) -> Handle<'s, f64, Ix1, Mutable> {
        match sel {
            Sel::Vector { slices } => slices
                .iter()
                .fold(self.b.expect("B bound"), |h, sl| h.slice(info1(sl))),
            Sel::Line {
                arr: Arr::A,
                pre,
                index,
                post,
            } => line(self.a.expect("A bound"), pre, index, post),
            other => panic!("not a 1-D writable target: {other:?}"),
        }
    }

    fn r2(&self, sel: &Sel) -> Handle<'s, f64, Ix2, ReadOnly> {
        match sel {
            Sel::Mat { arr: Arr::R, slices } => mat(self.r.expect("R bound"), slices),
            other => panic!("not a 2-D target of R: {other:?}"),
        }
    }

    fn r1(&self, sel: &Sel) -> Handle<'s, f64, Ix1, ReadOnly> {
        match sel {
            Sel::Line {
                arr: Arr::R,
                pre,
                index,
                post,
            } => line(self.r.expect("R bound"), pre, index, post),
            other => panic!("not a line of R: {other:?}"),
        }
    }
}

/// The access of one class, built from the handles `h` and a selection.
macro_rules! make {
    (InW1, $h:ident, $s:expr) => {
        In($h.w1($s))
    };
    (InOutW1, $h:ident, $s:expr) => {
        InOut($h.w1($s))
    };
    (OutW1, $h:ident, $s:expr) => {
        Out($h.w1($s))
    };
    (InW2, $h:ident, $s:expr) => {
        In($h.w2($s))
    };
    (InOutW2, $h:ident, $s:expr) => {
        InOut($h.w2($s))
    };
    (OutW2, $h:ident, $s:expr) => {
        Out($h.w2($s))
    };
    (InUp, $h:ident, $s:expr) => {
        In(UpperTriangular($h.w2($s)))
    };
    (InOutUp, $h:ident, $s:expr) => {
        InOut(UpperTriangular($h.w2($s)))
    };
    (OutUp, $h:ident, $s:expr) => {
        Out(UpperTriangular($h.w2($s)))
    };
    (InLo, $h:ident, $s:expr) => {
        In(LowerTriangular($h.w2($s)))
    };
    (InOutLo, $h:ident, $s:expr) => {
        InOut(LowerTriangular($h.w2($s)))
    };
    (OutLo, $h:ident, $s:expr) => {
        Out(LowerTriangular($h.w2($s)))
    };
    (InUUp, $h:ident, $s:expr) => {
        In(UnitUpperTriangular($h.w2($s)))
    };
    (InOutUUp, $h:ident, $s:expr) => {
        InOut(UnitUpperTriangular($h.w2($s)))
    };
    (OutUUp, $h:ident, $s:expr) => {
        Out(UnitUpperTriangular($h.w2($s)))
    };
    (InULo, $h:ident, $s:expr) => {
        In(UnitLowerTriangular($h.w2($s)))
    };
    (InOutULo, $h:ident, $s:expr) => {
        InOut(UnitLowerTriangular($h.w2($s)))
    };
    (OutULo, $h:ident, $s:expr) => {
        Out(UnitLowerTriangular($h.w2($s)))
    };
    (InDiag, $h:ident, $s:expr) => {
        In(Diagonal($h.w2($s)))
    };
    (InOutDiag, $h:ident, $s:expr) => {
        InOut(Diagonal($h.w2($s)))
    };
    (OutDiag, $h:ident, $s:expr) => {
        Out(Diagonal($h.w2($s)))
    };
    (InR1, $h:ident, $s:expr) => {
        In($h.r1($s))
    };
    (InR2, $h:ident, $s:expr) => {
        In($h.r2($s))
    };
    (InUpR, $h:ident, $s:expr) => {
        In(UpperTriangular($h.r2($s)))
    };
    (InDiagR, $h:ident, $s:expr) => {
        In(Diagonal($h.r2($s)))
    };
}

/// Binds `$x` to the access described by `$acc`, whose class must be one of the listed
/// ones, and evaluates `$body` (once per listed class: each is a different type).
macro_rules! dispatch {
    ($h:ident, $acc:expr, [$($class:ident),*], |$x:ident| $body:expr) => {
        match $acc.class {
            $(Class::$class => {
                let $x = make!($class, $h, &$acc.sel);
                $body
            })*
            #[allow(unreachable_patterns)]
            other => panic!("class {other:?} cannot be used in this position"),
        }
    };
}

/// Backing storage of one 2-D array in a given layout; `view_mut` shows it in logical
/// order.
struct Mat2 {
    buf: Array2<f64>,
    layout: Layout,
}

impl Mat2 {
    fn new(shape: (usize, usize), data: &[f64], layout: Layout) -> Self {
        let (r, c) = shape;
        let logical = |i: usize, j: usize| data[i * c + j];
        let buf = match layout {
            Layout::C => Array2::from_shape_fn((r, c), |(i, j)| logical(i, j)),
            Layout::F => Array2::from_shape_fn((r, c).f(), |(i, j)| logical(i, j)),
            Layout::Reversed => Array2::from_shape_fn((r, c), |(i, j)| logical(r - 1 - i, c - 1 - j)),
        };
        Mat2 { buf, layout }
    }

    fn view_mut(&mut self) -> ArrayViewMut2<'_, f64> {
        match self.layout {
            Layout::Reversed => self.buf.slice_mut(s![..;-1, ..;-1]),
            Layout::C | Layout::F => self.buf.view_mut(),
        }
    }

    fn logical(&mut self) -> Vec<f64> {
        self.view_mut().iter().copied().collect()
    }
}

/// Backing storage of the 1-D array.
struct Vec1 {
    buf: Array1<f64>,
    layout: Layout,
}

impl Vec1 {
    fn new(data: &[f64], layout: Layout) -> Self {
        let n = data.len();
        let buf = match layout {
            Layout::C => Array1::from_vec(data.to_vec()),
            Layout::F => Array1::from_shape_fn(2 * n, |k| if k % 2 == 0 { data[k / 2] } else { f64::NAN }),
            Layout::Reversed => Array1::from_shape_fn(n, |k| data[n - 1 - k]),
        };
        Vec1 { buf, layout }
    }

    fn view_mut(&mut self) -> ArrayViewMut1<'_, f64> {
        match self.layout {
            Layout::C => self.buf.view_mut(),
            Layout::F => self.buf.slice_mut(s![..;2]),
            Layout::Reversed => self.buf.slice_mut(s![..;-1]),
        }
    }

    fn logical(&mut self) -> Vec<f64> {
        self.view_mut().iter().copied().collect()
    }
}

fn run_runtime(p: &Program) -> State {
    let mut a = p.a.map(|shape| Mat2::new(shape, &p.init.a, p.layouts[0]));
    let mut b = p.b.map(|_| Vec1::new(&p.init.b, p.layouts[1]));
    let mut r = p.r.map(|shape| Mat2::new(shape, &p.init.r, p.layouts[2]));
    let means = {
        let mut av = a.as_mut().map(Mat2::view_mut);
        let mut bv = b.as_mut().map(Vec1::view_mut);
        let rv = r.as_mut().map(Mat2::view_mut);
        datadeps(|s| {
            let h = Handles {
                a: av.as_mut().map(|v| s.write(v)),
                b: bv.as_mut().map(|v| s.write(v)),
                r: rv.as_ref().map(|v| s.read(v)),
            };
            let mut futs: Vec<ScopedFuture<'_, f64>> = Vec::with_capacity(p.tasks.len());
            for t in &p.tasks {
                let opts = TaskOptions::default().priority(t.priority);
                let accs = &t.accs;
                match accs.len() {
                    1 => dispatch!(
                        h,
                        accs[0],
                        [
                            InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo,
                            OutLo, InUUp, InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag,
                            OutDiag, InR1, InR2, InUpR, InDiagR
                        ],
                        |x| futs.push(s.spawn_with(opts, (x,), move |(x,)| run_task(t, vec![x.into_any()])))
                    ),
                    2 => dispatch!(
                        h,
                        accs[0],
                        [
                            InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo,
                            OutLo, InUUp, InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag,
                            OutDiag, InR1, InR2, InUpR, InDiagR
                        ],
                        |x| dispatch!(
                            h,
                            accs[1],
                            [InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InOutULo, InUp, InR2],
                            |y| futs.push(s.spawn_with(opts, (x, y), move |(x, y)| {
                                run_task(t, vec![x.into_any(), y.into_any()])
                            }))
                        )
                    ),
                    3 => dispatch!(h, accs[0], [InOutW2, OutW2, InOutUp, InOutW1], |x| {
                        dispatch!(h, accs[1], [InW2, InW1, InOutW1], |y| {
                            dispatch!(h, accs[2], [InW2, InR2, OutW1], |z| {
                                futs.push(s.spawn_with(opts, (x, y, z), move |(x, y, z)| {
                                    run_task(t, vec![x.into_any(), y.into_any(), z.into_any()])
                                }))
                            })
                        })
                    }),
                    n => panic!("a task with {n} accesses"),
                }
            }
            futs.into_iter()
                .map(|f| f.wait().expect("no task of a random program fails"))
                .collect::<Vec<f64>>()
        })
    };
    State {
        a: a.as_mut().map_or_else(Vec::new, Mat2::logical),
        b: b.as_mut().map_or_else(Vec::new, Vec1::logical),
        r: r.as_mut().map_or_else(Vec::new, Mat2::logical),
        means,
    }
}

fn check_program(p: &Program) {
    let order: Vec<usize> = (0..p.tasks.len()).collect();
    let want = run_reference(p, &order);
    let got = run_runtime(p);
    if let Some(diff) = got.first_difference(&want) {
        panic!(
            "seed {}: datadeps differs from serial execution at {diff}\nprogram: {} tasks, A {:?}, B {:?}, R {:?}, layouts {:?}\n{:#?}",
            p.seed,
            p.tasks.len(),
            p.a,
            p.b,
            p.r,
            p.layouts,
            p.tasks
        );
    }
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
