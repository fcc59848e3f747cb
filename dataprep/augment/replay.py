"""Replay an offline output from its recorded params: the same pixels, without the recipe or its RNG."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import DataprepError
from ..sample import Sample
from .base import require_mask, resize_image, resize_mask
from .pipeline import FIT
from .registry import MULTI_OPS
from .single import OP_NAME as ALBUMENTATIONS, AlbumentationsParams, apply_steps


def replay(params_json: str | Sequence[dict[str, Any]], sample: Sample, partners: Sequence[Sample] = ()) -> Sample:
    """The output whose provenance is `params_json` (the `params` of its params file or manifest cell).

    `sample` is the source (with the ignore index the run used); `partners` are the other inputs of
    the multi-sample ops in the order they were used (the output's `source_ids` after the first),
    raw as they were read. Each op's pure `apply` runs with its recorded params, so the arrays
    are the ones the run wrote (before image encoding).
    """
    entries = json.loads(params_json) if isinstance(params_json, str) else list(params_json)
    pending = list(partners)
    for entry in entries:
        op, params = entry["op"], {k: v for k, v in entry.items() if k != "op"}
        if op == ALBUMENTATIONS:
            sample = apply_steps([sample], AlbumentationsParams.from_dict(params["params"]))
        elif op == FIT and "to" in params:
            height, width = params["to"]
            sample = sample.evolve(resize_image(sample.image, height, width),
                                   resize_mask(require_mask(sample), height, width), op, params)
        elif op in MULTI_OPS:
            spec = MULTI_OPS[op]
            typed = spec.params_type.from_dict(params)
            used = spec.uses_partners is None or spec.uses_partners(typed)
            count = spec.inputs - 1
            if used and len(pending) < count:
                raise DataprepError(sample.meta.id, f"replaying {op} needs {count} partner(s), {len(pending)} left")
            if used:
                inputs, pending = [sample, *pending[:count]], pending[count:]
            else:  # the partner gave no pixel and is not a recorded source: the sample stands in for it
                inputs = [sample] * spec.inputs
            sample = spec.apply(inputs, typed)
        else:
            raise DataprepError(sample.meta.id, f"cannot replay op {op!r} (not an offline op record)")
    return sample
