"""The manifest's `split` column (as `scan` writes it from folder names): keeping the rows of some splits, and
saying when a command is about to mix several, the dataset's own test set among them."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import UsageError
from .manifest import Manifest

SPLIT_COLUMN = "split"


@dataclass(frozen=True)
class SplitMix:
    """Several splits in one manifest: their row counts as text, the held-out test split, what to keep."""

    listed: str  # "test 233, train 367, val 101"
    held_out: str | None  # the first split named test*, if any
    keep: str  # the --split value to suggest: every split but the held-out one, else the training split

    def warning(self, command: str, harm: str) -> str:
        if self.held_out:
            return (f"the manifest holds several splits ({self.listed}) and {command} mixes them: the "
                    f"'{self.held_out}' rows, the dataset's held-out test set, {harm}; --split {self.keep} takes "
                    "only those rows")
        return (f"the manifest holds several splits ({self.listed}) and {command} mixes them; --split {self.keep} "
                "takes the rows of one")


def split_mix(manifest: Manifest) -> SplitMix | None:
    """What a manifest of several splits holds; None for one split or none."""
    counts = Counter(r.extra.get(SPLIT_COLUMN, "") for r in manifest.rows)
    named = sorted(v for v in counts if v)
    if len(named) < 2:
        return None
    held_out = [v for v in named if v.lower().startswith("test")]
    if held_out:
        keep = ",".join(v for v in named if v not in held_out) or named[0]
    else:  # no test split to leave out: the training one, to be folded or measured alone
        keep = next((v for v in named if v.lower().startswith("train")), named[0])
    return SplitMix(", ".join(f"{v} {counts[v]}" for v in named), held_out[0] if held_out else None, keep)


def select_splits(manifest: Manifest, splits: Sequence[str]) -> Manifest:
    """The rows whose split is one of `splits`; a usage error without the column or for a split not there."""
    if not splits:
        raise UsageError(manifest.path, "--split names no split (give one or more, comma-separated: train,val)")
    present = {r.extra.get(SPLIT_COLUMN, "") for r in manifest.rows}
    named = sorted(v for v in present if v)
    if not named:
        raise UsageError(manifest.path, f"--split needs a {SPLIT_COLUMN!r} column (scan writes one when the "
                                        "folders name several splits); this manifest has none")
    unknown = [s for s in splits if s not in present]
    if unknown:
        raise UsageError(manifest.path, f"no rows of split {unknown[0]!r}; the splits here: {', '.join(named)}")
    keep = set(splits)
    return manifest.filter(lambda r: r.extra.get(SPLIT_COLUMN, "") in keep)


def parse_splits(value: str | None) -> list[str] | None:
    """`--split train,val` as a list; None when not given."""
    return None if value is None else [s for s in value.split(",") if s]
