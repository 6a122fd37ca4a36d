//! Reproducible random elements, independent of the tiling: element `(i, j)` of a seeded
//! matrix depends only on the seed and `(i, j)` (a counter-based generator, SplitMix64 of
//! the global index), so the same seed gives the same matrix under every partition, and
//! tiles are filled in parallel.

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64 random bits for element `(i, j)` of stream `stream` under `seed`.
fn bits(seed: u64, stream: u64, i: usize, j: usize) -> u64 {
    let key = mix(seed ^ mix(stream.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    mix(key ^ mix((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (j as u64).rotate_left(32)))
}

/// Uniform in [0, 1).
pub(crate) fn uniform(seed: u64, i: usize, j: usize) -> f64 {
    (bits(seed, 0, i, j) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal (Box–Muller on two independent uniforms).
pub(crate) fn normal(seed: u64, i: usize, j: usize) -> f64 {
    let u1 = ((bits(seed, 1, i, j) >> 11) as f64 + 1.0) * (1.0 / ((1u64 << 53) as f64 + 1.0)); // (0, 1]
    let u2 = (bits(seed, 2, i, j) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A fresh seed for the unseeded constructors: different on every call.
pub(crate) fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = mix(COUNTER.fetch_add(1, Ordering::Relaxed));
    // Under MPI every rank makes the same "fresh" matrix: rank 0's seed, and the count of
    // fresh seeds taken so far, which is the same on every rank of one program.
    if let Some(shared) = crate::runtime::distributed::shared_seed() {
        return mix(shared ^ n);
    }
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix(time ^ n)
}
