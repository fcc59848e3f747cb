"""What the albumentations builders of every op share: mask interpolation and the build context.

Masks always use nearest-neighbour interpolation and the recipe's ignore index
as fill, whatever the step. Resizing steps use cv2.INTER_NEAREST_EXACT for masks:
plain INTER_NEAREST in cv2.resize samples at `floor(x * scale)`, not at pixel
centres like the linear image resize, so a 4x downscale would shift the mask up
to 1.5 pixels against its image. Warps (rotate, affine) use INTER_NEAREST, which
cv2.warpAffine already rounds at pixel centres.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import cv2

from ..errors import UsageError

NEAREST = cv2.INTER_NEAREST  # masks in warps (cv2.warpAffine rounds at pixel centres)
NEAREST_RESIZE = cv2.INTER_NEAREST_EXACT  # masks in resizes (pixel-centre sampling, like the image)


@dataclass(frozen=True)
class BuildContext:
    """What an albumentations builder needs besides its step's params."""

    size: tuple[int, int] | None
    ignore_index: int
    mean: Sequence[float] | None
    std: Sequence[float] | None
    source: str | None
    index: int  # 1-based step number, for messages

    @property
    def A(self) -> ModuleType:  # noqa: N802 - the module's usual name
        """albumentations, imported when a builder first runs (not when a recipe is parsed)."""
        import albumentations

        return albumentations

    def require_size(self, op: str) -> tuple[int, int]:
        if self.size is None:
            raise UsageError(self.source, f"step {self.index} ({op}): the recipe needs a 'size'")
        return self.size


def border_fill(value: float) -> tuple[float, ...]:
    """`value` for every band of an OpenCV border: a bare number is a Scalar (value, 0, 0, 0), so rotated-in
    corners of an `image_fill: 114` came out red (114, 0, 0) where DALI's were grey. Four values serve any band
    count (albumentations hands images of more bands to OpenCV four at a time)."""
    return (float(value),) * 4
