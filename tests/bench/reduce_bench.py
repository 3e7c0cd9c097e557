#!/usr/bin/python3
"""Reduction benchmark: what one metering period's reduction costs, measured at 1, 2, 4, 8 and 16
ranks on this host (oversubscribed beyond its cores), the bytes it puts on the wire, and a model
of its cost at 1,000 to 100,000 ranks.

  /usr/bin/python3 tests/bench/reduce_bench.py [--quick] [--out FILE.json] [--ranks 1,2,4,8,16]
                                               [--no-e2e]

Two measurements of the cost per period (one reduction round per period):

 collective  tests/bench/reduce_bench.cpp under mpirun -np P: the runtime's round (MPI_Ireduce
             of the wire record with the runtime's datatype and operation, rank 0 unpacks,
             MPI_Ibcast of the control block) back to back, in three modes measured interleaved
             in one run (wait, poll, poll_append: see reduce_bench.cpp). Per mode: rank 0's wall
             time per round, the slowest rank's, and the CPU time a round takes on rank 0 and on
             the other ranks (the meter thread's share of a core). poll_append - poll is the
             HDF5 append of rank 0 (io::TraceWriter, H5Fflush per row). Also gamma: the
             reduction operation applied to one record (MPI_Reduce_local).
 end_to_end  mpi_gemm (examples/) under `flopledger run -n P --every-steps 1`, one round per
             step: ms per row = (t_end of the last row - t_end of the first) / (rows - 1). This
             is the round's cost when the rounds run back to back (they do when steps are
             quicker than rounds: the cuts queue up), HDF5 append included, plus the interference
             of the training ranks sharing the cores; when steps are slower it is the step time.
             Repetitions are interleaved across rank counts (P = 1, 2, 4, ... then again).

Bytes on the wire are exact: sizeof the record (checked against MPI_Type_size of the runtime's
datatype) and of the control block, P - 1 messages of each per period (any reduction or
broadcast tree without segmentation sends each rank's data over exactly one edge into it).

--quick: 3 x 20 rounds per mode, end-to-end at 1 and 4 ranks only with 100 steps (about 7 s on
a quiet 2-core VM, 25 s on a busy one). The full mode (7 x 200 rounds, end-to-end 3 x 400 steps
at every rank count) takes about 2 minutes. Timings are never asserted: the exit status is 0 when
everything ran, 1 with a message when something could not run. The build directory is build/ or
$FL_BUILD_DIR.
"""

import argparse
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (BenchError, build_dir, clean_env, fmt_spread, machine,  # noqa: E402
                          main_of, need_file, parse_kv, run_with_rusage, spread, write_json)

SCRIPT = "tests/bench/reduce_bench.py"
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODES = ("wait", "poll", "poll_append")

# The model's assumptions (stated in the JSON and the table).
MODEL = {
    "alpha_us_per_hop": {"low": 2.0, "high": 5.0,
                         "note": "one point-to-point message on InfiniBand HDR/NDR through the MPI "
                                 "stack, including the software overhead of a non-blocking "
                                 "collective's progress (about 1-2 us hardware, 2-5 us with MPI)"},
    "beta_bytes_per_s": {"value": 12.5e9,
                         "note": "HDR 100 Gb/s per link (12.5 GB/s); one record per hop, no "
                                 "contention: each rank receives from its tree children one at "
                                 "a time"},
    "gamma": "measured here: MPI_Reduce_local of one record with the runtime's operation",
    "poll_us": "measured here: the real length of Meter::wait's 0.1 ms nanosleep",
    "tree": "binomial tree for both collectives: depth ceil(log2 P) for the reduce (each hop: "
            "latency + record transfer + one combine at the receiver) and for the broadcast "
            "(latency + control transfer). Open MPI 4.1's libnbc (the non-blocking collectives) "
            "picks a binomial tree for MPI_Ireduce here: reduce-scatter + gather needs count >= "
            "the power of two below P and the record is one element (count 1), and the chain "
            "needs P <= 4 with at least 64 KiB; MPI_Ibcast of less than 64 KiB is binomial "
            "beyond 4 ranks and linear up to 4 (ompi/mca/coll/libnbc/nbc_ireduce.c, "
            "nbc_ibcast.c)",
    "progress": "with_progress: each hop forwards as soon as data arrives (a progress thread, "
                "or hardware offload); poll_bound: Open MPI progresses non-blocking "
                "collectives only inside MPI calls, and the meter thread calls MPI_Test once per "
                "poll interval, so each interior node may add up to one poll interval per hop "
                "(upper bound: ceil(log2 P) poll intervals per collective)",
    "excluded": "rank 0's serial work per period (unpack, accounting, HDF5 append with flush): "
                "independent of P, measured here and added as rank0_serial_us",
}


def mpirun_cmd(ranks):
    return ["mpirun", "-np", str(ranks), "--oversubscribe"]


def run_collective(build, ranks, rounds, reps, tmp, timeout):
    ledger = os.path.join(tmp, f"collective_{ranks}.h5")
    cmd = mpirun_cmd(ranks) + [os.path.join(build, "tests", "reduce_bench"), "--rounds",
                               str(rounds), "--reps", str(reps), "--ledger", ledger]
    status, wall, _, out, err = run_with_rusage(cmd, timeout, env=clean_env())
    if status != 0:
        raise BenchError(f"reduce_bench at {ranks} ranks failed (exit {status}):\n{err.strip()}")
    facts = {"command": " ".join(cmd), "wall_s": wall, "gamma_ns": [], "blocks": []}
    for line in out.splitlines():
        tag, kv = parse_kv(line)
        if tag == "setup":
            facts["mpi_library"] = kv["mpi_library"]
            facts["thread_level"] = int(kv["thread_level"])
        elif tag == "sizes":
            facts["sizes"] = {k: int(v) for k, v in kv.items()}
        elif tag == "gamma":
            facts["gamma_ns"].append(float(kv["ns_per_record"]))
        elif tag == "poll":
            facts["poll_us"] = float(kv["sleep_us"])
        elif tag == "block":
            facts["blocks"].append({k: (v if k == "mode" else float(v)) for k, v in kv.items()})
    if "sizes" not in facts or len(facts["blocks"]) != reps * len(MODES):
        raise BenchError(f"reduce_bench at {ranks} ranks printed unexpected output:\n{out}")
    return facts


def run_end_to_end(build, ranks, steps, tmp, rep, timeout):
    import h5py  # only this part needs h5py
    ledger = os.path.join(tmp, f"e2e_{ranks}_{rep}.h5")
    cmd = [os.path.join(build, "flopledger"), "run", "-n", str(ranks), "--ledger", ledger,
           "--every-steps", "1", "--every-seconds", "3600", "--quiet",
           "--mpirun-arg=--oversubscribe", "--", os.path.join(build, "mpi_gemm"), "--steps",
           str(steps), "--same-shapes"]
    status, wall, _, _, err = run_with_rusage(cmd, timeout, env=clean_env())
    if status != 0:
        raise BenchError(f"mpi_gemm at {ranks} ranks failed (exit {status}):\n{err.strip()}")
    with h5py.File(ledger, "r") as f:
        t_end = f["steps"]["t_end"]
        rows = len(t_end)
        first, last = float(t_end[0]), float(t_end[-1])
    os.unlink(ledger)
    if rows < 2:
        raise BenchError(f"mpi_gemm at {ranks} ranks wrote {rows} rows, expected {steps}")
    return {"rows": rows, "ms_per_row": (last - first) / (rows - 1) * 1e3, "wall_s": wall,
            "command": " ".join(cmd)}


def wire_bytes(ranks, record, control):
    """Exact payload bytes per period (MPI's own message headers not included)."""
    depth = math.ceil(math.log2(ranks)) if ranks > 1 else 0
    return {
        "ranks": ranks,
        "messages_reduce": ranks - 1,
        "messages_bcast": ranks - 1,
        "total_bytes": (ranks - 1) * (record + control),
        "per_nonroot_rank_sent_reduce_bytes": record if ranks > 1 else 0,
        "per_nonroot_rank_received_bcast_bytes": control if ranks > 1 else 0,
        "root_received_bytes_binomial": depth * record,
        # libnbc broadcasts linearly up to 4 ranks (the root sends P - 1 messages).
        "root_sent_bytes": (ranks - 1 if ranks <= 4 else depth) * control,
        "tree_depth": depth,
    }


def model_row(ranks, record, control, gamma_us, poll_us, rank0_serial_us):
    depth = math.ceil(math.log2(ranks))
    beta = MODEL["beta_bytes_per_s"]["value"]
    out = {"ranks": ranks, "tree_depth": depth}
    for name, alpha in (("low", MODEL["alpha_us_per_hop"]["low"]),
                        ("high", MODEL["alpha_us_per_hop"]["high"])):
        reduce_us = depth * (alpha + record / beta * 1e6 + gamma_us)
        bcast_us = depth * (alpha + control / beta * 1e6)
        out[f"with_progress_{name}_alpha_us"] = reduce_us + bcast_us
        out[f"poll_bound_{name}_alpha_us"] = reduce_us + bcast_us + 2 * depth * poll_us
    out["rank0_serial_us"] = rank0_serial_us
    out["total_bytes"] = (ranks - 1) * (record + control)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 15 s instead of minutes")
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--ranks", default="1,2,4,8,16", help="rank counts (default 1,2,4,8,16)")
    parser.add_argument("--no-e2e", action="store_true", help="skip the mpi_gemm measurement")
    args = parser.parse_args()
    try:
        ranks_list = [int(r) for r in args.ranks.split(",")]
        if not ranks_list or min(ranks_list) < 1:
            raise ValueError
    except ValueError:
        raise BenchError(f"--ranks: '{args.ranks}' is not a comma-separated list of rank counts")
    build = build_dir(check=True)
    need_file(os.path.join(build, "tests", "reduce_bench"),
              "build the reduce_bench target (cmake --build build --target reduce_bench)")
    if shutil.which("mpirun") is None:
        raise BenchError("mpirun not found in PATH")
    if args.quick:
        rounds, reps, steps, e2e_reps, e2e_ranks = 20, 3, 100, 1, [r for r in ranks_list
                                                                  if r in (1, 4)]
    else:
        rounds, reps, steps, e2e_reps, e2e_ranks = 200, 7, 400, 3, ranks_list
    if args.no_e2e:
        e2e_ranks = []
    if e2e_ranks:
        need_file(os.path.join(build, "flopledger"), "build the flopledger_cli target")
        need_file(os.path.join(build, "mpi_gemm"), "build the mpi_gemm target")
        need_file(os.path.join(build, "libflopledger.so"), "build the flopledger target")

    result = {
        "benchmark": "reduce",
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "parameters": {"ranks": ranks_list, "rounds_per_block": rounds,
                       "repetitions": reps, "modes": list(MODES),
                       "mpirun": " ".join(mpirun_cmd("P")),
                       "e2e_ranks": e2e_ranks, "e2e_steps": steps, "e2e_repetitions": e2e_reps},
        "units": {"*_us": "microseconds per round (period)", "gamma_ns": "nanoseconds per record",
                  "*_bytes": "bytes per period", "ms_per_row": "milliseconds per ledger row"},
    }
    print(f"reduce_bench: {'quick' if args.quick else 'full'} mode, ranks {ranks_list}, "
          f"{reps} x {rounds} rounds per mode; machine: {result['machine']['nproc']} cores, "
          f"{result['machine']['cpu_model']}")
    with tempfile.TemporaryDirectory(prefix="flopledger-reduce-bench.") as tmp:
        collective = {}
        for ranks in ranks_list:
            collective[ranks] = run_collective(build, ranks, rounds, reps, tmp,
                                               timeout=120 if args.quick else 600)
            print(f"  collective at {ranks} ranks: {collective[ranks]['wall_s']:.1f} s")
        e2e = {r: [] for r in e2e_ranks}
        for rep in range(e2e_reps):
            for ranks in e2e_ranks:
                e2e[ranks].append(run_end_to_end(build, ranks, steps, tmp, rep,
                                                 timeout=120 if args.quick else 600))
                print(f"  end-to-end at {ranks} ranks, repetition {rep + 1}/{e2e_reps}: "
                      f"{e2e[ranks][-1]['wall_s']:.1f} s")

    sizes = collective[ranks_list[0]]["sizes"]
    record, control = sizes["record_bytes"], sizes["control_bytes"]
    if sizes["type_size"] != record:
        raise BenchError(f"MPI_Type_size {sizes['type_size']} != sizeof(Record) {record}")
    gamma_all = [g for c in collective.values() for g in c["gamma_ns"]]
    poll_all = [c["poll_us"] for c in collective.values() if "poll_us" in c]
    result["sizes"] = sizes
    result["mpi_library"] = collective[ranks_list[0]].get("mpi_library", "unknown")
    result["gamma_ns"] = spread(gamma_all)
    result["poll_sleep_us"] = spread(poll_all) if poll_all else None

    rows = []
    for ranks in ranks_list:
        c = collective[ranks]
        entry = {"ranks": ranks, "command": c["command"], "wall_s": c["wall_s"]}
        for mode in MODES:
            blocks = [b for b in c["blocks"] if b["mode"] == mode]
            entry[mode] = {key: spread([b[key] for b in blocks])
                           for key in ("rank0_us", "max_us", "rank0_cpu_us",
                                       "nonroot_cpu_us_median", "nonroot_cpu_us_max")}
        appends = [a["rank0_us"] - p["rank0_us"] for a, p in
                   zip([b for b in c["blocks"] if b["mode"] == "poll_append"],
                       [b for b in c["blocks"] if b["mode"] == "poll"])]
        entry["append_us"] = spread(appends)
        entry["append_share"] = entry["append_us"]["median"] / entry["poll_append"][
            "rank0_us"]["median"]
        if ranks in e2e:
            entry["end_to_end_ms_per_row"] = spread([x["ms_per_row"] for x in e2e[ranks]])
            entry["end_to_end_runs"] = e2e[ranks]
        entry["wire"] = wire_bytes(ranks, record, control)
        rows.append(entry)
    result["per_ranks"] = rows

    gamma_us = result["gamma_ns"]["median"] / 1000
    poll_us = result["poll_sleep_us"]["median"] if poll_all else 0.1
    serial = [r["poll_append"]["rank0_us"]["median"] for r in rows if r["ranks"] == 1]
    rank0_serial_us = serial[0] if serial else None
    result["model"] = {
        "formula_us": "ceil(log2 P) * (alpha + record_bytes/beta + gamma) + ceil(log2 P) * "
                      "(alpha + control_bytes/beta) [+ 2 ceil(log2 P) poll_us when poll-bound] "
                      "+ rank0_serial_us",
        "assumptions": MODEL,
        "gamma_us": gamma_us,
        "poll_us": poll_us,
        "rank0_serial_us_measured_at_1_rank": rank0_serial_us,
        "table": [model_row(p, record, control, gamma_us, poll_us, rank0_serial_us)
                  for p in (1000, 10000, 100000)],
    }

    # The table for people.
    print()
    print(f"record {record} B ({sizes['record_words']} words; MPI_Type_size {sizes['type_size']}),"
          f" control {control} B; gamma (combine one record) {fmt_spread(result['gamma_ns'])} ns;"
          f" poll sleep {poll_us:.1f} us; {result['mpi_library']}")
    print("us per round, median (min..max) over repetitions; cpu = the thread's CPU time per round")
    head = (f"{'P':>3} {'wait rank0':>24} {'poll rank0':>24} {'poll+append rank0':>26} "
            f"{'append':>8} {'cpu non-root (poll)':>22} {'e2e ms/row':>22}")
    print(head)
    for r in rows:
        e2e_cell = fmt_spread(r["end_to_end_ms_per_row"], 2) if "end_to_end_ms_per_row" in r \
            else "-"
        cpu = fmt_spread(r["poll"]["nonroot_cpu_us_median"]) if r["ranks"] > 1 else "-"
        print(f"{r['ranks']:>3} {fmt_spread(r['wait']['rank0_us']):>24} "
              f"{fmt_spread(r['poll']['rank0_us']):>24} "
              f"{fmt_spread(r['poll_append']['rank0_us']):>26} "
              f"{r['append_us']['median']:>8.1f} {cpu:>22} {e2e_cell:>22}")
    print()
    print("bytes on the wire per period (payload; binomial trees):")
    print(f"{'P':>7} {'messages':>9} {'total bytes':>12} {'non-root sends':>15} "
          f"{'root receives':>14}")
    for p in ranks_list + [1000, 10000, 100000]:
        w = wire_bytes(p, record, control)
        print(f"{p:>7} {w['messages_reduce']:>4}+{w['messages_bcast']:<4} {w['total_bytes']:>12} "
              f"{w['per_nonroot_rank_sent_reduce_bytes']:>15} "
              f"{w['root_received_bytes_binomial']:>14}")
    print()
    print(f"model (us per period; alpha {MODEL['alpha_us_per_hop']['low']}-"
          f"{MODEL['alpha_us_per_hop']['high']} us/hop, beta 12.5 GB/s, gamma {gamma_us:.2f} us,"
          f" poll {poll_us:.0f} us; + rank 0 serial {rank0_serial_us or 0:.0f} us):")
    print(f"{'P':>7} {'depth':>5} {'with progress':>18} {'poll-bound':>20}")
    for m in result["model"]["table"]:
        print(f"{m['ranks']:>7} {m['tree_depth']:>5} "
              f"{m['with_progress_low_alpha_us']:>8.0f}..{m['with_progress_high_alpha_us']:<8.0f} "
              f"{m['poll_bound_low_alpha_us']:>9.0f}..{m['poll_bound_high_alpha_us']:<9.0f}")
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main_of(SCRIPT, main)
