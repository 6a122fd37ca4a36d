#!/bin/sh
# Out-of-core figures for BENCHMARKS.md: rate against host budget at n = 8192, the three
# factorizations at n = 16384 under 512 MiB, and (with BIG=1) a Cholesky larger than RAM
# from an npy file to an npy file. One line per run (key=value), in-core and budgeted runs
# of one configuration next to each other.
#   sh benches/out_of_core.sh > out.txt      (REPS=2 to repeat the n = 8192 sweep)
set -e
cargo build --release --example out_of_core --example npy_cholesky >&2
bin=target/release/examples
grep -m1 "model name" /proc/cpuinfo
for rep in $(seq 1 "${REPS:-1}"); do
  for op in potrf getrf geqrf; do
    for mib in 0 256 128 64; do
      $bin/out_of_core $op 8192 $mib
    done
  done
done
for op in potrf getrf geqrf; do
  for mib in 0 512; do
    $bin/out_of_core $op 16384 $mib
  done
done
if [ -n "$BIG" ]; then
  $bin/npy_cholesky "${BIG_N:-57344}" "${BIG_MIB:-8192}" "${BIG_DIR:-/tmp}"
fi
