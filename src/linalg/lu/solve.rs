//! Solves, determinant and inverse from `P·A = L·U`.

use super::Lu;
use crate::backend::{Backend, Diag, Side, Trans, Uplo};
use crate::darray::settle::{bytes_u64, settle, u64_bytes};
use crate::darray::DArray;
use crate::datadeps::{spawn_with, In};
use crate::error::{Error, Result};
use crate::linalg::tasks;
use crate::runtime::TaskOptions;
use crate::Scalar;

impl<T: Scalar, B: Backend> Lu<T, B> {
    /// Solves `A·X = B` (`B` is `n × k`, any partition): `X = U⁻¹·L⁻¹·P·B`, on a copy of `B`:
    /// a forward sweep (each panel's row swaps, then its columns of `L`) and a backward
    /// triangular solve with `U`. Returns at once; `Err(ShapeMismatch)` if `B` has the wrong
    /// number of rows.
    pub fn solve(&self, b: &DArray<T>) -> Result<DArray<T>> {
        let (n, cols) = self.lu.shape();
        if b.shape().0 != n || cols != n {
            return Err(Error::ShapeMismatch {
                op: "Lu::solve",
                left: self.lu.shape(),
                right: b.shape(),
            });
        }
        let tb = self.lu.block_size().0;
        let mut x = if b.block_size().0 == tb {
            b.clone() // deep: the solve works in place
        } else {
            b.recut(tb, b.block_size().1)
        };
        // L's tile column k is in the row order of step k: panel k's swaps reach the rows
        // of `x` just before that column is applied.
        let (rows, cols) = x.tile_grid();
        let be = &self.linalg.backend;
        let unit_lower = (Side::Left, Uplo::Lower, Trans::No, Diag::Unit);
        let minus_one = T::zero() - T::one();
        let swaps = self.panel_swaps();
        for j in 0..cols {
            for k in 0..rows {
                if let Some(Some(swaps)) = swaps.get(k) {
                    self.swap_panel_rows(k, swaps, &x, j);
                }
                tasks::trsm(be, 0, unit_lower, T::one(), self.lu.tile(k, k), x.tile(k, j));
                for i in k + 1..rows {
                    let (l, xk) = ((self.lu.tile(i, k), Trans::No), (x.tile(k, j), Trans::No));
                    tasks::gemm(be, 0, minus_one, (l, xk), T::one(), x.tile(i, j));
                }
            }
        }
        let la = &self.linalg;
        la.trsm(
            Side::Left,
            Uplo::Upper,
            Trans::No,
            Diag::NonUnit,
            T::one(),
            &self.lu,
            &mut x,
        )?;
        Ok(x)
    }

    /// `det(A)`: the product of `U`'s diagonal, negated once per row swap. Waits.
    /// `Err(ShapeMismatch)` for a non-square matrix.
    pub fn det(&self) -> Result<T> {
        let (m, n) = self.lu.shape();
        if m != n {
            return Err(Error::ShapeMismatch {
                op: "det",
                left: (m, n),
                right: (n, m),
            });
        }
        let swaps = self.ipiv.iter().enumerate().filter(|&(i, &p)| i != p).count();
        let lu = &self.lu;
        let diagonal: Vec<_> = (0..lu.tile_grid().0)
            .map(|k| {
                // Under MPI, on the rank holding the tile (the products are gathered).
                let options = TaskOptions::named("det").in_place();
                spawn_with(options, (In(lu.tile(k, k)),), |(t,)| {
                    t.diag().iter().fold(T::one(), |p, &x| p * x)
                })
            })
            .collect();
        let mut det = if swaps % 2 == 0 {
            T::one()
        } else {
            T::zero() - T::one()
        };
        let encode = |d: &T| u64_bytes(d.to_f64().to_bits());
        let decode = |b: &[u8]| bytes_u64(b).map(|v| T::from_f64(f64::from_bits(v)));
        for d in settle("det", lu.is_distributed(), diagonal, encode, decode) {
            det *= d?;
        }
        Ok(det)
    }

    /// `A⁻¹`, by solving `A·X = I`; `Err(ShapeMismatch)` for a non-square matrix.
    pub fn inv(&self) -> Result<DArray<T>> {
        let n = self.lu.shape().0;
        let tb = self.lu.block_size().0;
        self.solve(&DArray::eye(crate::Blocks(tb, tb), n))
    }
}

impl<T: Scalar> DArray<T> {
    /// `Err(ShapeMismatch)` unless square.
    fn require_square(&self, op: &'static str) -> Result<()> {
        let (m, n) = self.shape();
        if m == n {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                op,
                left: (m, n),
                right: (n, m),
            })
        }
    }

    /// Solves `A·X = B` for a square `A` by LU with partial pivoting. Waits for the
    /// factorization: `Err(Singular { index })` for an exactly zero pivot,
    /// `Err(ShapeMismatch)` for a non-square `A` or a `B` with the wrong number of rows.
    pub fn solve(&self, b: &DArray<T>) -> Result<DArray<T>> {
        self.require_square("solve")?;
        self.lu()?.solve(b)
    }

    /// `A⁻¹`, by LU with partial pivoting; `Err(Singular { index })` if a pivot is exactly
    /// zero, `Err(ShapeMismatch)` for a non-square `A`.
    pub fn inv(&self) -> Result<DArray<T>> {
        self.require_square("inv")?;
        self.lu()?.inv()
    }

    /// `det(A)`, by LU with partial pivoting: exactly zero when a pivot is.
    /// `Err(ShapeMismatch)` for a non-square matrix.
    pub fn det(&self) -> Result<T> {
        self.require_square("det")?;
        match self.lu() {
            Ok(lu) => lu.det(),
            Err(Error::Singular { .. }) => Ok(T::zero()),
            Err(e) => Err(e),
        }
    }
}
