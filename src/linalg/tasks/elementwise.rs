//! The elementwise tile kernels, whole-tile copies and sums of `DArray`'s arithmetic: the
//! CPU backend's on host views, mosaic's own CUDA kernels (`kernels/*.cu`) on a GPU,
//! bitwise equal.

use ndarray::{ArrayView2, ArrayViewMut2};

#[cfg(feature = "cuda")]
use super::checked;
use crate::backend::{Backend, Cpu, Elementwise, SumOf};
use crate::datadeps::kernel::{device_body, spawn_kernel};
use crate::datadeps::{In, InOut, Out, TaskFuture};
use crate::runtime::TaskOptions;
use crate::{Scalar, Tile};

/// `c ← a op b` element by element ([`Backend::elementwise`]), as a task named `name`.
pub(crate) fn elementwise<T: Scalar>(
    name: &'static str,
    op: Elementwise,
    a: Tile<T>,
    b: Tile<T>,
    c: Tile<T>,
) {
    let task = move |(a, b, c): (ArrayView2<'_, T>, ArrayView2<'_, T>, ArrayViewMut2<'_, T>)| {
        Cpu.elementwise(op, a, b, c)
    };
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs`.
        checked(unsafe {
            crate::backend::cuda::launch::elementwise::<T>(l.gpu, l.stream, op, t[0], t[1], t[2])
        })
    });
    drop(spawn_kernel(
        TaskOptions::named(name),
        (In(a), In(b), Out(c)),
        task,
        device,
    ));
}

/// The sum of tile `a`'s elements or of their squares ([`Backend::sum`]), as a task named
/// `name`.
pub(crate) fn sum<T: Scalar>(name: &'static str, of: SumOf, a: Tile<T>) -> TaskFuture<f64> {
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs`.
        checked(unsafe { crate::backend::cuda::launch::sum::<T>(l.gpu, l.stream, of, t[0]) })
    });
    spawn_kernel(
        // Under MPI, each tile is summed where it is (the parts are gathered after).
        TaskOptions::named(name).in_place(),
        (In(a),),
        move |(a,)| Cpu.sum(of, a),
        device,
    )
}

/// `a ← a op b` element by element ([`Backend::elementwise_assign`]), as a task.
pub(crate) fn elementwise_assign<T: Scalar>(name: &'static str, op: Elementwise, a: Tile<T>, b: Tile<T>) {
    let task = move |(a, b): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>)| Cpu.elementwise_assign(op, a, b);
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs` (the output is the first input, allowed there).
        checked(unsafe {
            crate::backend::cuda::launch::elementwise::<T>(l.gpu, l.stream, op, t[0], t[1], t[0])
        })
    });
    drop(spawn_kernel(
        TaskOptions::named(name),
        (InOut(a), In(b)),
        task,
        device,
    ));
}

/// `c ← a op α` element by element ([`Backend::elementwise_scalar`]), as a task.
pub(crate) fn elementwise_scalar<T: Scalar>(
    name: &'static str,
    op: Elementwise,
    a: Tile<T>,
    alpha: T,
    c: Tile<T>,
) {
    let task =
        move |(a, c): (ArrayView2<'_, T>, ArrayViewMut2<'_, T>)| Cpu.elementwise_scalar(op, a, alpha, c);
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs`.
        checked(unsafe {
            crate::backend::cuda::launch::elementwise_scalar::<T>(l.gpu, l.stream, op, t[0], alpha, t[1])
        })
    });
    drop(spawn_kernel(
        TaskOptions::named(name),
        (In(a), Out(c)),
        task,
        device,
    ));
}

/// `a ← a op α` element by element ([`Backend::elementwise_scalar_assign`]), as a task.
pub(crate) fn elementwise_scalar_assign<T: Scalar>(
    name: &'static str,
    op: Elementwise,
    a: Tile<T>,
    alpha: T,
) {
    let task = move |(a,): (ArrayViewMut2<'_, T>,)| Cpu.elementwise_scalar_assign(op, a, alpha);
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs` (the output is the input, allowed there).
        checked(unsafe {
            crate::backend::cuda::launch::elementwise_scalar::<T>(l.gpu, l.stream, op, t[0], alpha, t[0])
        })
    });
    drop(spawn_kernel(TaskOptions::named(name), (InOut(a),), task, device));
}

/// What fills a generated tile on a CUDA device (`kernels/random.cu`), with the values
/// the CPU's function gives.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "cuda"), allow(dead_code))] // the seed is read by the CUDA body
pub(crate) enum Generator {
    /// `random::uniform(seed, i, j)`.
    Uniform(u64),
    /// The identity.
    Eye,
    /// None: the tile is made on the CPUs (or a simulated device).
    None,
}

/// Tile `a`, whose first element is global element `(row0, col0)`, filled with `f(i, j)`
/// of each global index, as a task named `name`; on a CUDA device by `generator`.
pub(crate) fn generate<T: Scalar>(
    name: &'static str,
    generator: Generator,
    a: Tile<T>,
    (row0, col0): (usize, usize),
    f: impl Fn(usize, usize) -> T + Send + 'static,
) {
    let task = move |(mut a,): (ArrayViewMut2<'_, T>,)| {
        for ((i, j), x) in a.indexed_iter_mut() {
            *x = f(row0 + i, col0 + j);
        }
    };
    let device = match generator {
        Generator::None => None,
        #[allow(unused_variables)] // without `cuda`
        generator => device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
            use crate::backend::cuda::launch::{eye, rand_uniform};
            // SAFETY: see `linalg/tasks/mod.rs`.
            checked(unsafe {
                match generator {
                    Generator::Uniform(seed) => rand_uniform::<T>(l.gpu, l.stream, seed, (row0, col0), t[0]),
                    _ => eye::<T>(l.gpu, l.stream, (row0, col0), t[0]),
                }
            })
        }),
    };
    drop(spawn_kernel(TaskOptions::named(name), (Out(a),), task, device));
}

/// `b ← aᵀ`, as a task.
pub(crate) fn transpose<T: Scalar>(a: Tile<T>, b: Tile<T>) {
    let task = move |(a, mut b): (ArrayView2<'_, T>, ArrayViewMut2<'_, T>)| b.assign(&a.t());
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs`; two distinct tiles do not overlap.
        checked(unsafe { crate::backend::cuda::launch::transpose::<T>(l.gpu, l.stream, t[0], t[1]) })
    });
    drop(spawn_kernel(
        TaskOptions::named("transpose"),
        (In(a), Out(b)),
        task,
        device,
    ));
}

/// `b ← a`, two tiles of one shape ([`Backend::lacpy`]), as a task named `name`.
pub(crate) fn lacpy<T: Scalar>(name: &'static str, a: Tile<T>, b: Tile<T>) {
    let task = move |(b, a): (ArrayViewMut2<'_, T>, ArrayView2<'_, T>)| Cpu.lacpy(a, b);
    let device = device_body!(move |l: crate::backend::cuda::Launch, t: &[_]| {
        // SAFETY: see `linalg/tasks/mod.rs`; two distinct tiles do not overlap.
        checked(unsafe { crate::backend::cuda::launch::lacpy::<T>(l.gpu, l.stream, t[1], t[0]) })
    });
    drop(spawn_kernel(
        TaskOptions::named(name),
        (Out(b), In(a)),
        task,
        device,
    ));
}
