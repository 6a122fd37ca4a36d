//! Hand-picked overlap and cover cases (the brute-force properties are in
//! `tests/footprint_props.rs`).

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
    // Even rows and cols with Upper (i <= j) is r <= c: above the diagonal.
    let even = F::masked(ax(0, 2, 5), ax(0, 2, 5), Mask::Upper);
    let low = F::masked(Axis::full(10), Axis::full(10), Mask::StrictLower);
    assert!(!even.overlaps(&low) && !low.overlaps(&even));
    assert!(even.overlaps(&sq(10, Mask::Diagonal)));
    // Odd rows reversed (i = (9 - r) / 2), odd cols: Lower is r + c <= 10.
    let odd = F::masked(ax(9, -2, 5), ax(1, 2, 5), Mask::Lower);
    assert!(odd.overlaps(&F::rect(ax(5, 1, 5), ax(5, 1, 5)))); // (5, 5)
    assert!(!odd.overlaps(&F::rect(ax(6, 1, 4), ax(5, 1, 5))));
}
