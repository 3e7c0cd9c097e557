#!/usr/bin/env python3
"""End-to-end: phases and the methods side by side, with exact numbers.

Phases (examples/mpi_gemm on 2 ranks, --eval-every 3, 6 steps): the FLOPs of steps 3 and 6 are
attributed to "eval" (flopledger_set_phase), the others to "train"; the ledger's per-phase
totals equal the program's own figures, and the compute toward the threshold (the rule set
counts train, not eval) is exactly the train figure.

Methods (examples/torch_finetune/train.py on 2 ranks, model declared through
flopledger_declare_model, no evaluation passes): with M = 12 L d^2 + d V matrix weights,
b sequences of T tokens per rank and step,
  counted  = ranks * steps * (6 M b T + 12 L d b T^2)        (torch computes the full T x T
                                                              attention products, masked after)
  analytic = ranks * steps * (6 M b T + 12 L d b T (T+1)/2)  (causal: each token attends to the
                                                              tokens before it and itself)
  AWS      = (4 N + 2 N) * tokens and HF 6ND = 6 N * tokens  (N = every parameter, trainable)
docs/methods.md explains each term. The verdict uses the highest (counted).

Tokens once per replica and packed sequences (a Python program using the C API through ctypes,
2 ranks, rank 1 a "tensor-parallel peer" that calls flopledger_report_tokens(0)): the analytic
basis is rank 0's train-phase tokens, and the attention term uses the reported lengths.

Hardware (a numpy loop with FLOPLEDGER_HARDWARE_PEAK_FLOPS=1e12, UTILIZATION=0.5): every row
carries devices x seconds x peak x utilisation, consistent with the rows' wall time, and the
verdict (highest figure) uses it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

RANKS = 2


def phases(c, paths, args):
    steps, every = 6, 3
    exp = E.mpi_gemm_expected(RANKS, steps)
    eval_steps = [s for s in range(steps) if (s + 1) % every == 0]
    eval_flops = sum(exp["step_flops"][r][s] for r in range(RANKS) for s in eval_steps)
    train_flops = exp["total"] - eval_flops
    ledger = c.path("phases", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger,
                           [paths.mpi_gemm, "--steps", str(steps), "--eval-every", str(every),
                            "--print-expected"],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    c.ran_ok(res, "phases: flopledger run mpi_gemm --eval-every 3")
    kv = E.key_values(res.stdout)
    c.equal(E.as_int(kv.get("expected_eval_flops")), eval_flops, "phases: program's eval figure")
    c.equal(E.as_int(kv.get("expected_train_flops")), train_flops,
            "phases: program's train figure")
    rep = E.report_json(c, paths, ledger, "phases report")
    E.check_report_totals(c, rep, "phases", exp["total"],
                          phase={"train": train_flops, "eval": eval_flops, "recompute": 0,
                                 "synthetic_data": 0, "other": 0})
    E.check_downstream_default(c, rep, "phases", train_flops)
    trace = E.read_trace(ledger)
    last = trace["steps"][-1]
    c.equal(E.decimal_field(last, "cumulative_modification"), train_flops,
            "phases: the ledger's compute toward the threshold is the train phase only")
    c.equal(E.decimal_field(last, "cumulative_counted"), exp["total"],
            "phases: the ledger's counted total has every phase")


def methods(c, paths, args):
    if not E.torch_available():
        c.check(False, f"PyTorch importable by {E.PYTHON}")
        return
    steps, b, T, d, L, heads = 3, 4, 32, 64, 2, 4
    ledger = c.path("methods", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger,
                           [E.PYTHON, paths.train, "--steps", str(steps), "--batch-size", str(b),
                            "--seq-len", str(T), "--d-model", str(d), "--layers", str(L),
                            "--heads", str(heads), "--eval-every", "0"],
                           every_steps=1, every_seconds=3600, timeout=300, verbose=args.verbose)
    c.ran_ok(res, "methods: flopledger run train.py")
    kv = E.key_values(res.stdout)
    V, N = E.as_int(kv.get("vocab")), E.as_int(kv.get("params"))
    if not c.check(V and N, "methods: train.py prints vocab and params", res.tail()):
        return
    M = 12 * L * d * d + d * V
    tokens = RANKS * steps * b * T
    counted = RANKS * steps * (6 * M * b * T + 12 * L * d * b * T * T)
    analytic = RANKS * steps * (6 * M * b * T + 12 * L * d * b * T * (T + 1) // 2)
    trace = E.read_trace(ledger)
    last = trace["steps"][-1]
    c.equal(E.decimal_field(last, "cumulative_modification"), counted,
            "methods: counted == 6 M tokens + full attention products")
    c.equal(E.decimal_field(last, "cumulative_analytic"), analytic,
            "methods: analytic == 6 M tokens + causal attention")
    c.equal(E.decimal_field(last, "cumulative_aws"), 6 * N * tokens,
            "methods: AWS formula (4 N_total + 2 N_trainable) x tokens")
    c.equal(E.decimal_field(last, "cumulative_hf"), 6 * N * tokens, "methods: HF 6 N tokens")
    c.equal(sum(E.combine_u128(r, "replica_tokens") for r in trace["steps"]), tokens,
            "methods: replica tokens == ranks x steps x b x T")
    c.equal(counted - analytic, RANKS * steps * 6 * L * d * b * T * (T - 1),
            "methods: (self-check) the difference is the masked half of the attention products")
    c.equal(last.get("verdict_method"), 0, "methods: the verdict uses the highest figure, counted")
    c.equal(E.decimal_field(last, "verdict_flops"), counted, "methods: verdict figure")
    c.check(all(r.get("analytic_available") == 1 for r in trace["steps"]),
            "methods: every row has the analytic figure")
    c.check(all(r.get("hardware_available") == 0 for r in trace["steps"]),
            "methods: no hardware figure on a CPU run")
    env = {e["key"]: e["value"] for e in E.read_environment(ledger)}  # later entries win
    for key in ("command_line", "hosts", "ranks", "mpi_library", "hdf5_library", "blas_library",
                "git_commit", "config", "model"):
        c.check(env.get(key), f"methods: environment record has {key}", repr(env.get(key)))
    c.check("train.py" in env.get("command_line", ""), "methods: the command line is recorded")
    c.equal(env.get("ranks"), str(RANKS), "methods: rank count recorded")
    c.check("Open MPI" in env.get("mpi_library", ""), "methods: MPI library version recorded",
            env.get("mpi_library"))
    c.check("openblas" in env.get("blas_library", "").lower(), "methods: BLAS library recorded",
            env.get("blas_library"))


REPLICA_WORKLOAD = r"""
import ctypes, json, os
lib = ctypes.CDLL(None)
lib.flopledger_add_sequences.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
lib.flopledger_step_end.argtypes = [ctypes.c_uint64]
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
model = {"name": "tiny", "params_total": 200000, "params_trainable": 200000, "layers": 2,
         "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 64}
assert lib.flopledger_declare_model(json.dumps(model).encode()) == 0
if rank != 0:
    assert lib.flopledger_report_tokens(0) == 0   # a tensor-parallel peer of rank 0
lengths = (ctypes.c_uint64 * 3)(10, 20, 34)       # one packed row of 64 tokens
for step in range(3):
    assert lib.flopledger_add_sequences(lengths, 3) == 0
    assert lib.flopledger_step_end(64) == 0
assert lib.flopledger_set_phase(2) == 0            # an evaluation step: no analytic tokens
assert lib.flopledger_step_end(64) == 0
print("done", flush=True)
"""


def replica_tokens_and_sequences(c, paths, args):
    """Tokens once per replica and the packed-sequence attention term, through the C API."""
    ledger = c.path("replica", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger, [E.PYTHON, "-c", REPLICA_WORKLOAD],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    c.ran_ok(res, "replica: a program using the C API for the analytic basis")
    L, d, V, f = 2, 64, 100, 256
    M = L * (d * d + 2 * d * d + d * d + 2 * d * f) + d * V
    tokens = 3 * 64                      # rank 0's train steps only
    sum_sq = 3 * (10 * 10 + 20 * 20 + 34 * 34)
    pairs = (sum_sq + tokens) // 2       # causal
    analytic = 6 * M * tokens + 3 * (4 * L * d * pairs)
    trace = E.read_trace(ledger)
    c.equal(sum(E.combine_u128(r, "replica_tokens") for r in trace["steps"]), tokens,
            "replica: tokens counted once per replica, train phase only")
    c.equal(sum(E.combine_u128(r, "attention_sq") for r in trace["steps"]), sum_sq,
            "replica: sum of squared sequence lengths from flopledger_add_sequences")
    c.equal(E.decimal_field(trace["steps"][-1], "cumulative_analytic"), analytic,
            "replica: analytic figure with the packed-sequence attention term")
    c.equal(E.decimal_field(trace["steps"][-1], "cumulative_aws"), 6 * 200000 * tokens,
            "replica: AWS formula on the replica tokens")


HARDWARE_WORKLOAD = r"""
import time
import numpy as np
a = np.ones((64, 64)); end = time.time() + 1.5
while time.time() < end:
    a @ a
    time.sleep(0.002)
"""


def hardware(c, paths, args):
    """The hardware method from a configured peak: devices (one per rank) x seconds x peak x
    utilisation per period; the highest figure here, so the verdict uses it."""
    ledger = c.path("hardware", "ledger.h5")
    peak, util = 10**12, 0.5
    env = E.base_env({"FLOPLEDGER_HARDWARE_PEAK_FLOPS": "1e12",
                      "FLOPLEDGER_HARDWARE_UTILIZATION": "0.5"})
    res = E.flopledger_run(paths, RANKS, ledger, [E.PYTHON, "-c", HARDWARE_WORKLOAD],
                           every_seconds=0.25, env=env, verbose=args.verbose)
    c.ran_ok(res, "hardware: flopledger run with a configured device peak")
    trace = E.read_trace(ledger)
    rows = trace["steps"]
    c.check(rows and all(r.get("hardware_available") == 1 for r in rows),
            "hardware: every row carries the hardware figure")
    total = sum(E.combine_u128(r, "hardware_flops") for r in rows)
    c.equal(E.decimal_field(rows[-1], "cumulative_hardware"), total,
            "hardware: the running total is the sum of the periods")
    wall = sum(r["t_end"] - r["t_start"] for r in rows)
    bound = RANKS * wall * peak * util
    c.check(0.8 * bound <= total <= bound * 1.0001,
            f"hardware: ranks x seconds x peak x utilisation ({total} vs {bound:.4g} from the "
            "rows' wall time)")
    c.equal(rows[-1].get("verdict_method"), 2, "hardware: the highest figure decides")
    c.equal(E.decimal_field(rows[-1], "verdict_flops"), total, "hardware: verdict figure")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_methods_phases", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    phases(c, paths, args)
    methods(c, paths, args)
    replica_tokens_and_sequences(c, paths, args)
    hardware(c, paths, args)
    c.finish()


if __name__ == "__main__":
    main()
