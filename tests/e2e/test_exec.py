#!/usr/bin/env python3
"""`flopledger exec` as the program of a launcher that starts the ranks itself (here plain
`mpirun -np 2`): each rank preloads the runtime into the real program and the ledger's total is
exact; a bad configuration is refused before the program starts, and a runtime started without
the command turns metering off (never the job) and says why."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_exec", args)
    paths = E.Paths(args)
    steps, ranks = 4, 2
    exp = E.mpi_gemm_expected(ranks, steps)
    ledger = c.path("exec", "ledger.h5")
    res = E.run(["mpirun", "--oversubscribe", "-np", str(ranks), paths.cli, "exec", "--quiet",
                 "--ledger", ledger, "--every-seconds", "3600", "--", paths.mpi_gemm, "--steps",
                 str(steps)], env=E.base_env(), timeout=120, verbose=args.verbose)
    c.ran_ok(res, "mpirun ... flopledger exec -- mpi_gemm")
    rep = E.report_json(c, paths, ledger, "exec")
    if rep is not None:
        c.equal(int(rep["counted_flops"]), exp["total"], "total exact")
        c.equal(rep["ranks"], ranks, "ranks")
        c.equal([s["state"] for s in rep["segments"]], ["clean"], "segment clean")

    marker = c.path("exec-bad", "started")
    res = E.run([paths.cli, "exec", "--every-steps", "abc", "--", "touch", marker],
                env=E.base_env(), timeout=60, verbose=args.verbose)
    c.equal(res.rc, 2, "a bad --every-steps exits 2")
    c.check("--every-steps" in res.stderr, "the error names --every-steps", res.tail())
    c.check(not os.path.exists(marker), "the program was not started")
    # The runtime started without the command (plain mpirun + LD_PRELOAD) meets a bad value:
    # the job runs on unmetered, every rank agrees, and rank 0 names the variable.
    ledger = c.path("bad-runtime", "ledger.h5")
    res = E.run(["mpirun", "--oversubscribe", "-np", str(ranks), "-x",
                 "LD_PRELOAD=" + paths.runtime, "-x", "FLOPLEDGER_LEDGER=" + ledger, "-x",
                 "FLOPLEDGER_EVERY_STEPS=abc", paths.mpi_gemm, "--steps", "2"],
                env=E.base_env(), timeout=120, verbose=args.verbose)
    c.ran_ok(res, "a job with FLOPLEDGER_EVERY_STEPS=abc still runs")
    c.check("FLOPLEDGER_EVERY_STEPS='abc'" in res.stderr and "metering is OFF" in res.stderr,
            "rank 0 names the variable and says metering is off", res.tail())
    c.check(not os.path.exists(ledger), "no ledger is written")
    c.finish()


if __name__ == "__main__":
    main()
