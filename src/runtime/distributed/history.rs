//! Naming the first task where two ranks' programs differ. Each rank remembers its latest
//! routed tasks (`program.rs`: number, hash so far, name); once a divergence is found, the
//! rank asks the other rank's communication thread for its list (which it answers without
//! involving that rank's program) and compares the two.

use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::comm::Comm;
use super::message::{Arrival, Key, HEADER_BYTES};
use super::program::{self, Entry, Stamp};
use crate::error::Error;

/// How long to wait for another rank's list (it may have finished, or be gone).
const PATIENCE: Duration = Duration::from_secs(5);

/// A rank's remembered program, shared by the receives that need it.
type History = Arc<Vec<Entry>>;

/// The lists already fetched, per rank (`None`: it did not answer): a divergence fails
/// many receives, and each would ask again.
static FETCHED: Mutex<Vec<(usize, Option<History>)>> = Mutex::new(Vec::new());

impl Comm {
    /// Rank `rank`'s remembered program (fetched once; `None` if it does not answer).
    fn history_of(&self, rank: usize) -> Option<History> {
        // Held while asking: one request to a rank at a time (the answer's key is fixed).
        let mut fetched = FETCHED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, h)) = fetched.iter().find(|(r, _)| *r == rank) {
            return h.clone();
        }
        let (answer, wait) = channel();
        self.expect(
            rank,
            Key::history(),
            Box::new(move |arrival| drop(answer.send(arrival))),
        );
        self.post(
            vec![rank],
            Key::history_ask().message(false, program::current(), &[]),
        );
        let history = match wait.recv_timeout(PATIENCE) {
            Ok(Arrival::Data(m)) => program::history_of(&m[HEADER_BYTES..]).map(Arc::new),
            _ => None,
        };
        fetched.push((rank, history.clone()));
        history
    }

    /// The error for a divergence from rank `rank` found at this rank's task `at` (its
    /// stamp and name), `detail` saying how it was found: it names the first task where the
    /// two programs differ when both ranks remember it, else the task where it was found.
    pub(super) fn diverged(&self, rank: usize, (at, name): (Stamp, &str), detail: String) -> Error {
        let theirs = self.history_of(rank);
        let mine = program::history();
        match theirs
            .as_deref()
            .and_then(|theirs| program::first_difference(&mine, theirs))
        {
            Some((a, b, exact)) => Error::Diverged {
                task: a.seq,
                name: a.name.clone(),
                detail: format!(
                    "the first task where the programs differ{}: #{} is `{}` on this rank, `{}` on rank \
                     {rank}; found at this rank's task #{} (`{name}`): {detail}",
                    if exact {
                        ""
                    } else {
                        " (or an earlier one, no longer remembered)"
                    },
                    a.seq,
                    a.name,
                    b.name,
                    at.seq
                ),
            },
            None => Error::Diverged {
                task: at.seq,
                name: name.to_owned(),
                detail,
            },
        }
    }
}
