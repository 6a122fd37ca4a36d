//! The tile product alone, one thread: mosaic's kernel (`Cpu::gemm`, the one every
//! factorization's updates run) against faer's `matmul` with `Par::Seq` and, with
//! `--features openblas`, OpenBLAS's `?gemm` (single-threaded: set
//! `OPENBLAS_NUM_THREADS=1`, and `OPENBLAS_CORETYPE` where Debian's build misdetects the
//! processor), on the same tiles stored as mosaic stores them (column-major, padded
//! leading dimension), `C ← C − A·Bᵀ` (Cholesky's update), `C ← C − A·B` (LU's) and
//! the lower triangle of `C ← C − A·Aᵀ` (`syrk`, Cholesky's diagonal update; OpenBLAS's
//! is not called).
//! "packed" is mosaic's kernel on operands packed before the timing (`Backend::pack`,
//! `gemm_packed`): what a factorization's update runs when its operands are shared
//! (sides of 192 and more).
//!
//! Interleaved: each repetition runs every library once, starting with the next one in
//! turn; medians over the repetitions, and mosaic's speed over each peer's paired within
//! a repetition (median). `cargo bench --bench tile_gemm -- [--sizes 64,128,...]
//! [--types f64,f32] [--reps 9]`

use std::time::Instant;

use faer::linalg::matmul::triangular::BlockStructure;
use faer::{Accum, MatMut, MatRef, Par};
use mosaic::backend::{Backend, Cpu, Side, Trans, Uplo};
use mosaic::Scalar;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

const LIBS: [&str; 4] = ["mosaic", "packed", "faer", "OpenBLAS"];

/// The ratios printed, as (numerator, denominator) indices into `LIBS`.
const RATIOS: [(usize, usize); 4] = [(0, 2), (0, 3), (1, 0), (1, 3)];

/// `A` and `op(B)` packed (`None` where the backend has no packed form of that shape).
struct Packed<T> {
    a: Vec<T>,
    b: Vec<T>,
    k: usize,
}

impl<T: Scalar> Packed<T> {
    fn of(a: ArrayView2<T>, b: ArrayView2<T>, tb: Trans) -> Option<Self> {
        let (bk, bn) = if tb == Trans::Yes {
            (b.ncols(), b.nrows())
        } else {
            b.dim()
        };
        let mut pa = vec![T::zero(); Cpu.packed_len::<T>(Side::Left, a.dim())?];
        let mut pb = vec![T::zero(); Cpu.packed_len::<T>(Side::Right, (bk, bn))?];
        Cpu.pack(Side::Left, a, Trans::No, &mut pa);
        Cpu.pack(Side::Right, b, tb, &mut pb);
        Some(Packed { a: pa, b: pb, k: bk })
    }
}

/// A tile `rows × cols` stored with mosaic's padded leading dimension.
fn tile<T: Scalar>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    let ld = if rows >= 64 && rows.is_multiple_of(16) {
        rows + 8
    } else {
        rows
    };
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_fn((ld, cols).f(), |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        T::from_f64((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
    })
}

fn faer_ref<'a, T: Scalar>(a: &'a ArrayView2<'_, T>) -> MatRef<'a, T> {
    // SAFETY: shape and strides are the view's own; the view is borrowed for `'a`.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), a.strides()[0], a.strides()[1]) }
}

fn faer_mut<'a, T: Scalar>(c: &'a mut ArrayViewMut2<'_, T>) -> MatMut<'a, T> {
    let (m, n, rs, cs) = (c.nrows(), c.ncols(), c.strides()[0], c.strides()[1]);
    // SAFETY: as `faer_ref`, borrowed mutably.
    unsafe { MatMut::from_raw_parts_mut(c.as_mut_ptr(), m, n, rs, cs) }
}

/// One library's `C ← C − A·op(B)` (`tb`), or `syrk` of `A` on `C`'s lower triangle
/// (`None`); `false` where the library is not built in.
fn product<T: Scalar + Blas>(
    lib: &str,
    packed: Option<&Packed<T>>,
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    tb: Option<Trans>,
    c: ArrayViewMut2<T>,
) -> bool {
    let minus_one = T::zero() - T::one();
    let mut c = c;
    let Some(tb) = tb else {
        let lower = Some(Uplo::Lower);
        match (lib, packed) {
            ("mosaic", _) => Cpu.syrk(Uplo::Lower, Trans::No, minus_one, a, T::one(), c),
            ("packed", Some(p)) => Cpu.gemm_packed(minus_one, (&p.a, &p.b, p.k), T::one(), (c, lower)),
            ("faer", _) => faer::linalg::matmul::triangular::matmul(
                faer_mut(&mut c),
                BlockStructure::TriangularLower,
                Accum::Add,
                faer_ref(&a),
                BlockStructure::Rectangular,
                faer_ref(&a.t()),
                BlockStructure::Rectangular,
                minus_one,
                Par::Seq,
            ),
            _ => return false,
        }
        return true;
    };
    match lib {
        "mosaic" => Cpu.gemm(minus_one, a, Trans::No, b, tb, T::one(), c),
        "packed" => match packed {
            Some(p) => Cpu.gemm_packed(minus_one, (&p.a, &p.b, p.k), T::one(), (c, None)),
            None => return false,
        },
        "faer" => {
            let b = if tb == Trans::Yes { b.reversed_axes() } else { b };
            faer::linalg::matmul::matmul(
                faer_mut(&mut c),
                Accum::Add,
                faer_ref(&a),
                faer_ref(&b),
                minus_one,
                Par::Seq,
            )
        }
        _ => return T::openblas(a, b, tb, c),
    }
    true
}

/// OpenBLAS's `?gemm` through ndarray (feature `openblas`).
trait Blas: Sized {
    fn openblas(a: ArrayView2<Self>, b: ArrayView2<Self>, tb: Trans, c: ArrayViewMut2<Self>) -> bool;
}

#[cfg(feature = "openblas")]
impl<T: Scalar> Blas for T {
    fn openblas(a: ArrayView2<T>, b: ArrayView2<T>, tb: Trans, mut c: ArrayViewMut2<T>) -> bool {
        let b = if tb == Trans::Yes { b.reversed_axes() } else { b };
        let minus_one = T::zero() - T::one();
        ndarray::linalg::general_mat_mul(minus_one, &a, &b, T::one(), &mut c);
        true
    }
}

#[cfg(not(feature = "openblas"))]
impl<T: Scalar> Blas for T {
    fn openblas(_: ArrayView2<T>, _: ArrayView2<T>, _: Trans, _: ArrayViewMut2<T>) -> bool {
        false
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench<T: Scalar + Blas>(ty: &str, sizes: &[usize], reps: usize) {
    for &n in sizes {
        for (label, tb) in [
            ("A·Bᵀ", Some(Trans::Yes)),
            ("A·B", Some(Trans::No)),
            ("syrk", None),
        ] {
            let (a, b, mut c) = (tile::<T>(n, n, 1), tile::<T>(n, n, 2), tile::<T>(n, n, 3));
            let packed = match tb {
                Some(tb) => Packed::of(a.slice(s![..n, ..]), b.slice(s![..n, ..]), tb),
                None => Packed::of(a.slice(s![..n, ..]), a.slice(s![..n, ..]), Trans::Yes),
            };
            let flops = if tb.is_some() { 2.0 } else { 1.0 } * (n as f64).powi(3);
            // Enough calls for ~20 ms a measurement at 40 GFLOP/s.
            let calls = ((0.8e9 / flops) as usize).max(1);
            let mut speeds: Vec<Vec<f64>> = vec![Vec::new(); LIBS.len()];
            for rep in 0..reps {
                for l in 0..LIBS.len() {
                    let lib = (rep + l) % LIBS.len();
                    let t = Instant::now();
                    let mut ran = true;
                    for _ in 0..calls {
                        let (av, bv) = (a.slice(s![..n, ..]), b.slice(s![..n, ..]));
                        ran = product(LIBS[lib], packed.as_ref(), av, bv, tb, c.slice_mut(s![..n, ..]));
                    }
                    if ran {
                        speeds[lib].push(flops * calls as f64 / t.elapsed().as_secs_f64() / 1e9);
                    }
                }
            }
            let mut line = format!("| {ty} | {label} | {n} |");
            for v in &speeds {
                line += &if v.is_empty() {
                    " – |".to_string()
                } else {
                    format!(" {:.1} |", median(v.clone()))
                };
            }
            for (num, den) in RATIOS {
                let paired: Vec<f64> = speeds[num].iter().zip(&speeds[den]).map(|(x, y)| x / y).collect();
                line += &if paired.is_empty() {
                    " – |".to_string()
                } else {
                    format!(" {:.2} |", median(paired))
                };
            }
            println!("{line}");
        }
    }
}

fn arg_list(args: &[String], name: &str) -> Option<Vec<String>> {
    let at = args.iter().position(|a| a == name)?;
    Some(args.get(at + 1)?.split(',').map(String::from).collect())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = arg_list(&args, "--sizes")
        .map(|v| v.iter().map(|s| s.parse().expect("--sizes")).collect())
        .unwrap_or(vec![64, 128, 192, 256, 384, 512]);
    let types = arg_list(&args, "--types").unwrap_or(vec!["f64".into(), "f32".into()]);
    let reps: usize = arg_list(&args, "--reps").map_or(9, |v| v[0].parse().expect("--reps N"));
    println!(
        "mosaic's kernel: {} (f64), {} (f32); GFLOP/s, medians of {reps}; ratios paired within a repetition\n",
        Cpu::gemm_kernel::<f64>(),
        Cpu::gemm_kernel::<f32>()
    );
    println!(
        "| type | product | n | mosaic | mosaic, packed | faer | OpenBLAS | ÷ faer | ÷ OpenBLAS | packed ÷ mosaic | packed ÷ OpenBLAS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for ty in &types {
        match ty.as_str() {
            "f64" => bench::<f64>("f64", &sizes, reps),
            "f32" => bench::<f32>("f32", &sizes, reps),
            other => panic!("unknown type {other}"),
        }
    }
}
