#!/usr/bin/python3
"""Ledger benchmark: rows appended per second by the real writer (one H5Fflush per row, as rank 0
appends one row per period), bytes per row on disk, the ledger's size after 10^6 steps, the
writer's memory as the rows grow, and the time and peak memory of `flopledger verify` and
`flopledger report` on ledgers of growing length.

  /usr/bin/python3 tests/bench/trace_bench.py [--quick] [--out FILE.json] [--rows N] [--reps R]

tests/bench/trace_bench.cpp writes one ledger of N rows (default 10^5, about 40 s in all;
--quick 10^4, about 5 s; --rows 1000000 for the real 10^6: about 5 minutes of writing at 3,300
rows/s on a quiet 2-core VM, 20 minutes on a busy one, then about 2 minutes of readers, with
`report` peaking near 6 GB of memory) and reports, at each decade
(10^3 .. N), the rows per second of the last window, the append latency (p50, p99, max), the
file size and the writer process's VmRSS / VmHWM. Bytes per row are marginal:
(size(N2) - size(N1)) / (N2 - N1) between the last two checkpoints, so the file's fixed part
(header, rule set, attributes) cancels; the ledger size at 10^6 rows is measured when N = 10^6,
else extrapolated as size(N) + (10^6 - N) x bytes per row (the steps dataset grows by whole
64-row chunks, linearly).
Snapshots of the ledger at each decade (as flushed, segment still open) are then verified and
reported R times each (default 3, --quick 2), interleaved across sizes (10^3, 10^4, ..., 10^3,
...): wall time and peak RSS (ru_maxrss of the child, from wait4). `verify` at 10^6 rows is
extrapolated from the largest measured size when not measured (per-row cost times 10^6) and
marked so in the JSON.
Timings are never asserted: exit 0 when everything ran, 1 with a message when something could not
run. The build directory is build/ or $FL_BUILD_DIR.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (BenchError, build_dir, clean_env, fmt_spread, machine,  # noqa: E402
                          main_of, need_file, parse_kv, run_with_rusage, spread, write_json)

SCRIPT = "tests/bench/trace_bench.py"
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MILLION = 1000000


def decades(rows):
    out, n = [], 1000
    while n < rows:
        out.append(n)
        n *= 10
    return out + [rows]


def write_ledger(build, rows, tmp, timeout):
    ledger = os.path.join(tmp, "ledger.h5")
    checkpoints = decades(rows)
    cmd = [os.path.join(build, "tests", "trace_bench"), "--ledger", ledger, "--rows", str(rows),
           "--checkpoints", ",".join(map(str, checkpoints)), "--snapshot-dir", tmp]
    status, wall, maxrss, out, err = run_with_rusage(cmd, timeout, env=clean_env())
    if status != 0:
        raise BenchError(f"trace_bench failed (exit {status}):\n{err.strip()}")
    facts = {"command": " ".join(cmd), "wall_s": wall, "max_rss_kb": maxrss, "checkpoints": []}
    for line in out.splitlines():
        tag, kv = parse_kv(line)
        if tag == "start":
            facts["start"] = {k: int(v) for k, v in kv.items()}
        elif tag == "checkpoint":
            c = {k: float(v) for k, v in kv.items()}
            for k in ("rows", "window_rows", "file_bytes", "rss_kb", "hwm_kb"):
                c[k] = int(c[k])
            c["rows_per_s"] = c["window_rows"] / c["window_s"]
            c["cpu_us_per_row"] = 1e6 * c["window_cpu_s"] / c["window_rows"]
            facts["checkpoints"].append(c)
        elif tag == "closed":
            facts["closed_file_bytes"] = int(kv["file_bytes"])
    if len(facts["checkpoints"]) != len(checkpoints) or "closed_file_bytes" not in facts:
        raise BenchError(f"trace_bench printed unexpected output:\n{out}")
    # The last checkpoint's snapshot is the ledger itself, closed.
    snapshots = {n: os.path.join(tmp, f"rows_{n}.h5") for n in checkpoints}
    os.replace(ledger, snapshots[rows])
    return facts, snapshots


def read_ledger(build, command, path, timeout):
    extra = ["--json"] if command == "report" else []
    cmd = [os.path.join(build, "flopledger"), command, path] + extra
    status, wall, maxrss, _, err = run_with_rusage(cmd, timeout, env=clean_env(),
                                                   stdout_path=os.devnull)
    if status != 0:
        raise BenchError(f"{' '.join(cmd)} failed (exit {status}):\n{err.strip()}")
    return wall, maxrss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^4 rows, 2 repetitions")
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--rows", type=int, help="rows to write (default 10^5; quick 10^4)")
    parser.add_argument("--reps", type=int, help="verify/report repetitions (default 3; quick 2)")
    args = parser.parse_args()
    rows = args.rows or (10000 if args.quick else 100000)
    reps = args.reps or (2 if args.quick else 3)
    if rows < 2000 or reps < 1:
        raise BenchError("--rows must be at least 2000 and --reps at least 1")
    build = build_dir(check=True)
    need_file(os.path.join(build, "tests", "trace_bench"),
              "build the trace_bench target (cmake --build build --target trace_bench)")
    need_file(os.path.join(build, "flopledger"), "build the flopledger_cli target")
    tmp_base = os.environ.get("TMPDIR", "/tmp")
    st = os.statvfs(tmp_base)
    needed = rows * 2 * 1300  # the ledger and its snapshots, about 1.2 kB per row
    if st.f_bavail * st.f_frsize < needed:
        raise BenchError(f"{tmp_base} has less than the {needed / 1e9:.1f} GB free this needs")

    result = {
        "benchmark": "trace",
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "parameters": {"rows": rows, "checkpoints": decades(rows), "reader_repetitions": reps,
                       "flush": "H5Fflush after every row (io::TraceWriter::append)",
                       "row_content": "tests/bench/bench_rows.hpp: 8 ranks, bf16/fp32/fp16, "
                                      "train/recompute/eval"},
        "units": {"rows_per_s": "rows per second", "*_us*": "microseconds",
                  "*_bytes": "bytes", "*_kb": "kilobytes (1024 B)", "*_s": "seconds"},
    }
    print(f"trace_bench: {'quick' if args.quick else 'full'} mode, {rows} rows, checkpoints "
          f"{decades(rows)}, {reps} reader repetitions; machine: {result['machine']['nproc']} "
          f"cores, {result['machine']['cpu_model']}")
    with tempfile.TemporaryDirectory(prefix="flopledger-trace-bench.", dir=tmp_base) as tmp:
        writer, snapshots = write_ledger(build, rows, tmp, timeout=3600)
        print(f"  wrote {rows} rows in {writer['wall_s']:.1f} s")
        readers = {cmd: {n: [] for n in snapshots} for cmd in ("verify", "report")}
        for rep in range(reps):
            for n, path in snapshots.items():
                for cmd in ("verify", "report"):
                    readers[cmd][n].append(read_ledger(build, cmd, path, timeout=3600))
            print(f"  readers, repetition {rep + 1}/{reps} done")

    cps = writer["checkpoints"]
    last, before = cps[-1], cps[-2]
    bytes_per_row = (last["file_bytes"] - before["file_bytes"]) / (last["rows"] - before["rows"])
    result["writer"] = writer
    result["bytes_per_row_marginal"] = bytes_per_row
    result["bytes_fixed"] = last["file_bytes"] - bytes_per_row * last["rows"]
    if rows >= MILLION:
        at_million = [c for c in cps if c["rows"] == MILLION]
        size_million = at_million[0]["file_bytes"] if at_million else None
    else:
        size_million = None
    result["ledger_bytes_at_1e6_rows"] = {
        "value": size_million if size_million is not None
        else last["file_bytes"] + (MILLION - last["rows"]) * bytes_per_row,
        "measured": size_million is not None}
    result["rss_kb_by_rows"] = {str(c["rows"]): {"rss_kb": c["rss_kb"], "hwm_kb": c["hwm_kb"]}
                                for c in cps}
    result["readers"] = {}
    for cmd, by_rows in readers.items():
        result["readers"][cmd] = {
            str(n): {"wall_s": spread([w for w, _ in runs]),
                     "max_rss_kb": spread([m for _, m in runs])} for n, runs in by_rows.items()}
    largest = max(snapshots)
    verify_large = result["readers"]["verify"][str(largest)]
    per_row = verify_large["wall_s"]["median"] / largest
    rss_small = result["readers"]["verify"][str(min(snapshots))]["max_rss_kb"]["median"]
    rss_per_row = (verify_large["max_rss_kb"]["median"] - rss_small) / (largest - min(snapshots))
    result["verify_at_1e6_rows"] = {
        "measured": largest >= MILLION,
        "wall_s": verify_large["wall_s"]["median"] if largest >= MILLION else per_row * MILLION,
        "max_rss_kb": verify_large["max_rss_kb"]["median"] if largest >= MILLION
        else verify_large["max_rss_kb"]["median"] + rss_per_row * (MILLION - largest),
        "basis": f"measured at {largest} rows" + ("" if largest >= MILLION else
                                                   ", scaled linearly to 10^6 rows"),
    }

    print()
    print("writer (io::TraceWriter::append, H5Fflush per row), per window since the previous "
          "checkpoint:")
    print(f"{'rows':>8} {'rows/s':>8} {'cpu us/row':>10} {'append us p50/p99/max':>24} "
          f"{'file bytes':>12} {'RSS kB':>8} {'HWM kB':>8}")
    print(f"{0:>8} {'':>8} {'':>10} {'':>24} {writer['start']['file_bytes']:>12} "
          f"{writer['start']['rss_kb']:>8} {writer['start']['hwm_kb']:>8}")
    for c in cps:
        lat = f"{c['append_us_p50']:.0f}/{c['append_us_p99']:.0f}/{c['append_us_max']:.0f}"
        print(f"{c['rows']:>8} {c['rows_per_s']:>8.0f} {c['cpu_us_per_row']:>10.0f} {lat:>24} "
              f"{c['file_bytes']:>12} {c['rss_kb']:>8} {c['hwm_kb']:>8}")
    size = result["ledger_bytes_at_1e6_rows"]
    print(f"bytes per row (marginal, {before['rows']}..{last['rows']}): {bytes_per_row:.1f}; "
          f"fixed part {result['bytes_fixed']:.0f} B; ledger at 10^6 rows: "
          f"{size['value'] / 1e6:.0f} MB ({'measured' if size['measured'] else 'extrapolated'})")
    print()
    print("readers (wall s and peak RSS MB, median (min..max) over repetitions):")
    print(f"{'rows':>8} {'verify s':>24} {'verify MB':>10} {'report --json s':>24} "
          f"{'report MB':>10}")
    for n in sorted(snapshots):
        v, r = result["readers"]["verify"][str(n)], result["readers"]["report"][str(n)]
        print(f"{n:>8} {fmt_spread(v['wall_s'], 3):>24} "
              f"{v['max_rss_kb']['median'] / 1024:>10.1f} {fmt_spread(r['wall_s'], 3):>24} "
              f"{r['max_rss_kb']['median'] / 1024:>10.1f}")
    vm = result["verify_at_1e6_rows"]
    print(f"verify at 10^6 rows: {vm['wall_s']:.0f} s, peak {vm['max_rss_kb'] / 1024:.0f} MB "
          f"({vm['basis']})")
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main_of(SCRIPT, main)
