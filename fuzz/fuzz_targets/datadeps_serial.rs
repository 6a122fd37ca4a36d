//! Random `datadeps` programs against their serial run: the fuzzer's input chooses the
//! arrays, their layouts and every task's accesses (modes, slices with any bounds and
//! steps, rows and columns, triangular and diagonal parts) through `tests/programs`, the
//! generator the `serial_equivalence` tests use; any difference from the serial result,
//! bit for bit, is a crash.

#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/mod.rs"]
mod common;
#[macro_use]
#[path = "../../tests/programs/mod.rs"]
mod programs;

fuzz_target!(|data: &[u8]| {
    static THREADS: Once = Once::new();
    // More workers than cores, to vary the interleavings; `MOSAIC_FUZZ_THREADS=1` makes
    // coverage deterministic, for minimising the corpus.
    THREADS.call_once(|| {
        let n = std::env::var("MOSAIC_FUZZ_THREADS")
            .ok()
            .and_then(|v| v.parse().ok());
        mosaic::set_num_threads(n.unwrap_or(4));
    });
    let mut rng = common::Rng::from_bytes(data);
    let opts = programs::GenOptions {
        max_sleep_us: 0,
        priorities: rng.chance(0.5),
    };
    let program = programs::gen_program_from(&mut rng, 0, opts);
    programs::check_program(&program);
});
