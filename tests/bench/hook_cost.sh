#!/usr/bin/env bash
# Hook-cost benchmark: what libflopledger.so adds to one hooked BLAS call (part of
# tests/bench/run.sh, which runs every benchmark and writes docs/performance.md).
#
#   bash tests/bench/hook_cost.sh [--quick] [--reps R] [--calls N] [--no-callgrind] [--out F.json]
#
# Builds tests/bench/hook_cost.c into a temporary directory and runs it R times (default 7)
# interleaved: unmetered, metered (LD_PRELOAD=<build>/libflopledger.so), unmetered, metered, ...
# so that drift in the machine's speed hits both sides alike. Prints, per case, the median
# ns/call of each side with its spread (min..max over the repetitions), the added ns per hooked
# call (median metered - median unmetered) and the ratio metered/unmetered.
# Unless --quick or --no-callgrind, and when valgrind is installed, it then counts instructions
# with callgrind inside the call loops only, at two call counts (20000 and 40000) on each side:
# the slope (Ir(40000) - Ir(20000)) / 20000 is the per-call cost with the first calls' symbol
# lookups cancelled out. (Debian's valgrind is a script that execs
# valgrind.bin, which the runtime also meters until it execs the tool: harmless, as the client
# then starts afresh and re-creates the ledger; only its start-up line is printed twice.)
# --quick (or --short): 3 repetitions of 20000 calls and no callgrind (a few seconds).
# --out F.json: the results as JSON (per case: the per-repetition ns/call of both sides, their
# medians, the added ns and ratio; the callgrind Ir/call when measured; the machine).
# It never asserts timings: exit 0 when everything ran, non-zero (with a message) otherwise.
# The build directory is build/ or $FL_BUILD_DIR; OpenBLAS runs with
# OPENBLAS_NUM_THREADS=1 unless set (the calls are far too small to be threaded anyway).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FL_BUILD_DIR:-$root/build}"
python=/usr/bin/python3

fail() {
  echo "tests/bench/hook_cost.sh: $*" >&2
  exit 1
}

reps=7
calls=200000
callgrind=1
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick | --short)
      reps=3
      calls=20000
      callgrind=0
      ;;
    --out)
      [ $# -ge 2 ] || fail "--out needs a file name"
      out="$2"
      shift
      ;;
    --reps)
      [ $# -ge 2 ] || fail "--reps needs a value"
      reps="$2"
      shift
      ;;
    --calls)
      [ $# -ge 2 ] || fail "--calls needs a value"
      calls="$2"
      shift
      ;;
    --no-callgrind) callgrind=0 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) fail "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || fail "--reps must be a positive integer, got '$reps'"
[[ "$calls" =~ ^[1-9][0-9]*$ ]] || fail "--calls must be a positive integer, got '$calls'"

lib="$build/libflopledger.so"
[ -f "$lib" ] ||
  fail "$lib not found: build flopledger first with 'bash tests/run-all.sh' or 'bash .ci/build.sh' (or set FL_BUILD_DIR)"
[ -x "$python" ] || fail "$python not found (needed for the statistics)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/flopledger-bench.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cc="${CC:-cc}"
if ! "$cc" -O2 -Wall -Wextra -Werror "$root/tests/bench/hook_cost.c" -o "$tmp/hook_cost" \
  -lopenblas 2>"$tmp/cc.log"; then
  cat "$tmp/cc.log" >&2
  fail "cannot compile tests/bench/hook_cost.c with $cc (is libopenblas-dev installed?)"
fi

export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
ledger="$tmp/bench.h5"

# No launcher variables: the metered process is a single rank without MPI.
run_plain() {
  env -u LD_PRELOAD "$@"
}
run_metered() {
  rm -f "$ledger"
  env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u FLOPLEDGER_INTERNAL_RANK_PID \
    LD_PRELOAD="$lib" FLOPLEDGER_LEDGER="$ledger" FLOPLEDGER_QUIET=1 "$@"
}

echo "hook_cost: $reps repetitions x $calls calls per case, interleaved unmetered/metered"
echo "machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //'); runtime: $lib"
for ((r = 1; r <= reps; r++)); do
  if ! run_plain "$tmp/hook_cost" "$calls" >"$tmp/plain.$r" 2>"$tmp/plain.$r.err"; then
    cat "$tmp/plain.$r.err" >&2
    fail "unmetered run $r failed"
  fi
  if ! run_metered "$tmp/hook_cost" "$calls" >"$tmp/metered.$r" 2>"$tmp/metered.$r.err"; then
    cat "$tmp/metered.$r.err" >&2
    fail "metered run $r failed (runtime log above)"
  fi
  [ -s "$ledger" ] || {
    cat "$tmp/metered.$r.err" >&2
    fail "metered run $r wrote no ledger at $ledger: the runtime did not meter it (log above)"
  }
  echo "  repetition $r/$reps done"
done

"$python" - "$tmp" "$reps" "$calls" <<'EOF'
import json, re, statistics, sys
tmp, reps, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
result = {"reps": reps, "calls_per_rep": calls, "cases": {}}
line = re.compile(r"^case=(\S+) calls=(\d+) ns_per_call=([0-9.]+)$")
data, order = {}, []
for side in ("plain", "metered"):
    for r in range(1, reps + 1):
        for text in open(f"{tmp}/{side}.{r}"):
            m = line.match(text.strip())
            if not m:
                sys.exit(f"tests/bench/hook_cost.sh: unexpected hook_cost output: {text!r}")
            if m.group(1) not in order:
                order.append(m.group(1))
            data.setdefault((m.group(1), side), []).append(float(m.group(3)))
print()
print(f"{'case':<22} {'unmetered ns/call':>26} {'metered ns/call':>26} {'added ns':>9} {'ratio':>6}")
print(f"{'':<22} {'median (min..max)':>26} {'median (min..max)':>26}")
for case in order:
    cells = []
    for side in ("plain", "metered"):
        v = data[(case, side)]
        if len(v) != reps:
            sys.exit(f"tests/bench/hook_cost.sh: {case}: {len(v)} {side} results, expected {reps}")
        cells.append((statistics.median(v), min(v), max(v)))
    (pm, plo, phi), (mm, mlo, mhi) = cells
    fmt = lambda med, lo, hi: f"{med:.1f} ({lo:.1f}..{hi:.1f})"
    print(f"{case:<22} {fmt(pm, plo, phi):>26} {fmt(mm, mlo, mhi):>26} {mm - pm:>+9.1f} {mm / pm:>6.3f}")
    # The added ns of each interleaved pair (metered run r minus unmetered run r).
    pairs = [m - p for p, m in zip(data[(case, "plain")], data[(case, "metered")])]
    result["cases"][case] = {
        "unmetered_ns": data[(case, "plain")], "metered_ns": data[(case, "metered")],
        "unmetered_median_ns": pm, "metered_median_ns": mm, "added_ns": mm - pm,
        "added_ns_pairs_median": statistics.median(pairs), "added_ns_pairs_min": min(pairs),
        "added_ns_pairs_max": max(pairs), "ratio": mm / pm}
json.dump(result, open(f"{tmp}/wall.json", "w"))
EOF

# The JSON: the wall-time part, with the callgrind part added when it ran.
write_out() {
  [ -n "$out" ] || return 0
  "$python" - "$tmp" "$out" "$lib" <<'EOF'
import json, os, platform, sys
tmp, out, lib = sys.argv[1:4]
result = json.load(open(f"{tmp}/wall.json"))
if os.path.exists(f"{tmp}/callgrind.json"):
    result["callgrind"] = json.load(open(f"{tmp}/callgrind.json"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
result["machine"] = {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}
result["runtime"] = lib
json.dump(result, open(out, "w"), indent=1)
EOF
}

if [ "$callgrind" -eq 0 ]; then
  write_out
  exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo
  echo "callgrind: skipped (valgrind not installed)"
  write_out
  exit 0
fi

# Instructions (Ir) of the main thread only (--separate-threads=yes, file -01), and only inside
# the benchmark's call loops (--collect-atstart=no --toggle-collect=*_loop): the runtime's start-up
# and exit run a timing-dependent amount of work (rows written, libraries scanned; single
# functions differed by millions of instructions between two runs), which must not enter a slope.
small=20000
large=40000
# The smallest shape of each entry point only: the hook does the same work for any shape (the
# added Ir/call was identical at 2x2x2 and 16x16x16 when both were measured, docs/performance.md).
mapfile -t cases < <("$tmp/hook_cost" 1 | sed 's/^case=\([^ ]*\) .*/\1/' | grep '_2x2x2$')
[ "${#cases[@]}" -gt 0 ] || fail "hook_cost listed no cases"
echo
echo "callgrind: instructions of the main thread at N=$small and N=$large calls per case"
for case in "${cases[@]}"; do
  for n in $small $large; do
    for side in plain metered; do
      cg_out="$tmp/cg.$case.$side.$n"
      if ! "run_$side" valgrind --tool=callgrind --separate-threads=yes --collect-atstart=no \
        --toggle-collect=fortran_loop --toggle-collect=cblas_loop \
        --callgrind-out-file="$cg_out" "$tmp/hook_cost" "$n" "$case" \
        >"$cg_out.stdout" 2>"$cg_out.log"; then
        cat "$cg_out.log" >&2
        fail "callgrind run ($case, $side, N=$n) failed"
      fi
      [ -f "$cg_out-01" ] || fail "callgrind wrote no $cg_out-01 (see valgrind's output above)"
    done
  done
done

"$python" - "$tmp" "$small" "$large" "${cases[@]}" <<'EOF'
import json, sys
tmp, small, large, cases = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
result = {"small_n": small, "large_n": large, "cases": {}}
def ir(case, side, n):
    for text in open(f"{tmp}/cg.{case}.{side}.{n}-01"):
        if text.startswith("summary:") or text.startswith("totals:"):
            return int(text.split()[1])
    sys.exit(f"tests/bench/hook_cost.sh: no Ir total in {tmp}/cg.{case}.{side}.{n}-01")
print(f"{'case':<22} {'Ir/call unmetered':>18} {'Ir/call metered':>16} {'added Ir/call':>14} {'one-run added@'+str(small):>19}")
for case in cases:
    slope = {}
    for side in ("plain", "metered"):
        slope[side] = (ir(case, side, large) - ir(case, side, small)) / (large - small)
    # One run: every collected call (N plus 20000 + 2000 warm-up calls), first-call lookups
    # included.
    naive = (ir(case, "metered", small) - ir(case, "plain", small)) / (small + 22000)
    print(f"{case:<22} {slope['plain']:>18.1f} {slope['metered']:>16.1f} "
          f"{slope['metered'] - slope['plain']:>+14.1f} {naive:>+19.1f}")
    result["cases"][case] = {"ir_per_call_unmetered": slope["plain"],
                             "ir_per_call_metered": slope["metered"],
                             "added_ir_per_call": slope["metered"] - slope["plain"],
                             "naive_added_ir_per_call": naive}
print(f"(Ir/call = (Ir(N={large}) - Ir(N={small})) / {large - small}, counted inside the call loops:")
print(f" the first calls' symbol lookups cancel; 'one-run added' = (Ir_metered - Ir_unmetered) /")
print(f" {small + 22000} in the run with N={small} (22000 warm-up calls), the lookups included)")
json.dump(result, open(f"{tmp}/callgrind.json", "w"))
EOF
write_out
