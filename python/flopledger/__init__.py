"""flopledger for Python: the runtime's C API (ctypes), a Hugging Face Trainer callback
(`flopledger.hf.FlopledgerCallback`) and a ledger reader (`flopledger.read_ledger`).

Without the runtime in the process every metering call is a no-op (one note on stderr), so a
script that uses this package runs unmetered as it is. See docs/python.md.
"""

from ._capi import PHASES, PRECISIONS, STATUSES, available, load, origin
from .api import (add_flops, add_sequences, declare_model, get_phase, get_step, is_active,
                  modification_flops, phase, report_tokens, set_phase, set_plan, set_step,
                  should_stop, status, step, step_end, version)

__version__ = "0.1.0"


def read_ledger(path):
    """Reads a ledger (HDF5 trace) into pandas DataFrames; see flopledger.ledger.read_ledger."""
    from .ledger import read_ledger as _read
    return _read(path)


__all__ = ["PHASES", "PRECISIONS", "STATUSES", "available", "load", "origin", "add_flops",
           "add_sequences", "declare_model", "get_phase", "get_step", "is_active",
           "modification_flops", "phase", "report_tokens", "set_phase", "set_plan", "set_step",
           "should_stop", "status", "step", "step_end", "version", "read_ledger"]
