#![cfg_attr(not(feature = "mpi"), allow(dead_code))]
//! The distributed tracker: what every rank knows of every tracked data object, and where
//! each task runs.
//!
//! Every rank submits the same tasks in the same order (SPMD) and runs this same
//! bookkeeping on them, so every rank reaches the same answers without talking: which rank
//! runs a task, which inputs must be sent where first, and who holds each object's current
//! version afterwards. Objects are numbered in the order they are created (`ids`), and
//! versions count the writes submitted to them, so `(object, version)` names the same
//! contents on every rank: it keys the messages.
//!
//! # Rules
//! 1. A task runs on the home rank of the first tracked object it writes (the owner of a
//!    `DArray` tile). A tracked object without a home (a workspace tile made the same on
//!    every rank) takes the rank the task that first writes it runs on. A task that writes
//!    no tracked object (only the rank's own data, or nothing) runs on every rank, and one
//!    that only waits for its data or reduces it in place (`in_place`) runs on the rank that
//!    holds its first input, without moving anything.
//! 2. Before a task runs on rank `r`, every tracked input whose current version `r` does not
//!    hold is sent to it by the rank that wrote that version, once: `r` holds it from then
//!    on, for every later reader, until the next write. A write of the whole object needs
//!    no copy of the old contents.
//! 3. A write makes the writing rank the only holder of the new version.
//! 4. Objects made while a task runs, and the user's own bound arrays, are not tracked:
//!    they belong to the rank that made them.

/// The ranks holding a version, a bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RankSet(smallvec::SmallVec<[u64; 1]>);

impl RankSet {
    /// No rank.
    pub(crate) fn none() -> Self {
        RankSet(smallvec::SmallVec::new())
    }

    /// Only `rank`.
    pub(crate) fn only(rank: usize) -> Self {
        let mut s = Self::none();
        s.insert(rank);
        s
    }

    /// Ranks `0..size`.
    pub(crate) fn all(size: usize) -> Self {
        let mut s = Self::none();
        for r in 0..size {
            s.insert(r);
        }
        s
    }

    pub(crate) fn insert(&mut self, rank: usize) {
        let word = rank / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (rank % 64);
    }

    pub(crate) fn contains(&self, rank: usize) -> bool {
        self.0.get(rank / 64).is_some_and(|w| w & (1 << (rank % 64)) != 0)
    }
}

/// What every rank knows of one tracked object.
#[derive(Clone, Debug)]
pub(crate) struct Tracked {
    /// The object's number: the same on every rank (creation order).
    pub(crate) id: u64,
    /// The rank whose tasks write it (rule 1), once known.
    pub(crate) home: Option<usize>,
    /// Writes submitted so far: the version the next reader sees.
    pub(crate) version: u64,
    /// The rank that holds the current version for sure (it wrote it, or made it), the one
    /// that sends it.
    pub(crate) source: usize,
    /// Every rank holding the current version.
    pub(crate) holders: RankSet,
}

impl Tracked {
    /// An object made the same on every rank of `size` (a workspace, a constant tile).
    pub(crate) fn everywhere(id: u64, size: usize) -> Self {
        Tracked {
            id,
            home: None,
            version: 0,
            source: 0,
            holders: RankSet::all(size),
        }
    }

    /// An object whose contents exist on `home` only (a tile of a distributed array).
    pub(crate) fn at_home(id: u64, home: usize) -> Self {
        Tracked {
            id,
            home: Some(home),
            version: 0,
            source: home,
            holders: RankSet::only(home),
        }
    }
}

/// One access of a task, as the tracker sees it: its object's state (`None`: untracked,
/// the rank's own), whether it writes, and whether it needs the current contents.
pub(crate) struct Use<'a> {
    pub(crate) tracked: Option<&'a mut Tracked>,
    pub(crate) writes: bool,
    pub(crate) needs_contents: bool,
}

/// Where a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runs {
    /// On this rank only.
    On(usize),
    /// On every rank.
    Everywhere,
}

impl Runs {
    pub(crate) fn includes(self, rank: usize) -> bool {
        match self {
            Runs::On(r) => r == rank,
            Runs::Everywhere => true,
        }
    }
}

/// A copy to make before the task runs: access `access`'s object, at `version`, from
/// `from` to each of `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub(crate) access: usize,
    pub(crate) id: u64,
    pub(crate) version: u64,
    pub(crate) from: usize,
    pub(crate) to: Vec<usize>,
}

/// The tracker's answer for one task.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) runs: Runs,
    pub(crate) transfers: Vec<Transfer>,
    /// Per written object (by use), the ranks whose copies the write makes stale: they free
    /// them once their own tasks on them are done.
    pub(crate) stale: Vec<(usize, Vec<usize>)>,
}

/// Plans one task over `uses` on a job of `size` ranks (rules 1–3) and updates the
/// objects' states as every rank does. `in_place`: the task only waits for, or reduces,
/// its first input where it is.
pub(crate) fn plan(uses: &mut [Use<'_>], size: usize, in_place: bool) -> Plan {
    let runs = if in_place {
        let first = uses.iter().find_map(|u| u.tracked.as_deref());
        match first {
            Some(t) => Runs::On(t.source),
            None => Runs::Everywhere,
        }
    } else {
        let written = uses
            .iter()
            .filter(|u| u.writes)
            .find_map(|u| u.tracked.as_deref());
        match written {
            Some(Tracked { home: Some(h), .. }) => Runs::On(*h),
            Some(t) if t.holders == RankSet::all(size) => Runs::On(0),
            Some(t) => Runs::On(t.source),
            None => Runs::Everywhere,
        }
    };
    let mut transfers = Vec::new();
    if !in_place {
        for (access, u) in uses.iter_mut().enumerate() {
            let Some(t) = u.tracked.as_deref_mut() else {
                continue;
            };
            if !u.needs_contents {
                continue;
            }
            let to: Vec<usize> = (0..size)
                .filter(|&r| runs.includes(r) && !t.holders.contains(r))
                .collect();
            if to.is_empty() {
                continue;
            }
            for &r in &to {
                t.holders.insert(r);
            }
            transfers.push(Transfer {
                access,
                id: t.id,
                version: t.version,
                from: t.source,
                to,
            });
        }
    }
    let mut stale = Vec::new();
    for (k, u) in uses.iter_mut().enumerate().filter(|(_, u)| u.writes) {
        let Some(t) = u.tracked.as_deref_mut() else {
            continue;
        };
        t.version += 1;
        let before = t.holders.clone();
        match runs {
            Runs::On(r) => {
                t.home.get_or_insert(r);
                t.source = r;
                t.holders = RankSet::only(r);
            }
            Runs::Everywhere => {
                t.source = 0;
                t.holders = RankSet::all(size);
            }
        }
        let dropped: Vec<usize> = (0..size)
            .filter(|&r| before.contains(r) && !t.holders.contains(r))
            .collect();
        if !dropped.is_empty() {
            stale.push((k, dropped));
        }
    }
    Plan {
        runs,
        transfers,
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: &mut Tracked) -> Use<'_> {
        Use {
            tracked: Some(t),
            writes: false,
            needs_contents: true,
        }
    }

    fn update(t: &mut Tracked) -> Use<'_> {
        Use {
            tracked: Some(t),
            writes: true,
            needs_contents: true,
        }
    }

    fn overwrite(t: &mut Tracked) -> Use<'_> {
        Use {
            tracked: Some(t),
            writes: true,
            needs_contents: false,
        }
    }

    #[test]
    fn a_task_runs_on_the_home_of_what_it_writes_and_gets_its_inputs_once() {
        let (mut a, mut b, mut c) = (
            Tracked::at_home(0, 0),
            Tracked::at_home(1, 1),
            Tracked::at_home(2, 1),
        );
        // c += a * b on rank 1 (c's home): a comes from rank 0.
        let p = plan(&mut [update(&mut c), read(&mut a), read(&mut b)], 2, false);
        assert_eq!(p.runs, Runs::On(1));
        assert_eq!(
            p.transfers,
            vec![Transfer {
                access: 1,
                id: 0,
                version: 0,
                from: 0,
                to: vec![1]
            }]
        );
        assert_eq!((c.version, c.holders.clone()), (1, RankSet::only(1)));
        // A second reader on rank 1 finds a there: no second copy.
        let p = plan(&mut [update(&mut c), read(&mut a)], 2, false);
        assert!(p.transfers.is_empty());
        // Once a is written again (on rank 0), rank 1 needs the new version.
        let p = plan(&mut [update(&mut a)], 2, false);
        assert_eq!(p.runs, Runs::On(0));
        let p = plan(&mut [update(&mut c), read(&mut a)], 2, false);
        assert_eq!(p.transfers[0].version, 1);
    }

    #[test]
    fn a_write_makes_the_other_holders_copies_stale() {
        let mut a = Tracked::at_home(0, 0);
        let mine = Use {
            tracked: None,
            writes: true,
            needs_contents: false,
        };
        // Read everywhere (to_ndarray): every rank holds version 0.
        plan(&mut [read(&mut a), mine], 3, false);
        assert_eq!(a.holders, RankSet::all(3));
        // Its home updates it: ranks 1 and 2 hold a stale copy.
        let p = plan(&mut [update(&mut a)], 3, false);
        assert_eq!(p.stale, vec![(0, vec![1, 2])]);
        // Nobody else held the new version: the next write makes nothing stale.
        assert!(plan(&mut [update(&mut a)], 3, false).stale.is_empty());
    }

    #[test]
    fn a_whole_overwrite_moves_nothing() {
        let (mut a, mut b) = (Tracked::at_home(0, 0), Tracked::at_home(1, 1));
        // a task on rank 1 that writes b whole and a (at home on 0) whole: no copy.
        let p = plan(&mut [overwrite(&mut b), overwrite(&mut a)], 2, false);
        assert_eq!(p.runs, Runs::On(1));
        assert!(p.transfers.is_empty());
        assert_eq!((a.source, a.holders.clone()), (1, RankSet::only(1)));
        // A later writer of a (on its home, 0) reading it gets it back from rank 1.
        let p = plan(&mut [update(&mut a)], 2, false);
        assert_eq!((p.runs, p.transfers[0].from), (Runs::On(0), 1));
    }

    #[test]
    fn a_task_writing_no_tracked_object_runs_everywhere_with_its_inputs_sent_to_all() {
        let mut a = Tracked::at_home(0, 2);
        let mine = Use {
            tracked: None,
            writes: true,
            needs_contents: false,
        };
        let p = plan(&mut [read(&mut a), mine], 4, false);
        assert_eq!(p.runs, Runs::Everywhere);
        assert_eq!(p.transfers[0].to, vec![0, 1, 3]);
        assert_eq!(a.holders, RankSet::all(4));
    }

    #[test]
    fn a_homeless_object_takes_the_rank_of_its_first_writer() {
        let mut w = Tracked::everywhere(5, 4);
        let p = plan(&mut [update(&mut w)], 4, false);
        assert_eq!(p.runs, Runs::On(0), "made the same everywhere: rank 0 writes it");
        assert!(p.transfers.is_empty());
        assert_eq!(w.home, Some(0));
        let mut x = Tracked::at_home(6, 3);
        let mut y = Tracked::everywhere(7, 4);
        let p = plan(&mut [update(&mut x), overwrite(&mut y)], 4, false);
        assert_eq!(p.runs, Runs::On(3));
        assert_eq!((y.home, y.source), (Some(3), 3));
    }

    #[test]
    fn an_in_place_task_runs_where_its_data_is_and_moves_nothing() {
        let mut a = Tracked::at_home(0, 3);
        let p = plan(&mut [read(&mut a)], 4, true);
        assert_eq!((p.runs, p.transfers.len()), (Runs::On(3), 0));
        assert_eq!(a.holders, RankSet::only(3));
    }

    #[test]
    fn rank_sets_grow_past_64_ranks() {
        let mut s = RankSet::none();
        s.insert(3);
        s.insert(130);
        assert!(s.contains(3) && s.contains(130) && !s.contains(64) && !s.contains(1000));
        assert_eq!(RankSet::all(70), {
            let mut t = RankSet::none();
            (0..70).for_each(|r| t.insert(r));
            t
        });
    }
}
