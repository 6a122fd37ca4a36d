//! Access modes (`In`, `Out`, `InOut`) and the traits that turn a tuple of accesses into
//! declarations for the tracker and, when the task runs, into views for its closure.

use ndarray::{ArrayView, ArrayView1, ArrayViewMut, ArrayViewMut1, Dimension, Ix2};

use super::masked::{
    Diagonal, LowerTriangular, TriangularPart, TriangularView, TriangularViewMut, UnitLowerTriangular,
    UnitUpperTriangular, UpperTriangular,
};
use super::raw::RawParts;
use crate::runtime::deps::{DataObject, Mode};
use crate::runtime::footprint::Mask;
use crate::runtime::{Decl, Decls};

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
pub trait Target: Sealed {
    /// The element type.
    type Elem: Send + Sync + 'static;
    /// The dimension of the views.
    type Dim: Dimension;
    #[doc(hidden)]
    /// What keeps the data alive while a task holds it (a tile's `Arc`; nothing for
    /// bound data, which the region keeps alive).
    type Keep: KeepAlive + 'static;
    #[doc(hidden)]
    fn object(&self) -> &DataObject;
    #[doc(hidden)]
    fn parts(&self) -> RawParts<Self::Elem>;
    #[doc(hidden)]
    fn keep(self) -> Self::Keep;
}

/// Keeps a target's data alive while a task holds it, and hears when the task runs
/// (where replicas are brought up to date).
#[doc(hidden)]
pub trait KeepAlive: Send {
    /// The task holding this is about to access the data with `mode`, on the host.
    fn on_access(&self, _mode: Mode) {}
}

impl KeepAlive for () {}

/// A target that tasks may read.
pub trait ReadTarget: Target {}
/// A target that tasks may write.
pub trait WriteTarget: ReadTarget {}

/// What a task carries to the thread that runs it, for one access.
#[doc(hidden)]
#[derive(Debug)]
pub struct RawAccess<T, K> {
    parts: RawParts<T>,
    keep: K,
}

// SAFETY: `RawAccess` only moves a pointer to the executing thread. The dependency tracker
// guarantees that while the task runs no other task writes what it reads or touches what
// it writes, and the view handed out has the element type's `Send`/`Sync` requirements
// (`T: Send + Sync` is a bound of every `Target`). `K` (keep-alive) is `Send` itself.
unsafe impl<T: Send + Sync, K: Send> Send for RawAccess<T, K> {}

fn raw<X: Target>(x: X) -> RawAccess<X::Elem, X::Keep> {
    RawAccess {
        parts: x.parts(),
        keep: x.keep(),
    }
}

/// One access of a task: a mode applied to a target (`In(h)`, `InOut(UpperTriangular(h))`, …).
pub trait Access: Sealed {
    /// The view the task's closure receives for this access.
    type View<'t>;
    #[doc(hidden)]
    type Raw: Send + 'static;
    #[doc(hidden)]
    fn declare(&self) -> Decl<'_>;
    #[doc(hidden)]
    fn into_raw(self) -> Self::Raw;
    #[doc(hidden)]
    /// # Safety
    /// Only called by the runtime, once, while the task holds the declared access. The
    /// view borrows `raw`, whose keep-alive holds the data until the task is done.
    unsafe fn view<'t>(raw: &'t Self::Raw) -> Self::View<'t>;
}

/// A tuple of accesses, `(In(a), InOut(b), …)`: what `spawn` takes.
pub trait Accesses: Sealed {
    /// The tuple of views the task's closure receives.
    type Views<'t>;
    #[doc(hidden)]
    type Raw: Send + 'static;
    #[doc(hidden)]
    fn declare<'a>(&'a self, out: &mut Decls<'a>);
    #[doc(hidden)]
    fn into_raw(self) -> Self::Raw;
    #[doc(hidden)]
    /// # Safety
    /// Only called by the runtime, once, while the task holds the declared accesses. The
    /// views borrow `raw`, whose keep-alives hold the data until the task is done.
    unsafe fn views<'t>(raw: &'t Self::Raw) -> Self::Views<'t>;
}

macro_rules! plain_access {
    ($mode:ident, $bound:ident, $m:expr, $view:ident, $make:ident) => {
        impl<X: $bound> Sealed for $mode<X> {}
        impl<X: $bound> Access for $mode<X> {
            type View<'t> = $view<'t, X::Elem, X::Dim>;
            type Raw = RawAccess<X::Elem, X::Keep>;
            fn declare(&self) -> Decl<'_> {
                Decl {
                    object: self.0.object(),
                    mode: $m,
                    footprint: self.0.parts().footprint(None),
                }
            }
            fn into_raw(self) -> Self::Raw {
                raw(self.0)
            }
            unsafe fn view<'t>(raw: &'t Self::Raw) -> Self::View<'t> {
                raw.keep.on_access($m);
                // SAFETY: the runtime calls this while the task holds the access the
                // declaration above describes, which covers every element of the view.
                unsafe { raw.parts.$make() }
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
            type Raw = RawAccess<X::Elem, X::Keep>;
            fn declare(&self) -> Decl<'_> {
                let target = &(self.0).0;
                Decl {
                    object: target.object(),
                    mode: $m,
                    footprint: target.parts().footprint(Some($mask)),
                }
            }
            fn into_raw(self) -> Self::Raw {
                raw((self.0).0)
            }
            unsafe fn view<'t>(raw: &'t Self::Raw) -> Self::View<'t> {
                raw.keep.on_access($m);
                // SAFETY: the task holds the masked footprint; the masked view type lets
                // safe code reach only the elements inside the mask.
                unsafe { $view::new(raw.parts.$make(), $part) }
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
            type Raw = RawAccess<X::Elem, X::Keep>;
            fn declare(&self) -> Decl<'_> {
                let target = &(self.0).0;
                Decl {
                    object: target.object(),
                    mode: $m,
                    footprint: target.parts().footprint(Some(Mask::Diagonal)),
                }
            }
            fn into_raw(self) -> Self::Raw {
                raw((self.0).0)
            }
            unsafe fn view<'t>(raw: &'t Self::Raw) -> Self::View<'t> {
                raw.keep.on_access($m);
                // SAFETY: the task holds the diagonal; the 1-D view reaches only it.
                unsafe { raw.parts.$make::<Ix2>() }.$diag()
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
            type Raw = ($($name::Raw,)+);
            fn declare<'a>(&'a self, out: &mut Decls<'a>) {
                $(out.push(self.$idx.declare());)+
            }
            fn into_raw(self) -> Self::Raw {
                ($(self.$idx.into_raw(),)+)
            }
            unsafe fn views<'t>(raw: &'t Self::Raw) -> Self::Views<'t> {
                // SAFETY: forwarded from the caller, access by access.
                unsafe { ($($name::view(&raw.$idx),)+) }
            }
        }
    };
}

impl Sealed for () {}
impl Accesses for () {
    type Views<'t> = ();
    type Raw = ();
    fn declare<'a>(&'a self, _out: &mut Decls<'a>) {}
    fn into_raw(self) -> Self::Raw {}
    unsafe fn views<'t>(_raw: &'t Self::Raw) -> Self::Views<'t> {}
}

/// A run-time number of accesses of one kind, `vec![InOut(a.tile(0, 0)), …]`: the closure
/// gets a `Vec` of views, in the same order. For tasks over a whole tile column.
impl<A: Access> Sealed for Vec<A> {}
impl<A: Access> Accesses for Vec<A> {
    type Views<'t> = Vec<A::View<'t>>;
    type Raw = Vec<A::Raw>;
    fn declare<'a>(&'a self, out: &mut Decls<'a>) {
        out.extend(self.iter().map(Access::declare));
    }
    fn into_raw(self) -> Self::Raw {
        self.into_iter().map(Access::into_raw).collect()
    }
    unsafe fn views<'t>(raw: &'t Self::Raw) -> Self::Views<'t> {
        // SAFETY: forwarded from the caller, access by access.
        raw.iter().map(|r| unsafe { A::view(r) }).collect()
    }
}

/// A `Vec` of accesses of one kind plus one more access: `(vec![InOut(..), …], In(b))`.
impl<A: Access, B: Access> Sealed for (Vec<A>, B) {}
impl<A: Access, B: Access> Accesses for (Vec<A>, B) {
    type Views<'t> = (Vec<A::View<'t>>, B::View<'t>);
    type Raw = (Vec<A::Raw>, B::Raw);
    fn declare<'a>(&'a self, out: &mut Decls<'a>) {
        out.extend(self.0.iter().map(Access::declare));
        out.push(self.1.declare());
    }
    fn into_raw(self) -> Self::Raw {
        (
            self.0.into_iter().map(Access::into_raw).collect(),
            self.1.into_raw(),
        )
    }
    unsafe fn views<'t>(raw: &'t Self::Raw) -> Self::Views<'t> {
        // SAFETY: forwarded from the caller, access by access.
        unsafe { (raw.0.iter().map(|r| A::view(r)).collect(), B::view(&raw.1)) }
    }
}

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
pub(crate) fn check_self_conflicts(decls: &[Decl<'_>]) {
    for (i, a) in decls.iter().enumerate() {
        for (j, b) in decls.iter().enumerate().skip(i + 1) {
            if std::ptr::eq(a.object, b.object)
                && a.mode.conflicts(b.mode)
                && a.footprint.overlaps(&b.footprint)
            {
                panic!(
                    "a task declares overlapping accesses #{i} ({:?}) and #{j} ({:?}) to the same data, \
                     and at least one writes: its views would alias",
                    a.mode, b.mode
                );
            }
        }
    }
}
