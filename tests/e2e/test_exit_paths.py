#!/usr/bin/env python3
"""End-to-end: how jobs end, and processes that are not MPI programs.

  (i)   mpi_gemm exits with status 3 after 3 steps without calling MPI_Finalize, under
        `flopledger run -n 2`: the exit status comes through, the trace is readable, its rows
        are exact for the steps that were reduced (a prefix of the steps), and the segment is
        not marked clean; `flopledger report --json` works on it.
  (ii)  the PyTorch workload exits with status 5 after training, under `flopledger run -n 2`:
        the status comes through, the trace is readable, tokens match the steps recorded, the
        segment is not clean.
  (iii) a plain numpy script (never calls MPI; BLAS through cblas_?gemm, plus GEMV and SYRK
        calls that no hook counts) under `flopledger run -n 2` in preload-only mode (periods by
        time), spy in front: counted FLOPs exact, equal to the spy's and to the shapes'.
  (iv)  no launcher at all: LD_PRELOAD=spy:libflopledger.so python script.py gives a
        single-rank trace with the exact total; and mpi_gemm run as a singleton MPI process
        with the runtime preloaded gives exact per-step rows.
--cpp-only (implied by --sanitized) skips the Python workloads of (ii), (iii) and (iv).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

NUMPY_SCRIPT = r'''
import os, sys, time
import numpy as np
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
rounds, pause = int(sys.argv[1]), float(sys.argv[2])
total = 0
for rnd in range(rounds):
    for i, dt in enumerate((np.float32, np.float64, np.complex64, np.complex128)):
        m, k, n = 24 + 4 * rank + i + rnd, 16 + 2 * rank + i, 12 + rank + 2 * i
        a = np.full((m, k), 0.5, dtype=dt)
        b = np.full((k, n), 0.25, dtype=dt)
        c = a @ b                                  # cblas_?gemm: counted
        total += (8 if np.iscomplexobj(a) else 2) * m * n * k
        _ = a @ np.ones(k, dtype=dt)               # cblas_?gemv: not hooked by anyone
        _ = a @ a.T                                # ?syrk: not hooked by anyone
    if pause > 0:
        time.sleep(pause)
# The last rank finishes later than the others: shutdown must wait for it, not hang or lose it.
if len(sys.argv) > 3 and rank == int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1")) - 1:
    time.sleep(float(sys.argv[3]))
    c = a @ b
    total += (8 if np.iscomplexobj(a) else 2) * a.shape[0] * b.shape[1] * a.shape[1]
print(f"rank={rank} expected_flops={total}", flush=True)
'''


def numpy_expected(ranks, rounds, late_rank=None):
    """{'total', 'prec'} of NUMPY_SCRIPT on `ranks` ranks, computed here. `late_rank` repeats its
    last complex128 GEMM after its late sleep."""
    total, prec = 0, {"fp32": 0, "fp64": 0}
    for r in range(ranks):
        for rnd in range(rounds):
            for i in range(4):
                m, k, n = 24 + 4 * r + i + rnd, 16 + 2 * r + i, 12 + r + 2 * i
                f = (8 if i >= 2 else 2) * m * n * k
                total += f
                prec["fp64" if i % 2 else "fp32"] += f
                if r == late_rank and rnd == rounds - 1 and i == 3:
                    total += f
                    prec["fp64"] += f
    return total, prec


def read(c, ledger, label):
    try:
        return E.read_trace(ledger)
    except Exception as e:  # noqa: BLE001
        c.check(False, f"{label}: h5py opens the trace", repr(e))
        return None


def case_mpi_gemm_exit(c, paths, args):
    label = "(i) mpi_gemm --exit-code 3"
    steps, n = 3, 2
    ledger = c.path("i", "ledger.h5")
    res = E.flopledger_run(paths, n, ledger,
                           [paths.mpi_gemm, "--steps", str(steps), "--exit-code", "3"],
                           every_steps=1, every_seconds=3600, verbose=args.verbose)
    print(f"  {label}: flopledger run returned {res.rc}", flush=True)
    c.check(res.rc != 0 and not res.timed_out, f"{label}: non-zero exit status ({res.rc})",
            res.tail())
    c.equal(res.rc, 3, f"{label}: the program's status passes through mpirun and flopledger")
    trace = read(c, ledger, label)
    if trace is not None:
        exp = E.mpi_gemm_expected(n, steps)
        E.check_step_rows(c, trace, label, n, steps, exp["step_flops"],
                          [[1000 + r] * steps for r in range(n)], exp["total"], complete=False)
    rep = E.report_json(c, paths, ledger, label)
    if rep is not None:
        done = E.as_int(rep.get("steps"))
        c.check(done is not None and 1 <= done <= steps,
                f"{label}: steps recorded ({done}) in 1..{steps}")
        if done is not None:
            exp = E.mpi_gemm_expected(n, steps)
            want = sum(exp["step_flops"][r][s] for r in range(n) for s in range(min(done, steps)))
            c.equal(E.as_int(rep.get("counted_flops")), want,
                    f"{label}: counted_flops == the exact FLOPs of the recorded steps")
        seg = E.check_segments(c, rep, label, n, states=("error", "not_closed"), exit_status=None)
        if seg is not None:
            print(f"  {label}: segment state {seg.get('state')!r}, exit_status "
                  f"{seg.get('exit_status')!r}", flush=True)
            if seg.get("state") == "error":
                c.equal(E.as_int(seg.get("exit_status")), 3,
                        f"{label}: an 'error' segment records the exit status")


def case_torch_exit(c, paths, args):
    label = "(ii) train.py --exit-code 5"
    if E.skip_python(c, label):
        return
    if not E.torch_available():
        c.check(False, f"{label}: PyTorch importable by {E.PYTHON}")
        return
    n, steps = 2, 3
    ledger = c.path("ii", "ledger.h5")
    res = E.flopledger_run(paths, n, ledger,
                           [E.PYTHON, paths.train, "--steps", str(steps), "--eval-every", "0",
                            "--exit-code", "5"],
                           every_steps=1, every_seconds=3600, timeout=300, verbose=args.verbose)
    print(f"  {label}: flopledger run returned {res.rc}", flush=True)
    c.check(res.rc != 0 and not res.timed_out, f"{label}: non-zero exit status ({res.rc})",
            res.tail())
    c.equal(res.rc, 5, f"{label}: the program's status passes through")
    c.check("final_loss=" in res.stdout, f"{label}: the workload trained before exiting",
            res.tail())
    trace = read(c, ledger, label)
    if trace is not None:
        c.check(len(trace["steps"]) > 0, f"{label}: the trace has rows")
    rep = E.report_json(c, paths, ledger, label)
    if rep is not None:
        done = E.as_int(rep.get("steps"))
        c.check(done is not None and 1 <= done <= steps, f"{label}: steps recorded ({done})")
        c.check((E.as_int(rep.get("counted_flops")) or 0) > 0, f"{label}: FLOPs recorded")
        if done is not None:
            c.equal(E.as_int(rep.get("tokens")), n * done * 8 * 64,
                    f"{label}: tokens == ranks * steps recorded * batch * seq")
        E.check_segments(c, rep, label, n, states=("error", "not_closed"), exit_status=None)


def case_numpy_launched(c, paths, args, script):
    label = "(iii) numpy under flopledger run -n 2, last rank finishing 2 s later"
    if E.skip_python(c, label):
        return
    n, rounds = 2, 3
    spy_dir = c.subdir("iii-spy")
    ledger = c.path("iii", "ledger.h5")
    res = E.flopledger_run(paths, n, ledger, [E.PYTHON, script, str(rounds), "0.4", "2.0"],
                           every_seconds=0.25, extra_preload=paths.spy,
                           env=E.base_env({"BLAS_SPY_DIR": spy_dir}), verbose=args.verbose)
    c.ran_ok(res, label)
    total, prec = numpy_expected(n, rounds, late_rank=n - 1)
    printed = sum(int(E.key_values(line)["expected_flops"]) for line in res.stdout.splitlines()
                  if "expected_flops=" in line)
    c.equal(printed, total, f"{label}: (self-check) the script's own figures")
    t = E.spy_totals(E.parse_spy_logs(spy_dir))
    c.equal(t["total"], total, f"{label}: spy total == shapes")
    rep = E.report_json(c, paths, ledger, label)
    E.check_report_totals(c, rep, label, total, prec=prec, source={"cblas_gemm": total},
                          phase={"train": total}, tokens=0, ranks=n)
    E.check_segments(c, rep, label, n, states=("clean",), exit_status=0)
    trace = read(c, ledger, label)
    if trace is not None:
        sums = [E.row_total(r) for r in trace["steps"]]
        c.equal(sum(s or 0 for s in sums), total, f"{label}: sum of the rows")
        print(f"  {label}: {len(sums)} rows (periods of 0.25 s)", flush=True)
        c.check(len(sums) >= 2, f"{label}: time-based periods produced several rows")


def case_no_launcher(c, paths, args, script):
    label = "(iv) numpy, no launcher"
    if not E.skip_python(c, label):
        case_numpy_no_launcher(c, paths, args, script, label)
    case_mpi_gemm_no_launcher(c, paths, args)


def case_numpy_no_launcher(c, paths, args, script, label):
    rounds = 2
    spy_dir = c.subdir("iv-spy")
    ledger = c.path("iv", "ledger.h5")
    env = E.base_env({"LD_PRELOAD": f"{paths.spy}:{paths.runtime}", "BLAS_SPY_DIR": spy_dir,
                      "FLOPLEDGER_LEDGER": ledger, "FLOPLEDGER_QUIET": "1"})
    res = E.run([E.PYTHON, script, str(rounds), "0"], env=env, timeout=120, verbose=args.verbose)
    c.ran_ok(res, label)
    total, prec = numpy_expected(1, rounds)
    t = E.spy_totals(E.parse_spy_logs(spy_dir))
    c.equal(t["total"], total, f"{label}: spy total == shapes")
    rep = E.report_json(c, paths, ledger, label)
    E.check_report_totals(c, rep, label, total, prec=prec, source={"cblas_gemm": total},
                          ranks=1)
    E.check_segments(c, rep, label, 1, states=("clean",), exit_status=0)


def case_mpi_gemm_no_launcher(c, paths, args):
    label = "(iv) mpi_gemm singleton, no launcher"
    steps = 3
    ledger = c.path("iv-mpi", "ledger.h5")
    env = E.base_env({"LD_PRELOAD": paths.runtime, "FLOPLEDGER_LEDGER": ledger,
                      "FLOPLEDGER_EVERY_STEPS": "1", "FLOPLEDGER_EVERY_SECONDS": "3600",
                      "FLOPLEDGER_QUIET": "1"})
    res = E.run([paths.mpi_gemm, "--steps", str(steps), "--print-expected"], env=env,
                timeout=120, verbose=args.verbose)
    c.ran_ok(res, label)
    exp = E.mpi_gemm_expected(1, steps)
    c.equal(E.key_values(res.stdout).get("api"), "present", f"{label}: C API found")
    rep = E.report_json(c, paths, ledger, label)
    E.check_report_totals(c, rep, label, exp["total"], prec=exp["prec"], source=exp["source"],
                          tokens=exp["tokens"], steps=steps, ranks=1)
    E.check_segments(c, rep, label, 1, states=("clean",), exit_status=0)
    trace = read(c, ledger, label)
    if trace is not None:
        E.check_step_rows(c, trace, label, 1, steps, exp["step_flops"], [[1000] * steps],
                          exp["total"])


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_exit_paths", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command in the build directory")
    c.require(paths.runtime, "libflopledger.so in the build directory")
    c.require(paths.mpi_gemm, "mpi_gemm in the build directory")
    c.require(paths.spy, "libblas_spy.so in the build directory")
    script = c.path("numpy_matmul.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(NUMPY_SCRIPT)
    case_mpi_gemm_exit(c, paths, args)
    case_torch_exit(c, paths, args)
    case_numpy_launched(c, paths, args, script)
    case_no_launcher(c, paths, args, script)
    c.finish()


if __name__ == "__main__":
    main()
