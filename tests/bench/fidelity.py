#!/usr/bin/env python3
"""Fidelity: the FLOPs flopledger counts, next to an independent reference counter, a closed
form of the job's matrix products, the analytic estimate, AWS's formula and Hugging Face's
6·N·D, on the default PyTorch job and on the C++ example mpi_gemm, with every difference
explained. A benchmark: it asserts nothing (--strict makes a counted != reference exit 3); it
exits 1 with a message only when a job could not run.

    /usr/bin/python3 tests/bench/fidelity.py [--quick] [--out FILE.json] [--strict]

Jobs, each on 2 ranks under `flopledger run --extra-preload <build>/tests/libblas_spy.so`:
  torch     examples/torch_finetune/train.py with its defaults (the default job of
            examples/run-default.sh; full: 20 steps, an evaluation every 10; --quick: 4 steps,
            an evaluation every 2) and --aws-token-meter, so that the AWS meter's own token
            count and figure come from the same run (it adds a token count and an all-reduce
            per micro-step, no BLAS call). The model is declared by train.py itself through
            the C API (flopledger_declare_model: layers, width, heads, vocabulary, parameters),
            which gives the ledger its analytic, AWS and HF columns.
  mpi_gemm  examples/mpi_gemm --print-expected (full: 50 steps; --quick: 5): every Fortran
            and CBLAS GEMM, two GEMVs, a call BLAS rejects and one with alpha = 0. It is not a
            model, so no model is declared: analytic, AWS and HF are not applicable.

The reference counter is the BLAS spy (tests/support/blas_spy.c), a separate preloaded library
in front of the runtime that logs every GEMM/GEMV call with its shape and FLOPs; its logs are
summed here (tests/e2e/e2e_common.py). "counted" is the ledger's (`flopledger report --json`).
The closed forms are computed here from the job's parameters: for torch every matrix product
of the model (docs/methods.md), for mpi_gemm e2e_common.mpi_gemm_expected.

Each row: a figure, its exact integer, what it covers (all phases, or train = toward the
threshold), the figure it is compared with, the exact difference, the relative difference
(figure - reference) / reference, and the explanation of the difference with its terms
computed; "explained" says whether those terms add up exactly to the difference (a residual
is printed otherwise).

JSON (--out), FLOP figures as exact integers (Python ints: may exceed 2^53):
  {"benchmark": "fidelity", "schema": 1,
   "units": {"flops": "FLOP (1 multiply-add = 2)", "relative_difference": "1", "wall_s": "s"},
   "parameters": {"quick", "ranks", "torch": {steps, batch_size, seq_len, d_model, layers,
                  heads, vocab, eval_every, eval_batches, params_total, matrix_weights_M},
                  "mpi_gemm": {"steps"}},
   "machine": {...},
   "jobs": [{"name": "torch" | "mpi_gemm", "command": [argv], "wall_s",
             "counted_equals_reference": bool, "counted_minus_reference": int,
             "counted_by_source": {source: int}, "reference_by_source": {...},
             "counted_by_precision": {...}, "reference_by_precision": {...},
             "rows": [{"method", "flops" (int or null when n/a), "covers" ("all phases" |
                       "train" | null), "compared_with" (another row's method, "itself" | null),
                       "difference" (int or null), "relative_difference" (float or null),
                       "explained" (bool or null), "residual" (int or null),
                       "explanation"}]}]}
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as B  # noqa: E402

PROG = "tests/bench/fidelity.py"
RANKS = 2
# train.py's defaults (checked against what it prints).
BATCH, SEQ, D_MODEL, LAYERS, HEADS, EVAL_BATCHES = 8, 64, 128, 2, 4, 1


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps")
    p.add_argument("--out", metavar="FILE.json", help="write the results as JSON")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a counted total differs from the reference counter")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per job")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p.parse_args()


def rel(value, reference):
    return None if value is None or not reference else (value - reference) / reference


def row(method, flops, covers, compared_with, reference, explanation, terms=None):
    """A table row; `terms` (ints) are the explained parts of flops - reference."""
    diff = None if flops is None or reference is None else flops - reference
    residual = None if diff is None or terms is None else diff - sum(terms)
    return {"method": method, "flops": flops, "covers": covers, "compared_with": compared_with,
            "difference": diff, "relative_difference": rel(flops, reference),
            "explained": None if residual is None else residual == 0, "residual": residual,
            "explanation": explanation}


def metered(art, tmp, name, command, timeout):
    """Runs `command` under flopledger with the spy in front; (run, report, spy totals)."""
    ledger = os.path.join(tmp, f"{name}.h5")
    spy_dir = os.path.join(tmp, f"{name}-spy")
    os.makedirs(spy_dir)
    cmd = [art.cli, "run", "-n", str(RANKS), "--ledger", ledger, "--quiet", "--extra-preload",
           art.spy, "--"] + command
    res = B.run(cmd, B.E.base_env({"BLAS_SPY_DIR": spy_dir}), timeout)
    if not res.ok():
        B.fail(PROG, f"the {name} job failed:\n{res.tail()}")
    rep_run = B.run([art.cli, "report", ledger, "--json"], B.E.base_env(), 120)
    if not rep_run.ok():
        B.fail(PROG, f"flopledger report --json on the {name} ledger failed:\n{rep_run.tail()}")
    try:
        rep = json.loads(rep_run.stdout)
    except ValueError as e:
        B.fail(PROG, f"flopledger report --json printed no JSON ({e}):\n{rep_run.tail()}")
    logs = B.E.parse_spy_logs(spy_dir)
    if len(logs) != RANKS:
        B.fail(PROG, f"the BLAS spy wrote {len(logs)} logs in {spy_dir}, expected one per rank "
                     f"({RANKS}):\n{res.tail()}")
    return res, rep, B.E.spy_totals(logs)


def as_int(rep, *keys):
    v = rep
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return B.E.as_int(v)


def nonzero(m):
    return {k: v for k, v in m.items() if v}


def common_job_fields(name, res, rep, spy):
    counted = as_int(rep, "counted_flops")
    by_source = {s: as_int(rep, "counted_flops_by_source", s) or 0 for s in B.E.SOURCES}
    by_prec = {p: as_int(rep, "counted_flops_by_precision", p) or 0 for p in B.E.PRECISIONS}
    return {"name": name, "command": res.cmd, "wall_s": res.wall_s,
            "counted_equals_reference": counted == spy["total"],
            "counted_minus_reference": None if counted is None else counted - spy["total"],
            "counted_by_source": nonzero(by_source), "reference_by_source": nonzero(spy["kind"]),
            "counted_by_precision": nonzero(by_prec),
            "reference_by_precision": nonzero(spy["prec"])}


def torch_job(art, tmp, quick, timeout):
    steps, eval_every = (4, 2) if quick else (20, 10)
    command = [B.PYTHON, B.TRAIN, "--steps", str(steps), "--eval-every", str(eval_every),
               "--aws-token-meter"]
    res, rep, spy = metered(art, tmp, "torch", command, timeout)
    kv = B.E.key_values(res.stdout)
    for key in ("vocab", "params", "tokens_per_rank", "aws_tokens_processed",
                "aws_flops_architecture"):
        if key not in kv:
            B.fail(PROG, f"train.py printed no {key}=:\n{res.tail()}")
    if kv.get("flopledger_api") != "present":
        B.fail(PROG, f"train.py did not find flopledger's C API:\n{res.tail()}")
    V, N = int(kv["vocab"]), int(kv["params"])
    b, T, d, L, H = BATCH, SEQ, D_MODEL, LAYERS, HEADS
    if int(kv["tokens_per_rank"]) != steps * b * T:
        B.fail(PROG, f"train.py's defaults changed (tokens_per_rank={kv['tokens_per_rank']}, "
                     f"expected {steps} x {b} x {T}): update the constants here")
    R, S = RANKS, steps
    evals = (S // eval_every) * EVAL_BATCHES if eval_every else 0
    tokens = R * S * b * T
    # Matrix weights a token passes through (qkv, output projection, MLP d->4d->d, LM head);
    # the rest of N is embeddings (token V·d, position T·d: lookups), biases and LayerNorms.
    M = 12 * L * d * d + d * V
    emb_tok, emb_pos = V * d, T * d
    biases = L * (3 * d + d + 4 * d + d)
    norms = L * 2 * (2 * d) + 2 * d
    if M + emb_tok + emb_pos + biases + norms != N:
        B.fail(PROG, f"train.py's model changed: N={N} != M + embeddings + biases + norms "
                     f"({M} + {emb_tok} + {emb_pos} + {biases} + {norms}): update the closed "
                     f"forms here")
    attn_full_fwd = 4 * L * d * b * T * T  # QKᵀ and AV over the full T×T square, per rank-pass
    attn_causal_fwd = 4 * L * d * b * (T * (T + 1) // 2)
    train_closed = R * S * (6 * M * b * T + 3 * attn_full_fwd)
    eval_closed = R * evals * (2 * M * b * T + attn_full_fwd)
    masked_half = R * S * 3 * (attn_full_fwd - attn_causal_fwd)

    counted = as_int(rep, "counted_flops")
    counted_train = as_int(rep, "counted_flops_by_phase", "train")
    counted_eval = as_int(rep, "counted_flops_by_phase", "eval")
    analytic = as_int(rep, "methods", "analytic", "flops")
    aws_ledger = as_int(rep, "methods", "analytic", "aws_formula_flops")
    hf_ledger = as_int(rep, "methods", "analytic", "hf_6nd_flops")
    if None in (counted, counted_train, counted_eval, analytic, aws_ledger, hf_ledger):
        B.fail(PROG, "flopledger report --json lacks counted_flops, counted_flops_by_phase or "
                     "methods.analytic (was the model declared?):\n" + json.dumps(rep)[:2000])
    aws_tokens = int(kv["aws_tokens_processed"])
    aws_own = float(kv["aws_flops_architecture"])
    aws_own_int = int(aws_own) if aws_own.is_integer() else None
    hf_trainer = 6 * (N - emb_tok - emb_pos) * tokens
    gemv = spy["kind"].get("blas_gemv", 0)

    non_matmul_params = 6 * (N - M) * tokens
    attention_ignored = -R * S * 3 * attn_full_fwd
    peer_expl = (f"+{non_matmul_params} = 6·(N - M)·tokens: the formula multiplies every "
                 f"parameter, but N - M = {N - M} of them are no matrix product (token embedding "
                 f"{emb_tok} and position embedding {emb_pos}: lookups; biases {biases}: adds; "
                 f"LayerNorm {norms}: elementwise); {attention_ignored} = the attention products "
                 f"QKᵀ and AV (3 passes x 4·L·d·b·T² per rank and step), which a 6·N·D-type "
                 f"formula ignores (it has no s² term)")
    rows = [
        row("BLAS spy (independent reference counter)", spy["total"], "all phases", "itself",
            spy["total"], "every sgemm_/sgemv_/cblas_* call the ranks made, logged by a "
            "separate preloaded library and summed here", []),
        row("flopledger counted (ledger), all phases", counted, "all phases", "BLAS spy",
            spy["total"], "must be 0: the same calls, counted by the runtime's hooks", []),
        row("closed form of the model's matrix products (computed here)",
            train_closed + eval_closed, "all phases", "flopledger counted", counted,
            f"train {R}·{S}·(6·M·b·T + 12·L·d·b·T²) + eval {R}·{evals}·(2·M·b·T + "
            f"4·L·d·b·T²), M = 12·L·d² + d·V = {M}. 0 means every product reached BLAS: "
            f"attention's bmm has m·n·k = T²·(d/H) = {T * T * (d // H)} >= 400, so torch 1.13 "
            f"does not run it in its own loop; matrix-vector calls (sgemv_) seen: {gemv} FLOP",
            []),
        row("flopledger counted, train phase (toward the threshold)", counted_train, "train",
            "flopledger counted, all phases", counted,
            f"-{eval_closed} = the {evals} evaluation passes per rank, {R}·{evals}·(2·M·b·T + "
            f"4·L·d·b·T²) (forward only; phase eval, marked by train.py through "
            f"flopledger_set_phase), which the rule set excludes (ledger's eval: "
            f"{counted_eval})", [-eval_closed]),
        row("flopledger analytic (declared model x tokens)", analytic, "train",
            "flopledger counted, train", counted_train,
            f"-{masked_half} = the masked half of attention: torch multiplies the full T×T "
            f"score matrix and masks it afterwards (counted: 12·L·d·b·T² per rank and step); "
            f"the analytic method counts the causal T(T+1)/2 pairs only (12·L·d·b·T(T+1)/2). "
            f"Both leave out LayerNorm, softmax, GELU, loss and optimizer (not matrix "
            f"products)", [-masked_half]),
        row("AWS formula (4·N_total + 2·N_trainable)·tokens (ledger column)", aws_ledger,
            "train", "flopledger counted, train", counted_train,
            f"full fine-tune, N_total = N_trainable = N = {N}, tokens = {tokens} (every rank's "
            f"non-padding tokens): {peer_expl}", [non_matmul_params, attention_ignored]),
        row("AWS FLOPs Meter's own figure (its per-micro-step method, same run, float64)",
            aws_own_int, "train", "flopledger counted, train", counted_train,
            f"tokens_processed = {aws_tokens} (non-pad tokens counted per micro-step on the "
            f"CPU and all-reduced; the ledger's tokens: {tokens}); "
            f"(4.0·N + 2.0·N)·tokens = {aws_own!r} in doubles (exact here, < 2^53); the same "
            f"differences as the formula's row", [non_matmul_params, attention_ignored]),
        row("HF 6·N·D (ledger column, N = params_total)", hf_ledger, "train",
            "flopledger counted, train", counted_train, f"= AWS for a full fine-tune; "
            f"{peer_expl}", [non_matmul_params, attention_ignored]),
        row("HF Trainer's floating_point_ops convention 6·N_no_embeddings·tokens (computed here)",
            hf_trainer, "train", "flopledger counted, train", counted_train,
            f"Trainer passes num_parameters(exclude_embeddings=True): N - {emb_tok} - "
            f"{emb_pos} = {N - emb_tok - emb_pos}; left: +{6 * (biases + norms) * tokens} for "
            f"biases and LayerNorm weights (no products); {attention_ignored} attention",
            [6 * (biases + norms) * tokens, attention_ignored]),
    ]
    job = common_job_fields("torch", res, rep, spy)
    job["rows"] = rows
    job["aws_tokens_processed"] = aws_tokens
    job["ledger_tokens"] = as_int(rep, "tokens")
    params = {"steps": S, "batch_size": b, "seq_len": T, "d_model": d, "layers": L, "heads": H,
              "vocab": V, "eval_every": eval_every, "eval_batches": EVAL_BATCHES,
              "params_total": N, "matrix_weights_M": M, "tokens": tokens}
    return job, params


def mpi_gemm_job(art, tmp, quick, timeout):
    steps = 5 if quick else 50
    command = [art.mpi_gemm, "--steps", str(steps), "--print-expected"]
    res, rep, spy = metered(art, tmp, "mpi_gemm", command, timeout)
    kv = B.E.key_values(res.stdout)
    if "expected_total_flops" not in kv:
        B.fail(PROG, f"mpi_gemm printed no expected_total_flops=:\n{res.tail()}")
    exp = B.E.mpi_gemm_expected(RANKS, steps)
    counted = as_int(rep, "counted_flops")
    na = ("n/a: mpi_gemm is a set of BLAS calls of given shapes, not a model; there are no "
          "parameters or tokens to declare, so flopledger has no analytic figure (its report "
          "says 'analytic not available (no model declared)') and the AWS and HF formulas have "
          "no N")
    has_analytic = isinstance(rep.get("methods"), dict) and "analytic" in rep["methods"]
    rows = [
        row("BLAS spy (independent reference counter)", spy["total"], "all phases", "itself",
            spy["total"], f"{spy['lines']} logged calls; {spy['invalid']} rejected by BLAS "
            f"(lda < m) and {spy['alpha0']} with alpha = 0, both 0 FLOP", []),
        row("flopledger counted (ledger)", counted, "all phases", "BLAS spy", spy["total"],
            "must be 0: the same calls, counted by the runtime's hooks (complex: 8 FLOP per "
            "complex multiply-add; the rejected and alpha = 0 calls: 0)", []),
        row("closed form (e2e_common.mpi_gemm_expected, computed here)", exp["total"],
            "all phases", "flopledger counted", counted,
            "sum over ranks r, steps s and calls j of 2·m·n·k (complex 8·m·n·k; GEMV 2·m·n) with "
            "m = 16+3r+s+j, n = 12+2r+2s+j, k = 8+r+3s+2j", []),
        row("mpi_gemm's own expected_total_flops", int(kv["expected_total_flops"]),
            "all phases", "flopledger counted", counted, "the program's own sum of the same "
            "formula", []),
        row("analytic", None, None, None, None, na + ("" if not has_analytic else
                                                   " (NOTE: the report has one anyway)")),
        row("AWS formula (4·N_total + 2·N_trainable)·tokens", None, None, None, None, na),
        row("HF 6·N·D", None, None, None, None, na),
    ]
    job = common_job_fields("mpi_gemm", res, rep, spy)
    job["rows"] = rows
    return job, {"steps": steps}


def print_job(job):
    print(f"\n## {job['name']}: counted vs reference: "
          + ("EQUAL" if job["counted_equals_reference"] else
             f"NOT EQUAL, counted - spy = {job['counted_minus_reference']}")
          + f" (by source: counted {job['counted_by_source']}, spy {job['reference_by_source']};"
            f" by precision: counted {job['counted_by_precision']}, "
            f"spy {job['reference_by_precision']})")
    print(f"{'method':<84} {'FLOP':>14} {'covers':<10} {'vs':<30} {'difference':>13} "
          f"{'rel. diff':>10}")
    for r in job["rows"]:
        flops = "n/a" if r["flops"] is None else str(r["flops"])
        diff = "" if r["difference"] is None else f"{r['difference']:+d}"
        reld = "" if r["relative_difference"] is None else f"{100 * r['relative_difference']:+.4f}%"
        if r["compared_with"] == "itself":
            diff, reld = "", ""
        print(f"{r['method']:<84} {flops:>14} {r['covers'] or '-':<10} "
              f"{r['compared_with'] or '-':<30} "
              f"{diff:>13} {reld:>10}")
        note = r["explanation"]
        if r["explained"] is False:
            note += f" [UNEXPLAINED residual {r['residual']:+d}]"
        print(f"    {note}")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    a = parse_args()
    art, mach = B.torch_job_start(PROG, need=("cli", "runtime", "mpi_gemm", "spy"))
    tmp = tempfile.mkdtemp(prefix="flopledger-fidelity-")
    print(f"fidelity: counted vs the BLAS spy, closed forms and the peers' formulas, "
          f"{RANKS} ranks{' (quick)' if a.quick else ''}")
    B.print_machine(mach)
    torch, torch_params = torch_job(art, tmp, a.quick, a.timeout)
    gemm, gemm_params = mpi_gemm_job(art, tmp, a.quick, a.timeout)
    result = {
        "benchmark": "fidelity", "schema": 1,
        "units": {"flops": "FLOP (1 multiply-add = 2)", "relative_difference": "1",
                  "wall_s": "s"},
        "parameters": {"quick": a.quick, "ranks": RANKS, "torch": torch_params,
                       "mpi_gemm": gemm_params},
        "machine": mach, "jobs": [torch, gemm],
    }
    for job in result["jobs"]:
        print_job(job)
    unexplained = [r["method"] for j in result["jobs"] for r in j["rows"]
                   if r["explained"] is False]
    print("\nevery difference explained exactly: "
          + ("yes" if not unexplained else "NO: " + "; ".join(unexplained)))
    B.finish(a, result, tmp)
    if a.strict and not all(j["counted_equals_reference"] for j in result["jobs"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
