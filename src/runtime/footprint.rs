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
//! * **Unit steps** (the hot path, O(1), no allocation). When both axes have
//!   step ±1 the view is the rectangle `[r0, r1] x [c0, c1]`, and a mask
//!   `qlo <= j - i <= qhi` becomes a band on one linear form of the object
//!   coordinates: `d = c - r` when both steps have the same sign, `e = c + r`
//!   when they differ (`i` grows as `r` falls). The intersection of two such
//!   sets is the intersected rectangle with the intersected band, and it is
//!   non-empty iff the band meets the range of the form over the rectangle:
//!   `d` takes *every* integer in `[c0 - r1, c1 - r0]` and `e` every integer in
//!   `[r0 + c0, r1 + c1]`, so the test is exact.
//! * **General steps**. The object indices of an axis form an arithmetic
//!   progression; two progressions intersect in a progression (or nothing),
//!   found exactly with the extended Euclidean algorithm (CRT). Without masks,
//!   two views overlap iff both axes' intersections are non-empty. With masks
//!   (or with a `d` band meeting an `e` band) we scan the shorter intersected
//!   axis; for a fixed row every mask allows an interval of columns, and
//!   whether the intersected column progression meets that interval is O(1).
//!
//! Arithmetic is done in `i128`, which cannot overflow for in-bounds views of
//! objects with fewer than `isize::MAX` elements per axis.

use std::cmp::{max, min};

/// An "unbounded" limit for bands and mask offsets, far beyond any coordinate.
const INF: i128 = 1 << 100;

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
        let k = d / s;
        (d % s == 0 && (0..self.len as i128).contains(&k)).then_some(k)
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
    /// The allowed range `[qlo, qhi]` of `q = j - i`.
    fn q_range(self) -> (i128, i128) {
        match self {
            Mask::Upper => (0, INF),
            Mask::StrictUpper => (1, INF),
            Mask::Lower => (-INF, 0),
            Mask::StrictLower => (-INF, -1),
            Mask::Diagonal => (0, 0),
        }
    }

    fn admits(self, i: i128, j: i128) -> bool {
        let (lo, hi) = self.q_range();
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
    /// non-empty footprint (and `Whole`). O(1) unless a mask meets a
    /// non-unit step, where it is O(min(rows, cols)) of the intersection.
    pub fn overlaps(&self, other: &Self) -> bool {
        match (self.view(), other.view()) {
            (None, None) => true,
            (None, Some(v)) | (Some(v), None) => !v.is_empty(),
            (Some(a), Some(b)) => {
                if a.is_empty() || b.is_empty() {
                    return false;
                }
                match (a.unit(), b.unit()) {
                    (Some(ua), Some(ub)) => ua.overlaps(&ub).unwrap_or_else(|| a.scan(b)),
                    _ => a.scan(b),
                }
            }
        }
    }

    /// Whether every element of `other` is in `self`. Conservative: `true`
    /// is always right, `false` may be wrong only outside the exact cases,
    /// which are: `other` empty, `self` `Whole` or empty, both unmasked
    /// regions (any steps), and both unit-step regions where at most one is
    /// masked or both masks lie along the same diagonal direction (step signs
    /// equal on both views, or different on both views).
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
            if let Some(answer) = ua.covers(&ub) {
                return answer;
            }
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

    /// The rectangle-and-band form, when both steps are ±1 (and non-empty).
    fn unit(self) -> Option<Unit> {
        if !(self.rows.is_unit() && self.cols.is_unit()) {
            return None;
        }
        let ((r0, r1), (c0, c1)) = (self.rows.bounds(), self.cols.bounds());
        let rect = Rect { r0, r1, c0, c1 };
        let Some(mask) = self.mask else {
            return Some(Unit { rect, band: None });
        };
        // q = j - i = s_c * (v - v0) with v = c + sign * r, sign = -s_r * s_c.
        let (sr, sc) = (self.rows.step as i128, self.cols.step as i128);
        let kind = if sr == sc { Kind::Diff } else { Kind::Sum };
        let v0 = kind.eval(self.rows.origin as i128, self.cols.origin as i128);
        let (qlo, qhi) = mask.q_range();
        let (lo, hi) = if sc > 0 {
            (v0 + qlo, v0 + qhi)
        } else {
            (v0 - qhi, v0 - qlo)
        };
        Some(Unit {
            rect,
            band: Some(Band { kind, lo, hi }),
        })
    }

    /// Columns (an interval) that the mask allows in object row `r`, which
    /// must lie on the row axis.
    fn window(self, r: i128) -> (i128, i128) {
        let (Some(mask), Some(i)) = (self.mask, self.rows.index_of(r)) else {
            return (-INF, INF);
        };
        let (qlo, qhi) = mask.q_range();
        self.cols.span(i.saturating_add(qlo), i.saturating_add(qhi))
    }

    /// Exact overlap for arbitrary steps and masks (both non-empty).
    fn scan(self, other: View) -> bool {
        let meet = |a: Axis, b: Axis| a.prog().meet(b.prog());
        let (Some(rows), Some(cols)) = (meet(self.rows, other.rows), meet(self.cols, other.cols))
        else {
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
        x >= self.first && x <= self.last() && (x - self.first) % self.step == 0
    }

    /// Whether some element lies in `[lo, hi]`.
    fn any_in(&self, lo: i128, hi: i128) -> bool {
        let (lo, hi) = (max(lo, self.first), min(hi, self.last()));
        lo <= hi && lo + (self.first - lo).rem_euclid(self.step) <= hi
    }

    fn subset_of(&self, other: &Prog) -> bool {
        other.has(self.first)
            && (self.count == 1 || (self.step % other.step == 0 && other.has(self.last())))
    }

    /// The common elements, by the Chinese remainder theorem.
    fn meet(self, other: Prog) -> Option<Prog> {
        let (lo, hi) = (max(self.first, other.first), min(self.last(), other.last()));
        let (g, x) = gcd_inv(self.step, other.step);
        let diff = other.first - self.first;
        if lo > hi || diff % g != 0 {
            return None;
        }
        // k * (s/g) == diff/g (mod t/g), and x inverts s/g modulo t/g.
        let t = other.step / g;
        let k = (diff / g).rem_euclid(t) * x.rem_euclid(t) % t;
        let step = self.step * t;
        let first = lo + (self.first + k * self.step - lo).rem_euclid(step);
        (first <= hi).then(|| Prog {
            first,
            step,
            count: (hi - first) / step + 1,
        })
    }
}

/// `(g, x)` with `g = gcd(a, b)` and `a*x == g (mod b)`, for `a, b > 0`.
fn gcd_inv(a: i128, b: i128) -> (i128, i128) {
    let (mut r0, mut r1, mut x0, mut x1) = (a, b, 1, 0);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (x0, x1) = (x1, x0 - q * x1);
    }
    (r0, x0)
}

/// The linear form a unit-step mask constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `c - r`, constant along diagonals.
    Diff,
    /// `c + r`, constant along anti-diagonals.
    Sum,
}

impl Kind {
    fn eval(self, r: i128, c: i128) -> i128 {
        match self {
            Kind::Diff => c - r,
            Kind::Sum => c + r,
        }
    }
}

/// `lo <= kind(r, c) <= hi`.
#[derive(Clone, Copy, Debug)]
struct Band {
    kind: Kind,
    lo: i128,
    hi: i128,
}

/// The inclusive rectangle `[r0, r1] x [c0, c1]`.
#[derive(Clone, Copy, Debug)]
struct Rect {
    r0: i128,
    r1: i128,
    c0: i128,
    c1: i128,
}

impl Rect {
    fn meet(self, o: Rect) -> Rect {
        let (r0, r1) = (max(self.r0, o.r0), min(self.r1, o.r1));
        Rect {
            r0,
            r1,
            c0: max(self.c0, o.c0),
            c1: min(self.c1, o.c1),
        }
    }

    fn is_empty(self) -> bool {
        self.r0 > self.r1 || self.c0 > self.c1
    }

    fn within(self, o: Rect) -> bool {
        o.r0 <= self.r0 && self.r1 <= o.r1 && o.c0 <= self.c0 && self.c1 <= o.c1
    }

    /// The values `kind` takes over the (non-empty) rectangle: all of them.
    fn range(self, kind: Kind) -> (i128, i128) {
        match kind {
            Kind::Diff => (self.c0 - self.r1, self.c1 - self.r0),
            Kind::Sum => (self.r0 + self.c0, self.r1 + self.c1),
        }
    }
}

/// A unit-step view: a rectangle, optionally cut by one band.
#[derive(Clone, Copy, Debug)]
struct Unit {
    rect: Rect,
    band: Option<Band>,
}

impl Unit {
    /// Exact overlap, or `None` when a `Diff` band meets a `Sum` band.
    fn overlaps(&self, other: &Unit) -> Option<bool> {
        let rect = self.rect.meet(other.rect);
        let band = match (self.band, other.band) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) if a.kind == b.kind => Some(Band {
                kind: a.kind,
                lo: max(a.lo, b.lo),
                hi: min(a.hi, b.hi),
            }),
            _ if rect.is_empty() => return Some(false),
            _ => return None,
        };
        let meets = |b: Band| {
            let (lo, hi) = rect.range(b.kind);
            max(lo, b.lo) <= min(hi, b.hi)
        };
        Some(!rect.is_empty() && band.is_none_or(meets))
    }

    /// The same set with the bounding box and band made tight; `None` if empty.
    fn tighten(self) -> Option<Unit> {
        let Some(b) = self.band else {
            return Some(self);
        };
        let Rect { r0, r1, c0, c1 } = self.rect;
        let bbox = match b.kind {
            Kind::Diff => Rect {
                r0: c0 - b.hi,
                r1: c1 - b.lo,
                c0: r0 + b.lo,
                c1: r1 + b.hi,
            },
            Kind::Sum => Rect {
                r0: b.lo - c1,
                r1: b.hi - c0,
                c0: b.lo - r1,
                c1: b.hi - r0,
            },
        };
        let (lo, hi) = self.rect.range(b.kind);
        let band = Band {
            kind: b.kind,
            lo: max(lo, b.lo),
            hi: min(hi, b.hi),
        };
        let rect = self.rect.meet(bbox);
        (!rect.is_empty() && band.lo <= band.hi).then_some(Unit {
            rect,
            band: Some(band),
        })
    }

    /// Exact `other ⊆ self`, or `None` when the bands are of different kinds.
    fn covers(&self, other: &Unit) -> Option<bool> {
        let Some(other) = other.tighten() else {
            return Some(true);
        };
        let Some(a) = self.band else {
            return Some(other.rect.within(self.rect));
        };
        let range = match other.band {
            None => other.rect.range(a.kind),
            Some(b) if b.kind == a.kind => (b.lo, b.hi),
            Some(_) => return None,
        };
        Some(other.rect.within(self.rect) && a.lo <= range.0 && range.1 <= a.hi)
    }
}

#[cfg(test)]
mod tests {
    use super::{Axis, Footprint as F, Mask};

    fn ax(origin: usize, step: isize, len: usize) -> Axis {
        Axis::new(origin, step, len)
    }

    fn sq(n: usize, m: Mask) -> F {
        F::masked(Axis::full(n), Axis::full(n), m)
    }

    fn vec1(origin: usize, step: isize, len: usize) -> F {
        F::rect(ax(origin, step, len), Axis::full(1))
    }

    #[test]
    fn triangles_of_one_square() {
        use Mask::*;
        assert!(!sq(5, Upper).overlaps(&sq(5, StrictLower)));
        assert!(sq(5, Upper).overlaps(&sq(5, Diagonal)));
        assert!(!sq(5, Lower).overlaps(&sq(5, StrictUpper)));
        assert!(!sq(5, Diagonal).overlaps(&sq(5, StrictUpper)));
        assert!(sq(5, Upper).covers(&sq(5, StrictUpper)));
        assert!(!sq(5, StrictUpper).covers(&sq(5, Upper)));
        assert!(F::rect(Axis::full(5), Axis::full(5)).covers(&sq(5, Lower)));
    }

    #[test]
    fn one_dimensional_slices() {
        assert!(!vec1(0, 1, 5).overlaps(&vec1(5, 1, 5)));
        assert!(vec1(0, 1, 6).overlaps(&vec1(5, 1, 5)));
        assert!(!vec1(0, 2, 10).overlaps(&vec1(1, 2, 10)));
        assert!(vec1(0, 3, 7).overlaps(&vec1(1, 4, 5))); // meet at 9
        assert!(!vec1(0, 6, 3).overlaps(&vec1(3, 4, 3))); // 0,6,12 vs 3,7,11
        assert!(vec1(9, -1, 10).covers(&vec1(0, 2, 5)));
        assert!(!vec1(0, 2, 5).covers(&vec1(6, -3, 3)));
        assert!(vec1(0, 2, 5).covers(&vec1(8, -4, 3)));
    }

    #[test]
    fn reversed_views_and_anti_diagonals() {
        // Rows reversed: i = 3 - r, so Upper (i <= j) is r + c >= 3.
        let anti = F::masked(ax(3, -1, 4), Axis::full(4), Mask::Upper);
        let at = |r, c| F::rect(ax(r, 1, 1), ax(c, 1, 1));
        assert!(!anti.overlaps(&at(0, 0)) && !anti.overlaps(&at(1, 1)));
        assert!(anti.overlaps(&at(3, 0)) && anti.overlaps(&at(2, 1)));
        // Cols reversed: j = 2 - c, so StrictUpper is r + c <= 1, Lower r + c >= 2.
        let flip = |m| F::masked(Axis::full(4), ax(2, -1, 3), m);
        assert!(!anti.overlaps(&flip(Mask::StrictUpper)) && anti.overlaps(&flip(Mask::Lower)));
        // Both reversed: j - i = r - c, so Upper is the object's lower triangle.
        let both = F::masked(ax(3, -1, 4), ax(3, -1, 4), Mask::Upper);
        assert!(sq(4, Mask::Lower).covers(&both) && both.covers(&sq(4, Mask::Lower)));
        assert!(!both.overlaps(&sq(4, Mask::StrictUpper)));
    }

    #[test]
    fn empty_regions() {
        let none = vec1(3, 1, 0);
        assert!(none.is_empty() && !none.overlaps(&F::Whole) && !F::Whole.overlaps(&none));
        assert!(none.covers(&none) && vec1(0, 1, 1).covers(&none));
        assert!(F::masked(ax(1, 1, 1), ax(1, 1, 1), Mask::StrictUpper).is_empty());
        assert!(F::masked(ax(1, 1, 1), ax(1, 1, 4), Mask::StrictLower).is_empty());
        assert!(!F::masked(ax(1, 1, 1), ax(1, 1, 4), Mask::StrictUpper).is_empty());
        assert!(!F::Whole.is_empty() && F::Whole.overlaps(&F::Whole));
        assert!(F::Whole.covers(&vec1(0, 1, 3)) && !vec1(0, 1, 3).covers(&F::Whole));
    }

    #[test]
    fn masks_on_offset_and_non_square_views() {
        // View rows 2..6, cols 4..8: Upper is c - r >= 2, Lower is c - r <= 2.
        let (rows, cols) = (ax(2, 1, 4), ax(4, 1, 4));
        let lower8 = sq(8, Mask::Lower);
        assert!(!F::masked(rows, cols, Mask::Upper).overlaps(&lower8));
        assert!(F::masked(rows, cols, Mask::Lower).overlaps(&lower8));
        assert!(!F::masked(rows, cols, Mask::Diagonal).overlaps(&lower8));
        assert!(F::masked(rows, cols, Mask::Diagonal).overlaps(&sq(8, Mask::Upper)));
        // A 2 x 5 diagonal holds only (0, 0) and (1, 1).
        let diag = F::masked(Axis::full(2), Axis::full(5), Mask::Diagonal);
        assert!(!diag.overlaps(&F::rect(Axis::full(2), ax(2, 1, 3))));
        assert!(F::rect(Axis::full(2), Axis::full(2)).covers(&diag));
        assert_eq!(diag.elements([2, 5]), vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn strided_masks() {
        // Even rows/cols with Upper (i <= j is r <= c) vs odd columns below.
        let even = F::masked(ax(0, 2, 5), ax(0, 2, 5), Mask::Upper);
        let low = F::masked(Axis::full(10), Axis::full(10), Mask::StrictLower);
        assert!(!even.overlaps(&low) && !low.overlaps(&even));
        assert!(even.overlaps(&sq(10, Mask::Diagonal)));
        let odd = F::masked(ax(9, -2, 5), ax(1, 2, 5), Mask::Lower);
        assert!(!odd.overlaps(&F::rect(ax(0, 2, 5), Axis::full(10))));
    }
}
