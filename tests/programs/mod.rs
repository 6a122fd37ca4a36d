//! Random `datadeps` programs and their serial reference, shared by the
//! `serial_equivalence` tests and the `datadeps_serial` fuzz target (which includes this
//! folder by path, with `tests/common`).
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

#![allow(dead_code)] // each includer uses a different part

mod generate;
#[macro_use]
mod run;

pub(crate) use generate::*;
pub(crate) use run::*;

use crate::common::Rng;
use mosaic::prelude::*;
use ndarray::{
    s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Ix1, Ix2, ShapeBuilder,
    SliceInfo, SliceInfoElem,
};

// ---------------------------------------------------------------------------------------
// Program description
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    In,
    InOut,
    Out,
}

impl Mode {
    pub(crate) fn writes(self) -> bool {
        self != Mode::In
    }
}

/// Which elements of a 2-D view an access reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Plain,
    Upper,
    Lower,
    UnitUpper,
    UnitLower,
    Diag,
}

impl Part {
    pub(crate) fn admits(self, i: usize, j: usize) -> bool {
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
pub(crate) enum Arr {
    /// 2-D, bound with `s.write`.
    A,
    /// 1-D, bound with `s.write`.
    B,
    /// 2-D, bound with `s.read`.
    R,
}

/// The kind of handle an access is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tgt {
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
pub(crate) enum Class {
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
    pub(crate) fn info(self) -> (Mode, Part, Tgt) {
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

    pub(crate) fn mode(self) -> Mode {
        self.info().0
    }

    pub(crate) fn part(self) -> Part {
        self.info().1
    }
}

/// Every class: a one-access task, or the first access of a two-access task.
pub(crate) const ANY: [Class; 25] = {
    use Class::*;
    [
        InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo, OutLo, InUUp,
        InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag, OutDiag, InR1, InR2, InUpR, InDiagR,
    ]
};
/// The second access of a two-access task.
pub(crate) const SECOND: [Class; 9] = {
    use Class::*;
    [InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InOutULo, InUp, InR2]
};
/// The three accesses of a three-access task. Dropping the second or third still gives
/// an (`ANY`, `SECOND`) pair.
pub(crate) const THIRD_A: [Class; 4] = {
    use Class::*;
    [InOutW2, OutW2, InOutUp, InOutW1]
};
pub(crate) const THIRD_B: [Class; 3] = {
    use Class::*;
    [InW2, InW1, InOutW1]
};
pub(crate) const THIRD_C: [Class; 3] = {
    use Class::*;
    [InW2, InR2, OutW1]
};

/// The target of an access, as slicing operations on one of the arrays.
#[derive(Clone, Debug)]
pub(crate) enum Sel {
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
    pub(crate) fn arr(&self) -> Arr {
        match self {
            Sel::Mat { arr, .. } | Sel::Line { arr, .. } => *arr,
            Sel::Vector { .. } => Arr::B,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Acc {
    pub(crate) class: Class,
    pub(crate) sel: Sel,
    /// The elements reached, in the order a task visits them: `(index in the view,
    /// row-major flat index in the array)`. The view index is `i * ncols + j` for 2-D
    /// plain and triangular views, the position for 1-D and diagonal views.
    pub(crate) elems: Vec<(usize, usize)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) accs: Vec<Acc>,
    pub(crate) a: f64,
    pub(crate) b: f64,
    pub(crate) c: f64,
    pub(crate) d: f64,
    pub(crate) e: f64,
    pub(crate) sleep_us: u64,
    pub(crate) priority: i32,
    /// Write triangular views through `get_mut` instead of `for_each_mut`.
    pub(crate) tri_get: bool,
}

impl Task {
    /// The new value of an element the task writes through access `k`.
    pub(crate) fn update(&self, k: usize, mode: Mode, old: f64, lin: usize, mean: f64) -> f64 {
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
pub(crate) enum Layout {
    /// Row-major (2-D) / contiguous (1-D).
    C,
    /// Column-major (2-D) / every other element of a buffer twice as long (1-D).
    F,
    /// Both axes reversed: negative strides.
    Reversed,
}

#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) seed: u64,
    pub(crate) a: Option<(usize, usize)>,
    pub(crate) b: Option<usize>,
    pub(crate) r: Option<(usize, usize)>,
    pub(crate) layouts: [Layout; 3],
    pub(crate) init: State,
    pub(crate) tasks: Vec<Task>,
}

/// Contents of the arrays (row-major, logical order) and the value each task returned.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct State {
    pub(crate) a: Vec<f64>,
    pub(crate) b: Vec<f64>,
    pub(crate) r: Vec<f64>,
    pub(crate) means: Vec<f64>,
}

impl State {
    pub(crate) fn array(&mut self, arr: Arr) -> &mut Vec<f64> {
        match arr {
            Arr::A => &mut self.a,
            Arr::B => &mut self.b,
            Arr::R => &mut self.r,
        }
    }

    /// The first difference from `other`, comparing bit patterns.
    pub(crate) fn first_difference(&self, other: &State) -> Option<String> {
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

pub(crate) fn info2(sl: &[SliceInfoElem; 2]) -> SliceInfo<[SliceInfoElem; 2], Ix2, Ix2> {
    SliceInfo::try_from(*sl).expect("a 2-D slice")
}

pub(crate) fn info_line(sl: &[SliceInfoElem; 2]) -> SliceInfo<[SliceInfoElem; 2], Ix2, Ix1> {
    SliceInfo::try_from(*sl).expect("an index and a slice")
}

pub(crate) fn info1(sl: &SliceInfoElem) -> SliceInfo<[SliceInfoElem; 1], Ix1, Ix1> {
    SliceInfo::try_from([*sl]).expect("a 1-D slice")
}

/// The elements an access reaches, computed with `ndarray` on an array of flat indices.
pub(crate) fn elements(
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
