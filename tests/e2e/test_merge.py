#!/usr/bin/env python3
"""End-to-end: `flopledger merge` on ledgers written by real jobs.

  - two mpi_gemm jobs (2 ranks x 3 steps, then 1 rank x 2 steps) write separate ledgers; merged
    (in either order), `flopledger report --json` on the result shows exactly the sum of the two
    jobs' expected FLOPs, tokens and both segments, in start order;
  - h5py on the merged file: segments renumbered 0, 1; rows renumbered 0..n-1; cumulative_counted
    is the running sum of the rows; one merged_from event per input naming its path;
  - refusals, exit 1 with a message naming the files: an output that exists (then replaced with
    --force), an output that is one of the inputs, a copied ledger (the same job twice), a ledger
    of another base model, jobs overlapping in time (then accepted with --allow-concurrent,
    recorded as a concurrent_segments event);
  - usage errors exit 2: no --output, no input; a missing input exits 1 naming it.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402


def run_job(c, paths, args, ledger, ranks, steps, extra_opts=()):
    res = E.flopledger_run(paths, ranks, ledger, [paths.mpi_gemm, "--steps", str(steps)],
                           every_steps=1, every_seconds=3600, extra_opts=extra_opts,
                           verbose=args.verbose)
    c.ran_ok(res, f"flopledger run -n {ranks} mpi_gemm --steps {steps} -> "
                  f"{os.path.basename(ledger)}")
    return res


def merge(paths, *argv):
    return E.run([paths.cli, "merge"] + list(argv), env=E.base_env(), timeout=60)


def refused(c, res, what, *fragments, rc=1):
    c.check(res.rc == rc and not res.timed_out, f"{what}: exits {rc} (rc={res.rc})", res.tail())
    for fragment in fragments:
        c.check(fragment in res.stderr, f"{what}: the message says {fragment!r}", res.tail())


def events_of(trace, kind):
    return [e for e in trace["events"] if e.get("kind") == kind]


def check_merged(c, paths, merged, label, a, b, want):
    """The merged ledger of a (first in time) and b: report totals and the file itself."""
    rep = E.report_json(c, paths, merged, label)
    E.check_report_totals(c, rep, label, want["total"], prec=want["prec"],
                          source=want["source"], phase={"train": want["total"]},
                          tokens=want["tokens"])
    E.check_downstream_default(c, rep, label, want["total"])
    if rep is not None:
        segs = rep.get("segments") or []
        c.equal(len(segs), 2, f"{label}: two segments in the report")
        c.equal([E.as_int(s.get("world_size")) for s in segs], [2, 1],
                f"{label}: segments in start order (2 ranks, then 1)")
    try:
        trace = E.read_trace(merged)
    except Exception as e:  # noqa: BLE001
        c.check(False, f"{label}: h5py reads the merged ledger", repr(e))
        return
    ta, tb = E.read_trace(a), E.read_trace(b)
    c.equal([s["id"] for s in trace["segments"]], [0, 1], f"{label}: segments renumbered")
    c.equal([s["first_row"] for s in trace["segments"]], [0, len(ta["steps"])],
            f"{label}: segment first_row")
    c.equal([s["start"] for s in trace["segments"]],
            [ta["segments"][0]["start"], tb["segments"][0]["start"]],
            f"{label}: segment start times kept")
    rows = trace["steps"]
    c.equal([r["row"] for r in rows], list(range(len(ta["steps"]) + len(tb["steps"]))),
            f"{label}: rows renumbered 0..n-1")
    c.equal([r["segment"] for r in rows], [0] * len(ta["steps"]) + [1] * len(tb["steps"]),
            f"{label}: rows name their new segment")
    c.equal([r["step_last"] for r in rows],
            [r["step_last"] for r in ta["steps"]] + [r["step_last"] for r in tb["steps"]],
            f"{label}: step numbers kept as recorded")
    running, ok = 0, True
    for r in rows:
        running += E.row_total(r)
        ok = ok and r["cumulative_counted_int"] == running
    c.check(ok, f"{label}: cumulative_counted is the running sum over both jobs' rows")
    c.equal(running, want["total"], f"{label}: sum of the merged rows")
    origins = events_of(trace, "merged_from")
    c.equal(len(origins), 2, f"{label}: one merged_from event per input")
    details = " ".join(e.get("detail", "") for e in origins)
    for path in (a, b):
        c.check(os.path.abspath(path) in details, f"{label}: merged_from names {path}", details)
    c.equal(len(events_of(trace, "segment_start")),
            len(events_of(ta, "segment_start")) + len(events_of(tb, "segment_start")),
            f"{label}: the inputs' events are carried")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_merge", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")

    a, b = c.path("jobs", "sft.h5"), c.path("jobs", "dpo.h5")
    run_job(c, paths, args, a, 2, 3)
    run_job(c, paths, args, b, 1, 2)
    ea, eb = E.mpi_gemm_expected(2, 3), E.mpi_gemm_expected(1, 2)
    want = {"total": ea["total"] + eb["total"], "tokens": ea["tokens"] + eb["tokens"],
            "prec": {p: ea["prec"][p] + eb["prec"][p] for p in E.PRECISIONS},
            "source": {s: ea["source"][s] + eb["source"][s] for s in E.SOURCES}}

    merged = c.path("out", "merged.h5")
    res = merge(paths, "--output", merged, a, b)
    c.ran_ok(res, "flopledger merge --output merged.h5 sft.h5 dpo.h5")
    c.check(str(want["total"]) in res.stdout, "merge prints the exact merged total", res.tail())
    check_merged(c, paths, merged, "merged", a, b, want)

    reverse = c.path("out", "reverse.h5")
    res = merge(paths, "-o", reverse, b, a)
    c.ran_ok(res, "flopledger merge with the inputs in the other order")
    check_merged(c, paths, reverse, "merged, inputs reversed", a, b, want)

    # The output.
    res = merge(paths, "--output", merged, a, b)
    refused(c, res, "an output that exists", merged, "--force")
    res = merge(paths, "--output", merged, "--force", a, b)
    c.ran_ok(res, "--force replaces an existing output")
    check_merged(c, paths, merged, "merged with --force", a, b, want)
    before = open(b, "rb").read()
    res = merge(paths, "--output", b, "--force", a, b)
    refused(c, res, "an output that is one of the inputs", b, "is also an input")
    c.check(open(b, "rb").read() == before, "the input named as output is untouched")

    # Inputs that must not be merged.
    copy = c.path("jobs", "sft-copy.h5")
    shutil.copyfile(a, copy)
    res = merge(paths, "--output", c.path("out", "dup.h5"), a, copy)
    refused(c, res, "a copied ledger", "the same job is in two inputs", a, copy)
    c.check(not os.path.exists(c.path("out", "dup.h5")), "a refused merge writes no output")

    other = c.path("jobs", "other-model.h5")
    run_job(c, paths, args, other, 1, 1, extra_opts=["--base-model", "example/other-13b"])
    res = merge(paths, "--output", c.path("out", "other.h5"), a, other)
    refused(c, res, "a ledger of another base model", a, other, "base_model",
            "example/other-13b")

    # Overlap: the second job's segment moved into the first one's time span.
    import h5py
    overlapping = c.path("jobs", "overlapping.h5")
    shutil.copyfile(b, overlapping)
    ta = E.read_trace(a)
    seg_a = ta["segments"][0]
    with h5py.File(overlapping, "r+") as f:
        segs = f["segments"][()]
        segs["start"][0] = seg_a["start"] + 0.001
        segs["end"][0] = seg_a["end"] + 60.0
        f["segments"][...] = segs
    res = merge(paths, "--output", c.path("out", "overlap.h5"), a, overlapping)
    refused(c, res, "jobs overlapping in time", "overlap in time", "--allow-concurrent")
    concurrent = c.path("out", "concurrent.h5")
    res = merge(paths, "--output", concurrent, "--allow-concurrent", a, overlapping)
    c.ran_ok(res, "--allow-concurrent merges overlapping jobs")
    rep = E.report_json(c, paths, concurrent, "concurrent")
    E.check_report_totals(c, rep, "concurrent", want["total"])
    try:
        trace = E.read_trace(concurrent)
        c.equal(len(events_of(trace, "concurrent_segments")), 1,
                "concurrent: one concurrent_segments event")
    except Exception as e:  # noqa: BLE001
        c.check(False, "concurrent: h5py reads the merged ledger", repr(e))

    # Usage.
    res = merge(paths, a, b)
    refused(c, res, "no --output", "--output", rc=2)
    res = merge(paths, "--output", c.path("out", "none.h5"))
    refused(c, res, "no input", "input", rc=2)
    missing = c.path("jobs", "missing.h5")
    res = merge(paths, "--output", c.path("out", "missing-out.h5"), a, missing)
    refused(c, res, "a missing input", missing)
    res = merge(paths, "--help")
    c.ran_ok(res, "flopledger merge --help")
    c.check("--allow-concurrent" in res.stdout, "merge --help documents --allow-concurrent")
    res = E.run([paths.cli, "--help"], timeout=30)
    c.check("merge" in res.stdout, "flopledger --help lists merge", res.tail())
    c.finish()


if __name__ == "__main__":
    main()
