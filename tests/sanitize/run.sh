#!/usr/bin/env bash
# The multi-rank tests under AddressSanitizer and UndefinedBehaviorSanitizer (ctest
# `sanitized_mpi`): configures and builds a second tree with -DFLOPLEDGER_SANITIZE=ON
# (incremental: a second run rebuilds only what changed), then runs in it the unit tests,
# io_tests and the end-to-end scripts of C++ programs with --sanitized (mpi_gemm on 1, 2 and 4
# ranks, the C++ budget, forecast and exit-path cases, `flopledger exec`, ledger pre-flight,
# merge, report/verify/export, evaluate; Python workloads are skipped: the interpreter is not
# instrumented).
# Usage: run.sh SOURCE_DIR SANITIZED_BUILD_DIR. Exit status: non-zero when any part fails.
set -uo pipefail
src="$(cd "$1" && pwd)"
build="$2"
jobs="$(nproc 2>/dev/null || echo 2)"
targets=(flopledger flopledger_trace flopledger_cli mpi_gemm blas_spy io_tests)
# The end-to-end scripts whose programs are all C++ (the command, mpi_gemm) or that skip their
# Python cases with --sanitized.
e2e=(test_mpi_gemm test_exit_paths test_budget_resume test_exec test_no_meter_thread
  test_ledger_preflight test_merge test_trace_tools test_evaluate)

start=$SECONDS
cmake -S "$src" -B "$build" -DFLOPLEDGER_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE="${FL_BUILD_TYPE:-RelWithDebInfo}" >/dev/null || exit 1
cmake --build "$build" -j "$jobs" --target "${targets[@]}" || exit 1
echo "sanitized build: $((SECONDS - start)) s"

# The same options as the e2e scripts' (tests/e2e/e2e_common.py sanitizer_env).
eval "$(cd "$src/tests/e2e" && /usr/bin/python3 -c '
import shlex, e2e_common as E
for k, v in E.sanitizer_env().items(): print(f"export {k}={shlex.quote(v)}")')"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

failed=()
step() { # NAME COMMAND...: runs one part, remembers a failure
  local name="$1" t=$SECONDS
  shift
  echo "=== $name"
  if "$@"; then echo "=== $name: passed ($((SECONDS - t)) s)"
  else echo "=== $name: FAILED ($((SECONDS - t)) s)"; failed+=("$name"); fi
}
# The unit tests run sanitized already (unit_tests_sanitized in the main tree).
step io_tests "$build/tests/io_tests"
for t in "${e2e[@]}"; do
  step "$t" /usr/bin/python3 "$src/tests/e2e/$t.py" --build-dir "$build" --source-dir "$src" \
    --sanitized
done
echo "sanitized_mpi: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitized_mpi: failed: ${failed[*]}"
  exit 1
fi
