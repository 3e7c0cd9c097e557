"""Shared parts of the Hugging Face end-to-end tests (test_hf_*.py).

The virtual environment with transformers, peft, accelerate and pandas comes from
.ci/python-venv.sh (created once, cached); the flopledger package is pip-installed from the
checkout's python/ into the test's own directory and put on PYTHONPATH, so the code under test
is always the checkout's. The workload is examples/hf_lora/train.py.
"""

import os
import subprocess

import e2e_common as E

# examples/hf_lora/train.py's defaults, which the tests use.
EXAMPLES, BATCH, SEQ, HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, VOCAB = 48, 4, 32, 64, 2, 4, 2, 128, 256
EVAL_EXAMPLES, EVAL_EVERY = 8, 3
LORA_RANK, LORA_TARGETS = 4, ("q", "v")
RANKS = 2
STEPS = EXAMPLES // (BATCH * RANKS)  # one epoch
EVALS = STEPS // EVAL_EVERY
EVAL_FORWARDS = -(-EVAL_EXAMPLES // (BATCH * RANKS))  # per rank and evaluation


def rotary_flops_per_forward():
    """FLOPs of the rotary embedding's product in one forward of the tiny Llama (transformers
    4.40: each layer's LlamaRotaryEmbedding computes inv_freq_expanded @ position_ids_expanded,
    (b × head_dim/2 × 1) @ (b × 1 × T); train.py passes no position_ids, so LlamaModel makes them
    (1, T): b = 1), by FlopCounterMode's bmm rule 2·b·m·n·k. 0 when torch 1.13 would run it on
    BLAS (m·n·k >= 400), where the hooks count it. Computed here from the configuration."""
    m, n, k, b = HIDDEN // HEADS // 2, SEQ, 1, 1
    return 0 if m * n * k >= 400 else LAYERS * 2 * b * m * n * k


def venv_python(c):
    """The venv's interpreter (building the venv if needed); finishes the test on failure."""
    script = os.path.join(c.args.source_dir, ".ci", "python-venv.sh")
    res = E.run(["bash", script], env=E.base_env(), timeout=900)
    lines = res.stdout.strip().splitlines()
    ok = res.rc == 0 and lines and os.path.exists(lines[-1])
    c.require(ok and lines[-1], f".ci/python-venv.sh gives an interpreter\n{res.tail()}")
    return lines[-1]


def install_package(c, python):
    """pip-installs python/ (no dependencies, no build isolation: offline) into a directory of
    the test; returns it (for PYTHONPATH)."""
    target = c.subdir("site")
    res = E.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-deps", "--no-build-isolation", "--no-index", "--target", target,
                 os.path.join(c.args.source_dir, "python")], env=E.base_env(), timeout=300)
    c.check(res.rc == 0, "`pip install python/` works (pure Python, no compiled extension)",
            res.tail())
    c.check(os.path.exists(os.path.join(target, "flopledger", "hf.py")),
            "the installed package has flopledger/hf.py")
    so = [f for dp, _, fs in os.walk(os.path.join(target, "flopledger")) for f in fs
          if f.endswith((".so", ".pyd"))]
    c.equal(so, [], "the package holds no compiled extension")
    return target


def hf_env(extra=None):
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HOME": None}
    env.update(extra or {})
    return E.base_env(env)


def workload(python, paths, *options):
    return [python, os.path.join(paths.source, "examples", "hf_lora", "train.py")] + list(options)


def spy_split(logs):
    """Per process: (train FLOPs, eval FLOPs) of the spy's records, split at the workload's
    `marker event=eval_begin|eval_end` lines; nested calls excluded as in spy_totals."""
    out = {}
    for pid, records in logs.items():
        inside, train, ev, markers = False, 0, 0, 0
        for r in records:
            if r["function"] == "marker":
                inside = r.get("event") == "eval_begin"
                markers += 1
                continue
            if r["nested"]:
                continue
            if inside:
                ev += r["flops"]
            else:
                train += r["flops"]
        out[pid] = (train, ev, markers)
    return out


def spy_records(logs):
    """The logs without the marker lines (for e2e_common.spy_totals)."""
    return {pid: [r for r in recs if r["function"] != "marker"] for pid, recs in logs.items()}


def matmul_weights():
    """(M, Mt) of docs/methods.md for the tiny LoRA Llama: weights a token passes through, and
    the trainable ones (the adapters). Computed here from the architecture, not by flopledger."""
    d, h = HIDDEN, HIDDEN // HEADS
    adapters = 0
    for t in LORA_TARGETS:
        out_width = {"q": HEADS * h, "k": KV_HEADS * h, "v": KV_HEADS * h, "o": d}[t]
        adapters += LORA_RANK * (d + out_width)
    per_layer = d * HEADS * h + 2 * d * KV_HEADS * h + HEADS * h * d + 3 * d * FFN + adapters
    return LAYERS * per_layer + d * VOCAB, LAYERS * adapters


def analytic_training_flops(tokens, seqsq):
    """4·M·tokens + 2·Mt·tokens + 3·A, A = 4·layers·H·h·pairs, pairs = (Σs² + Σs)/2 (causal)."""
    m, mt = matmul_weights()
    pairs = (seqsq + tokens) // 2
    a = 4 * LAYERS * HEADS * (HIDDEN // HEADS) * pairs
    return 4 * m * tokens + 2 * mt * tokens + 3 * a


def torch_ok(python):
    res = subprocess.run([python, "-c", "import torch, transformers, peft"], capture_output=True,
                         text=True)
    return res.returncode == 0
