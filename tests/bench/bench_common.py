"""Shared helpers of the end-to-end benchmarks (tests/bench/e2e_overhead.py, fidelity.py).

Standard library only (plus tests/e2e/e2e_common.py, which the benchmarks reuse for the
environment, the BLAS spy's logs and mpi_gemm's closed-form figures). A benchmark measures and
reports; it never asserts timings. `fail()` is for what could not run.
"""

import ctypes
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import e2e_common as E  # noqa: E402,F401  (re-exported for the benchmarks)

PYTHON = E.PYTHON
TRAIN = os.path.join(ROOT, "examples", "torch_finetune", "train.py")


def fail(prog, message):
    """Something the benchmark needs could not run: say what, exit 1."""
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def build_dir():
    """$FL_BUILD_DIR, else build/ at the top of the source tree (as tests/bench/run.sh)."""
    return os.path.abspath(os.environ.get("FL_BUILD_DIR") or os.path.join(ROOT, "build"))


class Artifacts:
    """The build's artifacts the benchmarks use; fail() names the first missing one."""

    def __init__(self, prog, need=("cli", "runtime")):
        b = build_dir()
        self.build = b
        self.cli = E.find_artifact(b, "flopledger", ("", "launchers"))
        self.runtime = E.find_artifact(b, "libflopledger.so", ("", "runtime"))
        self.mpi_gemm = E.find_artifact(b, "mpi_gemm", ("", "examples/mpi_gemm", "examples"))
        self.spy = E.find_artifact(b, "libblas_spy.so", ("tests", "", "tests/support"))
        what = {"cli": "flopledger", "runtime": "libflopledger.so", "mpi_gemm": "mpi_gemm",
                "spy": "tests/libblas_spy.so"}
        for key in need:
            if not getattr(self, key):
                fail(prog, f"{what[key]} not found in the build directory {b}: build it first "
                           f"(cmake --build {b}, or bash .ci/build.sh) or set FL_BUILD_DIR")


def mpirun_prefix(ranks):
    """`mpirun -np N`, with --oversubscribe exactly when `flopledger run` adds it (more ranks
    than hardware threads), so that the unmetered and metered jobs are launched alike."""
    cmd = ["mpirun", "-np", str(ranks)]
    if ranks > (os.cpu_count() or 1):
        cmd.append("--oversubscribe")
    return cmd


class Run:
    def __init__(self, cmd, rc, stdout, stderr, wall_s, timed_out):
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, stdout, stderr
        self.wall_s, self.timed_out = wall_s, timed_out

    def ok(self):
        return self.rc == 0 and not self.timed_out

    def tail(self, lines=30):
        return ("$ " + " ".join(self.cmd) + f"\n(exit {self.rc}"
                + (", timed out" if self.timed_out else "") + ")\n--- stdout ---\n"
                + "\n".join(self.stdout.splitlines()[-lines:]) + "\n--- stderr ---\n"
                + "\n".join(self.stderr.splitlines()[-lines:]))


def run(cmd, env, timeout):
    """Runs `cmd` in its own session; wall time from start to exit on a monotonic clock. On
    timeout: SIGTERM to the group (mpirun then ends its ranks), SIGKILL after 15 s."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        out, err = "", ""
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
    return Run(cmd, proc.returncode, out, err, time.monotonic() - start, timed_out)


def spread(values):
    """{'median', 'min', 'max', 'values'} of a non-empty list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": list(values)}


def fmt_spread(s, digits=3):
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}..{s['max']:.{digits}f})"


def _first_line(cmd):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = (res.stdout or res.stderr).strip().splitlines()
        return lines[0].strip() if lines else None
    except (OSError, subprocess.SubprocessError):
        return None


def _openblas_config():
    """OpenBLAS's own openblas_get_config() (version, target, threading), loaded here with one
    thread; None when it cannot be loaded."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        f = lib.openblas_get_config
        f.restype = ctypes.c_char_p
        return f().decode()
    except (OSError, AttributeError):
        return None


def machine():
    """Where the figures were taken: cores, CPU, load, library versions, source revision.
    Cheap (no torch import: the version comes from its package metadata)."""
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import importlib.metadata as md
        torch_version = md.version("torch")
    except Exception:  # noqa: BLE001 - not installed, or no metadata
        torch_version = None
    revision = _first_line(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"])
    dirty = False
    if revision:
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip() != ""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "loadavg_1_5_15": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "torch": torch_version,
        "torch_package": _first_line(["dpkg-query", "-W", "-f=${Version}", "python3-torch"]),
        "openblas": _openblas_config(),
        "mpi": _first_line(["mpirun", "--version"]),
        "flopledger_revision": (revision + ("+dirty" if dirty else "")) if revision else None,
        "build_dir": build_dir(),
    }


def print_machine(m):
    print(f"machine: {m['nproc']} cores, {m['cpu_model']}; load average "
          f"{m['loadavg_1_5_15'][0]:.2f}; torch {m['torch']} ({m['torch_package']}); "
          f"{m['openblas']}; {m['mpi']}; flopledger {m['flopledger_revision']}", flush=True)
