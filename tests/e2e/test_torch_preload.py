#!/usr/bin/env python3
"""End-to-end: the default PyTorch workload (examples/torch_finetune/train.py, data-parallel with
torch.distributed/gloo; it never calls MPI) under `flopledger run -n 2`, with the BLAS spy
preloaded in front of the runtime (`--extra-preload`).

Checks, exactly:
  - metering changes nothing: exit status 0 with and without the runtime, and the final loss
    printed is bit-identical (repr of the float);
  - the runtime's C API is found through ctypes.CDLL(None) in the preloaded process;
  - counted_flops == the FLOPs the spy attributed over both ranks' logs, split by precision
    (all fp32) and by source (blas_gemm, blas_gemv, cblas_gemm as the spy saw them);
  - phases: the evaluation passes (flopledger_set_phase(eval) around them) are counted under
    "eval" and equal the model's analytic forward FLOPs; "train" is the rest, and
    modification_flops (what counts toward the threshold) excludes eval;
  - tokens == 2 ranks * steps * batch * seq; steps; ranks; clean segment;
  - trace rows: every rank does the same work, so rank_flops_min == rank_flops_max in each row,
    and rank_tokens_min == rank_tokens_max == batch * seq in each step row.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS, BATCH, SEQ, D_MODEL, LAYERS, HEADS, EVAL_EVERY = 4, 8, 64, 128, 2, 4, 2
RANKS = 2


def forward_flops(batch, seq, d, layers, heads, vocab):
    """FLOPs of one forward pass of train.py's TinyGPT (every matrix product, 2 per mul-add)."""
    hd = d // heads
    per_layer = (2 * batch * seq * d * 3 * d  # qkv projection
                 + 2 * (batch * heads) * seq * seq * hd * 2  # scores and weighted sum (bmm)
                 + 2 * batch * seq * d * d  # output projection
                 + 2 * batch * seq * d * 4 * d * 2)  # MLP up and down
    return layers * per_layer + 2 * batch * seq * d * vocab  # + LM head


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_torch_preload", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.spy, "libblas_spy.so in the build directory")
    c.require(os.path.exists(paths.train), f"{paths.train}")
    c.require(E.torch_available(), f"PyTorch importable by {E.PYTHON}")

    workload = [E.PYTHON, paths.train, "--steps", str(STEPS), "--batch-size", str(BATCH),
                "--seq-len", str(SEQ), "--d-model", str(D_MODEL), "--layers", str(LAYERS),
                "--heads", str(HEADS), "--eval-every", str(EVAL_EVERY)]

    # 1. Without the runtime.
    plain = E.run(["mpirun", "--oversubscribe", "-np", str(RANKS)] + workload, timeout=300,
                  verbose=args.verbose)
    c.ran_ok(plain, "plain mpirun train.py")
    plain_kv = E.key_values(plain.stdout)
    c.check("final_loss" in plain_kv, "plain run prints final_loss", plain.tail())
    c.equal(plain_kv.get("flopledger_api"), "absent", "without the runtime the C API is absent")

    # 2. Under flopledger, spy in front.
    spy_dir = c.subdir("spy-logs")
    ledger = c.path("run", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger, workload, every_steps=1, every_seconds=3600,
                           extra_preload=paths.spy, env=E.base_env({"BLAS_SPY_DIR": spy_dir}),
                           timeout=300, verbose=args.verbose)
    c.ran_ok(res, "flopledger run train.py")
    kv = E.key_values(res.stdout)
    c.equal(kv.get("flopledger_api"), "present", "the runtime's C API is found through ctypes")
    c.equal(kv.get("final_loss"), plain_kv.get("final_loss"),
            "final loss bit-identical with and without the runtime")
    c.equal(E.as_int(kv.get("tokens_per_rank")), STEPS * BATCH * SEQ, "tokens_per_rank printed")
    vocab = E.as_int(kv.get("vocab"))
    c.check(vocab is not None and vocab > 1, f"train.py prints its vocabulary size ({vocab})")

    logs = E.parse_spy_logs(spy_dir)
    c.equal(len(logs), RANKS, "one spy log per rank")
    t = E.spy_totals(logs)
    c.check(t["total"] > 0, f"the spy attributed FLOPs ({t['total']})")
    c.equal(t["invalid"], 0, "torch makes no invalid BLAS calls")
    per_rank = sorted(sum(r["flops"] for r in recs if not r["nested"]) for recs in logs.values())
    c.check(len(per_rank) == RANKS and per_rank[0] == per_rank[-1],
            f"both ranks did the same BLAS work per the spy ({per_rank})")

    eval_passes = STEPS // EVAL_EVERY
    eval_flops = None
    if vocab:
        eval_flops = RANKS * eval_passes * forward_flops(BATCH, SEQ, D_MODEL, LAYERS, HEADS, vocab)

    rep = E.report_json(c, paths, ledger)
    phase = None
    if eval_flops is not None:
        phase = {"train": t["total"] - eval_flops, "eval": eval_flops}
    E.check_report_totals(c, rep, "torch", t["total"], prec=t["prec"], source=t["kind"],
                          phase=phase, tokens=RANKS * STEPS * BATCH * SEQ, steps=STEPS,
                          ranks=RANKS)
    c.equal(t["prec"]["fp32"], t["total"], "(spy) every FLOP of the workload is fp32")
    if eval_flops is not None:
        E.check_downstream_default(c, rep, "torch", t["total"] - eval_flops)
    E.check_segments(c, rep, "torch", RANKS, states=("clean",), exit_status=0)

    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001
        c.check(False, "h5py reads the trace", repr(e))
        trace = None
    if trace is not None:
        rows = trace["steps"]
        sums = [E.row_total(r) for r in rows]
        c.equal(sum(s or 0 for s in sums), t["total"], "sum of the rows' FLOPs == spy total")
        bad = []
        for i, row in enumerate(rows):
            lo, hi = E.combine_u128(row, "rank_flops_min"), E.combine_u128(row, "rank_flops_max")
            if lo != hi or lo * RANKS != (sums[i] or 0):
                bad.append(f"row {i}: min {lo} max {hi} total {sums[i]}")
        c.check(not bad, "every row: rank_flops_min == rank_flops_max == total / ranks",
                "\n".join(bad[:8]))
        covered = E.covered_steps(rows)
        bad = []
        for i, (row, cov) in enumerate(zip(rows, covered)):
            want = BATCH * SEQ * len(cov)
            got = (E.combine_u128(row, "rank_tokens_min"), E.combine_u128(row, "rank_tokens_max"),
                   E.combine_u128(row, "tokens"))
            if cov and got != (want, want, want * RANKS):
                bad.append(f"row {i} covers {cov}: (min, max, tokens) = {got}")
        c.check(not bad, "step rows: per-rank tokens == batch*seq per step", "\n".join(bad[:8]))
        c.equal([s for cov in covered for s in cov], list(range(1, STEPS + 1)),
                f"rows cover steps 1..{STEPS}")
    c.finish()


if __name__ == "__main__":
    main()
