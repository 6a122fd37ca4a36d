//! The dependency tracker: per data object, the history of accesses that later accesses
//! must order after; per task, a counter of unfinished predecessors.
//!
//! # Protocol
//! 1. The submitter creates the task with `pending = 1` (the submission guard).
//! 2. For each declared access it locks the object's history and, for every earlier
//!    entry whose footprint overlaps and where at least one of the two writes, calls
//!    [`add_dependency`]: under the predecessor's node lock, either the predecessor has
//!    finished (no edge) or the new task joins its successor list and `pending += 1`.
//! 3. The new access is appended to the history. Entries of tasks that finished
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

use super::footprint::Footprint;
use super::history::{Entry, EntryList};
use super::task::{Status, TaskRef};
use crate::sync::{lock, Mutex};

/// How a task accesses a piece of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Read only (`In` / `Read`).
    Read,
    /// Written without being read (`Out` / `Write`).
    Write,
    /// Read and written (`InOut` / `ReadWrite`).
    ReadWrite,
}

impl Mode {
    /// Does the access read the previous contents?
    pub fn reads(self) -> bool {
        !matches!(self, Mode::Write)
    }

    /// Does the access change the contents?
    pub fn writes(self) -> bool {
        !matches!(self, Mode::Read)
    }

    /// Must two accesses to overlapping data be ordered?
    pub fn conflicts(self, other: Mode) -> bool {
        self.writes() || other.writes()
    }
}

/// The declarations of one task: inline up to four accesses, so submitting allocates
/// nothing for them in the common case.
pub type Decls<'a> = smallvec::SmallVec<[Decl<'a>; 4]>;

/// One declared access of a task being submitted.
#[derive(Debug)]
pub struct Decl<'a> {
    pub(crate) object: &'a DataObject,
    pub(crate) mode: Mode,
    pub(crate) footprint: Footprint,
}

/// A piece of data the tracker orders accesses to: a bound user array or a tile.
pub struct DataObject {
    history: Mutex<History>,
}

/// The accesses later ones may have to order after, split by kind: a read only needs to
/// look at earlier writes, so many concurrent readers of one object cost nothing extra.
struct History {
    writes: EntryList,
    reads: EntryList,
    /// When the two lists together grow past this, finished entries are swept out
    /// (amortised O(1) per access; entries the scans meet are swept on the way).
    sweep_at: usize,
}

/// Lists shorter than this are never swept in bulk.
const MIN_SWEEP: usize = 64;

impl std::fmt::Debug for DataObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = lock(&self.history);
        f.debug_struct("DataObject")
            .field("writes", &h.writes.len())
            .field("reads", &h.reads.len())
            .finish()
    }
}

impl DataObject {
    /// An object with `rows` rows (a 1-D object: its length), which sizes the history's
    /// row index.
    pub(crate) fn new(rows: usize) -> Self {
        DataObject {
            history: Mutex::new(History {
                writes: EntryList::new(rows),
                reads: EntryList::new(rows),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    /// Steps 2 and 3 of the protocol for one access of `task`.
    pub(crate) fn register(&self, task: &TaskRef, mode: Mode, footprint: Footprint) {
        let mut guard = lock(&self.history);
        let h = &mut *guard;
        scan(&mut h.writes, task, mode, &footprint);
        let entry = Entry {
            task: task.clone(),
            mode,
            footprint,
        };
        if mode.writes() {
            scan(&mut h.reads, task, mode, &footprint);
            h.writes.push(entry);
        } else {
            h.reads.push(entry);
        }
        let len = h.writes.len() + h.reads.len();
        if len > h.sweep_at {
            let unfinished = |e: &Entry| e.task.header().status() != Status::Done;
            h.writes.retain_all(unfinished);
            h.reads.retain_all(unfinished);
            h.sweep_at = MIN_SWEEP.max(2 * (h.writes.len() + h.reads.len()));
        }
    }

    /// The id and name of a task in `running` that holds an access conflicting with this one.
    pub(crate) fn held_by(
        &self,
        mode: Mode,
        footprint: &Footprint,
        running: &[u64],
    ) -> Option<(u64, &'static str)> {
        let h = lock(&self.history);
        let holder = h
            .writes
            .iter()
            .chain(h.reads.iter())
            .find(|e| {
                running.contains(&e.task.header().id)
                    && mode.conflicts(e.mode)
                    && e.footprint.overlaps(footprint)
            })
            .map(|e| (e.task.header().id, e.task.header().name));
        holder
    }

    /// Number of entries in the history (for tests of pruning).
    #[cfg(test)]
    pub(crate) fn history_len(&self) -> usize {
        let h = lock(&self.history);
        h.writes.len() + h.reads.len()
    }
}

/// Orders `task` (accessing `footprint` with `mode`) after the conflicting entries of
/// `list`, dropping entries that finished or that `task` writes over completely. Only
/// entries that can share a row are visited (see `history.rs`), and the overlap test
/// comes first: it reads only the entry itself, while the status check follows a pointer.
fn scan(list: &mut EntryList, task: &TaskRef, mode: Mode, footprint: &Footprint) {
    list.retain_candidates(footprint, |e| {
        if !mode.conflicts(e.mode) || !e.footprint.overlaps(footprint) {
            return true;
        }
        if e.task.header().status() == Status::Done {
            return false;
        }
        add_dependency(task, &e.task, e.mode.writes() && mode.reads());
        !(mode.writes() && footprint.covers(&e.footprint))
    });
}

/// Makes `succ` wait for `pred` unless `pred` has finished. `poison`: `pred` writes data
/// `succ` reads, so a failure of `pred` must cancel `succ`.
pub(crate) fn add_dependency(succ: &TaskRef, pred: &TaskRef, poison: bool) {
    let (s, p) = (succ.header(), pred.header());
    if s.id == p.id {
        return;
    }
    #[cfg(not(loom))]
    super::runtime().trace.edge(p.id, s.id);
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
        ready(task);
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
    use crate::runtime::footprint::{Axis, Footprint};
    use crate::runtime::task::{TaskCell, TaskHeader};
    use std::sync::Arc;

    fn task(id: u64) -> TaskRef {
        Arc::new(TaskCell::new(
            TaskHeader::new(id, "t", 0, None, None),
            |_h: &TaskHeader, _p: &(), _c: bool| false,
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
        let obj = DataObject::new(8);
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
        let obj = DataObject::new(8);
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
        let obj = DataObject::new(8);
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
        let obj = DataObject::new(8);
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
