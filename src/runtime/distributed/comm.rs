//! The communication thread: the only thread that calls MPI. It initializes MPI, owns the
//! world communicator (rsmpi's communicators are not `Send`), serves the requests other
//! threads send it over a channel, one at a time, and finalizes MPI when the process exits
//! (an `atexit` handler asks it to, then waits for it), as the MPI standard wants: the
//! thread that initialized MPI finalizes it.

use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use mpi::traits::{Communicator, CommunicatorCollectives};
use mpi::Threading;

use crate::error::{Error, Result};

/// What a thread asks of the communication thread.
enum Request {
    /// `MPI_Barrier`; the answer when every rank has reached it.
    Barrier(Sender<()>),
    /// Finalize MPI and end the thread.
    Finalize,
}

/// The handle the rest of the runtime holds: a channel to the communication thread.
pub(super) struct Comm {
    requests: Mutex<Sender<Request>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Comm")
    }
}

fn error(message: impl Into<String>) -> Error {
    Error::Distributed {
        message: message.into(),
    }
}

impl Comm {
    /// Starts the communication thread, which initializes MPI; returns the handle, the
    /// rank and the size once it has. Registers the finalization at exit.
    pub(super) fn start() -> Result<(Comm, usize, usize)> {
        let (ready, started) = channel::<std::result::Result<(usize, usize), String>>();
        let (requests, incoming) = channel::<Request>();
        let thread = std::thread::Builder::new()
            .name("mosaic-mpi".into())
            .spawn(move || {
                // Every MPI call of the process happens on this thread, so any level of
                // thread support would do; the design asks for the most.
                let Some((universe, _provided)) = mpi::initialize_with_threading(Threading::Multiple) else {
                    let _ = ready.send(Err("MPI was already initialized in this process".into()));
                    return;
                };
                let world = universe.world();
                let (rank, size) = (world.rank(), world.size());
                let _ = ready.send(Ok((rank as usize, size as usize)));
                for request in incoming {
                    match request {
                        Request::Barrier(done) => {
                            world.barrier();
                            let _ = done.send(());
                        }
                        Request::Finalize => break,
                    }
                }
                // Dropping the universe calls MPI_Finalize, on the thread that initialized.
                drop(universe);
            })
            .map_err(|e| error(format!("cannot start the communication thread: {e}")))?;
        let (rank, size) = match started.recv() {
            Ok(Ok(rs)) => rs,
            Ok(Err(message)) => return Err(error(message)),
            Err(_) => return Err(error("the communication thread ended while initializing MPI")),
        };
        // SAFETY: `atexit` registers a function with no arguments to run at `exit`; the
        // function may run any Rust code that does not itself call `exit`, as this one.
        if unsafe { libc::atexit(finalize_at_exit) } != 0 {
            return Err(error("cannot register MPI's finalization at exit"));
        }
        let comm = Comm {
            requests: Mutex::new(requests),
            thread: Mutex::new(Some(thread)),
        };
        Ok((comm, rank, size))
    }

    /// Sends `request`; `Err` when the thread has ended.
    fn send(&self, request: Request) -> Result<()> {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests
            .send(request)
            .map_err(|_| error("the communication thread has ended (MPI is finalized)"))
    }

    /// `MPI_Barrier` on the world.
    pub(super) fn barrier(&self) -> Result<()> {
        let (done, wait) = channel();
        self.send(Request::Barrier(done))?;
        wait.recv()
            .map_err(|_| error("the communication thread ended during a barrier"))
    }

    /// Asks the thread to finalize MPI and waits for it; nothing after this reaches MPI.
    fn finalize(&self) {
        if self.send(Request::Finalize).is_ok() {
            let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}

/// Run by `exit`: MPI must be finalized before the process ends, or `mpirun` reports the
/// rank as failed.
extern "C" fn finalize_at_exit() {
    if let Some(world) = super::world() {
        world.comm.finalize();
    }
}
