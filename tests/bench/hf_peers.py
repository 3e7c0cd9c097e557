#!/usr/bin/env python3
"""Peers side by side on one Hugging Face Trainer job (examples/hf_lora/train.py: LoRA on a tiny
random Llama, 2 ranks, DDP on gloo, CPU). A benchmark, not a test: it prints figures, asserts
nothing, and is not run by ctest. docs/peers.md explains every number.

    /usr/bin/python3 tests/bench/hf_peers.py --build-dir build [--rounds 5] [--examples 96]

Modes, run interleaved round after round (so that machine noise hits every mode alike):
  plain      mpirun -np 2 train.py                              (unmetered reference)
  aten       mpirun -np 2 train.py --flop-counter               (FlopCounterMode / its 1.13 port)
  preload    flopledger run -n 2 -- train.py                    (no code change)
  callback   flopledger run -n 2 -- train.py --callback         (FlopledgerCallback)
For each: Trainer's own train_runtime (the training loop, rank 0) and the whole command's wall
time, as medians, and their ratio to plain's. FLOP figures: flopledger's counted (every phase;
train; eval), analytic, AWS formula and HF 6·N·D (from the callback run's ledger), HF Trainer's
total_flos, and the aten-level count (sum over ranks) with the batched products torch 1.13 ran
without BLAS.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e_common as E  # noqa: E402


def kv(text):
    return E.key_values(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--examples", type=int, default=48, help="training sequences (train.py)")
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    args = p.parse_args()
    src = os.path.abspath(os.path.join(HERE, "..", ".."))
    build = os.path.abspath(args.build_dir)
    cli = os.path.join(build, "flopledger")
    python = subprocess.run(["bash", os.path.join(src, ".ci", "python-venv.sh")],
                            capture_output=True, text=True, check=True).stdout.split()[-1]
    tmp = tempfile.mkdtemp(prefix="flopledger-hf-peers-")
    site = os.path.join(tmp, "site")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", site, os.path.join(src, "python")], check=True)
    env = E.base_env({"PYTHONPATH": site, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    train = [python, os.path.join(src, "examples", "hf_lora", "train.py"), "--examples",
             str(args.examples), "--seq-len", str(args.seq_len), "--hidden", str(args.hidden)]
    mpirun = ["mpirun", "--oversubscribe", "-np", "2"]

    def metered(name, extra):
        ledger = os.path.join(tmp, f"{name}.h5")
        if os.path.exists(ledger):
            os.unlink(ledger)
        return [cli, "run", "-n", "2", "--ledger", ledger, "--quiet", "--"] + train + extra, \
            ledger

    modes = {
        "plain": lambda: (mpirun + train, None),
        "aten": lambda: (mpirun + train + ["--flop-counter"], None),
        "preload": lambda: metered("preload", []),
        "callback": lambda: metered("callback", ["--callback"]),
    }
    runtime = {m: [] for m in modes}
    wall = {m: [] for m in modes}
    last = {}
    for r in range(args.rounds):
        for m, make in modes.items():
            cmd, ledger = make()
            t0 = time.monotonic()
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            dt = time.monotonic() - t0
            if res.returncode != 0:
                sys.exit(f"{m}: exit {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
            values = kv(res.stdout)
            runtime[m].append(float(values["train_runtime"]))
            wall[m].append(dt)
            last[m] = (values, ledger)
            print(f"round {r + 1} {m:9s} train_runtime {values['train_runtime']:>8s} s, "
                  f"wall {dt:6.2f} s", file=sys.stderr, flush=True)

    print(f"## Run-time cost ({args.rounds} interleaved rounds, medians)\n")
    print("| mode | Trainer train_runtime (s) | ratio | whole command (s) | ratio |")
    print("|---|---|---|---|---|")
    base_rt, base_wall = statistics.median(runtime["plain"]), statistics.median(wall["plain"])
    for m in modes:
        rt, w = statistics.median(runtime[m]), statistics.median(wall[m])
        print(f"| {m} | {rt:.3f} | {rt / base_rt:.3f} | {w:.2f} | {w / base_wall:.3f} |")

    values, ledger = last["callback"]
    rep = json.loads(subprocess.run([cli, "report", ledger, "--json"], capture_output=True,
                                    text=True, check=True).stdout)
    a = rep["methods"]["analytic"]
    aten_vals = last["aten"][0]
    aten_total = sum(int(aten_vals[f"aten_flops_rank{r}"]) for r in range(2))
    aten_small = sum(int(aten_vals[f"aten_small_bmm_rank{r}"]) for r in range(2))
    aten_mv = sum(int(aten_vals[f"aten_mv_rank{r}"]) for r in range(2))
    n_total, n_train = int(values["params_total"]), int(values["params_trainable"])
    tokens = int(rep["tokens"])
    pre = json.loads(subprocess.run([cli, "report", last["preload"][1], "--json"],
                                    capture_output=True, text=True, check=True).stdout)
    print("\n## FLOPs of the job (both ranks)\n")
    print("| figure | FLOP | note |")
    print("|---|---|---|")
    rows = [
        ("flopledger counted, every phase (callback run)", rep["counted_flops"],
         "hooked sgemm_/sgemv_ calls + the callback's add_flops"),
        ("  of which source api (callback run)", rep["counted_flops_by_source"]["api"],
         "rotary products torch 1.13 ran without BLAS, added by the callback"),
        ("flopledger counted, no code change (preload run)", pre["counted_flops"],
         "same hooks, no phases: all of it is train"),
        ("flopledger counted, train (toward the threshold)",
         rep["counted_flops_by_phase"]["train"], "evaluation excluded"),
        ("flopledger counted, eval", rep["counted_flops_by_phase"]["eval"], ""),
        ("aten-level count (" + aten_vals["aten_impl"] + "), every phase", aten_total,
         "mm/addmm/bmm/baddbmm"),
        ("  of which batched products torch 1.13 ran without BLAS", aten_small, "m·n·k < 400"),
        ("  matrix-vector products (not in FlopCounterMode)", aten_mv, ""),
        ("flopledger analytic (declared model x non-padding tokens)", a["flops"], "train only"),
        ("AWS meter formula (4·N_total + 2·N_trainable)·tokens", a["aws_formula_flops"],
         f"N_total={n_total}, N_trainable={n_train}, tokens={tokens}"),
        ("  recomputed here", (4 * n_total + 2 * n_train) * tokens, ""),
        ("HF 6·N·D (ledger, N = params_total, D = non-padding tokens)", a["hf_6nd_flops"], ""),
        ("HF Trainer state.total_flos", values["total_flos"],
         "6·N(no embeddings)·input positions incl. padding, float"),
    ]
    for name, v, note in rows:
        print(f"| {name} | {int(v)} | {note} |")
    print(f"\naten - counted (callback) = {aten_total - int(rep['counted_flops'])}; "
          f"aten - counted (no code change) = {aten_total - int(pre['counted_flops'])}; "
          f"small bmm = {aten_small}; ledger {ledger}", file=sys.stderr)


if __name__ == "__main__":
    main()
