#!/usr/bin/env bash
# Runs an MPI program on two "nodes" of this machine that talk only over TCP: two network
# namespaces (mosaic-node0, mosaic-node1) joined by a veth pair (10.77.0.1 and
# 10.77.0.2), each with a hostname of its own (a UTS namespace), one rank in each.
# mpirun starts in node0 and launches node1's daemon through `ip netns exec` (as its
# "rsh agent", in place of ssh); OpenMPI is told to use TCP only, on that link.
# Needs root, iproute2 and util-linux (unshare); cleans up after itself.
# Usage: scripts/mpi-two-nodes.sh <program> [args...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 <program> [args...]" >&2; exit 2; }
program=$(readlink -f "$1"); shift
work=$(mktemp -d)
cleanup() {
    ip netns del mosaic-node0 2>/dev/null || true
    ip netns del mosaic-node1 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cleanup_nets() { ip netns del mosaic-node0 2>/dev/null || true; ip netns del mosaic-node1 2>/dev/null || true; }
cleanup_nets
ip netns add mosaic-node0
ip netns add mosaic-node1
ip link add mosaic-veth0 type veth peer name mosaic-veth1
ip link set mosaic-veth0 netns mosaic-node0
ip link set mosaic-veth1 netns mosaic-node1
for k in 0 1; do
    ip -n mosaic-node$k addr add 10.77.0.$((k + 1))/24 dev mosaic-veth$k
    ip -n mosaic-node$k link set mosaic-veth$k up
    ip -n mosaic-node$k link set lo up
done
# The "rsh agent": `agent <host> <command...>` runs the command in that host's namespace,
# under that host's name.
cat > "$work/agent" <<'AGENT'
#!/bin/sh
host=$1; shift
case "$host" in
    10.77.0.1) k=0 ;;
    10.77.0.2) k=1 ;;
    *) echo "agent: unknown host $host" >&2; exit 1 ;;
esac
exec ip netns exec mosaic-node$k unshare --uts sh -c "hostname mosaic-node$k; $*"
AGENT
chmod +x "$work/agent"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ip netns exec mosaic-node0 unshare --uts sh -c "hostname mosaic-node0; exec mpirun \
    --hostfile $work/hosts -np 2 --map-by node \
    --mca plm_rsh_agent $work/agent \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM ${MOSAIC_MPI_ENV:-} \
    $program $*"
