//! The communication thread: the only thread that calls MPI. It initializes MPI, owns the
//! world communicator (rsmpi's communicators are not `Send`), serves the requests other
//! threads send it over a channel, and finalizes MPI when the process exits (an `atexit`
//! handler asks it to, then waits for it), as the MPI standard wants: the thread that
//! initialized MPI finalizes it.
//!
//! # Messages
//! Every message is a header (`message.rs`: its key, the sender's program stamp) and a
//! payload. Matching goes by the whole key and the source: a receive is *expected* (a
//! receive task waits for it) before or after the message arrives, and whichever comes
//! second completes it.
//!
//! # The loop
//! Non-blocking throughout: requests are served as they come, sends are `MPI_Isend`s
//! tested until done (the buffer lives in the request's entry until then), arrivals are
//! found with `MPI_Improbe`, barriers are `MPI_Ibarrier`s. While anything is in flight the
//! thread polls, sleeping twice as long each idle round (up to 500 µs), or not at all while
//! a worker of this rank searches or sleeps for want of work (what it waits for may be the
//! next message); with nothing in flight it sleeps on its channel, waking every
//! millisecond to look for arrivals.

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, SendError, Sender};
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mpi::point_to_point::MatchedReceiveVec;
use mpi::request::{Request as MpiRequest, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Root, Source};
use mpi::Threading;

use super::message::{Arrival, Key, HEADER_BYTES};
use super::program::Stamp;
use super::stats;
use crate::error::{Error, Result};

/// What to do with an expected message when it arrives (on the communication thread).
pub(crate) type Deliver = Box<dyn FnOnce(Arrival) + Send>;

/// An all-gather's answer: every rank's part, or a rank whose program differs and how.
pub(crate) type Gathered = std::result::Result<Vec<Vec<u8>>, (usize, String)>;

/// What a thread asks of the communication thread.
enum Request {
    /// Send `message` to each of these ranks.
    Send(Vec<usize>, Arc<Vec<u8>>),
    /// Deliver the message `key` from rank `from` when it arrives.
    Expect(usize, Key, Deliver),
    /// Send this rank's part of an all-gather to every rank; answer with every rank's part
    /// in rank order, or with how the ranks' stamps differ.
    Gather(Vec<u8>, Stamp, Sender<Gathered>),
    /// `MPI_Ibarrier`; the answer when every rank has reached it.
    Barrier(Sender<()>),
    /// `MPI_Abort`: end every rank of the job.
    Abort,
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

pub(super) fn error(message: impl Into<String>) -> Error {
    Error::Distributed {
        message: message.into(),
    }
}

/// What [`Comm::start`] learns: the rank, the size, and rank 0's seed.
pub(super) struct Started {
    pub(super) rank: usize,
    pub(super) size: usize,
    pub(super) seed: u64,
}

impl Comm {
    /// Starts the communication thread, which initializes MPI and broadcasts rank 0's
    /// `seed`; returns the handle and what it learnt. Registers the finalization at exit.
    pub(super) fn start(seed: u64) -> Result<(Comm, Started)> {
        let (ready, started) = channel::<std::result::Result<Started, String>>();
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
                let (rank, size) = (world.rank() as usize, world.size() as usize);
                let mut seed = seed;
                world.process_at_rank(0).broadcast_into(&mut seed);
                let _ = ready.send(Ok(Started { rank, size, seed }));
                Loop::new(&world).run(&incoming);
                // Dropping the universe calls MPI_Finalize, on the thread that initialized.
                drop(universe);
            })
            .map_err(|e| error(format!("cannot start the communication thread: {e}")))?;
        let started = match started.recv() {
            Ok(Ok(s)) => s,
            Ok(Err(message)) => return Err(error(message)),
            Err(_) => return Err(error("the communication thread ended while initializing MPI")),
        };
        // SAFETY: `atexit` registers a function with no arguments to run at `exit`; the
        // function may run any Rust code that does not itself call `exit`, as this one.
        if unsafe { libc::atexit(finalize_at_exit) } != 0 {
            return Err(error("cannot register MPI's finalization at exit"));
        }
        watch_main_thread();
        let comm = Comm {
            requests: Mutex::new(requests),
            thread: Mutex::new(Some(thread)),
        };
        Ok((comm, started))
    }

    /// Sends `request`; `Err` when the thread has ended.
    fn send(&self, request: Request) -> Result<()> {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests
            .send(request)
            .map_err(|_| error("the communication thread has ended (MPI is finalized)"))
    }

    /// Sends `message` (a key and its payload) to each rank of `to`, without waiting.
    pub(super) fn post(&self, to: Vec<usize>, message: Vec<u8>) {
        // After finalization nothing is sent: the process is exiting.
        let _ = self.send(Request::Send(to, Arc::new(message)));
    }

    /// Calls `deliver` (on the communication thread) with the message `key` from `from`
    /// once it has arrived.
    pub(super) fn expect(&self, from: usize, key: Key, deliver: Deliver) {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(SendError(Request::Expect(_, _, deliver))) =
            requests.send(Request::Expect(from, key, deliver))
        {
            drop(requests);
            deliver(Arrival::Failed(
                "the communication thread has ended (MPI is finalized)".into(),
            ));
        }
    }

    /// Every rank's `part`, in rank order (collective: every rank calls it at the same
    /// point of its program, `stamp`); `Err(Diverged)` if the ranks' stamps differ.
    pub(super) fn all_gather(&self, part: Vec<u8>, stamp: Stamp) -> Result<Vec<Vec<u8>>> {
        let (done, wait) = channel();
        self.send(Request::Gather(part, stamp, done))?;
        let gathered = wait
            .recv()
            .map_err(|_| error("the communication thread ended during an all-gather"))?;
        gathered.map_err(|(rank, detail)| self.diverged(rank, (stamp, "all-gather"), detail))
    }

    /// Ends every rank of the job (`MPI_Abort`); does not return if the thread is alive.
    fn abort(&self) {
        if self.send(Request::Abort).is_ok() {
            // The thread ends the process; wait for it.
            loop {
                std::thread::park();
            }
        }
    }

    /// `MPI_Barrier` on the world (an `MPI_Ibarrier` the thread completes).
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

/// The longest sleep between two polls of MPI while messages are in flight: what a message
/// may wait to be seen, against the CPU that polling takes from the workers (each wake-up
/// preempts a worker when every core computes). `MOSAIC_MPI_POLL_US` overrides it.
fn poll_sleep() -> Duration {
    let us = std::env::var("MOSAIC_MPI_POLL_US")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(500);
    Duration::from_micros(us)
}

/// A send in flight: the request and the message it reads, kept alive until it completes.
struct InFlight {
    request: Option<MpiRequest<'static, [u8], StaticScope>>,
    _message: Arc<Vec<u8>>,
}

/// An all-gather in progress.
struct Gathering {
    key: Key,
    parts: Vec<Option<(Stamp, Vec<u8>)>>,
    done: Sender<Gathered>,
}

/// The communication thread's state.
struct Loop<'w> {
    world: &'w SimpleCommunicator,
    rank: usize,
    sends: Vec<InFlight>,
    /// Receives waiting for their message, by source and key, since when.
    expected: HashMap<(usize, Key), (Deliver, Instant)>,
    /// Messages that arrived before their receive was expected, since when.
    early: HashMap<(usize, Key), (Arrival, Instant)>,
    /// How long a receive may wait while its source's messages go unasked before the
    /// programs are taken to have diverged (`MOSAIC_MPI_DIVERGENCE_TIMEOUT`, seconds).
    patience: Duration,
    /// When the watchdog last looked.
    watched: Instant,
    gathers: u64,
    /// All-gathers in progress (a second may start before the first has every part).
    gathering: Vec<Gathering>,
    barriers: Vec<(MpiRequest<'static, ()>, Sender<()>)>,
}

impl<'w> Loop<'w> {
    fn new(world: &'w SimpleCommunicator) -> Self {
        Loop {
            world,
            rank: world.rank() as usize,
            sends: Vec::new(),
            expected: HashMap::new(),
            early: HashMap::new(),
            gathers: 0,
            gathering: Vec::new(),
            barriers: Vec::new(),
            patience: Duration::from_secs_f64(
                std::env::var("MOSAIC_MPI_DIVERGENCE_TIMEOUT")
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|s| *s > 0.0)
                    .unwrap_or(30.0),
            ),
            watched: Instant::now(),
        }
    }

    /// Serves requests until `Finalize` (or every handle is gone), then completes the sends
    /// still in flight.
    fn run(mut self, incoming: &Receiver<Request>) {
        let mut idle_rounds = 0u32;
        let most = poll_sleep();
        loop {
            let mut busy = false;
            // While a worker searches or sleeps for want of work, poll without sleeping: a
            // message a task waits for is then seen at once. (Capping this at 2 ms after
            // the last message, for long waits such as barriers, made LU's split panel
            // slower: docs/history.md.)
            let in_flight = self.in_flight();
            let spin = in_flight && crate::runtime::a_worker_is_idle();
            let wait = if spin {
                Duration::ZERO
            } else if in_flight {
                // 0, 1, 2, 4, … µs: a message in the middle of a burst is seen at once; an
                // idle wait costs few wake-ups (each takes CPU from the workers).
                Duration::from_micros((1u64 << idle_rounds.min(20)) / 2).min(most)
            } else {
                Duration::from_millis(1)
            };
            match incoming.recv_timeout(wait) {
                Ok(Request::Finalize) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Request::Abort) => self.world.abort(1),
                Ok(request) => {
                    busy = true;
                    self.serve(request);
                    while let Ok(request) = incoming.try_recv() {
                        match request {
                            Request::Finalize => {
                                self.finish();
                                return;
                            }
                            Request::Abort => self.world.abort(1),
                            _ => {}
                        }
                        self.serve(request);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            busy |= self.progress();
            idle_rounds = if busy { 0 } else { idle_rounds + 1 };
            if spin && !busy {
                std::thread::yield_now();
            }
            if self.watched.elapsed() > Duration::from_millis(250) {
                self.watch();
            }
        }
        self.finish();
    }

    fn in_flight(&self) -> bool {
        !self.sends.is_empty()
            || !self.expected.is_empty()
            || !self.gathering.is_empty()
            || !self.barriers.is_empty()
    }

    fn serve(&mut self, request: Request) {
        match request {
            Request::Send(to, message) => {
                let tag = Key::of(&message).map_or(0, |(k, _, _)| k.tag());
                for dest in to {
                    // SAFETY: the slice is the contents of `message`, an `Arc` kept in the
                    // same `InFlight` entry until the request has completed (`progress`
                    // drops the entry only after `test` says so, and `finish` waits for the
                    // rest), and nobody writes through an `Arc<Vec<u8>>`: the buffer
                    // outlives every use MPI makes of it, as `'static` promises.
                    let buffer: &'static [u8] =
                        unsafe { std::slice::from_raw_parts(message.as_ptr(), message.len()) };
                    let request = self.world.process_at_rank(dest as i32).immediate_send_with_tag(
                        StaticScope,
                        buffer,
                        tag,
                    );
                    stats::sent(message.len());
                    self.sends.push(InFlight {
                        request: Some(request),
                        _message: message.clone(),
                    });
                }
            }
            Request::Expect(from, key, deliver) => match self.early.remove(&(from, key)) {
                Some((arrival, _)) => deliver(arrival),
                None => {
                    self.expected.insert((from, key), (deliver, Instant::now()));
                }
            },
            Request::Gather(part, stamp, done) => {
                let key = Key::gather(self.gathers);
                self.gathers += 1;
                let size = self.world.size() as usize;
                let others: Vec<usize> = (0..size).filter(|&r| r != self.rank).collect();
                let message = key.message(false, stamp, &part);
                let mut parts = vec![None; size];
                parts[self.rank] = Some((stamp, part));
                for &r in &others {
                    if let Some((Arrival::Data(m), _)) = self.early.remove(&(r, key)) {
                        parts[r] = Key::of(&m).map(|(_, _, s)| (s, m[HEADER_BYTES..].to_vec()));
                    }
                }
                self.serve(Request::Send(others, Arc::new(message)));
                self.gathering.push(Gathering { key, parts, done });
                self.complete_gathers();
            }
            Request::Barrier(done) => {
                let request = self.world.immediate_barrier();
                self.barriers.push((request, done));
            }
            Request::Finalize | Request::Abort => {}
        }
    }

    /// One round of MPI progress: completed sends, arrivals, barriers. Did anything happen?
    fn progress(&mut self) -> bool {
        let mut busy = false;
        let before = self.sends.len();
        for s in &mut self.sends {
            if let Some(request) = s.request.take() {
                if let Err(request) = request.test() {
                    s.request = Some(request);
                }
            }
        }
        self.sends.retain(|s| s.request.is_some());
        busy |= self.sends.len() != before;
        while let Some(probed) = self.world.any_process().immediate_matched_probe() {
            busy = true;
            let (message, status) = probed.matched_receive_vec::<u8>();
            self.arrived(status.source_rank() as usize, message);
        }
        for (request, done) in std::mem::take(&mut self.barriers) {
            match request.test() {
                Ok(_) => {
                    let _ = done.send(());
                    busy = true;
                }
                Err(request) => self.barriers.push((request, done)),
            }
        }
        busy
    }

    /// A message from `from` has arrived: to its receive, or kept until that is expected.
    fn arrived(&mut self, from: usize, message: Vec<u8>) {
        let Some((key, failed, stamp)) = Key::of(&message) else {
            eprintln!(
                "mosaic: rank {}: a malformed message from rank {from} was dropped",
                self.rank
            );
            return;
        };
        stats::received(message.len());
        if key.asks_history() {
            let answer =
                Key::history().message(false, super::program::current(), &super::program::history_bytes());
            self.serve(Request::Send(vec![from], Arc::new(answer)));
            return;
        }
        let arrival = if failed {
            Arrival::Failed(String::from_utf8_lossy(&message[HEADER_BYTES..]).into_owned())
        } else {
            Arrival::Data(message)
        };
        if let Some(g) = self.gathering.iter_mut().find(|g| g.key == key) {
            if let Arrival::Data(m) = arrival {
                g.parts[from] = Some((stamp, m[HEADER_BYTES..].to_vec()));
            }
            self.complete_gathers();
            return;
        }
        match self.expected.remove(&(from, key)) {
            Some((deliver, _)) => deliver(arrival),
            None => {
                self.early.insert((from, key), (arrival, Instant::now()));
            }
        }
    }

    /// Answers the all-gathers that have every part.
    fn complete_gathers(&mut self) {
        for g in std::mem::take(&mut self.gathering) {
            if !g.parts.iter().all(Option::is_some) {
                self.gathering.push(g);
                continue;
            }
            let parts: Vec<(Stamp, Vec<u8>)> = g.parts.into_iter().flatten().collect();
            let mine = parts[self.rank].0;
            let answer = match parts.iter().position(|(s, _)| *s != mine) {
                Some(r) => Err((
                    r,
                    format!(
                        "rank {r} reached this all-gather after {} routed tasks (program hash {:#x}), \
                     rank {} after {} (hash {:#x})",
                        parts[r].0.seq, parts[r].0.hash, self.rank, mine.seq, mine.hash
                    ),
                )),
                None => Ok(parts.into_iter().map(|(_, p)| p).collect()),
            };
            let _ = g.done.send(answer);
        }
    }

    /// The watchdog: a receive that has waited longer than `patience` while messages from
    /// its source have gone unasked as long is waiting for a message that will not come
    /// (the two programs differ): it and the other receives from that source fail.
    fn watch(&mut self) {
        self.watched = Instant::now();
        let stale = |since: &Instant| since.elapsed() > self.patience;
        let mut stuck: Vec<usize> = self
            .expected
            .iter()
            .filter(|(_, (_, since))| stale(since))
            .map(|((from, _), _)| *from)
            .filter(|from| {
                self.early
                    .iter()
                    .any(|((f, _), (_, since))| f == from && stale(since))
            })
            .collect();
        stuck.sort_unstable();
        stuck.dedup();
        for from in stuck {
            let unasked: Vec<Key> = self
                .early
                .keys()
                .filter(|(f, _)| *f == from)
                .map(|(_, k)| *k)
                .collect();
            let waiting: Vec<(usize, Key)> = self
                .expected
                .keys()
                .filter(|(f, _)| *f == from)
                .copied()
                .collect();
            for (f, key) in waiting {
                let (deliver, since) = self.expected.remove(&(f, key)).expect("listed above");
                deliver(Arrival::Diverged(format!(
                    "this rank waited {:.0} s for object {} version {} from rank {from}, which sent {} \
                     message(s) this rank never asked for (the first: object {} version {})",
                    since.elapsed().as_secs_f64(),
                    key.id,
                    key.version,
                    unasked.len(),
                    unasked[0].id,
                    unasked[0].version
                )));
            }
        }
    }

    /// Before finalizing: waits for the sends still in flight (their receivers may need
    /// them to finish), for at most 10 s (a receiver that diverged or died never takes
    /// them: those are left to MPI), and drops what nobody will receive.
    fn finish(mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.sends.is_empty() && Instant::now() < deadline {
            self.progress();
            std::thread::sleep(Duration::from_micros(100));
        }
        for s in &mut self.sends {
            // Never completed: leaked rather than dropped (dropping panics), with its buffer.
            std::mem::forget(s.request.take());
        }
        for (request, done) in std::mem::take(&mut self.barriers) {
            std::mem::forget(request);
            drop(done);
        }
    }
}

/// Run by `exit`: MPI must be finalized before the process ends, or `mpirun` reports the
/// rank as failed.
///
/// A rank whose main thread panicked ends the whole job instead (`MPI_Abort`): the other
/// ranks may be waiting for its messages, and would wait forever (finalizing waits for
/// every rank too).
extern "C" fn finalize_at_exit() {
    if let Some(world) = super::world() {
        if MAIN_PANICKED.load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!(
                "mosaic: rank {}: the main thread panicked; aborting every rank of the job",
                world.rank
            );
            world.comm.abort();
        }
        world.comm.finalize();
    }
}

/// Has the process's main thread panicked (the program is ending with an error)?
static MAIN_PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Chains a panic hook that notes a panic of the main thread (see [`finalize_at_exit`]).
pub(super) fn watch_main_thread() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            MAIN_PANICKED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        previous(info);
    }));
}
