"""Offline augmentation: recipes of single- and multi-sample ops written to disk with provenance.

Library entry points:
- `augment_manifest(manifest, recipe, out, ...)`: what `dataprep augment` runs;
- `augment_samples(recipe, samples, index, variant)`: one output, in memory;
- `replay(params_json, sample, partners)`: an output again from its recorded params;
- `PartnerPools`: which rows may be partners of each other (same fold/group), built once;
- `OPS`: op name -> `Op(name, inputs, sample, apply, params_type)`, the contract
  every op keeps (`sample(rng, inputs, step, size) -> params`, pure `apply(inputs, params)`).
"""
from __future__ import annotations

from .base import Op, OpParams
from .pipeline import applied_ops, augment_samples, execute, provenance
from .plan import OutputPlan, PartnerPools, StepPlan, plan_output, plan_outputs
from .registry import ALBUMENTATIONS_OPS, MULTI_OPS, OPS
from .replay import replay
from .run import AugmentSummary, augment_manifest, load_sample, output_id

__all__ = [
    "ALBUMENTATIONS_OPS",
    "AugmentSummary",
    "MULTI_OPS",
    "OPS",
    "Op",
    "OpParams",
    "OutputPlan",
    "PartnerPools",
    "StepPlan",
    "applied_ops",
    "augment_manifest",
    "augment_samples",
    "execute",
    "load_sample",
    "output_id",
    "plan_output",
    "plan_outputs",
    "provenance",
    "replay",
]
