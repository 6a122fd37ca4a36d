//! Results of spawned tasks: [`ScopedFuture`] inside a region, [`TaskFuture`] outside.

use std::fmt;

use crate::error::{Error, Result};
use crate::runtime::latch::{Group, Latch};
use std::sync::Arc as StdArc;

use crate::runtime::graph::task::{Payload, TaskCell};
use crate::runtime::runtime;
use crate::runtime::sched::worker;
use crate::sync::{lock, Mutex};

/// How a task ended.
pub(crate) enum Outcome<R> {
    Pending,
    Done(R),
    Panicked(String),
    /// Cancelled; the root failure's description.
    Cancelled(String),
    /// Could not start: an access could not be granted.
    Failed(Error),
    Taken,
}

/// Where a task leaves its result, and the latch its waiters wait on. It lives in the
/// task's own allocation (the task cell's payload), shared with the task's future.
///
/// The task's allocation can outlive its region (a tile's history may still refer to
/// it), while a scoped result may borrow from the region. So a result must never sit in
/// the slot once the future is gone: the job drops its result at once when the future was
/// dropped first, and a dropped future drops a result that arrived before. Both decide
/// under the slot's lock, so when a region has waited for its tasks, and its futures (which
/// cannot leave the region) are gone, no result of it is left anywhere.
pub(crate) struct Slot<R> {
    state: Mutex<SlotState<R>>,
    latch: Latch,
}

struct SlotState<R> {
    outcome: Outcome<R>,
    future_alive: bool,
}

impl<R> Slot<R> {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(SlotState {
                outcome: Outcome::Pending,
                future_alive: true,
            }),
            latch: Latch::new(),
        }
    }

    /// Records the outcome (or drops it, if nobody will read it). Waiters wake when the
    /// runtime is done with the task ([`Payload::completed`]).
    pub(crate) fn finish(&self, outcome: Outcome<R>) {
        let unread = {
            let mut state = lock(&self.state);
            if state.future_alive {
                state.outcome = outcome;
                None
            } else {
                Some(outcome)
            }
        };
        drop(unread);
    }

    fn wait(&self) -> Outcome<R> {
        runtime().wait(&self.latch);
        std::mem::replace(&mut lock(&self.state).outcome, Outcome::Taken)
    }

    fn is_finished(&self) -> bool {
        self.latch.probe()
    }

    /// The future is gone: drop a result already there, and have `finish` drop a later one.
    fn abandon(&self) {
        let unread = {
            let mut state = lock(&self.state);
            state.future_alive = false;
            std::mem::replace(&mut state.outcome, Outcome::Taken)
        };
        drop(unread);
    }
}

impl<R: Send> Payload for Slot<R> {
    fn completed(&self) {
        self.latch.set();
    }
}

/// A task allocation seen from its future: just the result slot.
pub(crate) trait SlotOwner<R>: Send + Sync {
    fn slot(&self) -> &Slot<R>;
}

impl<J: Send, R: Send, A: Send> SlotOwner<R> for TaskCell<J, Slot<R>, A> {
    fn slot(&self) -> &Slot<R> {
        self.payload()
    }
}

fn into_result<R>(outcome: Outcome<R>, task: &str) -> Result<R> {
    match outcome {
        Outcome::Done(r) => Ok(r),
        Outcome::Panicked(message) => Err(Error::TaskPanicked {
            task: task.to_owned(),
            message,
        }),
        Outcome::Cancelled(cause) => Err(Error::DependencyFailed {
            task: task.to_owned(),
            cause,
        }),
        Outcome::Failed(error) => Err(error),
        Outcome::Pending | Outcome::Taken => unreachable!("a finished task's slot is read once"),
    }
}

/// The result of a task spawned in a region. Waiting is optional: the region waits for
/// every task anyway. A panic or cancellation observed through [`ScopedFuture::wait`] is
/// not re-raised by the region (like `std::thread::ScopedJoinHandle::join`).
pub struct ScopedFuture<'scope, R> {
    pub(crate) cell: StdArc<dyn SlotOwner<R> + 'scope>,
    pub(crate) group: &'scope Group,
    pub(crate) task: u64,
    pub(crate) name: &'static str,
}

impl<R> ScopedFuture<'_, R> {
    /// Waits for the task and returns its result; `Err(TaskPanicked)` if it panicked,
    /// `Err(DependencyFailed)` if it was cancelled because an input was written by a
    /// failed task.
    pub fn wait(self) -> Result<R> {
        let outcome = self.cell.slot().wait();
        if matches!(
            outcome,
            Outcome::Panicked(_) | Outcome::Cancelled(_) | Outcome::Failed(_)
        ) {
            // Observed here, so the region does not re-raise it.
            drop(self.group.take_panic(self.task));
        }
        into_result(outcome, self.name)
    }

    /// Has the task finished?
    pub fn is_finished(&self) -> bool {
        self.cell.slot().is_finished()
    }
}

impl<R> fmt::Debug for ScopedFuture<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedFuture")
            .field("task", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// The result of a task spawned outside any region with [`spawn`](super::spawn).
/// Dropping it detaches the task: it still runs, and its result is dropped.
pub struct TaskFuture<R> {
    pub(crate) cell: StdArc<dyn SlotOwner<R>>,
    pub(crate) name: &'static str,
    /// A task this one is nested in (the spawning task or one enclosing it) that holds
    /// data this task accesses: waiting for this task inside that one would never return.
    pub(crate) blocked_by: Option<(u64, &'static str)>,
}

impl<R> TaskFuture<R> {
    /// Waits for the task and returns its result; `Err(TaskPanicked)` if it panicked,
    /// `Err(DependencyFailed)` if an input was written by a failed task, and
    /// `Err(WouldDeadlock)` (without waiting) when called inside a task that holds data
    /// this task needs.
    ///
    /// While it waits, a thread outside the worker pool may run ready tasks that it
    /// submitted itself, when a worker is idle (a small task then costs no thread
    /// hand-off): do not hold a lock while waiting that one of your own pending tasks
    /// takes.
    pub fn wait(self) -> Result<R> {
        if let Some((holder, holder_name)) = self.blocked_by {
            if worker::ancestor_ids().contains(&holder) {
                return Err(Error::WouldDeadlock {
                    task: self.name.to_owned(),
                    holder: holder_name.to_owned(),
                });
            }
        }
        into_result(self.cell.slot().wait(), self.name)
    }

    /// Has the task finished?
    pub fn is_finished(&self) -> bool {
        self.cell.slot().is_finished()
    }
}

impl<R> fmt::Debug for TaskFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFuture")
            .field("task", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<R> Drop for ScopedFuture<'_, R> {
    fn drop(&mut self) {
        self.cell.slot().abandon();
    }
}

impl<R> Drop for TaskFuture<R> {
    fn drop(&mut self) {
        self.cell.slot().abandon();
    }
}

/// loom models of the result slot (run with the runtime's, see `runtime::loom_models`).
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    use super::{lock, Outcome, Payload, Slot};
    use crate::runtime::loom_models::model;

    /// A result that counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A future dropped while its task finishes: the result is dropped exactly once,
    /// and never left in the slot (where it could outlive the data it borrows).
    #[test]
    fn loom_slot_result_dropped_once_when_the_future_is_dropped() {
        model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let slot = Arc::new(Slot::<Counted>::new());
            let finisher = {
                let (slot, drops) = (slot.clone(), drops.clone());
                thread::spawn(move || slot.finish(Outcome::Done(Counted(drops))))
            };
            slot.abandon();
            finisher.join().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            assert!(matches!(lock(&slot.state).outcome, Outcome::Taken));
        });
    }

    /// A waiter blocked on the slot's latch finds the outcome recorded before the task
    /// completed.
    #[test]
    fn loom_slot_waiter_sees_the_result() {
        model(|| {
            let slot = Arc::new(Slot::<u32>::new());
            let task = {
                let slot = slot.clone();
                thread::spawn(move || {
                    slot.finish(Outcome::Done(7));
                    slot.completed();
                })
            };
            slot.latch.block();
            let got = std::mem::replace(&mut lock(&slot.state).outcome, Outcome::Taken);
            assert!(matches!(got, Outcome::Done(7)));
            task.join().unwrap();
        });
    }
}
