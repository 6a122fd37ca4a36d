#!/bin/sh
# Placement figures for BENCHMARKS.md: a Cholesky and an LU on the CPU workers plus one
# simulated accelerator RATIO times as fast as one CPU worker (default 800: an H100's
# 67 Tflop/s f64 over one AVX-512 core's ~85 Gflop/s), with a 25 GB/s, 10 µs link, under
# the three policies (earliest finish time, every kernel on the device, round-robin),
# interleaved, REPS times. One line per run (key=value); Gantt charts of the first
# repetition go to $CHARTS (default docs/runs).
#   sh benches/placement.sh > out.txt      (N=4096 TILE=512 RATIO=800 REPS=1)
set -e
cargo build --release --example placement >&2
bin=target/release/examples/placement
n=${N:-4096}; b=${TILE:-512}; ratio=${RATIO:-800}; charts=${CHARTS:-docs/runs}
grep -m1 "model name" /proc/cpuinfo
for rep in $(seq 1 "${REPS:-1}"); do
  for op in potrf getrf; do
    for policy in eft device round-robin; do
      chart=""
      if [ "$rep" = 1 ]; then chart="$charts/placement-$op-$policy.svg"; fi
      MOSAIC_PLACEMENT=$policy $bin $op "$n" "$b" "$ratio" $chart
    done
  done
done
