//! Structured QR of a triangle stacked on a tile (LAPACK `tpqrt`/`tpmqrt`; PLASMA's
//! `tsqrt`/`tsmqr` for a full bottom tile, `ttqrt`/`ttmqr` for a triangular one).
//!
//! The stack is `[R; A]` with `R` (`n × n`) upper triangular. Reflector `j` mixes row `j` of
//! `R` with the rows of `A`'s column `j` (all of them, or the `j + 1` of its upper part when
//! `A` is triangular): its vector is `[e_j; V₂[:, j]]`, so only `V₂` is stored (over `A`) and
//! no flop is spent on the zeros of `R` or of a triangular `A`: `2mn²` flops for a full
//! bottom against the `~2(m + n)n²` of factoring the stack densely.
//!
//! Blocks of `ib` reflectors (`ib = t.nrows()`) are accumulated in compact-WY form,
//! `Q_J = I − V_J·T_J·V_Jᵀ` with `T_J` upper triangular stored at `t[.., J]` (LAPACK's
//! layout), and applied to the columns right of the block with matrix products.

use faer::linalg::matmul::matmul;
use faer::{Accum, Par};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, CowArray, Ix2, ShapeBuilder};

use super::{mat_mut, mat_ref};
use crate::backend::Trans;
use crate::Scalar;

/// The rows of the bottom block's column `j` that belong to reflector `j`.
fn height(m: usize, j: usize, upper: bool) -> usize {
    if upper {
        m.min(j + 1)
    } else {
        m
    }
}

/// QR of `[R; A]` in place: the upper triangle of `r` gets the new `R`, `a` (its upper part
/// when `upper`) the vectors `V₂`, `t` the block factors. Nothing else is read or written.
pub(super) fn tpqrt<T: Scalar>(
    mut r: ArrayViewMut2<'_, T>,
    mut a: ArrayViewMut2<'_, T>,
    upper: bool,
    mut t: ArrayViewMut2<'_, T>,
) {
    let (m, n) = a.dim();
    let ib = t.nrows().max(1);
    for j0 in (0..n).step_by(ib) {
        let j1 = (j0 + ib).min(n);
        for j in j0..j1 {
            let h = height(m, j, upper);
            let tau = householder(&mut r[(j, j)], a.slice_mut(s![..h, j]));
            // H_j on the rest of the block: C ← C − τ·v·(vᵀC), v = [e_j; a[..h, j]], C the
            // columns j+1.. of the block (row j of R, rows ..h of A).
            if j + 1 < j1 {
                let (left, right) = a.view_mut().split_at(Axis(1), j + 1);
                let v = left.slice(s![..h, j..j + 1]);
                let mut c = right.slice_move(s![..h, ..j1 - j - 1]);
                let mut w = r.slice(s![j..j + 1, j + 1..j1]).to_owned();
                let (vt, cr) = (v.t(), c.view());
                matmul(
                    mat_mut(&mut w.view_mut()),
                    Accum::Add,
                    mat_ref(&vt),
                    mat_ref(&cr),
                    T::one(),
                    Par::Seq,
                );
                w.mapv_inplace(|x| x * tau);
                let mut rj = r.slice_mut(s![j..j + 1, j + 1..j1]);
                rj -= &w;
                let minus_one = T::zero() - T::one();
                matmul(
                    mat_mut(&mut c),
                    Accum::Add,
                    mat_ref(&v),
                    mat_ref(&w.view()),
                    minus_one,
                    Par::Seq,
                );
            }
            // Column j of T_J: −τ·T_J[..i, ..i]·(V_J[:, ..i]ᵀ·v_j), then τ on the diagonal.
            let i = j - j0;
            let z: Vec<T> = if upper {
                // Column p of a triangular V₂ has only its p + 1 top rows.
                (j0..j)
                    .map(|p| {
                        let hp = height(m, p, upper).min(h);
                        a.slice(s![..hp, p]).dot(&a.slice(s![..hp, j]))
                    })
                    .collect()
            } else {
                let mut z = Array2::<T>::zeros((i, 1).f());
                let (vs, v) = (a.slice(s![..h, j0..j]), a.slice(s![..h, j..j + 1]));
                let vst = vs.t();
                matmul(
                    mat_mut(&mut z.view_mut()),
                    Accum::Replace,
                    mat_ref(&vst),
                    mat_ref(&v),
                    T::one(),
                    Par::Seq,
                );
                z.into_iter().collect()
            };
            for row in 0..i {
                let mut sum = T::zero();
                for p in row..i {
                    sum += t[(row, j0 + p)] * z[p];
                }
                t[(row, j)] = (T::zero() - tau) * sum;
            }
            t[(i, j)] = tau;
        }
        if j1 < n {
            let h = height(m, j1 - 1, upper);
            let (v, c2) = a.view_mut().split_at(Axis(1), j1);
            let v2 = v.slice(s![..h, j0..]);
            let (c1, c2) = (r.slice_mut(s![j0..j1, j1..]), c2.slice_move(s![..h, ..]));
            apply_block(Trans::Yes, c1, c2, v2, upper, j0, t.slice(s![..j1 - j0, j0..j1]));
        }
    }
}

/// `[C₁; C₂] ← op(Q)·[C₁; C₂]`, `Q` given by `tpqrt`'s `V₂` (`m × n`, only its upper part
/// read when `upper`) and `t`; `C₁` is `n × k`, `C₂` is `m × k`.
pub(super) fn tpmqrt<T: Scalar>(
    trans: Trans,
    mut c1: ArrayViewMut2<'_, T>,
    mut c2: ArrayViewMut2<'_, T>,
    v2: ArrayView2<'_, T>,
    upper: bool,
    t: ArrayView2<'_, T>,
) {
    let (m, n) = v2.dim();
    let ib = t.nrows().max(1);
    let blocks: Vec<usize> = (0..n).step_by(ib).collect();
    // Qᵀ = Q_Lᵀ⋯Q_1ᵀ applies the blocks first to last; Q = Q_1⋯Q_L last to first.
    let order: Box<dyn Iterator<Item = &usize>> = match trans {
        Trans::Yes => Box::new(blocks.iter()),
        Trans::No => Box::new(blocks.iter().rev()),
    };
    for &j0 in order {
        let j1 = (j0 + ib).min(n);
        let h = height(m, j1 - 1, upper);
        apply_block(
            trans,
            c1.slice_mut(s![j0..j1, ..]),
            c2.slice_mut(s![..h, ..]),
            v2.slice(s![..h, j0..j1]),
            upper,
            j0,
            t.slice(s![..j1 - j0, j0..j1]),
        );
    }
}

/// One block of reflectors, columns `j0..j0 + w` of the stack: with `V = [E; V₂]`
/// (`E` the identity's columns `j0..`, which pick `C₁`'s rows), `W = Vᵀ·C`,
/// `W ← op(T)ᵀ·W`, `C ← C − V·W`. `v2` is `h × w`; when `upper`, its entries below row
/// `j0 + column` are not part of `V₂` and are never read.
fn apply_block<T: Scalar>(
    trans: Trans,
    mut c1: ArrayViewMut2<'_, T>,
    mut c2: ArrayViewMut2<'_, T>,
    v2: ArrayView2<'_, T>,
    upper: bool,
    j0: usize,
    t: ArrayView2<'_, T>,
) {
    let (h, w) = v2.dim();
    let k = c1.ncols();
    if k == 0 || w == 0 {
        return;
    }
    // A triangular V₂'s block, with the entries that are not its own made zero.
    let v2: CowArray<'_, T, Ix2> = if upper {
        let own = |(q, p)| if q <= j0 + p { v2[(q, p)] } else { T::zero() };
        Array2::from_shape_fn((h, w).f(), own).into()
    } else {
        v2.into()
    };
    // T's upper triangle (LAPACK leaves the rest of the block undefined).
    let tri = Array2::from_shape_fn((w, w).f(), |(i, j)| if i <= j { t[(i, j)] } else { T::zero() });
    let tri = tri.view();
    let op_t = match trans {
        Trans::Yes => mat_ref(&tri).transpose(),
        Trans::No => mat_ref(&tri),
    };
    // W = C₁ + V₂ᵀ·C₂.
    let mut wv = Array2::<T>::zeros((w, k).f());
    wv.assign(&c1);
    matmul(
        mat_mut(&mut wv.view_mut()),
        Accum::Add,
        mat_ref(&v2.view()).transpose(),
        mat_ref(&c2.view()),
        T::one(),
        Par::Seq,
    );
    // W ← op(T)ᵀ·W.
    let mut tw = Array2::<T>::zeros((w, k).f());
    matmul(
        mat_mut(&mut tw.view_mut()),
        Accum::Replace,
        op_t,
        mat_ref(&wv.view()),
        T::one(),
        Par::Seq,
    );
    // C₁ −= W, C₂ −= V₂·W.
    c1 -= &tw;
    matmul(
        mat_mut(&mut c2),
        Accum::Add,
        mat_ref(&v2.view()),
        mat_ref(&tw.view()),
        T::zero() - T::one(),
        Par::Seq,
    );
}

/// Generates the reflector `H = I − τ·[1; v]·[1; v]ᵀ` with `H·[α; x] = [β; 0]` (LAPACK
/// `larfg`): `α` becomes `β`, `x` becomes `v`; returns `τ` (0 when `x` is already zero).
fn householder<T: Scalar>(alpha: &mut T, mut x: ArrayViewMut1<'_, T>) -> T {
    let xnorm = norm2(&x);
    if xnorm == 0.0 {
        return T::zero();
    }
    let mut a = alpha.to_f64();
    let mut beta = -a.hypot(xnorm).copysign(a);
    // Tiny β: scale up (at most 20 times) so that 1/(α − β) cannot overflow, as larfg does.
    let tiny = if T::EPSILON > 1e-10 {
        f32::MIN_POSITIVE as f64
    } else {
        f64::MIN_POSITIVE
    };
    let safmin = tiny / T::EPSILON;
    let mut knt = 0;
    while beta.abs() < safmin && knt < 20 {
        knt += 1;
        x.mapv_inplace(|v| v * T::from_f64(1.0 / safmin));
        a /= safmin;
        beta = -a.hypot(norm2(&x)).copysign(a);
    }
    let tau = (beta - a) / beta;
    let scale = T::from_f64(1.0 / (a - beta));
    x.mapv_inplace(|v| v * scale);
    for _ in 0..knt {
        beta *= safmin;
    }
    *alpha = T::from_f64(beta);
    T::from_f64(tau)
}

/// ‖x‖₂ in `f64`, scaled so that the sum of squares neither overflows nor underflows.
fn norm2<T: Scalar>(x: &ArrayViewMut1<'_, T>) -> f64 {
    let mut scale = 0.0f64;
    for v in x.iter() {
        let a = v.to_f64().abs();
        if a.is_nan() {
            return a; // NaN in, NaN out
        }
        scale = scale.max(a);
    }
    if scale == 0.0 || scale.is_infinite() {
        return scale;
    }
    scale * x.iter().map(|v| (v.to_f64() / scale).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// `H·[α; x]` for the reflector `householder` made from them.
    fn reflect(alpha: f64, x: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        let (mut a, mut v) = (alpha, ndarray::Array1::from(x.to_vec()));
        let tau = householder(&mut a, v.view_mut());
        // H·y = y − τ·u·(uᵀy), u = [1; v].
        let y: Vec<f64> = std::iter::once(alpha).chain(x.iter().copied()).collect();
        let u: Vec<f64> = std::iter::once(1.0).chain(v.iter().copied()).collect();
        let dot: f64 = u.iter().zip(&y).map(|(u, y)| u * y).sum();
        let hy = y.iter().zip(&u).map(|(y, u)| y - tau * u * dot).collect();
        (a, v.to_vec(), hy)
    }

    #[test]
    fn householder_annihilates_and_keeps_the_norm() {
        for (alpha, x, scale) in [
            (3.0, vec![4.0, 0.0], 1.0),
            (-1.0, vec![2.0, -2.0], 1.0),
            (3e-300, vec![4e-300], 1e-300), // β below the safe minimum: rescaled
            (3e300, vec![4e300], 1e300),    // squares would overflow
        ] {
            let (beta, _, hy) = reflect(alpha, &x);
            let norm = scale
                * x.iter()
                    .fold((alpha / scale).powi(2), |s, v| s + (v / scale).powi(2))
                    .sqrt();
            assert!(
                (beta.abs() - norm).abs() <= 1e-12 * norm,
                "{alpha}: |β| = ‖[α; x]‖"
            );
            assert!(
                (hy[0] - beta).abs() <= 1e-12 * beta.abs(),
                "{alpha}: H·y = [β; 0]"
            );
            assert!(hy[1..].iter().all(|v| v.abs() <= 1e-12 * beta.abs()));
            assert!(beta * alpha <= 0.0, "β has the sign opposite to α");
        }
    }

    #[test]
    fn zero_column_gives_the_identity_and_nan_propagates() {
        let (mut alpha, mut x) = (2.0, array![0.0, 0.0]);
        assert_eq!(householder(&mut alpha, x.view_mut()), 0.0);
        assert_eq!((alpha, x), (2.0, array![0.0, 0.0]));
        let (mut alpha, mut x) = (2.0, array![f64::NAN, 1.0]);
        let tau = householder(&mut alpha, x.view_mut());
        assert!(tau.is_nan() && alpha.is_nan());
    }
}
