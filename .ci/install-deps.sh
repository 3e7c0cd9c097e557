#!/usr/bin/env bash
# Installs every system package flopledger needs to build, test and run its default workload on
# Debian 12. Idempotent: packages already present are skipped without touching the network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git clang-format
  clang libclang-rt-14-dev # libFuzzer and sanitizer runtimes (tests/fuzz/run.sh)
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev
  doctest-dev
  libssl-dev
  libopenblas-dev
  python3-torch python3-numpy python3-h5py
  python3-venv # the virtual environment of the Hugging Face tests (.ci/python-venv.sh)
  chromium # headless rendering of the HTML report (tests/e2e/test_report_html.py)
  # SLURM: the SPANK plugin's header, and the one-node cluster tests/e2e/test_slurm.py starts
  # (private daemons and config; the packages' own services are not used).
  slurm-wlm munge libslurm-dev
  iproute2 util-linux # the test hosts of tests/multinode/ (ip netns, veth, bridge; unshare)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "flopledger: missing Debian packages: ${missing[*]}" >&2
  echo "flopledger: run this script as root (or install them with apt-get) and retry" >&2
  exit 1
fi

echo "flopledger: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
