#!/usr/bin/env bash
# The main job: installs what is missing, builds flopledger, runs the default workload — a
# 2-rank data-parallel fine-tuning of a small GPT-style model with PyTorch (gloo, CPU) — with
# every rank metered and no change to the training code, then prints the verdict and where the
# ledger (HDF5 trace) and the reports are.
#   FL_DEMO_DIR   where the outputs go (default: ./flopledger-demo)
#   FL_DEMO_RANKS number of ranks (default: 2)
# (Not FLOPLEDGER_*: the runtime treats every FLOPLEDGER_* variable as its own setting and
# rejects unknown ones.)
#   extra arguments are passed to the training script (e.g. --steps 50)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/.ci/install-deps.sh"
bash "$root/.ci/build.sh"
build="${FL_BUILD_DIR:-$root/build}"
out="${FL_DEMO_DIR:-$PWD/flopledger-demo}"
ranks="${FL_DEMO_RANKS:-2}"
mkdir -p "$out"
# A fresh ledger per demo run: an existing ledger would be continued (a new segment appended).
rm -f "$out/flopledger.h5"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

echo "== metered fine-tuning job: $ranks ranks, PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') on CPU"
"$build/flopledger" run -n "$ranks" --ledger "$out/flopledger.h5" -- \
  /usr/bin/python3 "$root/examples/torch_finetune/train.py" "$@"

"$build/flopledger" report "$out/flopledger.h5" > "$out/report.txt"
"$build/flopledger" report "$out/flopledger.h5" --json > "$out/report.json"
"$build/flopledger" report "$out/flopledger.h5" --html "$out/report.html"
"$build/flopledger" report "$out/flopledger.h5" --markdown --output "$out/report.md"
"$build/flopledger" export "$out/flopledger.h5" --json --output "$out/export.json"
"$build/flopledger" export "$out/flopledger.h5" --csv --output "$out/steps.csv"
echo
cat "$out/report.txt"
echo
echo "== verdict: $(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%s: %s FLOP toward the threshold of %s FLOP (%.3g%%; method %s; rule set %s, rule %s); %s FLOP counted in all phases" % (r["status"], r["verdict_flops"], r["threshold_flops"], 100*r["fraction_of_threshold"], r["verdict_method"], r["rule_set"], r["rule"], r["counted_flops"]))' "$out/report.json")"
echo "== ledger (HDF5 trace): $out/flopledger.h5"
echo "== reports:             $out/report.txt  $out/report.json  $out/report.html (audit page)  $out/report.md"
echo "== exports:             $out/export.json (with AWS FLOPs Meter keys)  $out/steps.csv"
