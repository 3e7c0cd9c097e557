#!/usr/bin/env bash
# Every benchmark of flopledger, and the report: what metering costs and how exact it is, next to
# the peers' approaches, on this machine (issue 7; docs/performance.md says how to read it).
#
#   bash tests/bench/run.sh [--quick] [--out-dir DIR] [--only PART[,PART...]] [--no-build]
#
# Full mode (the figures of docs/performance.md): configures and builds a Release tree in
# build-bench/ ($FL_BENCH_BUILD_DIR), runs every part below in turn, writes their JSON and logs
# under DIR (default build-bench/bench-results/), then renders DIR/performance.md and the SVG
# charts, and copies them to docs/performance.md and docs/performance/. About 10 minutes on a
# quiet 2-core machine; run it with nothing else running, the figures are wall times.
# --quick: a smoke run for CI (under 3 minutes): no build (it uses build/ or $FL_BUILD_DIR as it
# is), every part in its quick mode, the report written to DIR (default
# <build>/bench-quick/) only, never to docs/.
# --only: run only these parts (the report is rendered from whatever JSON DIR holds; in full mode
# docs/ is updated when DIR then holds the results of every part).
# --no-build: full mode on an existing build-bench/ (or $FL_BENCH_BUILD_DIR) as it is.
#
# Parts (each a script of its own, runnable alone with --quick and --out FILE.json):
#   hook       tests/bench/hook_cost.sh      added ns and instructions per hooked BLAS call
#   e2e        tests/bench/e2e_overhead.py   the default PyTorch job unmetered / flopledger /
#                                            AWS's per-micro-step token all-reduce, interleaved
#   fidelity   tests/bench/fidelity.py       counted FLOPs vs the BLAS spy, the closed forms,
#                                            the analytic estimate, AWS's and HF's formulas
#   reduce     tests/bench/reduce_bench.py   cost per period at 1-16 ranks, bytes on the wire,
#                                            the log P model at 10^3-10^5 ranks
#   trace      tests/bench/trace_bench.py    rows/s, bytes per row, 10^6 rows, verify time, RSS
# Timings are never asserted. Exit status: 0 when every part ran and the report was written,
# 1 (naming the parts that failed, with their logs) otherwise.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python=/usr/bin/python3
all_parts=(hook e2e fidelity reduce trace)

fail() {
  echo "tests/bench/run.sh: $*" >&2
  exit 1
}

quick=0
build_it=1
out_dir=""
parts=("${all_parts[@]}")
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --no-build) build_it=0 ;;
    --out-dir)
      [ $# -ge 2 ] || fail "--out-dir needs a directory"
      out_dir="$2"
      shift
      ;;
    --only)
      [ $# -ge 2 ] || fail "--only needs a list of parts (${all_parts[*]})"
      IFS=, read -r -a parts <<<"$2"
      for p in "${parts[@]}"; do
        [[ " ${all_parts[*]} " == *" $p "* ]] || fail "--only: unknown part '$p' (parts: ${all_parts[*]})"
      done
      shift
      ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) fail "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ -x "$python" ] || fail "$python not found (bash tests/run-all.sh or examples/run-default.sh installs it)"

if [ "$quick" -eq 1 ]; then
  build="${FL_BUILD_DIR:-$root/build}"
  [ -f "$build/libflopledger.so" ] ||
    fail "$build/libflopledger.so not found: build first (bash .ci/build.sh) or set FL_BUILD_DIR"
  out_dir="${out_dir:-$build/bench-quick}"
else
  build="${FL_BENCH_BUILD_DIR:-$root/build-bench}"
  if [ "$build_it" -eq 1 ]; then
    bash "$root/.ci/install-deps.sh" || fail "installing the dependencies failed"
    echo "== building Release in $build"
    start=$SECONDS
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
      fail "cmake could not configure $build"
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
      --target flopledger flopledger_trace flopledger_cli mpi_gemm blas_spy reduce_bench trace_bench \
      >"$build/bench-build.log" 2>&1 || {
      tail -30 "$build/bench-build.log" >&2
      fail "the Release build failed (log: $build/bench-build.log)"
    }
    echo "   built in $((SECONDS - start)) s"
  fi
  [ -f "$build/libflopledger.so" ] || fail "$build/libflopledger.so not found (drop --no-build)"
  out_dir="${out_dir:-$build/bench-results}"
fi
export FL_BUILD_DIR="$build"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mkdir -p "$out_dir/logs" || fail "cannot create $out_dir"

q=()
[ "$quick" -eq 1 ] && q=(--quick)
part_command() { # PART: the command line of a part, writing its JSON into $out_dir
  local json="$out_dir/$1.json"
  case "$1" in
    hook) echo bash "$root/tests/bench/hook_cost.sh" "${q[@]}" --out "$json" ;;
    e2e) echo "$python" "$root/tests/bench/e2e_overhead.py" "${q[@]}" --out "$json" ;;
    fidelity) echo "$python" "$root/tests/bench/fidelity.py" "${q[@]}" --out "$json" ;;
    reduce) echo "$python" "$root/tests/bench/reduce_bench.py" "${q[@]}" --out "$json" ;;
    trace)
      if [ "$quick" -eq 1 ]; then
        echo "$python" "$root/tests/bench/trace_bench.py" --quick --out "$json"
      else
        echo "$python" "$root/tests/bench/trace_bench.py" --rows 1000000 --out "$json"
      fi
      ;;
  esac
}

failed=()
total=$SECONDS
for part in "${parts[@]}"; do
  log="$out_dir/logs/$part.log"
  rm -f "$out_dir/$part.json"
  echo "== $part: $(part_command "$part")"
  start=$SECONDS
  # shellcheck disable=SC2046 # the command line is built from paths without spaces
  if $(part_command "$part") >"$log" 2>&1 && [ -s "$out_dir/$part.json" ]; then
    echo "   done in $((SECONDS - start)) s (log: $log)"
  else
    echo "   FAILED after $((SECONDS - start)) s; the end of its log ($log):"
    tail -15 "$log" | sed 's/^/   | /'
    failed+=("$part")
  fi
done

mode=full
[ "$quick" -eq 1 ] && mode=quick
if ! "$python" "$root/tests/bench/report.py" --results "$out_dir" --mode "$mode" \
  --out "$out_dir/performance.md"; then
  fail "rendering the report from $out_dir failed"
fi
# docs/ only from a full run whose every part's results are there (--only re-runs a part into
# the results of an earlier full run).
complete=1
for p in "${all_parts[@]}"; do [ -s "$out_dir/$p.json" ] || complete=0; done
if [ "$quick" -eq 0 ] && [ ${#failed[@]} -eq 0 ] && [ "$complete" -eq 1 ]; then
  mkdir -p "$root/docs/performance"
  cp "$out_dir"/*.svg "$root/docs/performance/"
  cp "$out_dir/performance.md" "$root/docs/performance.md"
  echo "== docs/performance.md and docs/performance/*.svg updated"
fi
echo "== report: $out_dir/performance.md ($((SECONDS - total)) s in all)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tests/bench/run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
