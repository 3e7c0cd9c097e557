"""Shared helpers of the benchmark drivers (reduce_bench.py, trace_bench.py): statistics, the
machine description, child processes with their peak memory, key=value output parsing.
Standard library only. Every failure is a BenchError with a message for people."""

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


class BenchError(Exception):
    """Something could not run: the driver prints the message and exits 1."""


def spread(values):
    """Median with min..max, as a dict (empty list: BenchError)."""
    if not values:
        raise BenchError("no measurements to summarise")
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def fmt_spread(s, digits=1):
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}..{s['max']:.{digits}f})"


def build_dir(root):
    """$FL_BUILD_DIR or ROOT/build, which must exist."""
    path = os.path.abspath(os.environ.get("FL_BUILD_DIR") or os.path.join(root, "build"))
    if not os.path.isdir(path):
        raise BenchError(f"build directory {path} not found: build flopledger first "
                         "(cmake -S . -B build && cmake --build build -j2) or set FL_BUILD_DIR")
    return path


def need_file(path, what):
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise BenchError(f"{path} not found or not executable: {what}")
    return path


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def cmake_cache_value(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as cache:
            for line in cache:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine(root, build):
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    os_name = "unknown"
    try:
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    commit = first_line(["git", "-C", root, "rev-parse", "HEAD"])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "os": os_name,
        "load_average_1_5_15": load,
        "python": platform.python_version(),
        "mpirun": first_line(["mpirun", "--version"]) if shutil.which("mpirun") else "not found",
        "compiler": cmake_cache_value(build, "CMAKE_CXX_COMPILER"),
        "build_type": cmake_cache_value(build, "CMAKE_BUILD_TYPE"),
        "git_commit": commit,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


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


def fail(script, message):
    print(f"{script}: {message}", file=sys.stderr)
    sys.exit(1)
