#!/bin/bash
# The time per reduction round, back to back, as test hosts are added: mpi_gemm (same shapes,
# 400 steps, one round per step: the rounds lag behind the steps and run one after the other) on
# 1, 2 and 3 test hosts; ms per round = (last row's t_end - first row's t_end) / (rows - 1),
# which includes rank 0's HDF5 append of each row. A measurement, not a test: it asserts nothing.
#   bash tests/multinode/round_cost.sh BUILD_DIR [RANKS_PER_HOST|fixed6]
# Needs root (network namespaces). Results on stdout, one line per run.
set -u
FL_BUILD=$(cd "${1:?usage: round_cost.sh BUILD_DIR [RANKS_PER_HOST|fixed6]}" && pwd)
FL_MODE=${2:-2}
FL_HARNESS=$(dirname "$(readlink -f "$0")")/netns_hosts.sh
FL_NAME=flc$(($$ % 100000))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=10.213.77.0/24 OMPI_MCA_oob_tcp_if_include=10.213.77.0/24
FL_TMP=$(mktemp -d)
trap '"$FL_HARNESS" down "$FL_NAME" > /dev/null 2>&1; rm -rf "$FL_TMP"' EXIT INT TERM
for n in 1 2 3; do
  state=$("$FL_HARNESS" up "$FL_NAME" "$n") || exit $?
  if [ "$FL_MODE" = fixed6 ]; then ranks=6; else ranks=$((FL_MODE * n)); fi
  for rep in 1 2; do
    ledger=$FL_TMP/cost_${n}_$rep.h5
    "$FL_HARNESS" exec "$FL_NAME" 1 "$FL_BUILD/flopledger" run -n "$ranks" --ledger "$ledger" \
      --every-steps 1 --every-seconds 3600 --quiet --mpirun-arg=--oversubscribe \
      --mpirun-arg=--hostfile --mpirun-arg="$state/hostfile" \
      --mpirun-arg=--mca --mpirun-arg=plm_rsh_agent --mpirun-arg="$state/rsh_agent" \
      -- "$FL_BUILD/mpi_gemm" --steps 400 --same-shapes > /dev/null 2>&1 ||
      echo "hosts=$n ranks=$ranks: the job failed" >&2
    /usr/bin/python3 - "$ledger" "$n" "$ranks" << 'PY'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    rows = f["steps"][:]
t = rows["t_end"]
print(f"hosts={sys.argv[2]} ranks={sys.argv[3]} rows={len(rows)} "
      f"ms_per_round={(t[-1] - t[0]) / (len(rows) - 1) * 1e3:.2f}")
PY
  done
  "$FL_HARNESS" down "$FL_NAME"
done
