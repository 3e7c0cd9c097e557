"""Shared helpers of the benchmark drivers (tests/bench/e2e_overhead.py, fidelity.py,
reduce_bench.py, trace_bench.py): statistics, the machine description, child processes (with a
timeout, or with their peak memory), the build's artifacts, key=value output parsing.

Standard library only (plus tests/e2e/e2e_common.py, which the end-to-end benchmarks reuse for
the environment, the BLAS spy's logs and mpi_gemm's closed-form figures). A benchmark measures
and reports; it never asserts timings. What could not run is a BenchError or `fail()`: a message
for people and exit status 1.
"""

import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import e2e_common as E  # noqa: E402,F401  (re-exported for the benchmarks)

PYTHON = E.PYTHON
TRAIN = os.path.join(ROOT, "examples", "torch_finetune", "train.py")


class BenchError(Exception):
    """Something could not run: the driver prints the message and exits 1."""


def fail(prog, message):
    """Something the benchmark needs could not run: say what, exit 1."""
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def build_dir(check=False):
    """$FL_BUILD_DIR, else build/ at the top of the source tree (as tests/bench/run.sh); with
    `check`, a BenchError when it does not exist."""
    path = os.path.abspath(os.environ.get("FL_BUILD_DIR") or os.path.join(ROOT, "build"))
    if check and not os.path.isdir(path):
        raise BenchError(f"build directory {path} not found: build flopledger first "
                         "(bash .ci/build.sh) or set FL_BUILD_DIR")
    return path


def need_file(path, what):
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise BenchError(f"{path} not found or not executable: {what}")
    return path


def spread(values):
    """{'median', 'min', 'max', 'n', 'values'} of a non-empty list of numbers."""
    if not values:
        raise BenchError("no measurements to summarise")
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values), "values": list(values)}


def fmt_spread(s, digits=1):
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}..{s['max']:.{digits}f})"


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


def torch_job_start(prog, need):
    """What a benchmark of the default PyTorch job checks first: the build's artifacts in `need`,
    train.py and mpirun; fail() names what is missing. Returns (Artifacts, machine())."""
    art = Artifacts(prog, need=need)
    if not os.path.exists(TRAIN):
        fail(prog, f"{TRAIN} not found")
    if shutil.which("mpirun") is None:
        fail(prog, "mpirun not found on PATH (install Open MPI)")
    return art, machine()


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
    """Runs `cmd` in its own session (tests/e2e/e2e_common.run, without its echo); wall time
    from start to exit on a monotonic clock. On timeout: SIGTERM to the group (mpirun then ends
    its ranks), SIGKILL after 15 s."""
    r = E.run(cmd, env=env, timeout=timeout, echo=False)
    return Run(cmd, r.rc, r.stdout, r.stderr, r.seconds, r.timed_out)


def write_json(path, result):
    """The benchmark's results as JSON (UTF-8, indented), and where they went."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"\nresults: {path}")


def finish(args, result, tmp):
    """The end of a torch-job benchmark: its JSON when --out was given; its temporary directory
    kept with --keep (and said so), removed otherwise."""
    if args.out:
        write_json(args.out, result)
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def main_of(script, main):
    """Runs a driver's main(); a BenchError becomes its message and exit status 1."""
    try:
        sys.exit(main() or 0)
    except BenchError as exc:
        print(f"{script}: {exc}", file=sys.stderr)
        sys.exit(1)


def clean_env(extra=None):
    """The environment for benchmark children: no preloaded runtime, no FLOPLEDGER_ settings
    inherited from the caller, Open MPI allowed to run as root and to oversubscribe."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOPLEDGER_") and k != "LD_PRELOAD"}
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env.update(extra or {})
    return env


def run_with_rusage(cmd, timeout, env=None, stdout_path=None):
    """Runs cmd; returns (exit status, wall seconds, peak RSS in kB, stdout, stderr). The peak
    RSS is the child's own ru_maxrss from os.wait4 (for mpirun: the largest of mpirun and the
    ranks it waited for). stdout goes to stdout_path when given (then "" is returned for it).
    Raises BenchError when cmd cannot start or runs past `timeout` seconds (it is killed)."""
    with tempfile.TemporaryFile("w+") as err, \
            (open(stdout_path, "w") if stdout_path else tempfile.TemporaryFile("w+")) as out:
        try:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        except OSError as exc:
            raise BenchError(f"cannot start {cmd[0]}: {exc}") from exc
        expired = threading.Event()

        def kill():
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if expired.is_set():
            raise BenchError(f"{' '.join(cmd)} ran longer than {timeout} s and was killed")
        err.seek(0)
        stdout = ""
        if not stdout_path:
            out.seek(0)
            stdout = out.read()
        return proc.returncode, wall, usage.ru_maxrss, stdout, err.read()


KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse_kv(line):
    """'tag a=1 b="x y"' -> ('tag', {'a': '1', 'b': 'x y'})."""
    tag = line.split(" ", 1)[0]
    return tag, {k: v.strip('"') for k, v in KV.findall(line)}


def first_line(cmd):
    """The first line a command prints (stdout, else stderr); None when it cannot run."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = (res.stdout or res.stderr).strip().splitlines()
        return lines[0].strip() if lines else None
    except (OSError, subprocess.SubprocessError):
        return None


def cmake_cache_value(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as cache:
            for line in cache:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
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


def _os_name():
    try:
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def machine():
    """Where the figures were taken: cores, CPU, load, OS, library versions, the build, the
    source revision. Cheap (no torch import: its version comes from the package metadata)."""
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
    revision = first_line(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"])
    dirty = False
    if revision:
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip() != ""
    build = build_dir()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "loadavg_1_5_15": list(os.getloadavg()),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "torch": torch_version,
        "torch_package": first_line(["dpkg-query", "-W", "-f=${Version}", "python3-torch"]),
        "openblas": _openblas_config(),
        "mpi": first_line(["mpirun", "--version"]) if shutil.which("mpirun") else None,
        "compiler": cmake_cache_value(build, "CMAKE_CXX_COMPILER"),
        "build_type": cmake_cache_value(build, "CMAKE_BUILD_TYPE"),
        "flopledger_revision": (revision + ("+dirty" if dirty else "")) if revision else None,
        "build_dir": build,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def print_machine(m):
    print(f"machine: {m['nproc']} cores, {m['cpu_model']}; load average "
          f"{m['loadavg_1_5_15'][0]:.2f}; torch {m['torch']} ({m['torch_package']}); "
          f"{m['openblas']}; {m['mpi']}; flopledger {m['flopledger_revision']} "
          f"({m['build_type']} build)", flush=True)
