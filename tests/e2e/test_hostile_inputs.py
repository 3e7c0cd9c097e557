#!/usr/bin/env python3
"""Hostile inputs: damaged, foreign, unreadable and newer ledgers, a disk that fills while a job
writes its ledger, and malformed configuration. Each reading command (report, export --json,
status, verify when it exists) and `flopledger run`'s pre-flight must end with its documented exit
status and a message naming the problem; nothing may hang, die by a signal, or dump an HDF5 error
stack. The matrix is documented in docs/hostile-inputs.md."""

import os
import random
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

import h5py  # noqa: E402

# What a crash or an unsilenced HDF5 error stack leaves on stderr.
CRASH_MARKS = ("Segmentation fault", "Aborted", "core dumped", "HDF5-DIAG", "#000:")
TIMEOUT = 60


def clean_exit(c, res, label):
    """No hang, no death by a signal, no crash text on stderr."""
    c.check(not res.timed_out, f"{label}: finishes in time")
    c.check(res.rc is not None and res.rc >= 0, f"{label}: not killed by a signal (rc={res.rc})",
            res.tail())
    marks = [m for m in CRASH_MARKS if m in res.stderr]
    c.check(not marks, f"{label}: no crash or HDF5 stack on stderr", f"{marks}\n{res.tail()}")


def expect(c, res, label, rc, words):
    """Exit status `rc`; stderr contains every string of `words` (a path, the problem)."""
    clean_exit(c, res, label)
    c.equal(res.rc, rc, f"{label}: exit status")
    for w in words:
        c.check(w in res.stderr, f"{label}: message names {w!r}", res.tail())


class Readers:
    """The reading commands of this build: report, export --json, status, and verify if any."""

    def __init__(self, paths):
        self.paths = paths
        usage = subprocess.run([paths.cli, "--help"], capture_output=True, text=True).stdout
        self.has_verify = any(line.split()[:1] == ["verify"] for line in usage.splitlines())
        self.commands = [("report", ["report", "{}"]), ("export --json", ["export", "{}", "--json"]),
                         ("status", ["status", "{}"])]
        if self.has_verify:
            self.commands.append(("verify", ["verify", "{}"]))

    def each(self, path, env=None, prefix=()):
        for name, argv in self.commands:
            cmd = list(prefix) + [self.paths.cli] + [a.format(path) for a in argv]
            yield name, E.run(cmd, env=env or E.base_env(), timeout=TIMEOUT)


def check_readers(c, readers, path, label, words, env=None, prefix=()):
    for name, res in readers.each(path, env, prefix):
        expect(c, res, f"{label}: {name}", 1, words)


def check_preflight(c, paths, ledger, label, rc, words, env_extra=None, prefix=()):
    """`flopledger run --ledger LEDGER -- touch MARKER`: refused (rc 2) before anything starts,
    or, with rc 0, the job ran."""
    marker = c.path("markers", label.replace(" ", "-").replace("/", "-"))
    if os.path.exists(marker):
        os.unlink(marker)
    cmd = list(prefix) + [paths.cli, "run", "--quiet", "--ledger", ledger, "--", "touch", marker]
    res = E.run(cmd, env=E.base_env(env_extra), timeout=TIMEOUT)
    expect(c, res, f"{label}: run pre-flight", rc, words)
    c.equal(os.path.exists(marker), rc == 0, f"{label}: run pre-flight: the program started")
    return res


# ------------------------------------------------------------------------------------------------
# Damaged and foreign files


def damaged_files(c, paths, readers, ledger):
    size = os.path.getsize(ledger)
    data = open(ledger, "rb").read()

    # Cut at several offsets: inside the superblock, inside the metadata, near the end.
    for offset in (40, 700, size // 3, size // 2, size - 1000, size - 1):
        path = c.path("truncated", f"cut-{offset}.h5")
        with open(path, "wb") as f:
            f.write(data[:offset])
        label = f"ledger truncated at byte {offset} of {size}"
        check_readers(c, readers, path, label, [path])
        for name, res in readers.each(path):
            c.check(any(w in res.stderr for w in ("truncated", "damaged", "not an HDF5 file",
                                                  "failed", "crashed the HDF5 library")),
                    f"{label}: {name}: the message says the file is damaged", res.tail())
            break
        check_preflight(c, paths, path, label, 2, [path, "cannot be continued"])

    # A 4 KiB block of zeros in the middle.
    path = c.path("zeroed", "ledger.h5")
    middle = (size // 2) & ~4095
    with open(path, "wb") as f:
        f.write(data[:middle] + bytes(4096) + data[middle + 4096:])
    res = E.run([paths.cli, "report", path, "--json"], timeout=TIMEOUT)
    clean_exit(c, res, "zeroed 4 KiB block: report")
    # Where the block hits metadata the file is refused; where it hits row data the report
    # flags that the stored totals no longer match the rows; where it hits space that holds
    # nothing yet (the unused part of a chunk), the report is the undamaged ledger's.
    if res.rc == 0:
        original = E.run([paths.cli, "report", ledger, "--json"], timeout=TIMEOUT).stdout
        c.check(res.stdout == original or '"totals_match_rows": false' in res.stdout or
                re.search(r'"empty_environment_rows": [1-9]', res.stdout) is not None,
                "zeroed 4 KiB block: read as the original, or the damaged rows flagged",
                res.tail())
    else:
        check_readers(c, readers, path, "zeroed 4 KiB block", [path])
        check_preflight(c, paths, path, "zeroed 4 KiB block", 2, [path, "cannot be continued"])

    # Random bytes.
    path = c.path("random", "ledger.h5")
    with open(path, "wb") as f:
        f.write(random.Random(20250718).randbytes(65536))
    check_readers(c, readers, path, "random file", [path, "not an HDF5 file"])
    check_preflight(c, paths, path, "random file", 2, [path, "not an HDF5 file"])

    # An HDF5 file that is not a ledger.
    path = c.path("foreign", "data.h5")
    with h5py.File(path, "w") as f:
        f["x"] = list(range(10))
        f.attrs["title"] = "not a ledger"
    check_readers(c, readers, path, "HDF5 file that is not a ledger",
                  [path, "not a flopledger trace"])
    check_preflight(c, paths, path, "HDF5 file that is not a ledger", 2,
                    [path, "not a flopledger trace"])

    # A ledger of a newer major format.
    path = c.path("newer", "ledger.h5")
    shutil.copyfile(ledger, path)
    with h5py.File(path, "r+") as f:
        f.attrs.modify("format_version_major", 2)
    check_readers(c, readers, path, "newer major format",
                  [path, "written by a newer flopledger: format 2."])
    check_preflight(c, paths, path, "newer major format", 2, [path, "written by a newer"])

    # An empty file: not a ledger for readers; the writer takes it for one never created.
    path = c.path("empty", "ledger.h5")
    open(path, "wb").close()
    check_readers(c, readers, path, "empty file", [path, "not an HDF5 file"])
    check_preflight(c, paths, path, "empty file", 0, [])
    c.check(os.path.getsize(path) > 0, "empty file: run created the ledger in it")

    # A directory.
    path = c.subdir("a-directory.h5")
    check_readers(c, readers, path, "directory", [path, "is a directory"])
    check_preflight(c, paths, path, "directory", 2, [path, "is a directory"])


def unreadable_files(c, paths, readers, ledger):
    """As `nobody`: root ignores file modes."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if os.geteuid() != 0:
        print("  SKIP: unreadable files: the test must run as root to switch to nobody")
        return
    # The tests' temporary directory must be traversable by nobody for the second case.
    os.chmod(c.tmp, 0o755)
    closed = c.subdir("closed")
    os.chmod(closed, 0o700)
    path = os.path.join(closed, "ledger.h5")
    shutil.copyfile(ledger, path)
    check_readers(c, readers, path, "ledger in a directory nobody can traverse",
                  [path, "Permission denied"], prefix=as_nobody)
    check_preflight(c, paths, path, "ledger in a directory nobody can traverse", 2,
                    [closed, "is not writable"], prefix=as_nobody)

    open_dir = c.subdir("open")
    os.chmod(open_dir, 0o777)
    path = os.path.join(open_dir, "ledger.h5")
    shutil.copyfile(ledger, path)
    os.chmod(path, 0o600)
    check_readers(c, readers, path, "ledger without read permission",
                  [path, "cannot be read (Permission denied)"], prefix=as_nobody)
    check_preflight(c, paths, path, "ledger without read permission", 2,
                    [path, "cannot be read (Permission denied)"], prefix=as_nobody)


def crash_isolation(c, paths, readers, ledger):
    """HDF5 crashing inside a reader (a preloaded H5Fopen that raises SIGSEGV) ends in a message
    naming the file and exit status 1, not in a core dump."""
    crasher = E.find_artifact(paths.build, "libcrash_in_h5fopen.so", ("tests", ""))
    if not c.check(crasher is not None, "tests/libcrash_in_h5fopen.so is built"):
        return
    env = E.base_env({"LD_PRELOAD": crasher})
    words = ["crashed the HDF5 library (signal 11)", "the file is damaged or not a ledger"]
    check_readers(c, readers, ledger, "HDF5 crashing while reading", [ledger] + words, env=env)
    check_preflight(c, paths, ledger, "HDF5 crashing in the pre-flight", 2, [ledger] + words,
                    env_extra={"LD_PRELOAD": crasher})


# ------------------------------------------------------------------------------------------------
# A full disk while the job writes


def full_disk(c, paths):
    mount_point = c.subdir("small-disk")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mount_point],
                         capture_output=True, text=True)
    if res.returncode != 0:
        print(f"  SKIP: full disk: cannot mount a 600 KiB tmpfs here ({res.stderr.strip()})",
              flush=True)
        return
    try:
        # Leave about 300 KiB for the ledger: its rows outgrow that within a few hundred steps.
        # A step row takes about 1 KiB (chunks of 64 rows): with about 300 KiB left, the rows
        # of a 250-step job outgrow the disk.
        with open(os.path.join(mount_point, "filler"), "wb") as f:
            f.write(bytes(300 * 1024))
        ledger = os.path.join(mount_point, "ledger.h5")
        steps = 250
        res = E.flopledger_run(paths, 1, ledger,
                               [paths.mpi_gemm, "--steps", str(steps), "--print-expected"],
                               every_steps=1, env=E.base_env(), timeout=300)
        clean_exit(c, res, "full disk: the job")
        c.equal(res.rc, 0, "full disk: the job exits 0")
        c.check(f"expected_steps={steps}" in res.stdout, "full disk: the job's normal output",
                res.tail())
        c.check("cannot append to the ledger" in res.stderr and "metering goes on" in res.stderr,
                "full disk: rank 0 says the ledger cannot be appended and metering goes on",
                res.tail())
        rep = E.report_json(c, paths, ledger, "full disk")
        if rep is not None:
            raw = E.read_trace(ledger)["steps"]
            n = E.as_int(rep.get("rows"))
            c.check(n is not None and 0 < n < steps,
                    f"full disk: the ledger keeps the rows written before the disk filled ({n})")
            n = n or 0
            c.check([int(r["row"]) for r in raw[:n]] == list(range(n)),
                    f"full disk: the rows kept are numbered 0..{n - 1} without a gap")
            # A row whose dataset extension reached the disk but whose data did not is left out
            # by the reader, with an event that says so.
            if len(raw) > n:
                kinds = [e.get("kind") for e in rep.get("events", [])]
                c.check("unwritten_rows" in kinds,
                        f"full disk: {len(raw) - n} unwritten row(s) left out with an event",
                        kinds)
            c.equal(rep.get("totals_match_rows"), True, "full disk: totals match the rows kept")

            # Space again: the next job continues the ledger after the rows kept.
            os.unlink(os.path.join(mount_point, "filler"))
            res = E.flopledger_run(paths, 1, ledger, [paths.mpi_gemm, "--steps", "3"],
                                   every_steps=1, env=E.base_env(), timeout=120)
            c.ran_ok(res, "full disk: a next job on the same ledger")
            c.check("cannot append" not in res.stderr, "full disk: the next job appends",
                    res.tail())
            again = E.report_json(c, paths, ledger, "full disk, next job")
            if again is not None:
                c.equal(E.as_int(again.get("rows")), n + 3,
                        "full disk: the next job's rows follow the rows kept")
                c.equal(again.get("totals_match_rows"), True,
                        "full disk: totals match after the next job")
    finally:
        # A process of a timed-out job may still hold a file there: then detach it lazily.
        if subprocess.run(["umount", mount_point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", mount_point], capture_output=True)


# ------------------------------------------------------------------------------------------------
# Malformed configuration


def bad_configuration(c, paths):
    broken_rules = c.path("config", "bad.rules")
    with open(broken_rules, "w") as f:
        f.write("this is not a rule set\nthreshold = = =\n")
    cases = [
        ("FLOPLEDGER_EVERY_STEPS", "abc"),
        ("FLOPLEDGER_ORIGINAL_FLOPS", "-5"),
        ("FLOPLEDGER_BUDGET", "150%"),
        ("FLOPLEDGER_MODEL", "/nonexistent"),
        ("FLOPLEDGER_RULE_SET", broken_rules),
        ("FLOPLEDGER_RULE_SET", "/dev/zero"),  # read up to a bound, not forever
        ("FLOPLEDGER_TYPO", "1"),
    ]
    for name, value in cases:
        label = f"{name}={value}"
        ledger = c.path("config", name, "ledger.h5")
        words = [name] if name == "FLOPLEDGER_TYPO" else [name, value]
        check_preflight(c, paths, ledger, label, 2, words, env_extra={name: value})
        c.check(not os.path.exists(ledger), f"{label}: run pre-flight: no ledger created")

        # A plain preload, no `flopledger run`: the job runs on, unmetered, and says why.
        env = E.base_env({name: value, "LD_PRELOAD": paths.runtime,
                          "FLOPLEDGER_LEDGER": ledger})
        res = E.run([paths.mpi_gemm, "--steps", "2", "--print-expected"], env=env, timeout=120)
        clean_exit(c, res, f"{label}: plain LD_PRELOAD")
        c.equal(res.rc, 0, f"{label}: plain LD_PRELOAD: the job exits 0")
        c.check("expected_steps=2" in res.stdout, f"{label}: plain LD_PRELOAD: normal output",
                res.tail())
        c.check(name in res.stderr and "metering is OFF" in res.stderr,
                f"{label}: plain LD_PRELOAD: names the variable, metering off", res.tail())
        c.check(not os.path.exists(ledger), f"{label}: plain LD_PRELOAD: no ledger written")


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_hostile_inputs", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command")
    c.require(paths.mpi_gemm, "mpi_gemm")
    c.require(paths.runtime, "libflopledger.so")
    readers = Readers(paths)
    if not readers.has_verify:
        print("  SKIP: flopledger verify is not in this build; its column is left out", flush=True)

    ledger = c.path("good", "ledger.h5")
    res = E.flopledger_run(paths, 1, ledger, [paths.mpi_gemm, "--steps", "20"], every_steps=1,
                           env=E.base_env())
    if not c.ran_ok(res, "a short mpi_gemm job writes the ledger to damage"):
        c.finish()

    damaged_files(c, paths, readers, ledger)
    unreadable_files(c, paths, readers, ledger)
    crash_isolation(c, paths, readers, ledger)
    full_disk(c, paths)
    bad_configuration(c, paths)
    c.finish()


if __name__ == "__main__":
    main()
