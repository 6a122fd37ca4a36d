//! The worker pool's size: one running worker per core, kept so while workers block.
//!
//! A worker that waits inside a task (a nested region, a future) *blocks*; it does not
//! run other tasks on top of the one it waits in. Running an unrelated task there could
//! bury the waiting task under one that needs it (the waiting task cannot finish until
//! the task above it returns, which may need the waiting task's data): a deadlock that
//! the serial program does not have. Instead, the pool compensates:
//!
//! 1. `block_begin`: the worker counts itself blocked. If fewer than `target` workers are
//!    left running, a parked spare is woken, or a new worker thread started, so that every
//!    core still has a worker to run ready tasks. Waiting therefore never starves the pool,
//!    whatever the nesting.
//! 2. `block_end`: the worker runs again. If that makes more workers running than cores,
//!    the pool is marked *surplus*.
//! 3. `park_if_surplus`: an idle worker, between two tasks, parks itself while the pool
//!    is surplus (one atomic load when it is not). Parked workers are the spares of step 1.
//!
//! Threads are started only when more workers block at once than ever before, so the
//! thread count is the number of cores plus the deepest simultaneous blocking seen.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::sync::{lock, wait, Condvar, Mutex};

#[derive(Debug)]
struct State {
    /// Worker threads in existence.
    threads: usize,
    /// Workers blocked in a wait.
    blocked: usize,
    /// Workers parked as spares (not counting those already told to wake).
    parked: usize,
    /// Wake-ups issued to parked workers and not yet taken.
    tickets: usize,
}

impl State {
    fn running(&self) -> usize {
        self.threads - self.blocked - self.parked
    }
}

/// What to do after [`Pool::block_begin`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Compensation {
    /// Enough workers run already, or a parked spare was woken.
    None,
    /// Start a new worker thread with this index.
    StartWorker(usize),
}

/// Worker accounting for one runtime.
#[derive(Debug)]
pub(crate) struct Pool {
    target: usize,
    state: Mutex<State>,
    spares: Condvar,
    surplus: AtomicBool,
}

impl Pool {
    /// A pool of `target` running workers, all of them started already.
    pub(crate) fn new(target: usize) -> Self {
        Pool {
            target,
            state: Mutex::new(State {
                threads: target,
                blocked: 0,
                parked: 0,
                tickets: 0,
            }),
            spares: Condvar::new(),
            surplus: AtomicBool::new(false),
        }
    }

    /// Step 1. The caller starts the thread when told to.
    pub(crate) fn block_begin(&self) -> Compensation {
        let mut s = lock(&self.state);
        s.blocked += 1;
        if s.running() >= self.target {
            return Compensation::None;
        }
        if s.parked > 0 {
            s.parked -= 1;
            s.tickets += 1;
            self.spares.notify_one();
            Compensation::None
        } else {
            s.threads += 1;
            Compensation::StartWorker(s.threads - 1)
        }
    }

    /// Step 2.
    pub(crate) fn block_end(&self) {
        let mut s = lock(&self.state);
        s.blocked -= 1;
        if s.running() > self.target {
            self.surplus.store(true, Ordering::Release);
        }
    }

    /// Step 3: parks the calling idle worker while the pool runs more workers than cores.
    pub(crate) fn park_if_surplus(&self) {
        if !self.surplus.load(Ordering::Acquire) {
            return;
        }
        let mut s = lock(&self.state);
        if s.running() <= self.target {
            self.surplus.store(false, Ordering::Release);
            return;
        }
        s.parked += 1;
        if s.running() <= self.target {
            self.surplus.store(false, Ordering::Release);
        }
        while s.tickets == 0 {
            s = wait(&self.spares, s);
        }
        s.tickets -= 1;
    }

    /// Worker threads started so far (cores plus spares).
    pub(crate) fn threads(&self) -> usize {
        lock(&self.state).threads
    }
}
