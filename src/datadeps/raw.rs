//! The raw material of a view: offset from the object's base, lengths and strides, plus
//! where each view axis sits in its data object (for footprints). No pointer: the base is
//! resolved by the runtime when the task starts, in the memory space it runs in.
//!
//! Handles and tiles keep their geometry here rather than in `ndarray` raw views so that
//! slicing can compute the object coordinates of the result next to the offset
//! arithmetic (the footprint must describe exactly the elements the view reaches).
//! The slicing rules are `ndarray`'s (`s![a..b;step]`, negative indices from the end,
//! `Index`, `NewAxis`), with the same panics.

use std::marker::PhantomData;
use std::ptr::NonNull;

use ndarray::{Axis as NdAxis, Dimension, ShapeBuilder, SliceInfoElem};

use crate::runtime::footprint::{Axis, Footprint, Mask};
use crate::runtime::graph::Geometry;

/// Offset, shape and strides of a 1-D or 2-D view of elements of `T`, and its place in the
/// object.
#[derive(Debug)]
pub struct RawParts<T> {
    /// Elements from the object's base to view index 0.
    pub(crate) offset: isize,
    pub(crate) ndim: usize,
    pub(crate) len: [usize; 2],
    pub(crate) stride: [isize; 2],
    /// The object axis each view axis walks along (`None`: an axis added by `NewAxis`).
    pub(crate) map: [Option<u8>; 2],
    /// Per object axis, the object coordinates the view covers.
    pub(crate) axes: [Axis; 2],
    /// The object's own shape (rows, cols; a 1-D object has cols = 1).
    pub(crate) object_dims: [usize; 2],
    pub(crate) elem: PhantomData<fn() -> T>,
}

impl<T> Clone for RawParts<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawParts<T> {}

impl<T> RawParts<T> {
    /// The whole of an object: an `ndim`-dimensional array at its base.
    pub(crate) fn whole(shape: &[usize], strides: &[isize]) -> Self {
        let ndim = shape.len();
        assert!(
            (1..=2).contains(&ndim),
            "datadeps binds 1-D and 2-D arrays, got {ndim}-D"
        );
        let mut len = [1, 1];
        let mut stride = [0, 0];
        len[..ndim].copy_from_slice(shape);
        stride[..ndim].copy_from_slice(strides);
        let map = [Some(0), if ndim == 2 { Some(1) } else { None }];
        let axes = [Axis::full(len[0]), Axis::full(len[1])];
        RawParts {
            offset: 0,
            ndim,
            len,
            stride,
            map,
            axes,
            object_dims: len,
            elem: PhantomData,
        }
    }

    /// What the runtime records of the view: offsets, lengths and strides, element size.
    pub(crate) fn geometry(&self) -> Geometry {
        Geometry {
            offset: self.offset,
            ndim: self.ndim,
            len: self.len,
            stride: self.stride,
            elem_size: std::mem::size_of::<T>(),
        }
    }

    /// The footprint of the view, masked by `mask` when given. A mask is exact when the
    /// view's two axes are the object's two axes in order; otherwise (a view with a
    /// `NewAxis`) the whole view is used, a conservative answer.
    pub(crate) fn footprint(&self, mask: Option<Mask>) -> Footprint {
        let exact_mask = self.ndim == 2 && self.map == [Some(0), Some(1)];
        let mask = mask.filter(|_| exact_mask);
        let whole = [0, 1]
            .iter()
            .all(|&a| self.axes[a] == Axis::full(self.object_dims[a]));
        if whole && mask.is_none() {
            Footprint::Whole
        } else {
            Footprint::Region {
                rows: self.axes[0],
                cols: self.axes[1],
                mask,
            }
        }
    }

    /// Applies one `ndarray` slice (`s![..]`) and returns the resulting parts, panicking
    /// like `ndarray` on an out-of-bounds index or a zero step.
    #[track_caller]
    pub(crate) fn slice(&self, info: &[SliceInfoElem], in_ndim: usize, out_ndim: usize) -> Self {
        assert_eq!(
            in_ndim, self.ndim,
            "the slice's input dimension must match the handle"
        );
        assert!(
            out_ndim <= 2,
            "datadeps views have at most 2 dimensions, the slice gives {out_ndim}"
        );
        let mut out = RawParts {
            ndim: 0,
            len: [1, 1],
            stride: [0, 0],
            map: [None, None],
            ..*self
        };
        let mut axis = 0;
        for elem in info {
            match *elem {
                SliceInfoElem::Slice { start, end, step } => {
                    out.push_sliced(self, axis, start, end, step);
                    axis += 1;
                }
                SliceInfoElem::Index(index) => {
                    out.collapse(self, axis, index);
                    axis += 1;
                }
                SliceInfoElem::NewAxis => out.push_axis(1, 0, None),
            }
        }
        out
    }

    fn push_axis(&mut self, len: usize, stride: isize, map: Option<u8>) {
        self.len[self.ndim] = len;
        self.stride[self.ndim] = stride;
        self.map[self.ndim] = map;
        self.ndim += 1;
    }

    #[track_caller]
    fn push_sliced(&mut self, from: &Self, axis: usize, start: isize, end: Option<isize>, step: isize) {
        let n = from.len[axis];
        let start = abs_index(n, start);
        let end = abs_index(n, end.unwrap_or(n as isize)).max(start);
        assert!(
            start <= n,
            "Slice begin {start} is past end of axis of length {n}"
        );
        assert!(end <= n, "Slice end {end} is past end of axis of length {n}");
        assert!(step != 0, "Slice stride must not be zero");
        let m = end - start;
        let first = if m == 0 {
            0
        } else if step < 0 {
            end - 1
        } else {
            start
        };
        let new_len = m.div_ceil(step.unsigned_abs());
        self.offset += first as isize * from.stride[axis];
        let map = from.map[axis];
        if let Some(a) = map {
            let a = a as usize;
            let ax = self.axes[a];
            self.axes[a] = Axis {
                origin: (ax.origin as isize + first as isize * ax.step) as usize,
                step: ax.step * step,
                len: new_len,
            };
        }
        self.push_axis(new_len, from.stride[axis] * step, map);
    }

    #[track_caller]
    fn collapse(&mut self, from: &Self, axis: usize, index: isize) {
        let n = from.len[axis];
        let i = abs_index(n, index);
        assert!(i < n, "index {index} is out of bounds for axis of length {n}");
        self.offset += i as isize * from.stride[axis];
        if let Some(a) = from.map[axis] {
            let a = a as usize;
            let ax = self.axes[a];
            self.axes[a] = Axis {
                origin: (ax.origin as isize + i as isize * ax.step) as usize,
                step: 1,
                len: 1,
            };
        }
    }
}

/// Shape and non-negative strides for `ndarray`, the pointer to the lowest-addressed
/// element (from `base`, the object's base in the task's memory space), and which axes
/// must be inverted afterwards to restore negative strides.
fn nd_layout<T, D: Dimension>(g: &Geometry, base: NonNull<u8>) -> (*mut T, D, D, [bool; 2]) {
    let mut dim = D::zeros(g.ndim);
    let mut strides = D::zeros(g.ndim);
    // Pointer arithmetic only (`wrapping_offset` never dereferences): the lowest element.
    let mut ptr = base.as_ptr().cast::<T>().wrapping_offset(g.offset);
    let mut flip = [false, false];
    for k in 0..g.ndim {
        dim[k] = g.len[k];
        let s = g.stride[k];
        if s < 0 && g.len[k] > 1 {
            ptr = ptr.wrapping_offset(s * (g.len[k] as isize - 1));
            flip[k] = true;
        }
        strides[k] = if g.len[k] > 1 { s.unsigned_abs() } else { 0 };
    }
    (ptr, dim, strides, flip)
}

/// The shape, if the view has no element: such views are made from an empty slice, with
/// `ndarray`'s own strides (its checks reject arbitrary strides on empty shapes).
fn empty_dim<D: Dimension>(g: &Geometry) -> Option<D> {
    if !g.len[..g.ndim].contains(&0) {
        return None;
    }
    let mut dim = D::zeros(g.ndim);
    for k in 0..g.ndim {
        dim[k] = g.len[k];
    }
    Some(dim)
}

/// A read-only view of the elements `g` describes, from the object's `base`.
///
/// # Safety
/// `base` is the base of a replica of the object the geometry was made for, holding
/// elements of `T`; the elements are live and initialised, and nobody writes them for `'t`.
pub(crate) unsafe fn view<'t, T, D: Dimension>(
    g: &Geometry,
    base: NonNull<u8>,
) -> ndarray::ArrayView<'t, T, D> {
    debug_assert_eq!(g.elem_size, std::mem::size_of::<T>());
    if let Some(dim) = empty_dim::<D>(g) {
        return ndarray::ArrayView::from_shape(dim, &[]).expect("an empty shape fits an empty slice");
    }
    let (ptr, dim, strides, flip) = nd_layout::<T, D>(g, base);
    // SAFETY: the caller guarantees the memory; strides are non-negative and `ptr` is
    // the lowest-addressed element, as `from_shape_ptr` requires.
    let mut v = unsafe { ndarray::ArrayView::from_shape_ptr(dim.strides(strides), ptr as *const T) };
    for (k, f) in flip.iter().enumerate().take(g.ndim) {
        if *f {
            v.invert_axis(NdAxis(k));
        }
    }
    v
}

/// A mutable view of the elements `g` describes, from the object's `base`.
///
/// # Safety
/// As for [`view`], and nobody else reads or writes the elements for `'t`; the view
/// reaches each element at most once.
pub(crate) unsafe fn view_mut<'t, T, D: Dimension>(
    g: &Geometry,
    base: NonNull<u8>,
) -> ndarray::ArrayViewMut<'t, T, D> {
    debug_assert_eq!(g.elem_size, std::mem::size_of::<T>());
    if let Some(dim) = empty_dim::<D>(g) {
        return ndarray::ArrayViewMut::from_shape(dim, &mut []).expect("an empty shape fits an empty slice");
    }
    let (ptr, dim, strides, flip) = nd_layout::<T, D>(g, base);
    // SAFETY: as in `view`, plus the caller's exclusivity guarantee.
    let mut v = unsafe { ndarray::ArrayViewMut::from_shape_ptr(dim.strides(strides), ptr) };
    for (k, f) in flip.iter().enumerate().take(g.ndim) {
        if *f {
            v.invert_axis(NdAxis(k));
        }
    }
    v
}

fn abs_index(len: usize, index: isize) -> usize {
    if index < 0 {
        len.wrapping_sub(index.unsigned_abs())
    } else {
        index as usize
    }
}
