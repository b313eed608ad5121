#!/usr/bin/env bash
# `make test-slurm`: a one-node SLURM cluster on this machine (ci/slurm/setup.sh, as root), the
# offline pipeline through it and on local cores, outputs compared (ci/slurm/run_test.py).
# The cluster is torn down on exit (ci/slurm/teardown.sh), also on failure or interruption;
# KEEP_SLURM=1 leaves it running. Extra arguments go to run_test.py (--keep, --scratch DIR, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
SETUP_TIMEOUT_S=${SETUP_TIMEOUT_S:-900} # package installs included

if [[ ${KEEP_SLURM:-0} != 1 ]]; then
    trap 'bash ci/slurm/teardown.sh' EXIT
fi
start=$SECONDS
timeout "$SETUP_TIMEOUT_S" bash ci/slurm/setup.sh
echo "test-slurm: cluster ready in $((SECONDS - start)) s"
"$PYTHON" ci/slurm/run_test.py "$@"
echo "test-slurm: $((SECONDS - start)) s in all"
