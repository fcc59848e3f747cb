#!/usr/bin/env bash
# Run the test suite in a fresh (or reused) virtual environment.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k scan`.
set -euo pipefail
export DATAPREP_EXTRAS="${DATAPREP_EXTRAS-dev,dali,dask}"  # the tests cover the DALI loader and Dask runs
source "$(dirname "$0")/setup_env.sh"
cd "$REPO"
python -m pytest -q "$@"
