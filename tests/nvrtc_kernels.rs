//! Every CUDA kernel module (`kernels/*.cu`) compiles with NVRTC and exports the kernels the
//! runtime launches, for both element types: a syntax error shows up here, on any machine
//! with libnvrtc, rather than on the first GPU run. No GPU is needed.
//!
//! Without libnvrtc the test prints why and passes, unless `MOSAIC_REQUIRE_NVRTC=1` (CI),
//! which makes it fail. See `kernels/README.md` for getting libnvrtc from pip.
#![cfg(feature = "cuda")]

use std::collections::BTreeSet;

/// Each module's kernels, without the `_f64` / `_f32` suffix.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "elementwise",
        &[
            "add",
            "sub",
            "hadamard",
            "div",
            "add_scalar",
            "sub_scalar",
            "mul_scalar",
            "div_scalar",
            "axpby",
            "scale",
            "fill",
            "copy",
        ],
    ),
    ("laswp", &["laswp", "laswp_tiles", "laswp_i32", "laswp_tiles_i32"]),
    ("random", &["rand_uniform", "rand_normal", "eye"]),
    ("reduce", &["row_sums", "row_sums_squares"]),
    ("transpose", &["transpose"]),
    (
        "triangle",
        &["laset_upper", "laset_lower", "copy_lower", "copy_upper"],
    ),
];

const HOW_TO_GET_NVRTC: &str = "pip install 'nvidia-cuda-nvrtc==13.0.*', then put the wheel's \
     nvidia/cu13/lib on LD_LIBRARY_PATH (kernels/README.md)";

/// The kernels a PTX text defines: the names after `.entry`.
fn entries(ptx: &str) -> BTreeSet<String> {
    ptx.lines()
        .filter_map(|line| line.split_once(".entry ").map(|(_, rest)| rest))
        .map(|rest| {
            rest.split(|c: char| c == '(' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// The parameter types of kernel `name` in a PTX text (`.param .u64 …`: `u64`, `f64`, …).
fn parameters(ptx: &str, name: &str) -> Option<Vec<String>> {
    let start = ptx.find(&format!(".entry {name}("))?;
    let list = &ptx[start..start + ptx[start..].find(')')?];
    Some(
        list.lines()
            .filter_map(|line| line.trim().strip_prefix(".param ."))
            .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
            .collect(),
    )
}

/// The module names, from the `.cu` files of `kernels/`.
fn kernel_files() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cu"))
        .map(|path| {
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn every_kernel_module_compiles_with_nvrtc_and_exports_its_kernels() {
    let Some(compiled) = mosaic::backend::cuda_kernels_compile() else {
        if std::env::var("MOSAIC_REQUIRE_NVRTC").as_deref() == Ok("1") {
            panic!("MOSAIC_REQUIRE_NVRTC=1 but libnvrtc cannot be loaded: {HOW_TO_GET_NVRTC}");
        }
        println!("skipped: libnvrtc not found ({HOW_TO_GET_NVRTC})");
        return;
    };

    let modules: BTreeSet<String> = compiled.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(
        modules,
        kernel_files(),
        "the embedded modules are not the files kernels/*.cu"
    );
    let listed: BTreeSet<String> = EXPECTED.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(modules, listed, "this test's list of modules is out of date");

    let mut failures = Vec::new();
    for (name, result) in &compiled {
        let ptx = match result {
            Ok(ptx) => ptx,
            Err(message) => {
                failures.push(message.clone());
                continue;
            }
        };
        let kernels = EXPECTED
            .iter()
            .find(|(m, _)| m == name)
            .map_or(&[][..], |(_, k)| k);
        let want: BTreeSet<String> = kernels
            .iter()
            .flat_map(|k| [format!("{k}_f64"), format!("{k}_f32")])
            .collect();
        let have = entries(ptx);
        if have != want {
            failures.push(format!(
                "{name}.cu: kernels missing {:?}, unexpected {:?}",
                want.difference(&have).collect::<Vec<_>>(),
                have.difference(&want).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_kernel_the_runtime_launches_takes_the_arguments_it_is_given() {
    let Some(compiled) = mosaic::backend::cuda_kernels_compile() else {
        if std::env::var("MOSAIC_REQUIRE_NVRTC").as_deref() == Ok("1") {
            panic!("MOSAIC_REQUIRE_NVRTC=1 but libnvrtc cannot be loaded: {HOW_TO_GET_NVRTC}");
        }
        println!("skipped: libnvrtc not found ({HOW_TO_GET_NVRTC})");
        return;
    };
    let mut failures = Vec::new();
    for &(module, kernel, letters) in mosaic::backend::cuda_kernels_launched() {
        let Some((_, Ok(ptx))) = compiled.iter().find(|(m, _)| *m == module) else {
            failures.push(format!("{module}.cu did not compile"));
            continue;
        };
        for (suffix, scalar) in [("f64", "f64"), ("f32", "f32")] {
            let name = format!("{kernel}_{suffix}");
            // A `long long` and a pointer are both 64-bit integers in PTX.
            let want: Vec<String> = letters
                .chars()
                .map(|c| if c == 'v' { scalar } else { "u64" }.to_owned())
                .collect();
            match parameters(ptx, &name) {
                Some(have) if have == want => {}
                have => failures.push(format!(
                    "{module}.cu {name}: launched with {want:?}, declares {have:?}"
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
