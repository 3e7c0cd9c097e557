"""Reading a ledger (the HDF5 trace of docs/trace-format.md) into pandas DataFrames.

Exactness: FLOP and token counts are 128-bit in the file (a uint64 low word and a `_hi` high
word, or an exact decimal string). They become Python ints in columns of dtype `object`, so
sums stay exact (never float64). Array columns (per precision / phase / source) become one
column per name: `flops_fp32`, `flops_train`, `flops_blas_gemm`, `calls_blas_gemm`.
"""

import os

SUPPORTED_MAJOR = 1


class LedgerError(Exception):
    """The file is not a flopledger ledger this reader can read (the message says why)."""


class Ledger:
    """What read_ledger returns: DataFrames `steps`, `segments`, `events`, `environment`, and
    `attrs`, a dict of the root attributes (strings decoded, versions as ints)."""

    def __init__(self, path, attrs, steps, segments, events, environment):
        self.path = path
        self.attrs = attrs
        self.steps = steps
        self.segments = segments
        self.events = events
        self.environment = environment

    @property
    def format_version(self):
        return (self.attrs.get("format_version_major"), self.attrs.get("format_version_minor"))

    def total(self, column="cumulative_counted"):
        """The ledger's last value of a cumulative column (exact int; 0 without rows)."""
        if len(self.steps) == 0:
            return 0
        return int(self.steps[column].iloc[-1])

    def __repr__(self):
        return (f"Ledger({self.path!r}, format {self.format_version[0]}."
                f"{self.format_version[1]}, {len(self.steps)} step rows, "
                f"{len(self.segments)} segments, {len(self.events)} events)")

    def __iter__(self):  # steps, segments, events, environment = read_ledger(path)
        return iter((self.steps, self.segments, self.events, self.environment))


def _text(value):
    import numpy as np
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return value


def _attr(value):
    import numpy as np
    value = _text(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decimal(value, column):
    text = _text(value)
    if isinstance(text, str) and text.strip().isdigit():
        return int(text)
    raise LedgerError(f"column {column!r}: {text!r} is not an exact decimal")


# String columns that hold exact decimals.
_DECIMAL_COLUMNS = {"period_flops", "cumulative_counted", "cumulative_modification",
                    "cumulative_analytic", "cumulative_aws", "cumulative_hf",
                    "cumulative_hardware", "verdict_flops", "threshold_flops", "forecast_flops",
                    "flops"}


def _frame(dset, names_for):
    """A DataFrame from a structured dataset: 128-bit pairs joined, arrays split by name."""
    import pandas as pd
    data = dset[()]
    fields = data.dtype.names or ()
    columns = {}
    for name in fields:
        if name.endswith("_hi") and name[:-3] in fields:
            continue
        col = data[name]
        hi = data[name + "_hi"] if name + "_hi" in fields else None
        if col.ndim == 2:  # uint64[k] per row: one column per precision / phase / source
            labels = names_for(name, col.shape[1])
            for j, label in enumerate(labels):
                if hi is not None:
                    values = [(int(h) << 64) | int(lo) for lo, h in zip(col[:, j], hi[:, j])]
                else:
                    values = [int(v) for v in col[:, j]]
                columns[f"{_prefix(name)}_{label}"] = pd.Series(values, dtype=object)
        elif hi is not None:
            columns[name] = pd.Series([(int(h) << 64) | int(lo) for lo, h in zip(col, hi)],
                                      dtype=object)
        elif col.dtype.kind == "S":
            if name in _DECIMAL_COLUMNS:
                columns[name] = pd.Series([_decimal(v, name) for v in col], dtype=object)
            else:
                columns[name] = pd.Series([_text(v) for v in col], dtype=object)
        elif col.dtype.kind == "u" and col.dtype.itemsize == 8:
            columns[name] = pd.Series([int(v) for v in col], dtype=object)
        else:
            columns[name] = pd.Series(col)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(data)))


def _prefix(name):
    # flops_by_precision -> flops, calls_by_source -> calls
    return name.split("_by_", 1)[0] if "_by_" in name else name


def read_ledger(path):
    """Reads the ledger at `path`; returns a Ledger (steps, segments, events, environment as
    pandas DataFrames, and attrs). Raises FileNotFoundError, or LedgerError naming the path
    and what is wrong (not a flopledger trace, a newer format major)."""
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # a job may still be writing it
    import h5py
    import pandas as pd
    if not os.path.exists(path):
        raise FileNotFoundError(f"flopledger: no ledger at {path!r}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise LedgerError(f"{path!r} is not a readable HDF5 file: {e}") from None
    with f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        if attrs.get("flopledger_format") != "flopledger-trace":
            raise LedgerError(f"{path!r} is not a flopledger ledger (root attribute "
                              f"flopledger_format={attrs.get('flopledger_format')!r}, expected "
                              "'flopledger-trace')")
        major = int(attrs.get("format_version_major", 0))
        if major > SUPPORTED_MAJOR:
            raise LedgerError(f"{path!r} has format {major}.{attrs.get('format_version_minor')}"
                              f", newer than this reader ({SUPPORTED_MAJOR}.x): upgrade the "
                              "flopledger package")
        lists = {key: str(attrs.get(f"{key}_names", "")).split(",")
                 for key in ("precision", "phase", "source")}

        def names_for(column, width):
            for key, names in lists.items():
                if column.endswith("_by_" + key) and len(names) == width:
                    return names
            return [str(j) for j in range(width)]

        frames = {}
        for name in ("steps", "segments", "events", "environment"):
            frames[name] = _frame(f[name], names_for) if name in f else pd.DataFrame()
    return Ledger(path, attrs, frames["steps"], frames["segments"], frames["events"],
                  frames["environment"])
