"""What a command that writes files and a manifest into one folder reports (tile, stitch, resize, predict)."""
from __future__ import annotations

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


__all__ = ["OutputReport"]
