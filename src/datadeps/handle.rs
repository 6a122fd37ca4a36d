//! Handles to the user's own arrays, bound into a region with `s.read(&a)` /
//! `s.write(&mut b)`.
//!
//! A handle is `Copy` and opaque: it names data (and, after `slice`, a part of it) but
//! gives no access to it. Access happens only inside tasks, through the views the runtime
//! hands them once the tracker has ordered them. A handle lives as long as its region's
//! borrow (`'scope`), so it cannot outlive the data.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{Dimension, Ix1, Ix2, SliceArg};

use super::access::{sealed::Sealed, AccessTarget, ReadTarget, WriteTarget};
use super::raw::RawParts;
use crate::runtime::graph::access::ObjectRef;
use crate::runtime::graph::DataObject;

/// Marker: the handle was bound with `s.read`; tasks may only read it.
#[derive(Clone, Copy, Debug)]
pub struct ReadOnly;
/// Marker: the handle was bound with `s.write`; tasks may read and write it.
#[derive(Clone, Copy, Debug)]
pub struct Mutable;

/// The dimensions a handle can have (1-D and 2-D).
pub trait HandleDim: Dimension {}
impl HandleDim for Ix1 {}
impl HandleDim for Ix2 {}

/// Ties a handle to its dimension, permission and region without owning any of them.
type Marker<'scope, D, P> = PhantomData<(fn() -> D, P, &'scope ())>;

/// A handle to (part of) an array bound in a `datadeps` region.
pub struct Handle<'scope, T, D, P> {
    object: &'scope Arc<DataObject>,
    parts: RawParts<T>,
    _marker: Marker<'scope, D, P>,
}

/// A handle made by `s.read(&a)`: usable with `In` only.
pub type ReadHandle<'scope, T, D> = Handle<'scope, T, D, ReadOnly>;
/// A handle made by `s.write(&mut a)`: usable with every mode.
pub type WriteHandle<'scope, T, D> = Handle<'scope, T, D, Mutable>;

impl<T, D, P> Clone for Handle<'_, T, D, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, D, P> Copy for Handle<'_, T, D, P> {}

impl<T, D, P> fmt::Debug for Handle<'_, T, D, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("shape", &&self.parts.len[..self.parts.ndim])
            .field("rows", &self.parts.axes[0])
            .field("cols", &self.parts.axes[1])
            .finish()
    }
}

impl<'scope, T, D: HandleDim, P> Handle<'scope, T, D, P> {
    pub(crate) fn new(object: &'scope Arc<DataObject>, parts: RawParts<T>) -> Self {
        Handle {
            object,
            parts,
            _marker: PhantomData,
        }
    }

    /// The shape of the view a task would receive.
    pub fn shape(&self) -> &[usize] {
        &self.parts.len[..self.parts.ndim]
    }

    /// A handle to a part of this one, with `ndarray`'s slicing syntax (`s![2..8, ..;2]`,
    /// negative indices, single indices that drop an axis). Overlap between parts is
    /// tracked exactly, so tasks on disjoint slices run in parallel.
    ///
    /// Panics like `ndarray`'s `slice` on an out-of-bounds range or a zero step.
    #[track_caller]
    pub fn slice<I>(&self, info: I) -> Handle<'scope, T, I::OutDim, P>
    where
        I: SliceArg<D>,
        I::OutDim: HandleDim,
    {
        let parts = self.parts.slice(info.as_ref(), info.in_ndim(), info.out_ndim());
        Handle::new(self.object, parts)
    }
}

impl<T, D, P> Sealed for Handle<'_, T, D, P> {}

impl<T: Send + Sync + 'static, D: HandleDim, P> AccessTarget for Handle<'_, T, D, P> {
    type Elem = T;
    type Dim = D;
    fn into_object(self) -> ObjectRef {
        // The region outlives every task on its handles (it waits for them) and drops the
        // object only after that: the record need not keep it alive.
        ObjectRef::Scoped(std::ptr::NonNull::from(&**self.object))
    }
    fn parts(&self) -> RawParts<T> {
        self.parts
    }
}

impl<T: Send + Sync + 'static, D: HandleDim, P> ReadTarget for Handle<'_, T, D, P> {}
impl<T: Send + Sync + 'static, D: HandleDim> WriteTarget for Handle<'_, T, D, Mutable> {}
