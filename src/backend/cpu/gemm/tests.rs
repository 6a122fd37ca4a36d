//! The product against a plain triple loop: every kernel this processor has, and a
//! portable one with tiny blocks so that every blocking loop runs several times and ends
//! ragged; every operand layout; `f64` and `f32`.

use ndarray::{Array2, ArrayView2, ShapeBuilder};

use super::pack::{Element, Operand};
use super::{kernels_f32, kernels_f64, pack_whole, packed_elements, run, run_part, Kernel, Source};

/// A plain kernel of any `MR × NR` (no SIMD), to test the blocking anywhere.
unsafe fn portable<E: Element + std::ops::Mul<Output = E>, const MR: usize, const NR: usize>(
    kc: usize,
    a: *const E,
    b: *const E,
    c: *mut E,
    ldc: usize,
    (alpha, add): (E, bool),
) {
    let mut acc = [[E::zero(); NR]; MR];
    for p in 0..kc {
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                // SAFETY: the panels hold `kc·MR` and `kc·NR` elements (`Micro`'s contract).
                *x += unsafe { *a.add(p * MR + i) * *b.add(p * NR + j) };
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, x) in row.iter().enumerate() {
            // SAFETY: `c` is an `MR × NR` block with leading dimension `ldc`.
            unsafe {
                let old = if add { *c.add(i + j * ldc) } else { E::zero() };
                *c.add(i + j * ldc) = old + alpha * *x;
            }
        }
    }
}

fn always() -> bool {
    true
}

/// Blocks smaller than the microkernel's multiples, so that `mc`, `kc` and `nc` each
/// split the shapes below into several blocks, the last one partial.
fn tiny<E: Element + std::ops::Mul<Output = E>>() -> Kernel<E> {
    Kernel {
        name: "portable",
        mr: 4,
        nr: 3,
        kc: 5,
        mc: 8,
        nc: 9,
        micro: portable::<E, 4, 3>,
        supported: always,
    }
}

/// Kernels to test for `E`: the tiny portable one and each SIMD one this processor runs.
fn available<E: Element + std::ops::Mul<Output = E>>(simd: &'static [Kernel<E>]) -> Vec<&'static Kernel<E>> {
    let tiny: &'static Kernel<E> = Box::leak(Box::new(tiny::<E>()));
    let mut all = vec![tiny];
    all.extend(simd.iter().filter(|k| (k.supported)()));
    all
}

fn sample(m: usize, n: usize, seed: usize, col_major: bool) -> Array2<f64> {
    let f = |(i, j): (usize, usize)| (((i * 7 + j * 13 + seed * 5) % 23) as f64 - 11.0) / 7.0;
    if col_major {
        Array2::from_shape_fn((m, n).f(), f)
    } else {
        Array2::from_shape_fn((m, n), f)
    }
}

/// Shapes `(m, n, k)`: nothing to add (`k = 0`), single elements, one microkernel block,
/// past the SIMD kernels' blocks (`mc` 96–384, `kc` 256 or 512, `nc` ~1000 or ~2000 for
/// `f64`), ragged everywhere.
const SHAPES: [(usize, usize, usize); 11] = [
    (5, 4, 0),
    (1, 1, 1),
    (4, 3, 5),
    (7, 5, 3),
    (8, 6, 256),
    (17, 13, 11),
    (33, 29, 40),
    (130, 7, 257),
    (257, 31, 300),
    (9, 1030, 6),
    (19, 15, 1030),
];

/// `C + α·A·B` and `α·A·B` (over a `C` of NaNs) by each kernel, in every layout of `A`,
/// `B` (a transposed view or not, read backwards or not) and `C` (column-major, row-major,
/// strided with unit row stride, strided and backwards), against the triple loop.
fn check<E: Element + std::ops::Mul<Output = E>>(
    kernels: &[&Kernel<E>],
    from: fn(f64) -> E,
    to: fn(E) -> f64,
    tol: f64,
) {
    let cast = |x: &Array2<f64>| x.mapv(from);
    for kernel in kernels {
        for &(m, n, k) in &SHAPES {
            let alpha = -1.5;
            for layout in 0..32 {
                let (a_col, b_col, c_kind) = (layout & 1 == 0, layout & 2 == 0, (layout >> 2) & 3);
                // Half the time `C ← α·A·B` on a `C` of NaNs, which must not be read.
                let add = layout & 16 == 0;
                let a = sample(m, k, 1, a_col);
                let b = sample(k, n, 2, b_col);
                // `A·B` with `B` as the transpose of a stored `Bᵀ` half the time.
                let bt = sample(n, k, 2, !b_col);
                let b_view: ArrayView2<f64> = if layout & 2 == 0 { b.view() } else { bt.t() };
                let c0 = sample(m, n, 3, c_kind == 0);
                let expected = if add {
                    &c0 + &(a.dot(&b_view) * alpha)
                } else {
                    a.dot(&b_view) * alpha
                };
                let (a_e, bt_e, b_e) = (cast(&a), cast(&bt), cast(&b));
                let b_e = if layout & 2 == 0 { b_e.view() } else { bt_e.t() };
                // With `c_kind` 3, `A`'s rows and `B`'s columns are read backwards
                // (negative strides): views of flipped copies, flipped back.
                let (a_flipped, b_flipped) = (
                    a_e.slice(ndarray::s![..;-1, ..]).to_owned(),
                    b_e.slice(ndarray::s![.., ..;-1]).to_owned(),
                );
                let (a_e, b_e) = if c_kind == 3 {
                    (
                        a_flipped.slice(ndarray::s![..;-1, ..]),
                        b_flipped.slice(ndarray::s![.., ..;-1]),
                    )
                } else {
                    (a_e.view(), b_e)
                };
                // `c_kind` 2: every other column of a wider matrix (unit row stride, a
                // larger column stride); 3: every other row of a taller one, backwards
                // (no unit stride: through a copy). The elements between stay NaN.
                let mut wide = Array2::from_elem((m, 2 * n).f(), from(f64::NAN));
                let mut tall = Array2::from_elem((2 * m, n).f(), from(f64::NAN));
                let mut c_e = if add {
                    cast(&c0)
                } else {
                    c0.mapv(|_| from(f64::NAN))
                };
                let mut c_view = match c_kind {
                    0 | 1 => c_e.view_mut(),
                    2 => {
                        let mut v = wide.slice_mut(ndarray::s![.., ..;2]);
                        v.assign(&c_e);
                        v
                    }
                    _ => {
                        let mut v = tall.slice_mut(ndarray::s![..;-2, ..]);
                        v.assign(&c_e);
                        v
                    }
                };
                let op = |x: &ArrayView2<E>| Operand::of(x.as_ptr(), x.dim(), x.strides());
                let c_op = Operand::of(c_view.as_mut_ptr() as *const E, c_view.dim(), c_view.strides());
                let strided = (Source::Strided(op(&a_e)), Source::Strided(op(&b_e)), k);
                // SAFETY: the operands are live views, `C` borrowed mutably here and
                // apart from `A` and `B`; the kernel is supported (`available`).
                unsafe { run(kernel, (from(alpha), add), strided, c_op) };
                let got = c_view.mapv(to);
                if layout < 4 {
                    let init = if add {
                        cast(&c0)
                    } else {
                        c0.mapv(|_| from(f64::NAN))
                    };
                    let packed = packed_product(kernel, (from(alpha), add), (op(&a_e), op(&b_e)), (init, to));
                    assert!(
                        packed
                            .iter()
                            .zip(&got)
                            .all(|(p, g)| to(*p).to_bits() == g.to_bits()),
                        "{} ({m}, {n}, {k}) layout {layout}: packed operands give another C",
                        kernel.name
                    );
                }
                let scale = (k as f64).max(1.0) * 4.0;
                for ((i, j), g) in got.indexed_iter() {
                    let e = expected[(i, j)];
                    assert!(
                        (g - e).abs() <= tol * scale * (1.0 + e.abs()),
                        "{} ({m}, {n}, {k}) layout {layout}: C[{i},{j}] = {g}, expected {e}",
                        kernel.name
                    );
                }
                let between = match c_kind {
                    2 => wide.slice(ndarray::s![.., 1..;2]).to_owned(),
                    3 => tall.slice(ndarray::s![..;2, ..]).to_owned(),
                    _ => Array2::zeros((0, 0)),
                };
                assert!(between.iter().all(|x| to(*x).is_nan()), "wrote outside C");
            }
        }
    }
}

/// `init` (column-major, then the same values row-major) `+ α·A·B` or `α·A·B` from `A`
/// and `B` packed beforehand: both must be the same, bit for bit; the first is returned.
fn packed_product<E: Element>(
    kernel: &Kernel<E>,
    (alpha, add): (E, bool),
    (a, b): (Operand<E>, Operand<E>),
    (init, to): (Array2<E>, fn(E) -> f64),
) -> Array2<E> {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let mut a_packed = vec![E::zero(); packed_elements(m, kernel.mr, k)];
    let mut b_packed = vec![E::zero(); packed_elements(n, kernel.nr, k)];
    // SAFETY: `a` and `b` are live views (the caller's).
    unsafe {
        pack_whole(kernel.kc, a, kernel.mr, &mut a_packed);
        pack_whole(kernel.kc, b.t(), kernel.nr, &mut b_packed);
    }
    let sources = (
        Source::Packed(a_packed.as_ptr()),
        Source::Packed(b_packed.as_ptr()),
        k,
    );
    let mut results = [true, false].map(|col_major| {
        let mut c = Array2::from_elem((m, n).set_f(col_major), E::zero());
        c.assign(&init);
        let c_op = Operand::of(c.as_mut_ptr() as *const E, c.dim(), c.strides());
        // SAFETY: the packed forms are this kernel's of `A` and `B`'s shapes; `c` is
        // this function's own; a supported kernel (the caller's).
        unsafe { run(kernel, (alpha, add), sources, c_op) };
        c
    });
    let [first, second] = &mut results;
    assert!(first
        .iter()
        .zip(second.iter())
        .all(|(x, y)| to(*x).to_bits() == to(*y).to_bits()));
    results.into_iter().next().unwrap()
}

#[test]
fn the_f64_product_matches_the_triple_loop_in_every_layout() {
    check::<f64>(&available(kernels_f64()), |x| x, |x| x, 1e-15);
}

#[test]
fn the_f32_product_matches_the_triple_loop_in_every_layout() {
    check::<f32>(&available(kernels_f32()), |x| x as f32, |x| x as f64, 1e-6);
}

#[test]
fn nan_and_infinity_in_a_propagate() {
    for kernel in available(kernels_f64()) {
        let mut a = sample(9, 4, 1, true);
        a[(2, 1)] = f64::NAN;
        a[(5, 3)] = f64::INFINITY;
        let b = sample(4, 7, 2, true);
        let mut c = Array2::<f64>::zeros((9, 7).f());
        let c_op = Operand::of(c.as_mut_ptr() as *const f64, c.dim(), c.strides());
        let op = |x: &Array2<f64>| Operand::of(x.as_ptr(), x.dim(), x.strides());
        // SAFETY: live arrays, `C` apart from `A` and `B`; a supported kernel.
        unsafe {
            run(
                kernel,
                (1.0, true),
                (Source::Strided(op(&a)), Source::Strided(op(&b)), 4),
                c_op,
            )
        };
        assert!(c.row(2).iter().all(|x| x.is_nan()), "{}", kernel.name);
        assert!(
            c.row(5).iter().all(|x| x.is_infinite() || x.is_nan()),
            "{}",
            kernel.name
        );
        assert!(c.row(0).iter().all(|x| x.is_finite()), "{}", kernel.name);
    }
}

#[test]
fn an_x86_64_processor_with_avx2_gets_a_simd_kernel() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && std::env::var_os("MOSAIC_TILE_GEMM").is_none()
    {
        assert_ne!(super::kernel_name::<f64>(), "faer");
        assert_ne!(super::kernel_name::<f32>(), "faer");
    }
}

#[test]
fn cpu_gemm_runs_the_kernel_with_every_beta_and_transpose() {
    use crate::backend::{Backend, Cpu, Trans};
    // Sides of at least `SMALLEST`, so that mosaic's kernel runs where the processor has one.
    let (m, n, k) = (200, 210, 195);
    for (ta, tb) in [
        (Trans::No, Trans::No),
        (Trans::No, Trans::Yes),
        (Trans::Yes, Trans::No),
    ] {
        let a = if ta == Trans::No {
            sample(m, k, 1, true)
        } else {
            sample(k, m, 1, true)
        };
        let b = if tb == Trans::No {
            sample(k, n, 2, true)
        } else {
            sample(n, k, 2, true)
        };
        fn op(x: &Array2<f64>, t: Trans) -> ArrayView2<'_, f64> {
            if t == Trans::No {
                x.view()
            } else {
                x.t()
            }
        }
        let ab = op(&a, ta).dot(&op(&b, tb));
        for beta in [0.0, 1.0, 0.5] {
            let c0 = sample(m, n, 3, true);
            let mut c = if beta == 0.0 {
                Array2::from_elem((m, n).f(), f64::NAN)
            } else {
                c0.clone()
            };
            Cpu.gemm(-2.0, a.view(), ta, b.view(), tb, beta, c.view_mut());
            let expected = &ab * -2.0 + &(if beta == 0.0 { c0.mapv(|_| 0.0) } else { &c0 * beta });
            let err = (&c - &expected).iter().fold(0.0f64, |e, d| e.max(d.abs()));
            assert!(
                err < 1e-11 && c.iter().all(|x| x.is_finite()),
                "{ta:?} {tb:?} beta {beta}: {err}"
            );
            let c32 = {
                let mut c = if beta == 0.0 {
                    Array2::from_elem((m, n).f(), f32::NAN)
                } else {
                    c0.mapv(|x| x as f32)
                };
                let (a, b) = (a.mapv(|x| x as f32), b.mapv(|x| x as f32));
                Cpu.gemm(-2.0f32, a.view(), ta, b.view(), tb, beta as f32, c.view_mut());
                c
            };
            let err = (&c32.mapv(f64::from) - &expected)
                .iter()
                .fold(0.0f64, |e, d| e.max(d.abs()));
            assert!(
                err < 1e-2 && c32.iter().all(|x| x.is_finite()),
                "f32 {ta:?} {tb:?} beta {beta}: {err}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "gemm: op(A) is (192, 192), op(B) (192, 192), C (300, 300)")]
fn cpu_gemm_refuses_operands_whose_shapes_disagree() {
    use crate::backend::{Backend, Cpu, Trans};
    let (a, b) = (Array2::<f64>::zeros((192, 192)), Array2::<f64>::zeros((192, 192)));
    let mut c = Array2::<f64>::zeros((300, 300));
    Cpu.gemm(1.0, a.view(), Trans::No, b.view(), Trans::No, 1.0, c.view_mut());
}

#[test]
fn cpu_gemm_with_zero_alpha_reads_neither_a_nor_b() {
    use crate::backend::{Backend, Cpu, Trans};
    let (a, b) = (
        Array2::from_elem((200, 200), f64::NAN),
        Array2::from_elem((200, 200), f64::NAN),
    );
    for (beta, expected) in [(0.0, 0.0), (1.0, 3.0), (0.5, 1.5)] {
        let mut c = Array2::from_elem((200, 200), 3.0);
        Cpu.gemm(0.0, a.view(), Trans::No, b.view(), Trans::Yes, beta, c.view_mut());
        assert!(c.iter().all(|&x| x == expected), "beta {beta}");
    }
}

/// `C + α·A·Aᵀ` on one triangle (`run_part`, `syrk`'s kernel) by each kernel, strided and
/// from packed forms (bit for bit the same), against the triple loop; the other triangle,
/// NaN, must stay NaN (not read, not written).
#[test]
fn a_triangle_of_a_product_matches_the_triple_loop_and_leaves_the_rest() {
    use crate::backend::Uplo;
    for kernel in available(kernels_f64()) {
        for uplo in [Uplo::Lower, Uplo::Upper] {
            for &(n, k) in &[(1, 1), (7, 3), (17, 11), (33, 40), (130, 257), (203, 300)] {
                let a = sample(n, k, 1, n % 2 == 0);
                let outside = |i: usize, j: usize| if uplo == Uplo::Lower { i < j } else { i > j };
                let c0 = Array2::from_shape_fn((n, n).f(), |(i, j)| {
                    if outside(i, j) {
                        f64::NAN
                    } else {
                        ((i * 3 + j) % 7) as f64
                    }
                });
                let want = &c0 - &(a.dot(&a.t()) * 1.5);
                let op = |x: &ArrayView2<f64>| Operand::of(x.as_ptr(), x.dim(), x.strides());
                let mut strided = c0.clone();
                let c_op = Operand::of(strided.as_mut_ptr() as *const f64, (n, n), strided.strides());
                let sources = (Source::Strided(op(&a.view())), Source::Strided(op(&a.t())), k);
                // SAFETY: live arrays, `C` this test's own; a supported kernel (`available`).
                unsafe { run_part(kernel, (-1.5, true), sources, (c_op, Some(uplo))) };
                let (mut pa, mut pb) = (
                    vec![0.0; packed_elements(n, kernel.mr, k)],
                    vec![0.0; packed_elements(n, kernel.nr, k)],
                );
                // SAFETY: `a` is a live array; `Bᵀ = A`.
                unsafe {
                    pack_whole(kernel.kc, op(&a.view()), kernel.mr, &mut pa);
                    pack_whole(kernel.kc, op(&a.view()), kernel.nr, &mut pb);
                }
                let mut packed = c0.clone();
                let c_op = Operand::of(packed.as_mut_ptr() as *const f64, (n, n), packed.strides());
                let sources = (Source::Packed(pa.as_ptr()), Source::Packed(pb.as_ptr()), k);
                // SAFETY: this kernel's packed forms of `A` and `Aᵀ`; `C` this test's own.
                unsafe { run_part(kernel, (-1.5, true), sources, (c_op, Some(uplo))) };
                for ((i, j), g) in strided.indexed_iter() {
                    let at = format!("{} {uplo:?} ({n}, {k}) C[{i},{j}] = {g}", kernel.name);
                    if outside(i, j) {
                        assert!(g.is_nan(), "{at}: outside the triangle");
                    } else {
                        let e = want[(i, j)];
                        assert!(
                            (g - e).abs() <= 1e-13 * (k as f64) * (1.0 + e.abs()),
                            "{at}, expected {e}"
                        );
                    }
                    assert_eq!(g.to_bits(), packed[(i, j)].to_bits(), "{at}: packed differs");
                }
            }
        }
    }
}

/// `Cpu::syrk` on sides of at least `SMALLEST` (mosaic's kernel where the processor has
/// one), every triangle and transpose: the reference's triangle, the other one untouched.
#[test]
fn cpu_syrk_on_large_tiles_keeps_to_its_triangle() {
    use crate::backend::{Backend, Cpu, Trans, Uplo};
    let (n, k) = (200, 230);
    for uplo in [Uplo::Lower, Uplo::Upper] {
        for trans in [Trans::No, Trans::Yes] {
            let x = sample(n, k, 4, true);
            let a = if trans == Trans::Yes {
                x.t().as_standard_layout().to_owned()
            } else {
                x.clone()
            };
            let outside = |i: usize, j: usize| if uplo == Uplo::Lower { i < j } else { i > j };
            let c0 = Array2::from_shape_fn((n, n).f(), |(i, j)| if outside(i, j) { f64::NAN } else { 1.0 });
            let mut c = c0.clone();
            Cpu.syrk(uplo, trans, -1.0, a.view(), 2.0, c.view_mut());
            let want = &c0 * 2.0 - &x.dot(&x.t());
            for ((i, j), g) in c.indexed_iter() {
                if outside(i, j) {
                    assert!(g.is_nan(), "{uplo:?} {trans:?}: C[{i},{j}] written");
                } else {
                    let e = want[(i, j)];
                    assert!(
                        (g - e).abs() <= 1e-12 * (1.0 + e.abs()),
                        "{uplo:?} {trans:?}: C[{i},{j}] = {g}, expected {e}"
                    );
                }
            }
        }
    }
}
