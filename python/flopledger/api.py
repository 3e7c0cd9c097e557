"""The C API as Python functions.

Every function is safe without the runtime: it then does nothing and returns the "not metered"
answer (False, None or 0), after one note on stderr. Arguments out of their documented range
raise ValueError (or TypeError) naming the value: those are bugs in the calling code, not
metering failures.
"""

import contextlib
import json
import numbers

from . import _capi
from ._capi import ERR_INVALID_ARGUMENT, ERR_NO_DATA, OK, PHASES, PRECISIONS, STATUSES

_U64_MAX = 2**64 - 1


def _u64(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"flopledger: {name}={value!r}: expected an integer")
    value = int(value)
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"flopledger: {name}={value}: expected 0..2^64-1")
    return value


def _phase_id(phase):
    if isinstance(phase, str):
        if phase not in PHASES:
            raise ValueError(f"flopledger: phase {phase!r}: expected one of {', '.join(PHASES)}")
        return PHASES.index(phase)
    if isinstance(phase, numbers.Integral) and not isinstance(phase, bool) \
            and 0 <= phase < len(PHASES):
        return int(phase)
    raise ValueError(f"flopledger: phase {phase!r}: expected one of {', '.join(PHASES)}")


def _precision_id(precision):
    if isinstance(precision, str) and precision in PRECISIONS:
        return PRECISIONS.index(precision)
    if isinstance(precision, numbers.Integral) and not isinstance(precision, bool) \
            and 0 <= precision < len(PRECISIONS):
        return int(precision)
    raise ValueError(f"flopledger: precision {precision!r}: expected one of "
                     f"{', '.join(PRECISIONS)}")


def is_active():
    """True when the runtime is metering this process."""
    return _capi._call("flopledger_is_active", default=0) == 1


def version():
    """The runtime's version string, or None without the runtime."""
    v = _capi._call("flopledger_version")
    return v.decode("utf-8", "replace") if v is not None else None


def step_end(tokens=0):
    """Marks the end of one training step on this rank; `tokens`: tokens this rank processed
    in it (0 if unknown). True when recorded. Never blocks on communication."""
    return _capi._call("flopledger_step_end", _u64("tokens", tokens), default=-1) == OK


step = step_end


def add_flops(flops, precision="fp32", phase=None):
    """Adds FLOPs no hook can see (a custom kernel) to this rank's counters, under `precision`
    (a name of PRECISIONS) and `phase` (a name of PHASES; None: the current phase)."""
    ph = -1 if phase is None else _phase_id(phase)
    rc = _capi._call("flopledger_add_flops", _u64("flops", flops), _precision_id(precision), ph,
                     default=-1)
    return rc == OK


def set_phase(phase):
    """Attributes later FLOPs of every thread of this process to `phase` ("train", "recompute",
    "eval", "synthetic_data", "other"). True when the runtime took it."""
    return _capi._call("flopledger_set_phase", _phase_id(phase), default=-1) == OK


def get_phase():
    """The current phase's name, or None without an active runtime."""
    p = _capi._call("flopledger_get_phase", default=-1)
    return PHASES[p] if 0 <= p < len(PHASES) else None


@contextlib.contextmanager
def phase(name):
    """``with flopledger.phase("eval"): ...`` sets the phase and restores the previous one."""
    before = get_phase()
    set_phase(name)
    try:
        yield
    finally:
        set_phase(before if before is not None else "train")


def declare_model(spec):
    """Declares the model for the analytic estimate: a dict (or a JSON string) with the keys of
    docs/methods.md (name, params_total, params_trainable, layers, hidden, heads, kv_heads,
    head_dim, ffn_hidden, vocab, seq_len, lora_rank, lora_targets, gated_mlp, causal, ...).
    True when accepted; False without an active runtime. Raises ValueError when the runtime
    rejects the declaration (it prints why on stderr)."""
    text = spec if isinstance(spec, str) else json.dumps(spec)
    rc = _capi._call("flopledger_declare_model", text.encode("utf-8"), default=-1)
    if rc == ERR_INVALID_ARGUMENT:
        raise ValueError(f"flopledger: the runtime rejected the model declaration {text} "
                         "(its reason is on stderr)")
    return rc == OK


def report_tokens(reports):
    """Whether this rank's tokens count toward the analytic estimate (once per model replica:
    False on every rank of a replica but one)."""
    return _capi._call("flopledger_report_tokens", 1 if reports else 0, default=-1) == OK


def add_sequences(lengths):
    """Reports the lengths of the sequences of the step in progress (packed sequences), before
    its step_end."""
    values = [_u64("sequence length", v) for v in lengths]
    for v in values:
        if v > 2**32 - 1:
            raise ValueError(f"flopledger: sequence length {v}: expected at most 2^32-1")
    import ctypes
    arr = (ctypes.c_uint64 * len(values))(*values)
    return _capi._call("flopledger_add_sequences", arr, len(values), default=-1) == OK


def set_plan(steps=0, tokens=0):
    """The planned length of the modification (ledger step at which it ends and/or total
    training tokens; 0: not known), for the forecast."""
    return _capi._call("flopledger_set_plan", _u64("steps", steps), _u64("tokens", tokens),
                       default=-1) == OK


def should_stop():
    """The budget guard: True when the job must stop now (FLOPLEDGER_BUDGET). Collective: call
    it on every rank at the same steps, after step_end. False without the runtime."""
    return _capi._call("flopledger_should_stop", default=0) == 1


def set_step(step_number):
    """Sets the ledger step number of the last completed step (after loading a checkpoint)."""
    return _capi._call("flopledger_set_step", _u64("step", step_number), default=-1) == OK


def get_step():
    """The ledger step number of the last completed step on this rank (0 without runtime)."""
    return int(_capi._call("flopledger_get_step", default=0))


def status():
    """The job-wide state as of the last completed reduction, as a dict (exact integers), or
    None without an active runtime or before the first reduction."""
    st = _capi._State()
    import ctypes
    rc = _capi._call("flopledger_get_state", ctypes.byref(st), default=-1)
    if rc != OK:
        return None

    def dec(raw):
        return int(raw.decode("ascii") or "0")

    code = int(st.status)
    return {
        "reductions": int(st.reductions),
        "last_step": int(st.last_step),
        "status": STATUSES[code] if 0 <= code < len(STATUSES) else f"status {code}",
        "fraction_of_threshold": float(st.fraction_of_threshold),
        "modification_flops": dec(st.modification_flops),
        "counted_flops": dec(st.counted_flops),
        "threshold_flops": dec(st.threshold_flops),
    }


def modification_flops():
    """The ledger total counted toward the threshold (exact int), or None (no runtime, or no
    reduction yet)."""
    import ctypes
    buf = ctypes.create_string_buffer(64)
    rc = _capi._call("flopledger_modification_flops", buf, len(buf), default=-1)
    if rc != OK:
        return None
    return int(buf.value.decode("ascii"))


__all__ = ["is_active", "version", "step_end", "step", "add_flops", "set_phase", "get_phase",
           "phase", "declare_model", "report_tokens", "add_sequences", "set_plan", "should_stop",
           "set_step", "get_step", "status", "modification_flops", "ERR_NO_DATA"]
