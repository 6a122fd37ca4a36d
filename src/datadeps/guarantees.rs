//! What safe code cannot do with a `datadeps` region, checked by the compiler.
//!
//! Each `compile_fail` example below must be rejected, for the reason stated (the error
//! code is checked where the compiler gives one); the example after it is the correct
//! form and must compile and run.
//!
//! # (a) A view cannot outlive its task
//!
//! The views a task receives live only while it runs: they cannot be returned from the
//! closure …
//!
//! ```compile_fail
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! let view = datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h),), |(v,)| v).wait().unwrap()
//! });
//! ```
//!
//! … nor stored in a variable outside it:
//!
//! ```compile_fail,E0521
//! use mosaic::prelude::*;
//! use ndarray::{Array1, ArrayView1};
//!
//! let a = Array1::<f64>::zeros(4);
//! let mut kept: Option<ArrayView1<'_, f64>> = None;
//! datadeps(|s| {
//!     let h = s.read(&a);
//!     let kept = &mut kept;
//!     s.spawn((In(h),), move |(v,)| *kept = Some(v));
//! });
//! ```
//!
//! A task returns owned results instead:
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::from_elem(4, 1.0);
//! let (copy, sum) = datadeps(|s| {
//!     let h = s.write(&mut a);
//!     let copy = s.spawn((InOut(h),), |(mut v,)| {
//!         v *= 2.0;
//!         v.to_owned()
//!     });
//!     let sum = s.spawn((In(h),), |(v,)| v.sum());
//!     (copy.wait().unwrap(), sum.wait().unwrap())
//! });
//! assert_eq!((copy[0], sum), (2.0, 8.0));
//! ```
//!
//! # (b) A handle bound with `s.read` cannot be written
//!
//! ```compile_fail,E0277
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h = s.read(&a);
//!     s.spawn((InOut(h),), |(mut v,)| v.fill(1.0));
//! });
//! ```
//!
//! ```compile_fail,E0277
//! use mosaic::prelude::*;
//! use ndarray::Array2;
//!
//! let a = Array2::<f64>::zeros((4, 4));
//! datadeps(|s| {
//!     let h = s.read(&a);
//!     s.spawn((Out(UpperTriangular(h)),), |(mut u,)| u.fill(1.0));
//! });
//! ```
//!
//! Bind it with `s.write` to write it, or only read it:
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::{Array1, Array2};
//!
//! let a = Array1::<f64>::from_elem(4, 1.0);
//! let mut m = Array2::<f64>::zeros((4, 4));
//! datadeps(|s| {
//!     let (h, hm) = (s.read(&a), s.write(&mut m));
//!     s.spawn((Out(UpperTriangular(hm)), In(h)), |(mut u, v)| u.fill(v.sum()));
//! });
//! assert_eq!((m[(0, 3)], m[(3, 0)]), (4.0, 0.0));
//! ```
//!
//! # (c) A handle cannot escape its region
//!
//! Neither as the region's result …
//!
//! ```compile_fail
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! let h = datadeps(|s| s.write(&mut a));
//! ```
//!
//! … nor through a variable outside the region …
//!
//! ```compile_fail,E0521
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let a = Array1::<f64>::zeros(4);
//! let mut out = None;
//! datadeps(|s| {
//!     out = Some(s.read(&a));
//! });
//! ```
//!
//! … nor by handing it to a task of an enclosing region, which may run after the inner
//! region (and the borrow of its arrays) has ended.
//!
//! **This one currently compiles: a soundness bug.** `Scope::spawn` puts no lifetime bound
//! on the accesses, so a handle of the inner region (`'scope` of the inner scope) is
//! accepted by the outer scope's `spawn`; the inner region does not wait for that task
//! (it belongs to the outer region's group), so it writes `b` after the inner region
//! returned, while `b` is borrowed again (and would write freed memory if `b` were local
//! to the outer body). Requiring `X: 'scope` on `Scope::spawn` / `Scope::spawn_with`
//! rejects it (with error E0521).
//!
//! ```compile_fail,E0521
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut b = Array1::<f64>::zeros(4);
//! datadeps(|outer| {
//!     datadeps(|inner| {
//!         let h = inner.write(&mut b);
//!         outer.spawn((InOut(h),), |(mut v,)| v.fill(1.0));
//!     });
//!     let _ = b.sum(); // `b` is no longer borrowed here, but the task above may still write it
//! });
//! ```
//!
//! The other direction is fine: a region nested in a region's body may use the outer
//! handles, and its tasks order after the outer region's earlier tasks.
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut b = Array1::<f64>::zeros(4);
//! datadeps(|outer| {
//!     let h = outer.write(&mut b);
//!     outer.spawn((Out(h),), |(mut v,)| v.fill(1.0));
//!     datadeps(|inner| {
//!         inner.spawn((InOut(h),), |(mut v,)| v += 1.0);
//!     });
//! });
//! assert_eq!(b[3], 2.0);
//! ```
//!
//! # (d) A bound array cannot be used directly inside its region
//!
//! `s.write(&mut a)` borrows `a` for the whole region: the body cannot read or write it
//! while tasks may be using it.
//!
//! ```compile_fail,E0499
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h),), |(mut v,)| v.fill(1.0));
//!     a[0] = 2.0;
//! });
//! ```
//!
//! ```compile_fail,E0502
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h),), |(mut v,)| v.fill(1.0));
//!     println!("{}", a.sum());
//! });
//! ```
//!
//! Read it through a task (or after the region):
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! let sum = datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h),), |(mut v,)| v.fill(1.0));
//!     s.spawn((In(h),), |(v,)| v.sum()).wait().unwrap()
//! });
//! a[0] = 2.0;
//! assert_eq!((sum, a.sum()), (4.0, 5.0));
//! ```
//!
//! # (e) A task cannot capture its region's scope
//!
//! `Scope` is not `Sync`, so a task (which may run on another thread) cannot spawn into
//! the region that contains it.
//!
//! ```compile_fail,E0277
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h),), move |(mut v,)| {
//!         v.fill(1.0);
//!         s.spawn((), |()| println!("more work in the enclosing region"));
//!     });
//! });
//! ```
//!
//! A task that wants parallelism opens a nested region over its own views:
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::{s, Array1};
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h),), |(mut v,)| {
//!         datadeps(|inner| {
//!             let v = inner.write(&mut v);
//!             inner.spawn((Out(v.slice(s![..2])),), |(mut x,)| x.fill(1.0));
//!             inner.spawn((Out(v.slice(s![2..])),), |(mut x,)| x.fill(2.0));
//!         });
//!     });
//! });
//! assert_eq!(a.to_vec(), [1.0, 1.0, 2.0, 2.0]);
//! ```
//!
//! # (f) A triangular view reaches outside its part only through `unsafe`
//!
//! ```compile_fail,E0133
//! use mosaic::prelude::*;
//! use ndarray::Array2;
//!
//! let mut m = Array2::<f64>::zeros((3, 3));
//! datadeps(|s| {
//!     let h = s.write(&mut m);
//!     s.spawn((InOut(UpperTriangular(h)),), |(mut u,)| {
//!         let mut full = u.full_view_mut();
//!         full[(2, 0)] = 1.0; // the lower part, which another task may own
//!     });
//! });
//! ```
//!
//! Safe code stays inside the part:
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::Array2;
//!
//! let mut m = Array2::<f64>::zeros((3, 3));
//! datadeps(|s| {
//!     let h = s.write(&mut m);
//!     s.spawn((InOut(UpperTriangular(h)),), |(mut u,)| {
//!         assert!(u.get_mut(2, 0).is_none());
//!         u.for_each_mut(|i, j, x| *x = (i + j) as f64);
//!     });
//! });
//! assert_eq!((m[(1, 2)], m[(2, 1)]), (3.0, 0.0));
//! ```
//!
//! # (g) An array cannot be bound twice for writing
//!
//! Two write handles of one array would be two data objects the tracker does not relate:
//! tasks on them could run at the same time.
//!
//! ```compile_fail,E0499
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h1 = s.write(&mut a);
//!     let h2 = s.write(&mut a);
//!     s.spawn((InOut(h1),), |(mut v,)| v.fill(1.0));
//!     s.spawn((InOut(h2),), |(mut v,)| v.fill(2.0));
//! });
//! ```
//!
//! ```compile_fail,E0502
//! use mosaic::prelude::*;
//! use ndarray::Array1;
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let w = s.write(&mut a);
//!     let r = s.read(&a);
//!     s.spawn((InOut(w),), |(mut v,)| v.fill(1.0));
//!     s.spawn((In(r),), |(v,)| v.sum());
//! });
//! ```
//!
//! Bind once and slice the handle: the tracker orders overlapping slices.
//!
//! ```
//! use mosaic::prelude::*;
//! use ndarray::{s, Array1};
//!
//! let mut a = Array1::<f64>::zeros(4);
//! datadeps(|s| {
//!     let h = s.write(&mut a);
//!     s.spawn((InOut(h.slice(s![..3])),), |(mut v,)| v.fill(1.0));
//!     s.spawn((InOut(h.slice(s![2..])),), |(mut v,)| v += 2.0);
//! });
//! assert_eq!(a.to_vec(), [1.0, 1.0, 3.0, 2.0]);
//! ```
