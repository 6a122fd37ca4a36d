//! `Footprint::overlaps`, `covers`, `contains` and `is_empty` against brute-force element
//! sets: the fuzzer's input chooses the object's dims and two footprints (strided axes
//! with any signs, optional triangular or diagonal masks, or the whole object).

#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use mosaic::runtime::footprint::{Axis, Footprint, Mask};

#[path = "../../tests/common/mod.rs"]
mod common;

use common::Rng;

type Set = BTreeSet<(usize, usize)>;

/// An in-bounds axis over `dim` elements: unit steps often, any stride otherwise.
fn axis(rng: &mut Rng, dim: usize) -> Axis {
    let step = match rng.below(4) {
        0 => 1,
        1 => -1,
        _ => {
            let s = rng.range(1, dim) as isize;
            if rng.chance(0.5) {
                -s
            } else {
                s
            }
        }
    };
    let most = (dim - 1) / step.unsigned_abs() + 1;
    let len = if rng.chance(0.4) { most } else { rng.range(0, most) };
    let span = len.saturating_sub(1) * step.unsigned_abs();
    let origin = match (len, step > 0) {
        (0, _) => rng.below(dim),
        (_, true) => rng.range(0, dim - 1 - span),
        (_, false) => rng.range(span, dim - 1),
    };
    Axis { origin, step, len }
}

fn footprint(rng: &mut Rng, d: [usize; 2]) -> Footprint {
    if rng.below(10) == 0 {
        return Footprint::Whole;
    }
    let masks = [
        Mask::Upper,
        Mask::StrictUpper,
        Mask::Lower,
        Mask::StrictLower,
        Mask::Diagonal,
    ];
    let (rows, cols) = (axis(rng, d[0]), axis(rng, d[1]));
    let mask = rng.chance(0.6).then(|| rng.pick(&masks));
    Footprint::Region { rows, cols, mask }
}

/// The elements, computed here from the definition (not with `Footprint::elements`).
fn set(f: &Footprint, d: [usize; 2]) -> Set {
    let Footprint::Region { rows, cols, mask } = *f else {
        return (0..d[0]).flat_map(|r| (0..d[1]).map(move |c| (r, c))).collect();
    };
    let at = |a: Axis, k: usize| (a.origin as isize + k as isize * a.step) as usize;
    let admits = |i: usize, j: usize| match mask {
        None => true,
        Some(Mask::Upper) => i <= j,
        Some(Mask::StrictUpper) => i < j,
        Some(Mask::Lower) => i >= j,
        Some(Mask::StrictLower) => i > j,
        Some(Mask::Diagonal) => i == j,
    };
    let mut out = Set::new();
    for i in 0..rows.len {
        for j in (0..cols.len).filter(|&j| admits(i, j)) {
            out.insert((at(rows, i), at(cols, j)));
        }
    }
    out
}

fn unit_steps(f: &Footprint) -> bool {
    let unit = |a: Axis| a.step.unsigned_abs() == 1 || a.len <= 1;
    match *f {
        Footprint::Whole => true,
        Footprint::Region { rows, cols, .. } => unit(rows) && unit(cols),
    }
}

/// Where `covers` promises an exact answer (elsewhere it may say `false` for a cover).
fn covers_is_exact(a: &Footprint, b: &Footprint, sa: &Set, sb: &Set) -> bool {
    let unmasked = |f: &Footprint| matches!(f, Footprint::Region { mask: None, .. });
    match (a, b) {
        (Footprint::Whole, _) => true,
        (Footprint::Region { .. }, Footprint::Whole) => sa.is_empty(),
        _ => {
            sb.is_empty() || sa.is_empty() || (unmasked(a) && unmasked(b)) || (unit_steps(a) && unit_steps(b))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rng = Rng::from_bytes(data);
    let d = if rng.below(4) == 0 {
        [rng.range(1, 64), 1] // a 1-D object
    } else {
        [rng.range(1, 24), rng.range(1, 24)]
    };
    let (a, b) = (footprint(&mut rng, d), footprint(&mut rng, d));
    let (sa, sb) = (set(&a, d), set(&b, d));

    let overlap = !sa.is_disjoint(&sb);
    assert_eq!(a.overlaps(&b), overlap, "{a:?} overlaps {b:?} in {d:?}");
    assert_eq!(b.overlaps(&a), overlap, "{b:?} overlaps {a:?} in {d:?}");

    for (x, y, sx, sy) in [(&a, &b, &sa, &sb), (&b, &a, &sb, &sa)] {
        let cover = sy.is_subset(sx);
        let got = x.covers(y);
        assert!(!got || cover, "false cover: {x:?} ⊇ {y:?} in {d:?}");
        if covers_is_exact(x, y, sx, sy) {
            assert_eq!(got, cover, "inexact cover: {x:?} ⊇ {y:?} in {d:?}");
        }
        assert!(x.covers(x), "{x:?} covers itself");
    }

    assert_eq!(a.is_empty(), sa.is_empty(), "{a:?} in {d:?}");
    for r in 0..d[0] {
        for c in 0..d[1] {
            assert_eq!(
                a.contains(r, c),
                sa.contains(&(r, c)),
                "{a:?} contains ({r}, {c})"
            );
        }
    }
});
