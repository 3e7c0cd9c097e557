#!/usr/bin/env bash
# Creates (or re-uses) the Python virtual environment of the Hugging Face tests and benchmark and
# prints its interpreter's path on stdout (the last line).
#
# Location: $FL_VENV, else /var/cache/flopledger/venv when writable (CI runs as root), else
# ${XDG_CACHE_HOME:-$HOME/.cache}/flopledger/venv. It is a venv of Debian's /usr/bin/python3
# with --system-site-packages, so Debian's python3-torch 1.13 (whose GEMMs go through OpenBLAS's
# sgemm_, where flopledger's hooks see them), numpy and h5py are used; on top of it, the pinned
# closure of python/requirements-test.txt is installed with --no-deps (pip must never pull
# PyPI's torch: peft asks for torch>=1.13.0 and Debian's is 1.13.0a0, which pip ranks below it).
# Idempotent: a stamp file holds the hash of the requirements and of the interpreter's version;
# when it matches, nothing is installed and nothing is fetched. Concurrent callers serialise on
# a lock file. Needs PyPI only when the environment must be (re)built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$root/python/requirements-test.txt"
base_python=/usr/bin/python3

venv="${FL_VENV:-}"
if [ -z "$venv" ]; then
  if mkdir -p /var/cache/flopledger 2>/dev/null && [ -w /var/cache/flopledger ]; then
    venv=/var/cache/flopledger/venv
  else
    venv="${XDG_CACHE_HOME:-$HOME/.cache}/flopledger/venv"
  fi
fi
mkdir -p "$(dirname "$venv")"

want="$( (cat "$req"; "$base_python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
exec 9>"$venv.lock"
flock 9
if [ -f "$venv/.fl-stamp" ] && [ "$(cat "$venv/.fl-stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  echo "$venv/bin/python"
  exit 0
fi

echo "flopledger: building the Python test environment in $venv (pip, from PyPI)" >&2
rm -rf "$venv"
"$base_python" -m venv --system-site-packages "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$req" >&2
# Every import the tests need, and torch must still be Debian's (the one the hooks can see).
"$venv/bin/python" - >&2 <<'PY'
import torch, transformers, peft, accelerate, pandas, h5py, jinja2  # noqa: F401
assert torch.__file__.startswith("/usr/lib/python3/dist-packages/"), torch.__file__
PY
echo "$want" > "$venv/.fl-stamp"
echo "$venv/bin/python"
