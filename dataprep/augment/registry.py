"""Op name -> (inputs, sampler, pure apply, params type), for every op an offline recipe can use.

Built from the op specs (dataprep.ops): an op whose spec names an offline
implementation runs it; a single-sample op that runs offline through
albumentations runs as part of a group of consecutive such steps (`single`).
"""
from __future__ import annotations

import dataclasses
import inspect

from .. import recipe as r
from ..ops import SPECS, OfflineImpl
from .base import Op
from .single import AlbumentationsParams, apply_steps, sample_one


def _offline_op(name: str, impl: OfflineImpl, inputs: int) -> Op:
    op = impl.load(name, inputs)
    # A sampler declares by a `kernels` keyword that it derives data once per run (copy-paste: donor components).
    return dataclasses.replace(op, takes_kernels="kernels" in inspect.signature(op.sample).parameters)


# Ops implemented in dataprep.augment (several take more than one sample).
MULTI_OPS: dict[str, Op] = {
    name: _offline_op(name, spec.offline, spec.inputs)
    for name, spec in SPECS.items() if isinstance(spec.offline, OfflineImpl)
}

# Every other step the offline engine accepts runs through albumentations.
ALBUMENTATIONS_OPS: dict[str, Op] = {
    name: Op(name, 1, sample_one, apply_steps, AlbumentationsParams)
    for name, spec in SPECS.items() if spec.offline is True
}

OPS: dict[str, Op] = {**MULTI_OPS, **ALBUMENTATIONS_OPS}


def is_albumentations_step(step: r.Step) -> bool:
    return step.op in ALBUMENTATIONS_OPS
