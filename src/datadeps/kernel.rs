//! Kernel tasks: a tile kernel with one body per kind of processor that can run it.
//!
//! A task that runs a closure is CPU code: its body gets host views. A *kernel* task (the
//! tile kernels of `linalg` and `darray`, built in `linalg/tasks/`) names a backend
//! operation on its tiles and may carry, besides the host body (the CPU backend's kernel,
//! which a simulated device runs too), a CUDA body that gets the same accesses as
//! [`DeviceTile`](crate::backend::cuda::DeviceTile)s in the device's memory and the stream
//! to launch on. The placement puts a kernel on a CUDA device only when it has a CUDA body
//! (`TaskOptions::cuda`, set here), so each processor runs the body written for it.

use super::access::Accesses;
use super::future::TaskFuture;
use super::scope::{detached, on_host};
use crate::runtime::graph::access::{Exec, Granted};
use crate::runtime::TaskOptions;

/// A kernel's CUDA body: given the stream to launch on and the task's accesses as device
/// tiles (in declaration order), it enqueues the kernel; the runtime waits for the stream
/// before it releases the data. An error is a panic, which fails the task like a panic in
/// a CPU kernel.
#[cfg(feature = "cuda")]
pub(crate) type DeviceBody<R> =
    Box<dyn FnOnce(crate::backend::cuda::Launch, &[crate::backend::cuda::DeviceTile]) -> R + Send>;

/// Without the `cuda` feature there is no device body (the type has no values).
#[cfg(not(feature = "cuda"))]
pub(crate) type DeviceBody<R> = (std::convert::Infallible, std::marker::PhantomData<R>);

/// `Some(device body)` with the `cuda` feature, `None` without (the body is then not compiled):
/// `device_body!(move |launch, tiles| …)`.
macro_rules! device_body {
    ($body:expr) => {{
        #[cfg(feature = "cuda")]
        let body: Option<$crate::datadeps::kernel::DeviceBody<_>> = Some(Box::new($body));
        #[cfg(not(feature = "cuda"))]
        let body: Option<$crate::datadeps::kernel::DeviceBody<_>> = None;
        body
    }};
}
pub(crate) use device_body;

/// Spawns a kernel task (`options` marked as a kernel, and as having a CUDA
/// implementation when `device` is given): `host` runs it on host views (a CPU worker, a
/// simulated device), `device` on a CUDA device.
#[track_caller]
pub(crate) fn spawn_kernel<X, F, R>(
    options: TaskOptions,
    accesses: X,
    host: F,
    device: Option<DeviceBody<R>>,
) -> TaskFuture<R>
where
    X: Accesses + 'static,
    F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_kernel_with(options, accesses, (host, device), false)
}

/// [`spawn_kernel`]; `here`: for a caller that waits for the task at once, run it on the
/// calling thread when it is placed on the CPUs and ready at submission (as
/// `datadeps::spawn_here`).
#[track_caller]
pub(crate) fn spawn_kernel_with<X, F, R>(
    options: TaskOptions,
    accesses: X,
    (host, device): (F, Option<DeviceBody<R>>),
    here: bool,
) -> TaskFuture<R>
where
    X: Accesses + 'static,
    F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'static,
    R: Send + 'static,
{
    let mut options = options.kernel();
    options.cuda = device.is_some();
    let host = on_host::<X, F, R>(host);
    let body = move |granted: &Granted<'_>| match granted.exec {
        Exec::Host => host(granted),
        #[cfg(feature = "cuda")]
        Exec::Cuda(launch) => {
            let device =
                device.expect("the placement starts a kernel on a CUDA device only with a CUDA body");
            run_on_device(launch, granted, device)
        }
    };
    #[cfg(not(feature = "cuda"))]
    let _ = device;
    detached(options, accesses, body, here)
}

/// Runs a CUDA body on its launch and waits for the stream, whether the body returned or
/// panicked (nothing it enqueued may still run when the task's data is released); an
/// asynchronous error of the stream fails the task.
#[cfg(feature = "cuda")]
fn run_on_device<R>(launch: crate::backend::cuda::Launch, granted: &Granted<'_>, body: DeviceBody<R>) -> R {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    let tiles = granted.device_tiles();
    let result = catch_unwind(AssertUnwindSafe(|| body(launch, &tiles)));
    let finished = launch.finish();
    match (result, finished) {
        (Err(payload), _) => resume_unwind(payload),
        (Ok(_), Err(e)) => panic!("{e}"),
        (Ok(r), Ok(())) => r,
    }
}
