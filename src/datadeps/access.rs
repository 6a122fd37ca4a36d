//! Access modes (`In`, `Out`, `InOut`) and the traits that turn a tuple of accesses into
//! the runtime's access records (object, mode, footprint, geometry) and, when the task
//! runs, the records and their resolved base pointers into views for its closure.

use ndarray::{ArrayView, ArrayView1, ArrayViewMut, ArrayViewMut1, Dimension, Ix2};

use super::masked::{
    Diagonal, LowerTriangular, TriangularPart, TriangularView, TriangularViewMut, UnitLowerTriangular,
    UnitUpperTriangular, UpperTriangular,
};
use super::raw::{self, RawParts};
use crate::runtime::footprint::Mask;
use crate::runtime::graph::access::Granted;
use crate::runtime::graph::access::ObjectRef;
use crate::runtime::graph::{AccessRecord, Mode};

/// Read access: the task gets a read-only view (`ArrayView`). Also spelled [`Read`](super::Read).
#[derive(Clone, Copy, Debug)]
pub struct In<H>(pub H);

/// Write access: the task gets a mutable view (`ArrayViewMut`) and is expected to
/// overwrite what it declares; its previous contents are not guaranteed to mean anything.
/// Also spelled [`Write`](super::Write).
#[derive(Clone, Copy, Debug)]
pub struct Out<H>(pub H);

/// Read-write access: the task gets a mutable view (`ArrayViewMut`) of the current
/// contents. Also spelled [`ReadWrite`](super::ReadWrite).
#[derive(Clone, Copy, Debug)]
pub struct InOut<H>(pub H);

pub(crate) mod sealed {
    /// Keeps the access traits closed: the runtime's soundness rests on every
    /// implementation declaring exactly what its view reaches.
    pub trait Sealed {}
}
use sealed::Sealed;

/// Something a task can access: a bound handle (`s.read(&a)`, `s.write(&mut b)`, their
/// slices) or a runtime-owned [`Tile`](crate::Tile).
pub trait AccessTarget: Sealed {
    /// The element type.
    type Elem: Send + Sync + 'static;
    /// The dimension of the views.
    type Dim: Dimension;
    #[doc(hidden)]
    /// The data object the target is (part of), as an access record holds it (a tile's
    /// handle moves into it: no extra reference count).
    fn into_object(self) -> ObjectRef;
    #[doc(hidden)]
    /// Where the target's elements sit in the object.
    fn parts(&self) -> RawParts<Self::Elem>;
}

/// A target that tasks may read.
pub trait ReadTarget: AccessTarget {}
/// A target that tasks may write.
pub trait WriteTarget: ReadTarget {}

/// The runtime's record of one access of `mode` to `target`, with `mask`.
fn record<X: AccessTarget>(target: X, mode: Mode, mask: Option<Mask>) -> AccessRecord {
    let parts = target.parts();
    AccessRecord {
        object: target.into_object(),
        mode,
        footprint: parts.footprint(mask),
        geometry: parts.geometry(),
    }
}

/// One access of a task: a mode applied to a target (`In(h)`, `InOut(UpperTriangular(h))`, …).
pub trait Access: Sealed {
    /// The view the task's closure receives for this access.
    type View<'t>;
    #[doc(hidden)]
    /// The runtime's record of this access.
    fn declare(self) -> AccessRecord;
    #[doc(hidden)]
    /// # Safety
    /// Only called by the runtime, once, while the task holds the access `granted.accesses[i]`
    /// (this access's record) with `granted.bases[i]` acquired in the task's memory space.
    unsafe fn view<'t>(granted: &Granted<'t>, i: usize) -> Self::View<'t>;
}

/// A tuple of accesses, `(In(a), InOut(b), …)`: what `spawn` takes.
pub trait Accesses: Sealed {
    /// The tuple of views the task's closure receives.
    type Views<'t>;
    #[doc(hidden)]
    /// The records' container: an array for a tuple, a `Vec` for a run-time number.
    type Records: AsRef<[AccessRecord]> + Send + 'static;
    #[doc(hidden)]
    /// The runtime's records of the accesses, in order.
    fn declare(self) -> Self::Records;
    #[doc(hidden)]
    /// # Safety
    /// Only called by the runtime, once, while the task holds the accesses `declare` made,
    /// in the same order, with their bases acquired in the task's memory space.
    unsafe fn views<'t>(granted: &Granted<'t>) -> Self::Views<'t>;
}

macro_rules! plain_access {
    ($mode:ident, $bound:ident, $m:expr, $view:ident, $make:ident) => {
        impl<X: $bound> Sealed for $mode<X> {}
        impl<X: $bound> Access for $mode<X> {
            type View<'t> = $view<'t, X::Elem, X::Dim>;
            fn declare(self) -> AccessRecord {
                record(self.0, $m, None)
            }
            unsafe fn view<'t>(granted: &Granted<'t>, i: usize) -> Self::View<'t> {
                // SAFETY: the runtime calls this while the task holds the access the
                // declaration above describes, which covers every element of the view, and
                // the base is the object's in the task's space (the caller's contract).
                unsafe { raw::$make(&granted.accesses[i].geometry, granted.bases[i]) }
            }
        }
    };
}

plain_access!(In, ReadTarget, Mode::Read, ArrayView, view);
plain_access!(Out, WriteTarget, Mode::Write, ArrayViewMut, view_mut);
plain_access!(InOut, WriteTarget, Mode::ReadWrite, ArrayViewMut, view_mut);

macro_rules! masked_access {
    ($mode:ident, $bound:ident, $m:expr, $wrap:ident, $mask:expr, $part:expr, $view:ident, $make:ident) => {
        impl<X: $bound<Dim = Ix2>> Sealed for $mode<$wrap<X>> {}
        impl<X: $bound<Dim = Ix2>> Access for $mode<$wrap<X>> {
            type View<'t> = $view<'t, X::Elem>;
            fn declare(self) -> AccessRecord {
                record((self.0).0, $m, Some($mask))
            }
            unsafe fn view<'t>(granted: &Granted<'t>, i: usize) -> Self::View<'t> {
                // SAFETY: the task holds the masked footprint (the caller's contract); the
                // masked view type lets safe code reach only the elements inside the mask.
                unsafe {
                    $view::new(
                        raw::$make(&granted.accesses[i].geometry, granted.bases[i]),
                        $part,
                    )
                }
            }
        }
    };
}

macro_rules! masked_all_modes {
    ($wrap:ident, $mask:expr, $part:expr) => {
        masked_access!(
            In,
            ReadTarget,
            Mode::Read,
            $wrap,
            $mask,
            $part,
            TriangularView,
            view
        );
        masked_access!(
            Out,
            WriteTarget,
            Mode::Write,
            $wrap,
            $mask,
            $part,
            TriangularViewMut,
            view_mut
        );
        masked_access!(
            InOut,
            WriteTarget,
            Mode::ReadWrite,
            $wrap,
            $mask,
            $part,
            TriangularViewMut,
            view_mut
        );
    };
}

masked_all_modes!(UpperTriangular, Mask::Upper, TriangularPart::Upper);
masked_all_modes!(LowerTriangular, Mask::Lower, TriangularPart::Lower);
masked_all_modes!(
    UnitUpperTriangular,
    Mask::StrictUpper,
    TriangularPart::StrictUpper
);
masked_all_modes!(
    UnitLowerTriangular,
    Mask::StrictLower,
    TriangularPart::StrictLower
);

macro_rules! diagonal_access {
    ($mode:ident, $bound:ident, $m:expr, $view:ident, $make:ident, $diag:ident) => {
        impl<X: $bound<Dim = Ix2>> Sealed for $mode<Diagonal<X>> {}
        impl<X: $bound<Dim = Ix2>> Access for $mode<Diagonal<X>> {
            type View<'t> = $view<'t, X::Elem>;
            fn declare(self) -> AccessRecord {
                record((self.0).0, $m, Some(Mask::Diagonal))
            }
            unsafe fn view<'t>(granted: &Granted<'t>, i: usize) -> Self::View<'t> {
                // SAFETY: the task holds the diagonal (the caller's contract); the 1-D view
                // reaches only it.
                unsafe { raw::$make::<X::Elem, Ix2>(&granted.accesses[i].geometry, granted.bases[i]) }.$diag()
            }
        }
    };
}

diagonal_access!(In, ReadTarget, Mode::Read, ArrayView1, view, into_diag);
diagonal_access!(Out, WriteTarget, Mode::Write, ArrayViewMut1, view_mut, into_diag);
diagonal_access!(
    InOut,
    WriteTarget,
    Mode::ReadWrite,
    ArrayViewMut1,
    view_mut,
    into_diag
);

macro_rules! tuple_accesses {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Access),+> Sealed for ($($name,)+) {}
        impl<$($name: Access),+> Accesses for ($($name,)+) {
            type Views<'t> = ($($name::View<'t>,)+);
            type Records = [AccessRecord; [$($idx),+].len()];
            fn declare(self) -> Self::Records {
                [$(self.$idx.declare(),)+]
            }
            unsafe fn views<'t>(granted: &Granted<'t>) -> Self::Views<'t> {
                // SAFETY: forwarded from the caller, access by access (declared in order).
                unsafe { ($($name::view(granted, $idx),)+) }
            }
        }
    };
}

impl Sealed for () {}
impl Accesses for () {
    type Views<'t> = ();
    type Records = [AccessRecord; 0];
    fn declare(self) -> Self::Records {
        []
    }
    unsafe fn views<'t>(_granted: &Granted<'t>) -> Self::Views<'t> {}
}

/// A run-time number of accesses of one kind, `vec![InOut(a.tile(0, 0)), …]`: the closure
/// gets a `Vec` of views, in the same order. For tasks over a whole tile column.
impl<A: Access> Sealed for Vec<A> {}
impl<A: Access> Accesses for Vec<A> {
    type Views<'t> = Vec<A::View<'t>>;
    type Records = Vec<AccessRecord>;
    fn declare(self) -> Self::Records {
        self.into_iter().map(Access::declare).collect()
    }
    unsafe fn views<'t>(granted: &Granted<'t>) -> Self::Views<'t> {
        // SAFETY: forwarded from the caller, access by access: every record is one of
        // the vector's, in order.
        (0..granted.accesses.len())
            .map(|i| unsafe { A::view(granted, i) })
            .collect()
    }
}

/// A `Vec` of accesses of one kind plus a few more accesses, `(vec![InOut(..), …], In(b))`:
/// the closure gets the `Vec` of views, then one view per further access.
macro_rules! vec_then_accesses {
    ($($name:ident $idx:tt),+) => {
        impl<A: Access, $($name: Access),+> Sealed for (Vec<A>, $($name,)+) {}
        impl<A: Access, $($name: Access),+> Accesses for (Vec<A>, $($name,)+) {
            type Views<'t> = (Vec<A::View<'t>>, $($name::View<'t>,)+);
            type Records = Vec<AccessRecord>;
            fn declare(self) -> Self::Records {
                let mut records: Vec<AccessRecord> = self.0.into_iter().map(Access::declare).collect();
                $(records.push(self.$idx.declare());)+
                records
            }
            unsafe fn views<'t>(granted: &Granted<'t>) -> Self::Views<'t> {
                let many = granted.accesses.len() - [$($idx),+].len();
                // SAFETY: forwarded from the caller, access by access: the vector's records
                // come first, in order, then one record per further access, in order.
                unsafe {
                    (
                        (0..many).map(|i| A::view(granted, i)).collect(),
                        $($name::view(granted, many + $idx - 1),)+
                    )
                }
            }
        }
    };
}

vec_then_accesses!(B 1);
vec_then_accesses!(B 1, C 2, D 3);

tuple_accesses!(A 0);
tuple_accesses!(A 0, B 1);
tuple_accesses!(A 0, B 1, C 2);
tuple_accesses!(A 0, B 1, C 2, D 3);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_accesses!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// Panics if two accesses of one task overlap and one of them writes: the task would get
/// a mutable view aliasing another of its views.
#[track_caller]
pub(crate) fn check_self_conflicts(decls: &[AccessRecord]) {
    for (i, a) in decls.iter().enumerate() {
        for (j, b) in decls.iter().enumerate().skip(i + 1) {
            if a.object.same(&b.object) && a.mode.conflicts(b.mode) && a.footprint.overlaps(&b.footprint) {
                panic!(
                    "a task declares overlapping accesses #{i} ({:?}) and #{j} ({:?}) to the same data, \
                     and at least one writes: its views would alias",
                    a.mode, b.mode
                );
            }
        }
    }
}
