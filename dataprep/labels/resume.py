"""Resume state of a batch job's output folder: which outputs are current, and which settings made them.

A rerun into the same folder keeps outputs newer than their mask; the settings of
the run that wrote a folder are stored beside its outputs, so that a rerun with
other settings is refused instead of mixing old and new outputs.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..io import atomic_write_text

_STATE_FILE = ".dataprep-{command}.json"  # settings of the run that wrote an output folder


def _up_to_date(src: Path, dst: Path) -> bool:
    try:
        return dst.stat().st_mtime_ns >= src.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def _unclaim_output(out_dir: Path, command: str, created: bool) -> None:
    """Undo `_claim_output` for a run that wrote nothing: its state file, and the folder if the run made it."""
    (out_dir / _STATE_FILE.format(command=command)).unlink(missing_ok=True)
    if created:
        with suppress(OSError):  # not empty: something else is in there, and it stays
            out_dir.rmdir()


def _claim_output(out_dir: Path, command: str, settings: dict[str, Any], overwrite: bool,
                  outputs: Iterable[Path] = ()) -> None:
    """Refuse to resume into a folder made with other settings: old and new outputs would silently mix.

    `unknown` may change from "error" to anything: outputs made under "error"
    hold no replaced pixels, so they are right under every mode. A folder holding
    none of this run's `outputs` has nothing to mix: a run that failed on every
    file (and said to rerun with `--remap ids`) is simply rerun with it.
    """
    state = out_dir / _STATE_FILE.format(command=command)
    if state.is_file() and not overwrite and any(path.is_file() for path in outputs):
        try:
            previous = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous.get("unknown") == "error" and "unknown" in settings:
            previous["unknown"] = settings["unknown"]
        if previous != json.loads(json.dumps(settings)):
            changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
            raise UsageError(out_dir, f"holds {command} outputs made with other settings ({', '.join(changed)}); "
                                      "pass --overwrite to redo every file, or pick another folder")
    atomic_write_text(state, json.dumps(settings, sort_keys=True) + "\n")
