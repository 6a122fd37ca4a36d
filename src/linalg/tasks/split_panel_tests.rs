use ndarray::{s, Array2, ShapeBuilder};

use super::{getrf_split, Group};
use crate::backend::{Backend, Cpu};
use crate::Tile;

/// An element's place, `(row, column)`, and its value.
type Element = ((usize, usize), f64);

/// A column of `heights` tiles, `width` wide, of hashed values (no ties in magnitude), with
/// column `zero` all zeros and the `set` elements replaced.
fn column(
    width: usize,
    heights: &[usize],
    zero: Option<usize>,
    set: &[((usize, usize), f64)],
) -> Array2<f64> {
    let height: usize = heights.iter().sum();
    Array2::from_shape_fn((height, width).f(), |(i, j)| {
        if let Some(&(_, x)) = set.iter().find(|(at, _)| *at == (i, j)) {
            x
        } else if zero == Some(j) {
            0.0
        } else {
            let h = (i as u64 * 2_654_435_761) ^ (j as u64 * 40_503 + width as u64 * 97);
            (h % 1_000_003) as f64 / 1_000_003.0 - 0.5
        }
    })
}

fn cut(a: &Array2<f64>, heights: &[usize]) -> Vec<Array2<f64>> {
    let mut top = 0;
    heights
        .iter()
        .map(|&h| {
            let mut t = Array2::zeros((h, a.ncols()).f());
            t.assign(&a.slice(s![top..top + h, ..]));
            top += h;
            t
        })
        .collect()
}

/// The split panel against `getrf_tiles` on the whole column: the same swaps and
/// zero-pivot report, the same factors up to rounding, whichever way the tiles are
/// grouped (every other tile, every third, the diagonal tile's group not first, a group
/// of one short tile) and wherever the blocks end (widths below, at and past `BLOCK`, and
/// under the 4 rows of a candidate's index). Special columns: all zeros; a NaN below the
/// diagonal, first in its group's rows with the column's largest entry later in that
/// group, and on the diagonal (NaN is never the larger, except that a NaN diagonal stays);
/// two entries of equal magnitude in different tiles (the first in row order wins).
#[test]
fn a_split_panel_pivots_as_the_whole_column_does() {
    let cases: [(usize, &[usize]); 5] = [
        (80, &[80, 80, 80, 80, 37]),
        (8, &[8, 8, 5]),
        (3, &[4, 4, 2]),
        (37, &[40, 40, 9]),
        (12, &[12, 1]),
    ];
    let row0 = 1000;
    for &(width, heights) in &cases {
        let (tb, height) = (heights[0], heights.iter().sum::<usize>());
        let last = height - 1;
        let specials: [(Option<usize>, Vec<Element>); 6] = [
            (None, vec![]),
            (Some(width / 2), vec![]),
            (None, vec![((tb + 3, 2 % width), f64::NAN)]),
            (None, vec![((tb, 0), f64::NAN), ((last, 0), 1e6)]),
            (None, vec![((1, 1), f64::NAN)]),
            (None, vec![((tb + 1, 1), 10.0), ((last, 1), -10.0)]),
        ];
        for (zero, set) in specials {
            let a = column(width, heights, zero, &set);
            let mut expected = cut(&a, heights);
            let mut views: Vec<_> = expected.iter_mut().map(|t| t.view_mut()).collect();
            let mut ipiv = vec![0; width];
            let result = Cpu.getrf_tiles(&mut views, &mut ipiv).map_err(|i| row0 + i);
            let ipiv: Vec<usize> = ipiv.iter().map(|p| p + row0).collect();
            let n = heights.len();
            let groupings: [Vec<Vec<usize>>; 3] = [
                vec![(0..n).step_by(2).collect(), (1..n).step_by(2).collect()],
                vec![
                    (1..n).step_by(3).collect(),
                    (0..n).step_by(3).collect(),
                    (2..n).step_by(3).collect(),
                ],
                vec![(1..n).collect(), vec![0]],
            ];
            for grouping in groupings {
                let grouping: Vec<Vec<usize>> = grouping.into_iter().filter(|g| !g.is_empty()).collect();
                let tiles: Vec<Tile<f64>> = cut(&a, heights)
                    .iter()
                    .map(|t| Tile::from_ndarray(&t.view(), t.nrows()))
                    .collect();
                let groups = grouping
                    .iter()
                    .map(|positions| Group {
                        positions: positions.clone(),
                        tiles: positions.iter().map(|&p| tiles[p].clone()).collect(),
                    })
                    .collect();
                let swaps = Tile::filled(width, 1, width, 0);
                let panel = getrf_split(&Cpu, 0, groups, tb, row0, swaps.clone(), 0);
                let (got_ipiv, got_result) = panel.wait().expect("the panel runs");
                let case =
                    format!("width {width}, heights {heights:?}, zero {zero:?}, {set:?}, {grouping:?}");
                assert_eq!(got_result, result, "{case}");
                assert_eq!(got_ipiv.as_deref(), Some(&ipiv[..]), "{case}");
                assert_eq!(swaps.to_ndarray().unwrap().column(0).to_vec(), ipiv, "{case}");
                for (t, want) in tiles.iter().zip(&expected) {
                    let got = t.to_ndarray().unwrap();
                    for (x, y) in got.iter().zip(want) {
                        let same = (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * (1.0 + y.abs());
                        assert!(same, "{case}: {x} against {y}");
                    }
                }
            }
        }
    }
}
