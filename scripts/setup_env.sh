# Sourced by the other scripts: create .venv (once) and install dataprep into it.
# torch is installed first, pinned, so that pip takes the CPU build instead of
# resolving a newer CUDA build through the project's torch range.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DATAPREP_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
EXTRAS="${DATAPREP_EXTRAS:-dev,dali,dask}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.dataprep-installed"
if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
    "$VENV/bin/python" -m pip install --quiet -e "$REPO[$EXTRAS]"
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
