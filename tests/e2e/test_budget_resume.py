#!/usr/bin/env python3
"""End-to-end: the budget guard, and one ledger across jobs.

C++ (examples/mpi_gemm, --same-shapes so that every step costs the same R FLOP, on 2 ranks):
  - FLOPLEDGER_BUDGET = 10.5 R FLOP: flopledger_should_stop() returns 1 on every rank after the
    same step, 10 = floor(budget / R); the ledger holds exactly 10 R, with the events
    budget_stop_requested and budget_stop (step 10);
  - a second job appends to the same ledger: its steps continue at 11, the cumulative total
    continues, and the ledger has two segments.
PyTorch (examples/torch_finetune/train.py on 2 ranks, with a checkpoint directory):
  - FLOPLEDGER_BUDGET as a fraction of the threshold: the run stops after the same step on both
    ranks, saves a checkpoint and exits 0; the resumed run (--resume) continues in the same
    ledger: step rows 1..N without a gap or repeat, cumulative totals continuing exactly, two
    clean segments;
  - a program that uses no API: FLOPLEDGER_STOP_SIGNAL=SIGUSR1 reaches every rank near the
    budget, and its own handler stops it;
  - a planned length (FLOPLEDGER_PLANNED_STEPS) whose projection crosses the threshold records
    one forecast_crossing event with the projection and the notification date;
  - a job pointed at that ledger with another base model is refused before it starts (exit 2),
    with a message naming both, and the ledger is unchanged.
--cpp-only (implied by --sanitized) runs the C++ part only.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

RANKS = 2


def events(trace, kind):
    return [e for e in trace["events"] if e.get("kind") == kind]


def cpp_budget(c, paths, args):
    exp = E.mpi_gemm_expected(RANKS, 1)  # --same-shapes: every step is step 0
    rate = exp["total"]
    budget = rate * 10 + rate // 2
    ledger = c.path("cpp", "ledger.h5")
    env = E.base_env({"FLOPLEDGER_BUDGET": str(budget), "FLOPLEDGER_ORIGINAL_FLOPS": "1e30"})
    res = E.flopledger_run(paths, RANKS, ledger,
                           [paths.mpi_gemm, "--steps", "40", "--same-shapes", "--budget-guard",
                            "--print-expected"],
                           every_steps=1, every_seconds=3600, env=env, verbose=args.verbose)
    c.ran_ok(res, "C++: flopledger run mpi_gemm --budget-guard")
    stops = sorted(E.key_values(line)["stopped_after_step"]
                   for line in res.stdout.splitlines() if "stopped_after_step=" in line)
    c.equal(stops, ["10"] * RANKS, "C++: every rank stopped after the same step, 10")
    kv = E.key_values(res.stdout)
    c.equal(E.as_int(kv.get("expected_steps")), 10, "C++: the program ran 10 steps")
    trace = E.read_trace(ledger)
    last = trace["steps"][-1]
    c.equal(E.decimal_field(last, "cumulative_modification"), 10 * rate,
            "C++: the ledger holds exactly 10 steps' FLOPs, within the budget")
    c.check(10 * rate <= budget < 11 * rate, "C++: (self-check) an 11th step would cross it")
    requested = events(trace, "budget_stop_requested")
    c.equal(len(requested), 1, "C++: one budget_stop_requested event")
    if requested:
        c.equal(requested[0].get("step"), 10, "C++: the request names step 10 as the last allowed")
    stop = events(trace, "budget_stop")
    c.equal(len(stop), 1, "C++: one budget_stop event")
    if stop:
        c.equal(stop[0].get("step"), 10, "C++: the stop is recorded at step 10")

    # A second job, no budget: appends, continuing the steps and the totals.
    res = E.flopledger_run(paths, RANKS, ledger,
                           [paths.mpi_gemm, "--steps", "3", "--same-shapes"],
                           every_steps=1, every_seconds=3600,
                           env=E.base_env({"FLOPLEDGER_ORIGINAL_FLOPS": "1e30"}),
                           verbose=args.verbose)
    c.ran_ok(res, "C++: second job into the same ledger")
    trace = E.read_trace(ledger)
    c.equal(len(trace["segments"]), 2, "C++: two segments")
    c.equal([r["step_last"] for r in trace["steps"]], list(range(1, 14)),
            "C++: step rows 1..13, the second job continuing at 11")
    c.equal(E.decimal_field(trace["steps"][-1], "cumulative_modification"), 13 * rate,
            "C++: the cumulative total continues exactly")


def cpp_forecast(c, paths, args):
    """A planned length whose projection crosses the threshold: one forecast_crossing event, at
    the first round with a rate (step 2), projecting exactly 100 R for 100 planned steps."""
    rate = E.mpi_gemm_expected(RANKS, 1)["total"]
    ledger = c.path("forecast", "ledger.h5")
    env = E.base_env({"FLOPLEDGER_PLANNED_STEPS": "100",
                      "FLOPLEDGER_ORIGINAL_FLOPS": str(150 * rate)})  # threshold 50 R
    res = E.flopledger_run(paths, RANKS, ledger, [paths.mpi_gemm, "--steps", "6", "--same-shapes"],
                           every_steps=1, every_seconds=3600, env=env, verbose=args.verbose)
    c.ran_ok(res, "forecast: flopledger run mpi_gemm")
    c.check("FORECAST" in res.stderr, "forecast: rank 0 prints the forecast", res.tail())
    trace = E.read_trace(ledger)
    got = events(trace, "forecast_crossing")
    c.equal(len(got), 1, "forecast: one forecast_crossing event")
    if got:
        c.equal(got[0].get("step"), 2, "forecast: recorded at step 2, the first with a rate")
        c.equal(E.as_int(got[0].get("flops")), 100 * rate, "forecast: projects exactly 100 R")
        c.check("notify by 20" in got[0].get("detail", ""),
                "forecast: the event names the notification date", got[0].get("detail"))
    last = trace["steps"][-1]
    c.equal(last.get("forecast_available"), 1, "forecast: the rows carry the projection")
    c.equal(E.decimal_field(last, "forecast_flops"), 100 * rate, "forecast: last row's projection")
    c.equal(events(trace, "threshold_crossed"), [], "forecast: the threshold is not crossed yet")


SIGNAL_WORKLOAD = r"""
import signal, sys, time
import numpy as np
stop = []
signal.signal(signal.SIGUSR1, lambda *_: stop.append(time.time()))
a = np.ones((96, 96)); b = np.ones((96, 96))
n = 0
deadline = time.time() + 60
while not stop and time.time() < deadline:
    a @ b  # numpy's BLAS: cblas_dgemm, metered with no change to this program
    n += 1
    time.sleep(0.001)
print(f"signal={'SIGUSR1' if stop else 'none'} iterations={n}", flush=True)
"""


def signal_stop(c, paths, args):
    """An unmodified program (no C API): FLOPLEDGER_STOP_SIGNAL=SIGUSR1 makes every rank raise
    SIGUSR1 when the budget is about to be crossed; the program's handler ends its loop."""
    if E.skip_python(c, "signal stop"):
        return
    ledger = c.path("signal", "ledger.h5")
    env = E.base_env({"FLOPLEDGER_BUDGET": "2e9", "FLOPLEDGER_STOP_SIGNAL": "SIGUSR1"})
    res = E.flopledger_run(paths, RANKS, ledger, [E.PYTHON, "-c", SIGNAL_WORKLOAD],
                           every_seconds=0.2, env=env, timeout=120, verbose=args.verbose)
    c.ran_ok(res, "signal: flopledger run of a program that handles SIGUSR1")
    lines = [E.key_values(line) for line in res.stdout.splitlines() if line.startswith("signal=")]
    c.equal(sorted(kv.get("signal") for kv in lines), ["SIGUSR1"] * RANKS,
            "signal: every rank received SIGUSR1 and stopped")
    trace = E.read_trace(ledger)
    c.equal(len(events(trace, "budget_stop_requested")), 1,
            "signal: the stop request is recorded once")
    total = E.decimal_field(trace["steps"][-1], "cumulative_modification")
    longest = max(E.row_total(r) for r in trace["steps"])
    # The request comes when two more periods at the last one's pace would pass the budget.
    c.check(total is not None and 2 * 10**9 - 2 * longest <= total,
            f"signal: the job ran until near its budget of 2e9 ({total} FLOP, periods of up to "
            f"{longest})")


def torch_budget_and_resume(c, paths, args):
    if E.skip_python(c, "torch budget and resume"):
        return
    if not E.torch_available():
        c.check(False, f"PyTorch importable by {E.PYTHON}")
        return
    batch, seq, d, layers, heads = 4, 32, 64, 2, 4
    common = [E.PYTHON, paths.train, "--batch-size", str(batch), "--seq-len", str(seq),
              "--d-model", str(d), "--layers", str(layers), "--heads", str(heads),
              "--eval-every", "0", "--log-every", "100"]
    ledger = c.path("torch", "ledger.h5")
    ckpt = c.path("torch", "checkpoint")
    base = {"FLOPLEDGER_BASE_MODEL": "tinygpt-seed1234"}

    # Per-step FLOPs of the job from a first, unbudgeted probe of 2 steps in another ledger.
    probe_ledger = c.path("torch", "probe.h5")
    res = E.flopledger_run(paths, RANKS, probe_ledger, common + ["--steps", "2"], every_steps=1,
                           every_seconds=3600, env=E.base_env(base), timeout=300,
                           verbose=args.verbose)
    c.ran_ok(res, "torch: probe run")
    probe = E.read_trace(probe_ledger)
    rate = E.decimal_field(probe["steps"][-1], "cumulative_modification") // 2
    c.check(rate > 0, f"torch: per-step FLOPs measured ({rate})")
    # An original of 30 R FLOP: the threshold is 10 R, a budget of 65% of it is 6.5 R, so exactly
    # 6 steps fit; the 5th step reaches 50% of the threshold.
    base["FLOPLEDGER_ORIGINAL_FLOPS"] = str(30 * rate)
    allowed = 6
    env = E.base_env(dict(base, FLOPLEDGER_BUDGET="65%"))
    res = E.flopledger_run(paths, RANKS, ledger,
                           common + ["--steps", "20", "--checkpoint-dir", ckpt], every_steps=1,
                           every_seconds=3600, env=env, timeout=300, verbose=args.verbose)
    c.ran_ok(res, "torch: budgeted run exits 0 after its clean stop")
    kv = E.key_values(res.stdout)
    c.equal(kv.get("budget_stop"), None, "(budget_stop is printed as a line of its own)")
    stop_lines = [line for line in res.stdout.splitlines() if line.startswith("budget_stop")]
    c.check(len(stop_lines) == 1, "torch: rank 0 reports the budget stop once", res.tail())
    if stop_lines:
        c.equal(E.key_values(stop_lines[0]).get("step"), str(allowed),
                f"torch: stopped after step {allowed}")
    for r in range(RANKS):
        c.check(os.path.exists(os.path.join(ckpt, f"rank{r}.pt")),
                f"torch: rank {r} saved its checkpoint")
    trace = E.read_trace(ledger)
    stop = events(trace, "budget_stop")
    c.equal([e.get("step") for e in stop], [allowed], "torch: budget_stop event at the stop step")
    first_total = E.decimal_field(trace["steps"][-1], "cumulative_modification")
    c.equal(first_total, allowed * rate, "torch: the ledger holds exactly the steps run")
    c.equal([e.get("step") for e in events(trace, "threshold_50pct")], [5],
            "torch: the 50% event at step 5 (5 R of a 10 R threshold)")
    c.equal(events(trace, "threshold_crossed"), [], "torch: the threshold itself never crossed")

    # Resume from the checkpoint into the same ledger, no budget.
    res = E.flopledger_run(paths, RANKS, ledger, common + ["--steps", "10", "--resume", ckpt],
                           every_steps=1, every_seconds=3600, env=E.base_env(base), timeout=300,
                           verbose=args.verbose)
    c.ran_ok(res, "torch: resumed run")
    c.check(f"resumed step={allowed}" in res.stdout, "torch: train.py resumed at the checkpoint")
    trace = E.read_trace(ledger)
    c.equal([E.segment_state_name(s) for s in trace["segments"]], ["clean", "clean"],
            "torch: two clean segments")
    c.equal([r["step_last"] for r in trace["steps"]], list(range(1, 11)),
            "torch: step rows 1..10 across the two jobs, no gap, no repeat")
    c.equal(E.decimal_field(trace["steps"][-1], "cumulative_modification"), 10 * rate,
            "torch: cumulative total continues exactly (10 steps' FLOPs)")

    # Another base model: refused before the job starts.
    before = open(ledger, "rb").read()
    env = E.base_env(dict(base, FLOPLEDGER_BASE_MODEL="another-model"))
    res = E.flopledger_run(paths, RANKS, ledger, common + ["--steps", "1"], env=env,
                           verbose=args.verbose)
    c.equal(res.rc, 2, "torch: a job with another base model is refused (exit 2)")
    c.check("tinygpt-seed1234" in res.stderr and "another-model" in res.stderr,
            "torch: the refusal names both base models", res.tail())
    c.check("final_loss" not in res.stdout, "torch: the refused job did not run")
    c.check(open(ledger, "rb").read() == before, "torch: the ledger is unchanged")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_budget_resume", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    cpp_budget(c, paths, args)
    cpp_forecast(c, paths, args)
    signal_stop(c, paths, args)
    torch_budget_and_resume(c, paths, args)
    c.finish()


if __name__ == "__main__":
    main()
