//! The access history of one data object, split in reads and writes, each indexed by rows.
//!
//! A new access must be compared with every earlier entry it might overlap. Most objects
//! (tiles) have a handful of entries, but a user array cut into many slices can have
//! thousands in flight, and comparing with all of them would make each task cost
//! microseconds. So entries are filed by the rows they reach:
//!
//! - an entry whose rows fit in one bucket's height (`bucket_rows`) is *narrow* and filed
//!   in the bucket of its first row; it can reach into the next bucket, no further;
//! - every other entry (the whole object, tall slices) is *wide* and always examined.
//!
//! An access reaching rows `lo..=hi` examines the wide entries and the narrow ones filed
//! in the buckets from `lo - (bucket_rows - 1)` to `hi`: every entry that could share a
//! row with it, and, for a narrow access, about two buckets' worth rather than all.

use super::deps::add_dependency;
use super::footprint::Footprint;
use super::mode::Mode;
use super::task::{Status, TaskRef};

/// The accesses later ones may have to order after, split by kind: a read only needs to
/// look at earlier writes, so many concurrent readers of one object cost nothing extra.
pub(crate) struct History {
    writes: EntryList,
    reads: EntryList,
    /// When the two lists together grow past this, finished entries are swept out
    /// (amortised O(1) per access; entries the scans meet are swept on the way).
    sweep_at: usize,
}

/// Lists shorter than this are never swept in bulk.
const MIN_SWEEP: usize = 64;

impl History {
    /// The history of an object with `rows` rows (a 1-D object: its length).
    pub(crate) fn new(rows: usize) -> Self {
        History {
            writes: EntryList::new(rows),
            reads: EntryList::new(rows),
            sweep_at: MIN_SWEEP,
        }
    }

    /// Steps 2 and 3 of the dependency protocol (`deps.rs`) for one access of `task`.
    pub(crate) fn register(&mut self, task: &TaskRef, mode: Mode, footprint: Footprint) {
        scan(&mut self.writes, task, mode, &footprint);
        let entry = Entry {
            task: task.clone(),
            mode,
            footprint,
        };
        if mode.writes() {
            scan(&mut self.reads, task, mode, &footprint);
            self.writes.push(entry);
        } else {
            self.reads.push(entry);
        }
        let len = self.len();
        if len > self.sweep_at {
            let unfinished = |e: &Entry| e.task.header().status() != Status::Done;
            self.writes.retain_all(unfinished);
            self.reads.retain_all(unfinished);
            self.sweep_at = MIN_SWEEP.max(2 * self.len());
        }
    }

    /// Every entry, writes first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.writes.iter().chain(self.reads.iter())
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.writes.len() + self.reads.len()
    }
}

/// Orders `task` (accessing `footprint` with `mode`) after the conflicting entries of
/// `list`, dropping entries that finished or that `task` writes over completely. Only
/// entries that can share a row are visited (see the module docs), and the overlap test
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

/// At most this many buckets per list.
const MAX_BUCKETS: usize = 64;

/// One earlier access: who, how, where.
pub(crate) struct Entry {
    pub(crate) task: TaskRef,
    pub(crate) mode: Mode,
    pub(crate) footprint: Footprint,
}

/// Entries of one kind (reads or writes) of one object.
pub(crate) struct EntryList {
    wide: Vec<Entry>,
    buckets: Vec<Vec<Entry>>,
    bucket_rows: usize,
    len: usize,
}

impl EntryList {
    /// A list for an object with `rows` rows (a 1-D object: its length).
    pub(crate) fn new(rows: usize) -> Self {
        let count = rows.clamp(1, MAX_BUCKETS);
        EntryList {
            wide: Vec::new(),
            buckets: Vec::new(),
            bucket_rows: rows.div_ceil(count).max(1),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bucket a narrow entry with these reached rows goes to, or `None` if it is wide.
    fn bucket_of(&self, reach: Option<Option<(usize, usize)>>) -> Option<usize> {
        match reach {
            Some(Some((lo, hi))) if hi - lo < self.bucket_rows => Some(lo / self.bucket_rows),
            Some(None) => Some(0), // empty: overlaps nothing, file it anywhere
            _ => None,
        }
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        self.len += 1;
        match self.bucket_of(entry.footprint.row_reach()) {
            None => self.wide.push(entry),
            Some(b) => {
                if self.buckets.len() <= b {
                    self.buckets.resize_with(b + 1, Vec::new);
                }
                self.buckets[b].push(entry);
            }
        }
    }

    /// Keeps, among the entries that could overlap `footprint`, those for which `keep`
    /// says so (the others are not visited).
    pub(crate) fn retain_candidates(&mut self, footprint: &Footprint, mut keep: impl FnMut(&Entry) -> bool) {
        let range = match footprint.row_reach() {
            None => 0..self.buckets.len(),
            Some(None) => 0..0,
            Some(Some((lo, hi))) => {
                let first = lo.saturating_sub(self.bucket_rows - 1) / self.bucket_rows;
                first.min(self.buckets.len())..(hi / self.bucket_rows + 1).min(self.buckets.len())
            }
        };
        let before = self.len;
        let mut removed = retain_counting(&mut self.wide, &mut keep);
        for bucket in &mut self.buckets[range] {
            removed += retain_counting(bucket, &mut keep);
        }
        self.len = before - removed;
    }

    /// Keeps the entries for which `keep` says so, visiting all of them.
    pub(crate) fn retain_all(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let mut removed = retain_counting(&mut self.wide, &mut keep);
        for bucket in &mut self.buckets {
            removed += retain_counting(bucket, &mut keep);
        }
        self.len -= removed;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.wide.iter().chain(self.buckets.iter().flatten())
    }
}

fn retain_counting(list: &mut Vec<Entry>, keep: &mut impl FnMut(&Entry) -> bool) -> usize {
    let before = list.len();
    list.retain(|e| keep(e));
    before - list.len()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::graph::footprint::{Axis, Mask};
    use crate::runtime::graph::task::{Start, TaskCell, TaskHeader};
    use std::sync::Arc;

    fn entry(footprint: Footprint) -> Entry {
        let task: TaskRef = Arc::new(TaskCell::new(
            TaskHeader::new(0, "t", 0, None, None),
            |_: &TaskHeader, _: &(), _: Start<'_>| false,
            (),
        ));
        Entry {
            task,
            mode: Mode::ReadWrite,
            footprint,
        }
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn random_footprint(rng: &mut Rng, rows: usize, cols: usize) -> Footprint {
        if rng.below(10) == 0 {
            return Footprint::Whole;
        }
        let axis = |rng: &mut Rng, n: usize| {
            let short = rng.below(2) == 0;
            let len = 1 + rng.below(if short { 4 } else { n });
            let step = 1 + rng.below(3);
            let span = (len - 1) * step;
            if span >= n {
                return Axis::new(rng.below(n), 1, 1);
            }
            let origin = rng.below(n - span);
            if rng.below(4) == 0 {
                Axis::new(origin + span, -(step as isize), len)
            } else {
                Axis::new(origin, step as isize, len)
            }
        };
        let (r, c) = (axis(rng, rows), axis(rng, cols));
        match rng.below(4) {
            0 => Footprint::masked(r, c, Mask::Lower),
            1 => Footprint::masked(r, c, Mask::Diagonal),
            _ => Footprint::rect(r, c),
        }
    }

    /// The row index never hides an entry that overlaps the query: `retain_candidates`
    /// visits every overlapping entry, for objects from 1 to 300 rows.
    #[test]
    fn candidates_include_every_overlapping_entry() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for rows in [1, 2, 7, 63, 64, 65, 129, 300] {
            for _ in 0..40 {
                let mut list = EntryList::new(rows);
                let footprints: Vec<Footprint> =
                    (0..60).map(|_| random_footprint(&mut rng, rows, 5)).collect();
                for f in &footprints {
                    list.push(entry(*f));
                }
                assert_eq!(list.len(), footprints.len());
                for _ in 0..20 {
                    let q = random_footprint(&mut rng, rows, 5);
                    let expected = footprints.iter().filter(|f| f.overlaps(&q)).count();
                    let mut visited_overlapping = 0;
                    list.retain_candidates(&q, |e| {
                        visited_overlapping += usize::from(e.footprint.overlaps(&q));
                        true
                    });
                    assert_eq!(visited_overlapping, expected, "rows {rows}, query {q:?}");
                }
                list.retain_all(|e| e.footprint != Footprint::Whole);
                let wholes = footprints.iter().filter(|f| **f == Footprint::Whole).count();
                assert_eq!(list.len(), footprints.len() - wholes);
                assert_eq!(list.iter().count(), list.len());
            }
        }
    }
}
