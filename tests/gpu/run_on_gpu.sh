#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (never in CI: no GPU there). Builds flopledger in Release, runs
# known GEMMs through the real cuBLAS and cuBLASLt under the runtime (tests/gpu/gpu_check.cpp:
# plain, GemmEx fp16, strided batched, fp64, cublasLtMatmul bf16 batched, a CUDA graph launched N
# times, a rejected call), checks every ledger step against 2·m·n·k exactly, measures the hook cost
# per call (runs with and without the runtime, interleaved, medians), and prints what the ledger
# says of NVML and CUPTI. Writes the figures as Markdown to $OUT/gpu-figures.md (or
# ./gpu-figures.md), for docs/gpu.md. Exit status: 1 when a count differs.
#
#   bash tests/gpu/run_on_gpu.sh            FL_GRAPH_REPLAYS (10), FL_COST_CALLS (100000),
#                                           FL_COST_ROUNDS (5), FL_BUILD_DIR (build-gpu)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FL_BUILD_DIR:-$root/build-gpu}"
replays="${FL_GRAPH_REPLAYS:-10}"
calls="${FL_COST_CALLS:-100000}"
rounds="${FL_COST_ROUNDS:-5}"
out="${OUT:-.}/gpu-figures.md"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target flopledger flopledger_trace flopledger_cli gpu_check
check="$build/tests/gpu_check"
[ -x "$check" ] || { echo "run_on_gpu: $check was not built (no CUDA Toolkit?)" >&2; exit 2; }
nvidia-smi -L || echo "run_on_gpu: nvidia-smi not found" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ledger="$work/gpu.h5"
metered() {
  env FLOPLEDGER_LEDGER="$ledger" FLOPLEDGER_EVERY_STEPS=1 FLOPLEDGER_EVERY_SECONDS=3600 \
    FLOPLEDGER_QUIET=1 LD_PRELOAD="$build/libflopledger.so" "$@"
}

metered "$check" check "$replays" >"$work/expect.txt"
status=0
"$py" - "$root" "$ledger" "$work/expect.txt" "$out" <<'PY' || status=1
import sys
sys.path.insert(0, sys.argv[1] + "/tests/e2e")
import e2e_common as E
_, _, ledger, expect_path, out = sys.argv
expected = {}
for line in open(expect_path):
    if line.startswith("expect "):
        kv = dict(t.split("=", 1) for t in line.split()[1:])
        expected[int(kv["step"])] = (kv["source"], kv["precision"], int(kv["flops"]))
trace = E.read_trace(ledger)
# A row covers the steps since the previous row (a step without FLOPs writes no row of its own).
lines = ["| steps | expected | ledger (source, precision) | |", "|---|---|---|---|"]
bad = 0
seen = set()
for row, steps in zip(trace["steps"], E.covered_steps(trace["steps"])):
    want_s = [0] * len(E.SOURCES); want_p = [0] * len(E.PRECISIONS)
    for step in steps:
        seen.add(step)
        if step in expected:
            source, precision, flops = expected[step]
            want_s[E.SOURCES.index(source)] += flops
            want_p[E.PRECISIONS.index(precision)] += flops
    by_source, by_precision = row["flops_by_source_u128"], row["flops_by_precision_u128"]
    ok = list(by_source) == want_s and list(by_precision) == want_p
    bad += not ok
    lines.append(f"| {steps} | {sum(want_s)} {[expected.get(s) for s in steps]} | "
                 f"{sum(by_source)} {dict(zip(E.SOURCES, by_source))} "
                 f"{dict(zip(E.PRECISIONS, by_precision))} | {'ok' if ok else 'DIFFERS'} |")
for step, (source, precision, flops) in sorted(expected.items()):
    if step not in seen and flops != 0:
        bad += 1
        lines.append(f"| {step} | {flops} {source} {precision} | no row | DIFFERS |")
env = {r["key"]: r["value"] for r in E.read_environment(ledger)}
lines += ["", f"gpu_device: {env.get('gpu_device', '?')}", f"gpu_nvml: {env.get('gpu_nvml', '?')}",
          f"gpu_cupti: {env.get('gpu_cupti', '?')}"]
energy = sum(int(r.get("energy_mj", 0) or 0) for r in trace["steps"])
lines.append(f"energy over the job: {energy} mJ")
text = "\n".join(lines)
print(text)
open(out, "w").write("## gpu_check counts\n\n" + text + "\n")
sys.exit(1 if bad else 0)
PY

# Hook cost: the same binary with and without the runtime, interleaved.
for _ in $(seq "$rounds"); do
  "$check" cost "$calls" | sed 's/^/plain /'
  metered "$check" cost "$calls" | sed 's/^/metered /'
done >"$work/cost.txt"
"$py" - "$work/cost.txt" "$out" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    mode, kv = line.split()
    key, value = kv.split("=")
    runs.setdefault((mode, key), []).append(float(value))
lines = ["", "## Hook cost (host time per call, medians, min-max)", "",
         "| call | unmetered ns | metered ns | added ns |", "|---|---|---|---|"]
for key in ("sgemm_ns_per_call", "lt_ns_per_call"):
    p, m = runs[("plain", key)], runs[("metered", key)]
    lines.append(f"| {key.split('_')[0]} | {statistics.median(p):.1f} ({min(p):.1f}-{max(p):.1f}) | "
                 f"{statistics.median(m):.1f} ({min(m):.1f}-{max(m):.1f}) | "
                 f"{statistics.median(m) - statistics.median(p):+.1f} |")
text = "\n".join(lines)
print(text)
open(sys.argv[2], "a").write(text + "\n")
PY
echo "run_on_gpu: figures in $out"
exit "$status"
