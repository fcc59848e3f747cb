"""Refuse to validate on images a training sample was built from.

Offline mixing (mosaic, copy-paste, mixup, cutmix) records in `source_ids` every
image an output was made of. A training row whose `source_ids` name a validation
image carries validation pixels into training, and the validation score then
overstates what the model learnt. Validation rows whose image file is a training
row's too are refused as well.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import DataprepError, UsageError
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


def check_row_overlap(train: Sequence[ManifestRow], val: Sequence[ManifestRow], source: str, what: str,
                      field: str) -> str | None:
    """Refuse validation rows whose image file is a training row's too; a warning when the validation rows are
    exactly the training rows (a deliberate memorisation check), else None.

    The `source_ids` check above only sees offline-augmented rows: a validation manifest cut from the very
    manifest trained on (ISBI's 30 rows with fold 0's 6 as val_manifest) scored 6 images the model had learnt.
    Ids alone say nothing: splits scanned apart number their files alike (train/0001.png, val/0001.png).
    """
    images = {os.path.normpath(r.image_str) for r in train}
    shared = [r for r in val if os.path.normpath(r.image_str) in images]
    if not shared:
        return None
    if len(shared) == len(val) == len(train):
        return (f"{field}: validating on the {len(val)} training rows themselves ({what}): the score measures "
                "memorisation, not how the model does on images it has not seen")
    fix = {"data.fold": "rerun `dataprep kfold`, which keeps the rows of one image in one fold",
           "data.val_split": "give each image one split in the manifest's split column"}.get(
        field, "give data.val_manifest rows of other images, or use data.fold on a kfold manifest")
    raise UsageError(source, f"{field}: {len(shared)} of the {len(val)} rows of {what} are training images too "
                             f"(the first: {shared[0].id!r}, {shared[0].image_str}); {fix}")
