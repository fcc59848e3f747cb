# Sourced by the other scripts: create .venv (once) and install dataprep into it.
# torch is installed first, pinned, so that pip takes the CPU build instead of
# resolving a newer CUDA build through the project's torch range.
#
# DATAPREP_EXTRAS (comma-separated: dev, dali, dask) names the optional extras
# the calling script needs: demo.sh needs none, test.sh all three. The stamp
# file records what is installed, so a later script installs only what is
# missing; DATAPREP_VENV picks another environment.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DATAPREP_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
EXTRAS="${DATAPREP_EXTRAS-}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating the virtual environment $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.dataprep-installed"
# An empty stamp predates this record; those installs always had every extra.
installed="all"
source_tree=""  # the checkout the editable install points at (second line; older stamps have none)
if [ -f "$stamp" ] && [ -s "$stamp" ]; then
    installed="$(sed -n 1p "$stamp")"
    source_tree="$(sed -n 2p "$stamp")"
fi
if [ "$installed" = "none" ]; then installed=""; fi
missing=""
for extra in ${EXTRAS//,/ }; do
    case ",$installed," in
        ",all,"|*",$extra,"*) ;;
        *) missing="$missing${missing:+,}$extra" ;;
    esac
done
if [ -n "$source_tree" ] && [ "$source_tree" != "$REPO" ]; then
    # One environment, two checkouts: the install follows this one, and the other's scripts would test it.
    echo "setup: $VENV runs dataprep from $source_tree; installing this checkout ($REPO) instead" >&2
fi
if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ] || [ -n "$missing" ] \
        || { [ -n "$source_tree" ] && [ "$source_tree" != "$REPO" ]; }; then
    if [ "$installed" = "all" ] || [ ! -f "$stamp" ]; then installed=""; fi
    want="$installed"
    for extra in ${EXTRAS//,/ }; do
        case ",$want," in *",$extra,"*) ;; *) want="$want${want:+,}$extra" ;; esac
    done
    echo "setup: installing into $VENV (once; about 1-2 minutes on a fresh machine, mostly torch):" >&2
    echo "setup:   pip (upgrade)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    echo "setup:   torch==2.13.0 (CPU build, ~200 MB)" >&2
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
    spec="$REPO"
    if [ -n "$want" ]; then spec="$REPO[$want]"; fi
    echo "setup:   dataprep from $REPO (editable) and its dependencies (numpy, opencv-python-headless<5, albumentations, click, ...)" \
         "${want:+with the extras $want}" | sed 's/ *$//' >&2
    case ",$want," in *",dali,"*) echo "setup:   (the dali extra is NVIDIA DALI, ~1 GB)" >&2 ;; esac
    "$VENV/bin/python" -m pip install --quiet -e "$spec"
    printf '%s\n%s\n' "${want:-none}" "$REPO" > "$stamp"
    echo "setup: done" >&2
fi
export PATH="$VENV/bin:$PATH"
