//! Footprints: which elements of a data object a task touches.
//!
//! A data object is a 1-D or 2-D array with dims `[rows, cols]` (a 1-D object
//! of length `n` is `n x 1`). A [`Footprint`] is either [`Footprint::Whole`] or
//! a strided 2-D view ([`Axis`] per dimension, possibly with a negative step)
//! optionally restricted by a triangular or diagonal [`Mask`] expressed in the
//! view's own indices `(i, j)`.
//!
//! # Why `overlaps` is exact
//!
//! * **Unit steps** (the hot path: O(1), no allocation). When both axes have
//!   step ±1 the view is a rectangle, and a mask `qlo <= j - i <= qhi` becomes
//!   a band on one linear form of the object coordinates: `c - r` when both
//!   steps have the same sign, `c + r` when they differ (`i` grows as `r`
//!   falls). So every unit-step footprint is the set of integer points with
//!   `r`, `c`, `c - r` and `c + r` each in an interval, and the intersection
//!   of two such sets is again one (intersect the intervals). Its emptiness is
//!   decided exactly: in a fixed row the allowed columns form an interval
//!   whose bounds are linear in `r`, so the rows where it is non-empty form an
//!   interval given by nine linear inequalities (see `Unit::is_empty`).
//!   `covers` is exact here too: `b ⊆ a` iff `b` misses each half-plane of
//!   `a`'s complement, eight more emptiness tests.
//! * **General steps**. The object indices of an axis form an arithmetic
//!   progression; two progressions intersect in a progression (or nothing),
//!   found exactly with the extended Euclidean algorithm (CRT). Without masks,
//!   two views overlap iff both axes' intersections are non-empty. With masks
//!   we scan the shorter intersected axis: in a fixed row each mask allows an
//!   interval of columns, and whether the intersected column progression
//!   meets that interval is O(1).
//!
//! The unit-step path computes in `i64` (taken only when every origin and
//! length is below 2^56); the general path computes in `i128`, which cannot
//! overflow for in-bounds views.

use std::cmp::{max, min};
use std::ops::Neg;

/// "Unbounded" for the general path's `i128` intervals.
const INF: i128 = 1 << 100;

/// The unit-step path uses `i64` when every origin and length is below this.
const UNIT_LIMIT: usize = 1 << 56;

/// "Unbounded" for the unit-step path: far beyond any coordinate (`< 2^57`)
/// there, with room to add or subtract a few without overflow.
const UNIT_INF: i64 = 1 << 60;

/// One axis of a view, in object coordinates: view index `k` (`0 <= k < len`)
/// maps to object index `origin + k * step` (`step` is signed and nonzero; a
/// reversed slice has `step < 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Axis {
    /// Object index of view index 0.
    pub origin: usize,
    /// Distance in the object between consecutive view indices; nonzero.
    pub step: isize,
    /// Number of view indices.
    pub len: usize,
}

impl Axis {
    /// The whole axis of length `len`: origin 0, step 1.
    pub const fn full(len: usize) -> Self {
        Self::new(0, 1, len)
    }

    /// An axis from its parts (`step` must be nonzero).
    pub const fn new(origin: usize, step: isize, len: usize) -> Self {
        Self { origin, step, len }
    }

    /// The same index set with a canonical step: a single-element axis gets
    /// step ±1, and an (invalid) zero step is read as one element.
    fn canon(self) -> Self {
        match (self.len, self.step) {
            (_, 0) => Self::new(self.origin, 1, min(self.len, 1)),
            (0 | 1, s) => Self::new(self.origin, s.signum(), self.len),
            _ => self,
        }
    }

    /// The lowest and highest object index the axis reaches, or `None` when empty.
    #[inline]
    fn reach(&self) -> Option<(usize, usize)> {
        if self.len == 0 {
            return None;
        }
        let last = self.origin as i128 + (self.len as i128 - 1) * self.step as i128;
        let last = usize::try_from(last).ok()?;
        Some((self.origin.min(last), self.origin.max(last)))
    }

    fn is_unit(self) -> bool {
        self.step.unsigned_abs() == 1
    }

    /// Object coordinate of view index `k`.
    fn at(self, k: i128) -> i128 {
        self.origin as i128 + k * self.step as i128
    }

    /// Smallest and largest object coordinate (`len > 0`).
    fn bounds(self) -> (i128, i128) {
        let (a, b) = (self.at(0), self.at(self.len as i128 - 1));
        (min(a, b), max(a, b))
    }

    /// View index of object coordinate `x`, if the axis contains it.
    fn index_of(self, x: i128) -> Option<i128> {
        let (d, s) = (x - self.origin as i128, self.step as i128);
        let (k, rem) = div_mod(d, s);
        (rem == 0 && (0..self.len as i128).contains(&k)).then_some(k)
    }

    /// The object coordinates as an increasing progression (`len > 0`).
    fn prog(self) -> Prog {
        let first = self.bounds().0;
        Prog {
            first,
            step: self.step.unsigned_abs() as i128,
            count: self.len as i128,
        }
    }

    /// Object coordinates of the view indices in `[jlo, jhi]`, as an interval.
    fn span(self, jlo: i128, jhi: i128) -> (i128, i128) {
        let (jlo, jhi) = (max(jlo, 0), min(jhi, self.len as i128 - 1));
        if jlo > jhi {
            return (1, 0);
        }
        let (a, b) = (self.at(jlo), self.at(jhi));
        (min(a, b), max(a, b))
    }
}

/// A mask over a 2-D view's indices (`i` along view axis 0 = rows, `j` along
/// view axis 1 = cols).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mask {
    /// `i <= j`: the upper triangle with the diagonal.
    Upper,
    /// `i < j`: the upper triangle without the diagonal.
    StrictUpper,
    /// `i >= j`: the lower triangle with the diagonal.
    Lower,
    /// `i > j`: the lower triangle without the diagonal.
    StrictLower,
    /// `i == j`: the diagonal.
    Diagonal,
}

impl Mask {
    /// The allowed range `[qlo, qhi]` of `q = j - i`, `inf` meaning no bound.
    fn q_range<T: From<i8> + Neg<Output = T>>(self, inf: T) -> (T, T) {
        match self {
            Mask::Upper => (0.into(), inf),
            Mask::StrictUpper => (1.into(), inf),
            Mask::Lower => (-inf, 0.into()),
            Mask::StrictLower => (-inf, (-1).into()),
            Mask::Diagonal => (0.into(), 0.into()),
        }
    }

    fn admits(self, i: i128, j: i128) -> bool {
        let (lo, hi) = self.q_range(INF);
        (lo..=hi).contains(&(j - i))
    }

    /// The same mask seen with rows and columns swapped.
    fn transpose(self) -> Self {
        match self {
            Mask::Upper => Mask::Lower,
            Mask::StrictUpper => Mask::StrictLower,
            Mask::Lower => Mask::Upper,
            Mask::StrictLower => Mask::StrictUpper,
            Mask::Diagonal => Mask::Diagonal,
        }
    }
}

/// The part of one data object that a task touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Footprint {
    /// Every element of the object.
    Whole,
    /// The elements `(rows.origin + i*rows.step, cols.origin + j*cols.step)`
    /// for `i < rows.len`, `j < cols.len`, restricted by `mask` (in view
    /// indices `i, j`) if any. For a 1-D object use `cols = Axis::full(1)`.
    Region {
        /// The row axis of the view.
        rows: Axis,
        /// The column axis of the view.
        cols: Axis,
        /// Optional triangular or diagonal restriction in view indices.
        mask: Option<Mask>,
    },
}

impl Footprint {
    /// An unmasked strided rectangle.
    pub const fn rect(rows: Axis, cols: Axis) -> Self {
        Footprint::Region {
            rows,
            cols,
            mask: None,
        }
    }

    /// A strided rectangle restricted by `mask`.
    pub const fn masked(rows: Axis, cols: Axis, mask: Mask) -> Self {
        Footprint::Region {
            rows,
            cols,
            mask: Some(mask),
        }
    }

    /// Whether the footprint has no element: a region with a zero length, or
    /// whose mask selects nothing (e.g. `StrictUpper` of a 1 x n view).
    /// `Whole` is never empty.
    pub fn is_empty(&self) -> bool {
        self.view().is_some_and(View::is_empty)
    }

    /// Whether the two footprints (of the same object) share an element.
    /// Exact; an empty footprint overlaps nothing, `Whole` overlaps every
    /// non-empty footprint (and `Whole`). O(1) without allocation unless a
    /// mask meets a step other than ±1; then O(min(rows, cols)) of the
    /// intersection.
    pub fn overlaps(&self, other: &Self) -> bool {
        if let Some(answer) = self.quick_overlap(other) {
            return answer;
        }
        match (self.view(), other.view()) {
            (None, None) => true,
            (None, Some(v)) | (Some(v), None) => !v.is_empty(),
            (Some(a), Some(b)) => {
                if a.is_empty() || b.is_empty() {
                    return false;
                }
                match (a.unit(), b.unit()) {
                    (Some(ua), Some(ub)) => !ua.meet(ub).is_empty(),
                    _ => a.scan(b),
                }
            }
        }
    }

    /// The hot path of the tracker, in plain integer comparisons: disjoint bounding boxes
    /// never overlap, and for unmasked contiguous rectangles (every step ±1, or a single
    /// element) meeting boxes are the exact answer. `None` sends the rest to the general
    /// test.
    #[inline]
    fn quick_overlap(&self, other: &Self) -> Option<bool> {
        let (
            Footprint::Region {
                rows: ra,
                cols: ca,
                mask: ma,
            },
            Footprint::Region {
                rows: rb,
                cols: cb,
                mask: mb,
            },
        ) = (self, other)
        else {
            return None;
        };
        let meet = |x: &Axis, y: &Axis| match (x.reach(), y.reach()) {
            (Some((xl, xh)), Some((yl, yh))) => xl <= yh && yl <= xh,
            _ => false,
        };
        if !meet(ra, rb) || !meet(ca, cb) {
            return Some(false);
        }
        let dense = |x: &Axis| x.len <= 1 || x.step.unsigned_abs() == 1;
        (ma.is_none() && mb.is_none() && [ra, ca, rb, cb].into_iter().all(dense)).then_some(true)
    }

    /// The lowest and highest row the footprint can reach: `None` for `Whole` (every
    /// row) and `Some(None)` for an empty region.
    pub fn row_reach(&self) -> Option<Option<(usize, usize)>> {
        match self {
            Footprint::Whole => None,
            Footprint::Region { rows, .. } => Some(rows.reach()),
        }
    }

    /// Whether every element of `other` is in `self`. Conservative: `true`
    /// is always right; `false` may be wrong only outside the exact cases,
    /// which are: `other` empty, `self` `Whole` or empty, both unmasked
    /// regions (any steps), and both unit-step regions (any masks, any step
    /// signs; O(1)). A region never covers `Whole` (its dims are unknown).
    pub fn covers(&self, other: &Self) -> bool {
        let (a, b) = match (self.view(), other.view()) {
            (None, _) => return true,
            (Some(_), None) => return false,
            (Some(a), Some(b)) => (a, b),
        };
        if b.is_empty() || self == other {
            return true;
        }
        if a.is_empty() {
            return false;
        }
        if let (Some(ua), Some(ub)) = (a.unit(), b.unit()) {
            return ua.covers(&ub);
        }
        let within = |x: Axis, y: Axis| x.prog().subset_of(&y.prog());
        a.mask.is_none() && within(b.rows, a.rows) && within(b.cols, a.cols)
    }

    /// Whether element `(r, c)` belongs to the footprint (`Whole`: always).
    pub fn contains(&self, r: usize, c: usize) -> bool {
        let Some(v) = self.view() else { return true };
        match (v.rows.index_of(r as i128), v.cols.index_of(c as i128)) {
            (Some(i), Some(j)) => v.mask.is_none_or(|m| m.admits(i, j)),
            _ => false,
        }
    }

    /// All elements, in view order (`Whole` enumerates the object of size
    /// `dims`; regions ignore `dims`). Meant for tests, not fast.
    pub fn elements(&self, dims: [usize; 2]) -> Vec<(usize, usize)> {
        let Some(v) = self.view() else {
            let all = (0..dims[0]).flat_map(|r| (0..dims[1]).map(move |c| (r, c)));
            return all.collect();
        };
        let mut out = Vec::new();
        for i in 0..v.rows.len as i128 {
            for j in 0..v.cols.len as i128 {
                if v.mask.is_none_or(|m| m.admits(i, j)) {
                    let (r, c) = (v.rows.at(i), v.cols.at(j));
                    if let (Ok(r), Ok(c)) = (usize::try_from(r), usize::try_from(c)) {
                        out.push((r, c));
                    }
                }
            }
        }
        out
    }

    /// The region with canonical axes, or `None` for `Whole`.
    fn view(&self) -> Option<View> {
        match *self {
            Footprint::Whole => None,
            Footprint::Region { rows, cols, mask } => Some(View {
                rows: rows.canon(),
                cols: cols.canon(),
                mask,
            }),
        }
    }
}

/// A region with canonical axes.
#[derive(Clone, Copy, Debug)]
struct View {
    rows: Axis,
    cols: Axis,
    mask: Option<Mask>,
}

impl View {
    fn is_empty(self) -> bool {
        let (nr, nc) = (self.rows.len, self.cols.len);
        nr == 0
            || nc == 0
            || match self.mask {
                Some(Mask::StrictUpper) => nc < 2,
                Some(Mask::StrictLower) => nr < 2,
                _ => false,
            }
    }

    fn transpose(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            mask: self.mask.map(Mask::transpose),
        }
    }

    /// The four-interval form, when both steps are ±1 (and non-empty, with
    /// origins and lengths below `UNIT_LIMIT`).
    fn unit(self) -> Option<Unit> {
        let (rows, cols) = (self.rows, self.cols);
        let fits = |a: Axis| a.is_unit() && a.origin < UNIT_LIMIT && a.len < UNIT_LIMIT;
        if !(fits(rows) && fits(cols)) {
            return None;
        }
        let (r, c) = (rows.origin as i64, cols.origin as i64);
        let span = |o: i64, a: Axis| match a.step {
            1 => (o, o + a.len as i64 - 1),
            _ => (o - (a.len as i64 - 1), o),
        };
        let mut unit = Unit([span(r, rows), span(c, cols), ALL, ALL]);
        let Some(mask) = self.mask else {
            return Some(unit);
        };
        // With s = cols.step, sign = -rows.step * s and v = c + sign * r:
        // j - i = s * (v - v0), so `qlo <= j - i <= qhi` bounds v.
        let (k, v0) = if rows.step == cols.step {
            (2, c - r)
        } else {
            (3, c + r)
        };
        let (qlo, qhi) = mask.q_range(UNIT_INF);
        unit.0[k] = match cols.step {
            1 => (v0 + qlo, v0 + qhi),
            _ => (v0 - qhi, v0 - qlo),
        };
        Some(unit)
    }

    /// Columns (an interval) that the mask allows in object row `r`, which
    /// must lie on the row axis.
    fn window(self, r: i128) -> (i128, i128) {
        let (Some(mask), Some(i)) = (self.mask, self.rows.index_of(r)) else {
            return (-INF, INF);
        };
        let (qlo, qhi) = mask.q_range(INF);
        self.cols.span(i.saturating_add(qlo), i.saturating_add(qhi))
    }

    /// Exact overlap for arbitrary steps and masks (both non-empty).
    fn scan(self, other: View) -> bool {
        let meet = |a: Axis, b: Axis| a.prog().meet(b.prog());
        let (Some(rows), Some(cols)) = (meet(self.rows, other.rows), meet(self.cols, other.cols)) else {
            return false;
        };
        if self.mask.is_none() && other.mask.is_none() {
            return true;
        }
        let (a, b, rows, cols) = if rows.count <= cols.count {
            (self, other, rows, cols)
        } else {
            (self.transpose(), other.transpose(), cols, rows)
        };
        (0..rows.count).any(|k| {
            let r = rows.first + k * rows.step;
            let ((alo, ahi), (blo, bhi)) = (a.window(r), b.window(r));
            cols.any_in(max(alo, blo), min(ahi, bhi))
        })
    }
}

/// An increasing arithmetic progression `first + k * step`, `k < count`.
#[derive(Clone, Copy, Debug)]
struct Prog {
    first: i128,
    step: i128,
    count: i128,
}

impl Prog {
    fn last(&self) -> i128 {
        self.first + (self.count - 1) * self.step
    }

    fn has(&self, x: i128) -> bool {
        x >= self.first && x <= self.last() && div_mod(x - self.first, self.step).1 == 0
    }

    /// Whether some element lies in `[lo, hi]`.
    fn any_in(&self, lo: i128, hi: i128) -> bool {
        let (lo, hi) = (max(lo, self.first), min(hi, self.last()));
        lo <= hi && lo + div_mod(self.first - lo, self.step).1 <= hi
    }

    fn subset_of(&self, other: &Prog) -> bool {
        other.has(self.first)
            && (self.count == 1 || (div_mod(self.step, other.step).1 == 0 && other.has(self.last())))
    }

    /// The common elements, by the Chinese remainder theorem.
    fn meet(self, other: Prog) -> Option<Prog> {
        let (lo, hi) = (max(self.first, other.first), min(self.last(), other.last()));
        if lo > hi {
            return None;
        }
        let (g, x) = gcd_inv(self.step, other.step);
        let (quot, rem) = div_mod(other.first - self.first, g);
        if rem != 0 {
            return None;
        }
        // k * (s/g) == diff/g (mod t/g), and x inverts s/g modulo t/g.
        let t = div_mod(other.step, g).0;
        let k = div_mod(div_mod(quot, t).1 * div_mod(x, t).1, t).1;
        let step = self.step * t;
        let first = lo + div_mod(self.first + k * self.step - lo, step).1;
        (first <= hi).then(|| Prog {
            first,
            step,
            count: div_mod(hi - first, step).0 + 1,
        })
    }
}

/// `(g, x)` with `g = gcd(a, b)` and `a*x == g (mod b)`, for `a, b > 0`.
fn gcd_inv(a: i128, b: i128) -> (i128, i128) {
    let (mut r0, mut r1, mut x0, mut x1) = (a, b, 1, 0);
    while r1 != 0 {
        let q = div_mod(r0, r1).0;
        (r0, r1) = (r1, r0 - q * r1);
        (x0, x1) = (x1, x0 - q * x1);
    }
    (r0, x0)
}

/// Euclidean `(a div b, a mod b)`, in `i64` when the operands fit there
/// (`i128` division is a slow library call).
fn div_mod(a: i128, b: i128) -> (i128, i128) {
    match (i64::try_from(a), i64::try_from(b)) {
        (Ok(x), Ok(y)) if x != i64::MIN => (x.div_euclid(y).into(), x.rem_euclid(y).into()),
        _ => (a.div_euclid(b), a.rem_euclid(b)),
    }
}

/// An inclusive interval `[lo, hi]`; empty when `lo > hi`.
type Span = (i64, i64);

/// The unbounded interval.
const ALL: Span = (-UNIT_INF, UNIT_INF);

fn cut(a: Span, b: Span) -> Span {
    (max(a.0, b.0), min(a.1, b.1))
}

/// A unit-step set: `(r, c)` with `r`, `c`, `c - r` and `c + r` each in its
/// interval (fields in that order).
#[derive(Clone, Copy, Debug)]
struct Unit([Span; 4]);

impl Unit {
    fn meet(self, other: Unit) -> Unit {
        Unit(std::array::from_fn(|k| cut(self.0[k], other.0[k])))
    }

    /// Exact emptiness in O(1). In row `r` the allowed columns are
    /// `[max(c0, r + dl, sl - r), min(c1, r + dh, sh - r)]`; that interval is
    /// non-empty iff each lower bound is at most each upper bound, and those
    /// nine conditions are linear in `r`, so the feasible rows are an interval.
    fn is_empty(self) -> bool {
        let [(r0, r1), (c0, c1), (dl, dh), (sl, sh)] = self.0;
        let lo = max(max(r0, c0 - dh), max(sl - c1, (sl - dh + 1) >> 1));
        let hi = min(min(r1, c1 - dl), min(sh - c0, (sh - dl) >> 1));
        lo > hi || c0 > c1 || dl > dh || sl > sh
    }

    /// Exact `other ⊆ self`: `other` misses each of the (at most eight)
    /// half-planes that make up the complement of `self`.
    fn covers(&self, other: &Unit) -> bool {
        (0..4).all(|k| {
            let (lo, hi) = self.0[k];
            [(-UNIT_INF, lo - 1), (hi + 1, UNIT_INF)]
                .into_iter()
                .all(|outside| {
                    let mut part = *other;
                    part.0[k] = cut(part.0[k], outside);
                    part.is_empty()
                })
        })
    }
}

#[cfg(test)]
mod tests;
