#!/usr/bin/env python3
"""The Python package (python/flopledger), pip-installed from the checkout into the venv of
.ci/python-venv.sh:

read_ledger on a ledger written by the C++ example (`flopledger run -n 2 -- mpi_gemm`):
  - steps: per-precision / per-phase / per-source columns, tokens, period and cumulative figures
    are exact Python ints equal to mpi_gemm's expected figures computed here (fp32, fp64,
    blas_gemm, cblas_gemm, blas_gemv, tokens, total), one row per step;
  - segments (one, clean, 2 ranks), events (segment_start/_end), environment (runtime version),
    attrs (format 1.3);
  - errors: a missing file (FileNotFoundError), an HDF5 file that is not a ledger and a ledger of
    a newer major format (LedgerError naming the path and the attribute's value).
flopledger.hf.model_spec (the callback's declaration): a full Llama, LoRA on o/gate/down with
  exact parameter counts computed here, and GPT-2 LoRA on the fused c_attn (left out, said so).
The callback's accounting of the rotary embedding's product (torch 1.x computes it without BLAS):
  - the rule: 2·b·m·n for (b × m × 1)·(b × 1 × n) on the CPU when m·n < 400, else 0 (m·n = 400,
    m·n = 399, an empty product, torch 2);
  - on a tiny Llama: one hook per layer's rotary module, the FLOPs of forwards with the default
    (1, T) and explicit (b, T) position_ids, as a keyword (the hook's fallback on the output),
    and T = 64 (on BLAS: nothing added); account_unhooked=False hooks nothing; a failing
    add_flops is said once on stderr, the accounting stops and the forwards go on.
The C API bindings:
  - without the runtime: every call is a no-op with the documented answer, and the process says
    so once on stderr, however many calls; bad arguments raise ValueError/TypeError naming the
    value;
  - under `flopledger run -n 2` (preloaded): step_end with tokens, add_flops with a precision and
    a phase, the phase context manager, declare_model, set_plan, status() and
    modification_flops(): the ledger holds exactly what the program reported (source api, fp64
    in eval, bf16 in train), and a rejected model declaration raises ValueError;
  - LIBFLOPLEDGER pointing at a file that is not the runtime: one clear note, then no-ops.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402
import hf_common as H  # noqa: E402

RANKS, STEPS = 2, 3

READ_SCRIPT = r"""
import json, sys
import flopledger
from flopledger.ledger import LedgerError
led = flopledger.read_ledger(sys.argv[1])
s = led.steps
out = {
  "repr": repr(led),
  "rows": len(s),
  "step_last": [int(v) for v in s["step_last"]],
  "fp32": sum(s["flops_fp32"]), "fp64": sum(s["flops_fp64"]),
  "train": sum(s["flops_train"]), "eval": sum(s["flops_eval"]),
  "blas_gemm": sum(s["flops_blas_gemm"]), "cblas_gemm": sum(s["flops_cblas_gemm"]),
  "blas_gemv": sum(s["flops_blas_gemv"]), "tokens": sum(s["tokens"]),
  "period": sum(s["period_flops"]), "last_cumulative": led.total(),
  "types": sorted({type(v).__name__ for v in list(s["period_flops"]) + list(s["flops_fp32"])
                   + list(s["tokens"])}),
  "segments": len(led.segments), "segment_state": int(led.segments["state"].iloc[0]),
  "segment_world": int(led.segments["world_size"].iloc[0]),
  "events": list(led.events["kind"]),
  "env_version": list(led.environment.loc[led.environment["key"] == "flopledger_version",
                                          "value"]),
  "format": list(led.format_version),
  "unpack": [len(x) for x in led],
}
errors = {}
for label, path in (("missing", sys.argv[2]), ("not_ledger", sys.argv[3]),
                    ("newer", sys.argv[4])):
  try:
    flopledger.read_ledger(path)
    errors[label] = "no error"
  except (LedgerError, FileNotFoundError) as e:
    errors[label] = type(e).__name__ + ": " + str(e)
out["errors"] = errors
print("JSON " + json.dumps(out))
"""

NO_RUNTIME_SCRIPT = r"""
import json, flopledger
out = {
  "available": flopledger.available(), "active": flopledger.is_active(),
  "step": flopledger.step_end(10), "step2": flopledger.step(3),
  "flops": flopledger.add_flops(100, "fp64", "eval"),
  "phase": flopledger.set_phase("eval"), "get_phase": flopledger.get_phase(),
  "declare": flopledger.declare_model({"name": "x", "params_total": 1,
                                       "params_trainable": 1}),
  "stop": flopledger.should_stop(), "status": flopledger.status(),
  "mod": flopledger.modification_flops(), "get_step": flopledger.get_step(),
  "version": flopledger.version(),
}
with flopledger.phase("eval"):
  pass
bad = {}
for label, call in (("phase", lambda: flopledger.set_phase("warmup")),
                    ("tokens", lambda: flopledger.step_end(-5)),
                    ("precision", lambda: flopledger.add_flops(1, "fp4")),
                    ("type", lambda: flopledger.step_end(2.5))):
  try:
    call()
    bad[label] = "no error"
  except (ValueError, TypeError) as e:
    bad[label] = str(e)
out["bad"] = bad
print("JSON " + json.dumps(out))
"""

SPEC_SCRIPT = r"""
import json, warnings
warnings.simplefilter("ignore")
from transformers import LlamaConfig, LlamaForCausalLM, GPT2Config, GPT2LMHeadModel
from transformers.utils import logging
logging.set_verbosity_error()
from peft import LoraConfig, get_peft_model
from flopledger.hf import model_spec
c = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2)
full = LlamaForCausalLM(c)
lora = get_peft_model(LlamaForCausalLM(c), LoraConfig(r=8, target_modules=["down_proj", "o_proj",
                                                                          "gate_proj"]))
gpt2 = get_peft_model(GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=256)),
                      LoraConfig(r=8, target_modules=["c_attn"], fan_in_fan_out=True))
print("JSON " + json.dumps({"full": model_spec(full, "full"), "lora": model_spec(lora, "lora"),
                            "gpt2": model_spec(gpt2, "gpt2")}))
"""

ROTARY_SCRIPT = r"""
import json, sys, types, warnings
warnings.simplefilter("ignore")
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging
logging.set_verbosity_error()
from flopledger import api
from flopledger.hf import FlopledgerCallback, _rotary_unhooked_flops as rule
out = {}
inv = torch.zeros(8)
pos = lambda b, n: torch.zeros(b, n, dtype=torch.long)
out["rule"] = [rule(1, inv, pos(1, 32)), rule(1, inv, pos(3, 49)), rule(1, inv, pos(1, 50)),
               rule(1, inv, pos(0, 32)), rule(2, inv, pos(1, 32))]
c = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
c._attn_implementation = "eager"
torch.manual_seed(0)
model = LlamaForCausalLM(c)
cb = FlopledgerCallback()
cb._hook_rotary(model)
out["hooks"] = len(cb.rotary_hooks)
ids = torch.randint(1, 256, (4, 32))
counts = []
with torch.no_grad():
    model(ids); counts.append(cb.unhooked_flops)
    model(ids, position_ids=torch.arange(32).expand(4, 32)); counts.append(cb.unhooked_flops)
    model(torch.randint(1, 256, (4, 64))); counts.append(cb.unhooked_flops)
out["counts"] = counts
cb.remove()
model(ids)
out["after_remove"] = cb.unhooked_flops
api.is_active = lambda: True  # the Trainer event path, without a runtime (calls are no-ops)
state = types.SimpleNamespace(global_step=0, max_steps=0)
on = FlopledgerCallback(declare_model=False)
on.on_train_begin(None, state, None, model=model)
out["on_hooks"] = len(on.rotary_hooks)
on.remove()
off = FlopledgerCallback(declare_model=False, account_unhooked=False)
off.on_train_begin(None, state, None, model=model)
out["off_hooks"] = len(off.rotary_hooks)
off.remove()
def boom(*a, **k):
    raise RuntimeError("add_flops exploded")
api.add_flops = boom
bad = FlopledgerCallback()
bad._hook_rotary(model)
with torch.no_grad():
    a = model(ids).logits
    b = model(ids).logits
out["bad_forwards"] = bool(torch.equal(a, b))
out["bad_failed"] = bad.unhooked_failed
sys.stdout.write("JSON " + json.dumps(out) + "\n")
"""

API_SCRIPT = r"""
import json, os, flopledger
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
out = {"active": flopledger.is_active(), "origin": flopledger.origin(),
       "version": flopledger.version()}
out["declare"] = flopledger.declare_model({"name": "api-test", "params_total": 1000,
                                           "params_trainable": 10})
try:
  flopledger.declare_model({"name": "bad", "params_total": 5, "params_trainable": 9})
  out["bad_declare"] = "accepted"
except ValueError as e:
  out["bad_declare"] = str(e)
out["plan"] = flopledger.set_plan(steps=3)
for step in range(1, 4):
  flopledger.add_flops(1000 * step + rank, "bf16")
  with flopledger.phase("eval"):
    out["phase_inside"] = flopledger.get_phase()
    flopledger.add_flops(7, "fp64")
  out["phase_after"] = flopledger.get_phase()
  flopledger.step_end(100 + rank)
  out["stop"] = flopledger.should_stop()
out["get_step"] = flopledger.get_step()
import time
for _ in range(100):                 # the state is the last completed reduction's
  st = flopledger.status()
  if st and st["last_step"] == 3:
    break
  time.sleep(0.05)
out["status"] = st
out["mod"] = flopledger.modification_flops()
import sys
sys.stdout.write("JSON%d %s\n" % (rank, json.dumps(out)))  # one write: mpirun interleaves
sys.stdout.flush()
"""


def json_line(c, res, prefix, label):
    """The JSON object printed after `prefix ` (anywhere: mpirun may join two ranks' lines)."""
    import json
    import re
    for m in re.finditer(re.escape(prefix) + " ", res.stdout):
        if m.start() > 0 and res.stdout[m.start() - 1].isalnum():
            continue  # "JSON" inside "XJSON"
        try:
            return json.JSONDecoder().raw_decode(res.stdout, m.end())[0]
        except ValueError:
            continue
    c.check(False, f"{label}: the script printed its results", res.tail())
    return {}


def write(c, name, text):
    path = c.path(name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_python_package", args)
    if E.skip_python(c, "Python package"):
        c.finish()
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    python = H.venv_python(c)
    site = H.install_package(c, python)
    env = E.base_env({"PYTHONPATH": site})

    # --- read_ledger on a ledger of the C++ example -----------------------------------------
    ledger = c.path("gemm", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger, [paths.mpi_gemm, "--steps", str(STEPS)],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    c.ran_ok(res, "flopledger run mpi_gemm")
    exp = E.mpi_gemm_expected(RANKS, STEPS)
    import h5py
    not_ledger = c.path("plain.h5")
    with h5py.File(not_ledger, "w") as f:
        f.attrs["flopledger_format"] = "something-else"
    newer = c.path("newer.h5")
    with h5py.File(newer, "w") as f:
        f.attrs["flopledger_format"] = "flopledger-trace"
        f.attrs["format_version_major"] = 2
        f.attrs["format_version_minor"] = 0
    script = write(c, "read.py", READ_SCRIPT)
    res = E.run([python, script, ledger, c.path("missing.h5"), not_ledger, newer], env=env,
                timeout=120)
    c.ran_ok(res, "read_ledger script")
    got = json_line(c, res, "JSON", "read_ledger")
    if got:
        c.equal(got["rows"], STEPS, "read_ledger: one step row per step")
        c.equal(got["step_last"], list(range(1, STEPS + 1)), "read_ledger: step_last 1..N")
        c.equal(got["fp32"], exp["prec"]["fp32"], "read_ledger: sum of flops_fp32")
        c.equal(got["fp64"], exp["prec"]["fp64"], "read_ledger: sum of flops_fp64")
        c.equal(got["train"], exp["total"], "read_ledger: sum of flops_train")
        c.equal(got["eval"], 0, "read_ledger: sum of flops_eval")
        for s in ("blas_gemm", "cblas_gemm", "blas_gemv"):
            c.equal(got[s], exp["source"][s], f"read_ledger: sum of flops_{s}")
        c.equal(got["tokens"], exp["tokens"], "read_ledger: sum of tokens")
        c.equal(got["period"], exp["total"], "read_ledger: sum of period_flops (exact decimals)")
        c.equal(got["last_cumulative"], exp["total"], "read_ledger: Ledger.total()")
        c.equal(got["types"], ["int"], "read_ledger: counts are Python ints (exact), not floats")
        c.equal((got["segments"], got["segment_state"], got["segment_world"]), (1, 1, RANKS),
                "read_ledger: one clean segment of 2 ranks")
        c.check("segment_start" in got["events"] and "segment_end" in got["events"],
                f"read_ledger: events segment_start and segment_end ({got['events']})")
        c.check(len(got["env_version"]) == 1 and got["env_version"][0],
                f"read_ledger: environment has flopledger_version ({got['env_version']})")
        c.equal(got["format"], [1, 3], "read_ledger: format 1.3")
        c.equal(got["unpack"][0], STEPS, "read_ledger: steps, segments, events, env = ledger")
        errs = got["errors"]
        c.check(errs["missing"].startswith("FileNotFoundError") and "missing.h5" in
                errs["missing"], f"read_ledger: a missing file: {errs['missing']}")
        c.check(errs["not_ledger"].startswith("LedgerError") and "something-else" in
                errs["not_ledger"] and "plain.h5" in errs["not_ledger"],
                f"read_ledger: not a ledger: {errs['not_ledger']}")
        c.check(errs["newer"].startswith("LedgerError") and "2.0" in errs["newer"],
                f"read_ledger: a newer major format: {errs['newer']}")

    # --- model_spec: the callback's declaration, from config and PEFT adapter ---------------
    script = write(c, "spec.py", SPEC_SCRIPT)
    res = E.run([python, script], env=H.hf_env({"PYTHONPATH": site}), timeout=120)
    c.ran_ok(res, "model_spec script")
    got = json_line(c, res, "JSON", "model_spec")
    if got:
        # Llama: embed 256·64, per layer q 64·64, k and v 64·32, o 64·64, MLP 3·64·128, two
        # RMSNorm weights 2·64; final norm 64; LM head 64·256.
        base = 256 * 64 + 2 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 128 + 2 * 64) \
            + 64 + 64 * 256
        arch = {"layers": 2, "hidden": 64, "heads": 4, "vocab": 256, "kv_heads": 2,
                "ffn_hidden": 128, "gated_mlp": True, "tied_embeddings": False}
        c.equal(got["full"], dict({"name": "full", "params_total": base,
                                   "params_trainable": base}, **arch),
                "model_spec: a full fine-tune of a Llama")
        adapters = 2 * 8 * ((64 + 64) + (64 + 128) + (128 + 64))  # o, gate, down: r·(in + out)
        c.equal(got["lora"], dict({"name": "lora", "params_total": base + adapters,
                                   "params_trainable": adapters}, **arch,
                                  lora_rank=8, lora_targets="o,gate,down"),
                "model_spec: LoRA r=8 on o, gate, down (targets in the runtime's order)")
        g = got["gpt2"]
        c.check("lora_rank" not in g and g.get("layers") == 2 and g.get("tied_embeddings") is True
                and g.get("gated_mlp") is False and "c_attn" in res.stderr,
                f"model_spec: GPT-2 with LoRA on the fused c_attn: LoRA left out, said on stderr "
                f"({g})")

    # --- the callback's accounting of the rotary product (no runtime needed) ----------------
    script = write(c, "rotary.py", ROTARY_SCRIPT)
    res = E.run([python, script], env=H.hf_env({"PYTHONPATH": site}), timeout=120)
    c.ran_ok(res, "rotary script")
    got = json_line(c, res, "JSON", "rotary")
    if got:
        # m = head_dim/2 = 8; (1, 32): 2·1·8·32; (3, 49): 8·49 = 392 < 400; (1, 50): 400, BLAS.
        c.equal(got["rule"], [512, 2 * 3 * 8 * 49, 0, 0, 0],
                "rotary rule: 2·b·m·n below m·n = 400 on torch 1.x, else 0")
        c.equal(got["hooks"], 2, "rotary: one hook per layer's LlamaRotaryEmbedding")
        per = 2 * 2 * 8 * 32  # 2 layers · 2·m·n, b = 1 (position_ids made by LlamaModel)
        c.equal(got["counts"], [per, per + 4 * per, per + 4 * per],
                "rotary: default (1, T) position_ids, explicit (4, T) as a keyword, T = 64 on BLAS")
        c.equal(got["after_remove"], per + 4 * per, "rotary: remove() takes the hooks off")
        c.equal((got["on_hooks"], got["off_hooks"]), (2, 0),
                "rotary: on_train_begin hooks the rotary modules; account_unhooked=False none")
        c.equal((got["bad_forwards"], got["bad_failed"]), (True, True),
                "rotary: a failing add_flops stops the accounting, the forwards go on")
        c.equal(res.stderr.count("cannot be accounted"), 1,
                "rotary: the failure is said once on stderr")

    # --- the bindings without the runtime --------------------------------------------------
    script = write(c, "noruntime.py", NO_RUNTIME_SCRIPT)
    res = E.run([python, script], env=env, timeout=60)
    c.ran_ok(res, "no runtime: the script runs")
    got = json_line(c, res, "JSON", "no runtime")
    if got:
        want = {"available": False, "active": False, "step": False, "step2": False,
                "flops": False, "phase": False, "get_phase": None, "declare": False,
                "stop": False, "status": None, "mod": None, "get_step": 0, "version": None}
        c.equal({k: got[k] for k in want}, want, "no runtime: every call is a no-op")
        bad = got["bad"]
        c.check("'warmup'" in bad["phase"] and "eval" in bad["phase"],
                f"bad phase named: {bad['phase']}")
        c.check("-5" in bad["tokens"], f"negative tokens named: {bad['tokens']}")
        c.check("'fp4'" in bad["precision"], f"bad precision named: {bad['precision']}")
        c.check("2.5" in bad["type"], f"non-integer tokens named: {bad['type']}")
    notes = [ln for ln in res.stderr.splitlines() if "not loaded" in ln]
    c.equal(len(notes), 1, "no runtime: one note on stderr, however many calls")

    res = E.run([python, "-c", "import flopledger; print('S', flopledger.step_end(1))"],
                env=E.base_env({"PYTHONPATH": site, "LIBFLOPLEDGER": not_ledger}), timeout=60)
    c.check(res.rc == 0 and "S False" in res.stdout and "LIBFLOPLEDGER" in res.stderr and
            "plain.h5" in res.stderr, "LIBFLOPLEDGER naming a non-library: a clear note, no-ops",
            res.tail())

    # --- the bindings in a preloaded process -------------------------------------------------
    script = write(c, "api.py", API_SCRIPT)
    ledger = c.path("api", "ledger.h5")
    res = E.flopledger_run(paths, RANKS, ledger, [python, script], every_steps=1,
                           every_seconds=3600, env=env, verbose=args.verbose)
    c.ran_ok(res, "API: flopledger run python api.py")
    per_rank = [json_line(c, res, f"JSON{r}", f"API rank {r}") for r in range(RANKS)]
    bf16 = sum(1000 * s + r for s in range(1, 4) for r in range(RANKS))
    fp64 = 7 * 3 * RANKS
    # The declared model without structure: M = params_total, Mt = params_trainable, and the
    # analytic figure 4·M·D + 2·Mt·D (docs/methods.md) is above the counted one, so it is the
    # verdict figure (modification_flops) under the default rule set's policy.
    analytic = (4 * 1000 + 2 * 10) * 3 * (100 + 101)
    for r, got in enumerate(per_rank):
        if not got:
            continue
        c.equal((got["active"], got["origin"]), (True, "preloaded"),
                f"API rank {r}: the preloaded runtime is found and active")
        c.check(isinstance(got["version"], str) and got["version"],
                f"API rank {r}: version {got['version']!r}")
        c.equal((got["declare"], got["plan"], got["phase_inside"], got["phase_after"],
                 got["stop"], got["get_step"]), (True, True, "eval", "train", False, 3),
                f"API rank {r}: declare, plan, phase context, should_stop, get_step")
        c.check(got["bad_declare"].startswith("flopledger: the runtime rejected") and
                '"params_trainable": 9' in got["bad_declare"],
                f"API rank {r}: a rejected declaration raises ValueError: {got['bad_declare']}")
        st = got["status"] or {}
        c.equal((st.get("last_step"), st.get("status"), st.get("counted_flops"),
                 st.get("modification_flops")), (3, "downstream_user", bf16 + fp64, analytic),
                f"API rank {r}: status() after step 3 (exact ints; the verdict figure)")
        c.equal(got["mod"], analytic, f"API rank {r}: modification_flops()")
    rep = E.report_json(c, paths, ledger)
    E.check_report_totals(c, rep, "API", bf16 + fp64, prec={"bf16": bf16, "fp64": fp64},
                          source={"api": bf16 + fp64}, phase={"train": bf16, "eval": fp64},
                          tokens=3 * (100 + 101), steps=3, ranks=RANKS)
    methods = (rep or {}).get("methods", {})
    c.equal(E.as_int(methods.get("counted", {}).get("modification_flops")), bf16,
            "API: counted modification excludes the eval phase")
    c.equal((E.as_int(methods.get("analytic", {}).get("flops")), (rep or {}).get("verdict_method")),
            (analytic, "analytic"), "API: the analytic figure of the declared model is the verdict")
    c.finish()


if __name__ == "__main__":
    main()
