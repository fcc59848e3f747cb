"""Refuse to validate on images a training sample was built from.

Offline mixing (mosaic, copy-paste, mixup, cutmix) records in `source_ids` every
image an output was made of. A training row whose `source_ids` name a validation
image carries validation pixels into training, and the validation score then
overstates what the model learnt.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import DataprepError
from ..manifest import ManifestRow


def validation_ids(rows: Sequence[ManifestRow]) -> set[str]:
    """The images a validation row shows: its own id and, for an augmented row, its source (the first
    of its `source_ids`)."""
    ids = set()
    for row in rows:
        ids.add(row.id)
        sources = row.extra.get("source_ids")
        if sources:
            ids.add(sources.split(";", 1)[0])
    return ids


def check_source_leakage(train: Sequence[ManifestRow], val: Sequence[ManifestRow], source: str, what: str) -> None:
    """Raise naming the first training row built from a validation image (and how many are)."""
    if not any(r.extra.get("source_ids") for r in train):
        return  # no augmented rows: nothing was mixed
    held_out = validation_ids(val)
    leaks = [(r.id, hit) for r in train
             for hit in [next((i for i in r.extra.get("source_ids", "").split(";") if i in held_out), None)]
             if hit is not None]
    if leaks:
        row, image = leaks[0]
        raise DataprepError(
            source,
            f"training row {row!r} was made from {image!r} of {what} ({len(leaks)} of {len(train)} training rows "
            "hold validation images); rerun `dataprep augment` with the default `partners: auto` "
            "on the kfold manifest, or validate on data no training row was made from",
        )
