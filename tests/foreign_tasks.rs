//! A thread that waits runs only tasks it submitted itself. Here it holds a lock while it
//! waits, and another thread's task needs that lock: the task must run on a worker once
//! the lock is free. Run on the waiting thread, it would wait for that thread itself
//! (std's `Mutex` is not reentrant) and the process would hang; the watchdog aborts then.

mod common;

use std::sync::{mpsc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use common::watchdog;
use mosaic::prelude::*;

static SHARED: Mutex<u64> = Mutex::new(0);

#[test]
fn a_waiting_thread_does_not_run_another_threads_task() {
    // Three workers: one runs the gated task, one is woken for the other thread's task,
    // and one stays asleep and idle, the state in which a waiting thread may run a task.
    mosaic::set_num_threads(3);
    let _wd = watchdog("a_waiting_thread_does_not_run_another_threads_task", 120);
    for round in 0..40u64 {
        sleep(Duration::from_millis(2)); // every worker asleep
        let guard = SHARED.lock().unwrap();
        let (open, gate) = mpsc::channel::<()>();
        let gated = spawn((), move |()| gate.recv().unwrap());
        let (submitted, queued) = mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            let task = spawn((), |()| *SHARED.lock().unwrap() += 1);
            submitted.send(()).unwrap();
            // The waiting thread now finds this task queued; later the gate opens.
            sleep(Duration::from_millis(1));
            open.send(()).unwrap();
            task.wait().unwrap();
        });
        queued.recv().unwrap();
        gated.wait().unwrap();
        drop(guard);
        other.join().unwrap();
        assert_eq!(*SHARED.lock().unwrap(), round + 1);
    }
}
