"""Resume state of a batch job's output folder: which outputs are current, and which settings made them.

A rerun into the same folder keeps outputs newer than their mask and made from
the same files: each output's sources (path, size, modification time) are
recorded beside the outputs, because times alone kept dataset A's label maps for
dataset B's masks of the same names, extracted with their old times (tar, cp -p,
rsync). The settings of the run that wrote a folder are stored there too, so that
a rerun with other settings is refused instead of mixing old and new outputs.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..executor import ItemResult, iter_items
from ..folder_settings import OWNER_FILE, folder_owner, holds_outputs, take_owner
from ..io import atomic_write_text, create_exclusive
from ..paths import file_stamp
from .sources import _Job

_STATE_FILE = ".dataprep-{command}.json"  # settings of the run that wrote an output folder
_SOURCES_FILE = ".dataprep-{command}-sources.json"  # each output's source files when it was made

Stamp = tuple[tuple[str, int, int], ...]  # (real path, size, mtime_ns) of each source file


def source_stamp(job: _Job) -> Stamp | None:
    """The stamp of the job's sources as they are now; None when one is missing."""
    stamps = [file_stamp(path) for path in (job.src, *job.extras)]
    return None if None in stamps else tuple(stamps)  # type: ignore[arg-type]


def _up_to_date(job: _Job, stamp: Stamp | None) -> bool:
    """The output is newer than its sources (`stamp`: as they are now) and, where a run recorded them, made
    from these very files."""
    if stamp is None:
        return False
    try:
        made = job.dst.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    return all(made >= mtime for _, _, mtime in stamp) and (job.recorded is None or job.recorded == stamp)


def run_recording_sources(fn: Callable[[_Job], Any], jobs: list[_Job], out_dir: Path, command: str,
                          **run_options: Any) -> list[ItemResult[Any]]:
    """`run_items` over the jobs, each given the sources its output was last made from, and recording the
    sources of every output this run made or kept (also when interrupted: the rerun keeps those)."""
    path = out_dir / _SOURCES_FILE.format(command=command)
    recorded = _read_sources(path)
    keys = [os.path.relpath(job.dst, out_dir) for job in jobs]
    jobs = [dataclasses.replace(job, recorded=recorded.get(key)) for job, key in zip(jobs, keys)]
    results: list[ItemResult[Any] | None] = [None] * len(jobs)
    try:
        for result in iter_items(fn, jobs, **run_options):
            results[result.index] = result
    finally:
        done = {key: result.value.sources for key, result in zip(keys, results)
                if result is not None and result.ok and result.value.sources is not None}
        if done:
            atomic_write_text(path, json.dumps({**recorded, **done}, separators=(",", ":")) + "\n")
    return [r for r in results if r is not None]


def _read_sources(path: Path) -> dict[str, Stamp]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet (a folder made before sources were recorded), or damaged: times alone decide
    if not isinstance(data, dict):
        return {}
    return {key: tuple(tuple(entry) for entry in stamp) for key, stamp in data.items() if isinstance(stamp, list)}


def _unclaim_output(out_dir: Path, command: str, created: bool) -> None:
    """Undo `_claim_output` for a run that wrote nothing: its state and owner files, and the folder if the run
    made it."""
    (out_dir / _STATE_FILE.format(command=command)).unlink(missing_ok=True)
    if folder_owner(out_dir) == command and not holds_outputs(out_dir):
        (out_dir / OWNER_FILE).unlink()
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
    text = json.dumps(settings, sort_keys=True) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    take_owner(out_dir, command)
    if not state.exists():
        if create_exclusive(state, text):
            return
        # Another run took the new folder this instant: its settings decide, as for a folder it finished.
        outputs = [state]
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
    atomic_write_text(state, text)
