"""Shared helpers of flopledger's end-to-end tests.

Each test script is run by ctest as
    /usr/bin/python3 tests/e2e/test_X.py --build-dir B --source-dir S
and uses only the standard library, h5py and numpy. A script creates a `Checker`, runs real
programs (mpirun, the `flopledger` command, PyTorch, numpy), reads the HDF5 traces back with
h5py and the BLAS spy's logs, and calls `check(condition, message)` for every assertion; failures
accumulate, and `finish()` prints `test_x: P passed, F failed` and exits non-zero on any failure.

Artifacts the tests expect in the build directory B:
    B/flopledger               the command (`flopledger run|report|status ...`)
    B/libflopledger.so         the runtime
    B/mpi_gemm                 examples/mpi_gemm (also searched under B/examples/mpi_gemm/)
    B/tests/libblas_spy.so     tests/support/blas_spy.c (also searched in B/)

With --sanitized the build directory is an ASan/UBSan build (-DFLOPLEDGER_SANITIZE=ON, see
tests/sanitize/run.sh): every process gets the sanitizer options below (mpirun forwards them to
the ranks), and the cases that run a Python workload are skipped (`skip_python`), since the
interpreter is not instrumented. --cpp-only skips those cases without the sanitizer options.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"  # the Debian interpreter with torch, h5py and numpy

PRECISIONS = ["fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "other"]
PHASES = ["train", "recompute", "eval", "synthetic_data", "other"]
SOURCES = ["blas_gemm", "blas_gemv", "cblas_gemm", "cublas", "cublaslt", "api"]
# trace_format.h FLOPLEDGER_SEGMENT_*
SEGMENT_STATES = {0: "not_closed", 1: "clean", 2: "error", 3: "terminated", 4: "cancelled",
                  5: "timeout", 6: "killed"}
STATUSES = {0: "downstream_user", 1: "provider", 2: "provider_systemic_risk"}

# The default rule set (eu-gpai-2025-07): original compute unknown -> 1/3 x 1e23, floored.
UNKNOWN_ORIGINAL_THRESHOLD = 10**23 // 3

# How mpi_gemm's program calls are attributed (see the table in examples/mpi_gemm/mpi_gemm.cpp).
# j -> (kind, complex, double precision, source)
MPI_GEMM_CALLS = [
    ("gemm", False, False, "blas_gemm"),  # 0 sgemm_
    ("gemm", False, True, "blas_gemm"),  # 1 dgemm_
    ("gemm", True, False, "blas_gemm"),  # 2 cgemm_
    ("gemm", True, True, "blas_gemm"),  # 3 zgemm_
    ("gemm", False, False, "cblas_gemm"),  # 4 cblas_sgemm
    ("gemm", False, True, "cblas_gemm"),  # 5 cblas_dgemm
    ("gemm", True, False, "cblas_gemm"),  # 6 cblas_cgemm
    ("gemm", True, True, "cblas_gemm"),  # 7 cblas_zgemm
    ("gemv", False, False, "blas_gemv"),  # 8 sgemv_
    ("gemv", False, True, "blas_gemv"),  # 9 dgemv_
    ("invalid", False, False, "blas_gemm"),  # 10 sgemm_ with lda < m: 0 FLOPs
    ("alpha0", False, False, "blas_gemm"),  # 11 sgemm_ with alpha = 0: 0 FLOPs
]


# ------------------------------------------------------------------------------------------------
# Arguments, paths, environment


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--build-dir", required=True, help="the CMake build directory")
    p.add_argument("--source-dir", required=True, help="the source tree")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--verbose", action="store_true", help="print every command's output")
    p.add_argument("--cpp-only", action="store_true",
                   help="skip the cases that run a Python workload (PyTorch, numpy)")
    p.add_argument("--sanitized", action="store_true",
                   help="the build directory is an ASan/UBSan build (implies --cpp-only)")
    args = p.parse_args()
    global SANITIZED
    SANITIZED = args.sanitized
    args.cpp_only = args.cpp_only or args.sanitized
    args.build_dir = os.path.abspath(args.build_dir)
    args.source_dir = os.path.abspath(args.source_dir)
    return args


# Set by parse_args(--sanitized): base_env() then adds sanitizer_env().
SANITIZED = False
SANITIZER_VARIABLES = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def sanitizer_env(source_dir=None):
    """The ASan/UBSan/LSan options of a sanitized run: any finding aborts the process with a
    stack trace, so the test sees a non-zero status. Open MPI leaks by design: the leak check
    stays on, with the suppressions of tests/sanitize/lsan.supp (Open MPI and its libraries,
    HDF5 only), matched on full stacks (`fast_unwind_on_malloc=0`: the libraries have no frame
    pointers) of still-loaded objects (Open MPI's components are not unloaded at finalize).
    `verify_asan_link_order=0`: libflopledger.so is preloaded in front of the instrumented
    executable, which loads libasan itself (see docs/decisions.md). Local ranks inherit the
    variables from mpirun; `flopledger_run` also passes them with `-x`."""
    source_dir = source_dir or os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    supp = os.path.join(source_dir, "tests", "sanitize", "lsan.supp")
    return {
        "ASAN_OPTIONS": "detect_leaks=1:fast_unwind_on_malloc=0:verify_asan_link_order=0",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "LSAN_OPTIONS": f"suppressions={supp}:print_suppressions=0",
        "OMPI_MCA_mca_base_component_disable_dlclose": "1",
    }


def skip_python(c, label):
    """True (after saying so) when this run skips the cases with a Python workload."""
    if c.args.cpp_only:
        print(f"  SKIP: {label}: Python workload ("
              f"{'sanitized build' if c.args.sanitized else '--cpp-only'})", flush=True)
        return True
    return False


def find_artifact(build_dir, name, subdirs=("",)):
    """The first existing B/<subdir>/<name>, or None."""
    for sub in subdirs:
        path = os.path.join(build_dir, sub, name)
        if os.path.exists(path):
            return path
    return None


class Paths:
    """Where the build's artifacts are; missing ones are None (tests check what they need)."""

    def __init__(self, args):
        b = args.build_dir
        self.build = b
        self.source = args.source_dir
        self.cli = find_artifact(b, "flopledger", ("", "launchers"))
        self.runtime = find_artifact(b, "libflopledger.so", ("", "runtime"))
        self.mpi_gemm = find_artifact(b, "mpi_gemm", ("", "examples/mpi_gemm", "examples"))
        self.spy = find_artifact(b, "libblas_spy.so", ("tests", "", "tests/support"))
        self.train = os.path.join(args.source_dir, "examples", "torch_finetune", "train.py")


def base_env(extra=None):
    """The process environment, cleaned for a reproducible test: no inherited FLOPLEDGER_*,
    PRETRAIN_FLOPS, LD_PRELOAD or BLAS_SPY_DIR; Open MPI allowed to run as root; one BLAS
    thread per rank; then `extra` (a value of None removes the variable)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOPLEDGER_") and k not in ("PRETRAIN_FLOPS", "LD_PRELOAD",
                                                             "BLAS_SPY_DIR")}
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if SANITIZED:
        env.update(sanitizer_env())
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


# ------------------------------------------------------------------------------------------------
# Running commands


class Result:
    def __init__(self, cmd, rc, stdout, stderr, seconds, timed_out):
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, stdout, stderr
        self.seconds, self.timed_out = seconds, timed_out

    @property
    def output(self):
        return self.stdout + self.stderr

    def tail(self, lines=25):
        text = ("--- stdout ---\n" + "\n".join(self.stdout.splitlines()[-lines:]) +
                "\n--- stderr ---\n" + "\n".join(self.stderr.splitlines()[-lines:]))
        return text


def run(cmd, env=None, timeout=180, cwd=None, verbose=False, echo=True):
    """Runs `cmd` (a list) in its own process group; kills the whole group on timeout (SIGTERM,
    SIGKILL 15 s later). `seconds` is the wall time on a monotonic clock. `echo`: print the
    command and its outcome (the tests' logs); the benchmarks turn it off."""
    start = time.monotonic()
    if echo:
        print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, env=env if env is not None else base_env(), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        # SIGTERM first: mpirun then terminates its ranks (Open MPI puts them in process groups
        # of their own, which a SIGKILL of mpirun's group would leave running).
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                out, err = proc.communicate(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
    seconds = time.monotonic() - start
    res = Result(cmd, proc.returncode, out, err, seconds, timed_out)
    if echo:
        print(f"  -> rc={res.rc}{' (TIMED OUT)' if timed_out else ''} in {seconds:.1f}s",
              flush=True)
    if verbose:
        print(res.tail(200), flush=True)
    return res


def key_values(text):
    """Every `key=value` token of `text`, the last occurrence winning."""
    kv = {}
    for line in text.splitlines():
        for token in line.split():
            if "=" in token:
                k, v = token.split("=", 1)
                if k:
                    kv[k] = v
    return kv


# ------------------------------------------------------------------------------------------------
# Checks


class Checker:
    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.tmp = tempfile.mkdtemp(prefix=f"flopledger-e2e-{name}-")
        print(f"{name}: temporary directory {self.tmp}", flush=True)

    def check(self, cond, message, detail=None):
        if cond:
            self.passed += 1
            print(f"  PASS: {message}", flush=True)
        else:
            self.failed += 1
            self.failures.append(message)
            print(f"  FAIL: {message}", flush=True)
            if detail:
                print("    " + str(detail).replace("\n", "\n    "), flush=True)
        return bool(cond)

    def equal(self, actual, expected, message):
        return self.check(actual == expected, f"{message}: {actual!r} == {expected!r}",
                          None if actual == expected else f"actual {actual!r}, expected "
                                                           f"{expected!r}")

    def ran_ok(self, res, what):
        return self.check(res.rc == 0 and not res.timed_out, f"{what} exits 0 (rc={res.rc})",
                          res.tail())

    def path(self, *parts):
        p = os.path.join(self.tmp, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def subdir(self, name):
        p = os.path.join(self.tmp, name)
        os.makedirs(p, exist_ok=True)
        return p

    def require(self, value, what):
        """Fails and finishes the test at once when a needed artifact is missing."""
        if not value:
            self.check(False, f"{what} exists")
            self.finish()
        return value

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        if self.failed:
            for f in self.failures:
                print(f"  failed: {f}", flush=True)
            print(f"{self.name}: kept {self.tmp} for inspection", flush=True)
            sys.exit(1)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(0)


# ------------------------------------------------------------------------------------------------
# The flopledger command


def flopledger_run(paths, n, ledger, command, every_steps=None, every_seconds=None, quiet=True,
                   extra_preload=None, extra_opts=(), env=None, timeout=240, verbose=False):
    """`flopledger run -n N --ledger L [...] -- command...`."""
    cmd = [paths.cli, "run", "-n", str(n), "--ledger", ledger]
    if every_steps is not None:
        cmd += ["--every-steps", str(every_steps)]
    if every_seconds is not None:
        cmd += ["--every-seconds", str(every_seconds)]
    if quiet:
        cmd.append("--quiet")
    if extra_preload:
        cmd += ["--extra-preload", extra_preload]
    cmd += list(extra_opts)
    if SANITIZED:  # Open MPI's `-x NAME`: pass the sanitizer options to every rank
        for name in SANITIZER_VARIABLES:
            cmd += ["--mpirun-arg=-x", f"--mpirun-arg={name}"]
    cmd += ["--"] + list(command)
    return run(cmd, env=env, timeout=timeout, verbose=verbose)


def report_json(c, paths, ledger, what="report --json"):
    """Runs `flopledger report LEDGER --json`; the parsed object, or None after a failed check."""
    res = run([paths.cli, "report", ledger, "--json"], env=base_env(), timeout=60)
    if not c.check(res.rc == 0, f"{what}: `flopledger report --json` exits 0", res.tail()):
        return None
    try:
        obj = json.loads(res.stdout)
    except ValueError as e:
        c.check(False, f"{what}: report output is one JSON object", f"{e}\n{res.tail()}")
        return None
    c.check(isinstance(obj, dict), f"{what}: report JSON is an object")
    return obj if isinstance(obj, dict) else None


def as_int(value):
    """An exact integer from a JSON value: an int, or a decimal string. None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return None


def json_map(obj, key, names):
    """{name: exact int} from a report's object of decimal strings (missing names -> 0)."""
    m = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(m, dict):
        return None
    return {n: (as_int(m.get(n, "0")) if m.get(n, "0") is not None else None) for n in names}


# ------------------------------------------------------------------------------------------------
# Traces


def _plain(value):
    """numpy/h5py scalars and arrays -> Python ints, floats, strings and lists."""
    import numpy as np
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            return [_plain(v) for v in value.tolist()]
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, str):
        return value.split("\0", 1)[0]
    return value


def _rows(dset):
    names = dset.dtype.names or ()
    rows = []
    for rec in dset[()]:
        rows.append({n: _plain(rec[n]) for n in names})
    return rows


def combine_u128(row, field):
    """The 128-bit value(s) of `field` (uint64 low words) with `field_hi` (high words) if any:
    an int, or a list of ints for array fields."""
    lo = row[field]
    hi = row.get(field + "_hi")
    if isinstance(lo, list):
        if hi is None:
            return [int(v) for v in lo]
        return [(int(h) << 64) + int(v) for v, h in zip(lo, hi)]
    return (int(hi) << 64) + int(lo) if hi is not None else int(lo)


def decimal_field(row, field):
    """An exact decimal string field as int (None when absent or not a decimal)."""
    v = row.get(field)
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return None


def read_trace(path):
    """{'attrs': {...}, 'steps': [row dicts], 'segments': [...], 'events': [...]}, with the
    128-bit columns combined into 'flops_by_precision_u128' etc. Raises on an unreadable file."""
    import h5py
    out = {"attrs": {}, "steps": [], "segments": [], "events": [], "datasets": []}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            out["attrs"][k] = _plain(v)
        out["datasets"] = sorted(f.keys())
        for name in ("steps", "segments", "events"):
            if name in f:
                out[name] = _rows(f[name])
    for row in out["steps"]:
        for field in ("flops_by_precision", "flops_by_phase", "flops_by_source"):
            if field in row:
                row[field + "_u128"] = combine_u128(row, field)
        row["period_flops_int"] = decimal_field(row, "period_flops")
        row["cumulative_counted_int"] = decimal_field(row, "cumulative_counted")
    return out


def read_environment(path):
    """The environment dataset of a 1.1 trace: [{'segment': n, 'key': str, 'value': str}]."""
    import h5py
    with h5py.File(path, "r") as f:
        return _rows(f["environment"]) if "environment" in f else []


def segment_state_name(seg):
    s = seg.get("state")
    if isinstance(s, int):
        return SEGMENT_STATES.get(s, f"state {s}")
    return str(s)


def row_total(row):
    """A step row's FLOPs summed over precisions (exact)."""
    v = row.get("flops_by_precision_u128")
    return sum(v) if isinstance(v, list) else None


# ------------------------------------------------------------------------------------------------
# The BLAS spy's logs (format documented at the top of tests/support/blas_spy.c)


def parse_spy_logs(directory):
    """{pid: [record, ...]} where a record is {'function': ..., 'm': int, ..., 'flops': int}."""
    logs = {}
    if not os.path.isdir(directory):
        return logs
    for name in sorted(os.listdir(directory)):
        if not (name.startswith("spy.") and name.endswith(".log")):
            continue
        pid = int(name[len("spy."):-len(".log")])
        records = []
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                rec = {"function": parts[0]}
                for token in parts[1:]:
                    k, v = token.split("=", 1)
                    rec[k] = int(v) if v.lstrip("-").isdigit() else v
                records.append(rec)
        logs[pid] = records
    return logs


def spy_totals(logs):
    """Exact totals over every logged call: total, by precision, by kind (source), calls by kind
    (not nested) and the number of nested calls."""
    t = {"total": 0, "prec": {p: 0 for p in PRECISIONS}, "kind": {s: 0 for s in SOURCES},
         "calls": {s: 0 for s in SOURCES}, "nested": 0, "invalid": 0, "alpha0": 0, "lines": 0}
    for records in logs.values():
        for r in records:
            t["lines"] += 1
            if r["nested"]:
                t["nested"] += 1
                continue
            t["total"] += r["flops"]
            t["prec"][r["prec"]] += r["flops"]
            t["kind"][r["kind"]] += r["flops"]
            t["calls"][r["kind"]] += 1
            t["invalid"] += 0 if r["valid"] else 1
            t["alpha0"] += r["alpha0"]
    return t


# ------------------------------------------------------------------------------------------------
# mpi_gemm's expected figures, computed here independently of the program


def mpi_gemm_shape(r, s, j):
    return 16 + 3 * r + s + j, 12 + 2 * r + 2 * s + j, 8 + r + 3 * s + 2 * j


def mpi_gemm_call_flops(r, s, j):
    kind, is_complex, _, _ = MPI_GEMM_CALLS[j]
    m, n, k = mpi_gemm_shape(r, s, j)
    if kind == "gemm":
        return (8 if is_complex else 2) * m * n * k
    if kind == "gemv":
        return 2 * m * n
    return 0


def mpi_gemm_expected(ranks, steps):
    """Exact figures for `mpi_gemm --steps steps` on `ranks` ranks."""
    e = {"total": 0, "prec": {p: 0 for p in PRECISIONS}, "source": {s: 0 for s in SOURCES},
         "step_flops": [[0] * steps for _ in range(ranks)],  # [rank][0-based step]
         "tokens": sum(1000 + r for r in range(ranks)) * steps,
         "calls": {s: 0 for s in SOURCES}}
    for r in range(ranks):
        for s in range(steps):
            for j, (kind, _, is_double, source) in enumerate(MPI_GEMM_CALLS):
                f = mpi_gemm_call_flops(r, s, j)
                e["total"] += f
                e["prec"]["fp64" if is_double else "fp32"] += f
                e["source"][source] += f
                e["step_flops"][r][s] += f
                if kind in ("gemm", "gemv"):
                    e["calls"][source] += 1
    return e


def torch_available():
    res = subprocess.run([PYTHON, "-c", "import torch"], capture_output=True, text=True)
    return res.returncode == 0


# ------------------------------------------------------------------------------------------------
# Shared assertions


def check_report_totals(c, rep, label, total, prec=None, source=None, phase=None, tokens=None,
                        steps=None, ranks=None):
    """Exact checks of a report's totals; a None expectation is not checked."""
    if rep is None:
        return
    c.equal(as_int(rep.get("counted_flops")), total, f"{label}: counted_flops")
    if prec is not None:
        got = json_map(rep, "counted_flops_by_precision", PRECISIONS)
        c.equal(got, {p: prec.get(p, 0) for p in PRECISIONS},
                f"{label}: counted_flops_by_precision")
    if source is not None:
        got = json_map(rep, "counted_flops_by_source", SOURCES)
        c.equal(got, {s: source.get(s, 0) for s in SOURCES}, f"{label}: counted_flops_by_source")
    if phase is not None:
        got = json_map(rep, "counted_flops_by_phase", PHASES)
        c.equal(got, {p: phase.get(p, 0) for p in PHASES}, f"{label}: counted_flops_by_phase")
    if tokens is not None:
        c.equal(as_int(rep.get("tokens")), tokens, f"{label}: tokens")
    if steps is not None:
        c.equal(as_int(rep.get("steps")), steps, f"{label}: steps")
    if ranks is not None:
        c.equal(as_int(rep.get("ranks")), ranks, f"{label}: ranks")


def check_downstream_default(c, rep, label, modification):
    """Status fields of a report for a job far below the default threshold (original unknown)."""
    if rep is None:
        return
    c.equal(as_int(rep.get("modification_flops")), modification, f"{label}: modification_flops")
    c.equal(rep.get("status"), "downstream_user", f"{label}: status")
    c.equal(as_int(rep.get("threshold_flops")), UNKNOWN_ORIGINAL_THRESHOLD,
            f"{label}: threshold_flops (original unknown: 1e23/3)")
    c.equal(rep.get("rule"), "unknown_original_default", f"{label}: rule")
    c.check(isinstance(rep.get("rule_set"), str) and rep.get("rule_set"),
            f"{label}: rule_set is named ({rep.get('rule_set')!r})")
    frac = rep.get("fraction_of_threshold")
    want = modification / (10**23 / 3)
    c.check(isinstance(frac, (int, float)) and abs(frac - want) <= 1e-9 * want + 1e-30,
            f"{label}: fraction_of_threshold {frac!r} ~ {want!r}")
    c.equal(rep.get("notify_commission"), False, f"{label}: notify_commission")


def check_segments(c, rep, label, world_size, states=("clean",), exit_status=0, count=1):
    """The report's segments: `count` of them, the last in one of `states`."""
    if rep is None:
        return None
    segs = rep.get("segments")
    if not c.check(isinstance(segs, list) and len(segs) == count,
                   f"{label}: {count} segment(s) in the report",
                   f"segments: {segs!r}"):
        return None
    seg = segs[-1]
    c.check(seg.get("state") in states,
            f"{label}: segment state {seg.get('state')!r} in {list(states)}")
    c.equal(as_int(seg.get("world_size")), world_size, f"{label}: segment world_size")
    c.check(isinstance(seg.get("hosts"), (str, list)) and len(seg.get("hosts")) > 0,
            f"{label}: segment names its hosts ({seg.get('hosts')!r})")
    if exit_status is not None:
        c.equal(as_int(seg.get("exit_status")), exit_status, f"{label}: segment exit_status")
    return seg


def covered_steps(rows):
    """For each step row (in file order): the steps it covers, (previous step_last, step_last]
    within its segment."""
    out = []
    prev = {}
    for row in rows:
        seg = row.get("segment", 0)
        last = int(row["step_last"])
        first = prev.get(seg, 0)
        out.append(list(range(first + 1, last + 1)))
        prev[seg] = max(first, last)
    return out


def check_step_rows(c, trace, label, ranks, steps, step_flops, step_tokens, total,
                    complete=True):
    """Exact per-row checks of an API-mode trace written with --every-steps 1.

    step_flops[r][s-1], step_tokens[r][s-1]: what rank r did in step s (1-based in the trace).
    Each row covers the steps (previous row's step_last, its step_last]; its FLOPs must be the
    exact sum over ranks of those steps, its rank_flops_min/max the smallest / largest rank's
    sum, likewise tokens. complete: every step 1..steps must be covered (else: a prefix)."""
    rows = trace["steps"]
    if not c.check(len(rows) > 0, f"{label}: the trace has step rows ({len(rows)})"):
        return
    covered = covered_steps(rows)
    all_covered = [s for cov in covered for s in cov]
    max_step = max(all_covered) if all_covered else 0
    if complete:
        c.equal(all_covered, list(range(1, steps + 1)), f"{label}: rows cover steps 1..{steps}")
    else:
        c.equal(all_covered, list(range(1, max_step + 1)),
                f"{label}: rows cover a prefix of the steps")
    row_sums = [row_total(r) for r in rows]
    c.check(all(v is not None for v in row_sums),
            f"{label}: rows carry flops_by_precision (and _hi)")
    trace_total = sum(v or 0 for v in row_sums)
    want_total = total if complete else sum(step_flops[r][s - 1] for r in range(ranks)
                                            for s in range(1, max_step + 1))
    c.equal(trace_total, want_total, f"{label}: sum of the rows' FLOPs")
    periods = [r.get("period_flops_int") for r in rows]
    if c.check(all(p is not None for p in periods), f"{label}: period_flops are decimals"):
        c.equal(sum(periods), want_total, f"{label}: sum of period_flops")
        c.equal(periods, row_sums, f"{label}: period_flops == flops_by_precision sums, row by row")
    cum = rows[-1].get("cumulative_counted_int")
    c.equal(cum, want_total, f"{label}: cumulative_counted of the last row")
    running = 0
    cum_ok = True
    for r, p in zip(rows, row_sums):
        running += p or 0
        cum_ok = cum_ok and r.get("cumulative_counted_int") == running
    c.check(cum_ok, f"{label}: cumulative_counted is the running sum of the rows")
    for field in ("flops_by_phase_u128", "flops_by_source_u128"):
        ok = all(isinstance(r.get(field), list) and sum(r[field]) == t
                 for r, t in zip(rows, row_sums))
        c.check(ok, f"{label}: each row's {field[:-5]} sums to its FLOPs")

    bad = []
    for i, (row, cov) in enumerate(zip(rows, covered)):
        want_flops = sum(step_flops[r][s - 1] for r in range(ranks) for s in cov)
        per_rank = [sum(step_flops[r][s - 1] for s in cov) for r in range(ranks)]
        per_rank_tokens = [sum(step_tokens[r][s - 1] for s in cov) for r in range(ranks)]
        got = {
            "flops": row_sums[i],
            "rank_flops_min": combine_u128(row, "rank_flops_min"),
            "rank_flops_max": combine_u128(row, "rank_flops_max"),
            "tokens": combine_u128(row, "tokens"),
            "rank_tokens_min": combine_u128(row, "rank_tokens_min"),
            "rank_tokens_max": combine_u128(row, "rank_tokens_max"),
            "ranks": row.get("ranks"),
        }
        want = {
            "flops": want_flops,
            "rank_flops_min": min(per_rank) if cov else got["rank_flops_min"],
            "rank_flops_max": max(per_rank) if cov else got["rank_flops_max"],
            "tokens": sum(per_rank_tokens),
            "rank_tokens_min": min(per_rank_tokens) if cov else got["rank_tokens_min"],
            "rank_tokens_max": max(per_rank_tokens) if cov else got["rank_tokens_max"],
            "ranks": ranks,
        }
        if not cov:  # a round with no step end (e.g. the final one at shutdown): nothing in it
            want["rank_flops_max"] = 0
            want["rank_tokens_max"] = 0
        if got != want:
            bad.append(f"row {i} (step_first={row.get('step_first')}, "
                       f"step_last={row.get('step_last')}, covers {cov}): got {got}, "
                       f"want {want}")
        if cov and row.get("ranks_active") != ranks:
            bad.append(f"row {i}: ranks_active {row.get('ranks_active')} != {ranks}")
        if cov and int(row.get("step_first", -1)) != cov[0]:
            bad.append(f"row {i}: step_first {row.get('step_first')} is not the first step it "
                       f"covers ({cov[0]})")
    c.check(not bad, f"{label}: every row's FLOPs, per-rank MIN/MAX (rank 0 / rank {ranks - 1}),"
                     f" tokens and ranks are exact", "\n".join(bad[:8]))
