"""flopledger for Hugging Face `transformers.Trainer` (and TRL's SFTTrainer, a Trainer).

    from flopledger.hf import FlopledgerCallback
    trainer = Trainer(..., callbacks=[FlopledgerCallback()])

Run the job under `flopledger run -n N -- python train.py`. The callback
  - declares the model once (at train begin) from its config and its PEFT adapter: total and
    trainable parameters, layers, hidden size, heads, KV heads, head_dim, MLP width, gated MLP,
    vocab, LoRA rank and target projections;
  - counts each training micro-batch's non-padding tokens (the attention mask's sum, else the
    input's size) and sequence lengths, and reports them at every optimizer step with
    `flopledger_add_sequences` + `flopledger_step_end`: every DDP process is one data-parallel
    replica and reports its own tokens, once;
  - attributes the compute of evaluation (and of any forward pass without gradients or in
    eval mode) to the `eval` phase, and training's to `train`;
  - after each step asks the budget guard (`flopledger_should_stop`, collective: every rank asks
    at every step); when it says stop, it requests a checkpoint save and then the end of
    training (`control.should_save`, `control.should_training_stop`);
  - resuming from a checkpoint sets the ledger's step number to the checkpoint's global step;
  - (account_unhooked=True, the default) adds, with `flopledger_add_flops` (source `api`), the
    FLOPs of the one matrix product of a transformers model that torch computes without BLAS,
    so that no hook can see it: the rotary embedding's `inv_freq_expanded @ position_ids_expanded`
    on CPU with torch 1.x, where ATen's bmm runs products with m·n·k < 400 in its own loop
    (see `_rotary_unhooked_flops`). Counted exactly as FlopCounterMode's bmm rule, 2·b·m·n·k,
    in the current phase (so evaluation's stay `eval`).
Without the runtime it does nothing (one note on stderr). A metering error never stops the
training: it is reported on stderr and the callback carries on without that feature.
"""

import sys

from transformers import TrainerCallback

from . import api

_LORA_SHORT = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o",
               "gate_proj": "gate", "up_proj": "up", "down_proj": "down"}


def _say(message):
    sys.stderr.write(f"flopledger.hf: {message}\n")  # one write (see flopledger._capi._say)
    sys.stderr.flush()


def _unwrap(model):
    while hasattr(model, "module") and model.__class__.__name__ in (
            "DistributedDataParallel", "DataParallel"):
        model = model.module
    return model


def model_spec(model, name=None):
    """The model declaration (a dict for flopledger.declare_model) of a transformers model,
    optionally wrapped by PEFT. Keys it cannot know are left out (the runtime's defaults)."""
    model = _unwrap(model)
    config = getattr(model, "config", None)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", config)
    params_total = sum(p.numel() for p in model.parameters())
    params_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    spec = {"name": name or getattr(config, "_name_or_path", "") or
            f"{getattr(config, 'model_type', 'model')} ({type(base).__name__})",
            "params_total": int(params_total), "params_trainable": int(params_trainable)}
    if config is None:
        return spec

    def get(*names):
        for n in names:
            v = getattr(config, n, None)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                return v
        return None

    layers = get("num_hidden_layers", "n_layer", "num_layers")
    hidden = get("hidden_size", "n_embd", "d_model")
    heads = get("num_attention_heads", "n_head")
    vocab = get("vocab_size")
    if layers and hidden and heads and vocab:
        spec.update({"layers": layers, "hidden": hidden, "heads": heads, "vocab": vocab})
        kv = get("num_key_value_heads")
        if kv:
            spec["kv_heads"] = kv
        head_dim = get("head_dim")
        if head_dim and head_dim * heads != hidden:
            spec["head_dim"] = head_dim
        ffn = get("intermediate_size", "n_inner", "ffn_dim")
        if ffn:
            spec["ffn_hidden"] = ffn
        names = [n for n, _ in base.named_modules()]
        spec["gated_mlp"] = any(n.endswith("gate_proj") for n in names)
        spec["tied_embeddings"] = bool(getattr(config, "tie_word_embeddings", False))
        experts = get("num_local_experts", "num_experts")
        top_k = get("num_experts_per_tok")
        if experts and experts > 1:
            spec["experts"] = experts
            if top_k:
                spec["experts_top_k"] = top_k
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and peft_config:
        adapter = peft_config.get(getattr(model, "active_adapter", "default")) or \
            next(iter(peft_config.values()))
        rank = getattr(adapter, "r", None)
        targets = getattr(adapter, "target_modules", None)
        if isinstance(rank, int) and rank > 0 and "layers" in spec:
            spec["lora_rank"] = rank
            if isinstance(targets, str):
                targets = [targets]
            short = sorted({_LORA_SHORT[t] for t in (targets or []) if t in _LORA_SHORT},
                           key=list(_LORA_SHORT.values()).index)
            if short and len(short) == len(set(targets or [])):
                spec["lora_targets"] = ",".join(short)
            else:  # targets outside the analytic model's projections: not describable
                del spec["lora_rank"]
                _say(f"LoRA targets {targets!r} are not all attention/MLP projections "
                     f"({', '.join(_LORA_SHORT)}): the analytic estimate leaves LoRA out")
    return spec


def _is_rotary(module):
    """A rotary-embedding module whose forward computes `inv_freq_expanded @
    position_ids_expanded` (transformers >= 4.38: LlamaRotaryEmbedding and its copies, one per
    attention layer in 4.38-4.44, one `model.rotary_emb` later): an `inv_freq` buffer and a
    forward taking `position_ids`. Older ones (forward(x, seq_len), a cos/sin cache) compute no
    product per forward and are not matched."""
    import inspect
    inv = getattr(module, "_buffers", {}).get("inv_freq")
    if inv is None or inv.dim() != 1:
        return False
    try:
        return "position_ids" in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return False


def _position_index(module):
    """The positional index of forward's `position_ids` parameter."""
    import inspect
    return list(inspect.signature(module.forward).parameters).index("position_ids")


def _position_ids(index, args, kwargs, output):
    """The position_ids of one call of a rotary module's forward: the argument (positional, or
    keyword where the hook sees keywords); else, torch 1.x's forward hooks not seeing keyword
    arguments (transformers 4.40 passes it positionally), a (b, n) stand-in from the output (cos, sin), which are (b, n, head_dim)."""
    if kwargs and "position_ids" in kwargs:
        return kwargs["position_ids"]
    if index < len(args):
        return args[index]
    if isinstance(output, (tuple, list)) and output and hasattr(output[0], "dim") \
            and output[0].dim() == 3:
        return output[0][:, :, 0]
    return None


def _rotary_unhooked_flops(torch_major, inv_freq, position_ids):
    """FLOPs of the rotary product that no BLAS hook sees, else 0.

    The product is (b × m × 1) @ (b × 1 × n) in float32: b = position_ids.shape[0], m = the
    inv_freq length (head_dim/2), n = position_ids.shape[1], contraction k = 1; FlopCounterMode's
    bmm rule counts 2·b·m·n·k. It reaches BLAS unless ATen's bmm_out_or_baddbmm_ (CPU, torch
    1.x; 1.13 read and measured) takes its own loop: when contraction_size · res_rows · res_cols
    = k·m·n < 400 (per batch element; an empty result computes nothing). On CUDA it is a cuBLAS
    call, which the hooks count. torch >= 2 is not accounted: its CPU bmm puts oneDNN heuristics
    before that rule, and the hooks' coverage of its BLAS is not established (docs/peers.md)."""
    if torch_major != 1 or inv_freq.device.type != "cpu" or position_ids.dim() != 2:
        return 0
    b, n = int(position_ids.shape[0]), int(position_ids.shape[1])
    m, k = int(inv_freq.shape[0]), 1
    if b * m * n == 0 or m * n * k >= 400:
        return 0
    return 2 * b * m * n * k


class FlopledgerCallback(TrainerCallback):
    """Meters a Trainer job with flopledger (see the module's documentation).

    declare_model: declare the model (default True); model_name: the name recorded with it;
    budget_stop: act on the budget guard (default True); account_unhooked: add the FLOPs of the
    matrix products torch computes outside BLAS (the rotary embedding's, on CPU with torch 1.x)
    with add_flops, source `api` (default True)."""

    def __init__(self, declare_model=True, model_name=None, budget_stop=True,
                 account_unhooked=True):
        self.declare = declare_model
        self.account_unhooked = account_unhooked
        self.rotary_hooks = []  # handles of the rotary modules' forward hooks
        self.unhooked_flops = 0  # FLOPs this process added with add_flops (all phases)
        self.unhooked_failed = False
        self.model_name = model_name
        self.budget_stop = budget_stop
        self.active = False
        self.lengths = []  # this step's sequence lengths, as ints
        self.pending = []  # and as tensors, read at the step's end
        self.stopped = False
        self.wrapped = None
        self.phase = None

    # -- token counting and phase switching: a wrapper around the model's forward ------------

    def _set_phase(self, phase):
        if phase != self.phase:
            self.phase = phase
            try:
                api.set_phase(phase)
            except Exception as e:  # noqa: BLE001 -- never break training
                _say(f"set_phase({phase!r}) failed: {e}")

    def _wrap_forward(self, model):
        import torch
        inner = model.forward
        callback = self

        def forward(*args, **kwargs):
            training = model.training and torch.is_grad_enabled()
            callback._set_phase("train" if training else "eval")
            if training:
                callback._count(args, kwargs)
            return inner(*args, **kwargs)

        model.forward = forward
        self.wrapped = (model, inner)

    # -- the products torch computes outside BLAS -----------------------------------------------

    def _hook_rotary(self, model):
        import torch
        try:
            major = int(torch.__version__.split(".")[0])
        except ValueError:
            major = 0
        callback = self
        modules = [m for m in model.modules() if _is_rotary(m)]
        if not modules:
            return
        if major != 1:
            _say(f"torch {torch.__version__}: the rotary embedding's product is not accounted "
                 f"(the rule is known for torch 1.x only; docs/peers.md)")
            return

        def hook(module, args, output):  # torch 1.x: the positional arguments only
            if callback.unhooked_failed:
                return None
            try:
                pos = _position_ids(index[module], args, None, output)
                if pos is None:
                    raise ValueError("no position_ids argument")
                flops = _rotary_unhooked_flops(major, module._buffers["inv_freq"], pos)
                if flops:
                    if not callback.unhooked_flops:
                        _say(f"adding the rotary embedding's matrix product, which torch "
                             f"{torch.__version__} computes without BLAS (m·n·k < 400), with "
                             f"add_flops: source `api` of the ledger ({flops} FLOP per call, "
                             f"{len(modules)} rotary module(s))")
                    api.add_flops(flops, "fp32")
                    callback.unhooked_flops += flops
            except Exception as e:  # noqa: BLE001 -- never break training
                callback.unhooked_failed = True
                _say(f"the rotary embedding's FLOPs cannot be accounted ({e!r}); "
                     f"the ledger misses them from here on")
            return None

        index = {m: _position_index(m) for m in modules}
        for m in modules:
            self.rotary_hooks.append(m.register_forward_hook(hook))

    def _count(self, args, kwargs):
        # Keeps the per-sequence lengths as tensors (on the batch's device): they are read once
        # per optimizer step, so a GPU job is not synchronised at every micro-batch.
        try:
            mask = kwargs.get("attention_mask")
            ids = kwargs.get("input_ids", args[0] if args else None)
            if mask is not None and mask.dim() == 2:
                self.pending.append(mask.detach().sum(dim=1))
            elif ids is not None and hasattr(ids, "shape") and len(ids.shape) == 2:
                self.lengths.extend([int(ids.shape[1])] * int(ids.shape[0]))
        except Exception as e:  # noqa: BLE001
            _say(f"cannot count this batch's tokens: {e}")

    def _collect(self):
        """This step's sequence lengths (and resets them)."""
        lengths = self.lengths
        for t in self.pending:
            lengths.extend(int(v) for v in t.tolist())
        self.lengths, self.pending = [], []
        return lengths

    # -- Trainer events ----------------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.active = api.is_active()
        if not self.active:
            return
        if model is not None and self.wrapped is None:
            self._wrap_forward(_unwrap(model))
            if self.account_unhooked:
                try:
                    self._hook_rotary(_unwrap(model))
                except Exception as e:  # noqa: BLE001
                    _say(f"cannot hook the rotary embedding ({e!r}); its FLOPs are not added")
        if self.declare and model is not None:
            try:
                api.declare_model(model_spec(model, self.model_name))
            except Exception as e:  # noqa: BLE001
                _say(f"the model declaration failed ({e}); no analytic estimate")
        try:
            if state.global_step > 0:  # resumed from a checkpoint: same step numbers
                api.set_step(state.global_step)
            if state.max_steps and state.max_steps > 0:
                api.set_plan(steps=state.max_steps)
        except Exception as e:  # noqa: BLE001
            _say(f"set_step/set_plan failed: {e}")
        self._set_phase("train")

    def on_step_end(self, args, state, control, **kwargs):
        if not self.active:
            return
        try:
            lengths = self._collect()
            if lengths:
                api.add_sequences(lengths)
            api.step_end(sum(lengths))
        except Exception as e:  # noqa: BLE001
            _say(f"step_end failed: {e}")
        if self.budget_stop and not self.stopped and api.should_stop():
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
            if state.is_world_process_zero:
                _say(f"the compute budget is reached: saving a checkpoint at step "
                     f"{state.global_step} and stopping")

    def on_evaluate(self, args, state, control, **kwargs):
        if self.active:
            self._set_phase("train")

    # The forward wrapper stays after training: a trainer.evaluate() after train() is still
    # attributed to eval. remove() takes it off.
    def remove(self):
        """Takes the forward wrapper off the model (the class's forward again), and the rotary
        embedding's hooks."""
        for h in self.rotary_hooks:
            h.remove()
        self.rotary_hooks = []
        if self.wrapped is not None:
            self.wrapped[0].__dict__.pop("forward", None)
            self.wrapped = None
