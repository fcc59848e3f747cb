"""Offline-only ops of dataprep.augment: class-aware crop and the mixing ops that take several samples.

Their implementations (sampler, pure apply, params type) live in dataprep.augment
and are imported only when the offline engine runs them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .spec import OfflineImpl, OpSpec, Range, StepParams, check_positive, check_range, recipe_size, register


@dataclass(frozen=True)
class Crop(StepParams):
    """Offline crop to the recipe size: random, or class-aware.

    `cat_max_ratio` < 1 retries (up to `max_tries`) until no single class covers
    more than that fraction of the crop (ignore excluded), as in MMSegmentation.
    `focus_classes` centres the crop on a random pixel of one of these classes
    when the sample has any. `scale` (optional) first resizes the input by a
    random factor relative to the smallest size that covers the crop, so
    [1, 2] never pads and zooms in up to 2x whatever the input size.
    """

    op: ClassVar[str] = "crop"
    cat_max_ratio: float = 1.0
    max_tries: int = 10
    focus_classes: tuple[int, ...] = ()
    pad_if_needed: bool = True
    image_fill: int = 0
    scale: Range | None = None

    def check(self) -> None:
        if not 0.0 < self.cat_max_ratio <= 1.0:
            raise ValueError(f"cat_max_ratio: must be in (0, 1], got {self.cat_max_ratio}")
        if self.max_tries < 1:
            raise ValueError(f"max_tries: must be >= 1, got {self.max_tries}")
        if self.scale is not None:
            check_range("scale", self.scale, 0.0)
            check_positive("scale", self.scale[0])


register(OpSpec(Crop, needs_size=True, geometric=True, output_shape=recipe_size,
                offline=OfflineImpl("dataprep.augment.crop", "sample_crop", "apply_crop", "CropParams")))


@dataclass(frozen=True)
class Mosaic(StepParams):
    """Four samples on one canvas of the recipe size around a random centre."""

    op: ClassVar[str] = "mosaic"
    center: Range = (0.25, 0.75)  # centre position as a fraction of the canvas
    scale: Range = (0.5, 1.0)  # each quadrant's source scale relative to fitting the canvas
    image_fill: int | float | None = None  # None: YOLO's grey in the images' own range (augment.mosaic.grey_fill)

    def check(self) -> None:
        check_range("center", self.center, 0.0, 1.0)
        check_range("scale", self.scale, 0.0)
        check_positive("scale", self.scale[0])


register(OpSpec(Mosaic, needs_size=True, inputs=4, geometric=True, output_shape=recipe_size,
                offline=OfflineImpl("dataprep.augment.mosaic", "sample_mosaic", "apply_mosaic", "MosaicParams")))


@dataclass(frozen=True)
class CopyPaste(StepParams):
    """Paste objects (connected components) of `classes` from a donor sample into the target."""

    op: ClassVar[str] = "copy_paste"
    classes: tuple[int, ...] = ()  # empty: any non-ignore class but the donor's largest
    max_objects: int = 3
    min_area: int = 16  # pixels; smaller components are noise
    max_area_fraction: float = 0.25  # components larger than this fraction of the image are background
    scale: Range = (0.75, 1.25)
    flip: bool = True
    blend_sigma: float = 1.0  # feathers image edges; 0 = hard paste
    swap_labels: tuple[tuple[int, int], ...] = ()  # as hflip's: a mirrored left arm is pasted as a right arm

    def check(self) -> None:
        from .geometric import check_swap_pairs

        check_swap_pairs(self.swap_labels)
        if self.max_objects < 1:
            raise ValueError(f"max_objects: must be >= 1, got {self.max_objects}")
        check_range("scale", self.scale, 0.0)
        check_positive("scale", self.scale[0])
        check_positive("blend_sigma", self.blend_sigma, allow_zero=True)
        if not 0.0 < self.max_area_fraction <= 1.0:
            raise ValueError(f"max_area_fraction: must be in (0, 1], got {self.max_area_fraction}")


# Not geometric: the target's pixels stay where they are (pasted objects bring their own mask).
register(OpSpec(CopyPaste, inputs=2, offline=OfflineImpl(
    "dataprep.augment.copy_paste", "sample_copy_paste", "apply_copy_paste", "CopyPasteParams",
    uses_partners=lambda p: bool(p.objects))))


@dataclass(frozen=True)
class Mixup(StepParams):
    """Blend two images with lambda ~ Beta(alpha, alpha); the mask is the dominant sample's."""

    op: ClassVar[str] = "mixup"
    alpha: float = 0.4
    soft_labels: bool = False  # also write per-class weights as .npz

    def check(self) -> None:
        check_positive("alpha", self.alpha)


register(OpSpec(Mixup, inputs=2,
                offline=OfflineImpl("dataprep.augment.mix", "sample_mixup", "apply_mixup", "MixupParams")))


@dataclass(frozen=True)
class CutMix(StepParams):
    """Paste a random box of a second sample into image and mask; box area ~ 1 - Beta(alpha, alpha)."""

    op: ClassVar[str] = "cutmix"
    alpha: float = 1.0

    def check(self) -> None:
        check_positive("alpha", self.alpha)


register(OpSpec(CutMix, inputs=2, geometric=True,
                offline=OfflineImpl("dataprep.augment.mix", "sample_cutmix", "apply_cutmix", "CutMixParams")))
