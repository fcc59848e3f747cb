"""Single-sample geometric and photometric steps, run by albumentations.

Consecutive single-sample steps of a recipe run as one albumentations Compose
(built by dataprep.albu, so masks get nearest interpolation and the ignore index
as fill exactly as in the training-time engine). Whether a step runs is decided
by the output's own RNG before this point, so the Compose holds only the steps
that run, each with p=1, seeded per output; a run keeps its compiled Composes
in one `Kernels` object.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import albumentations as A
import cv2
import numpy as np

from ..albu import compile_albumentations, seed_compose
from ..errors import DataprepError
from ..recipe import Step, StepParams, parse_recipe
from ..sample import Sample
from .base import OpParams, Size, ignore_of, require_mask

OP_NAME = "albumentations"
# Recorded per applied transform; the rest (shapes, derived matrices) is noise in a manifest.
_DROP_KEYS = {"shape", "bbox_matrix", "output_shape"}


@dataclass(frozen=True)
class AlbumentationsParams(OpParams):
    """The steps to run (recipe step dicts, p left out), the output size, fill and the Compose seed."""

    steps: tuple[dict[str, Any], ...]
    size: tuple[int, int] | None
    ignore_index: int
    seed: int


def sample_steps(
    rng: np.random.Generator, inputs: Sequence[Sample], steps: Sequence[Step], size: Size | None
) -> AlbumentationsParams:
    return group_params(int(rng.integers(2**31)), inputs, steps, size)


def group_params(
    seed: int, inputs: Sequence[Sample], steps: Sequence[Step], size: Size | None, kernels: Kernels | None = None
) -> AlbumentationsParams:
    """The params of `steps` run as one Compose seeded with `seed`: its only random choice.

    The planner calls this with a seed derived for the output and step, which
    saves building a generator only to draw that one number.
    """
    dicts = tuple(kernels.step_dict(s) if kernels is not None else _step_dict(s) for s in steps)
    return AlbumentationsParams(dicts, tuple(size) if size else None, ignore_of(inputs), seed)


def _step_dict(step: Step) -> dict[str, Any]:
    """A step's params without its probability (the plan already decided it runs)."""
    return {k: v for k, v in step.to_dict().items() if k != "p"}


def _compile(p: AlbumentationsParams) -> A.Compose:
    recipe = parse_recipe({"steps": [{**s, "p": 1.0} for s in p.steps], "size": list(p.size) if p.size else None})
    return compile_albumentations(recipe.steps, size=recipe.size, ignore_index=p.ignore_index)


class Kernels:
    """What one run derives once per recipe step instead of once per output: step dicts and Composes.

    Building a Compose (parse + albumentations' validated constructors) costs
    about as much as running it on a small output (figures in docs/augment.md),
    so a run keeps one per distinct group of steps; a recipe has few. Step dicts
    are keyed by the Step object's identity (hashing nested frozen dataclasses
    per output costs more than the lookup saves); each entry holds its key, so
    an id cannot be reused while cached. One per run (the offline worker holds
    one); nothing here is process-wide.
    """

    def __init__(self) -> None:
        self._dicts: dict[int, tuple[Step, dict[str, Any]]] = {}
        self._composes: dict[tuple, A.Compose] = {}

    def step_dict(self, step: Step) -> dict[str, Any]:
        hit = self._dicts.get(id(step))
        if hit is not None and hit[0] is step:
            return hit[1]
        value = _step_dict(step)
        self._dicts[id(step)] = (step, value)
        return value

    def compose(self, p: AlbumentationsParams) -> A.Compose:
        # Step dicts are built in field order, so their repr is a stable key.
        key = (repr(p.steps), p.size, p.ignore_index)
        compose = self._composes.get(key)
        if compose is None:
            compose = self._composes[key] = _compile(p)
        return compose

    def __getstate__(self) -> dict[str, Any]:
        return {}  # sent to worker processes empty: each fills its own

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()


def sample_one(rng: np.random.Generator, inputs: Sequence[Sample], params: StepParams, size: Size) -> AlbumentationsParams:
    """Registry form: one step."""
    return sample_steps(rng, inputs, [Step(params, 1.0)], size)


def apply_steps(inputs: Sequence[Sample], p: AlbumentationsParams, kernels: Kernels | None = None) -> Sample:
    """The steps of `p` on `inputs[0]`; `kernels`: the run's compiled Composes (None: compile them now)."""
    src = inputs[0]
    if not p.steps:
        return src
    compose = kernels.compose(p) if kernels is not None else _compile(p)
    seed_compose(compose, p.seed)
    try:
        out = compose(image=src.image, mask=require_mask(src))
    except (ValueError, TypeError, RuntimeError, cv2.error) as exc:  # e.g. a photometric step on a 16-bit image
        names = ", ".join(s["op"] for s in p.steps)
        raise DataprepError(src.meta.image_path or src.meta.id, f"albumentations failed on {names}: {exc}") from None
    image = out["image"]
    if image.ndim == 2:
        image = image[:, :, None]
    # Read back from each transform rather than with Compose(save_applied_params=True),
    # which threads a list through every transform's kwargs and costs ~5% of the run.
    applied = [[type(t).__name__, _compact(t.get_applied_params())] for t in compose.transforms
               if t.get_applied_params()]
    record = {"steps": [s["op"] for s in p.steps], "seed": p.seed, "applied": applied}
    return src.evolve(np.ascontiguousarray(image), np.ascontiguousarray(out["mask"]), OP_NAME, record)


def _compact(value: Any) -> Any:
    """JSON-able, floats rounded: what was applied, small enough for a manifest cell.

    Runs once per output on every applied transform's params, so the common
    types are dispatched on their exact type first.
    """
    kind = type(value)
    if kind is float:
        return round(value, 4) if math.isfinite(value) else str(value)
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            if k in _DROP_KEYS:
                continue
            leaf = type(v)  # most values are plain numbers: no call for them
            if leaf is int or leaf is str or leaf is bool:
                out[str(k)] = v
            elif leaf is float and math.isfinite(v):
                out[str(k)] = round(v, 4)
            else:
                out[str(k)] = _compact(v)
        return out
    if kind is list or kind is tuple:
        return [round(v, 4) if type(v) is float and math.isfinite(v) else _compact(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _compact(value.tolist())
    if isinstance(value, dict):
        return {str(k): _compact(v) for k, v in value.items() if k not in _DROP_KEYS}
    if isinstance(value, (list, tuple)):
        return [_compact(v) for v in value]
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else str(value)
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)
