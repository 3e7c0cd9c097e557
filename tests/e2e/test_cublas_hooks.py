#!/usr/bin/env python3
"""cuBLAS and cuBLASLt hooks against fake, versioned libcublas.so.13 / libcublasLt.so.13.

The fakes (tests/support/fake_cuda/) stand for NVIDIA's libraries where there is no GPU: same
sonames, same symbol versions (@@libcublas.so.13), the real headers' prototypes, argument checks
and no computation. A workload library that stands for a framework's CUDA module calls every hooked
entry point once with its own shape and once with arguments cuBLAS rejects, and ends a flopledger
step after each, so every ledger row holds one entry point. It is loaded three ways under the
preloaded runtime: linked, dlopen(RTLD_LOCAL) and Python's ctypes (the fakes are then outside the
global scope, where dlsym(RTLD_NEXT) finds nothing). Each entry point must be counted exactly once
with its exact FLOPs, source and precision; rejected calls, and cuBLAS's inner cublasLtMatmul
(the fake cublasSgemm_v2 and cublasGemmEx run through it), not at all. Also: a hook whose real
library is not loaded returns CUBLAS_STATUS_NOT_INITIALIZED without crashing, and every GEMM entry
point the real libcublas.so.13 exports is hooked (but the documented exceptions). And CUDA Graphs,
with a fake libcupti.so.13 standing for CUPTI (it delivers the driver and resource callbacks that
CUDA would around capture, instantiation and launch): GEMMs issued on a capturing stream count 0
when captured and their FLOPs at every successful launch of the executable."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

SOURCES = ["blas_gemm", "blas_gemv", "cblas_gemm", "cublas", "cublaslt", "api"]
PRECISIONS = ["fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "other"]
ENTRY_POINTS = 64  # what fake_cuda_workload.cpp calls
REAL_CUBLAS = "/usr/local/cuda/lib64/libcublas.so.13"
# Exported by cuBLAS 13 but not hooked (docs/gpu.md): the multi-GPU cublasXt host API and the
# integer cublasUint8gemmBias.
NOT_HOOKED = re.compile(r"^(cublasXt.*|cublasUint8gemmBias)$")

CTYPES_SCRIPT = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])  # RTLD_LOCAL, as Python loads extension modules
sys.exit(lib.fl_cuda_workload())
"""

MISSING_SCRIPT = """
import ctypes
own = ctypes.CDLL(None)  # the global scope: the preloaded runtime's hooks, no cuBLAS loaded
print("sgemm_status=%d" % own.cublasSgemm_v2(None, 0, 0, 2, 2, 2, None, None, 2, None, 2, None, None, 2))
print("lt_status=%d" % own.cublasLtMatmul(*([None] * 16)))
print("sgemm_again=%d" % own.cublasSgemm_v2(None, 0, 0, 2, 2, 2, None, None, 2, None, 2, None, None, 2))
"""


def expectations(stdout):
    """[(step 1-based, entry point, source, precision, flops)] from the workload's expect lines;
    the FLOPs are computed here from the shapes: sum of count * m*n*k, times 2 (real) or 8."""
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if not parts or parts[0] != "expect":
            continue
        step, name, source, precision, field, groups = int(parts[1]), parts[2], parts[3], \
            parts[4], parts[5], parts[-1]
        mnk = 0
        for g in groups.split(","):
            m, n, k, count = (int(x) for x in g.split(":"))
            mnk += m * n * k * count
        out.append((step + 1, name, source, precision, mnk * (8 if field == "complex" else 2)))
    return out


def check_ledger(c, paths, label, ledger, exp):
    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001
        c.check(False, f"{label}: the ledger is readable", repr(e))
        return
    rows = trace["steps"]
    covered = E.covered_steps(rows)
    by_step = {e[0]: e for e in exp}
    c.equal([s for cov in covered for s in cov], list(range(1, ENTRY_POINTS + 1)),
            f"{label}: the rows cover steps 1..{ENTRY_POINTS}")
    c.check(all(len(cov) == 1 for cov in covered),
            f"{label}: one row per step, so one row per entry point")
    wrong = []
    for row, cov in zip(rows, covered):
        want_source = [0] * len(SOURCES)
        want_precision = [0] * len(PRECISIONS)
        names = []
        for s in cov:
            _, name, source, precision, flops = by_step[s]
            want_source[SOURCES.index(source)] += flops
            want_precision[PRECISIONS.index(precision)] += flops
            names.append(name)
        got_source = row.get("flops_by_source_u128")
        got_precision = row.get("flops_by_precision_u128")
        if got_source != want_source or got_precision != want_precision:
            wrong.append(f"steps {cov} ({', '.join(names)}): by source {got_source} != "
                         f"{want_source} or by precision {got_precision} != {want_precision}")
    c.check(not wrong, f"{label}: every entry point counted once, exact FLOPs, source and "
                       f"precision ({len(exp)} entry points)", "\n".join(wrong[:10]))
    rep = E.report_json(c, paths, ledger, label)
    if rep is not None:
        total = sum(e[4] for e in exp)
        c.equal(E.as_int(rep["counted_flops"]), total, f"{label}: report total")
        for source in ("cublas", "cublaslt"):
            c.equal(E.as_int(rep["counted_flops_by_source"][source]),
                    sum(e[4] for e in exp if e[2] == source), f"{label}: report, {source}")


def run_mode(c, paths, args, label, cmd):
    ledger = c.path(label, "ledger.h5")
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                      "FLOPLEDGER_EVERY_STEPS": "1", "FLOPLEDGER_EVERY_SECONDS": "3600",
                      "FLOPLEDGER_QUIET": "1"})
    res = E.run(cmd, env=env, timeout=120, verbose=args.verbose)
    c.ran_ok(res, f"{label}: the workload")
    kv = E.key_values(res.stdout)
    c.equal(kv.get("flopledger_api"), "present", f"{label}: the runtime is preloaded")
    c.equal(kv.get("failures"), "0", f"{label}: every valid call succeeded, every invalid failed")
    exp = expectations(res.stdout)
    c.equal(len(exp), ENTRY_POINTS, f"{label}: entry points called")
    c.check("no loaded library defines" not in res.stderr,
            f"{label}: every real function was found", res.tail())
    check_ledger(c, paths, label, ledger, exp)


def missing_library(c, paths, args):
    label = "no cuBLAS loaded"
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_ENABLE": "0"})
    res = E.run(["/usr/bin/python3", "-c", MISSING_SCRIPT], env=env, timeout=60,
                verbose=args.verbose)
    c.ran_ok(res, f"{label}: the process")
    kv = E.key_values(res.stdout)
    c.equal(kv.get("sgemm_status"), "1", f"{label}: cublasSgemm_v2 returns NOT_INITIALIZED")
    c.equal(kv.get("sgemm_again"), "1", f"{label}: and again")
    c.equal(kv.get("lt_status"), "1", f"{label}: cublasLtMatmul returns NOT_INITIALIZED")
    c.equal(res.stderr.count("no loaded library defines cublasSgemm_v2"), 1,
            f"{label}: logged once for cuBLAS")
    c.equal(res.stderr.count("no loaded library defines cublasLt"), 1,
            f"{label}: logged once for cuBLASLt")


# fake_cuda_workload.cpp, fl_cuda_graph_workload: what each ledger step holds, by (source,
# precision). Step 3 is `replays` launches of a graph holding a 16x8x4 FP32 GEMM and a 4x4x4 FP16
# GemmEx (which runs through cublasLtMatmul inside the fake: counted once, under cublas).
GRAPH_REPLAYS = 7


def graph_expectation(tracked=True):
    first = {("cublas", "fp32"): 2 * 8 * 4 * 2}
    replays = GRAPH_REPLAYS if tracked else 1
    launch = {("cublas", "fp32"): replays * 2 * 16 * 8 * 4,
              ("cublas", "fp16"): replays * 2 * 4 * 4 * 4}
    if not tracked:  # FLOPLEDGER_CUPTI=0: a captured GEMM counts once, when captured
        return {1: first, 2: launch, 3: {}, 4: {}, 5: first}
    return {1: first, 2: {}, 3: launch, 4: {}, 5: first}


def graphs(c, paths, args, linked, fake_dir, tracked=True):
    label = "graphs" if tracked else "graphs, FLOPLEDGER_CUPTI=0"
    ledger = c.path("graphs" if tracked else "graphs-cupti-off", "ledger.h5")
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                      "FLOPLEDGER_EVERY_STEPS": "1", "FLOPLEDGER_EVERY_SECONDS": "3600",
                      "FLOPLEDGER_QUIET": "1", "LD_LIBRARY_PATH": fake_dir})
    if not tracked:
        env.update({"FLOPLEDGER_CUPTI": "0", "FL_WORKLOAD_LOADS_CUPTI": "1"})
    res = E.run([linked, "graph", str(GRAPH_REPLAYS)], env=env, timeout=60, verbose=args.verbose)
    c.ran_ok(res, f"{label}: the graph workload")
    kv = E.key_values(res.stdout)
    c.equal(kv.get("cupti"), "fake", f"{label}: the fake CUPTI delivers the callbacks")
    c.equal(kv.get("cupti_loaded_by"), None if tracked else "workload",
            f"{label}: libcupti loaded by the runtime only when CUPTI is on")
    c.equal(kv.get("graph_failures"), "0", f"{label}: every cuBLAS call succeeded")
    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001
        c.check(False, f"{label}: the ledger is readable", repr(e))
        return
    want = graph_expectation(tracked)
    rows = trace["steps"]
    covered = E.covered_steps(rows)
    c.equal([s for cov in covered for s in cov], sorted(want), f"{label}: rows cover steps 1..5")
    for row, cov in zip(rows, covered):
        src = [0] * len(SOURCES)
        prec = [0] * len(PRECISIONS)
        for s in cov:
            for (source, precision), flops in want[s].items():
                src[SOURCES.index(source)] += flops
                prec[PRECISIONS.index(precision)] += flops
        c.equal(row.get("flops_by_source_u128"), src, f"{label}: steps {cov}, FLOPs by source")
        c.equal(row.get("flops_by_precision_u128"), prec,
                f"{label}: steps {cov}, FLOPs by precision")


def coverage(c, paths):
    """Every GEMM entry point of the real cuBLAS 13 is hooked, but the documented exceptions."""
    if not os.path.exists(REAL_CUBLAS):
        print(f"  (skipped: {REAL_CUBLAS} not installed)")
        return
    def exported(path):
        out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                             text=True, check=True).stdout
        return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    real = {s for s in exported(REAL_CUBLAS) if "gemm" in s.lower() and s.startswith("cublas")}
    hooked = exported(paths.runtime)
    missing = sorted(s for s in real if s not in hooked and not NOT_HOOKED.match(s))
    c.check(len(real) >= 60, f"coverage: the real libcublas.so.13 exports {len(real)} GEMMs")
    c.equal(missing, [], "coverage: every GEMM entry point of libcublas.so.13 is hooked")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_cublas_hooks", args)
    paths = E.Paths(args)
    tests = os.path.join(args.build_dir, "tests")
    workload = os.path.join(tests, "fake_cuda", "libfake_cuda_workload.so")
    linked = os.path.join(tests, "fake_cuda_app_linked")
    dlopened = os.path.join(tests, "fake_cuda_app_dlopen")
    if not os.path.exists(workload):
        print("test_cublas_hooks: SKIPPED: built without the CUDA Toolkit (no fake cuBLAS)")
        shutil.rmtree(c.tmp, ignore_errors=True)
        sys.exit(77)
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.cli, "the flopledger command in the build directory")
    run_mode(c, paths, args, "linked", [linked])
    run_mode(c, paths, args, "dlopen-local", [dlopened, workload])
    run_mode(c, paths, args, "ctypes", ["/usr/bin/python3", "-c", CTYPES_SCRIPT, workload])
    missing_library(c, paths, args)
    graphs(c, paths, args, linked, os.path.join(tests, "fake_cuda"))
    graphs(c, paths, args, linked, os.path.join(tests, "fake_cuda"), tracked=False)
    coverage(c, paths)
    c.finish()


if __name__ == "__main__":
    main()
