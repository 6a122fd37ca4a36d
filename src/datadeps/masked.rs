//! Triangular and diagonal parts of a 2-D target, and the views that keep a task inside
//! them.
//!
//! `InOut(UpperTriangular(m))` declares only the upper triangle (with the diagonal) of
//! `m`, so a task on `UnitLowerTriangular(m)` (the strictly lower part) can run at the
//! same time. For that to be sound the task must not be able to touch the other part: it
//! receives a [`TriangularViewMut`], whose safe methods reach only elements inside the
//! mask. The full underlying view is available through an `unsafe` method whose contract
//! says so. A [`Diagonal`] access receives the diagonal itself as a 1-D view.
//!
//! The same wrappers name triangular operands of the linear-algebra API (`ldiv`).

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

/// The upper triangle, diagonal included.
#[derive(Clone, Copy, Debug)]
pub struct UpperTriangular<H>(pub H);
/// The lower triangle, diagonal included.
#[derive(Clone, Copy, Debug)]
pub struct LowerTriangular<H>(pub H);
/// The strictly upper triangle: the diagonal is implicitly one and not touched.
#[derive(Clone, Copy, Debug)]
pub struct UnitUpperTriangular<H>(pub H);
/// The strictly lower triangle: the diagonal is implicitly one and not touched.
#[derive(Clone, Copy, Debug)]
pub struct UnitLowerTriangular<H>(pub H);
/// The diagonal.
#[derive(Clone, Copy, Debug)]
pub struct Diagonal<H>(pub H);

/// Which elements a triangular view reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriangularPart {
    /// `i <= j`.
    Upper,
    /// `i < j`.
    StrictUpper,
    /// `i >= j`.
    Lower,
    /// `i > j`.
    StrictLower,
}

impl TriangularPart {
    /// Is element `(i, j)` inside the part?
    #[inline]
    pub fn contains(self, i: usize, j: usize) -> bool {
        match self {
            TriangularPart::Upper => i <= j,
            TriangularPart::StrictUpper => i < j,
            TriangularPart::Lower => i >= j,
            TriangularPart::StrictLower => i > j,
        }
    }

    /// The rows of column `j` inside the part, for a view with `nrows` rows.
    #[inline]
    pub fn rows_of_column(self, j: usize, nrows: usize) -> std::ops::Range<usize> {
        let r = match self {
            TriangularPart::Upper => 0..j + 1,
            TriangularPart::StrictUpper => 0..j,
            TriangularPart::Lower => j..nrows,
            TriangularPart::StrictLower => j + 1..nrows,
        };
        r.start.min(nrows)..r.end.min(nrows)
    }

    /// The columns of row `i` inside the part, for a view with `ncols` columns.
    #[inline]
    pub fn cols_of_row(self, i: usize, ncols: usize) -> std::ops::Range<usize> {
        let r = match self {
            TriangularPart::Upper => i..ncols,
            TriangularPart::StrictUpper => i + 1..ncols,
            TriangularPart::Lower => 0..i + 1,
            TriangularPart::StrictLower => 0..i,
        };
        r.start.min(ncols)..r.end.min(ncols)
    }
}

/// A read-only view of a triangular part of a matrix.
#[derive(Clone, Copy, Debug)]
pub struct TriangularView<'a, T> {
    full: ArrayView2<'a, T>,
    part: TriangularPart,
}

impl<'a, T> TriangularView<'a, T> {
    /// # Safety
    /// The caller must hold read access to every element of `full` inside `part` for `'a`
    /// (elements outside it may be written concurrently and are never read through this).
    pub(crate) unsafe fn new(full: ArrayView2<'a, T>, part: TriangularPart) -> Self {
        TriangularView { full, part }
    }

    /// Shape of the underlying matrix.
    pub fn dim(&self) -> (usize, usize) {
        self.full.dim()
    }

    /// Which part this view reaches.
    pub fn part(&self) -> TriangularPart {
        self.part
    }

    /// Element `(i, j)` if it is inside the part and in bounds.
    pub fn get(&self, i: usize, j: usize) -> Option<&T> {
        if self.part.contains(i, j) {
            self.full.get((i, j))
        } else {
            None
        }
    }

    /// The part of column `j` inside the triangle (rows given by [`TriangularPart::rows_of_column`]).
    pub fn column(&self, j: usize) -> ArrayView1<'_, T> {
        let rows = self.part.rows_of_column(j, self.full.nrows());
        self.full.slice(ndarray::s![rows, j])
    }

    /// The part of row `i` inside the triangle (columns given by [`TriangularPart::cols_of_row`]).
    pub fn row(&self, i: usize) -> ArrayView1<'_, T> {
        let cols = self.part.cols_of_row(i, self.full.ncols());
        self.full.slice(ndarray::s![i, cols])
    }

    /// Visits every element inside the part with its indices, column by column.
    pub fn for_each(&self, mut f: impl FnMut(usize, usize, &T)) {
        for j in 0..self.full.ncols() {
            for i in self.part.rows_of_column(j, self.full.nrows()) {
                f(i, j, &self.full[(i, j)]);
            }
        }
    }

    /// A dense copy: the part's elements, `fill` elsewhere.
    pub fn to_dense(&self, fill: T) -> ndarray::Array2<T>
    where
        T: Clone,
    {
        let mut out = ndarray::Array2::from_elem(self.full.dim(), fill);
        self.for_each(|i, j, x| out[(i, j)] = x.clone());
        out
    }

    /// The whole underlying matrix, including elements outside the part.
    ///
    /// # Safety
    /// The caller must not read elements outside the part: other tasks may be writing
    /// them at the same time.
    pub unsafe fn full_view(&self) -> ArrayView2<'a, T> {
        self.full
    }
}

/// A mutable view of a triangular part of a matrix. Safe methods reach only elements
/// inside the part.
#[derive(Debug)]
pub struct TriangularViewMut<'a, T> {
    full: ArrayViewMut2<'a, T>,
    part: TriangularPart,
}

impl<'a, T> TriangularViewMut<'a, T> {
    /// # Safety
    /// The caller must hold exclusive access to every element of `full` inside `part` for
    /// `'a` (elements outside it may be used concurrently and are never touched through this).
    pub(crate) unsafe fn new(full: ArrayViewMut2<'a, T>, part: TriangularPart) -> Self {
        TriangularViewMut { full, part }
    }

    /// Shape of the underlying matrix.
    pub fn dim(&self) -> (usize, usize) {
        self.full.dim()
    }

    /// Which part this view reaches.
    pub fn part(&self) -> TriangularPart {
        self.part
    }

    /// A read-only view of the same part.
    pub fn view(&self) -> TriangularView<'_, T> {
        TriangularView {
            full: self.full.view(),
            part: self.part,
        }
    }

    /// Element `(i, j)` if it is inside the part and in bounds.
    pub fn get(&self, i: usize, j: usize) -> Option<&T> {
        if self.part.contains(i, j) {
            self.full.get((i, j))
        } else {
            None
        }
    }

    /// Element `(i, j)`, mutably, if it is inside the part and in bounds.
    pub fn get_mut(&mut self, i: usize, j: usize) -> Option<&mut T> {
        if self.part.contains(i, j) {
            self.full.get_mut((i, j))
        } else {
            None
        }
    }

    /// The part of column `j` inside the triangle, mutably.
    pub fn column_mut(&mut self, j: usize) -> ArrayViewMut1<'_, T> {
        let rows = self.part.rows_of_column(j, self.full.nrows());
        self.full.slice_mut(ndarray::s![rows, j])
    }

    /// The part of row `i` inside the triangle, mutably.
    pub fn row_mut(&mut self, i: usize) -> ArrayViewMut1<'_, T> {
        let cols = self.part.cols_of_row(i, self.full.ncols());
        self.full.slice_mut(ndarray::s![i, cols])
    }

    /// Visits every element inside the part with its indices, column by column.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(usize, usize, &mut T)) {
        let nrows = self.full.nrows();
        for j in 0..self.full.ncols() {
            for i in self.part.rows_of_column(j, nrows) {
                f(i, j, &mut self.full[(i, j)]);
            }
        }
    }

    /// Sets every element inside the part to `value`.
    pub fn fill(&mut self, value: T)
    where
        T: Clone,
    {
        self.for_each_mut(|_, _, x| *x = value.clone());
    }

    /// The whole underlying matrix, including elements outside the part.
    ///
    /// # Safety
    /// The caller must not read or write elements outside the part: other tasks may be
    /// using them at the same time.
    pub unsafe fn full_view_mut(&mut self) -> ArrayViewMut2<'_, T> {
        self.full.view_mut()
    }
}
