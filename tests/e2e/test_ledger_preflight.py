#!/usr/bin/env python3
"""`flopledger run` checks the ledger before it starts anything: a missing directory, a file that
is not a ledger, or a ledger of another modification (other original compute) is refused with
exit status 2 and a message naming the problem, and the program never starts; a second job with
the same settings continues the ledger (a second segment, totals and rows continued)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402


def refused(c, paths, ledger, env_extra, expect_in_message, label):
    marker = c.path(label.replace(" ", "-"), "started")
    res = E.run([paths.cli, "run", "--quiet", "--ledger", ledger, "--", "touch", marker],
                env=E.base_env(env_extra), timeout=60)
    c.equal(res.rc, 2, f"{label}: exit status 2")
    c.check(expect_in_message in res.stderr, f"{label}: message mentions {expect_in_message!r}",
            res.tail())
    c.check(not os.path.exists(marker), f"{label}: the program was not started")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_ledger_preflight", args)
    paths = E.Paths(args)

    refused(c, paths, os.path.join(c.tmp, "no-such-dir", "ledger.h5"), {}, "does not exist",
            "missing directory")
    garbage = c.path("garbage", "ledger.h5")
    with open(garbage, "w") as f:
        f.write("not a ledger\n")
    refused(c, paths, garbage, {}, "cannot be continued", "not a ledger")

    ledger = c.path("continue", "ledger.h5")
    env = {"FLOPLEDGER_ORIGINAL_FLOPS": "3.4e23"}
    per_job = E.mpi_gemm_expected(2, 2)["total"]
    for job in (1, 2):
        res = E.flopledger_run(paths, 2, ledger, [paths.mpi_gemm, "--steps", "2"],
                               every_seconds=3600, env=E.base_env(env), verbose=args.verbose)
        c.ran_ok(res, f"job {job} on one ledger")
    rep = E.report_json(c, paths, ledger, "two jobs")
    if rep is not None:
        c.equal(len(rep["segments"]), 2, "two segments")
        c.equal(int(rep["counted_flops"]), 2 * per_job, "totals continue across jobs")
        c.equal(rep["totals_match_rows"], True, "stored cumulative totals match the rows")
    refused(c, paths, ledger, {"FLOPLEDGER_ORIGINAL_FLOPS": "1e24"}, "340000000000000000000000",
            "other original compute")
    c.finish()


if __name__ == "__main__":
    main()
