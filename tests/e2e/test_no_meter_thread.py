#!/usr/bin/env python3
"""Without MPI_THREAD_MULTIPLE the runtime has no meter thread and runs every round at exit. This
Open MPI provides the level, so the test forces that path (FLOPLEDGER_INTERNAL_NO_METER_THREAD=1)
and checks that the ledger is still exact, with one row per step, and that rank 0 warns."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_no_meter_thread", args)
    paths = E.Paths(args)
    steps, ranks = 4, 2
    exp = E.mpi_gemm_expected(ranks, steps)
    ledger = c.path("inline", "ledger.h5")
    res = E.flopledger_run(paths, ranks, ledger, [paths.mpi_gemm, "--steps", str(steps)],
                           every_steps=1, every_seconds=3600,
                           env=E.base_env({"FLOPLEDGER_INTERNAL_NO_METER_THREAD": "1"}),
                           verbose=args.verbose)
    c.ran_ok(res, "mpi_gemm with rounds at exit only")
    c.check("MPI_THREAD_MULTIPLE is not available" in res.stderr, "rank 0 warns", res.tail())
    rep = E.report_json(c, paths, ledger, "inline rounds")
    if rep is not None:
        c.equal(int(rep["counted_flops"]), exp["total"], "total exact")
        c.equal(rep["steps"], steps, "steps")
        c.equal(rep["rows"], steps, "one row per step")
        c.equal([s["state"] for s in rep["segments"]], ["clean"], "segment clean")
    c.finish()


if __name__ == "__main__":
    main()
