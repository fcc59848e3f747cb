"""What a command that writes files and a manifest into one folder reports (tile, stitch, resize, predict), and
the folders such a run makes."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class OutputReport:
    """The output folder, one line per failed item ("path: reason"), and the manifest written there."""

    out_dir: Path
    errors: list[str] = field(default_factory=list)
    manifest_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def missing_folders(out: Path, ids: Iterable[str], kinds: Sequence[str]) -> list[Path]:
    """The folders `out/<kind>/<id's folder>` the outputs of `ids` go in, and those above them up to `out`, that
    do not exist yet, deepest first: taken before the run, so that a run that writes nothing can remove the
    folders it made ("nothing written" beside an empty images/ tree) and never a previous run's."""
    wanted = {out / kind / Path(i).parent for i in ids for kind in kinds}
    missing: set[Path] = set()
    for folder in wanted:
        for f in (folder, *folder.parents):
            if f == out.parent or f in missing or f.exists():
                break
            missing.add(f)
    return sorted(missing, key=lambda f: len(f.parts), reverse=True)


def remove_empty(folders: Sequence[Path]) -> None:
    """rmdir each folder, deepest first; one holding anything (a concurrent run's file) stays."""
    for folder in folders:
        with suppress(OSError):
            folder.rmdir()


__all__ = ["OutputReport", "missing_folders", "remove_empty"]
