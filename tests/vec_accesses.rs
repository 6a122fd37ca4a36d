//! A run-time number of accesses in one task (`Vec` of accesses, alone or with one more):
//! the dependencies are those of each element, and overlapping writes are rejected.

use mosaic::prelude::*;
use ndarray::{s, Array1};

#[test]
fn a_vec_of_tiles_orders_like_its_elements() {
    let tiles: Vec<Tile<f64>> = (0..4).map(|_| Tile::zeros(2, 2)).collect();
    for (k, t) in tiles.iter().enumerate() {
        spawn((Out(t.clone()),), move |(mut v,)| v.fill(k as f64));
    }
    let all: Vec<_> = tiles.iter().cloned().map(InOut).collect();
    spawn(all, |mut views| {
        for v in &mut views {
            *v += 1.0;
        }
    });
    let sums: Vec<_> = tiles.iter().cloned().map(In).collect();
    let total = spawn((sums, In(tiles[0].clone())), |(views, first)| {
        views.iter().map(|v| v.sum()).sum::<f64>() + first.sum()
    })
    .wait()
    .unwrap();
    assert_eq!(total, 4.0 * (1.0 + 2.0 + 3.0 + 4.0) + 4.0);
}

#[test]
fn slices_in_a_vec_inside_a_region() {
    let mut a = Array1::<f64>::zeros(10);
    datadeps(|s| {
        let h = s.write(&mut a);
        let parts = vec![InOut(h.slice(s![..5])), InOut(h.slice(s![5..]))];
        s.spawn(parts, |mut v| {
            v[0].fill(1.0);
            v[1].fill(2.0);
        });
    });
    assert_eq!(a.sum(), 15.0);
}

#[test]
#[should_panic(expected = "overlapping accesses")]
fn overlapping_writes_in_a_vec_are_rejected() {
    let t = Tile::<f64>::zeros(2, 2);
    drop(spawn(vec![InOut(t.clone()), InOut(t)], |_| ()));
}
