//! How a matrix is cut into tiles: `Blocks(r, c)` or `AutoBlocks`.

/// Tiles of `r` rows and `c` columns (edge tiles may be smaller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Blocks(pub usize, pub usize);

/// Square tiles sized from the matrix and the workers in scope: one tile for small
/// matrices, otherwise the largest size up to 256 that still gives every worker several
/// tiles per dimension, so a factorization keeps them all busy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AutoBlocks;

/// Anything that picks a tile shape for a `rows × cols` matrix.
pub trait Partition: Copy {
    /// The tile shape (rows, cols), each at least 1.
    fn block_size(&self, rows: usize, cols: usize, elem_bytes: usize) -> (usize, usize);

    /// Is the tile shape the library's choice rather than the user's? Factorizations of a
    /// matrix so cut work on a private copy cut at the tile size they run best with; an
    /// explicit tiling (`false`, the default) is kept by every operation.
    fn is_auto(&self) -> bool {
        false
    }
}

impl Partition for Blocks {
    #[track_caller]
    fn block_size(&self, rows: usize, cols: usize, _elem_bytes: usize) -> (usize, usize) {
        assert!(
            self.0 > 0 && self.1 > 0,
            "tile sizes must be positive, got Blocks({}, {})",
            self.0,
            self.1
        );
        // A tile larger than the matrix is the whole matrix.
        (self.0.min(rows.max(1)), self.1.min(cols.max(1)))
    }
}

/// The square tile Cholesky and LU work on (`linalg::tiling`), and the largest
/// `AutoBlocks` cuts: the same size, so the consuming factorizations (`into_cholesky`,
/// `into_lu`) factor an auto-tiled matrix in place instead of re-cutting a copy. Measured (docs/history.md), `f64`, the
/// speed of `into_*` on 512 tiles (re-cut into a 256 copy) over that on 256 tiles (in
/// place), paired: Cholesky 0.96 / 0.84 at 4096 / 8192, LU 0.89 / 0.97 (1.00–1.06 at
/// 2048). The cost: the `f64` product at 8192 runs 8–11% slower on 256 tiles than on 512
/// (at 2048 and 4096 it does not; `f32`'s product and `trsm` were faster on 256), and QR, which works on 512 tiles from order 2048, copies (4–7%).
pub(crate) const FACTORIZATION_TILE: usize = 256;
/// Candidate square tile sizes of `AutoBlocks`, largest first (multiples of the SIMD width;
/// tiles are stored with a padded leading dimension, so powers of two are fine).
const AUTO_SIZES: [usize; 3] = [FACTORIZATION_TILE, 192, 128];
/// Up to this size a matrix is one tile: splitting it costs more than it gains.
const AUTO_SINGLE_TILE: usize = 256;

impl Partition for AutoBlocks {
    fn is_auto(&self) -> bool {
        true
    }

    fn block_size(&self, rows: usize, cols: usize, _elem_bytes: usize) -> (usize, usize) {
        let n = rows.max(cols);
        let b = if n <= AUTO_SINGLE_TILE {
            n.max(1)
        } else {
            let workers = crate::num_threads();
            let want = 2 * workers; // tiles per dimension
            AUTO_SIZES
                .iter()
                .copied()
                .find(|&b| n.div_ceil(b) >= want)
                .unwrap_or(AUTO_SIZES[AUTO_SIZES.len() - 1])
        };
        (b.min(rows.max(1)), b.min(cols.max(1)))
    }
}

/// The tiles along one dimension of length `n` cut every `b`: how many, and where tile `k`
/// starts and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cuts {
    pub(crate) n: usize,
    pub(crate) b: usize,
}

impl Cuts {
    pub(crate) fn count(&self) -> usize {
        self.n.div_ceil(self.b)
    }

    pub(crate) fn start(&self, k: usize) -> usize {
        k * self.b
    }

    pub(crate) fn len(&self, k: usize) -> usize {
        self.b.min(self.n - k * self.b)
    }

    /// The tile holding index `i`, and the offset inside it.
    pub(crate) fn locate(&self, i: usize) -> (usize, usize) {
        (i / self.b, i % self.b)
    }
}

/// The leading dimension a tile of `rows` rows is stored with: padded by 8 elements when
/// `rows` is a multiple of 16 of at least 64, since faer's kernels run ~2× slower on
/// power-of-two column strides (PERF.md).
pub(crate) fn padded_ld(rows: usize) -> usize {
    if rows >= 64 && rows.is_multiple_of(16) {
        rows + 8
    } else {
        rows.max(1)
    }
}
