"""A horizontal flip that also swaps left/right classes, as an albumentations transform (imported when built)."""
from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
from albumentations.augmentations.geometric.functional import hflip


class HorizontalFlipSwappingLabels(A.HorizontalFlip):
    """`A.HorizontalFlip` whose masks also exchange the classes of each pair (left arm <-> right arm):
    MMSegmentation's `RandomFlip(swap_seg_labels=...)`."""

    class InitSchema(A.HorizontalFlip.InitSchema):
        swap_labels: tuple[tuple[int, int], ...]

    def __init__(self, swap_labels: tuple[tuple[int, int], ...], p: float = 0.5) -> None:
        super().__init__(p=p)
        self.swap_labels = tuple(tuple(pair) for pair in swap_labels)

    def apply_to_mask(self, mask: np.ndarray, **params: Any) -> np.ndarray:
        from .geometric import swap_labels

        return swap_labels(hflip(mask), self.swap_labels)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("swap_labels",)
