//! A spill directory that fills up: with the process's file-size limit (`RLIMIT_FSIZE`)
//! at 1 MiB, the first spill file cannot grow to its first chunk. Eviction then fails with
//! an error naming the spill file, lowering the limit keeps the old one, a task that needs
//! the room fails with that error, nothing already written is lost, and without a limit
//! the same program runs. Its own test binary: the file-size limit is the process's.

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace};

#[test]
fn a_full_spill_device_is_an_error_naming_the_file_and_loses_nothing() {
    // SAFETY: plain system calls that change this process's signal disposition and
    // resource limit; no memory of the process is involved.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: 1 << 20,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let dir = runtime::spill_dir();
    let a = DArray::<f64>::rand_seeded(Blocks(64, 64), 384, 384, 1);
    let want = a.to_ndarray();
    let tile = 64 * 64 * 8;

    // Lowering the limit below what is resident must spill, which fails: the old limit
    // stays, and the error names a file in the spill directory.
    let err = runtime::set_memory_limit(MemorySpace::Host, Some(8 * tile)).unwrap_err();
    match &err {
        Error::File { path, reason } => {
            assert!(path.starts_with(&dir.display().to_string()), "{path}");
            assert!(path.contains("mosaic-spill"), "{path}");
            assert!(reason.contains("grow"), "{reason}");
        }
        other => panic!("expected a spill-file error, got {other:?}"),
    }
    assert_eq!(runtime::memory_limit(MemorySpace::Host), None);
    assert_eq!(a.to_ndarray(), want, "nothing was lost");

    // A limit set while little is resident, then work that needs to spill: the tasks that
    // need the room fail with the same error.
    let small = DArray::<f64>::zeros(Blocks(64, 64), 64, 64);
    drop(small);
    runtime::set_memory_limit(MemorySpace::Host, Some(100 * tile)).unwrap();
    let b = &a * &a; // 36 result tiles beside 36 + 36 read ones: over the limit.
    let c = &b + &a;
    let r = c.try_to_ndarray();
    assert!(matches!(r, Err(Error::File { .. })), "{r:?}");
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();

    // Without a limit the runtime is usable and the inputs are intact.
    assert_eq!(a.to_ndarray(), want);
    let c = &(&a * &a) + &a;
    let expect = want.dot(&want) + &want;
    let got = c.to_ndarray();
    let err = (&got - &expect).iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(err < 1e-9, "{err}");
}
