#!/usr/bin/env bash
# mosaic's distributed Cholesky, LU and QR against ScaLAPACK's pdpotrf, pdgetrf, pdgeqrf
# on 2 ranks (grid 1x2), same tile size, interleaved per size and routine; plus mosaic on
# 1 rank with 2 workers (the cost of going distributed). Prints the programs' summary
# lines (`mosaic routine=…`, `scalapack routine=…`); `plot.py` draws them.
# Needs the ScaLAPACK setup of benches/scalapack/run.sh, and the mpi feature's.
# Usage: benches/mpi/run.sh [sizes="4096 8192"] [nb=256] [reps=3]
# mosaic's ranks run unbound (--bind-to none): OpenMPI binds each of 2 ranks to one
# core by default, which leaves mosaic's submitting and communication threads competing
# with its worker on that core (and one rank with 2 workers on a single core).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
sizes=${1:-"4096 8192"}; nb=${2:-256}; reps=${3:-3}
(cd "$root" && cargo build --release --features mpi --example mpi_factor >/dev/null)
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/mpi_factor"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for n in $sizes; do
    for routine in potrf getrf geqrf; do
        mpirun -np 2 --bind-to none -x MOSAIC_NUM_THREADS=1 "$bin" "$routine" "$n" "$nb" "$reps" | grep '^mosaic'
        mpirun -np 1 --bind-to none -x MOSAIC_NUM_THREADS=2 "$bin" "$routine" "$n" "$nb" "$reps" | grep '^mosaic'
    done
    bash "$root/benches/scalapack/run.sh" "$n" "$nb" 1 2 "$reps" | grep '^scalapack'
done
