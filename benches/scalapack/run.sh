#!/usr/bin/env bash
# ScaLAPACK's pdpotrf, pdgetrf and pdgeqrf, the peers of mosaic's distributed Cholesky, LU
# and QR (issue: distributed DArray over MPI). Builds pdfact_bench.c and runs each routine
# at each size on a P x Q grid, one BLAS thread per rank, reps per cell; prints the
# program's lines (the `scalapack routine=…` summaries are the figures).
# Needs (Debian 12): apt-get install -y --no-install-recommends libopenmpi-dev openmpi-bin
#                    libscalapack-openmpi-dev libopenblas-dev
# (libopenblas-dev too: otherwise libblas.so.3 is the reference BLAS, far slower).
# Usage: benches/scalapack/run.sh [sizes="4096 8192"] [nb=256] [P=1] [Q=2] [reps=3]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sizes=${1:-"4096 8192"}; nb=${2:-256}; P=${3:-1}; Q=${4:-2}; reps=${5:-3}
out="${TMPDIR:-/tmp}/mosaic-scalapack"
mkdir -p "$out"
mpicc -O2 -o "$out/pdfact_bench" "$here/pdfact_bench.c" -lscalapack-openmpi -llapack -lblas -lm
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Debian's OpenBLAS 0.3.21 misdetects recent CPUs and falls back to slow generic kernels.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto} grid=${P}x${Q} nb=$nb reps=$reps"
for n in $sizes; do
    for routine in potrf getrf geqrf; do
        mpirun --oversubscribe -np $((P * Q)) -x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS \
            ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE} \
            "$out/pdfact_bench" "$routine" "$n" "$nb" "$P" "$Q" "$reps"
    done
done
