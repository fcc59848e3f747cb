"""Op name -> (inputs, sampler, pure apply, params type), for every op an offline recipe can use."""
from __future__ import annotations

from .. import recipe as r
from .base import Op
from .copy_paste import CopyPasteParams, apply_copy_paste, sample_copy_paste
from .crop import CropParams, apply_crop, sample_crop
from .mix import CutMixParams, MixupParams, apply_cutmix, apply_mixup, sample_cutmix, sample_mixup
from .mosaic import MosaicParams, apply_mosaic, sample_mosaic
from .single import AlbumentationsParams, apply_steps, sample_one

# Ops implemented here (several may take more than one sample).
MULTI_OPS: dict[str, Op] = {
    "crop": Op("crop", 1, sample_crop, apply_crop, CropParams),
    "mosaic": Op("mosaic", 4, sample_mosaic, apply_mosaic, MosaicParams),
    "copy_paste": Op("copy_paste", 2, sample_copy_paste, apply_copy_paste, CopyPasteParams,
                     uses_partners=lambda p: bool(p.objects)),
    "mixup": Op("mixup", 2, sample_mixup, apply_mixup, MixupParams),
    "cutmix": Op("cutmix", 2, sample_cutmix, apply_cutmix, CutMixParams),
}

# Every other step the offline engine accepts runs through albumentations.
ALBUMENTATIONS_OPS: dict[str, Op] = {
    name: Op(name, 1, sample_one, apply_steps, AlbumentationsParams)
    for name, cls in r.STEP_TYPES.items()
    if name not in MULTI_OPS and r.OFFLINE in cls.engines
}

OPS: dict[str, Op] = {**MULTI_OPS, **ALBUMENTATIONS_OPS}


def is_albumentations_step(step: r.Step) -> bool:
    return step.op in ALBUMENTATIONS_OPS
