"""The settings an output folder was written with, so that a rerun with others cannot mix two outputs in it.

`tile --size 64` and then `tile --size 128` into one folder left the 64-pixel
tiles whose names the new run did not reuse, and the next `scan` of the folder
took both for data; interrupted, the rerun left a manifest of 64-pixel rows
pointing at 128-pixel files. The record is written before any output, so an
interrupted first run is known too; a rerun with the same settings and rows
completes or refreshes the folder.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .io import atomic_write_text, create_exclusive
from .manifest import ManifestRow
from .stats_origin import ids_digest


OWNER_FILE = ".dataprep-owner"  # the command whose outputs a folder holds
# The commands that keep a settings record and take the owner file when they claim their folder (the others
# mark a folder once written, `mark_owner`); a folder with such a record from before owner files is theirs.
_RECORDS = ("tile", "resize", "masks2labels", "labels2masks")


def check_owner(out: Path, command: str) -> None:
    """Refuse a folder holding another command's outputs (its owner file, or an older record, says whose).

    `resize`, `tile` and `augment` run into one folder each exited 0: the images of all three lay side by
    side and each manifest.csv replaced the one before. A folder holding nothing but hidden files (a run that
    stopped before writing) goes to whichever command comes next.
    """
    owner = folder_owner(out) or _legacy_owner(out, command)
    if owner is None or owner == command or not holds_outputs(out):
        return
    raise UsageError(out, f"holds the outputs of `dataprep {owner}`; `dataprep {command}` would replace its "
                          "manifest and leave its files among the new ones: choose another folder")


def take_owner(out: Path, command: str) -> bool:
    """Make `command` the owner of `out` before it writes there, exclusively: of masks2labels and labels2masks
    started in the same instant into one new folder, both exited 0 over a mix of label maps and colour masks.
    True when this call made the owner file (a run that then writes nothing removes it)."""
    if create_exclusive(out / OWNER_FILE, command + "\n"):
        return True
    owner = folder_owner(out) or "another command"
    if owner == command:
        return False
    if holds_outputs(out):
        check_owner(out, command)  # says whose outputs they are
    if owner not in _RECORDS:  # it marks a folder after writing it: its outputs were deleted since
        atomic_write_text(out / OWNER_FILE, command + "\n")
        return True
    raise UsageError(out, f"is being written by `dataprep {owner}` (no outputs there yet; if no such run is "
                          "going on, it stopped before writing: delete the folder); choose another folder")


def mark_owner(out: Path, command: str) -> None:
    """Record `command` as the writer of `out`, once it has written its outputs there (see `check_owner`)."""
    if not create_exclusive(out / OWNER_FILE, command + "\n") and folder_owner(out) != command:
        atomic_write_text(out / OWNER_FILE, command + "\n")  # an empty folder another command left: this one's now


def folder_owner(out: Path) -> str | None:
    """The command whose outputs `out` holds, per its owner file; None without one."""
    try:
        return (out / OWNER_FILE).read_text(encoding="utf-8").strip() or "another command"
    except FileNotFoundError:
        return None
    except OSError:
        return "another command"  # unreadable: someone's, of unknown kind


def holds_outputs(out: Path) -> bool:
    """Whether `out` holds anything but hidden files (the records of a run that wrote nothing)."""
    return any(not name.startswith(".") for name in os.listdir(out))


def _legacy_owner(out: Path, command: str) -> str | None:
    return next((other for other in _RECORDS if other != command and (out / f".dataprep-{other}.json").is_file()),
                None)


def claim_folder(out: Path, command: str, settings: Mapping[str, Any], rows: Sequence[ManifestRow]) -> bool:
    """Refuse `out` when an earlier `command` run wrote it with other settings or from other rows; else record
    these. Settings are compared as JSON (tuples as lists). True when this call wrote the record."""
    record = {"command": command, "settings": json.loads(json.dumps(dict(settings))),
              "rows": len(rows), "ids_sha256": ids_digest(r.id for r in rows)}
    path = out / f".dataprep-{command}.json"
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        earlier = None
    except (OSError, ValueError):
        earlier = {}  # unreadable: another run's, of unknown settings
    if earlier is not None and earlier != record:
        raise UsageError(out, f"was written by `dataprep {command}` {_difference(earlier, record)}; this run would "
                              "mix its outputs with those: choose another folder, or delete this one first")
    out.mkdir(parents=True, exist_ok=True)
    take_owner(out, command)
    if earlier is None and not create_exclusive(path, json.dumps(record, sort_keys=True) + "\n"):
        return claim_folder(out, command, settings, rows)  # another run took the folder this instant: compare
    return earlier is None


def release_folder(out: Path, command: str) -> None:
    """Undo a `claim_folder` that wrote the record, for a run that wrote nothing (every item failed): no record,
    no folder left empty. An earlier run's record stays: its outputs are there."""
    (out / f".dataprep-{command}.json").unlink(missing_ok=True)
    (out / OWNER_FILE).unlink(missing_ok=True)
    try:
        out.rmdir()
    except OSError:
        pass  # it holds files of its own


def _difference(earlier: Mapping[str, Any], record: Mapping[str, Any]) -> str:
    if not isinstance(earlier.get("settings"), dict):
        return "with settings it does not record (an unreadable record)"
    old, new = earlier["settings"], record["settings"]
    changed = [f"{key} {old.get(key)!r} (now {new.get(key)!r})" for key in sorted(set(old) | set(new))
               if old.get(key) != new.get(key)]
    if changed:
        return "with " + ", ".join(changed)
    if (earlier.get("ids_sha256"), earlier.get("rows")) != (record["ids_sha256"], record["rows"]):
        return f"from other rows ({earlier.get('rows')} then, {record['rows']} now)"
    return "with other settings"
