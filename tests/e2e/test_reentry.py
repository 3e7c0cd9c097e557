#!/usr/bin/env python3
"""A cblas_sgemm implemented by calling sgemm_ (as the reference CBLAS does) is counted once,
under the CBLAS source: the runtime's per-thread re-entry guard keeps the inner Fortran call from
being counted again. The program is metered as a single process (no launcher)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_reentry", args)
    paths = E.Paths(args)
    program = os.path.join(args.build_dir, "tests", "cblas_through_fortran")
    calls = 6
    expected = sum(2 * (10 + i) * (7 + 2 * i) * (5 + 3 * i) for i in range(calls))
    ledger = c.path("reentry", "ledger.h5")
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                      "FLOPLEDGER_QUIET": "1"})
    res = E.run([program, str(calls)], env=env, timeout=60, verbose=args.verbose)
    c.ran_ok(res, "cblas_through_fortran")
    c.equal(int(E.key_values(res.stdout)["expected_flops"]), expected, "program's own figure")
    rep = E.report_json(c, paths, ledger, "reentry")
    if rep is not None:
        c.equal(int(rep["counted_flops"]), expected, "counted once, not twice")
        c.equal(int(rep["counted_flops_by_source"]["cblas_gemm"]), expected,
                "attributed to the outer CBLAS call")
        c.equal(int(rep["counted_flops_by_source"]["blas_gemm"]), 0,
                "the inner sgemm_ is not counted")
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
