//! The consuming factorizations (`into_cholesky`, `into_lu`, `into_qr`): the same factors
//! as the borrowing ones, bit for bit (the same kernels run on the same tiles, whether the
//! matrix's own or a copy), for tilings that are factored in place and for those that are
//! copied first; the input's own tile becomes `L` when it fits; errors are the same;
//! inputs still being computed are waited for.

mod common;

use std::time::Duration;

use mosaic::linalg::Pivot;
use mosaic::prelude::*;
use mosaic::Error;
use ndarray::Array2;

/// A symmetric positive definite matrix: M·Mᵀ + n·I.
fn spd(n: usize, seed: u64) -> Array2<f64> {
    let m = DArray::<f64>::rand_seeded(AutoBlocks, n, n, seed).to_ndarray();
    m.dot(&m.t()) + Array2::<f64>::eye(n) * n as f64
}

/// Inputs of every kind: `(what, matrix)`. AutoBlocks up to 256 is one tile (factored in
/// place); at 300 and 520 AutoBlocks cuts tiles that are not the working tiles (copied,
/// except for Cholesky at 300, which factors them in place); square `Blocks` are the
/// working tiles (in place); non-square ones are not (copied).
fn inputs(a: &Array2<f64>) -> Vec<(&'static str, DArray<f64>)> {
    vec![
        ("auto", DArray::from_ndarray(a, AutoBlocks)),
        ("Blocks(48, 48)", DArray::from_ndarray(a, Blocks(48, 48))),
        ("Blocks(40, 64)", DArray::from_ndarray(a, Blocks(40, 64))),
    ]
}

const SIZES: [usize; 4] = [7, 200, 300, 520];

#[test]
fn into_cholesky_gives_the_factor_of_cholesky() {
    for n in SIZES {
        let a = spd(n, n as u64);
        for (what, m) in inputs(&a) {
            // A small auto-tiled matrix is factored on its own tiles: the same as a copy
            // explicitly cut that way.
            let (b, _) = m.block_size();
            let want = if what == "auto" && b < n && n <= 512 {
                DArray::from_ndarray(&a, Blocks(b, b)).cholesky()
            } else {
                m.cholesky()
            };
            let want = want.expect("SPD").l().to_ndarray();
            let got = m.into_cholesky().expect("SPD").l().to_ndarray();
            assert_eq!(got, want, "n = {n}, {what}");
        }
    }
}

#[test]
fn into_lu_gives_the_factors_of_lu() {
    for n in SIZES {
        for (what, m) in inputs(&DArray::<f64>::rand_seeded(AutoBlocks, n, n, 3).to_ndarray()) {
            let want = m.lu().expect("nonsingular");
            let got = m.into_lu().expect("nonsingular");
            assert_eq!(got.p(), want.p(), "n = {n}, {what}");
            assert_eq!(got.l().to_ndarray(), want.l().to_ndarray(), "n = {n}, {what}");
            assert_eq!(got.u().to_ndarray(), want.u().to_ndarray(), "n = {n}, {what}");
        }
    }
    // Without pivoting too (a diagonally dominant matrix).
    let a = spd(150, 9);
    let m = DArray::from_ndarray(&a, Blocks(50, 50));
    let want = m.lu_with(Pivot::NoPivot).expect("SPD");
    let got = m.into_lu_with(Pivot::NoPivot).expect("SPD");
    assert_eq!(got.u().to_ndarray(), want.u().to_ndarray());
}

#[test]
fn into_qr_gives_the_factors_of_qr() {
    for (m, n) in [(7, 5), (200, 120), (300, 300), (520, 130)] {
        let a = DArray::<f64>::rand_seeded(AutoBlocks, m, n, 4).to_ndarray();
        for (what, x) in inputs(&a) {
            let want = x.qr().expect("QR");
            let got = x.into_qr().expect("QR");
            assert_eq!(got.r().to_ndarray(), want.r().to_ndarray(), "{m}×{n}, {what}");
            assert_eq!(got.q().to_ndarray(), want.q().to_ndarray(), "{m}×{n}, {what}");
        }
    }
}

#[test]
fn a_fitting_input_becomes_the_factor_and_others_are_copied() {
    let a = spd(120, 1);
    // One tile under AutoBlocks: that tile is L.
    let m = DArray::from_ndarray(&a, AutoBlocks);
    let tile = m.tile(0, 0);
    let l = m.into_cholesky().expect("SPD");
    assert!(l.l().tile(0, 0).same_tile(&tile));
    // Square tiles: each is the same tile of L.
    let m = DArray::from_ndarray(&a, Blocks(50, 50));
    let tiles: Vec<_> = (0..3).map(|i| m.tile(i, 0)).collect();
    let l = m.into_cholesky().expect("SPD");
    for (i, t) in tiles.iter().enumerate() {
        assert!(l.l().tile(i, 0).same_tile(t), "tile ({i}, 0)");
    }
    // Non-square tiles: L is a copy, cut square.
    let m = DArray::from_ndarray(&a, Blocks(50, 60));
    let tile = m.tile(0, 0);
    let l = m.into_cholesky().expect("SPD");
    assert!(!l.l().tile(0, 0).same_tile(&tile));
    assert_eq!(l.l().block_size(), (50, 50));
}

#[test]
fn a_large_auto_tiled_input_is_factored_on_its_own_tiles() {
    // AutoBlocks cuts a matrix this large in Cholesky's and LU's working tiles (256) with
    // up to three workers; with more it cuts smaller ones, which are copied.
    let n = 1600;
    // Diagonally dominant; Cholesky reads only the lower triangle, which is that of an SPD
    // matrix.
    let r = DArray::<f64>::rand_seeded(AutoBlocks, n, n, 8).to_ndarray();
    let a = r + Array2::<f64>::eye(n) * n as f64;
    let fits = DArray::<f64>::zeros(AutoBlocks, n, n).block_size() == (256, 256);
    assert_eq!(fits, n / 256 >= 2 * mosaic::num_threads(), "AutoBlocks at {n}");
    let m = DArray::from_ndarray(&a, AutoBlocks);
    let (tile, want) = (m.tile(2, 1), m.cholesky().expect("SPD").l().to_ndarray());
    let ch = m.into_cholesky().expect("SPD");
    assert_eq!(ch.l().tile(2, 1).same_tile(&tile), fits, "Cholesky");
    assert_eq!(ch.l().to_ndarray(), want, "Cholesky: the borrowing form's factor");
    let m = DArray::from_ndarray(&a, AutoBlocks);
    let lu = m.lu().expect("nonsingular");
    let (tile, want) = (m.tile(1, 2), (lu.l().to_ndarray(), lu.u().to_ndarray(), lu.p()));
    let lu = m.into_lu().expect("nonsingular");
    let got = (lu.l().to_ndarray(), lu.u().to_ndarray(), lu.p());
    assert!(got == want, "LU: the borrowing form's factors");
    // The input's tile (1, 2), above the diagonal, holds U's block there when it was
    // factored in place, and the input's values when it was copied.
    let block = want.1.slice(ndarray::s![256..512, 512..768]).to_owned();
    let held = tile.to_ndarray().expect("the tile");
    assert_eq!(held == block, fits, "LU: the input's tile is U's");
}

#[test]
fn the_upper_triangle_is_not_read_in_place() {
    for part in [Blocks(256, 256), Blocks(32, 32)] {
        let n = 100;
        let mut a = spd(n, 2);
        let want = DArray::from_ndarray(&a, part)
            .cholesky()
            .expect("SPD")
            .l()
            .to_ndarray();
        for i in 0..n {
            for j in i + 1..n {
                a[(i, j)] = f64::NAN;
            }
        }
        let got = DArray::from_ndarray(&a, part)
            .into_cholesky()
            .expect("SPD")
            .l()
            .to_ndarray();
        assert_eq!(got, want, "{part:?}");
    }
}

#[test]
fn errors_are_those_of_the_borrowing_factorizations() {
    let mut a = spd(90, 5);
    a[(40, 40)] = -1e6;
    for part in [Blocks(256, 256), Blocks(30, 30), Blocks(30, 45)] {
        let m = DArray::from_ndarray(&a, part);
        let want = m.cholesky().map(drop);
        let got = m.into_cholesky().map(drop);
        assert!(
            matches!(got, Err(Error::NotPositiveDefinite { .. })),
            "{part:?}: {got:?}"
        );
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "{part:?}");
    }
    let mut s = DArray::<f64>::rand_seeded(AutoBlocks, 60, 60, 6).to_ndarray();
    s.column_mut(17).fill(0.0);
    for part in [Blocks(256, 256), Blocks(20, 20)] {
        let got = DArray::from_ndarray(&s, part).into_lu().map(drop);
        assert!(
            matches!(got, Err(Error::Singular { index: 17 })),
            "{part:?}: {got:?}"
        );
    }
    let wide = DArray::<f64>::zeros(Blocks(4, 4), 3, 5);
    assert!(matches!(wide.into_cholesky(), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn an_input_still_being_computed_is_waited_for() {
    let _w = common::watchdog("an_input_still_being_computed_is_waited_for", 60);
    let a = spd(200, 7);
    let want = DArray::from_ndarray(&a, AutoBlocks)
        .cholesky()
        .expect("SPD")
        .l()
        .to_ndarray();
    for part in [Blocks(200, 200), Blocks(64, 64)] {
        let m = DArray::from_ndarray(&a, part);
        // The gate holds every tile; a task after it doubles the matrix, and the
        // factorization must see the doubled values.
        let gate = common::gate(&m);
        let doubled = &m * 2.0;
        let opener = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            gate.open();
        });
        let l = doubled.into_cholesky().expect("SPD").l().to_ndarray();
        opener.join().expect("the gate opens");
        let scaled = &want * 2f64.sqrt();
        let err = (&l - &scaled).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        assert!(err < 1e-10 * n_norm(&scaled), "{part:?}: max error {err}");
    }
}

fn n_norm(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}
