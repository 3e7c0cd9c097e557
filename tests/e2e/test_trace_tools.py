#!/usr/bin/env python3
"""End-to-end: the trace as a file, the post-hoc commands, configuration errors, the verdict.

  - `h5dump -H` reads a trace and shows the steps, segments and events datasets;
  - h5py: the sum of the rows' FLOPs (128-bit hi/lo columns) equals `report`'s counted_flops;
  - `flopledger report FILE` (text) names the status and the exact total; `flopledger status`
    works on a finished file;
  - `flopledger report` on a missing file, a text file, a truncated trace and an HDF5 file that
    is not a trace exits non-zero with a message naming the path;
  - bad configuration (FLOPLEDGER_EVERY_STEPS=abc, PRETRAIN_FLOPS=-5,
    FLOPLEDGER_ORIGINAL_FLOPS=1e400, the misspelt FLOPLEDGER_EVRY_STEPS, ...) makes
    `flopledger run` exit non-zero naming the variable, before launching anything;
  - `flopledger --help`, `flopledger run --help` succeed; an unknown subcommand fails;
  - the verdict at the one-third line, exactly: with the original compute set to 3*T (T the
    job's exact total) the job is not greater than one third -> downstream_user; with 3*T - 1
    it is -> provider; with the original flagged as systemic risk -> provider_systemic_risk
    and notify_commission.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS, RANKS = 3, 2


def mpi_gemm_cmd(paths):
    return [paths.mpi_gemm, "--steps", str(STEPS)]


def case_files(c, paths, args, ledger, total):
    # h5dump
    h5dump = shutil.which("h5dump")
    if c.check(h5dump is not None, "h5dump is installed"):
        res = E.run([h5dump, "-H", ledger], timeout=60)
        c.ran_ok(res, "h5dump -H on the trace")
        for name in ("steps", "segments", "events"):
            c.check(f'DATASET "{name}"' in res.stdout, f"h5dump -H shows the dataset {name!r}",
                    res.tail(40))
        c.check("format_version_major" in res.stdout, "h5dump -H shows the root attributes")

    # h5py
    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001
        c.check(False, "h5py reads the trace", repr(e))
        trace = None
    rep = E.report_json(c, paths, ledger)
    if trace is not None:
        for name in ("steps", "segments", "events"):
            c.check(name in trace["datasets"], f"the trace has a {name!r} dataset")
        sums = [E.row_total(r) for r in trace["steps"]]
        hi_used = any("flops_by_precision_hi" in r for r in trace["steps"])
        c.check(hi_used, "rows carry the high 64-bit words (flops_by_precision_hi)")
        h5_total = sum(s or 0 for s in sums)
        c.equal(h5_total, total, "h5py: sum over rows (hi*2^64 + lo) == expected total")
        if rep is not None:
            c.equal(h5_total, E.as_int(rep.get("counted_flops")),
                    "h5py: sum over rows == report's counted_flops")

    # report (text) and status
    res = E.run([paths.cli, "report", ledger], timeout=60)
    c.ran_ok(res, "flopledger report (text)")
    text = res.stdout.lower().replace("_", " ")
    c.check("downstream user" in text, "report text names the status (downstream user)",
            res.tail())
    c.check(str(total) in res.stdout.replace(",", "").replace("'", "").replace(" ", ""),
            "report text shows the exact total", res.tail())
    res = E.run([paths.cli, "status", ledger], timeout=60)
    c.ran_ok(res, "flopledger status on a finished trace")
    c.check("downstream" in res.stdout.lower(), "status output names the status", res.tail())

    # Bad files
    missing = os.path.join(c.tmp, "no-such-dir", "missing.h5")
    text_file = c.path("bad", "not-hdf5.h5")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write("this is not an HDF5 file\n" * 10)
    truncated = c.path("bad", "truncated.h5")
    with open(ledger, "rb") as src, open(truncated, "wb") as dst:
        data = src.read()
        dst.write(data[: max(len(data) // 3, 512)])
    foreign = c.path("bad", "foreign.h5")
    import h5py
    import numpy as np
    with h5py.File(foreign, "w") as f:
        f.create_dataset("data", data=np.arange(10))
        f.attrs["purpose"] = "an HDF5 file that is not a flopledger trace"
    for what, path in (("a missing file", missing), ("a text file", text_file),
                       ("a truncated trace", truncated), ("a foreign HDF5 file", foreign)):
        for extra in ([], ["--json"]):
            res = E.run([paths.cli, "report", path] + extra, timeout=60)
            c.check(res.rc not in (0, None) and res.rc > 0 and not res.timed_out,
                    f"report {' '.join(extra)} on {what} exits non-zero without crashing "
                    f"(rc={res.rc})", res.tail())
            c.check(path in res.stderr or os.path.basename(path) in res.stderr,
                    f"report {' '.join(extra)} on {what}: the message names the path",
                    res.tail())
    res = E.run([paths.cli, "status", missing], timeout=60)
    c.check(res.rc > 0, f"status on a missing file exits non-zero (rc={res.rc})", res.tail())


def case_config_errors(c, paths, args):
    # Without -n: one rank.
    ledger = c.path("cfg", "default-n.h5")
    res = E.run([paths.cli, "run", "--quiet", "--ledger", ledger, "--", paths.mpi_gemm,
                 "--steps", "1"], timeout=120)
    c.ran_ok(res, "flopledger run without -n")
    rep = E.report_json(c, paths, ledger, "without -n")
    E.check_report_totals(c, rep, "without -n", E.mpi_gemm_expected(1, 1)["total"], ranks=1,
                          steps=1)

    marker = c.path("cfg", "launched")
    good = E.run([paths.cli, "run", "-n", "1", "--quiet", "--ledger", c.path("cfg", "good.h5"),
                  "--", "/usr/bin/touch", marker], timeout=120)
    c.ran_ok(good, "flopledger run with a valid configuration launches the command")
    c.check(os.path.exists(marker), "the command ran (marker file created)")
    cases = [
        ("FLOPLEDGER_EVERY_STEPS", "abc"),
        ("PRETRAIN_FLOPS", "-5"),
        ("FLOPLEDGER_ORIGINAL_FLOPS", "1e400"),
        ("FLOPLEDGER_EVRY_STEPS", "1"),  # unknown key (typo)
        ("FLOPLEDGER_EVERY_SECONDS", "0"),  # below the minimum period
        ("FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK", "2"),  # 0|1
    ]
    for i, (var, value) in enumerate(cases):
        marker = c.path("cfg", f"launched-{i}")
        ledger = c.path("cfg", f"bad-{i}.h5")
        res = E.run([paths.cli, "run", "-n", "1", "--quiet", "--ledger", ledger, "--",
                     "/usr/bin/touch", marker], env=E.base_env({var: value}), timeout=120)
        what = f"{var}={value}"
        c.check(res.rc > 0 and not res.timed_out, f"{what}: flopledger run exits non-zero "
                                                  f"(rc={res.rc})", res.tail())
        c.check(var in res.stderr, f"{what}: stderr names the variable", res.tail())
        c.check(not os.path.exists(marker), f"{what}: nothing was launched")
        c.check(not os.path.exists(ledger), f"{what}: no ledger was created")


def case_cli(c, paths, args):
    res = E.run([paths.cli, "--help"], timeout=30)
    c.ran_ok(res, "flopledger --help")
    c.check("run" in res.stdout and "report" in res.stdout,
            "flopledger --help lists the subcommands", res.tail())
    res = E.run([paths.cli, "run", "--help"], timeout=30)
    c.ran_ok(res, "flopledger run --help")
    c.check("--ledger" in res.stdout, "flopledger run --help documents --ledger", res.tail())
    res = E.run([paths.cli, "frobnicate"], timeout=30)
    c.check(res.rc > 0, f"an unknown subcommand fails (rc={res.rc})", res.tail())
    c.check("frobnicate" in res.stderr, "the error names the unknown subcommand", res.tail())
    res = E.run([paths.cli], timeout=30)
    c.check(res.rc > 0, f"no subcommand at all fails (rc={res.rc})", res.tail())


def case_verdict(c, paths, args, total):
    cases = [
        # (label, env, expected status, expected threshold, notify)
        ("original = 3T (modification not greater than one third)",
         {"FLOPLEDGER_ORIGINAL_FLOPS": str(3 * total)}, "downstream_user", total, False),
        ("original = 3T - 1 via PRETRAIN_FLOPS (greater than one third)",
         {"PRETRAIN_FLOPS": str(3 * total - 1)}, "provider", total - 1, False),
        ("original = 3T - 1 with systemic risk",
         {"FLOPLEDGER_ORIGINAL_FLOPS": str(3 * total - 1),
          "FLOPLEDGER_ORIGINAL_SYSTEMIC_RISK": "1"},
         "provider_systemic_risk", total - 1, True),
    ]
    for i, (label, env, status, threshold, notify) in enumerate(cases):
        ledger = c.path("verdict", f"ledger-{i}.h5")
        res = E.flopledger_run(paths, RANKS, ledger, mpi_gemm_cmd(paths), every_steps=1,
                               every_seconds=3600, env=E.base_env(env), verbose=args.verbose)
        c.ran_ok(res, f"verdict, {label}: flopledger run")
        rep = E.report_json(c, paths, ledger, f"verdict, {label}")
        if rep is None:
            continue
        c.equal(E.as_int(rep.get("counted_flops")), total, f"verdict, {label}: counted_flops")
        c.equal(rep.get("status"), status, f"verdict, {label}: status")
        c.equal(E.as_int(rep.get("threshold_flops")), threshold,
                f"verdict, {label}: threshold_flops = floor(original / 3)")
        c.equal(rep.get("rule"), "known_original_fraction", f"verdict, {label}: rule")
        c.equal(rep.get("notify_commission"), notify, f"verdict, {label}: notify_commission")
        frac = rep.get("fraction_of_threshold")
        c.check(isinstance(frac, (int, float)) and abs(frac - 1.0) < 1e-6,
                f"verdict, {label}: fraction_of_threshold ~ 1 ({frac!r})")
        original = str(3 * total - (0 if i == 0 else 1))
        try:
            trace = E.read_trace(ledger)
            c.equal(trace["attrs"].get("original_flops"), original,
                    f"verdict, {label}: original_flops root attribute")
            last = trace["steps"][-1] if trace["steps"] else {}
            c.equal(E.STATUSES.get(last.get("status"), last.get("status")), status,
                    f"verdict, {label}: status of the last row (decided live by rank 0)")
        except Exception as e:  # noqa: BLE001
            c.check(False, f"verdict, {label}: h5py reads the trace", repr(e))


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_trace_tools", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    total = E.mpi_gemm_expected(RANKS, STEPS)["total"]

    ledger = c.path("trace", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger, mpi_gemm_cmd(paths), every_steps=1,
                           every_seconds=3600, verbose=args.verbose)
    c.ran_ok(res, "flopledger run mpi_gemm (the trace under test)")
    case_files(c, paths, args, ledger, total)
    case_config_errors(c, paths, args)
    case_cli(c, paths, args)
    case_verdict(c, paths, args, total)
    c.finish()


if __name__ == "__main__":
    main()
