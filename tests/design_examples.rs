//! Every `datadeps` example of DESIGN.md §1, run as written (plus checks of the results).

use mosaic::prelude::*;
use ndarray::{s, Array1, Array2};

#[test]
fn two_dependent_tasks_on_bound_arrays() {
    let a = Array1::<f64>::from_elem(1000, 1.0);
    let mut b = Array1::<f64>::from_elem(1000, 2.0);
    let mut c = Array1::<f64>::zeros(1000);
    datadeps(|s| {
        let a = s.read(&a);
        let b = s.write(&mut b);
        let c = s.write(&mut c);
        s.spawn((InOut(b), In(a)), |(mut b, a)| b += &a);
        s.spawn((Out(c), In(b)), |(mut c, b)| c.assign(&b));
    });
    assert!(b.iter().all(|&x| x == 3.0));
    assert!(c.iter().all(|&x| x == 3.0));
}

#[test]
fn disjoint_slices_then_whole() {
    let mut v = Array1::<f64>::zeros(1000);
    datadeps(|s| {
        let x = s.write(&mut v);
        let (lo, hi) = (x.slice(s![..500]), x.slice(s![500..]));
        s.spawn((InOut(lo),), |(mut p,)| p += 1.0);
        s.spawn((InOut(hi),), |(mut p,)| p += 1.0);
        s.spawn((InOut(x),), |(mut p,)| p *= 2.0);
    });
    assert!(v.iter().all(|&x| x == 2.0));
}

#[test]
fn triangular_and_diagonal_parts() {
    let mut mat = Array2::<f64>::zeros((6, 6));
    datadeps(|s| {
        let m = s.write(&mut mat);
        s.spawn((InOut(UpperTriangular(m)),), |(mut u,)| u.fill(1.0));
        s.spawn((InOut(UnitLowerTriangular(m)),), |(mut l,)| l.fill(2.0));
        s.spawn((InOut(Diagonal(m)),), |(mut d,)| d += 5.0);
    });
    for i in 0..6 {
        for j in 0..6 {
            let want = match i.cmp(&j) {
                std::cmp::Ordering::Less => 1.0,
                std::cmp::Ordering::Equal => 6.0,
                std::cmp::Ordering::Greater => 2.0,
            };
            assert_eq!(mat[(i, j)], want, "at ({i}, {j})");
        }
    }
}

fn potrf_in_place(t: &mut ndarray::ArrayViewMut2<'_, f64>) {
    // Unblocked lower Cholesky, enough for the example.
    let n = t.nrows();
    for j in 0..n {
        let mut d = t[(j, j)];
        for k in 0..j {
            d -= t[(j, k)] * t[(j, k)];
        }
        let d = d.sqrt();
        t[(j, j)] = d;
        for i in j + 1..n {
            let mut x = t[(i, j)];
            for k in 0..j {
                x -= t[(i, k)] * t[(j, k)];
            }
            t[(i, j)] = x / d;
        }
    }
}

#[test]
fn runtime_owned_tiles_in_a_region_and_a_future() {
    let nt = 3;
    let tiles: Vec<Tile<f64>> = (0..nt)
        .map(|k| {
            let a = Array2::from_shape_fn((4, 4), |(i, j)| if i == j { 4.0 + k as f64 } else { 1.0 });
            Tile::from_ndarray(&a.view(), 4)
        })
        .collect();
    let m = |k: usize| tiles[k].clone();
    datadeps(|s| {
        for k in 0..nt {
            s.spawn((ReadWrite(m(k)),), |(mut t,)| potrf_in_place(&mut t));
        }
    });
    let fut = spawn((In(tiles[0].clone()),), |(t,)| t.sum());
    let value = fut.wait().unwrap();
    let l = tiles[0].to_ndarray().unwrap();
    assert!((value - l.sum()).abs() < 1e-12);
    // L·Lᵀ of the lower part reproduces the input.
    let low = Array2::from_shape_fn((4, 4), |(i, j)| if i >= j { l[(i, j)] } else { 0.0 });
    let a = low.dot(&low.t());
    assert!((a[(0, 0)] - 4.0).abs() < 1e-12 && (a[(1, 0)] - 1.0).abs() < 1e-12);
}
