//! Helpers shared by the integration tests: a tiny deterministic PRNG (so that the random
//! programs do not depend on any crate's sampling algorithms) and a watchdog that turns a
//! hang into a loud failure instead of a stuck CI job.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

/// SplitMix64: small, fast, and good enough to drive test-case generation. Built with
/// [`Rng::from_bytes`], its first draws come from a fuzzer's input instead, so the fuzzer's
/// mutations steer the choices directly.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    tape: Vec<u8>,
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng {
            state: seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ 0x9E37_79B9_7F4A_7C15,
            tape: Vec::new(),
        }
    }

    /// A generator whose draws come from `bytes`, two bytes each (through the same
    /// mixing function, so every draw is spread over all 64 bits and a change of the
    /// bytes changes that one draw), then go on pseudo-randomly from a seed made of them.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let seed = bytes
            .iter()
            .fold(0u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01B3));
        let mut rng = Rng::new(seed);
        rng.tape = bytes.iter().rev().copied().collect();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        if let Some(low) = self.tape.pop() {
            let high = self.tape.pop().unwrap_or(0);
            return mix(u64::from(u16::from_le_bytes([low, high])) ^ 0x5851_F42D_4C95_7F2D);
        }
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0)");
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `lo..=hi`, signed.
    pub fn irange(&mut self, lo: isize, hi: isize) -> isize {
        lo + self.below((hi - lo + 1) as usize) as isize
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn f64_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Aborts the whole test process if it is still armed after `secs` seconds: a deadlock
/// in the runtime must fail the suite, not hang it. Disarmed when dropped.
#[must_use = "the watchdog is disarmed as soon as the guard is dropped"]
pub struct Watchdog {
    disarmed: Arc<AtomicBool>,
}

/// Arms a [`Watchdog`] for the test called `name`.
pub fn watchdog(name: &'static str, secs: u64) -> Watchdog {
    let disarmed = Arc::new(AtomicBool::new(false));
    let flag = disarmed.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !flag.load(Ordering::SeqCst) {
            eprintln!("watchdog: test `{name}` did not finish within {secs} s (deadlock?); aborting");
            std::process::abort();
        }
    });
    Watchdog { disarmed }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disarmed.store(true, Ordering::SeqCst);
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

/// Keeps the panics that `expected` recognises out of the test output (the first call in
/// a test binary installs the filter; everything else still reaches the default hook).
pub fn silence_panics(expected: fn(&(dyn Any + Send)) -> bool) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !expected(info.payload()) {
                previous(info);
            }
        }));
    });
}

/// A task holding every tile of a matrix (read-write) until [`Gate::open`]: a graph
/// submitted behind it is complete before any of it runs. A trace records a dependency only
/// when the earlier task is still unfinished as the later one is submitted, so tests that
/// inspect a trace's edges submit their graph behind a gate.
pub struct Gate {
    open: Arc<AtomicBool>,
    task: mosaic::datadeps::TaskFuture<()>,
}

/// A [`Gate`] on every tile of `a`.
pub fn gate<T: mosaic::Scalar>(a: &mosaic::DArray<T>) -> Gate {
    let open = Arc::new(AtomicBool::new(false));
    let (rows, cols) = a.tile_grid();
    let tiles: Vec<_> = (0..rows)
        .flat_map(|i| (0..cols).map(move |j| (i, j)))
        .map(|(i, j)| mosaic::datadeps::InOut(a.tile(i, j)))
        .collect();
    let flag = open.clone();
    let task = mosaic::datadeps::spawn(tiles, move |_| {
        while !flag.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_micros(100));
        }
    });
    Gate { open, task }
}

impl Gate {
    /// Lets the held tasks run; waits for the gate task itself.
    pub fn open(self) {
        self.open.store(true, Ordering::SeqCst);
        self.task.wait().expect("the gate task does not fail");
    }
}

/// The Frobenius norm ‖a‖_F, for the residual checks.
pub fn fro(a: &ndarray::Array2<f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}
