"""Start-up check that every batch of a run can be formed, before an epoch of work is spent on it.

Samples of different sizes after the recipe cannot be stacked into one batch;
without this check a run with mixed image sizes fails at its first validation,
after a whole epoch and with no checkpoint. One sample of each image size the
manifest lists goes through the recipe: that finds a missing fixed-size step
for the cost of a few decodes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from ..manifest import ManifestRow

# Manifests with more distinct image sizes than this are probed on the first ones only.
MAX_PROBED_SIZES = 64


@dataclass(frozen=True)
class SizeMismatch:
    """Two samples whose outputs differ in size, the first of them the manifest's first size."""

    first: ManifestRow
    first_shape: tuple[int, int]  # (height, width) after the recipe
    other: ManifestRow
    other_shape: tuple[int, int]

    def describe(self) -> str:
        (h0, w0), (h1, w1) = self.first_shape, self.other_shape
        return f"{self.first.image} comes out {w0}x{h0}, {self.other.image} {w1}x{h1}"


def first_size_mismatch(manifest: Any, recipe: Any, *, fold: int | None = None,
                        split: str | None = None) -> SizeMismatch | None:
    """The first sample whose output size (after `recipe`) differs from the first sample's, or None."""
    from ..data.dataset import SegmentationDataset

    with warnings.catch_warnings():  # a probe: the trainer's own loaders and first-batch checks say what is wrong
        warnings.simplefilter("ignore")
        dataset = SegmentationDataset(manifest, recipe, None, fold=fold, split=split)
    first_of: dict[tuple[int, int], int] = {}
    for i, row in enumerate(dataset.rows):
        first_of.setdefault((row.width, row.height), i)
    if len(first_of) < 2:
        return None  # one stored size: every recipe step here is size-preserving or fixed-size
    probes = list(first_of.values())[:MAX_PROBED_SIZES]
    reference = None
    for i in probes:
        shape = tuple(dataset[i]["mask"].shape[-2:])
        if reference is None:
            reference = (i, shape)
        elif shape != reference[1]:
            return SizeMismatch(dataset.rows[reference[0]], reference[1], dataset.rows[i], shape)  # type: ignore[arg-type]
    return None


__all__ = ["MAX_PROBED_SIZES", "SizeMismatch", "first_size_mismatch"]
