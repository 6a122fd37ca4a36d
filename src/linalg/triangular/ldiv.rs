//! `ldiv` / `rdiv`: in-place triangular solves named by the matrix's structure, like
//! Julia's `ldiv!(UpperTriangular(U), X)`, with LAPACK `trtrs`'s singularity check.

use super::super::Linalg;
use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::darray::settle::{bytes_u64, settle, u64_bytes};
use crate::darray::DArray;
use crate::datadeps::{
    spawn_with, In, LowerTriangular, TaskFuture, UnitLowerTriangular, UnitUpperTriangular, UpperTriangular,
};
use crate::error::{Error, Result};
use crate::runtime::TaskOptions;
use crate::Scalar;

/// A square `DArray` seen as triangular: `UpperTriangular(&u)`, `LowerTriangular(&l)`,
/// `UnitUpperTriangular(&u)`, `UnitLowerTriangular(&l)`. Only the named triangle is read;
/// a unit diagonal is taken as ones and not read.
pub trait TriangularMatrix<T> {
    /// The matrix, which triangle holds the data, and whether the diagonal is implicit.
    fn triangular(&self) -> (&DArray<T>, Uplo, Diag);
}

macro_rules! triangular_matrix {
    ($($wrapper:ident => $uplo:expr, $diag:expr;)*) => {$(
        impl<T> TriangularMatrix<T> for $wrapper<&DArray<T>> {
            fn triangular(&self) -> (&DArray<T>, Uplo, Diag) {
                (self.0, $uplo, $diag)
            }
        }
    )*};
}

triangular_matrix! {
    UpperTriangular => Uplo::Upper, Diag::NonUnit;
    LowerTriangular => Uplo::Lower, Diag::NonUnit;
    UnitUpperTriangular => Uplo::Upper, Diag::Unit;
    UnitLowerTriangular => Uplo::Lower, Diag::Unit;
}

/// `X ← A⁻¹·X` in place, for a triangular `A` (on the CPU backend; see [`Linalg::ldiv`]).
///
/// ```
/// use mosaic::prelude::*;
/// let u = DArray::<f64>::from_ndarray(&ndarray::array![[2.0, 1.0], [7.0, 4.0]], AutoBlocks);
/// let mut x = DArray::from_ndarray(&ndarray::array![[3.0], [8.0]], AutoBlocks);
/// ldiv(UpperTriangular(&u), &mut x)?; // the 7.0 below the diagonal is not read
/// assert_eq!(x.to_ndarray(), ndarray::array![[0.5], [2.0]]);
/// # Ok::<(), mosaic::Error>(())
/// ```
pub fn ldiv<T: Scalar>(a: impl TriangularMatrix<T>, x: &mut DArray<T>) -> Result<()> {
    Linalg::cpu().ldiv(a, x)
}

/// `X ← X·A⁻¹` in place, for a triangular `A` (on the CPU backend; see [`Linalg::rdiv`]).
pub fn rdiv<T: Scalar>(x: &mut DArray<T>, a: impl TriangularMatrix<T>) -> Result<()> {
    Linalg::cpu().rdiv(x, a)
}

impl<B: Backend> Linalg<B> {
    /// `X ← A⁻¹·X` in place: solves `A·Y = X` for a triangular `A` (`n × n`) and `X` of `n`
    /// rows (a vector is `n × 1`). Checks the diagonal first (unless it is a unit one),
    /// waiting for `A`'s diagonal tiles to be computed: `Err(Singular { index })` at the
    /// first exact zero, with `X` left unchanged. Then returns at once; the solve runs as
    /// tasks. `Err(ShapeMismatch)` if the shapes do not fit. For `Aᵀ`, use [`Linalg::trsm`].
    pub fn ldiv<T: Scalar>(&self, a: impl TriangularMatrix<T>, x: &mut DArray<T>) -> Result<()> {
        let (a, uplo, diag) = a.triangular();
        self.checked_trsm(Side::Left, uplo, diag, a, x)
    }

    /// `X ← X·A⁻¹` in place: solves `Y·A = X` for a triangular `A` and `X` of `n` columns;
    /// errors as for [`Linalg::ldiv`].
    pub fn rdiv<T: Scalar>(&self, x: &mut DArray<T>, a: impl TriangularMatrix<T>) -> Result<()> {
        let (a, uplo, diag) = a.triangular();
        self.checked_trsm(Side::Right, uplo, diag, a, x)
    }

    fn checked_trsm<T: Scalar>(
        &self,
        side: Side,
        uplo: Uplo,
        diag: Diag,
        a: &DArray<T>,
        x: &mut DArray<T>,
    ) -> Result<()> {
        let fits = match side {
            Side::Left => a.shape().1 == x.shape().0,
            Side::Right => a.shape().0 == x.shape().1,
        };
        if a.shape().0 != a.shape().1 || !fits {
            let op = if side == Side::Left { "ldiv" } else { "rdiv" };
            return Err(Error::ShapeMismatch {
                op,
                left: a.shape(),
                right: x.shape(),
            });
        }
        if diag == Diag::NonUnit {
            if let Some(index) = first_zero_on_diagonal(a)? {
                return Err(Error::Singular { index });
            }
        }
        self.trsm(side, uplo, Trans::No, diag, T::one(), a, x)
    }
}

/// The first exact zero on the diagonal of the square `a`, by one task per tile that the
/// diagonal crosses; waits for them.
fn first_zero_on_diagonal<T: Scalar>(a: &DArray<T>) -> Result<Option<usize>> {
    let checks: Vec<TaskFuture<Option<usize>>> = a
        .tile_indices()
        .filter_map(|(i, j)| {
            let (r, c) = a.tile_range(i, j);
            let (lo, hi) = (r.start.max(c.start), r.end.min(c.end));
            (lo < hi).then(|| {
                let (r0, c0) = (r.start, c.start);
                spawn_with(
                    // Under MPI, on the rank holding the tile (the answers are gathered).
                    TaskOptions::named("diag_check").in_place(),
                    (In(a.tile(i, j)),),
                    move |(t,)| (lo..hi).find(|&g| t[(g - r0, g - c0)] == T::zero()),
                )
            })
        })
        .collect();
    let encode = |z: &Option<usize>| u64_bytes(z.map_or(0, |i| i as u64 + 1));
    let decode = |b: &[u8]| bytes_u64(b).map(|v| v.checked_sub(1).map(|i| i as usize));
    let mut first = None;
    for check in settle("diag_check", a.is_distributed(), checks, encode, decode) {
        if let Some(index) = check? {
            first = Some(first.map_or(index, |f: usize| f.min(index)));
        }
    }
    Ok(first)
}
