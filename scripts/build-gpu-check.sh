#!/bin/sh
# Builds, on a machine with the Rust toolchain (no GPU needed), the binaries that
# scripts/gpu-check.sh runs on a GPU machine (which has no Rust toolchain), and gathers
# them, stripped, in target/gpu-check/ (about 20 MiB):
#   sh scripts/build-gpu-check.sh
# then, on the GPU machine, with target/gpu-check carried over:
#   sh scripts/gpu-check.sh target/gpu-check "$OUT"
set -e
cd "$(dirname "$0")/.."
out=target/gpu-check
rm -rf "$out" && mkdir -p "$out"
msg=$(cargo build --release --features cuda --lib --tests --benches --examples --message-format=json 2>/dev/null)
# The executables cargo reports, by target name: test binaries (the library's own tests
# as `lib`), the vendor-peer and mosaic GPU benchmarks, the examples.
echo "$msg" | python3 -c '
import json, shutil, sys
want = {"lib": "lib", "sim_devices": "sim_devices", "nvrtc_kernels": "nvrtc_kernels",
        "cuda_devices": "cuda_devices", "gpu_peers": "gpu_peers", "gpu_mosaic": "gpu_mosaic",
        "placement": "placement", "demo": "demo"}
for line in sys.stdin:
    m = json.loads(line)
    exe = m.get("executable")
    if m.get("reason") != "compiler-artifact" or not exe:
        continue
    name = m["target"]["name"]
    kind = m["target"]["kind"][0]
    key = "lib" if kind == "lib" else name
    if key in want:
        shutil.copy(exe, sys.argv[1] + "/" + want[key])
' "$out"
strip "$out"/* 2>/dev/null || true
cp scripts/gpu-check.sh "$out"/
ls -la "$out" >&2
du -sh "$out" >&2
