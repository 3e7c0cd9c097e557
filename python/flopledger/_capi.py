"""The flopledger C API (include/flopledger/flopledger.h) through ctypes.

Where the library comes from, in order:
  1. the running process, when `flopledger run` (or srun with the SPANK plugin) preloaded
     libflopledger.so: ``ctypes.CDLL(None)`` then exports ``flopledger_is_active``;
  2. the path given to ``flopledger.load(path)``, or the environment variable ``LIBFLOPLEDGER``
     (deliberately not a ``FLOPLEDGER_*`` name: the runtime rejects unknown keys of its own
     namespace). A library loaded this way is not in front of BLAS, so its hooks see nothing:
     only what the program reports through the API is recorded.
Without either, every function is a no-op (it returns the "not active" answer) and the package
says so once on stderr, so the same training script runs unmetered.
"""

import ctypes
import os
import sys
import threading

API_VERSION = 2

OK, ERR_INVALID_ARGUMENT, ERR_NOT_ACTIVE, ERR_BUFFER_TOO_SMALL, ERR_NO_DATA = range(5)

# include/flopledger/tags.h: FLOPLEDGER_PRECISIONS, FLOPLEDGER_PHASES, flopledger_status_code.
PRECISIONS = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "other")
PHASES = ("train", "recompute", "eval", "synthetic_data", "other")
STATUSES = ("downstream_user", "provider", "provider_systemic_risk")

ENV_LIBRARY = "LIBFLOPLEDGER"


class _State(ctypes.Structure):
    _fields_ = [
        ("reductions", ctypes.c_uint64),
        ("last_step", ctypes.c_uint64),
        ("status", ctypes.c_int),
        ("fraction_of_threshold", ctypes.c_double),
        ("modification_flops", ctypes.c_char * 48),
        ("counted_flops", ctypes.c_char * 48),
        ("threshold_flops", ctypes.c_char * 48),
    ]


_SIGNATURES = {
    "flopledger_step_end": ([ctypes.c_uint64], ctypes.c_int),
    "flopledger_add_flops": ([ctypes.c_uint64, ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "flopledger_set_phase": ([ctypes.c_int], ctypes.c_int),
    "flopledger_get_phase": ([], ctypes.c_int),
    "flopledger_get_state": ([ctypes.POINTER(_State)], ctypes.c_int),
    "flopledger_modification_flops": ([ctypes.c_char_p, ctypes.c_size_t], ctypes.c_int),
    "flopledger_declare_model": ([ctypes.c_char_p], ctypes.c_int),
    "flopledger_report_tokens": ([ctypes.c_int], ctypes.c_int),
    "flopledger_add_sequences": ([ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t],
                                 ctypes.c_int),
    "flopledger_set_plan": ([ctypes.c_uint64, ctypes.c_uint64], ctypes.c_int),
    "flopledger_should_stop": ([], ctypes.c_int),
    "flopledger_set_step": ([ctypes.c_uint64], ctypes.c_int),
    "flopledger_get_step": ([], ctypes.c_uint64),
    "flopledger_is_active": ([], ctypes.c_int),
    "flopledger_version": ([], ctypes.c_char_p),
}


class _Library:
    """The bound functions, or none (no runtime)."""

    def __init__(self):
        self.fn = {}
        self.origin = None  # "preloaded", or the path it was loaded from
        self.lock = threading.Lock()
        self.warned = False

    def bind(self, lib, origin):
        fn = {}
        for name, (argtypes, restype) in _SIGNATURES.items():
            f = getattr(lib, name, None)
            if f is None:
                continue  # an older runtime: that function stays a no-op
            f.argtypes, f.restype = argtypes, restype
            fn[name] = f
        if "flopledger_is_active" not in fn:
            return False
        self.fn, self.origin = fn, origin
        return True


_lib = _Library()
_tried = False


def _find():
    global _tried
    with _lib.lock:
        if _tried:
            return
        _tried = True
        try:
            if _lib.bind(ctypes.CDLL(None), "preloaded"):
                return
        except OSError:
            pass
        path = os.environ.get(ENV_LIBRARY)
        if path:
            try:
                if _lib.bind(ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), path):
                    return
                _say(f"{ENV_LIBRARY}={path!r} does not export the flopledger C API; "
                     "metering calls are no-ops")
            except OSError as e:
                _say(f"cannot load {ENV_LIBRARY}={path!r} ({e}); metering calls are no-ops")
            _lib.warned = True


def _say(message):
    # One write, newline included: print() writes the text and the newline separately, and
    # with several ranks on one terminal (mpirun) another rank's output can land in between.
    sys.stderr.write(f"flopledger: {message}\n")
    sys.stderr.flush()


def load(path):
    """Loads the runtime from `path` (a libflopledger.so) when it is not already in the
    process. Returns True when the C API is bound (from the preloaded runtime or from `path`);
    raises OSError naming the path when it cannot be loaded or is not a flopledger runtime."""
    _find()
    with _lib.lock:
        if _lib.fn:
            return True
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        if not _lib.bind(lib, path):
            raise OSError(f"{path!r} does not export flopledger_is_active: not a flopledger "
                          "runtime")
        return True


def _call(name, *args, default=None):
    """Calls a C API function; `default` (once noted on stderr) when the runtime is absent."""
    _find()
    f = _lib.fn.get(name)
    if f is None:
        if not _lib.warned:
            _lib.warned = True
            _say("the runtime is not loaded in this process (run the job under "
                 f"`flopledger run`, or set {ENV_LIBRARY}); metering calls are no-ops")
        return default
    return f(*args)


def available():
    """True when the runtime's C API is bound in this process (it may still be disabled:
    see is_active)."""
    _find()
    return bool(_lib.fn)


def origin():
    """'preloaded', the path the runtime was loaded from, or None."""
    _find()
    return _lib.origin
