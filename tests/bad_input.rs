//! Bad input to every factorization: NaN and infinities are reported (Cholesky) or show in
//! the factors (LU, QR), never a finite, plausible-looking result; degenerate tile sizes are
//! a clear panic or a single tile.

use mosaic::prelude::*;
use ndarray::Array2;

fn spd(n: usize) -> Array2<f64> {
    let m = DArray::<f64>::rand_seeded(AutoBlocks, n, n, 3).to_ndarray();
    m.dot(&m.t()) + Array2::<f64>::eye(n) * n as f64
}

fn all_finite(a: &Array2<f64>) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Positions in the first tile, on the diagonal of a middle tile, and in the last tile.
fn positions(n: usize) -> [(usize, usize); 4] {
    [(0, 0), (n / 2, n / 2), (n - 1, 0), (n - 1, n - 1)]
}

#[test]
fn non_finite_input_never_gives_a_finite_factorization() {
    let n = 40;
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for (i, j) in positions(n) {
            for part in [Blocks(8, 8), Blocks(n, n)] {
                let mut a = spd(n);
                a[(i, j)] = bad;
                a[(j, i)] = bad;
                let d = DArray::from_ndarray(&a, part);
                let what = format!("{bad} at ({i}, {j}), {part:?}");
                // Cholesky: the first pivot that is not a positive finite number is reported,
                // which for one bad entry (i, j) of an SPD matrix is column max(i, j).
                let index = i.max(j);
                assert_eq!(
                    d.cholesky().unwrap_err(),
                    Error::NotPositiveDefinite { index },
                    "{what}"
                );
                // LU (like LAPACK's getrf) reports only exact zero pivots: it completes, and
                // the non-finite values show in its factors.
                let lu = d.lu().unwrap_or_else(|e| panic!("lu: {what}: {e}"));
                assert!(
                    !all_finite(&lu.l().to_ndarray()) || !all_finite(&lu.u().to_ndarray()),
                    "lu: {what}"
                );
                let qr = d.qr().expect("QR has no failure mode");
                assert!(!all_finite(&qr.r().to_ndarray()), "qr: {what}");
            }
        }
    }
}

#[test]
fn zero_tile_sizes_panic_with_the_sizes_and_huge_ones_give_one_tile() {
    let err = std::panic::catch_unwind(|| DArray::<f64>::zeros(Blocks(0, 3), 4, 4)).unwrap_err();
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("Blocks(0, 3)"), "{text}");
    let big = DArray::<f64>::rand_seeded(Blocks(usize::MAX, 1 << 40), 5, 7, 1);
    assert_eq!(big.tile_grid(), (1, 1));
    assert_eq!(
        big.to_ndarray(),
        DArray::<f64>::rand_seeded(Blocks(2, 3), 5, 7, 1).to_ndarray()
    );
    let lu = big.lu().expect("a random 5×7 has full rank");
    assert_eq!(lu.u().shape(), (5, 7));
}
