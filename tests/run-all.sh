#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test with ctest.
# Exit status: ctest's (non-zero when any test fails).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/.ci/install-deps.sh"
bash "$root/.ci/build.sh"
if [ "$(id -u)" -eq 0 ]; then
  # Open MPI refuses to start as root without these; CI and fresh machines run as root.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
cd "${FL_BUILD_DIR:-$root/build}"
exec ctest --output-on-failure --timeout 900 "$@"
