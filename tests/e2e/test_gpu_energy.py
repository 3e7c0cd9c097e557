#!/usr/bin/env python3
"""End-to-end: NVML energy in the ledger and the report, with a fake libnvidia-ml.so.1.

The fake (tests/support/fake_nvml.c, built as build/tests/fake_nvml/libnvidia-ml.so.1) stands
for NVIDIA's NVML on a machine without a GPU: it is found through LD_LIBRARY_PATH by the
runtime's real dlopen. It proves the sampler's plumbing (per-rank device, wire, ledger, report),
not anything about a real GPU. examples/mpi_gemm runs on 2 ranks under `flopledger run`:
  - job 1: two fake devices whose energy counter reads 1000000 mJ at the start and 1250000 mJ at
    every later reading: 250000 mJ per rank, 500000 mJ for the job, exactly, in the rows, in
    `report --json` (per job and in total), in the text, Markdown and HTML reports; the rows say
    2 ranks sampled; the environment names the device; `flopledger verify` passes (format 1.3);
  - job 2, appended: the energy counter answers NO_PERMISSION: the job still exits 0 with exact
    FLOPs, an `nvml_unavailable` event and the environment say why, no energy is invented;
  - job 3, appended: FLOPLEDGER_NVML=0 and FLOPLEDGER_CUPTI=0: the environment says both were
    off.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as E  # noqa: E402

STEPS = 3


def run_job(c, paths, args, ledger, fake_dir, extra):
    env = {"LD_LIBRARY_PATH": fake_dir + ":" + os.environ.get("LD_LIBRARY_PATH", ""),
           "FL_FAKE_NVML_DEVICES": "2", "FL_FAKE_NVML_ENERGY": "1000000,1250000",
           "FL_FAKE_NVML_FAIL": None}
    env.update(extra)
    return E.flopledger_run(paths, 2, ledger, [paths.mpi_gemm, "--steps", str(STEPS)],
                            every_steps=1, every_seconds=3600, env=E.base_env(env),
                            verbose=args.verbose)


def environment_of(ledger, segment):
    out = {}
    for row in E.read_environment(ledger):
        if row["segment"] == segment:
            out[row["key"]] = row["value"]
    return out


def main():
    args = E.parse_args(__doc__.splitlines()[0])
    c = E.Checker("test_gpu_energy", args)
    paths = E.Paths(args)
    c.require(paths.cli, "the flopledger command")
    c.require(paths.mpi_gemm, "mpi_gemm")
    fake_dir = os.path.join(args.build_dir, "tests", "fake_nvml")
    c.require(os.path.exists(os.path.join(fake_dir, "libnvidia-ml.so.1")),
              "the fake libnvidia-ml.so.1")
    exp = E.mpi_gemm_expected(2, STEPS)
    ledger = c.path("energy", "ledger.h5")

    # Job 1: exact energy.
    res = run_job(c, paths, args, ledger, fake_dir, {})
    c.ran_ok(res, "job 1 with the fake NVML")
    c.check("GPU energy (NVML, 2 rank(s) sampling): 500000 mJ" in res.stderr,
            "rank 0's summary prints the job's energy", res.tail())
    trace = E.read_trace(ledger)
    c.equal(trace["attrs"].get("format_version_minor"), 3, "the ledger is format 1.3")
    rows = trace["steps"]
    c.equal(sum(int(r["energy_mj"]) for r in rows), 500000, "rows: energy sums to 500000 mJ")
    c.equal(sorted({int(r["nvml_ranks"]) for r in rows}), [2], "rows: 2 ranks sampled energy")
    c.equal(sorted({int(r["cupti_ranks"]) for r in rows}), [0], "rows: no CUPTI on a CPU run")
    c.equal(sorted({int(r["upper_bound_available"]) for r in rows}), [0],
            "rows: no upper bound without kernel times")
    env1 = environment_of(ledger, 0)
    c.equal(env1.get("gpu_nvml"), "ok: device 0 NVIDIA H100 80GB HBM3",
            "environment: rank 0 sampled device 0")
    c.equal(env1.get("gpu_device"), "NVIDIA H100 80GB HBM3", "environment: the device name")
    # No CUDA at the start and no cuBLAS call later: CUPTI waited and never started (a second
    # `gpu_cupti` entry "... (at job end)" would say otherwise).
    c.check(env1.get("gpu_cupti", "").startswith("waiting: no CUDA library loaded at job start"),
            "environment: CUPTI not started in a process without CUDA", env1.get("gpu_cupti"))
    rep = E.report_json(c, paths, ledger, "job 1 report")
    if rep:
        gpu = rep.get("gpu", {})
        c.equal(gpu.get("energy_mj"), "500000", "report --json: energy_mj")
        c.equal(gpu.get("energy_available"), True, "report --json: energy_available")
        c.equal(gpu.get("energy_mj_by_segment"),
                [{"segment": 0, "energy_mj": "500000", "nvml_ranks": 2}],
                "report --json: energy per job")
        c.equal(E.as_int(rep.get("counted_flops")), exp["total"], "report --json: FLOPs exact")
    text = E.run([paths.cli, "report", ledger], env=E.base_env(), timeout=60)
    c.check("GPU energy (NVML):     500000 mJ (500 J, 0.000139 kWh)" in text.stdout,
            "text report: the energy line", text.tail())
    md = E.run([paths.cli, "report", ledger, "--markdown"], env=E.base_env(), timeout=60)
    c.check("GPU energy and kernel time" in md.stdout and "| 0 | 500000 |" in md.stdout,
            "Markdown report: the energy section and the per-job table", md.tail(40))
    page = c.path("energy", "report.html")
    html = E.run([paths.cli, "report", ledger, "--html", page], env=E.base_env(), timeout=60)
    c.ran_ok(html, "report --html")
    with open(page, encoding="utf-8") as f:
        c.check("Energy of training (AI Act Annex XI)" in f.read(), "HTML report: energy section")
    ver = E.run([paths.cli, "verify", ledger], env=E.base_env(), timeout=60)
    c.equal(ver.rc, 0, "flopledger verify passes on the 1.3 ledger with energy")

    # Job 2: permission denied on the energy counter.
    res = run_job(c, paths, args, ledger, fake_dir, {"FL_FAKE_NVML_FAIL": "energy_permission"})
    c.ran_ok(res, "job 2: NVML energy permission denied is not fatal")
    trace = E.read_trace(ledger)
    events = [e for e in trace["events"] if e.get("kind") == "nvml_unavailable"]
    c.equal(len(events), 1, "one nvml_unavailable event")
    if events:
        c.check("Insufficient Permissions" in events[0].get("detail", ""),
                "the event says why", events[0])
    env2 = environment_of(ledger, 1)
    c.check(env2.get("gpu_nvml", "").startswith(
        "unavailable: nvmlDeviceGetTotalEnergyConsumption failed: Insufficient Permissions"),
        "environment: the permission error", env2.get("gpu_nvml"))
    rep = E.report_json(c, paths, ledger, "after job 2")
    if rep:
        c.equal(rep.get("gpu", {}).get("energy_mj"), "500000", "no energy invented for job 2")
        c.equal(E.as_int(rep.get("counted_flops")), 2 * exp["total"], "job 2's FLOPs exact")

    # Job 3: the sampler turned off.
    res = run_job(c, paths, args, ledger, fake_dir,
                  {"FLOPLEDGER_NVML": "0", "FLOPLEDGER_CUPTI": "0"})
    c.ran_ok(res, "job 3 with FLOPLEDGER_NVML=0 FLOPLEDGER_CUPTI=0")
    env3 = environment_of(ledger, 2)
    c.equal(env3.get("gpu_nvml"), "off (FLOPLEDGER_NVML=0)", "environment: the sampler was off")
    c.equal(env3.get("gpu_cupti"), "off (FLOPLEDGER_CUPTI=0)", "environment: CUPTI was off")
    ver = E.run([paths.cli, "verify", ledger], env=E.base_env(), timeout=60)
    c.equal(ver.rc, 0, "flopledger verify passes on the three-job ledger")
    c.finish()


if __name__ == "__main__":
    main()
