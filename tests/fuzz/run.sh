#!/usr/bin/env bash
# Fuzz smoke test: configures build-fuzz/ with clang and FLOPLEDGER_FUZZ=ON, builds the libFuzzer
# targets of tests/fuzz/ and runs each on its seed corpus for a bounded time (FL_FUZZ_SECONDS,
# default 20 each; five targets, under 2.5 minutes in all). Fails on any finding (crash, sanitizer
# report, leak, timeout of one input); the finding is left in build-fuzz/findings/<target>/.
# Exit 77 (ctest: skipped) when clang or the libFuzzer runtime is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FL_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FL_FUZZ_SECONDS:-20}"
jobs="${FL_FUZZ_JOBS:-2}"
targets=(fuzz_config fuzz_rules fuzz_model fuzz_budget fuzz_ledger)

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: clang++ is not installed (apt-get install clang)" >&2
  exit 77
fi
runtime_dir="$(clang++ --print-runtime-dir 2>/dev/null || true)"
if [ ! -f "$runtime_dir/libclang_rt.fuzzer-x86_64.a" ]; then
  echo "fuzz: SKIPPED: the libFuzzer runtime (libclang_rt.fuzzer-x86_64.a) is missing from" \
    "'$runtime_dir' (Debian: apt-get install libclang-rt-14-dev)" >&2
  exit 77
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DFLOPLEDGER_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

status=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  findings="$build/findings/$target"
  mkdir -p "$corpus" "$findings"
  # The seeds stay read-only in the source tree; new inputs go to the build directory's copy.
  cp -n "$root/tests/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s" >&2
  if ! (cd "$findings" && "$build/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$corpus" "$root/tests/fuzz/corpus/$target" \
    >"$findings/log.txt" 2>&1); then
    echo "fuzz: $target FOUND A PROBLEM; input and log in $findings" >&2
    tail -n 40 "$findings/log.txt" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$findings/log.txt" >&2 || true
  fi
done
exit "$status"
