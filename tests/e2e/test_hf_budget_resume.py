#!/usr/bin/env python3
"""End-to-end: the budget guard through flopledger.hf.FlopledgerCallback, and a resumed Trainer
job in the same ledger (examples/hf_lora/train.py, 2 ranks, under `flopledger run -n 2`).

1. FLOPLEDGER_BUDGET = 3.5 x the train FLOPs of one step (R, measured from the ledger's rows:
   every step has the same padded shapes, so the same R): the callback turns the guard's stop
   into a checkpoint save and the end of training; Trainer exits 0 after step 3 =
   floor(budget / R) on both ranks, checkpoint-3 exists (adapter weights + trainer state), the
   ledger holds exactly 3 R toward the threshold (evaluation excluded), with the events
   budget_stop_requested and budget_stop (step 3).
2. The same command without a budget, with --resume checkpoint-3: Trainer continues at step 4
   and ends at step 6; the ledger's step rows cover 1..6 without gap or repeat (the callback sets
   the ledger step to the checkpoint's global step), the cumulative figures continue exactly to
   6 R, and the ledger has two clean segments.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402
import hf_common as H  # noqa: E402

PHASE_TRAIN = E.PHASES.index("train")


def train_flops(row):
    return row["flops_by_phase_u128"][PHASE_TRAIN]


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_hf_budget_resume", args)
    if E.skip_python(c, "Hugging Face Trainer"):
        c.finish()
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    python = H.venv_python(c)
    c.require(H.torch_ok(python), f"torch, transformers and peft importable by {python}")
    site = H.install_package(c, python)

    # R: one step's train FLOPs over both ranks (102105088 for the default shapes; test_hf_trainer
    # checks the runtime's count against the BLAS spy). Rather than a first, unbudgeted run (10 s
    # more), R is read from the budgeted run's own rows, which must all be equal, and the fixed
    # budget must lie in [3R, 4R).
    out = c.subdir("out")
    ledger = c.path("run", "ledger.h5")
    budget = 350_000_000  # between 3 R and 4 R for the default shapes (R = 102105088)
    env = H.hf_env({"PYTHONPATH": site, "FLOPLEDGER_BUDGET": str(budget)})
    cmd = H.workload(python, paths, "--callback", "--output-dir", out)
    res = E.flopledger_run(paths, H.RANKS, ledger, cmd, every_steps=1, every_seconds=3600,
                           env=env, timeout=300, verbose=args.verbose)
    c.ran_ok(res, "budget: flopledger run hf_lora/train.py --callback (FLOPLEDGER_BUDGET)")
    kv = E.key_values(res.stdout)
    trace = E.read_trace(ledger)
    rows = trace["steps"]
    per_step = [train_flops(r) for r, cov in zip(rows, E.covered_steps(rows)) if cov]
    rate = per_step[0] if per_step else 0
    c.check(per_step and all(v == rate for v in per_step),
            f"budget: every step costs the same train FLOPs ({per_step})")
    c.check(3 * rate <= budget < 4 * rate, f"budget: the budget {budget} is in [3R, 4R), R={rate}")
    limit = budget // rate if rate else None
    c.equal(E.as_int(kv.get("trainer_steps")), limit,
            "budget: Trainer stopped after floor(budget / R) steps")
    c.equal(kv.get("stopped_early"), "1", "budget: before the end of the epoch")
    ckpt = os.path.join(out, f"checkpoint-{limit}")
    c.check(os.path.isfile(os.path.join(ckpt, "trainer_state.json")) and
            os.path.isfile(os.path.join(ckpt, "adapter_model.safetensors")),
            f"budget: the callback's save wrote {ckpt} (trainer state, adapter weights)",
            str(os.listdir(out)))
    c.check("compute budget is reached" in res.stderr,
            "budget: the callback says why it stops (rank 0)")
    last = rows[-1] if rows else {}
    c.equal(E.decimal_field(last, "cumulative_modification"), limit * rate,
            "budget: the ledger holds exactly limit x R toward the threshold")
    kinds = [e.get("kind") for e in trace["events"]]
    c.equal(kinds.count("budget_stop_requested"), 1, "budget: one budget_stop_requested event")
    stops = [e for e in trace["events"] if e.get("kind") == "budget_stop"]
    c.equal([E.as_int(e.get("step")) for e in stops], [limit],
            "budget: one budget_stop event, at the step Trainer stopped after")

    # 2. Resume into the same ledger, no budget.
    env = H.hf_env({"PYTHONPATH": site})
    res = E.flopledger_run(paths, H.RANKS, ledger, cmd + ["--resume", ckpt], every_steps=1,
                           every_seconds=3600, env=env, timeout=300, verbose=args.verbose)
    c.ran_ok(res, "resume: flopledger run hf_lora/train.py --callback --resume")
    kv = E.key_values(res.stdout)
    c.equal((E.as_int(kv.get("trainer_steps")), kv.get("stopped_early")), (H.STEPS, "0"),
            "resume: Trainer finished the epoch")
    trace = E.read_trace(ledger)
    rows = trace["steps"]
    covered, prev = [], 0  # across segments: the ledger's step numbers continue
    for r in rows:
        covered.append(list(range(prev + 1, int(r["step_last"]) + 1)))
        prev = max(prev, int(r["step_last"]))
    c.equal([s for cov in covered for s in cov], list(range(1, H.STEPS + 1)),
            f"resume: the ledger's rows cover steps 1..{H.STEPS}, no gap, no repeat")
    c.equal([train_flops(r) for r, cov in zip(rows, covered) if cov], [rate] * H.STEPS,
            "resume: each step's row holds R train FLOPs (evaluation after a step is in a row "
            "of its own, phase eval)")
    c.equal([E.as_int(e.get("step")) for e in trace["events"] if e.get("kind") == "step_set"],
            [limit], "resume: the callback set the ledger step to the checkpoint's (step_set)")
    c.equal(sorted({r.get("segment") for r in rows}), [0, 1], "resume: rows of two segments")
    c.equal(E.decimal_field(rows[-1], "cumulative_modification"), H.STEPS * rate,
            "resume: the ledger's modification total continues exactly to steps x R")
    c.equal(sum(train_flops(r) for r in rows), H.STEPS * rate, "resume: sum of train FLOPs")
    c.equal(E.decimal_field(rows[-1], "cumulative_counted"), sum(E.row_total(r) for r in rows),
            "resume: cumulative_counted is the rows' sum")
    c.equal(len([e for e in trace["events"] if e.get("kind") == "steps_repeated"]), 0,
            "resume: no steps_repeated event")
    rep = E.report_json(c, paths, ledger)
    E.check_segments(c, rep, "resume", H.RANKS, states=("clean",), exit_status=0, count=2)
    if rep is not None:
        c.check(all(s.get("state") == "clean" for s in rep.get("segments", [])),
                "resume: both segments clean")
    c.finish()


if __name__ == "__main__":
    main()
