//! The x86-64 microkernels: AVX-512 and AVX2+FMA, `f64` and `f32`, one macro.
//!
//! A kernel keeps an `mr × nr` block of `C` in vector registers (`mv` vectors of a
//! column, `nr` columns) and, for each of the `kc` steps, loads `mv` vectors of the `A`
//! panel, broadcasts the `nr` values of the `B` panel one at a time and issues `mv·nr`
//! fused multiply-adds. With AVX2's 16 registers, 2 × 6 accumulators leave one for each
//! `A` vector and one for the broadcast; with AVX-512's 32, 2 × 14. The loops over the
//! registers have constant bounds, so the compiler unrolls them and keeps the
//! accumulators in registers (checked in the assembly of all four: no loads or stores of
//! them in the `kc` loop, which is unrolled 4 times, with a prefetch of `A` 8 steps ahead
//! and of `C`'s block before the loop).

use std::arch::x86_64::*;

use super::Kernel;

macro_rules! microkernel {
    ($name:ident, $features:literal, $elem:ty, $lanes:literal x $mv:literal, $nr:literal,
     $zero:ident, $load:ident, $store:ident, $splat:ident, $fma:ident, $mul:ident) => {
        /// See `super::Micro`.
        ///
        /// # Safety
        /// As `super::Micro`; the processor has the instruction set named.
        #[target_feature(enable = $features)]
        unsafe fn $name(
            kc: usize,
            a: *const $elem,
            b: *const $elem,
            c: *mut $elem,
            ldc: usize,
            (alpha, keep): ($elem, bool),
        ) {
            const MR: usize = $lanes * $mv;
            // One step of the `kc` loop: `MR` values of `A` times `nr` of `B`.
            let step = |acc: &mut [[_; $nr]; $mv], ap: *const $elem, bp: *const $elem| {
                // SAFETY: `ap` and `bp` point at a step's `MR` and `nr` elements inside the
                // panels (the loops below); the loads are unaligned, any address is fine.
                unsafe {
                    let mut av = [$zero(); $mv];
                    for (v, x) in av.iter_mut().enumerate() {
                        *x = $load(ap.add(v * $lanes));
                    }
                    for j in 0..$nr {
                        let bj = $splat(*bp.add(j));
                        for v in 0..$mv {
                            acc[v][j] = $fma(av[v], bj, acc[v][j]);
                        }
                    }
                }
            };
            let mut acc = [[$zero(); $nr]; $mv];
            // SAFETY: the panels hold `kc·MR` and `kc·nr` elements (the caller's contract)
            // and the pointers advance one step's worth `kc` times in all; `C`'s block is
            // `MR × nr` with leading dimension `ldc`, which the caller lets this call read
            // and write; prefetches are hints, of addresses inside the panels and `C`.
            unsafe {
                for j in 0..$nr {
                    _mm_prefetch::<_MM_HINT_T0>(c.add(j * ldc) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(c.add(j * ldc + MR - 1) as *const i8);
                }
                let (mut ap, mut bp) = (a, b);
                for _ in 0..kc / 4 {
                    _mm_prefetch::<_MM_HINT_T0>(ap.wrapping_add(8 * MR) as *const i8);
                    step(&mut acc, ap, bp);
                    step(&mut acc, ap.add(MR), bp.add($nr));
                    step(&mut acc, ap.add(2 * MR), bp.add(2 * $nr));
                    step(&mut acc, ap.add(3 * MR), bp.add(3 * $nr));
                    ap = ap.add(4 * MR);
                    bp = bp.add(4 * $nr);
                }
                for _ in 0..kc % 4 {
                    step(&mut acc, ap, bp);
                    ap = ap.add(MR);
                    bp = bp.add($nr);
                }
                let alpha = $splat(alpha);
                for j in 0..$nr {
                    for v in 0..$mv {
                        let cv = c.add(j * ldc + v * $lanes);
                        if keep {
                            $store(cv, $fma(acc[v][j], alpha, $load(cv)));
                        } else {
                            $store(cv, $mul(acc[v][j], alpha));
                        }
                    }
                }
            }
        }
    };
}

microkernel!(dgemm_avx512_16x14, "avx512f", f64, 8 x 2, 14,
    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_mul_pd);
microkernel!(dgemm_avx2_8x6, "avx2,fma", f64, 4 x 2, 6,
    _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_mul_pd);
microkernel!(sgemm_avx512_32x14, "avx512f", f32, 16 x 2, 14,
    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps);
microkernel!(sgemm_avx2_16x6, "avx2,fma", f32, 8 x 2, 6,
    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps);

fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f")
}

fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// The `f64` kernels, widest first. Block sizes: a `B` panel (`kc·nr`) in L1, `A`'s
/// block (`mc·kc`) in most of a 512 KiB L2 (AMD Zen 3, where AVX2's were tuned: `kc` 512
/// rather than 256 was 4% faster on 512 tiles, no slower on 256; `mc` from 64 to 192
/// within noise); AVX-512's `kc` keeps a panel of 14 columns in a 48 KiB L1 (Intel),
/// its `mc` the same bytes in a 1 MiB L2; `B`'s block (`kc·nc`) in L3.
pub(super) static F64: [Kernel<f64>; 2] = [
    Kernel {
        name: "avx512",
        mr: 16,
        nr: 14,
        kc: 256,
        mc: 192,
        nc: 1008,
        micro: dgemm_avx512_16x14,
        supported: has_avx512,
    },
    Kernel {
        name: "avx2",
        mr: 8,
        nr: 6,
        kc: 512,
        mc: 96,
        nc: 1020,
        micro: dgemm_avx2_8x6,
        supported: has_avx2,
    },
];

/// The `f32` kernels, widest first (the same bytes per block as `F64`).
pub(super) static F32: [Kernel<f32>; 2] = [
    Kernel {
        name: "avx512",
        mr: 32,
        nr: 14,
        kc: 256,
        mc: 384,
        nc: 2016,
        micro: sgemm_avx512_32x14,
        supported: has_avx512,
    },
    Kernel {
        name: "avx2",
        mr: 16,
        nr: 6,
        kc: 512,
        mc: 192,
        nc: 2040,
        micro: sgemm_avx2_16x6,
        supported: has_avx2,
    },
];
