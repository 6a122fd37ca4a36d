//! Property tests: `Footprint` against brute-force element sets.

use std::collections::BTreeSet;

use mosaic::runtime::footprint::{Axis, Footprint, Mask};
use proptest::prelude::*;

type Set = BTreeSet<(usize, usize)>;

/// 2-D objects up to 12 x 12 and 1-D objects up to 40.
fn dims() -> impl Strategy<Value = [usize; 2]> {
    prop_oneof![
        3 => (1..=12usize, 1..=12usize).prop_map(|(r, c)| [r, c]),
        1 => (1..=40usize).prop_map(|n| [n, 1]),
    ]
}

/// An in-bounds axis over `dim` elements: unit, reversed and (unless
/// `unit_only`) strided steps, lengths from 0 to the most that fit (often the
/// most).
fn axis(dim: usize, unit_only: bool) -> impl Strategy<Value = Axis> {
    let most_step = if unit_only { 1 } else { dim as isize };
    let strided = (1..=most_step, any::<bool>()).prop_map(|(s, neg)| if neg { -s } else { s });
    let step = prop_oneof![3 => Just(1isize), 2 => Just(-1isize), 3 => strided];
    step.prop_flat_map(move |step| {
        let most = (dim - 1) / step.unsigned_abs() + 1;
        (Just(step), prop_oneof![0..=most, Just(most)])
    })
    .prop_flat_map(move |(step, len)| {
        let span = len.saturating_sub(1) * step.unsigned_abs();
        let origins = match (len, step > 0) {
            (0, _) => 0..=dim - 1,
            (_, true) => 0..=dim - 1 - span,
            (_, false) => span..=dim - 1,
        };
        origins.prop_map(move |origin| Axis { origin, step, len })
    })
}

fn mask() -> impl Strategy<Value = Option<Mask>> {
    let all = vec![
        Mask::Upper,
        Mask::StrictUpper,
        Mask::Lower,
        Mask::StrictLower,
        Mask::Diagonal,
    ];
    prop_oneof![2 => Just(None), 3 => prop::sample::select(all).prop_map(Some)]
}

fn footprint(d: [usize; 2]) -> impl Strategy<Value = Footprint> {
    let region = (axis(d[0], false), axis(d[1], false), mask());
    prop_oneof![
        1 => Just(Footprint::Whole),
        9 => region.prop_map(|(rows, cols, mask)| Footprint::Region { rows, cols, mask }),
    ]
}

fn pair() -> impl Strategy<Value = ([usize; 2], Footprint, Footprint)> {
    dims().prop_flat_map(|d| (Just(d), footprint(d), footprint(d)))
}

/// Two unit-step footprints, often masked (the hot path, including anti-diagonal
/// bands from mixed step signs).
fn unit_pair() -> impl Strategy<Value = ([usize; 2], Footprint, Footprint)> {
    let masked = |d: [usize; 2]| {
        (axis(d[0], true), axis(d[1], true), mask()).prop_map(|(rows, cols, mask)| Footprint::Region {
            rows,
            cols,
            mask,
        })
    };
    dims().prop_flat_map(move |d| (Just(d), masked(d), masked(d)))
}

fn single() -> impl Strategy<Value = ([usize; 2], Footprint)> {
    dims().prop_flat_map(|d| (Just(d), footprint(d)))
}

fn set(f: &Footprint, d: [usize; 2]) -> Set {
    f.elements(d).into_iter().collect()
}

fn unit(a: Axis) -> bool {
    a.step.unsigned_abs() == 1 || a.len <= 1
}

/// The cases where `covers` promises an exact answer.
fn covers_is_exact_for(a: &Footprint, b: &Footprint, sb: &Set) -> bool {
    match (*a, *b) {
        (Footprint::Whole, _) => true,
        (
            Footprint::Region { rows, cols, mask },
            Footprint::Region {
                rows: r,
                cols: c,
                mask: m,
            },
        ) => {
            let units = unit(rows) && unit(cols) && unit(r) && unit(c);
            sb.is_empty() || a.is_empty() || (mask.is_none() && m.is_none()) || units
        }
        (Footprint::Region { .. }, Footprint::Whole) => a.is_empty(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2500))]

    #[test]
    fn overlaps_is_exact_and_symmetric((d, a, b) in pair()) {
        let (sa, sb) = (set(&a, d), set(&b, d));
        let brute = !sa.is_disjoint(&sb);
        prop_assert_eq!(a.overlaps(&b), brute, "{:?} vs {:?} in {:?}", a, b, d);
        prop_assert_eq!(b.overlaps(&a), brute, "{:?} vs {:?} in {:?}", b, a, d);
    }

    #[test]
    fn unit_steps_are_exact_for_overlaps_and_covers((d, a, b) in unit_pair()) {
        let (sa, sb) = (set(&a, d), set(&b, d));
        prop_assert_eq!(a.overlaps(&b), !sa.is_disjoint(&sb), "{:?} vs {:?}", a, b);
        prop_assert_eq!(a.covers(&b), sb.is_subset(&sa), "{:?} ⊇ {:?}", a, b);
        prop_assert_eq!(b.covers(&a), sa.is_subset(&sb), "{:?} ⊇ {:?}", b, a);
    }

    #[test]
    fn covers_is_sound_and_exact_where_promised((d, a, b) in pair()) {
        let (sa, sb) = (set(&a, d), set(&b, d));
        let brute = sb.is_subset(&sa);
        let got = a.covers(&b);
        prop_assert!(!got || brute, "false cover: {:?} ⊇ {:?} in {:?}", a, b, d);
        if covers_is_exact_for(&a, &b, &sb) {
            prop_assert_eq!(got, brute, "inexact: {:?} ⊇ {:?} in {:?}", a, b, d);
        }
        prop_assert!(a.covers(&a) && b.covers(&b));
    }

    #[test]
    fn is_empty_and_contains_match_elements((d, a) in single()) {
        let list = a.elements(d);
        let sa: Set = list.iter().copied().collect();
        prop_assert_eq!(sa.len(), list.len(), "duplicates in {:?}", a);
        prop_assert_eq!(a.is_empty(), sa.is_empty(), "{:?}", a);
        prop_assert_eq!(!a.is_empty(), a.overlaps(&Footprint::Whole));
        for r in 0..d[0] + 2 {
            for c in 0..d[1] + 2 {
                let inside = r < d[0] && c < d[1];
                let whole = a == Footprint::Whole;
                prop_assert_eq!(a.contains(r, c), sa.contains(&(r, c)) || (!inside && whole));
            }
        }
    }
}
