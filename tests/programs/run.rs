//! Running a program: serially on plain vectors (the reference) and through `datadeps`.

use std::time::Duration;

use super::*;
use mosaic::datadeps::{Handle, Mutable, ReadOnly, ScopedFuture, TriangularView, TriangularViewMut};

// ---------------------------------------------------------------------------------------
// The reference: the same tasks, in a given order, on plain vectors
// ---------------------------------------------------------------------------------------

pub(crate) fn run_reference(p: &Program, order: &[usize]) -> State {
    let mut st = p.init.clone();
    for &ti in order {
        let t = &p.tasks[ti];
        let (mut sum, mut count) = (0.0, 0usize);
        for acc in t.accs.iter().filter(|a| a.class.mode() == Mode::In) {
            let data = st.array(acc.sel.arr());
            for &(_, e) in &acc.elems {
                sum += data[e];
                count += 1;
            }
        }
        let mean = if count == 0 { 0.0 } else { sum / count as f64 };
        for (k, acc) in t.accs.iter().enumerate() {
            let mode = acc.class.mode();
            if mode.writes() {
                let data = st.array(acc.sel.arr());
                for &(lin, e) in &acc.elems {
                    data[e] = t.update(k, mode, data[e], lin, mean);
                }
            }
        }
        st.means[ti] = mean;
    }
    st
}

// ---------------------------------------------------------------------------------------
// The runtime side
// ---------------------------------------------------------------------------------------

/// The views a task can receive, behind one type.
pub(crate) enum AnyView<'t> {
    R1(ArrayView1<'t, f64>),
    W1(ArrayViewMut1<'t, f64>),
    R2(ArrayView2<'t, f64>),
    W2(ArrayViewMut2<'t, f64>),
    RT(TriangularView<'t, f64>),
    WT(TriangularViewMut<'t, f64>),
}

pub(crate) trait IntoAny<'t> {
    fn into_any(self) -> AnyView<'t>;
}

impl<'t> IntoAny<'t> for ArrayView1<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::R1(self)
    }
}
impl<'t> IntoAny<'t> for ArrayViewMut1<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::W1(self)
    }
}
impl<'t> IntoAny<'t> for ArrayView2<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::R2(self)
    }
}
impl<'t> IntoAny<'t> for ArrayViewMut2<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::W2(self)
    }
}
impl<'t> IntoAny<'t> for TriangularView<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::RT(self)
    }
}
impl<'t> IntoAny<'t> for TriangularViewMut<'t, f64> {
    fn into_any(self) -> AnyView<'t> {
        AnyView::WT(self)
    }
}

/// The body of every task: what `run_reference` does, on the views the runtime hands out.
pub(crate) fn run_task(t: &Task, mut views: Vec<AnyView<'_>>) -> f64 {
    if t.sleep_us > 0 {
        std::thread::sleep(Duration::from_micros(t.sleep_us));
    }
    let (mut sum, mut count) = (0.0, 0usize);
    for (acc, view) in t.accs.iter().zip(&views) {
        if acc.class.mode() != Mode::In {
            continue;
        }
        match view {
            AnyView::R1(v) => {
                for k in 0..v.len() {
                    sum += v[k];
                    count += 1;
                }
            }
            AnyView::R2(v) => {
                for i in 0..v.nrows() {
                    for j in 0..v.ncols() {
                        sum += v[(i, j)];
                        count += 1;
                    }
                }
            }
            AnyView::RT(v) => {
                let (nr, nc) = v.dim();
                for i in 0..nr {
                    for j in 0..nc {
                        let got = v.get(i, j);
                        assert_eq!(
                            got.is_some(),
                            acc.class.part().admits(i, j),
                            "TriangularView::get({i}, {j})"
                        );
                        if let Some(x) = got {
                            sum += *x;
                            count += 1;
                        }
                    }
                }
            }
            AnyView::W1(_) | AnyView::W2(_) | AnyView::WT(_) => {
                panic!("an `In` access got a mutable view")
            }
        }
    }
    let mean = if count == 0 { 0.0 } else { sum / count as f64 };
    for (k, (acc, view)) in t.accs.iter().zip(views.iter_mut()).enumerate() {
        let mode = acc.class.mode();
        if !mode.writes() {
            continue;
        }
        let f = |old: f64, lin: usize| t.update(k, mode, old, lin, mean);
        match view {
            AnyView::W1(v) => {
                for i in 0..v.len() {
                    v[i] = f(v[i], i);
                }
            }
            AnyView::W2(v) => {
                let nc = v.ncols();
                for i in 0..v.nrows() {
                    for j in 0..nc {
                        v[(i, j)] = f(v[(i, j)], i * nc + j);
                    }
                }
            }
            AnyView::WT(v) => {
                let (nr, nc) = v.dim();
                if t.tri_get {
                    for i in 0..nr {
                        for j in 0..nc {
                            if let Some(x) = v.get_mut(i, j) {
                                *x = f(*x, i * nc + j);
                            }
                        }
                    }
                } else {
                    v.for_each_mut(|i, j, x| *x = f(*x, i * nc + j));
                }
            }
            AnyView::R1(_) | AnyView::R2(_) | AnyView::RT(_) => {
                panic!("a writing access got a read-only view")
            }
        }
    }
    mean
}

/// The handles of one region.
pub(crate) struct Handles<'s> {
    pub(crate) a: Option<Handle<'s, f64, Ix2, Mutable>>,
    pub(crate) b: Option<Handle<'s, f64, Ix1, Mutable>>,
    pub(crate) r: Option<Handle<'s, f64, Ix2, ReadOnly>>,
}

pub(crate) fn mat<'s, P>(
    h: Handle<'s, f64, Ix2, P>,
    slices: &[[SliceInfoElem; 2]],
) -> Handle<'s, f64, Ix2, P> {
    slices.iter().fold(h, |h, sl| h.slice(info2(sl)))
}

pub(crate) fn line<'s, P>(
    h: Handle<'s, f64, Ix2, P>,
    pre: &[[SliceInfoElem; 2]],
    index: &[SliceInfoElem; 2],
    post: &[SliceInfoElem],
) -> Handle<'s, f64, Ix1, P> {
    let l = mat(h, pre).slice(info_line(index));
    post.iter().fold(l, |h, sl| h.slice(info1(sl)))
}

impl<'s> Handles<'s> {
    pub(crate) fn w2(&self, sel: &Sel) -> Handle<'s, f64, Ix2, Mutable> {
        match sel {
            Sel::Mat { arr: Arr::A, slices } => mat(self.a.expect("A bound"), slices),
            other => panic!("not a 2-D target of A: {other:?}"),
        }
    }

    pub(crate) fn w1(&self, sel: &Sel) -> Handle<'s, f64, Ix1, Mutable> {
        match sel {
            Sel::Vector { slices } => slices
                .iter()
                .fold(self.b.expect("B bound"), |h, sl| h.slice(info1(sl))),
            Sel::Line {
                arr: Arr::A,
                pre,
                index,
                post,
            } => line(self.a.expect("A bound"), pre, index, post),
            other => panic!("not a 1-D writable target: {other:?}"),
        }
    }

    pub(crate) fn r2(&self, sel: &Sel) -> Handle<'s, f64, Ix2, ReadOnly> {
        match sel {
            Sel::Mat { arr: Arr::R, slices } => mat(self.r.expect("R bound"), slices),
            other => panic!("not a 2-D target of R: {other:?}"),
        }
    }

    pub(crate) fn r1(&self, sel: &Sel) -> Handle<'s, f64, Ix1, ReadOnly> {
        match sel {
            Sel::Line {
                arr: Arr::R,
                pre,
                index,
                post,
            } => line(self.r.expect("R bound"), pre, index, post),
            other => panic!("not a line of R: {other:?}"),
        }
    }
}

/// The access of one class, built from the handles `h` and a selection.
macro_rules! make {
    (InW1, $h:ident, $s:expr) => {
        In($h.w1($s))
    };
    (InOutW1, $h:ident, $s:expr) => {
        InOut($h.w1($s))
    };
    (OutW1, $h:ident, $s:expr) => {
        Out($h.w1($s))
    };
    (InW2, $h:ident, $s:expr) => {
        In($h.w2($s))
    };
    (InOutW2, $h:ident, $s:expr) => {
        InOut($h.w2($s))
    };
    (OutW2, $h:ident, $s:expr) => {
        Out($h.w2($s))
    };
    (InUp, $h:ident, $s:expr) => {
        In(UpperTriangular($h.w2($s)))
    };
    (InOutUp, $h:ident, $s:expr) => {
        InOut(UpperTriangular($h.w2($s)))
    };
    (OutUp, $h:ident, $s:expr) => {
        Out(UpperTriangular($h.w2($s)))
    };
    (InLo, $h:ident, $s:expr) => {
        In(LowerTriangular($h.w2($s)))
    };
    (InOutLo, $h:ident, $s:expr) => {
        InOut(LowerTriangular($h.w2($s)))
    };
    (OutLo, $h:ident, $s:expr) => {
        Out(LowerTriangular($h.w2($s)))
    };
    (InUUp, $h:ident, $s:expr) => {
        In(UnitUpperTriangular($h.w2($s)))
    };
    (InOutUUp, $h:ident, $s:expr) => {
        InOut(UnitUpperTriangular($h.w2($s)))
    };
    (OutUUp, $h:ident, $s:expr) => {
        Out(UnitUpperTriangular($h.w2($s)))
    };
    (InULo, $h:ident, $s:expr) => {
        In(UnitLowerTriangular($h.w2($s)))
    };
    (InOutULo, $h:ident, $s:expr) => {
        InOut(UnitLowerTriangular($h.w2($s)))
    };
    (OutULo, $h:ident, $s:expr) => {
        Out(UnitLowerTriangular($h.w2($s)))
    };
    (InDiag, $h:ident, $s:expr) => {
        In(Diagonal($h.w2($s)))
    };
    (InOutDiag, $h:ident, $s:expr) => {
        InOut(Diagonal($h.w2($s)))
    };
    (OutDiag, $h:ident, $s:expr) => {
        Out(Diagonal($h.w2($s)))
    };
    (InR1, $h:ident, $s:expr) => {
        In($h.r1($s))
    };
    (InR2, $h:ident, $s:expr) => {
        In($h.r2($s))
    };
    (InUpR, $h:ident, $s:expr) => {
        In(UpperTriangular($h.r2($s)))
    };
    (InDiagR, $h:ident, $s:expr) => {
        In(Diagonal($h.r2($s)))
    };
}

/// Binds `$x` to the access described by `$acc`, whose class must be one of the listed
/// ones, and evaluates `$body` (once per listed class: each is a different type).
macro_rules! dispatch {
    ($h:ident, $acc:expr, [$($class:ident),*], |$x:ident| $body:expr) => {
        match $acc.class {
            $(Class::$class => {
                let $x = make!($class, $h, &$acc.sel);
                $body
            })*
            #[allow(unreachable_patterns)]
            other => panic!("class {other:?} cannot be used in this position"),
        }
    };
}

/// Backing storage of one 2-D array in a given layout; `view_mut` shows it in logical
/// order.
pub(crate) struct Mat2 {
    pub(crate) buf: Array2<f64>,
    pub(crate) layout: Layout,
}

impl Mat2 {
    pub(crate) fn new(shape: (usize, usize), data: &[f64], layout: Layout) -> Self {
        let (r, c) = shape;
        let logical = |i: usize, j: usize| data[i * c + j];
        let buf = match layout {
            Layout::C => Array2::from_shape_fn((r, c), |(i, j)| logical(i, j)),
            Layout::F => Array2::from_shape_fn((r, c).f(), |(i, j)| logical(i, j)),
            Layout::Reversed => Array2::from_shape_fn((r, c), |(i, j)| logical(r - 1 - i, c - 1 - j)),
        };
        Mat2 { buf, layout }
    }

    pub(crate) fn view_mut(&mut self) -> ArrayViewMut2<'_, f64> {
        match self.layout {
            Layout::Reversed => self.buf.slice_mut(s![..;-1, ..;-1]),
            Layout::C | Layout::F => self.buf.view_mut(),
        }
    }

    pub(crate) fn logical(&mut self) -> Vec<f64> {
        self.view_mut().iter().copied().collect()
    }
}

/// Backing storage of the 1-D array.
pub(crate) struct Vec1 {
    pub(crate) buf: Array1<f64>,
    pub(crate) layout: Layout,
}

impl Vec1 {
    pub(crate) fn new(data: &[f64], layout: Layout) -> Self {
        let n = data.len();
        let buf = match layout {
            Layout::C => Array1::from_vec(data.to_vec()),
            Layout::F => Array1::from_shape_fn(2 * n, |k| if k % 2 == 0 { data[k / 2] } else { f64::NAN }),
            Layout::Reversed => Array1::from_shape_fn(n, |k| data[n - 1 - k]),
        };
        Vec1 { buf, layout }
    }

    pub(crate) fn view_mut(&mut self) -> ArrayViewMut1<'_, f64> {
        match self.layout {
            Layout::C => self.buf.view_mut(),
            Layout::F => self.buf.slice_mut(s![..;2]),
            Layout::Reversed => self.buf.slice_mut(s![..;-1]),
        }
    }

    pub(crate) fn logical(&mut self) -> Vec<f64> {
        self.view_mut().iter().copied().collect()
    }
}

pub(crate) fn run_runtime(p: &Program) -> State {
    let mut a = p.a.map(|shape| Mat2::new(shape, &p.init.a, p.layouts[0]));
    let mut b = p.b.map(|_| Vec1::new(&p.init.b, p.layouts[1]));
    let mut r = p.r.map(|shape| Mat2::new(shape, &p.init.r, p.layouts[2]));
    let means = {
        let mut av = a.as_mut().map(Mat2::view_mut);
        let mut bv = b.as_mut().map(Vec1::view_mut);
        let rv = r.as_mut().map(Mat2::view_mut);
        datadeps(|s| {
            let h = Handles {
                a: av.as_mut().map(|v| s.write(v)),
                b: bv.as_mut().map(|v| s.write(v)),
                r: rv.as_ref().map(|v| s.read(v)),
            };
            let mut futs: Vec<ScopedFuture<'_, f64>> = Vec::with_capacity(p.tasks.len());
            for t in &p.tasks {
                let opts = TaskOptions::default().priority(t.priority);
                let accs = &t.accs;
                match accs.len() {
                    1 => dispatch!(
                        h,
                        accs[0],
                        [
                            InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo,
                            OutLo, InUUp, InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag,
                            OutDiag, InR1, InR2, InUpR, InDiagR
                        ],
                        |x| futs.push(s.spawn_with(opts, (x,), move |(x,)| run_task(t, vec![x.into_any()])))
                    ),
                    2 => dispatch!(
                        h,
                        accs[0],
                        [
                            InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InUp, InOutUp, OutUp, InLo, InOutLo,
                            OutLo, InUUp, InOutUUp, OutUUp, InULo, InOutULo, OutULo, InDiag, InOutDiag,
                            OutDiag, InR1, InR2, InUpR, InDiagR
                        ],
                        |x| dispatch!(
                            h,
                            accs[1],
                            [InW1, InOutW1, OutW1, InW2, InOutW2, OutW2, InOutULo, InUp, InR2],
                            |y| futs.push(s.spawn_with(opts, (x, y), move |(x, y)| {
                                run_task(t, vec![x.into_any(), y.into_any()])
                            }))
                        )
                    ),
                    3 => dispatch!(h, accs[0], [InOutW2, OutW2, InOutUp, InOutW1], |x| {
                        dispatch!(h, accs[1], [InW2, InW1, InOutW1], |y| {
                            dispatch!(h, accs[2], [InW2, InR2, OutW1], |z| {
                                futs.push(s.spawn_with(opts, (x, y, z), move |(x, y, z)| {
                                    run_task(t, vec![x.into_any(), y.into_any(), z.into_any()])
                                }))
                            })
                        })
                    }),
                    n => panic!("a task with {n} accesses"),
                }
            }
            futs.into_iter()
                .map(|f| f.wait().expect("no task of a random program fails"))
                .collect::<Vec<f64>>()
        })
    };
    State {
        a: a.as_mut().map_or_else(Vec::new, Mat2::logical),
        b: b.as_mut().map_or_else(Vec::new, Vec1::logical),
        r: r.as_mut().map_or_else(Vec::new, Mat2::logical),
        means,
    }
}

pub(crate) fn check_program(p: &Program) {
    let order: Vec<usize> = (0..p.tasks.len()).collect();
    let want = run_reference(p, &order);
    let got = run_runtime(p);
    if let Some(diff) = got.first_difference(&want) {
        panic!(
            "seed {}: datadeps differs from serial execution at {diff}\nprogram: {} tasks, A {:?}, B {:?}, R {:?}, layouts {:?}\n{:#?}",
            p.seed,
            p.tasks.len(),
            p.a,
            p.b,
            p.r,
            p.layouts,
            p.tasks
        );
    }
}
