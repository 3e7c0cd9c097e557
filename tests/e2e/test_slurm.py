#!/usr/bin/env python3
"""End-to-end under a real SLURM cluster: sbatch, srun --mpi=pmix, the SPANK plugin, the epilog.

The test brings up a one-node cluster on this machine (Debian's slurm-wlm and munge): a private
munged, slurmctld and slurmd, started with a slurm.conf generated in the test's temporary
directory (free ports, its own state and spool directories, plugstack.conf loading the built
SPANK plugin, Epilog= a wrapper around launchers/slurm/flopledger-epilog.sh), and stops them by
PID at the end, also when a check fails. Then, with examples/mpi_gemm (exact expected totals):
  1. sbatch --flopledger=L of a 2-task job running `srun --mpi=pmix mpi_gemm`: the ledger's total
     is exact, its segment carries the SLURM job id (launcher srun, 2 ranks, clean) and the
     environment dataset the job identity (job, step, node list, partition, user); `flopledger
     report` shows it; `flopledger verify` passes;
  2. the same with `mpirun -np 2 mpi_gemm` inside the batch script; and `flopledger run -n 2`
     inside a batch script without the option (it starts the ranks with srun --mpi=pmix), and
     `srun --mpi=pmix flopledger exec -- mpi_gemm` without the option;
  3. scancel during a long run: the ledger opens, its rows are an exact prefix of the run (what
     was flushed is kept), the segment is stamped `cancelled` by the epilog, verify passes; the
     same for a job that reaches its 1-minute time limit: stamped `timeout`;
  4. a job array into one ledger per task (%A_%a): exact totals, array job and task ids;
  5. a job without the option: its tasks see no LD_PRELOAD of the runtime and no FLOPLEDGER_*
     variable, no ledger and no spool entry appear, the program's output is unchanged;
  6. bad option values are refused by sbatch and srun at submission with a message naming the
     value, and no job is queued.
Skipped (exit 0 with a SKIPPED line) when slurm-wlm, munge or the plugin are not installed/built:
.ci/install-deps.sh installs them.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS = 4
TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "squeue", "scancel",
         "sinfo")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A private one-node SLURM cluster; stop() kills what start() started, by PID."""

    def __init__(self, c, paths, plugin, runtime):
        self.c, self.paths = c, paths
        self.dir = c.subdir("cluster")
        self.procs = []
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.spool = os.path.join(self.dir, "flopledger-spool")
        self.plugin, self.runtime = plugin, runtime
        self.env = E.base_env({"SLURM_CONF": self.conf})
        for k in list(self.env):
            if k.startswith("SLURM_") and k != "SLURM_CONF":
                del self.env[k]

    def write_config(self):
        d = self.dir
        for sub in ("state", "spool", "munge", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.makedirs(self.spool, mode=0o700, exist_ok=True)
        os.chmod(os.path.join(d, "munge"), 0o711)  # munged insists on it
        with open(os.path.join(d, "plugstack.conf"), "w") as f:
            f.write(f"required {self.plugin} runtime={self.runtime} spool={self.spool}\n")
        epilog = os.path.join(d, "epilog.sh")
        with open(epilog, "w") as f:
            f.write("#!/bin/bash\n"
                    f"export FL_EPILOG_SPOOL={self.spool}\n"
                    f"export FL_EPILOG_FLOPLEDGER={self.paths.cli}\n"
                    f"export FL_EPILOG_SCONTROL={shutil.which('scontrol')}\n"
                    f"export SLURM_CONF={self.conf}\n"
                    f"exec {os.path.join(self.paths.source, 'launchers/slurm/flopledger-epilog.sh')}"
                    "\n")
        os.chmod(epilog, 0o755)
        cpus = max(os.cpu_count() or 2, 2)
        lines = [
            "ClusterName=fltest",
            f"SlurmctldHost={self.host}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", "CredType=cred/munge",
            f"AuthInfo=socket={d}/munge/munge.socket",
            f"StateSaveLocation={d}/state", f"SlurmdSpoolDir={d}/spool",
            f"SlurmctldPidFile={d}/slurmctld.pid", f"SlurmdPidFile={d}/slurmd.pid",
            f"SlurmctldLogFile={d}/log/slurmctld.log", f"SlurmdLogFile={d}/log/slurmd.log",
            "SlurmctldDebug=info", "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/builtin", "MpiDefault=none", "ReturnToService=2",
            "SlurmdParameters=config_overrides", "KillWait=10", "InactiveLimit=0",
            "MinJobAge=300",
            f"PlugStackConfig={d}/plugstack.conf", f"Epilog={epilog}",
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN",
            f"PartitionName=fltest Nodes={self.host} Default=YES MaxTime=INFINITE State=UP",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        d = self.dir
        self.write_config()
        key = os.path.join(d, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        munged = subprocess.Popen(
            ["munged", "-F", "-f", f"--socket={d}/munge/munge.socket", f"--key-file={key}",
             f"--pid-file={d}/munge/munged.pid", f"--log-file={d}/log/munged.log",
             f"--seed-file={d}/munge/munged.seed"],
            stdout=subprocess.DEVNULL, stderr=open(f"{d}/log/munged.err", "w"))
        self.procs.append(("munged", munged))
        for _ in range(100):
            if os.path.exists(f"{d}/munge/munge.socket"):
                break
            time.sleep(0.1)
        for name in ("slurmctld", "slurmd"):
            p = subprocess.Popen([name, "-D", "-f", self.conf], env=self.env,
                                 stdout=open(f"{d}/log/{name}.out", "w"),
                                 stderr=subprocess.STDOUT)
            self.procs.append((name, p))
            time.sleep(0.5)
        deadline = time.time() + 60
        while time.time() < deadline:
            for name, p in self.procs:
                if p.poll() is not None:
                    return self.fail_start(f"{name} exited with {p.returncode}")
            r = self.run(["sinfo", "-h", "-o", "%T"], timeout=10)
            if r.rc == 0 and r.stdout.strip() in ("idle", "idle*", "mixed"):
                return True
            time.sleep(0.5)
        return self.fail_start("the node did not become idle in 60 s")

    def fail_start(self, why):
        logs = ""
        for name in ("slurmctld.log", "slurmd.log", "munged.err", "slurmctld.out", "slurmd.out"):
            p = os.path.join(self.dir, "log", name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    logs += f"--- {name}\n" + "".join(f.readlines()[-15:])
        self.c.check(False, f"the SLURM cluster starts ({why})", logs)
        return False

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []

    def run(self, cmd, timeout=60, cwd=None, env=None):
        return E.run(cmd, env=env or self.env, timeout=timeout, cwd=cwd or self.dir)

    def sbatch(self, script, options=(), cwd=None):
        """Submits `script` (text); the job id, or None after a failed check."""
        path = os.path.join(cwd or self.dir, f"job-{time.time_ns()}.sh")
        with open(path, "w") as f:
            f.write(script)
        r = self.run(["sbatch", "--parsable", "-n", "2", "-o", path + ".out", *options, path],
                     cwd=cwd)
        if not self.c.check(r.rc == 0, f"sbatch {' '.join(options)} accepts the job", r.tail()):
            return None, path + ".out"
        return r.stdout.strip().split(";")[0], path + ".out"

    def state(self, job):
        r = self.run(["scontrol", "show", "job", job, "-o"], timeout=10)
        m = re.search(r"JobState=(\S+)", r.stdout)
        return m.group(1) if m else None

    def wait_done(self, job, timeout=90):
        """Waits until the job left the queue and its epilog ran; its final state."""
        deadline = time.time() + timeout
        state = None
        while time.time() < deadline:
            state = self.state(job)
            squeue = self.run(["squeue", "-h", "-j", job, "-o", "%T"], timeout=10)
            if state not in (None, "PENDING", "RUNNING", "COMPLETING", "CONFIGURING") and \
                    squeue.stdout.strip() == "" and not os.path.exists(
                        os.path.join(self.spool, job)):
                return state
            time.sleep(0.5)
        return state


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def metered_job(c, cl, paths, label, launch, env_name, spank=True):
    """Cases 1 and 2: a metered 2-rank mpi_gemm job; checks the ledger against the formula.
    spank=False: no plugin option, `launch` meters by itself (flopledger run in the batch)."""
    exp = E.mpi_gemm_expected(2, STEPS)
    work = c.subdir(label)
    ledger = os.path.join(work, "ledger.h5")
    launch = launch.replace("LEDGER", ledger)
    script = (f"#!/bin/bash\nset -e\nhostname\n{launch} {paths.mpi_gemm} --steps {STEPS}\n"
              "echo BATCH_ENV_LAUNCHED_ONLY=${FLOPLEDGER_INTERNAL_LAUNCHED_ONLY:-unset}\n")
    job, out = cl.sbatch(script, ["--flopledger=" + ledger] if spank else [], cwd=work)
    if job is None:
        return
    state = cl.wait_done(job)
    c.equal(state, "COMPLETED", f"{label}: job {job} completes")
    if not c.check(os.path.exists(ledger), f"{label}: the ledger {ledger} exists", read_text(out)):
        return
    rep = E.report_json(c, paths, ledger, f"{label} report")
    if rep is None:
        return
    E.check_report_totals(c, rep, label, exp["total"], prec=exp["prec"], source=exp["source"],
                          phase={"train": exp["total"]}, tokens=exp["tokens"], steps=STEPS,
                          ranks=2)
    segs = rep.get("segments") or []
    c.equal([(s.get("job_id"), s.get("launcher"), s.get("world_size"), s.get("state"))
             for s in segs], [(job, env_name, 2, "clean")],
            f"{label}: one clean segment with the SLURM job id, the launcher and 2 ranks")
    slurm = (segs[0].get("slurm") if segs else None) or {}
    c.equal(slurm.get("job_id"), job, f"{label}: report shows the SLURM job id")
    c.equal(slurm.get("job_nodelist"), cl.host, f"{label}: report shows the node list")
    c.equal(slurm.get("job_partition"), "fltest", f"{label}: report shows the partition")
    c.equal(slurm.get("job_user"), os.environ.get("USER") or "root",
            f"{label}: report shows the user")
    if env_name == "srun":
        c.equal(slurm.get("step_id"), "0", f"{label}: the srun step is step 0")
    env = {e["key"]: e["value"] for e in E.read_environment(ledger)}
    c.equal(env.get("slurm_job_id"), job, f"{label}: environment dataset slurm_job_id")
    c.equal(env.get("ranks"), "2", f"{label}: environment dataset ranks (MPI world size)")
    text = cl.run([paths.cli, "report", ledger], timeout=60)
    c.check(f"SLURM: job_id={job}" in text.stdout, f"{label}: text report shows the SLURM job",
            text.tail())
    v = cl.run([paths.cli, "verify", ledger], timeout=60)
    c.equal(v.rc, 0, f"{label}: flopledger verify passes")
    if spank:
        c.check("BATCH_ENV_LAUNCHED_ONLY=1" in read_text(out),
                f"{label}: the plugin set FLOPLEDGER_INTERNAL_LAUNCHED_ONLY in the batch step "
                "(the batch script's own `hostname` made no segment: one segment above)",
                read_text(out)[-2000:])


def array_job(c, cl, paths):
    """A job array into one ledger per task (--flopledger=...-%A_%a.h5), as the array template."""
    label = "array"
    exp = E.mpi_gemm_expected(2, STEPS)
    work = c.subdir(label)
    script = f"#!/bin/bash\nsrun --mpi=pmix {paths.mpi_gemm} --steps {STEPS}\n"
    array, _ = cl.sbatch(script, ["--array=0-1", "--flopledger=" + work + "/sweep-%A_%a.h5"],
                         cwd=work)
    if array is None:
        return
    deadline = time.time() + 90
    while time.time() < deadline:
        queued = cl.run(["squeue", "-h", "-j", array, "-o", "%i"], timeout=10).stdout.strip()
        spooled = [f for f in os.listdir(cl.spool) if f.isdigit()]
        if not queued and not spooled:
            break
        time.sleep(0.5)
    ledgers = sorted(f for f in os.listdir(work) if f.endswith(".h5"))
    c.equal(ledgers, [f"sweep-{array}_0.h5", f"sweep-{array}_1.h5"],
            f"{label}: one ledger per array task, named by %A and %a")
    jobs = set()
    for task, name in enumerate(ledgers):
        ledger = os.path.join(work, name)
        rep = E.report_json(c, paths, ledger, f"{label} task {task} report")
        if rep is None:
            continue
        c.equal(E.as_int(rep.get("counted_flops")), exp["total"],
                f"{label} task {task}: the ledger's total is exact")
        segs = rep.get("segments") or []
        slurm = (segs[0].get("slurm") if len(segs) == 1 else None) or {}
        c.equal((slurm.get("array_job_id"), slurm.get("array_task_id"), segs[0].get("state")
                 if segs else None), (array, str(task), "clean"),
                f"{label} task {task}: one clean segment with the array job and task ids")
        jobs.add(slurm.get("job_id"))
    c.equal(len(jobs), 2, f"{label}: each task's segment carries its own SLURM job id ({jobs})")


def cancelled_job(c, cl, paths, label="scancel"):
    """Case 3: scancel while the job runs (label "timeout": the job reaches a 1-minute time
    limit instead): the flushed rows are kept and the segment says how the job ended."""
    timeout = label == "timeout"
    slurm_state, segment_state = ("TIMEOUT", "timeout") if timeout else ("CANCELLED", "cancelled")
    exp = E.mpi_gemm_expected(2, 1)
    step_total = exp["total"]  # every step has the same FLOPs (mpi_gemm's shapes repeat per step)
    work = c.subdir(label)
    ledger = os.path.join(work, "ledger.h5")
    script = ("#!/bin/bash\n"
              f"srun --mpi=pmix {paths.mpi_gemm} --steps 1000 --step-sleep-ms 200 "
              "--same-shapes\n")
    opts = ["--flopledger=" + ledger] + (["--time=1"] if timeout else [])
    env_before = cl.env
    cl.env = dict(env_before, FLOPLEDGER_EVERY_STEPS="1", FLOPLEDGER_EVERY_SECONDS="3600")
    try:
        job, out = cl.sbatch(script, opts, cwd=work)
    finally:
        cl.env = env_before
    if job is None:
        return
    seen = 0
    deadline = time.time() + 90
    while time.time() < deadline and seen < 3:
        try:
            seen = len(E.read_trace(ledger)["steps"])
        except Exception:  # noqa: BLE001 - not created yet, or mid-write: poll again
            pass
        time.sleep(0.5)
    c.check(seen >= 3, f"{label}: the running job flushed rows ({seen}) before scancel",
            read_text(out)[-2000:])
    if not timeout:
        r = cl.run(["scancel", job], timeout=30)
        c.ran_ok(r, f"{label}: scancel {job}")
    # A time limit of 1 minute is enforced within slurmctld's next periodic check (<= 30 s).
    state = cl.wait_done(job, timeout=180 if timeout else 90)
    c.equal(state, slurm_state, f"{label}: SLURM's final job state")
    try:
        trace = E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001 - an unreadable ledger is the failure under test
        c.check(False, f"{label}: the ledger opens after scancel", repr(e))
        return
    rows = trace["steps"]
    c.check(len(rows) >= seen, f"{label}: the rows seen before scancel are kept ({len(rows)} >= "
                               f"{seen})")
    # Every row holds exactly the steps it covers; the last one (the SIGTERM flush) was cut while
    # the ranks were at different points of a step (step_last is the furthest rank's), so it
    # holds at most one step more than it covers, as in test_fault_injection.py.
    covered = [len(steps) for steps in E.covered_steps(rows)]
    for i, r in enumerate(rows):
        total, want = E.row_total(r), covered[i] * step_total
        ok = total == want if i + 1 < len(rows) else 0 <= total <= want + step_total
        c.check(ok, f"{label}: row {i} holds the FLOPs of its {covered[i]} step(s) exactly"
                    f"{'' if i + 1 < len(rows) else ' (plus at most a partial step)'}",
                f"{total} vs {want} (one step: {step_total})")
    segs = trace["segments"]
    c.equal([(E.segment_state_name(s), str(s["job_id"])) for s in segs], [(segment_state, job)],
            f"{label}: the segment says {segment_state}")
    events = [e.get("kind") for e in trace["events"]]
    c.check("segment_stamped" in events, f"{label}: the epilog's segment_stamped event is there",
            events)
    rep = E.report_json(c, paths, ledger, f"{label} report")
    if rep:
        c.equal([s.get("state") for s in rep.get("segments", [])], [segment_state],
                f"{label}: the report says {segment_state}")
    v = cl.run([paths.cli, "verify", ledger], timeout=60)
    c.equal(v.rc, 0, f"{label}: flopledger verify passes on the stamped ledger")
    c.check(("time limit" if timeout else "cancelled") in v.stdout,
            f"{label}: verify notes how the segment ended", v.tail())


def unmetered_job(c, cl, paths):
    """Case 4: no --flopledger: nothing of flopledger reaches the job."""
    label = "unmetered"
    work = c.subdir(label)
    script = ("#!/bin/bash\n"
              "echo BATCH_PRELOAD=${LD_PRELOAD:-unset}\n"
              "srun --mpi=pmix bash -c 'echo TASK_PRELOAD=${LD_PRELOAD:-unset}; "
              "env | grep -c ^FLOPLEDGER_ | sed s/^/TASK_FLOPLEDGER_VARS=/'\n"
              f"srun --mpi=pmix {paths.mpi_gemm} --steps {STEPS} --print-expected\n")
    job, out = cl.sbatch(script, [], cwd=work)
    if job is None:
        return
    state = cl.wait_done(job)
    c.equal(state, "COMPLETED", f"{label}: job {job} completes")
    text = read_text(out)
    c.check("BATCH_PRELOAD=unset" in text, f"{label}: the batch script has no LD_PRELOAD", text)
    c.equal(text.count("TASK_PRELOAD=unset"), 2, f"{label}: both tasks have no LD_PRELOAD")
    c.equal(text.count("TASK_FLOPLEDGER_VARS=0"), 2,
            f"{label}: both tasks have no FLOPLEDGER_* variable")
    kv = E.key_values(text)
    c.equal(kv.get("api"), "absent", f"{label}: mpi_gemm runs without the runtime")
    exp = E.mpi_gemm_expected(2, STEPS)
    c.equal(E.as_int(kv.get("expected_total_flops")), exp["total"],
            f"{label}: mpi_gemm ran its {STEPS} steps")
    c.equal(sorted(f for f in os.listdir(work) if f.endswith(".h5")), [],
            f"{label}: no ledger was written")
    c.check(not os.path.exists(os.path.join(cl.spool, job)),
            f"{label}: no spool entry for the epilog")


def bad_values(c, cl, paths):
    """Case 5: refused at submission, with the value named, and nothing queued."""
    work = c.subdir("bad")
    before = cl.run(["squeue", "-h", "-o", "%i"], timeout=10).stdout.split()
    script = os.path.join(work, "never.sh")
    with open(script, "w") as f:
        f.write("#!/bin/bash\ntrue\n")
    cases = [
        ("ledger;rm -rf ~.h5", "is not allowed"),
        ("$(id).h5", "is not allowed"),
        ("ledger.txt", "ending in .h5"),
        ("../outside/ledger.h5", "'..'"),
        ("/nonexistent-flopledger-dir/ledger.h5", "does not exist"),
        ("run-%x.h5", "not a template"),
        ("a%j/ledger.h5", "file name only"),
    ]
    for value, why in cases:
        r = cl.run(["sbatch", "-n", "1", f"--flopledger={value}", script], cwd=work)
        msg = r.stdout + r.stderr
        c.check(r.rc != 0 and f"--flopledger='{value}'" in msg and why in msg,
                f"sbatch --flopledger='{value}' is refused naming the value ({why})", msg)
    r = cl.run(["srun", "-n", "1", "--flopledger=bad value.h5", "true"], cwd=work)
    c.check(r.rc != 0 and "--flopledger='bad value.h5'" in r.stdout + r.stderr,
            "srun --flopledger='bad value.h5' is refused naming the value", r.tail())
    # The epilog's command refuses bad values the same way (exit 2, the value named).
    r = cl.run([paths.cli, "stamp", os.path.join(work, "none.h5"), "--job-id", "7", "--state",
                "finished"], cwd=work)
    c.check(r.rc == 2 and "--state 'finished': expected cancelled, timeout or killed" in r.stderr,
            "flopledger stamp --state finished is refused (exit 2)", r.tail())
    r = cl.run([paths.cli, "stamp", os.path.join(work, "none.h5"), "--state", "killed"], cwd=work)
    c.check(r.rc == 2 and "--job-id" in r.stderr, "flopledger stamp without --job-id is refused",
            r.tail())
    after = cl.run(["squeue", "-h", "-o", "%i"], timeout=10).stdout.split()
    c.equal(after, before, "no job was queued by a refused submission")


def main():
    args = E.parse_args(__doc__)
    c = E.Checker("slurm", args)
    paths = E.Paths(args)
    missing = [t for t in TOOLS if shutil.which(t) is None and
               not os.path.exists(os.path.join("/usr/sbin", t))]
    plugin = E.find_artifact(args.build_dir, "flopledger_spank.so", ("",))
    if os.geteuid() != 0:  # slurmd must run as root to start jobs as their users
        print("slurm: SKIPPED: the test cluster's slurmd needs root (CI runs as root)", flush=True)
        c.finish()
    if missing or not plugin:
        print(f"slurm: SKIPPED: needs {', '.join(missing) or 'the SPANK plugin (libslurm-dev)'}; "
              "run .ci/install-deps.sh", flush=True)
        c.finish()
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin"
    c.require(paths.cli, "the flopledger command")
    c.require(paths.runtime, "libflopledger.so")
    c.require(paths.mpi_gemm, "mpi_gemm")
    cl = Cluster(c, paths, plugin, os.path.realpath(paths.runtime))
    # ctest's timeout sends SIGTERM: unwind through `finally` so that the daemons are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        # FL_SLURM_CASES=scancel,srun runs only those cases (for debugging).
        wanted = os.environ.get("FL_SLURM_CASES", "bad,unmetered,srun,mpirun,run,exec,array,scancel,timeout").split(",")
        if cl.start():
            if "bad" in wanted:
                bad_values(c, cl, paths)
            if "unmetered" in wanted:
                unmetered_job(c, cl, paths)
            if "srun" in wanted:
                metered_job(c, cl, paths, "srun", "srun --mpi=pmix", "srun")
            if "mpirun" in wanted:
                metered_job(c, cl, paths, "mpirun", "mpirun -np 2", "mpirun")
            if "run" in wanted:  # `flopledger run` inside an allocation starts srun --mpi=pmix
                metered_job(c, cl, paths, "run", f"{paths.cli} run -n 2 --quiet --ledger LEDGER --",
                            "srun", spank=False)
            if "exec" in wanted:  # srun --mpi=pmix ... flopledger exec -- CMD
                metered_job(c, cl, paths, "exec",
                            f"srun --mpi=pmix {paths.cli} exec --quiet --ledger LEDGER --", "srun",
                            spank=False)
            if "array" in wanted:
                array_job(c, cl, paths)
            if "scancel" in wanted:
                cancelled_job(c, cl, paths)
            if "timeout" in wanted:
                cancelled_job(c, cl, paths, "timeout")
    finally:
        cl.stop()
    c.finish()


if __name__ == "__main__":
    main()
