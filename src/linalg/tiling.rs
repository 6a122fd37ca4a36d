//! The tiles a factorization works on.
//!
//! Every factorization runs on a private copy of its input, cut into square tiles. When the
//! input's tiling was the user's choice (`Blocks`), the copy keeps it. When it was left to
//! the library (`AutoBlocks`), making the copy costs the same whatever its tiles, so the
//! copy is cut at the size the factorization runs best with (measured in BENCHMARKS.md):
//! small matrices as one tile (one sequential kernel beats a graph of tiny ones), larger
//! ones at 256 (Cholesky and LU keep more tasks in flight with their cheap kernels) or 384
//! (QR's kernels gain more from larger tiles at large n).

use crate::darray::DArray;
use crate::Scalar;

/// The factorization a working copy is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Factorization {
    Cholesky,
    Lu,
    Qr,
}

/// Up to this order, a factorization of an auto-tiled matrix is one tile.
const SINGLE_TILE: usize = 512;

impl Factorization {
    /// The square tile size for an auto-tiled `m × n` matrix.
    pub(crate) fn tile_size(self, m: usize, n: usize) -> usize {
        let order = m.max(n);
        if order <= SINGLE_TILE {
            return order.max(1);
        }
        match self {
            Factorization::Cholesky | Factorization::Lu => 256,
            Factorization::Qr if m.min(n) >= 3072 => 384,
            Factorization::Qr => 256,
        }
    }
}

/// A private copy of `a` in square tiles, to be factored in place, and the tile size.
pub(crate) fn working_copy<T: Scalar>(a: &DArray<T>, op: Factorization) -> (DArray<T>, usize) {
    let (m, n) = a.shape();
    let b = if a.auto_blocked() {
        op.tile_size(m, n)
    } else {
        a.block_size().0.min(a.block_size().1).max(1)
    };
    let copy = if a.block_size() == (b.min(m.max(1)), b.min(n.max(1))) {
        a.clone()
    } else {
        a.recut(b, b)
    };
    (copy.with_auto(a.auto_blocked()), b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::darray::{AutoBlocks, Blocks};

    #[test]
    fn explicit_tiles_are_kept_and_auto_tiles_are_chosen_per_factorization() {
        let a = DArray::<f64>::zeros(Blocks(3, 5), 10, 10);
        let (c, b) = working_copy(&a, Factorization::Cholesky);
        assert_eq!((b, c.block_size(), c.auto_blocked()), (3, (3, 3), false));

        let small = DArray::<f64>::zeros(AutoBlocks, 300, 200);
        let (c, b) = working_copy(&small, Factorization::Lu);
        assert_eq!((b, c.tile_grid(), c.auto_blocked()), (300, (1, 1), true));

        let big = DArray::<f64>::zeros(AutoBlocks, 1100, 1000);
        for (op, want) in [
            (Factorization::Cholesky, 256),
            (Factorization::Lu, 256),
            (Factorization::Qr, 256),
        ] {
            let (c, b) = working_copy(&big, op);
            assert_eq!((b, c.block_size()), (want, (want, want)));
        }
        assert_eq!(Factorization::Qr.tile_size(4096, 4096), 384);
        assert_eq!(Factorization::Qr.tile_size(8192, 512), 256);
    }

    #[test]
    fn the_copy_is_a_copy() {
        let a = DArray::<f64>::rand_seeded(AutoBlocks, 600, 600, 3);
        let (c, _) = working_copy(&a, Factorization::Cholesky);
        assert!(!c.tile(0, 0).same_tile(&a.tile(0, 0)));
        assert_eq!(c.to_ndarray(), a.to_ndarray());
    }
}
