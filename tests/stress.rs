//! Reliability under stress: matrices dropped while their tasks are still pending, and many
//! user threads submitting operations at once, all checked against dense references.

mod common;

use common::fro;
use mosaic::prelude::*;

/// Inputs, intermediate results and factorizations dropped before their tasks ran: the
/// results that are kept come out right, and nothing hangs.
#[test]
fn darrays_dropped_with_pending_tasks_lose_nothing() {
    let n = 384;
    let part = Blocks(64, 64);
    let q = {
        let a = DArray::<f64>::rand_seeded(part, n, n, 1);
        let b = DArray::<f64>::rand_seeded(part, n, n, 2);
        let p = &a * &b; // pending
        let q = &p + &a; // pending, reads p and a
        drop((a, b, p));
        q
    };
    let (a, b) = (
        DArray::<f64>::rand_seeded(part, n, n, 1).to_ndarray(),
        DArray::<f64>::rand_seeded(part, n, n, 2).to_ndarray(),
    );
    let want = a.dot(&b) + &a;
    assert!(fro(&(&q.to_ndarray() - &want)) < 1e-12 * fro(&want));

    // A factorization whose input and result are both dropped at once: its tasks still run
    // (and free their tiles); a later one on the same data is right.
    let spd = &(&q * &q.t()) + &(DArray::eye(part, n) * n as f64);
    for _ in 0..3 {
        drop(spd.lu().unwrap());
        drop(spd.qr().unwrap());
    }
    let l = spd.cholesky().unwrap().l().to_ndarray();
    let s = spd.to_ndarray();
    assert!(fro(&(&s - &l.dot(&l.t()))) < 1e-12 * n as f64 * fro(&s));
}

/// Eight threads each build, multiply and factor their own matrices at the same time (the
/// runtime's queue, trackers and tile pool shared): every result matches its reference.
#[test]
fn many_threads_submitting_at_once_get_correct_results() {
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                let n = 96 + 16 * t as usize;
                let part = Blocks(32, 32);
                let a = DArray::<f64>::rand_seeded(part, n, n, 100 + t);
                let spd = &(&a * &a.t()) + &(DArray::eye(part, n) * n as f64);
                let ch = spd.cholesky().expect("SPD");
                let lu = a.lu().expect("random matrices are nonsingular");
                let (s, l) = (spd.to_ndarray(), ch.l().to_ndarray());
                let chol = fro(&(&s - &l.dot(&l.t()))) / (n as f64 * fro(&s) * f64::EPSILON);
                let ad = a.to_ndarray();
                let pa = ad.select(ndarray::Axis(0), &lu.p());
                let (lf, uf) = (lu.l().to_ndarray(), lu.u().to_ndarray());
                let lur = fro(&(&pa - &lf.dot(&uf))) / (n as f64 * fro(&ad) * f64::EPSILON);
                (chol, lur)
            })
        })
        .collect();
    for (t, h) in threads.into_iter().enumerate() {
        let (chol, lu) = h.join().expect("no thread panicked");
        assert!(chol < 1.0 && lu < 1.0, "thread {t}: residuals {chol}, {lu}");
    }
}
