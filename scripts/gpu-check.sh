#!/bin/sh
# Runs mosaic's GPU checks on a machine with a CUDA GPU and no Rust toolchain, from the
# binaries scripts/build-gpu-check.sh gathered elsewhere, and writes what they print to
# one file, $2/gpu-check.txt:
#   sh scripts/gpu-check.sh target/gpu-check "$OUT"
# 1. the machine: nvidia-smi, the CUDA libraries found;
# 2. the tests: the library's CUDA unit tests, the NVRTC compile of every kernels/*.cu
#    (with the machine's own libnvrtc, required), the GPU suite (a GPU required), the
#    simulated-device suite;
# 3. the vendor peers, called directly: cuBLAS dgemm and cuSOLVER dpotrf, dgetrf, dgeqrf
#    at n = SIZES (default 8192 16384 32768);
# 4. mosaic at the same sizes, tiles of TILE (default 2048): on the GPU, on CPUs and GPU
#    together, and Cholesky under a device budget of 1/1.5 of the matrix.
# Each step's exit status is recorded; the script goes on after a failure.
bin=${1:-target/gpu-check}
out=${2:-.}
log="$out/gpu-check.txt"
mkdir -p "$out"
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64; do
    [ -d "$d" ] && LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export LD_LIBRARY_PATH
run() {
    printf '\n=== %s ===\n' "$*" >>"$log"
    start=$(date +%s)
    "$@" >>"$log" 2>&1
    rc=$?
    printf '=== exit %s after %ss ===\n' "$rc" "$(($(date +%s) - start))" >>"$log"
}
: >"$log"
run date -u
run nvidia-smi
run sh -c 'ls /usr/local/cuda/lib64 2>/dev/null | grep -E "lib(cublas|cusolver|nvrtc)\.so" | head -20'
run "$bin/lib" cuda --test-threads=1
run env MOSAIC_REQUIRE_NVRTC=1 "$bin/nvrtc_kernels"
run env MOSAIC_REQUIRE_GPU=1 "$bin/cuda_devices" --test-threads=1 --nocapture
run "$bin/sim_devices" --test-threads=1
run "$bin/gpu_peers" ${SIZES:-8192 16384 32768}
run "$bin/gpu_mosaic" ${TILE:-2048} ${SIZES:-8192 16384 32768}
echo "wrote $log"
