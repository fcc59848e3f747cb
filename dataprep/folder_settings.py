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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .io import atomic_write_text
from .manifest import ManifestRow
from .stats_origin import ids_digest


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
    if earlier is None:
        atomic_write_text(path, json.dumps(record, sort_keys=True) + "\n")
    return earlier is None


def release_folder(out: Path, command: str) -> None:
    """Undo a `claim_folder` that wrote the record, for a run that wrote nothing (every item failed): no record,
    no folder left empty. An earlier run's record stays: its outputs are there."""
    (out / f".dataprep-{command}.json").unlink(missing_ok=True)
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
