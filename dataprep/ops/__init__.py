"""Every recipe op, one spec each (see `spec.OpSpec`); importing this package registers them all.

A new op is one block in one of the family modules (or a new module imported
below): its params dataclass, its engine implementations and its `register(OpSpec(...))`.
`tests/test_op_specs.py` runs every op on every engine its spec claims.
"""
from __future__ import annotations

from . import geometric, distort, colour, mixing  # noqa: F401,I001  (registration, in this order)
from .colour import BrightnessContrast, ColorJitter, GaussianBlur, GaussianNoise, HueSaturationValue, Normalize
from .distort import CoarseDropout, CropNonEmpty, Elastic, GridDistortion, Perspective
from .geometric import Affine, HorizontalFlip, RandomCrop, RandomResizedCrop, RandomScale, Resize, Rotate, VerticalFlip
from .mixing import CopyPaste, Crop, CutMix, Mixup, Mosaic
from .spec import (
    ALBUMENTATIONS, DALI, OFFLINE, SPECS, OfflineImpl, OpSpec, StepParams, engine_name, register, spec_of,
)

__all__ = [
    "ALBUMENTATIONS", "DALI", "OFFLINE", "SPECS", "OfflineImpl", "OpSpec", "StepParams", "engine_name", "register",
    "spec_of",
    "Affine", "BrightnessContrast", "CoarseDropout", "ColorJitter", "CopyPaste", "Crop", "CropNonEmpty", "CutMix",
    "Elastic", "GaussianBlur", "GaussianNoise", "GridDistortion", "HorizontalFlip", "HueSaturationValue", "Mixup",
    "Mosaic", "Normalize", "Perspective", "RandomCrop", "RandomResizedCrop", "RandomScale", "Resize", "Rotate",
    "VerticalFlip",
]
