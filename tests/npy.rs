//! `.npy` files: files written by numpy (committed fixtures, C and Fortran order, f32 and
//! f64) read under several tilings; mosaic's own files round trip; bad files are errors
//! naming the file; a file larger than the host budget is read, factored and written back
//! under it with the same result as without a budget.

use std::path::{Path, PathBuf};

use mosaic::prelude::*;
use mosaic::runtime::{self, MemorySpace};
use ndarray::Array2;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mosaic-test-{}-{name}", std::process::id()))
}

#[test]
fn files_written_by_numpy_are_read_in_either_order_under_any_tiling() {
    let want64 = Array2::from_shape_fn((5, 7), |(i, j)| (i * 7 + j) as f64 * 0.5);
    let want32 = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32 / 4.0);
    for file in ["f64_c.npy", "f64_f.npy"] {
        for blocks in [Blocks(1, 1), Blocks(2, 3), Blocks(5, 7), Blocks(64, 64)] {
            let a = DArray::<f64>::read_npy(fixture(file), blocks).unwrap();
            assert_eq!(a.to_ndarray(), want64, "{file} {blocks:?}");
        }
        let a = DArray::<f64>::read_npy(fixture(file), AutoBlocks).unwrap();
        assert_eq!(a.to_ndarray(), want64);
    }
    for file in ["f32_c.npy", "f32_f.npy"] {
        let a = DArray::<f32>::read_npy(fixture(file), Blocks(3, 2)).unwrap();
        assert_eq!(a.to_ndarray(), want32, "{file}");
    }
}

#[test]
fn mosaic_files_round_trip() {
    let path = scratch("round-trip.npy");
    let a = DArray::<f64>::randn_seeded(Blocks(48, 33), 130, 101, 9);
    a.write_npy(&path).unwrap();
    for blocks in [Blocks(7, 130), Blocks(64, 64)] {
        let b = DArray::<f64>::read_npy(&path, blocks).unwrap();
        assert_eq!(b.to_ndarray(), a.to_ndarray());
    }
    let c = DArray::<f32>::rand_seeded(Blocks(16, 16), 20, 50, 3);
    c.write_npy(&path).unwrap();
    assert_eq!(
        DArray::<f32>::read_npy(&path, AutoBlocks).unwrap().to_ndarray(),
        c.to_ndarray()
    );
    // Degenerate shapes.
    let e = DArray::<f64>::zeros(Blocks(4, 4), 0, 3);
    e.write_npy(&path).unwrap();
    assert_eq!(
        DArray::<f64>::read_npy(&path, AutoBlocks).unwrap().shape(),
        (0, 3)
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let cases = [
        ("missing.npy", "cannot open"),
        ("not_npy.npy", "not a valid .npy file"),
        ("truncated.npy", "truncated"),
        ("i64.npy", "element type"),
        ("big_endian.npy", "element type"),
        ("vector.npy", "dimensions"),
    ];
    for (file, what) in cases {
        let err = DArray::<f64>::read_npy(fixture(file), AutoBlocks).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::File { .. }), "{file}: {err:?}");
        assert!(text.contains(file) && text.contains(what), "{file}: {text}");
    }
    let err = DArray::<f32>::read_npy(fixture("f64_c.npy"), AutoBlocks).unwrap_err();
    assert!(err.to_string().contains("<f8"), "{err}");
    let a = DArray::<f64>::ones(AutoBlocks, 3, 3);
    let err = a.write_npy("/nonexistent-dir/out.npy").unwrap_err();
    assert!(err.to_string().contains("/nonexistent-dir/out.npy"), "{err}");
}

#[test]
fn a_file_larger_than_the_budget_is_read_factored_and_written_under_it() {
    let (input, output) = (scratch("big-in.npy"), scratch("big-out.npy"));
    let n = 320;
    let r = DArray::<f64>::rand_seeded(Blocks(64, 64), n, n, 11);
    let spd = &(&r * &r.t()) + &(&DArray::<f64>::eye(Blocks(64, 64), n) * n as f64);
    spd.write_npy(&input).unwrap();
    let factor = |out: &Path| {
        let a = DArray::<f64>::read_npy(&input, Blocks(64, 64)).unwrap();
        a.cholesky().unwrap().l().write_npy(out).unwrap();
        DArray::<f64>::read_npy(out, Blocks(64, 64)).unwrap().to_ndarray()
    };
    let free = factor(&output);
    let file_bytes = std::fs::metadata(&input).unwrap().len() as usize;
    let limit = file_bytes / 4;
    // The other tests of this binary run meanwhile: a limit below what their running
    // tasks hold is refused (`OutOfMemory`, the old limit kept) until they let go of it.
    let mut tries = 0;
    while let Err(e) = runtime::set_memory_limit(MemorySpace::Host, Some(limit)) {
        tries += 1;
        assert!(tries < 1000, "the limit was refused for 10 s: {e}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    runtime::reset_peak(MemorySpace::Host);
    let bounded = factor(&output);
    let st = runtime::memory_stats(MemorySpace::Host);
    runtime::set_memory_limit(MemorySpace::Host, None).unwrap();
    assert_eq!(free, bounded);
    // The limit bounds the data; a running kernel's scratch is counted on top (it cannot
    // wait for room): the product packs its operands, about two tiles' worth per worker.
    let scratch = mosaic::num_threads() * 2 * 64 * 64 * 8;
    assert!(st.peak <= limit + limit / 4 + scratch, "{st:?}, limit {limit}");
    assert!(st.spilled_bytes > 0, "{st:?}");
    std::fs::remove_file(&input).unwrap();
    std::fs::remove_file(&output).unwrap();
}
