#!/usr/bin/env python3
"""`flopledger status` reads a ledger while a 2-rank job is still writing it: the figures it
shows grow while the job runs and never exceed the final ones; the segment shows as not (yet)
closed; after the job, `report` shows it clean with the exact total."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

SCRIPT = r'''
import ctypes, os, sys, time
import numpy as np
api = ctypes.CDLL(None)
api.flopledger_step_end.argtypes = [ctypes.c_uint64]
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
steps = int(sys.argv[1])
for s in range(steps):
    a = np.ones((40 + rank, 30), np.float32)
    b = np.ones((30, 20), np.float32)
    _ = a @ b                                 # cblas_sgemm: 2 * (40 + rank) * 20 * 30
    api.flopledger_step_end(100)
    time.sleep(0.4)
'''


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_status_live", args)
    paths = E.Paths(args)
    steps, ranks = 12, 2
    expected = sum(2 * (40 + r) * 20 * 30 for r in range(ranks)) * steps
    script = c.path("live", "job.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    ledger = c.path("live", "ledger.h5")
    cmd = [paths.cli, "run", "-n", str(ranks), "--ledger", ledger, "--quiet", "--every-steps",
           "1", "--", E.PYTHON, script, str(steps)]
    job = subprocess.Popen(cmd, env=E.base_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []   # (steps, counted) from status while the job ran
    states = []  # the segment's state at each read
    deadline = time.time() + 120
    while job.poll() is None and time.time() < deadline:
        time.sleep(0.3)
        if not os.path.exists(ledger):
            continue
        res = subprocess.run([paths.cli, "status", ledger, "--json"], capture_output=True,
                             text=True, timeout=60)
        if res.returncode != 0 or job.poll() is not None:
            continue
        status = json.loads(res.stdout)
        seen.append((status["steps"], int(status["counted_flops"])))
        states.append(status["segments"][0]["state"] if status["segments"] else None)
    out, _ = job.communicate(timeout=120)
    c.equal(job.returncode, 0, "the metered job exits 0")
    c.check(len(seen) >= 3, f"status answered while the job ran ({len(seen)} times)", out[-2000:])
    c.check(any(0 < s < steps for s, _ in seen), "status showed the job part-way",
            f"steps seen: {[s for s, _ in seen]}")
    c.check(all(b >= a for a, b in zip([f for _, f in seen], [f for _, f in seen][1:])),
            "the counted figure never decreased between reads")
    c.check(all(f <= expected for _, f in seen), "no read exceeded the final total")
    # Rank 0 closes the segment just before the processes exit, so the last reads may see it
    # closed; before that it must read as open, and never reopen.
    first_clean = states.index("clean") if "clean" in states else len(states)
    c.check(first_clean > 0 and all(s == "not_closed" for s in states[:first_clean]) and
            all(s == "clean" for s in states[first_clean:]),
            "segment reads not_closed while the job runs, then clean", f"states: {states}")
    rep = E.report_json(c, paths, ledger, "after the job")
    if rep is not None:
        c.equal(int(rep["counted_flops"]), expected, "final total exact")
        c.equal(rep["steps"], steps, "final steps")
        c.equal([s["state"] for s in rep["segments"]], ["clean"], "segment closed cleanly")
    c.finish()


if __name__ == "__main__":
    main()
