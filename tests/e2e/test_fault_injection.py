#!/usr/bin/env python3
"""Fault injection: metered jobs killed at random moments leave a ledger that opens, keeps an
exact prefix of the steps, marks the segment as not cleanly closed, and takes the next job.

Each trial starts `flopledger run -n R` (R = 2 or 3) of
    mpi_gemm --steps 40 --same-shapes --step-sleep-ms 30 --print-steps
with --every-steps 1 (a row per step), waits a random moment, and kills one random target:
rank 0's process, another rank's process or mpirun, with SIGKILL or SIGTERM (85% of the trials
0-1.4 s after rank 0 created the ledger, 15% 0-0.4 s after the rank processes appeared, during
start-up). Then:
  * `flopledger report --json` reads the ledger (exit 0) and h5py opens it;
  * the first segment's rows are an exact prefix of an unkilled run: row i covers step i + 1
    with exactly the per-step FLOPs of every rank (e2e_common's mpi_gemm formulas), and
    cumulative_counted is the running sum. The one exception is the row of the leaving round
    (the row named by a `rank_exit_error` event, written by the SIGTERM flush or an error exit):
    it may hold a step in progress, so it holds at most one step more than the steps it covers,
    and it is the segment's last row;
  * the segment is `not_closed`, `error` or `terminated`, unless every step was recorded (the job
    finished before the kill took effect): then `clean` is allowed too; SIGTERM to a rank that had
    not finished leaves `terminated` with exit status 143 (the runtime's flush) or `not_closed`
    (the launcher's SIGKILL came first), never a corrupt file;
  * a resumed job on the same ledger (no kill) is not refused (the dead writer's lock is gone),
    appends a clean segment whose steps continue the numbering, with exact rows.
Once per run, fixed cases: two live jobs on one ledger (the second is refused the ledger with a
clear message and the first job's segment stays exact); SIGTERM to a process without a launcher
and to every rank at once (the process ends by SIGTERM, the segment is `terminated` with status
143,
the rows an exact prefix); a Python program whose own SIGTERM handler replaces the runtime's
(its handler runs and decides the exit).

Options beyond the usual --build-dir/--source-dir: --trials N (default 20: the CI mode),
--seed S (default 20261123; printed, so a failing sequence of choices can be replayed).
A summary table (target, signal, delay, rows kept, steps the program completed, rows lost,
segment state) ends the output.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS = 40
SLEEP_MS = 30
TARGETS = ("rank0", "other_rank", "mpirun")
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--trials", type=int, default=20, help="kill trials (default 20)")
    p.add_argument("--seed", type=int, default=20261123, help="random seed (default 20261123)")
    args = p.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    args.source_dir = os.path.abspath(args.source_dir)
    return args


# ------------------------------------------------------------------------------------------------
# Processes


def process_table():
    """{pid: (ppid, state, exe basename)} of every visible process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
            rest = stat[stat.rindex(")") + 2:].split()
            try:
                exe = os.path.basename(os.readlink(f"/proc/{name}/exe"))
            except OSError:
                exe = ""
            table[int(name)] = (int(rest[1]), rest[0], exe)
        except (OSError, ValueError, IndexError):
            continue
    return table


def descendants(root, table):
    out, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in table.items():
            if ppid == parent:
                out.append(pid)
                frontier.append(pid)
    return out


def world_rank(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                    return int(item.split(b"=", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def find_job(job_pid, ranks, timeout=60):
    """(mpirun pid, {rank: pid}) once every rank of the job runs mpi_gemm, else None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        table = process_table()
        below = descendants(job_pid, table)
        launcher = [p for p in below if table[p][0] == job_pid]
        found = {}
        for pid in below:
            if table[pid][2] == "mpi_gemm" and table[pid][1] != "Z":
                r = world_rank(pid)
                if r is not None:
                    found[r] = pid
        if launcher and len(found) == ranks:
            return launcher[0], found
        time.sleep(0.02)
    return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] != "Z"
    except OSError:
        return False


def reap_leftovers(pids, grace):
    """Waits up to `grace` seconds for `pids` to end, then SIGKILLs the rest (ranks orphaned by a
    killed mpirun). Returns how many had to be killed."""
    deadline = time.time() + grace
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    killed = 0
    for p in pids:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return killed


# ------------------------------------------------------------------------------------------------
# The ledger


def step_flops(ranks):
    """FLOPs of one --same-shapes step over every rank."""
    exp = E.mpi_gemm_expected(ranks, 1)
    return sum(exp["step_flops"][r][0] for r in range(ranks))


def superblock_version(path):
    import h5py
    with h5py.File(path, "r") as f:
        return f.id.get_create_plist().get_version()[0]


def segment_rows(trace, segment_id):
    return [r for r in trace["steps"] if int(r.get("segment", 0)) == segment_id]


def leaving_rows(trace):
    """Row numbers named by `rank_exit_error` events: the rows of leaving rounds."""
    return {int(e["row"]) for e in trace["events"] if e.get("kind") == "rank_exit_error"}


def check_prefix(c, label, rows, per_step, first_step, running_before, leaving=frozenset()):
    """The rows of one segment, exact per step from `first_step` on; a row in `leaving` may hold
    a step in progress. Returns (steps covered, whether the last row is such a partial row)."""
    problems = []
    previous_last = first_step - 1
    running = running_before
    steps = 0
    partial = False
    for i, row in enumerate(rows):
        flops = E.row_total(row)
        step_last = int(row["step_last"])
        covers = step_last - previous_last
        index = int(row["row"])
        if index in leaving:
            partial = flops != covers * per_step
            if i != len(rows) - 1:
                problems.append(f"row {index}: the leaving round's row is not the segment's last")
            if not (0 <= covers <= 1 and flops <= (covers + 1) * per_step):
                problems.append(f"row {index} (leaving round): covers {covers} step(s) with "
                                f"{flops} FLOP, more than one step beyond them")
        elif covers != 1 or flops != per_step:
            problems.append(f"row {index}: step_first {row.get('step_first')} step_last "
                            f"{step_last}: covers {covers} step(s) with {flops} FLOP, want 1 "
                            f"step of {per_step}")
        running += flops or 0
        if row.get("cumulative_counted_int") != running:
            problems.append(f"row {index}: cumulative_counted {row.get('cumulative_counted_int')}"
                            f" is not the running sum {running}")
        steps += max(covers, 0)
        previous_last = step_last
    c.check(not problems, f"{label}: rows are an exact prefix of the steps, running totals "
                          f"consistent ({len(rows)} rows)", "\n".join(problems[:8]))
    return steps, partial


def completed_steps(stdout, ranks):
    """Steps every rank completed, from the program's --print-steps lines (None if unknown)."""
    last = {}
    for line in stdout.splitlines():
        kv = E.key_values(line)
        if "completed_step" in kv and "rank" in kv:
            try:
                last[int(kv["rank"])] = max(last.get(int(kv["rank"]), 0),
                                            int(kv["completed_step"]))
            except ValueError:
                continue
    if len(last) < ranks:
        return None
    return min(last.values())


# ------------------------------------------------------------------------------------------------
# One trial


def start_job(paths, ranks, ledger, workdir, steps=STEPS, sleep_ms=SLEEP_MS):
    out = open(os.path.join(workdir, "stdout.txt"), "w", encoding="utf-8")
    err = open(os.path.join(workdir, "stderr.txt"), "w", encoding="utf-8")
    cmd = [paths.cli, "run", "-n", str(ranks), "--ledger", ledger, "--every-steps", "1",
           "--every-seconds", "3600", "--quiet", "--", paths.mpi_gemm, "--steps", str(steps),
           "--same-shapes", "--step-sleep-ms", str(sleep_ms), "--print-steps"]
    job = subprocess.Popen(cmd, env=E.base_env(), stdout=out, stderr=err,
                           start_new_session=True)
    return job, out, err


def finish_job(job, out, err, workdir, timeout=90):
    try:
        job.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(job.pid, sig)
            except ProcessLookupError:
                pass
            try:
                job.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
    out.close()
    err.close()
    with open(os.path.join(workdir, "stdout.txt"), encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    with open(os.path.join(workdir, "stderr.txt"), encoding="utf-8", errors="replace") as f:
        stderr = f.read()
    return job.returncode, stdout, stderr


def trial(c, paths, index, rng):
    ranks = rng.choice((2, 3))
    target = rng.choice(TARGETS)
    sig_name = rng.choice(sorted(SIGNALS))
    # Most kills land while the job runs (the delay counts from the moment rank 0 created the
    # ledger); some during start-up (from the moment every rank process exists).
    during_startup = rng.random() < 0.15
    delay = round(rng.uniform(0.0, 0.4) if during_startup else rng.uniform(0.0, 1.4), 3)
    other = rng.randrange(1, ranks)
    origin = "start" if during_startup else "ledger"
    label = f"trial {index} ({ranks} ranks, {sig_name} {target} {delay:.2f} s after {origin})"
    workdir = c.subdir(f"trial{index:03d}")
    ledger = os.path.join(workdir, "ledger.h5")
    per_step = step_flops(ranks)
    record = {"trial": index, "ranks": ranks, "target": target, "signal": sig_name,
              "origin": origin, "delay": delay, "kept": None, "completed": None, "lost": None,
              "state": "?", "exit_status": None, "partial_row": False, "rc": None, "ok": False}
    failed_before = c.failed

    job, out, err = start_job(paths, ranks, ledger, workdir)
    found = find_job(job.pid, ranks)
    if not c.check(found is not None, f"{label}: the job's mpirun and {ranks} ranks are found"):
        finish_job(job, out, err, workdir, timeout=1)
        return record
    launcher, rank_pids = found
    if not during_startup:
        deadline = time.time() + 60
        while time.time() < deadline and job.poll() is None and not (
                os.path.exists(ledger) and os.path.getsize(ledger) > 0):
            time.sleep(0.01)
    time.sleep(delay)
    victim = {"rank0": rank_pids[0], "other_rank": rank_pids[other], "mpirun": launcher}[target]
    try:
        os.kill(victim, SIGNALS[sig_name])
    except ProcessLookupError:
        pass
    rc, stdout, stderr = finish_job(job, out, err, workdir)
    record["rc"] = rc
    # Ranks orphaned by a killed mpirun run on; the next job must not meet them.
    reap_leftovers(list(rank_pids.values()) + [launcher], grace=10)

    # mpirun carries the ranks' stdout: once it is SIGKILLed, what they print is lost.
    if not (target == "mpirun" and sig_name == "SIGKILL"):
        record["completed"] = completed_steps(stdout, ranks)
    rows = []
    segments_before = 0
    if not os.path.exists(ledger) or os.path.getsize(ledger) == 0:
        # Killed before rank 0 created the ledger (or while it created it: an empty file, which
        # the next job recreates). Nothing was recorded, so nothing can be wrong in it.
        record["state"], record["kept"] = "no_ledger", 0
        c.check(True, f"{label}: killed before the ledger was written")
    else:
        rep = E.report_json(c, paths, ledger, label)
        try:
            trace = E.read_trace(ledger)
        except Exception as e:  # noqa: BLE001
            c.check(False, f"{label}: h5py opens the ledger", repr(e))
            return record
        if rep is None:
            return record
        segs = rep.get("segments") or []
        if not c.check(len(segs) == 1, f"{label}: one segment", f"segments: {segs!r}"):
            return record
        segments_before = 1
        # Default format bounds: superblock version 0, which has no file-consistency flags, so
        # a killed writer leaves nothing to clear (h5clear) before the next open for writing.
        c.equal(superblock_version(ledger), 0, f"{label}: superblock version")
        seg = segs[0]
        record["state"] = seg.get("state")
        record["exit_status"] = E.as_int(seg.get("exit_status"))
        rows = segment_rows(trace, 0)
        kept, partial = check_prefix(c, label, rows, per_step, 1, 0, leaving_rows(trace))
        record["kept"], record["partial_row"] = kept, partial
        finished = kept == STEPS and not partial
        allowed = ("not_closed", "error", "terminated")
        allowed = allowed + ("clean",) if finished else allowed
        c.check(seg.get("state") in allowed,
                f"{label}: segment state {seg.get('state')!r} in {list(allowed)} ({kept} of "
                f"{STEPS} steps recorded)")
        if sig_name == "SIGTERM" and target != "mpirun" and not finished:
            c.check(seg.get("state") == "not_closed" or record["exit_status"] == 143,
                    f"{label}: a SIGTERM flush records exit status 143 (got "
                    f"{seg.get('state')!r}, {record['exit_status']!r})")
    if record["completed"] is not None:
        record["lost"] = record["completed"] - record["kept"]

    # The next job takes the ledger over at once and continues the numbering.
    last_step = int(rows[-1]["step_last"]) if rows else 0
    running = rows[-1].get("cumulative_counted_int") if rows else 0
    res = E.flopledger_run(paths, ranks, ledger, [paths.mpi_gemm, "--steps", "3", "--same-shapes"],
                           every_steps=1, every_seconds=3600, timeout=120)
    c.ran_ok(res, f"{label}: the resumed job")
    c.check("another flopledger job" not in res.stderr,
            f"{label}: the resumed job is not refused the ledger", res.tail())
    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001
        c.check(False, f"{label}: h5py opens the resumed ledger", repr(e))
        return record
    states = [E.segment_state_name(s) for s in trace["segments"]]
    c.check(len(states) == segments_before + 1 and states[-1] == "clean",
            f"{label}: the resumed job appends a clean segment ({states})")
    resumed = segment_rows(trace, segments_before)
    steps, _ = check_prefix(c, f"{label}, resumed", resumed, per_step, last_step + 1, running or 0)
    c.equal(steps, 3, f"{label}: the resumed segment records its 3 steps")
    if resumed:
        c.equal(int(resumed[0]["step_first"]), last_step + 1,
                f"{label}: the resumed job continues the step numbering")
    # The killed-then-resumed ledger verifies: its hash chains hold, its totals are the sums of
    # its rows, and the killed segment is reported as such (not an error).
    if os.path.exists(ledger) and os.path.getsize(ledger) > 0:
        res = E.run([paths.cli, "verify", ledger], env=E.base_env(), timeout=60)
        c.check(res.rc == 0, f"{label}: flopledger verify passes on the ledger", res.tail())
    record["ok"] = c.failed == failed_before
    return record


# ------------------------------------------------------------------------------------------------
# Two live jobs on one ledger


def case_two_live_jobs(c, paths):
    label = "two live jobs on one ledger"
    workdir = c.subdir("two-jobs")
    ledger = os.path.join(workdir, "ledger.h5")
    steps = 60
    job, out, err = start_job(paths, 2, ledger, workdir, steps=steps, sleep_ms=40)
    deadline = time.time() + 60
    while time.time() < deadline and job.poll() is None:
        try:
            if E.read_trace(ledger)["steps"]:
                break
        except Exception:  # noqa: BLE001  (not created yet, or caught mid-creation)
            pass
        time.sleep(0.1)
    second = E.flopledger_run(paths, 2, ledger, [paths.mpi_gemm, "--steps", "2", "--same-shapes"],
                              every_steps=1, every_seconds=3600, timeout=120)
    first_still_running = job.poll() is None
    rc, _, _ = finish_job(job, out, err, workdir)
    c.check(first_still_running, f"{label}: the second job ran while the first was writing")
    c.equal(rc, 0, f"{label}: the first job exits 0")
    c.check("another flopledger job is writing this ledger right now" in second.stderr,
            f"{label}: the second job is refused the ledger with a clear message", second.tail())
    trace = E.read_trace(ledger)
    c.equal([E.segment_state_name(s) for s in trace["segments"]], ["clean"],
            f"{label}: the ledger holds the first job's segment only, clean")
    steps_kept, _ = check_prefix(c, label, segment_rows(trace, 0), step_flops(2), 1, 0)
    c.equal(steps_kept, steps, f"{label}: the first job's {steps} steps are all recorded")


# ------------------------------------------------------------------------------------------------
# SIGTERM, deterministic cases


def wait_for_step(path, step, ranks, timeout=60):
    """Waits until every rank printed completed_step >= step in the file at `path`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, encoding="utf-8", errors="replace") as f:
            done = completed_steps(f.read(), ranks)
        if done is not None and done >= step:
            return True
        time.sleep(0.05)
    return False


def check_sigterm_ledger(c, label, ledger, ranks):
    """A segment ended by the SIGTERM flush: terminated, status 143, a rank_exit_error event, rows
    an exact prefix."""
    trace = E.read_trace(ledger)
    segs = trace["segments"]
    c.equal([(E.segment_state_name(s), int(s["exit_status"])) for s in segs],
            [("terminated", 143)], f"{label}: the segment is closed as terminated with status 143")
    c.check(any(e.get("kind") == "rank_exit_error" for e in trace["events"]),
            f"{label}: a rank_exit_error event records the leaving round")
    kept, _ = check_prefix(c, label, segment_rows(trace, 0), step_flops(ranks) if ranks > 1 else
                           E.mpi_gemm_expected(1, 1)["step_flops"][0][0], 1, 0,
                           leaving_rows(trace))
    c.check(kept >= 5, f"{label}: the steps before the signal are recorded ({kept})")


def case_sigterm_singleton(c, paths):
    label = "SIGTERM, one process without a launcher"
    workdir = c.subdir("sigterm-single")
    ledger = os.path.join(workdir, "ledger.h5")
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                      "FLOPLEDGER_EVERY_STEPS": "1", "FLOPLEDGER_EVERY_SECONDS": "3600",
                      "FLOPLEDGER_QUIET": "1"})
    out_path = os.path.join(workdir, "stdout.txt")
    with open(out_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([paths.mpi_gemm, "--steps", "1000", "--same-shapes",
                                 "--step-sleep-ms", "20", "--print-steps"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        c.check(wait_for_step(out_path, 5, 1), f"{label}: the program runs")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    c.equal(proc.returncode, -signal.SIGTERM, f"{label}: the process ends by SIGTERM")
    check_sigterm_ledger(c, label, ledger, 1)


def case_sigterm_every_rank(c, paths):
    label = "SIGTERM to every rank at once (as srun does)"
    workdir = c.subdir("sigterm-all")
    ledger = os.path.join(workdir, "ledger.h5")
    job, out, err = start_job(paths, 2, ledger, workdir, steps=1000, sleep_ms=20)
    found = find_job(job.pid, 2)
    ok = c.check(found is not None and wait_for_step(os.path.join(workdir, "stdout.txt"), 5, 2),
                 f"{label}: the job runs")
    if ok:
        for pid in found[1].values():
            os.kill(pid, signal.SIGTERM)
    rc, _, stderr = finish_job(job, out, err, workdir, timeout=60)
    c.equal(rc, 143, f"{label}: `flopledger run` returns 128 + SIGTERM")
    if ok:
        check_sigterm_ledger(c, label, ledger, 2)


OWN_HANDLER = r'''
import signal, sys, time
import numpy as np
def on_term(signum, frame):
    print("own handler ran", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("rank=0 completed_step=5", flush=True)
while True:
    _ = np.ones((30, 20), np.float32) @ np.ones((20, 10), np.float32)
    time.sleep(0.02)
'''


def case_program_handler(c, paths):
    label = "a program's own SIGTERM handler replaces the runtime's"
    workdir = c.subdir("own-handler")
    ledger = os.path.join(workdir, "ledger.h5")
    script = os.path.join(workdir, "job.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(OWN_HANDLER)
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                      "FLOPLEDGER_EVERY_SECONDS": "0.2", "FLOPLEDGER_QUIET": "1"})
    out_path = os.path.join(workdir, "stdout.txt")
    with open(out_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([E.PYTHON, script], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        c.check(wait_for_step(out_path, 5, 1), f"{label}: the program runs")
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with open(out_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    c.equal(proc.returncode, 0, f"{label}: the program's handler decides the exit (status 0)")
    c.check("own handler ran" in text, f"{label}: the program's handler ran", text[-2000:])
    trace = E.read_trace(ledger)
    c.equal([E.segment_state_name(s) for s in trace["segments"]], ["clean"],
            f"{label}: its normal exit closes the segment clean")


# ------------------------------------------------------------------------------------------------


def summary(records):
    print("\nfault injection summary", flush=True)
    header = (f"{'trial':>5} {'R':>1} {'target':<10} {'signal':<7} {'after':<6} {'delay':>5} "
              f"{'rc':>4} "
              f"{'kept':>4} {'done':>4} {'lost':>4} {'state':<10} {'exit':>4} {'partial':<7} ok")
    print(header)
    for r in records:
        def show(v):
            return "-" if v is None else str(v)
        print(f"{r['trial']:>5} {r['ranks']:>1} {r['target']:<10} {r['signal']:<7} "
              f"{r['origin']:<6} {r['delay']:>5.2f} {show(r['rc']):>4} {show(r['kept']):>4} "
              f"{show(r['completed']):>4} {show(r['lost']):>4} {str(r['state']):<10} "
              f"{show(r['exit_status']):>4} {str(r['partial_row']):<7} "
              f"{'yes' if r['ok'] else 'NO'}")
    lost = [r["lost"] for r in records if r["lost"] is not None]
    if lost:
        dist = {v: lost.count(v) for v in sorted(set(lost))}
        print(f"rows lost vs steps completed (trials where stdout told): {dist}")
    by = {}
    for r in records:
        by.setdefault((r["target"], r["signal"]), []).append(r["state"])
    for (target, sig), states in sorted(by.items()):
        counts = {s: states.count(s) for s in sorted(set(map(str, states)))}
        print(f"  {target:<10} {sig:<7} {len(states):>3} trials: {counts}")
    print(f"partial leaving rows: {sum(1 for r in records if r['partial_row'])}", flush=True)


def main():
    args = parse_args()
    c = E.Checker("test_fault_injection", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    print(f"test_fault_injection: seed {args.seed}, {args.trials} trials (replay with --seed "
          f"{args.seed} --trials {args.trials})", flush=True)
    rng = random.Random(args.seed)
    case_two_live_jobs(c, paths)
    case_sigterm_singleton(c, paths)
    case_sigterm_every_rank(c, paths)
    case_program_handler(c, paths)
    records = []
    for i in range(args.trials):
        records.append(trial(c, paths, i, rng))
    summary(records)
    c.finish()


if __name__ == "__main__":
    main()
