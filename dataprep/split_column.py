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
    spellings: str | None = None  # "'Train' 5 / 'train' 5": values --split would refuse as one split written twice
    blank: int = 0  # rows whose split cell is empty

    def warning(self, command: str, harm: str) -> str:
        # a --split of a split written two ways is refused (select_splits), so suggest fixing the column instead
        keep = (f"--split {self.keep} takes only those rows" if not self.spellings else
                f"some splits are written several ways ({self.spellings}): make the column's values one spelling, "
                "then --split can take the rows of some")
        if self.held_out:
            text = (f"the manifest holds several splits ({self.listed}) and {command} mixes them: the "
                    f"'{self.held_out}' rows, the dataset's held-out test set, {harm}; {keep}")
        else:
            text = (f"the manifest holds several splits ({self.listed}) and {command} mixes them; "
                    + (f"--split {self.keep} takes the rows of one" if not self.spellings else keep))
        if self.blank:
            text += (f"; {self.blank} row{'s' if self.blank != 1 else ''} with an empty split cell "
                     "(no --split selects them)")
        return text


# Names of one split: a manifest joined from exports that call it `val` and `validation` holds one split, and
# `--split val` took half of its validation rows.
_SAME_SPLIT = {"validation": "val", "valid": "val", "training": "train", "testing": "test"}


def _key(value: str) -> str:
    """What two spellings of one split share: `Train`, `train `, `validation` and `val` are one split to a reader."""
    key = value.strip().casefold()
    return _SAME_SPLIT.get(key, key)


def is_training_split(value: str) -> bool:
    """Whether a split value names the training split, however written (train, Train, training)."""
    return _key(value).startswith("train")


def _shown(value: str) -> str:
    """A split value as listed: quoted when spaces around it would otherwise vanish in the text."""
    return repr(value) if value != value.strip() else value


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _spellings(values: Sequence[str]) -> list[list[str]]:
    """Groups of two or more `values` that `_key` makes one split (case, surrounding spaces, val/validation)."""
    groups: dict[str, list[str]] = {}
    for v in values:
        groups.setdefault(_key(v), []).append(v)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def split_mix(manifest: Manifest) -> SplitMix | None:
    """What a manifest of several splits holds; None for one split or none."""
    counts = Counter(r.extra.get(SPLIT_COLUMN, "") for r in manifest.rows)
    named = sorted(v for v in counts if v.strip())
    if len(named) < 2:
        return None
    held_out = [v for v in named if _key(v).startswith("test")]
    if held_out:
        keep = ",".join(v for v in named if v not in held_out) or named[0]
    else:  # no test split to leave out: the training one, to be folded or measured alone
        keep = next((v for v in named if is_training_split(v)), named[0])
    twice = _spellings(named)
    spellings = ", ".join(" / ".join(f"{v!r} {counts[v]}" for v in g) for g in twice) or None
    blank = sum(n for v, n in counts.items() if not v.strip())
    return SplitMix(", ".join(f"{_shown(v)} {counts[v]}" for v in named), held_out[0] if held_out else None, keep,
                    spellings, blank)


def select_splits(manifest: Manifest, splits: Sequence[str]) -> Manifest:
    """The rows whose split is one of `splits`; a usage error without the column or for a split not there.

    A split also written another way (`Train` and `train`, `test ` with a space) is refused rather than taken
    by its exact spelling alone (`--split train` measured 5 of 10 training rows) or merged in silence: the
    column is the user's to make one spelling."""
    if not splits:
        raise UsageError(manifest.path, "--split names no split (give one or more, comma-separated: train,val)")
    counts = Counter(r.extra.get(SPLIT_COLUMN, "") for r in manifest.rows)
    named = sorted(v for v in counts if v.strip())
    if not named:
        raise UsageError(manifest.path, f"--split needs a {SPLIT_COLUMN!r} column (scan writes one when the "
                                        "folders name several splits); this manifest has none")
    for split in splits:
        others = [v for v in named if v != split and _key(v) == _key(split)]
        if not others:
            continue
        written = ", ".join(f"{v!r} ({_rows(counts[v])})" for v in others)
        if split in counts:
            raise UsageError(manifest.path, f"split {split!r} ({_rows(counts[split])}) is also written {written}: "
                                            "make the column's values one spelling")
        fix = "pass that spelling, or make" if len(others) == 1 else "make"
        raise UsageError(manifest.path, f"no rows of split {split!r}, but it is written {written}: {fix} the "
                                        "column's values one spelling")
    unknown = [s for s in splits if s not in counts or not s.strip()]
    if unknown:
        raise UsageError(manifest.path, f"no rows of split {unknown[0]!r}; the splits here: "
                                        f"{', '.join(map(_shown, named))}")
    keep = set(splits)
    return manifest.filter(lambda r: r.extra.get(SPLIT_COLUMN, "") in keep)


def parse_splits(value: str | None) -> list[str] | None:
    """`--split train,val` as a list; None when not given."""
    return None if value is None else [s for s in value.split(",") if s]
