#!/usr/bin/env python3
"""End-to-end: examples/mpi_gemm under `flopledger run -n N` for N = 1, 2, 4.

mpi_gemm makes BLAS calls of known shapes (every Fortran and CBLAS GEMM, two GEMVs, one call BLAS
rejects and one with alpha = 0) and calls flopledger_step_end(1000 + rank) after every step. For
each N the test checks, exactly:
  - the program's own expected figures equal the ones computed here from the shape formula;
  - metering changes nothing: the result checksum equals the one of a plain `mpirun` run, and
    BLAS still rejected the invalid call (the program counts xerbla_ calls);
  - `flopledger report --json`: total, split by precision (complex single -> fp32, complex
    double -> fp64), by source (blas_gemm / cblas_gemm / blas_gemv) and by phase, tokens,
    steps, ranks, a clean segment, the verdict fields;
  - the HDF5 trace, row by row: each row's FLOPs and tokens, the per-rank MIN (rank 0) and MAX
    (rank N-1) of its steps, the running cumulative total;
  - the FLOPs per host (one host here): the environment entry flops_per_host, `report --json`
    and the text report, equal to the segment's total;
  - the same job with the BLAS spy preloaded in front of the runtime (`--extra-preload`): the
    spy's independent count equals flopledger's and the expected figures;
  - mpi_gemm without a launcher (the runtime preloaded into one process, no MPI metering): one
    host, its FLOPs per host equal the total.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS = 4


def check_flops_per_host(c, paths, ledger, rep, label, total):
    """One host: its subtotal is the segment's total, in the environment, JSON and text."""
    host = socket.gethostname()
    env = {e["key"]: e["value"] for e in E.read_environment(ledger)}
    c.equal(env.get("flops_per_host"), f"{host}={total}",
            f"{label}: flops_per_host in the environment (one host, the total)")
    c.equal(env.get("flops_per_host_toward_threshold"), f"{host}={total}",
            f"{label}: flops_per_host_toward_threshold (every FLOP is in the train phase)")
    segs = (rep or {}).get("segments") or [{}]
    c.equal(segs[0].get("flops_per_host"),
            [{"host": host, "flops": str(total), "flops_toward_threshold": str(total)}],
            f"{label}: report --json shows the FLOPs per host with the segment")
    c.equal(segs[0].get("flops_per_host_missing", "absent"), None,
            f"{label}: report --json: flops_per_host_missing is null")
    c.equal(sum(int(h["flops"]) for h in segs[0].get("flops_per_host") or []),
            int((rep or {}).get("counted_flops", -1)),
            f"{label}: the per-host FLOPs sum to the counted total")
    text = E.run([paths.cli, "report", ledger], env=E.base_env(), timeout=60)
    c.check(f"FLOPs per host: {host}={total}\n" in text.stdout,
            f"{label}: the text report shows the FLOPs per host", text.tail())


def no_launcher(c, paths, args):
    """The runtime preloaded into one process without a launcher: no MPI metering, one host."""
    label = "no launcher"
    exp = E.mpi_gemm_expected(1, STEPS)
    ledger = c.path("no-launcher", "ledger.h5")
    res = E.run([paths.mpi_gemm, "--steps", str(STEPS)],
                env=E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                                "FLOPLEDGER_EVERY_SECONDS": "3600", "FLOPLEDGER_QUIET": "1"}),
                timeout=120, verbose=args.verbose)
    c.ran_ok(res, f"{label}: mpi_gemm with the runtime preloaded")
    rep = E.report_json(c, paths, ledger, f"{label} report")
    E.check_report_totals(c, rep, label, exp["total"])
    segs = (rep or {}).get("segments") or [{}]
    c.equal(segs[0].get("launcher"), "none", f"{label}: the segment's launcher is none")
    check_flops_per_host(c, paths, ledger, rep, label, exp["total"])


def one_size(c, paths, args, n):
    exp = E.mpi_gemm_expected(n, STEPS)
    label = f"N={n}"
    per_rank_step = [sum(exp["step_flops"][r]) for r in range(n)]
    c.check(all(a < b for a, b in zip(per_rank_step, per_rank_step[1:])),
            f"{label}: (self-check) per-rank FLOPs strictly increase with the rank")
    step_tokens = [[1000 + r] * STEPS for r in range(n)]

    # 1. Plain mpirun, no runtime: the reference checksum.
    plain = E.run(["mpirun", "--oversubscribe", "-np", str(n), paths.mpi_gemm, "--steps",
                   str(STEPS), "--print-expected"], timeout=120, verbose=args.verbose)
    c.ran_ok(plain, f"{label}: plain mpirun mpi_gemm")
    plain_kv = E.key_values(plain.stdout)
    c.equal(plain_kv.get("api"), "absent", f"{label}: without the runtime the C API is absent")

    # 2. Under flopledger run.
    ledger = c.path(f"n{n}", "ledger.h5")
    res = E.flopledger_run(paths, n, ledger,
                           [paths.mpi_gemm, "--steps", str(STEPS), "--print-expected"],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    c.ran_ok(res, f"{label}: flopledger run mpi_gemm")
    kv = E.key_values(res.stdout)
    c.equal(E.as_int(kv.get("expected_total_flops")), exp["total"],
            f"{label}: the program's expected_total_flops agrees with the formula here")
    c.equal(E.as_int(kv.get("expected_fp32_flops")), exp["prec"]["fp32"],
            f"{label}: the program's expected_fp32_flops")
    c.equal(E.as_int(kv.get("expected_fp64_flops")), exp["prec"]["fp64"],
            f"{label}: the program's expected_fp64_flops")
    c.equal(E.as_int(kv.get("expected_tokens")), exp["tokens"], f"{label}: expected_tokens")
    c.equal(kv.get("api"), "present", f"{label}: the preloaded runtime's C API is found")
    c.equal(E.as_int(kv.get("xerbla_calls")), n * STEPS,
            f"{label}: BLAS still rejects the invalid call under the runtime (xerbla_ calls)")
    c.equal(kv.get("result_checksum"), plain_kv.get("result_checksum"),
            f"{label}: results identical with and without the runtime")
    per_step_lines = [line for line in res.stdout.splitlines() if line.startswith("rank=")]
    c.equal(len(per_step_lines), n * STEPS, f"{label}: one rank=/step= line per rank and step")
    for line in per_step_lines:
        f = E.key_values(line)
        r, s = int(f["rank"]), int(f["step"])
        if int(f["flops"]) != exp["step_flops"][r][s]:
            c.check(False, f"{label}: program's per-step FLOPs for rank {r} step {s}",
                    f"{f['flops']} != {exp['step_flops'][r][s]}")

    rep = E.report_json(c, paths, ledger, f"{label} report")
    E.check_report_totals(c, rep, label, exp["total"], prec=exp["prec"], source=exp["source"],
                          phase={"train": exp["total"]}, tokens=exp["tokens"], steps=STEPS,
                          ranks=n)
    E.check_downstream_default(c, rep, label, exp["total"])
    E.check_segments(c, rep, label, n, states=("clean",), exit_status=0)
    check_flops_per_host(c, paths, ledger, rep, label, exp["total"])

    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001 - any failure to read is a test failure
        c.check(False, f"{label}: h5py reads the trace", repr(e))
        trace = None
    if trace is not None:
        c.equal(trace["attrs"].get("format_version_major"), 1, f"{label}: format_version_major")
        env = {e["key"]: e["value"] for e in E.read_environment(ledger)}
        c.equal(env.get("rank_placement"),
                f"{socket.gethostname()}:0" + (f"-{n - 1}" if n > 1 else ""),
                f"{label}: every rank on this host (rank_placement)")
        if rep is not None:
            c.equal(trace["attrs"].get("rule_set"), rep.get("rule_set"),
                    f"{label}: trace rule_set attribute == report's")
        c.equal(trace["attrs"].get("original_flops"), "unknown",
                f"{label}: original_flops attribute (not configured)")
        E.check_step_rows(c, trace, label, n, STEPS, exp["step_flops"], step_tokens,
                          exp["total"])
        calls = [0] * len(E.SOURCES)
        for row in trace["steps"]:
            for i, v in enumerate(row.get("calls_by_source", [])):
                calls[i] += int(v)
        calls = dict(zip(E.SOURCES, calls))
        c.equal(calls["cblas_gemm"], exp["calls"]["cblas_gemm"],
                f"{label}: calls_by_source cblas_gemm")
        c.equal(calls["blas_gemv"], exp["calls"]["blas_gemv"], f"{label}: calls_by_source blas_gemv")
        # The rejected call and the alpha = 0 call may or may not count as calls; the valid ones
        # must.
        c.check(exp["calls"]["blas_gemm"] <= calls["blas_gemm"] <= exp["calls"]["blas_gemm"] +
                2 * n * STEPS,
                f"{label}: calls_by_source blas_gemm {calls['blas_gemm']} in "
                f"[{exp['calls']['blas_gemm']}, {exp['calls']['blas_gemm'] + 2 * n * STEPS}]")
        seg_rows = trace["segments"]
        c.equal(len(seg_rows), 1, f"{label}: one row in the segments dataset")

    # 3. The same under the BLAS spy, preloaded in front of the runtime.
    spy_dir = c.subdir(f"n{n}-spy-logs")
    ledger2 = c.path(f"n{n}-spy", "ledger.h5")
    res2 = E.flopledger_run(paths, n, ledger2,
                            [paths.mpi_gemm, "--steps", str(STEPS), "--print-expected"],
                            every_steps=1, every_seconds=3600, extra_preload=paths.spy,
                            env=E.base_env({"BLAS_SPY_DIR": spy_dir}), verbose=args.verbose)
    c.ran_ok(res2, f"{label}: flopledger run --extra-preload spy mpi_gemm")
    kv2 = E.key_values(res2.stdout)
    c.equal(kv2.get("result_checksum"), plain_kv.get("result_checksum"),
            f"{label}: results identical under spy + runtime")
    logs = E.parse_spy_logs(spy_dir)
    c.equal(len(logs), n, f"{label}: one spy log per rank")
    t = E.spy_totals(logs)
    c.equal(t["lines"], 12 * n * STEPS, f"{label}: the spy saw every call (12 per rank and step)")
    c.equal(t["nested"], 0, f"{label}: no nested calls seen by the spy")
    c.equal(t["invalid"], n * STEPS, f"{label}: the spy flags one invalid call per rank and step")
    c.equal(t["alpha0"], n * STEPS, f"{label}: the spy flags one alpha=0 call per rank and step")
    c.equal(t["total"], exp["total"], f"{label}: spy total == expected")
    c.equal({p: v for p, v in t["prec"].items() if v}, {p: v for p, v in exp["prec"].items() if v},
            f"{label}: spy split by precision == expected")
    c.equal({s: v for s, v in t["kind"].items() if v},
            {s: v for s, v in exp["source"].items() if v}, f"{label}: spy split by source")
    rep2 = E.report_json(c, paths, ledger2, f"{label} spy report")
    E.check_report_totals(c, rep2, f"{label} (with spy)", t["total"], prec=t["prec"],
                          source=t["kind"], tokens=exp["tokens"], steps=STEPS, ranks=n)


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_mpi_gemm", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    c.require(paths.spy, "libblas_spy.so in the build directory")
    for n in (1, 2, 4):
        print(f"--- {n} rank(s) ---", flush=True)
        one_size(c, paths, args, n)
    print("--- no launcher ---", flush=True)
    no_launcher(c, paths, args)
    c.finish()


if __name__ == "__main__":
    main()
