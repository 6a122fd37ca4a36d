//! Tiled LU with true partial pivoting, right-looking.
//!
//! For each panel `k` (tile column `k`, from the diagonal tile down):
//! 1. `getrf` on the whole panel, the column of tiles from the diagonal down, factored where
//!    it is (`Backend::getrf_tiles`), so each pivot is the largest entry of the entire
//!    remaining column, across tiles (not only inside the diagonal tile). Under MPI, when
//!    the column's tiles are on several ranks (a grid with several rows of ranks), the panel
//!    task runs on the diagonal tile's rank, the others' tiles sent there and back; with
//!    `MOSAIC_LU_PANEL=split` the panel is factored where its tiles are instead, the pivot
//!    of each column searched across the ranks (`tasks/split_panel.rs`);
//! 2. `laswp`: the panel's row swaps applied to the tile columns on its right (before
//!    their update), one task per column;
//! 3. `trsm` with the panel's unit lower triangle on the tiles right of the diagonal, and
//!    `gemm` updates of the trailing matrix.
//!
//! Priorities give lookahead: the panel first, then everything of the next tile column
//! (so the next panel starts while the rest of the trailing update runs), then the other
//! columns, whose updates rank by the column they update (earlier columns first, a
//! column's updates from successive panels together) rather than by panel. The panel's
//! swaps are a data object of their own (a `width × 1` tile of row indices) that the
//! panel task writes (`Out`) and the row-swap tasks read (`In`): the tracker orders them
//! like any other data, and the swaps can travel to wherever those tasks run. The panel
//! task also returns a copy through its future, which the factorization waits for anyway,
//! for the host's `ipiv` (reading each panel's object back with a task of its own cost
//! several percent at 8192: docs/history.md).
//!
//! The swaps of a panel are not applied to the `L` columns of earlier panels: each panel's
//! `L` stays in the row order of its own step. Those swaps would cost a pass over `L` per
//! panel (in this layout a row swap touches one cache line per element), and nothing in
//! the factorization reads them; [`Lu::l`] applies them to its copy, and the solves apply
//! each panel's swaps to the right-hand side just before that panel's columns of `L`.

mod solve;

use std::sync::Arc;

use super::tasks::{self, priority, Group, Panel, PanelResult, Swaps};
use super::tiling::{self, Factorization, Input};
use super::Linalg;
use crate::backend::{Backend, Cpu, Diag, Side, Trans, Uplo};
use crate::darray::DArray;
use crate::error::{Error, Result};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

/// `P·A = L·U`: the factors packed in one matrix (`L` strictly below the diagonal, its unit
/// diagonal implicit; `U` on and above), and the row swaps.
#[derive(Debug)]
pub struct Lu<T, B = Cpu> {
    /// `U`, and `L` in panel order: the tile column `k` of `L` has the rows of step `k`,
    /// without the swaps of later panels (see the module's documentation).
    lu: DArray<T>,
    /// LAPACK's `ipiv`, from 0, global: step `i` swapped rows `i` and `ipiv[i]`.
    ipiv: Vec<usize>,
    linalg: Linalg<B>,
}

/// How LU chooses its pivots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pivot {
    /// Partial pivoting: the largest entry of the whole remaining column (LAPACK's
    /// `getrf`). Stable for every nonsingular matrix in practice.
    #[default]
    RowMaximum,
    /// No pivoting: `A = L·U` directly, with more parallelism (every panel is one tile).
    /// Only for matrices known not to need it (diagonally dominant, SPD); elsewhere it
    /// can lose all accuracy, and it fails with `Singular` on a zero pivot that
    /// pivoting would have avoided. Square matrices only (`ShapeMismatch` otherwise).
    NoPivot,
}

impl<T: Scalar> DArray<T> {
    /// The LU factorization with partial pivoting of any `m × n` matrix: at every step the
    /// pivot is the largest entry (in magnitude) of the whole remaining column. Waits for
    /// the factorization, since a zero pivot must be reported: `Err(Singular { index })`
    /// at the first exactly zero pivot. (`solve`, `det` and `inv` need a square matrix.)
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let a = DArray::<f64>::rand_seeded(Blocks(4, 4), 10, 10, 1);
    /// let lu = a.lu()?;
    /// let p = lu.p();
    /// let pa = a.to_ndarray().select(ndarray::Axis(0), &p);
    /// let back = (&lu.l() * &lu.u()).to_ndarray();
    /// assert!((&back - &pa).iter().all(|d| d.abs() < 1e-12));
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn lu(&self) -> Result<Lu<T>> {
        Linalg::cpu().lu(self)
    }

    /// The LU factorization with the given pivoting: `lu_with(Pivot::NoPivot)` for matrices
    /// known not to need pivoting (`p()` is then the identity).
    pub fn lu_with(&self, pivot: Pivot) -> Result<Lu<T>> {
        Linalg::cpu().lu_with(self, pivot)
    }

    /// [`lu`](Self::lu), consuming the matrix: its own tiles hold the factors when they
    /// are already what the factorization works on (square tiles of its working size: a
    /// matrix of up to 256 × 256 under `AutoBlocks`, whose one tile is factored in place,
    /// the 256 × 256 tiles `AutoBlocks` cuts a larger matrix into when each worker still
    /// gets two per dimension (from order 769 with two workers), or `Blocks(b, b)`), with
    /// no copy and no second matrix in memory; otherwise it copies as `lu` does. On an
    /// error the matrix is gone.
    ///
    /// ```
    /// use mosaic::prelude::*;
    /// let a = DArray::<f64>::rand_seeded(Blocks(4, 4), 10, 10, 1);
    /// let lu = a.clone().into_lu()?;
    /// let pa = a.to_ndarray().select(ndarray::Axis(0), &lu.p());
    /// let back = (&lu.l() * &lu.u()).to_ndarray();
    /// assert!((&back - &pa).iter().all(|d| d.abs() < 1e-12));
    /// # Ok::<(), mosaic::Error>(())
    /// ```
    pub fn into_lu(self) -> Result<Lu<T>> {
        Linalg::cpu().into_lu_with(self, Pivot::RowMaximum)
    }

    /// [`lu_with`](Self::lu_with), consuming the matrix (see [`into_lu`](Self::into_lu)).
    pub fn into_lu_with(self, pivot: Pivot) -> Result<Lu<T>> {
        Linalg::cpu().into_lu_with(self, pivot)
    }
}

/// Priority of panel `k`'s `gemm` updates of tile column `j` (`j > k`) out of `kt` panels:
/// the next panel's column at the lookahead level, as its other tasks; any other column
/// ranked by the panel it feeds (`j`) rather than by `k`, so that a column's updates from
/// successive panels run one after the other and earlier columns, which the next panels
/// need first, finish first (columns right of the last panel rank last). Measured against
/// ranking by `k`, alternating in one process (docs/history.md): 0.80–1.03 of
/// the time, 0.95 on average, over f64 and f32 at 2048–8192.
fn update_priority(kt: usize, k: usize, j: usize) -> i32 {
    if j == k + 1 {
        priority(kt, k, 2)
    } else {
        priority(kt, (j - 1).min(kt - 1), 1)
    }
}

impl<B: Backend> Linalg<B> {
    /// The LU factorization of `a` (see [`DArray::lu`]), kernels on this backend.
    pub fn lu<T: Scalar>(&self, a: &DArray<T>) -> Result<Lu<T, B>> {
        self.lu_with(a, Pivot::RowMaximum)
    }

    /// The LU factorization of `a` with the given pivoting (see [`DArray::lu_with`]).
    pub fn lu_with<T: Scalar>(&self, a: &DArray<T>, pivot: Pivot) -> Result<Lu<T, B>> {
        self.lu_of(Input::Borrowed(a), pivot)
    }

    /// The LU factorization of `a`, consumed, with the given pivoting (see
    /// [`DArray::into_lu`]), kernels on this backend.
    pub fn into_lu_with<T: Scalar>(&self, a: DArray<T>, pivot: Pivot) -> Result<Lu<T, B>> {
        self.lu_of(Input::Owned(a), pivot)
    }

    fn lu_of<T: Scalar>(&self, mut input: Input<'_, T>, pivot: Pivot) -> Result<Lu<T, B>> {
        let (m, n) = input.matrix().shape();
        if m != n && pivot == Pivot::NoPivot {
            return Err(Error::ShapeMismatch {
                op: "lu without pivoting",
                left: (m, n),
                right: (n, m),
            });
        }
        if pivot == Pivot::RowMaximum {
            let (be, k) = (self.backend.clone(), m.min(n));
            let (big, small) = (m.max(n) as f64, k as f64);
            let options = TaskOptions::named("getrf").flops(big * small * small - small.powi(3) / 3.0);
            let one_tile = tiling::one_tile(input, Factorization::Lu, options, move |mut t| {
                let mut ipiv = vec![0; k];
                let result = be.getrf(t.view_mut(), &mut ipiv);
                (Some(ipiv), result)
            });
            input = match one_tile {
                Ok((lu, getrf)) => {
                    let distributed = lu.is_distributed();
                    let settled = settle_panels(distributed, vec![getrf]);
                    let (ipiv, result) = settled.into_iter().next().expect("one panel")?;
                    let ipiv = ipiv.unwrap_or_default();
                    return match result {
                        Ok(()) => Ok(Lu {
                            lu,
                            ipiv,
                            linalg: self.clone(),
                        }),
                        Err(index) => Err(Error::Singular { index }),
                    };
                }
                Err(input) => input,
            };
        }
        let (lu, b) = tiling::working(input, Factorization::Lu);
        let panels = match pivot {
            Pivot::RowMaximum => self.partial_pivoting(&lu, b),
            Pivot::NoPivot => self.no_pivoting(&lu),
        };
        let mut ipiv = Vec::with_capacity(m.min(n));
        let mut singular = None;
        for (k, panel) in settle_panels(lu.is_distributed(), panels).into_iter().enumerate() {
            let (swaps, result) = panel?;
            if let Err(index) = result {
                singular = singular.or(Some(index));
            }
            match swaps {
                Some(swaps) => ipiv.extend(swaps),
                None => ipiv.extend(k * b..(k * b + b).min(m.min(n))),
            }
        }
        if let Some(index) = singular {
            return Err(Error::Singular { index });
        }
        Ok(Lu {
            lu,
            ipiv,
            linalg: self.clone(),
        })
    }

    /// The graph with partial pivoting on `lu` (square tiles of `b`); one future per panel.
    fn partial_pivoting<T: Scalar>(&self, lu: &DArray<T>, b: usize) -> Vec<Panel> {
        let (mt, nt) = lu.tile_grid();
        let kt = mt.min(nt);
        let minus_one = T::zero() - T::one();
        let split = split_panels();
        let mut panels = Vec::with_capacity(kt);
        for k in 0..kt {
            let column: Vec<_> = (k..mt).map(|i| lu.tile(i, k)).collect();
            let row0 = k * b;
            let width = column
                .iter()
                .map(|t| t.shape().0)
                .sum::<usize>()
                .min(lu.tile(k, k).shape().1);
            let swaps: Swaps = Tile::filled(width, 1, width.max(1), 0);
            let groups = if split {
                rank_groups(lu, k, &column)
            } else {
                Vec::new()
            };
            let panel = if groups.len() > 1 && width == lu.tile(k, k).shape().1 {
                let home = lu.owner(k, k);
                tasks::getrf_split(
                    &self.backend,
                    priority(kt, k, 3),
                    groups,
                    b,
                    row0,
                    swaps.clone(),
                    home,
                )
            } else {
                tasks::getrf(&self.backend, priority(kt, k, 3), column, row0, swaps.clone())
            };
            panels.push(panel);
            // L_ik is the left operand of the updates of row i, U_kj the right one of
            // column j's. The updates of column k + 1, which the next panel waits for,
            // take the tiles as they are: they do not wait for a pack task.
            let packing = tasks::Packing::new(lu.is_distributed());
            let left: Vec<_> = (k + 1..mt)
                .map(|i| {
                    let uses = (priority(kt, k, 2), nt.saturating_sub(k + 2));
                    packing.operand(&self.backend, uses, Side::Left, (lu.tile(i, k), Trans::No))
                })
                .collect();
            for j in k + 1..nt {
                let level = if j == k + 1 { 2 } else { 1 };
                let column: Vec<_> = (k..mt).map(|i| lu.tile(i, j)).collect();
                tasks::laswp_after(&self.backend, priority(kt, k, level), column, swaps.clone(), row0);
            }
            for j in k + 1..nt {
                let prio = priority(kt, k, if j == k + 1 { 2 } else { 1 });
                let kind = (Side::Left, Uplo::Lower, Trans::No, Diag::Unit);
                tasks::trsm(&self.backend, prio, kind, T::one(), lu.tile(k, k), lu.tile(k, j));
                // Packed only where some L_ik is (a product reads packed forms of both or neither).
                let paired = left.iter().any(|l| l.packed.is_some());
                let uses = (prio, if j == k + 1 || !paired { 0 } else { mt - k - 1 });
                let u = packing.operand(&self.backend, uses, Side::Right, (lu.tile(k, j), Trans::No));
                let update = update_priority(kt, k, j);
                for i in k + 1..mt {
                    let operands = if j == k + 1 {
                        ((lu.tile(i, k), Trans::No).into(), u.clone())
                    } else {
                        (left[i - k - 1].clone(), u.clone())
                    };
                    tasks::gemm(
                        &self.backend,
                        update,
                        minus_one,
                        operands,
                        T::one(),
                        lu.tile(i, j),
                    );
                }
            }
        }
        panels
    }

    /// The graph without pivoting: like a Cholesky's, `getrf_nopiv` on the diagonal tile,
    /// `trsm` on the tiles below (for `L`) and right of it (for `U`), `gemm` updates.
    fn no_pivoting<T: Scalar>(&self, lu: &DArray<T>) -> Vec<Panel> {
        let nt = lu.tile_grid().0;
        let minus_one = T::zero() - T::one();
        let mut panels = Vec::with_capacity(nt);
        let packing = tasks::Packing::new(lu.is_distributed());
        for k in 0..nt {
            let row0 = k * lu.block_size().0;
            panels.push(tasks::getrf_nopiv(
                &self.backend,
                priority(nt, k, 3),
                lu.tile(k, k),
                row0,
            ));
            for i in k + 1..nt {
                let prio = priority(nt, k, 2);
                let lower = (Side::Right, Uplo::Upper, Trans::No, Diag::NonUnit);
                tasks::trsm(&self.backend, prio, lower, T::one(), lu.tile(k, k), lu.tile(i, k));
                let upper = (Side::Left, Uplo::Lower, Trans::No, Diag::Unit);
                tasks::trsm(&self.backend, prio, upper, T::one(), lu.tile(k, k), lu.tile(k, i));
            }
            // L_ik is the left operand of the updates of row i, U_kj the right one of
            // column j's; those of column k + 1, which the next step waits for, take the
            // tiles as they are (they do not wait for a pack task).
            let operand =
                |side, (i, j), uses| packing.operand(&self.backend, uses, side, (lu.tile(i, j), Trans::No));
            let left: Vec<_> = (k + 1..nt)
                .map(|i| operand(Side::Left, (i, k), (priority(nt, k, 2), nt - k - 2)))
                .collect();
            // U_kj only where some L_ik is packed (a product reads both packed or neither).
            let paired = left.iter().any(|l| l.packed.is_some());
            let uses = |j: usize| {
                (
                    priority(nt, k, 2),
                    if j == k + 1 || !paired { 0 } else { nt - k - 1 },
                )
            };
            let right: Vec<_> = (k + 1..nt)
                .map(|j| operand(Side::Right, (k, j), uses(j)))
                .collect();
            for j in k + 1..nt {
                let prio = priority(nt, k, if j == k + 1 { 1 } else { 0 });
                for i in k + 1..nt {
                    let operands = if j == k + 1 {
                        (
                            (lu.tile(i, k), Trans::No).into(),
                            (lu.tile(k, j), Trans::No).into(),
                        )
                    } else {
                        (left[i - k - 1].clone(), right[j - k - 1].clone())
                    };
                    tasks::gemm(&self.backend, prio, minus_one, operands, T::one(), lu.tile(i, j));
                }
            }
        }
        panels
    }
}

/// Under MPI, is a panel whose tiles are on several ranks factored where they are, with
/// the pivots searched across the ranks (`MOSAIC_LU_PANEL=split`)? By default its tiles
/// go to the diagonal tile's rank, one message each way, and one task factors it there:
/// the split panel waits for two messages a column, which cost more than moving the panel
/// on the machines measured (docs/history.md).
fn split_panels() -> bool {
    std::env::var("MOSAIC_LU_PANEL").is_ok_and(|v| v.trim() == "split")
}

/// Panel `k`'s `column` of tiles (from the diagonal down) by the rank that owns them, in
/// order of first appearance; one group when the array is not distributed.
fn rank_groups<T: Scalar>(lu: &DArray<T>, k: usize, column: &[Tile<T>]) -> Vec<Group<T>> {
    let mut groups: Vec<(usize, Group<T>)> = Vec::new();
    for (t, tile) in column.iter().cloned().enumerate() {
        let owner = lu.owner(k + t, k);
        let at = match groups.iter().position(|(r, _)| *r == owner) {
            Some(at) => at,
            None => {
                let empty = Group {
                    positions: Vec::new(),
                    tiles: Vec::new(),
                };
                groups.push((owner, empty));
                groups.len() - 1
            }
        };
        groups[at].1.positions.push(t);
        groups[at].1.tiles.push(tile);
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

impl<T: Scalar, B: Backend> Lu<T, B> {
    /// Waits until every task of the factorization (row swaps on `L` included) has finished.
    pub fn wait(&self) -> Result<()> {
        self.lu.wait()
    }

    /// The row permutation: row `i` of `P·A` is row `p()[i]` of `A` (length `m`).
    pub fn p(&self) -> Vec<usize> {
        let mut p: Vec<usize> = (0..self.lu.shape().0).collect();
        for (i, &s) in self.ipiv.iter().enumerate() {
            p.swap(i, s);
        }
        p
    }

    /// The unit lower triangular (trapezoidal when `m > n`) factor `L`, `m × min(m, n)`.
    pub fn l(&self) -> DArray<T> {
        let (m, n) = self.lu.shape();
        let l = self.lu.leading(m, m.min(n), |i, j, x| match i.cmp(&j) {
            std::cmp::Ordering::Greater => x,
            std::cmp::Ordering::Equal => T::one(),
            std::cmp::Ordering::Less => T::zero(),
        });
        // Each panel's swaps, on the columns of the panels before it.
        for (k, swaps) in self.panel_swaps().iter().enumerate() {
            if let Some(swaps) = swaps {
                for j in 0..k {
                    self.swap_panel_rows(k, swaps, &l, j);
                }
            }
        }
        l
    }

    /// Each panel's row swaps (global rows), to be shared by the tasks that apply them;
    /// `None` for a panel that swapped nothing.
    fn panel_swaps(&self) -> Vec<Option<Arc<[usize]>>> {
        let tb = self.lu.block_size().0.max(1);
        let panels = self.ipiv.chunks(tb).enumerate();
        panels
            .map(|(k, swaps)| {
                let moves = swaps.iter().enumerate().any(|(i, &p)| p != k * tb + i);
                moves.then(|| Arc::from(swaps))
            })
            .collect()
    }

    /// One task applying `swaps`, panel `k`'s, to tile column `j` of `x` (tiles of height
    /// `lu`'s, from tile row `k` down).
    fn swap_panel_rows(&self, k: usize, swaps: &Arc<[usize]>, x: &DArray<T>, j: usize) {
        let tb = self.lu.block_size().0;
        // Global rows to rows of the stack, which starts at the panel's.
        let ipiv: Vec<usize> = swaps.iter().map(|&p| p - k * tb).collect();
        let column: Vec<_> = (k..x.tile_grid().0).map(|i| x.tile(i, j)).collect();
        tasks::laswp(self.linalg.backend(), column, ipiv);
    }

    /// The upper triangular (trapezoidal when `m < n`) factor `U`, `min(m, n) × n`.
    pub fn u(&self) -> DArray<T> {
        let (m, n) = self.lu.shape();
        self.lu
            .leading(m.min(n), n, |i, j, x| if i <= j { x } else { T::zero() })
    }
}

/// Waits for the panels (on every rank under MPI, `distributed`: each panel's swaps and
/// zero-pivot report come from the rank that factored it).
fn settle_panels(distributed: bool, panels: Vec<Panel>) -> Vec<Result<PanelResult>> {
    let encode = |(swaps, result): &PanelResult| {
        let mut words = vec![result.err().map_or(0, |i| i as u64 + 1)];
        if let Some(swaps) = swaps {
            words.extend(swaps.iter().map(|&s| s as u64));
        }
        let mut bytes = vec![u8::from(swaps.is_some())];
        bytes.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        bytes
    };
    let decode = |bytes: &[u8]| -> Option<PanelResult> {
        let (&has_swaps, rest) = bytes.split_first()?;
        let mut words = rest
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")));
        let result = match words.next()? {
            0 => Ok(()),
            i => Err(i as usize - 1),
        };
        let swaps = (has_swaps == 1).then(|| words.map(|w| w as usize).collect());
        Some((swaps, result))
    };
    crate::darray::settle::settle("getrf", distributed, panels, encode, decode)
}

#[cfg(test)]
mod tests {
    use super::{priority, update_priority};

    #[test]
    fn updates_rank_by_the_column_they_feed_after_the_next_column() {
        let kt = 8;
        for k in 0..kt - 1 {
            // The next column keeps the lookahead rank of its panel's other tasks.
            assert_eq!(update_priority(kt, k, k + 1), priority(kt, k, 2));
            // The panel after this one outranks every update but the next column's.
            let next_panel = priority(kt, k + 1, 3);
            assert!(update_priority(kt, k, k + 1) > next_panel);
            for j in k + 2..kt {
                assert!(update_priority(kt, k, j) < next_panel, "k = {k}, j = {j}");
                // Earlier columns first; a column ranks the same whichever panel updates it.
                assert!(update_priority(kt, k, j) > update_priority(kt, k, j + 1));
                assert_eq!(update_priority(kt, k, j), update_priority(kt, 0, j));
            }
        }
        // A wide matrix: columns right of the last panel rank last, without overflow.
        let last = update_priority(kt, 0, kt - 1);
        for j in kt..3 * kt {
            assert!(update_priority(kt, 0, j) <= last);
            assert!(update_priority(kt, kt - 1, j) > 0);
        }
    }
}
