#!/usr/bin/env python3
"""End-to-end overhead: the default PyTorch fine-tuning job unmetered, under flopledger, and with
AWS's per-micro-step token meter, timed side by side. A benchmark: it asserts no timing; it exits
non-zero (with a message) only when a job could not run.

    /usr/bin/python3 tests/bench/e2e_overhead.py [--quick] [--out FILE.json]
                                                [--reps R] [--steps S] [--ranks N]

The job is examples/torch_finetune/train.py with its defaults (what examples/run-default.sh
runs: 2 ranks, DDP over gloo on CPU, one BLAS/OpenMP thread per rank) and --steps S. Variants:

  unmetered   mpirun -np N python3 train.py --steps S
  flopledger  flopledger run -n N --ledger TMP --quiet -- python3 train.py --steps S
              (the runtime preloaded in every rank; train.py finds its C API and calls
              flopledger_step_end / set_phase / should_stop; default reduction settings)
  aws         mpirun -np N python3 train.py --steps S --aws-token-meter
              (AWS Fine-Tuning FLOPs Meter's method, faithfully: before each micro-step's
              forward pass, count the batch's non-padding tokens on the CPU with
              int((ids.detach().to("cpu") != pad).sum().item()), all-reduce the count as a
              float64 CPU tensor (gloo, SUM) and accumulate it, as its TokenCountingTrainer.
              training_step + FlopsMeterCallback.add_tokens do; see train.py's docstring. Done
              with an opt-in flag of train.py rather than a monkeypatching wrapper: the count sits
              at the exact place AWS's sits, with AWS's own operations, and the default job is
              unchanged. Its end-of-run JSON write is left out: one small file, once.)

They run interleaved, round after round (unmetered, flopledger, aws, unmetered, ...), so that
drift in the machine's speed hits every variant alike; full mode starts with one uncounted
warm-up run (page cache, Open MPI's first start). Per variant: the whole command's wall time
(start of mpirun / flopledger run to its exit: interpreter and torch import, rendezvous, the
runtime's start-up and the ledger's creation and closing included) and train.py's
train_seconds (rank 0's training loop alone, evaluations included), as median (min..max); and
per non-reference variant the ratio to unmetered, two ways: the median of the per-round ratios
(each against the unmetered run of the same round, adjacent in time) and the ratio of the
medians. The target for flopledger is a wall-time ratio <= 1.01.

Modes: full 5 rounds of 60 steps (one run ~10-20 s on a quiet 2-core machine); --quick 2 rounds
of 5 steps, no warm-up (a smoke run). --rotate changes the order each round. The build
directory is $FL_BUILD_DIR or build/.

JSON (--out), every time in seconds, ratios dimensionless:
  {"benchmark": "e2e_overhead", "schema": 1,
   "units": {"wall_s": "s", "train_s": "s", "outside_loop_s": "s", "ratio": "1"},
   "parameters": {"quick", "rounds", "warmup_runs", "order", "steps", "ranks", "batch_size",
                  "seq_len", "d_model", "layers", "heads", "eval_every", "threads_per_rank",
                  "tokens_per_rank_per_step", "target_flopledger_wall_ratio": 1.01},
   "machine": {"nproc", "cpu_model", "loadavg_1_5_15", "torch", "openblas", "mpi", ...},
   "loadavg_after": [1, 5, 15 min],
   "variants": [{"name", "description", "command": [argv of round 1],
                 "wall_s": {"median", "min", "max", "values": [per round]},
                 "train_s": {... the same ...},
                 "outside_loop_s": {... the same, of wall_s - train_s per run: interpreter and
                                    torch import, rendezvous, model set-up, the runtime's
                                    start-up and shutdown, teardown ...},
                 "ratio_vs_unmetered": null for unmetered, else
                   {"wall": {"median_of_paired", "min", "max", "paired": [per round],
                             "ratio_of_medians"},
                    "train": {... the same ...}},
                 "added_s_median": {"wall", "train", "outside_loop"}  (median of the
                                    per-round differences to unmetered; null for unmetered)}],
   "checks": {"final_loss_identical": bool (every run of every variant printed the same
              final loss), "final_loss": str, "aws_tokens_processed": int (what the AWS meter
              counted, all ranks), "aws_tokens_expected": int (ranks x steps x batch x seq)}}
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as B  # noqa: E402

PROG = "tests/bench/e2e_overhead.py"
# train.py's defaults (the default job): parsed from its own --help would cost a torch-free
# interpreter start; these are checked against what train.py prints (tokens_per_rank).
BATCH, SEQ, D_MODEL, LAYERS, HEADS, EVAL_EVERY, THREADS = 8, 64, 128, 2, 4, 10, 1
VARIANTS = ("unmetered", "flopledger", "aws")
DESCRIPTIONS = {
    "unmetered": "mpirun -np N python3 train.py (no runtime)",
    "flopledger": "flopledger run -n N -- python3 train.py (runtime preloaded, C API used)",
    "aws": "mpirun -np N python3 train.py --aws-token-meter (AWS FLOPs Meter: per-micro-step "
           "CPU token count + all-reduce)",
}
TARGET = 1.01


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 rounds of 5 steps, no warm-up")
    p.add_argument("--out", metavar="FILE.json", help="write the results as JSON")
    p.add_argument("--reps", type=int, default=None, help="rounds (default 5; quick 2)")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default 60; quick 5)")
    p.add_argument("--ranks", type=int, default=2, help="ranks (default 2, the default job's)")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per run")
    p.add_argument("--rotate", action="store_true",
                   help="rotate the order each round (A B C, B C A, C A B, ...) so that no "
                        "variant always runs first; default: the same order every round")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = p.parse_args()
    a.reps = a.reps if a.reps is not None else (2 if a.quick else 5)
    a.steps = a.steps if a.steps is not None else (5 if a.quick else 60)
    for name in ("reps", "steps", "ranks"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be >= 1")
    return a


def ratios(values, reference):
    paired = [v / r for v, r in zip(values, reference)]
    s = B.spread(paired)
    return {"median_of_paired": s["median"], "min": s["min"], "max": s["max"], "paired": paired,
            "ratio_of_medians": B.spread(values)["median"] / B.spread(reference)["median"]}


def main():
    sys.stdout.reconfigure(line_buffering=True)
    a = parse_args()
    art, mach = B.torch_job_start(PROG, need=("cli", "runtime"))
    tmp = tempfile.mkdtemp(prefix="flopledger-e2e-overhead-")
    ledger = os.path.join(tmp, "ledger.h5")
    env = B.E.base_env()  # no FLOPLEDGER_*, one BLAS/OpenMP thread per rank, root allowed
    train = [B.PYTHON, B.TRAIN, "--steps", str(a.steps)]
    commands = {
        "unmetered": B.mpirun_prefix(a.ranks) + train,
        "flopledger": [art.cli, "run", "-n", str(a.ranks), "--ledger", ledger, "--quiet",
                       "--"] + train,
        "aws": B.mpirun_prefix(a.ranks) + train + ["--aws-token-meter"],
    }
    warmup = 0 if a.quick else 1
    print(f"e2e_overhead: {a.reps} interleaved rounds x {len(VARIANTS)} variants, "
          f"train.py --steps {a.steps} on {a.ranks} ranks"
          f"{', 1 warm-up run' if warmup else ''}", flush=True)
    B.print_machine(mach)

    def one(variant):
        if os.path.exists(ledger):
            os.unlink(ledger)  # a fresh ledger each time (an existing one would be continued)
        res = B.run(commands[variant], env, a.timeout)
        if not res.ok():
            B.fail(PROG, f"the {variant} job failed:\n{res.tail()}")
        kv = B.E.key_values(res.stdout)
        for key in ("final_loss", "train_seconds", "tokens_per_rank"):
            if key not in kv:
                B.fail(PROG, f"the {variant} job printed no {key}=:\n{res.tail()}")
        api = kv.get("flopledger_api")
        want_api = "present" if variant == "flopledger" else "absent"
        if api != want_api:
            B.fail(PROG, f"the {variant} job says flopledger_api={api}, expected {want_api}:"
                         f"\n{res.tail()}")
        if variant == "flopledger" and not os.path.exists(ledger):
            B.fail(PROG, f"the flopledger job wrote no ledger at {ledger}:\n{res.tail()}")
        if variant == "aws" and "aws_tokens_processed" not in kv:
            B.fail(PROG, f"the aws job printed no aws_tokens_processed=:\n{res.tail()}")
        if int(kv["tokens_per_rank"]) != a.steps * BATCH * SEQ:
            B.fail(PROG, f"train.py's defaults changed: tokens_per_rank={kv['tokens_per_rank']}"
                         f", expected {a.steps} x {BATCH} x {SEQ}; update BATCH/SEQ here")
        return res.wall_s, float(kv["train_seconds"]), kv

    for _ in range(warmup):
        one("unmetered")
        print("  warm-up run done", file=sys.stderr, flush=True)
    wall = {v: [] for v in VARIANTS}
    train_s = {v: [] for v in VARIANTS}
    losses = set()
    aws_tokens = set()
    for r in range(a.reps):
        order = VARIANTS[r % 3:] + VARIANTS[:r % 3] if a.rotate else VARIANTS
        for v in order:
            w, t, kv = one(v)
            wall[v].append(w)
            train_s[v].append(t)
            losses.add(kv["final_loss"])
            if v == "aws":
                aws_tokens.add(int(kv["aws_tokens_processed"]))
            print(f"  round {r + 1}/{a.reps} {v:<10} wall {w:7.2f} s  train {t:7.3f} s",
                  file=sys.stderr, flush=True)
    load_after = list(os.getloadavg())

    outside = {v: [w - t for w, t in zip(wall[v], train_s[v])] for v in VARIANTS}
    variants = []
    for v in VARIANTS:
        entry = {"name": v, "description": DESCRIPTIONS[v], "command": commands[v],
                 "wall_s": B.spread(wall[v]), "train_s": B.spread(train_s[v]),
                 "outside_loop_s": B.spread(outside[v]),
                 "ratio_vs_unmetered": None, "added_s_median": None}
        if v != "unmetered":
            entry["ratio_vs_unmetered"] = {"wall": ratios(wall[v], wall["unmetered"]),
                                           "train": ratios(train_s[v], train_s["unmetered"])}
            entry["added_s_median"] = {
                "wall": B.spread([x - y for x, y in zip(wall[v], wall["unmetered"])])["median"],
                "train": B.spread([x - y for x, y in zip(train_s[v],
                                                         train_s["unmetered"])])["median"],
                "outside_loop": B.spread([x - y for x, y in zip(outside[v],
                                                                outside["unmetered"])])["median"]}
        variants.append(entry)
    expected_tokens = a.ranks * a.steps * BATCH * SEQ
    checks = {"final_loss_identical": len(losses) == 1,
              "final_loss": sorted(losses)[0] if len(losses) == 1 else sorted(losses),
              "aws_tokens_processed": sorted(aws_tokens)[0] if len(aws_tokens) == 1
              else sorted(aws_tokens),
              "aws_tokens_expected": expected_tokens}
    result = {
        "benchmark": "e2e_overhead", "schema": 1,
        "units": {"wall_s": "s", "train_s": "s", "outside_loop_s": "s", "ratio": "1"},
        "parameters": {"quick": a.quick, "rounds": a.reps, "warmup_runs": warmup,
                       "order": "rotated" if a.rotate else "fixed",
                       "steps": a.steps, "ranks": a.ranks, "batch_size": BATCH, "seq_len": SEQ,
                       "d_model": D_MODEL, "layers": LAYERS, "heads": HEADS,
                       "eval_every": EVAL_EVERY, "threads_per_rank": THREADS,
                       "tokens_per_rank_per_step": BATCH * SEQ,
                       "target_flopledger_wall_ratio": TARGET},
        "machine": mach, "loadavg_after": load_after, "variants": variants, "checks": checks,
    }

    print()
    head = ("variant", "whole command s", "wall ratio paired", "of medians",
            "training loop s", "train ratio paired", "of medians")
    widths = (10, 22, 22, 10, 22, 22, 10)
    print("  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
                    for i, (h, w) in enumerate(zip(head, widths))))
    print("  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(
        zip(("", "median (min..max)", "median (min..max)", "", "median (min..max)",
             "median (min..max)", ""), widths))))
    for e in variants:
        rv = e["ratio_vs_unmetered"]
        cells = [e["name"], B.fmt_spread(e["wall_s"], 2)]
        for key, stat in (("wall", None), ("train", "train_s")):
            if stat:
                cells.append(B.fmt_spread(e[stat], 3))
            if rv is None:
                cells += ["1 (reference)", "1"]
            else:
                x = rv[key]
                cells += [f"{x['median_of_paired']:.3f} ({x['min']:.3f}..{x['max']:.3f})",
                          f"{x['ratio_of_medians']:.3f}"]
        print("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                        for i, (c, w) in enumerate(zip(cells, widths))))
    print("\nwhere the time goes (seconds, median (min..max); added: median of the per-round "
          "differences to unmetered)")
    for e in variants:
        add = e["added_s_median"]
        extra = "" if add is None else (f"  added: wall {add['wall']:+.2f}, loop "
                                        f"{add['train']:+.3f}, outside {add['outside_loop']:+.2f}")
        print(f"  {e['name']:<10} outside the training loop {B.fmt_spread(e['outside_loop_s'], 2)}"
              f"{extra}")
    fl = variants[1]["ratio_vs_unmetered"]["wall"]
    ref = B.spread(wall["unmetered"])
    noise = (ref["max"] - ref["min"]) / ref["median"]
    print(f"\nflopledger wall-time ratio {fl['median_of_paired']:.3f} (paired median; "
          f"target <= {TARGET}); the unmetered runs alone spread by {100 * noise:.1f}% "
          f"(load average {mach['loadavg_1_5_15'][0]:.2f} before, {load_after[0]:.2f} after)")
    print(f"final loss identical in every run: {checks['final_loss_identical']} "
          f"({checks['final_loss']}); AWS meter counted {checks['aws_tokens_processed']} tokens "
          f"(expected {expected_tokens})")
    B.finish(a, result, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
