//! The dependency tracker: per data object, the history of accesses that later accesses
//! must order after; per task, a counter of unfinished predecessors.
//!
//! # Protocol
//! 1. The submitter creates the task with `pending = 1` (the submission guard).
//! 2. For each declared access it locks the object's history and, for every earlier
//!    entry whose footprint overlaps and where at least one of the two writes, calls
//!    [`add_dependency`]: under the predecessor's node lock, either the predecessor has
//!    finished (no edge) or the new task joins its successor list and `pending += 1`.
//! 3. The new access is appended to the history (`history.rs`). Entries of tasks that finished
//!    successfully are dropped on the way (nobody needs to wait for them), and so is
//!    every entry the new access writes over completely: later accesses that overlap it
//!    overlap the new one, which already orders after it.
//! 4. The submitter drops its guard with [`release`]; whoever brings `pending` to zero
//!    (the submitter or the last finishing predecessor) pushes the task to a ready queue.
//! 5. When a task finishes, [`complete`] marks its node finished and releases each
//!    successor once. If the task failed, successors that read what it wrote are marked
//!    *poisoned*: they will be cancelled instead of running on garbage, and fail in turn.
//!
//! Entries of failed tasks stay in the history until written over, so an access that
//! arrives after the failure is poisoned too (a finished predecessor still poisons).

use std::sync::atomic::Ordering;

use super::access::ObjectRef;
use super::task::{Status, TaskRef};
use crate::runtime::memory::replica::Contents;
use crate::runtime::memory::MemorySpace;
use crate::runtime::memory::{self, transfer};
use crate::sync::lock;

/// Makes `succ` wait for `pred` unless `pred` has finished. `poison`: `pred` writes data
/// `succ` reads, so a failure of `pred` must cancel `succ`.
pub(crate) fn add_dependency(succ: &TaskRef, pred: &TaskRef, poison: bool) {
    let (s, p) = (succ.header(), pred.header());
    if s.id == p.id {
        return;
    }
    #[cfg(not(loom))]
    crate::runtime::runtime().trace.edge(p.id, s.id);
    let mut node = lock(&p.node);
    if node.finished {
        if node.failed && poison {
            s.poison_from(p);
        }
        return;
    }
    if let Some(last) = node.successors.last_mut() {
        if last.0.header().id == s.id {
            last.1 |= poison;
            return;
        }
    }
    s.pending.fetch_add(1, Ordering::AcqRel);
    node.successors.push((succ.clone(), poison));
}

/// Drops one count of `task`'s `pending`; hands the task to `ready` when it hits zero.
pub(crate) fn release(task: TaskRef, ready: &mut impl FnMut(TaskRef)) {
    if task.header().pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        task.header().set_status(Status::Ready);
        prefetch(&task);
        ready(task);
    }
}

/// A task just became ready: starts making its inputs valid in the memory space it was
/// placed in, so that the transfers overlap the wait for a processor: for a task placed on
/// the host, inputs evicted to a spill file or valid on a device only are brought back by
/// the transfer thread; for a task placed on a device, its inputs are copied there. A
/// failure is left for the task's own acquire to report.
fn prefetch(task: &TaskRef) {
    let space = task.header().placed().memory;
    // Host replicas are evicted only under a limit: without one, a ready task placed on
    // the host costs nothing here (this runs for every task). Tiles spilled under a limit
    // since lifted are read back by their task's own acquire.
    if space == MemorySpace::Host && memory::budget::host().limit().is_none() && memory::device::count() == 0
    {
        return;
    }
    // SAFETY: the task was made ready just now and is not handed on yet, so no thread can
    // have claimed it, and its submitter has released its guard (task.rs, invariant 4).
    for access in unsafe { task.accesses() } {
        if access.contents() != Contents::Needed {
            continue;
        }
        let ObjectRef::Shared(object) = &access.object else {
            continue;
        };
        if space == MemorySpace::Host {
            if !object.host_ready() {
                transfer::prefetch(object.clone(), task.header().id);
            }
        } else if !object.is_valid_in(space) {
            transfer::prefetch_to(object.clone(), space.index());
        }
    }
}

/// Step 5: `task` finished (`failed`: it panicked or was cancelled).
pub(crate) fn complete(task: &TaskRef, failed: bool, ready: &mut impl FnMut(TaskRef)) {
    let h = task.header();
    let successors = {
        let mut node = lock(&h.node);
        node.finished = true;
        node.failed = failed;
        node.parent = None;
        std::mem::take(&mut node.successors)
    };
    h.set_status(if failed { Status::Failed } else { Status::Done });
    for (s, poison) in successors {
        if failed && poison {
            s.header().poison_from(h);
        }
        release(s, ready);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::graph::footprint::{Axis, Footprint};
    use crate::runtime::graph::mode::Mode;
    use crate::runtime::graph::object::DataObject;
    use crate::runtime::graph::task::{Start, TaskCell, TaskHeader};
    use std::sync::Arc;

    fn task(id: u64) -> TaskRef {
        Arc::new(TaskCell::new(
            TaskHeader::new(id, "t", 0, None, None),
            |_h: &TaskHeader, _p: &(), _s: Start<'_>| false,
            (),
        ))
    }

    fn rows(lo: usize, hi: usize) -> Footprint {
        Footprint::rect(Axis::new(lo, 1, hi - lo), Axis::full(1))
    }

    fn pending(t: &TaskRef) -> usize {
        t.header().pending.load(Ordering::SeqCst)
    }

    #[test]
    fn covering_write_prunes_the_history_to_one_entry() {
        let obj = DataObject::for_tests(8);
        let (w1, r1, r2, w2) = (task(1), task(2), task(3), task(4));
        obj.register(&w1, Mode::Write, Footprint::Whole);
        obj.register(&r1, Mode::Read, rows(0, 4));
        obj.register(&r2, Mode::Read, rows(4, 8));
        assert_eq!(obj.history_len(), 3);
        assert_eq!(
            (pending(&r1), pending(&r2)),
            (2, 2),
            "each read waits for the write (+ guard)"
        );
        obj.register(&w2, Mode::ReadWrite, Footprint::Whole);
        assert_eq!(obj.history_len(), 1, "the whole write covers every earlier entry");
        assert_eq!(pending(&w2), 4, "it waits for w1, r1 and r2 (+ guard)");
    }

    #[test]
    fn partial_write_prunes_only_what_it_covers() {
        let obj = DataObject::for_tests(8);
        let (a, b, c) = (task(1), task(2), task(3));
        obj.register(&a, Mode::Write, rows(0, 4));
        obj.register(&b, Mode::Write, rows(4, 8));
        obj.register(&c, Mode::Write, rows(0, 6));
        // c covers a (pruned) but only overlaps b (kept): 2 entries, c waits for both.
        assert_eq!(obj.history_len(), 2);
        assert_eq!(pending(&c), 3);
    }

    #[test]
    fn finished_entries_are_dropped_and_not_waited_for() {
        let obj = DataObject::for_tests(8);
        let (a, b) = (task(1), task(2));
        obj.register(&a, Mode::Write, rows(0, 4));
        a.header().set_status(Status::Running);
        complete(&a, false, &mut |_t| {});
        obj.register(&b, Mode::Read, rows(2, 3));
        assert_eq!(pending(&b), 1, "only the guard: a has finished");
        assert_eq!(obj.history_len(), 1);
    }

    #[test]
    fn failed_writer_poisons_later_readers_but_not_writers() {
        let obj = DataObject::for_tests(8);
        let (a, reader, writer) = (task(1), task(2), task(3));
        obj.register(&a, Mode::ReadWrite, rows(0, 4));
        a.header().set_status(Status::Running);
        complete(&a, true, &mut |_t| {});
        obj.register(&reader, Mode::Read, rows(1, 2));
        obj.register(&writer, Mode::Write, rows(0, 4));
        assert!(reader.header().poisoned.load(Ordering::SeqCst));
        assert!(!writer.header().poisoned.load(Ordering::SeqCst));
    }
}
