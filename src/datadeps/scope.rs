//! Regions (`datadeps`), binding the user's arrays, and submitting tasks.

use std::any::type_name;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use ndarray::{ArrayBase, Data, DataMut};

use super::access::{check_self_conflicts, Accesses};
use super::future::{Outcome, ScopedFuture, Slot, SlotOwner, TaskFuture};
use super::handle::{Handle, HandleDim, ReadHandle, WriteHandle};
use super::raw::RawParts;
use crate::error::{panic_message, Error};
use crate::runtime::graph::access::Granted;
use crate::runtime::graph::task::{Job, Start, TaskCell, TaskHeader, TaskOptions, TaskRef};
use crate::runtime::graph::{AccessRecord, DataObject};
use crate::runtime::latch::Group;
use crate::runtime::memory::replica::HostStorage;
use crate::runtime::runtime;
use crate::runtime::sched::worker;
use crate::sync::Arc;

/// A `datadeps` region: binds the caller's arrays and spawns tasks on them.
///
/// `Scope` is not `Sync`, so tasks cannot capture it: a task that wants parallelism of
/// its own opens a nested region over its views.
pub struct Scope<'scope, 'env: 'scope> {
    group: Arc<Group>,
    /// The data objects of the bound arrays. Boxed so their addresses stay fixed while
    /// handles refer to them; dropped with the scope, after every task has finished (a
    /// task holds a clone of the `Arc` only until it finishes).
    #[allow(clippy::vec_box)] // the boxes are the point: pushing must not move the `Arc`s
    objects: RefCell<Vec<Box<std::sync::Arc<DataObject>>>>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("bound", &self.objects.borrow().len())
            .finish()
    }
}

/// Runs `f` with a region, then waits for every task spawned in it.
///
/// If a task panicked, the panic is re-raised here once all the region's other tasks are
/// done (unless it was observed through the task's [`ScopedFuture`]). If `f` itself
/// panics, its panic is re-raised after the region's tasks are done.
pub fn datadeps<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let rt = runtime();
    let scope = Scope {
        group: Arc::new(Group::new()),
        objects: RefCell::new(Vec::new()),
        scope: PhantomData,
        env: PhantomData,
    };
    let body = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.group.done();
    rt.wait(&scope.group.latch);
    let task_panic = scope.group.take_first_panic();
    match (body, task_panic) {
        (Err(payload), _) | (Ok(_), Some(payload)) => resume_unwind(payload),
        (Ok(r), None) => r,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// A data object for a user array of `len` elements of `T`, `rows` rows, at `base`.
    fn bind<T>(&'scope self, rows: usize, base: *mut T, len: usize) -> &'scope std::sync::Arc<DataObject> {
        let bytes = len * std::mem::size_of::<T>();
        let object = DataObject::on_host(rows, base.cast(), bytes, HostStorage::Borrowed);
        let object = Box::new(std::sync::Arc::new(object));
        let ptr: *const std::sync::Arc<DataObject> = &*object;
        self.objects.borrow_mut().push(object);
        // SAFETY: the box's contents never move and are dropped only with the scope, which
        // outlives `'scope` (`datadeps` drops it after `f`, whose borrow is `'scope`, returned).
        unsafe { &*ptr }
    }

    /// Binds `array` for reading: tasks may access the handle with `In` only.
    pub fn read<S, D>(&'scope self, array: &'scope ArrayBase<S, D>) -> ReadHandle<'scope, S::Elem, D>
    where
        S: Data,
        S::Elem: Send + Sync + 'static,
        D: HandleDim,
    {
        // The pointer is only ever turned into read-only views (`ReadHandle` implements
        // `ReadTarget` only), so casting away `const` never leads to a write.
        let parts = RawParts::whole(array.shape(), array.strides());
        let base = array.as_ptr() as *mut S::Elem;
        Handle::new(self.bind(parts.object_dims[0], base, array.len()), parts)
    }

    /// Binds `array` for reading and writing: tasks may access the handle with any mode.
    pub fn write<S, D>(&'scope self, array: &'scope mut ArrayBase<S, D>) -> WriteHandle<'scope, S::Elem, D>
    where
        S: DataMut,
        S::Elem: Send + Sync + 'static,
        D: HandleDim,
    {
        let mut view = array.view_mut();
        let parts = RawParts::whole(view.shape(), view.strides());
        let base = view.as_mut_ptr();
        Handle::new(self.bind(parts.object_dims[0], base, view.len()), parts)
    }

    /// Spawns a task with the declared `accesses`; `f` receives one view per access.
    /// Returns at once; the task runs when every earlier conflicting task has finished.
    ///
    /// Panics if two of the accesses overlap and one writes, or (inside a task) if the
    /// enclosing task holds data this one needs.
    #[track_caller]
    pub fn spawn<X, F, R>(&'scope self, accesses: X, f: F) -> ScopedFuture<'scope, R>
    where
        X: Accesses + 'scope,
        F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'scope,
        R: Send + 'scope,
    {
        self.spawn_with(TaskOptions::default(), accesses, f)
    }

    /// [`Scope::spawn`] with a name and a priority.
    #[track_caller]
    pub fn spawn_with<X, F, R>(
        &'scope self,
        options: TaskOptions,
        accesses: X,
        f: F,
    ) -> ScopedFuture<'scope, R>
    where
        X: Accesses + 'scope,
        F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'scope,
        R: Send + 'scope,
    {
        if self.group.over_limit() {
            worker::blocking(runtime(), || self.group.wait_below_resume());
        }
        let group = Some(self.group.clone());
        let name = options.name.unwrap_or_else(type_name::<F>);
        let body = on_host::<X, F, R>(f);
        let submitted = submit(
            TaskOptions {
                name: Some(name),
                ..options
            },
            accesses,
            body,
            group,
            HeldPolicy::Panic,
            false,
        );
        ScopedFuture {
            cell: submitted.cell,
            group: &self.group,
            task: submitted.id,
            name: submitted.name,
        }
    }
}

/// Spawns a task outside any region, on runtime-owned data (tiles). Returns a future;
/// dropping it detaches the task.
///
/// ```
/// use mosaic::prelude::*;
/// let t = mosaic::Tile::<f64>::zeros(3, 3);
/// spawn((Out(t.clone()),), |(mut v,)| v.fill(2.0));
/// let fut = spawn((In(t.clone()),), |(v,)| v.sum());
/// assert_eq!(fut.wait().unwrap(), 18.0);
/// ```
#[track_caller]
pub fn spawn<X, F, R>(accesses: X, f: F) -> TaskFuture<R>
where
    X: Accesses + 'static,
    F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_with(TaskOptions::default(), accesses, f)
}

/// [`spawn`] with a name and a priority.
#[track_caller]
pub fn spawn_with<X, F, R>(options: TaskOptions, accesses: X, f: F) -> TaskFuture<R>
where
    X: Accesses + 'static,
    F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'static,
    R: Send + 'static,
{
    let options = TaskOptions {
        name: Some(options.name.unwrap_or_else(type_name::<F>)),
        ..options
    };
    detached(options, accesses, on_host::<X, F, R>(f), false)
}

/// [`spawn_with`] for a caller that waits for the task at once: when the task's inputs are
/// ready at submission, it runs on the calling thread before this returns (no hand-off to a
/// worker and back, which costs more than a small kernel takes on a machine whose idle
/// cores sleep); otherwise a worker runs it when they are.
pub(crate) fn spawn_here<X, F, R>(options: TaskOptions, accesses: X, f: F) -> TaskFuture<R>
where
    X: Accesses + 'static,
    F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'static,
    R: Send + 'static,
{
    let options = TaskOptions {
        name: Some(options.name.unwrap_or_else(type_name::<F>)),
        ..options
    };
    detached(options, accesses, on_host::<X, F, R>(f), true)
}

/// Submits a task outside any region whose `body` runs on its granted accesses; `here`:
/// run it on the calling thread when it is ready at once (see [`spawn_here`]).
#[track_caller]
pub(super) fn detached<X, B, R>(options: TaskOptions, accesses: X, body: B, here: bool) -> TaskFuture<R>
where
    X: Accesses + 'static,
    B: FnOnce(&Granted<'_>) -> R + Send + 'static,
    R: Send + 'static,
{
    let submitted = submit(options, accesses, body, None, HeldPolicy::Record, here);
    TaskFuture {
        cell: submitted.cell,
        name: submitted.name,
        blocked_by: submitted.held,
    }
}

/// The body of a task that runs `f`, CPU code, on views of its accesses in host-addressable
/// memory (the placement never puts such a task on a CUDA device: `sched/placement.rs`).
pub(super) fn on_host<'a, X, F, R>(f: F) -> impl FnOnce(&Granted<'_>) -> R + Send + 'a
where
    X: Accesses,
    F: for<'t> FnOnce(X::Views<'t>) -> R + Send + 'a,
{
    move |granted: &Granted<'_>| {
        assert!(
            granted.exec.is_host(),
            "a task without a device body was started on a device"
        );
        // SAFETY: the runtime calls a task's body once, after every conflicting earlier
        // task has finished and before any conflicting later task starts, with the accesses
        // `declare` made acquired in the task's memory space (and released only after this
        // returns), so the views it makes are exclusive (or shared-read) for the call; that
        // space is host-addressable (checked above).
        let views = unsafe { X::views(granted) };
        f(views)
    }
}

/// What to do when a task spawned inside a running task needs data that task holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeldPolicy {
    /// A region would wait for it forever: refuse.
    Panic,
    /// A future may be a continuation that runs after the holder: remember, and refuse
    /// only a `wait` from inside the holder.
    Record,
}

struct Submitted<'a, R> {
    cell: std::sync::Arc<dyn SlotOwner<R> + 'a>,
    id: u64,
    name: &'static str,
    held: Option<(u64, &'static str)>,
}

/// Submits a task whose `body` runs on its granted accesses (options.name set).
#[track_caller]
fn submit<'a, X, B, R>(
    options: TaskOptions,
    accesses: X,
    body: B,
    group: Option<Arc<Group>>,
    policy: HeldPolicy,
    here: bool,
) -> Submitted<'a, R>
where
    X: Accesses,
    B: FnOnce(&Granted<'_>) -> R + Send + 'a,
    R: Send + 'a,
{
    let rt = runtime();
    let name = options.name.unwrap_or("task");
    let records = accesses.declare();
    check_self_conflicts(records.as_ref());
    let parent = worker::current_task();
    let held = parent.as_ref().and_then(|_| held_by_ancestor(records.as_ref()));
    if let (Some((_, holder)), HeldPolicy::Panic) = (held, policy) {
        panic!(
            "task `{name}` needs data held by the running task `{holder}` (the task that spawns \
             it, or one that task is nested in): it could never run before its region ends. \
             Bind the enclosing task's views in the nested region instead of its data."
        );
    }
    let id = rt.next_task_id();
    let job = move |header: &TaskHeader, slot: &Slot<R>, start: Start<'_>| -> bool {
        let granted = match start {
            Start::Run(granted) => granted,
            Start::Cancelled => {
                drop(body);
                if let Some(error) = header.resource_error() {
                    // Not run for want of memory or a spill file: the same error, so that
                    // every result of the program says what to change.
                    fail_in_region(header, || error.clone());
                    slot.finish(Outcome::Failed(error.clone()));
                    return true;
                }
                let cause = header.cause();
                fail_in_region(header, || {
                    // The region must not return as if this task had run: it re-raises this
                    // (after the panic that caused it, which was recorded first) unless the
                    // task's future observes the cancellation.
                    Error::DependencyFailed {
                        task: header.name.to_owned(),
                        cause: cause.clone(),
                    }
                });
                slot.finish(Outcome::Cancelled(cause));
                return true;
            }
            Start::Elsewhere(rank) => {
                drop(body);
                slot.finish(Outcome::Failed(Error::RanElsewhere {
                    task: header.name.to_owned(),
                    rank,
                }));
                return false;
            }
            Start::Failed(error) => {
                drop(body);
                header.set_cause(format!("task `{}` could not start: {error}", header.name));
                if matches!(error, Error::OutOfMemory { .. } | Error::File { .. }) {
                    header.set_resource_error(error.clone());
                }
                fail_in_region(header, || error.clone());
                slot.finish(Outcome::Failed(error));
                return true;
            }
        };
        match catch_unwind(AssertUnwindSafe(move || body(&granted))) {
            Ok(r) => {
                slot.finish(Outcome::Done(r));
                false
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                header.set_cause(format!("task `{}` panicked: {message}", header.name));
                if let Some(group) = &header.group {
                    group.record_panic(header.id, payload);
                }
                slot.finish(Outcome::Panicked(message));
                true
            }
        }
    };
    let mut header = TaskHeader::new(id, name, options.priority, group, parent);
    header.flops = options.flops;
    // An `on` scope places kernels; closures are CPU code wherever they are spawned.
    let scoped = || match options.kernel {
        true => crate::runtime::scoped_target(options.cuda),
        false => crate::runtime::Target::any(),
    };
    header.target = options.target.unwrap_or_else(scoped);
    header.kernel = options.kernel;
    header.follows_data = options.follows_data;
    header.cuda = options.cuda;
    header.in_place = options.in_place;
    let cell = std::sync::Arc::new(TaskCell::with_accesses(header, records, job, Slot::new()));
    let owner: std::sync::Arc<dyn SlotOwner<R> + 'a> = cell.clone();
    let cell: std::sync::Arc<dyn Job + 'a> = cell;
    // SAFETY: erasing `'a` is sound because nothing borrowed for `'a` is used after `'a`
    // ends: the job (with the body) is consumed by its single execution, and a
    // scoped task always executes before its region returns (the region waits for its
    // group, which counts the task); its result never stays in the cell once its future is
    // gone (see `Slot`), and the futures cannot outlive the region. A global task is
    // `'static`. The access records (which may point into bound arrays) are taken and
    // dropped by the thread that runs the task, before the region can end. What outlives
    // the region (history entries, successor lists) only touches the header.
    let task: TaskRef = unsafe { std::mem::transmute::<std::sync::Arc<dyn Job + 'a>, TaskRef>(cell) };
    rt.submit(task, here);
    Submitted {
        cell: owner,
        id,
        name,
        held,
    }
}

/// A task that fails without running: the region re-raises `error` at its end, unless the
/// task's future observes the failure.
fn fail_in_region(header: &TaskHeader, error: impl FnOnce() -> Error) {
    if let Some(group) = &header.group {
        group.record_panic(header.id, Box::new(error().to_string()));
    }
}

/// A task the submission is nested in (the running task or one enclosing it) that holds
/// data one of `decls` conflicts with.
fn held_by_ancestor(decls: &[AccessRecord]) -> Option<(u64, &'static str)> {
    let ancestors = worker::ancestor_ids();
    decls
        .iter()
        .find_map(|d| d.object.held_by(d.mode, &d.footprint, &ancestors))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::datadeps::{In, InOut};
    use crate::Tile;
    use std::sync::mpsc;

    #[test]
    fn spawn_here_runs_a_ready_task_on_the_caller_and_a_waiting_one_after_its_writer() {
        let tile = Tile::<f64>::filled(2, 2, 2, 1.0);
        let caller = std::thread::current().id();
        let ran_on = spawn_here(TaskOptions::named("ready"), (In(tile.clone()),), |_| {
            std::thread::current().id()
        });
        assert!(ran_on.is_finished(), "ran before spawn_here returned");
        assert_eq!(ran_on.wait().unwrap(), caller);

        // A writer held back by a channel: the reader cannot run here, and must see its write.
        let (go, gate) = mpsc::channel::<()>();
        let writer = spawn_with(
            TaskOptions::named("writer"),
            (InOut(tile.clone()),),
            move |(mut t,)| {
                gate.recv().unwrap();
                t.fill(5.0);
            },
        );
        let reader = spawn_here(TaskOptions::named("reader"), (In(tile.clone()),), |(t,)| {
            (std::thread::current().id(), t[(1, 1)])
        });
        assert!(!reader.is_finished(), "the reader waits for the writer");
        go.send(()).unwrap();
        // Once the writer has finished, a worker runs the reader, or this thread does while
        // it waits (in place of an idle worker); either way after the write.
        let (_, value) = reader.wait().unwrap();
        assert_eq!(value, 5.0);
        writer.wait().unwrap();
    }

    #[test]
    fn spawn_here_reports_a_panic_like_any_task() {
        let tile = Tile::<f64>::filled(1, 1, 1, 0.0);
        let f = spawn_here(TaskOptions::named("boom"), (InOut(tile.clone()),), |_| -> () {
            panic!("boom")
        });
        let err = f.wait().unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        // Later readers of what it wrote are cancelled, not handed garbage.
        assert!(tile.to_ndarray().is_err());
    }
}
