"""The one record that flows through every stage: image, mask and metadata."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

DEFAULT_IGNORE_INDEX = 255


@dataclass(frozen=True)
class SampleMeta:
    """Where a sample came from and what has been done to it."""

    id: str
    image_path: str | None = None
    mask_path: str | None = None
    ignore_index: int = DEFAULT_IGNORE_INDEX
    # (op name, params as a JSON-able dict) for every op applied, in order.
    history: tuple[tuple[str, dict[str, Any]], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """An image (H, W, C) and its integer label map (H, W), sizes checked equal."""

    image: np.ndarray
    mask: np.ndarray | None
    meta: SampleMeta

    def __post_init__(self) -> None:
        if self.image.ndim != 3:
            raise ValueError(f"{self.meta.id}: image must be (H, W, C), got shape {self.image.shape}")
        if self.mask is not None:
            if self.mask.ndim != 2:
                raise ValueError(f"{self.meta.id}: mask must be (H, W) class indices, got shape {self.mask.shape}")
            if self.mask.dtype.kind not in "iu":
                raise ValueError(f"{self.meta.id}: mask must be an integer array, got {self.mask.dtype}")
            if self.mask.shape != self.image.shape[:2]:
                raise ValueError(
                    f"{self.meta.id}: image is {self.image.shape[1]}x{self.image.shape[0]} "
                    f"but mask is {self.mask.shape[1]}x{self.mask.shape[0]}"
                )

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def evolve(
        self,
        image: np.ndarray,
        mask: np.ndarray | None,
        op: str | None = None,
        params: dict[str, Any] | None = None,
        **meta_changes: Any,
    ) -> "Sample":
        """A new sample with new arrays; `op`/`params` are appended to the history."""
        meta = self.meta
        if op is not None:
            # Not dataclasses.replace: this runs once per op and output, and replace is slow.
            meta = SampleMeta(meta.id, meta.image_path, meta.mask_path, meta.ignore_index,
                              meta.history + ((op, dict(params or {})),), meta.extra)
        if meta_changes:
            meta = replace(meta, **meta_changes)
        return Sample(image=image, mask=mask, meta=meta)
