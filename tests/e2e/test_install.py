"""cmake --install: the header, runtime, plugin, command, CMake package and pkg-config file are
installed and usable by a consumer project, and the installed command finds its runtime."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

failures = []
passed = 0


def check(condition, message):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(message)
        print("FAIL:", message)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "prefix")
        r = run(["cmake", "--install", args.build_dir, "--prefix", prefix])
        check(r.returncode == 0, "cmake --install failed: " + r.stderr)
        for rel in ["bin/flopledger", "include/flopledger/flopledger.h",
                    "include/flopledger/tags.h", "include/flopledger/trace_format.h"]:
            check(os.path.isfile(os.path.join(prefix, rel)), rel + " not installed")
        libdirs = [d for d in ["lib", "lib64", "lib/x86_64-linux-gnu"]
                   if os.path.isfile(os.path.join(prefix, d, "libflopledger.so"))]
        check(len(libdirs) == 1, "libflopledger.so not installed under lib/")
        libdir = os.path.join(prefix, libdirs[0] if libdirs else "lib")
        check(os.path.isfile(os.path.join(libdir, "libflopledger_trace.so")),
              "the trace plugin is not installed next to the runtime")
        check(os.path.isfile(os.path.join(libdir, "cmake/flopledger/flopledgerConfig.cmake")),
              "CMake package config not installed")
        pc = os.path.join(libdir, "pkgconfig/flopledger.pc")
        check(os.path.isfile(pc), "pkg-config file not installed")

        # A consumer in C via pkg-config: links, runs, and sees the API (inactive: disabled).
        src = os.path.join(tmp, "consumer.c")
        with open(src, "w") as f:
            f.write('#include <flopledger/flopledger.h>\n#include <stdio.h>\n#include <string.h>\n'
                    'int main(void) {\n'
                    '  printf("version=%s active=%d add=%d\\n", flopledger_version(),\n'
                    '         flopledger_is_active(), flopledger_add_flops(1, 99, 0));\n'
                    '  return strcmp(flopledger_version(), "") == 0;\n}\n')
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pc))
        flags = run(["pkg-config", "--cflags", "--libs", "flopledger"], env=env)
        check(flags.returncode == 0, "pkg-config --cflags --libs flopledger failed: " + flags.stderr)
        exe = os.path.join(tmp, "consumer")
        r = run(["cc", src, "-o", exe] + flags.stdout.split() + ["-Wl,-rpath," + libdir])
        check(r.returncode == 0, "compiling against the pkg-config flags failed: " + r.stderr)
        if r.returncode == 0:
            r = run([exe], env=dict(os.environ, FLOPLEDGER_ENABLE="0"))
            check(r.returncode == 0 and "active=0 add=1" in r.stdout,
                  "consumer output unexpected: %r %r" % (r.stdout, r.stderr))

        # Linked use of the C API (no preload, no launcher): FLOPs the program reports itself,
        # by precision and phase, land in the ledger exactly.
        api_src = os.path.join(tmp, "api_consumer.c")
        with open(api_src, "w") as f:
            f.write('#include <flopledger/flopledger.h>\n'
                    'int main(void) {\n'
                    '  int bad = flopledger_add_flops(1, FLOPLEDGER_PRECISION_COUNT, -1) +\n'
                    '            flopledger_set_phase(FLOPLEDGER_PHASE_COUNT);\n'
                    '  int ok = flopledger_add_flops(1000, FLOPLEDGER_PRECISION_BF16, -1) +\n'
                    '           flopledger_set_phase(FLOPLEDGER_PHASE_EVAL) +\n'
                    '           flopledger_add_flops(500, FLOPLEDGER_PRECISION_FP16, -1) +\n'
                    '           flopledger_add_flops(7, FLOPLEDGER_PRECISION_FP8,\n'
                    '                                FLOPLEDGER_PHASE_SYNTHETIC_DATA) +\n'
                    '           flopledger_step_end(10);\n'
                    '  return (bad == 2 * FLOPLEDGER_ERR_INVALID_ARGUMENT && ok == 0) ? 0 : 1;\n'
                    '}\n')
        api_exe = os.path.join(tmp, "api_consumer")
        r = run(["cc", api_src, "-o", api_exe] + flags.stdout.split() + ["-Wl,-rpath," + libdir])
        check(r.returncode == 0, "compiling the API consumer failed: " + r.stderr)
        ledger = os.path.join(tmp, "api.h5")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOPLEDGER_")}
        env.update(FLOPLEDGER_LEDGER=ledger, FLOPLEDGER_QUIET="1")
        r = run([api_exe], env=env)
        check(r.returncode == 0, "API consumer: unexpected return codes: " + r.stderr[-1000:])
        r = run([os.path.join(prefix, "bin/flopledger"), "report", ledger, "--json"])
        check(r.returncode == 0, "report of the API consumer's ledger failed: " + r.stderr)
        if r.returncode == 0:
            rep = json.loads(r.stdout)
            check(rep["counted_flops"] == "1507", "API consumer counted %s" % rep["counted_flops"])
            check(rep["modification_flops"] == "1007",
                  "eval excluded, synthetic data included: %s" % rep["modification_flops"])
            check(rep["counted_flops_by_precision"]["bf16"] == "1000" and
                  rep["counted_flops_by_precision"]["fp16"] == "500" and
                  rep["counted_flops_by_precision"]["fp8"] == "7", "by precision")
            check(rep["counted_flops_by_phase"]["train"] == "1000" and
                  rep["counted_flops_by_phase"]["eval"] == "500" and
                  rep["counted_flops_by_phase"]["synthetic_data"] == "7", "by phase")
            check(rep["counted_flops_by_source"]["api"] == "1507", "source api")
            check(str(rep["tokens"]) == "10" and rep["steps"] == 1, "tokens and steps")

        # A consumer with find_package(flopledger).
        proj = os.path.join(tmp, "proj")
        os.makedirs(proj)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.18)\nproject(consumer C)\n"
                    "find_package(flopledger 0.1 REQUIRED)\n"
                    "add_executable(consumer ../consumer.c)\n"
                    "target_link_libraries(consumer PRIVATE flopledger::flopledger)\n")
        r = run(["cmake", "-S", proj, "-B", os.path.join(proj, "b"),
                 "-DCMAKE_PREFIX_PATH=" + prefix])
        check(r.returncode == 0, "find_package(flopledger) failed: " + r.stdout + r.stderr)
        r = run(["cmake", "--build", os.path.join(proj, "b")])
        check(r.returncode == 0, "building the find_package consumer failed: " + r.stdout)

        # The installed command finds the installed runtime and runs a metered program.
        ledger = os.path.join(tmp, "installed.h5")
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        r = run([os.path.join(prefix, "bin/flopledger"), "run", "-n", "2", "--quiet",
                 "--ledger", ledger, "--", os.path.join(args.build_dir, "mpi_gemm"),
                 "--steps", "2"], env=env)
        check(r.returncode == 0, "installed flopledger run failed: " + r.stderr[-2000:])
        r = run([os.path.join(prefix, "bin/flopledger"), "report", ledger, "--json"])
        check(r.returncode == 0 and '"ranks": 2' in r.stdout.replace('"ranks":2', '"ranks": 2'),
              "installed report failed: " + r.stdout[-500:] + r.stderr[-500:])

    print("test_install: %d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
