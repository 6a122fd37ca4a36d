//! Tiled Cholesky factorization, right-looking: for each panel `k`, `potrf` on the
//! diagonal tile, `trsm` on the tiles below it, then `syrk`/`gemm` updates of the trailing
//! matrix. Priorities follow the critical path: an earlier panel before a later one, and
//! within a panel potrf > trsm > syrk > gemm, so the next panel's potrf starts while the
//! trailing update of the previous one still runs (lookahead).

mod solve;

use crate::backend::cpu::{self, Trans};
use crate::darray::DArray;
use crate::datadeps::{spawn_with, In, InOut, Out, TaskFuture};
use crate::error::{Error, Result};
use crate::runtime::TaskOptions;
use crate::Scalar;

/// The factor `L` of `A = L·Lᵀ` (lower triangular, zeros above the diagonal).
#[derive(Debug)]
pub struct Cholesky<T> {
    l: DArray<T>,
}

impl<T: Scalar> Cholesky<T> {
    /// The lower factor.
    pub fn l(&self) -> &DArray<T> {
        &self.l
    }
}

/// Critical-path priority of a kernel of panel `k` out of `nt` (`level`: potrf 3, trsm 2,
/// syrk 1, gemm 0).
fn priority(nt: usize, k: usize, level: i32) -> i32 {
    (nt - k) as i32 * 4 + level
}

impl<T: Scalar> DArray<T> {
    /// The Cholesky factorization of a symmetric positive definite matrix (only its lower
    /// triangle is read). Waits for the factorization to finish, since a non-positive pivot
    /// must be reported: `Err(NotPositiveDefinite { index })` with the global index, and
    /// `Err(ShapeMismatch)` for a non-square matrix.
    pub fn cholesky(&self) -> Result<Cholesky<T>> {
        let (m, n) = self.shape();
        if m != n {
            return Err(Error::ShapeMismatch {
                op: "cholesky",
                left: (m, n),
                right: (n, m),
            });
        }
        let b = self.block_size().0.min(self.block_size().1).max(1);
        // A private copy cut into square tiles, factored in place.
        let l = if self.block_size() == (b, b) {
            self.clone()
        } else {
            self.recut(b, b)
        };
        let nt = l.tile_grid().0;
        let mut pivots: Vec<TaskFuture<std::result::Result<(), usize>>> = Vec::with_capacity(nt);
        for k in 0..nt {
            let offset = k * b;
            pivots.push(spawn_with(
                TaskOptions::named("potrf").priority(priority(nt, k, 3)),
                (InOut(l.tile(k, k)),),
                move |(mut a,)| cpu::potrf(&mut a).map_err(|i| offset + i),
            ));
            for i in k + 1..nt {
                let task = |(mut a, d): (ndarray::ArrayViewMut2<'_, T>, ndarray::ArrayView2<'_, T>)| {
                    cpu::trsm_right_lower_trans(d, &mut a)
                };
                let options = TaskOptions::named("trsm").priority(priority(nt, k, 2));
                drop(spawn_with(options, (InOut(l.tile(i, k)), In(l.tile(k, k))), task));
            }
            for i in k + 1..nt {
                let task = |(mut c, a): (ndarray::ArrayViewMut2<'_, T>, ndarray::ArrayView2<'_, T>)| {
                    cpu::syrk_lower(a, &mut c)
                };
                let options = TaskOptions::named("syrk").priority(priority(nt, k, 1));
                drop(spawn_with(options, (InOut(l.tile(i, i)), In(l.tile(i, k))), task));
                for j in k + 1..i {
                    let task = |(mut c, a, bt): (
                        ndarray::ArrayViewMut2<'_, T>,
                        ndarray::ArrayView2<'_, T>,
                        ndarray::ArrayView2<'_, T>,
                    )| {
                        cpu::gemm(
                            T::zero() - T::one(),
                            a,
                            Trans::No,
                            bt,
                            Trans::Yes,
                            T::one(),
                            &mut c,
                        )
                    };
                    let options = TaskOptions::named("gemm").priority(priority(nt, k, 0));
                    drop(spawn_with(
                        options,
                        (InOut(l.tile(i, j)), In(l.tile(i, k)), In(l.tile(j, k))),
                        task,
                    ));
                }
            }
        }
        zero_upper(&l);
        for p in pivots {
            match p.wait()? {
                Ok(()) => {}
                Err(index) => return Err(Error::NotPositiveDefinite { index }),
            }
        }
        Ok(Cholesky { l })
    }
}

/// Zeros above the diagonal: the upper tiles, and the strictly upper part of the diagonal
/// tiles (which the kernels leave as they found it).
fn zero_upper<T: Scalar>(l: &DArray<T>) {
    let nt = l.tile_grid().0;
    for j in 0..nt {
        for i in 0..j {
            drop(spawn_with(
                TaskOptions::named("laset"),
                (Out(l.tile(i, j)),),
                |(mut t,)| t.fill(T::zero()),
            ));
        }
        let task = |(mut t,): (ndarray::ArrayViewMut2<'_, T>,)| {
            for ((r, c), x) in t.indexed_iter_mut() {
                if r < c {
                    *x = T::zero();
                }
            }
        };
        drop(spawn_with(
            TaskOptions::named("laset"),
            (InOut(l.tile(j, j)),),
            task,
        ));
    }
}
