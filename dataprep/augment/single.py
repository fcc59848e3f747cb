"""Single-sample geometric and photometric steps, with typed params, on the albumentations kernel.

Consecutive single-sample steps of a recipe run as one group. Whether a step
runs is decided by the output's own RNG before this point (the plan), so a
group holds only the steps that run, each with p=1. Its params are drawn by
dataprep (`dataprep.ops.steps.CompiledSteps.draw`, from a generator seeded
with the group's seed) into each op's frozen params dataclass, recorded in
the output's history, and applied with albumentations' functions: a recorded
group replays exactly (`dataprep.augment.replay`). A run keeps its compiled
steps in one `Kernels` object.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import DataprepError
from ..ops.params import OpParams
from ..ops.steps import CompiledSteps
from ..recipe import Step, StepParams, parse_recipe
from ..sample import Sample
from .base import Size, ignore_of, require_mask
from .mix import SOFT_LABEL_KEY

OP_NAME = "albumentations"


@dataclass(frozen=True)
class AlbumentationsParams(OpParams):
    """The steps to run (recipe step dicts, p left out), the output size, fill, the seed the params were
    drawn from, and the drawn params of each step (None: left out by its own `p`, for groups run alone)."""

    steps: tuple[dict[str, Any], ...]
    size: tuple[int, int] | None
    ignore_index: int
    seed: int
    drawn: tuple[OpParams | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # Step dicts are JSON-ready already (`Step.to_dict`); copied, not converted again.
        return {"steps": [{k: list(v) if isinstance(v, list) else v for k, v in s.items()} for s in self.steps],
                "size": list(self.size) if self.size else None, "ignore_index": self.ignore_index,
                "seed": self.seed, "drawn": [None if d is None else d.to_dict() for d in self.drawn]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlbumentationsParams:
        from ..ops import SPECS

        steps = tuple(dict(s) for s in data["steps"])
        drawn = tuple(None if d is None else SPECS[s["op"]].drawn.from_dict(d) for s, d in zip(steps, data["drawn"]))
        size = data["size"]
        return cls(steps, tuple(size) if size else None, int(data["ignore_index"]), int(data["seed"]), drawn)


def _step_dict(step: Step) -> dict[str, Any]:
    """A step's params without its probability (the plan already decided it runs)."""
    return {k: v for k, v in step.to_dict().items() if k != "p"}


def _compile(steps: Sequence[dict[str, Any]], size: Size | None, ignore_index: int) -> CompiledSteps:
    recipe = parse_recipe({"steps": [{**s, "p": 1.0} for s in steps], "size": list(size) if size else None})
    return CompiledSteps(recipe.steps, size=recipe.size, ignore_index=ignore_index)


class Kernels:
    """What one run derives once instead of once per output: step dicts, compiled steps, and values derived
    from its inputs (`derived`: copy-paste's donor components).

    Compiling a group (parsing it, building albumentations' validated
    transforms) costs about as much as running it on a small output (figures in
    docs/augment.md), so a run keeps one per distinct group; a recipe has few.
    Step dicts are keyed by the Step object's identity (hashing nested frozen
    dataclasses per output costs more than the lookup saves); each entry holds
    its key, so an id cannot be reused while cached. One per run (the offline
    worker holds one); nothing here is process-wide.
    """

    DERIVED_SIZE = 32  # inputs whose derived values are kept (the run's sample cache holds 16 samples)

    def __init__(self) -> None:
        self._dicts: dict[int, tuple[Step, dict[str, Any]]] = {}
        self._compiled: dict[tuple, CompiledSteps] = {}
        self._own_dicts: set[int] = set()
        self._by_identity: dict[tuple, CompiledSteps] = {}
        self._derived: OrderedDict[tuple, tuple[np.ndarray, Any]] = OrderedDict()

    def derived(self, source: np.ndarray, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()`, a value derived from the array `source` (with `key` saying how), once per run.

        Only read-only arrays are kept (the run loads its inputs so): a writable one could change
        under its value. Keyed by identity, each entry holding its array so that the id cannot be
        reused while it is kept; the least recently used of more than `DERIVED_SIZE` goes.
        """
        if source.flags.writeable:
            return compute()
        full = (id(source), *key)
        hit = self._derived.get(full)
        if hit is not None and hit[0] is source:
            self._derived.move_to_end(full)
            return hit[1]
        value = compute()
        self._derived[full] = (source, value)
        if len(self._derived) > self.DERIVED_SIZE:
            self._derived.popitem(last=False)
        return value

    def step_dict(self, step: Step) -> dict[str, Any]:
        hit = self._dicts.get(id(step))
        if hit is not None and hit[0] is step:
            return hit[1]
        value = _step_dict(step)
        self._dicts[id(step)] = (step, value)
        self._own_dicts.add(id(value))  # held by _dicts: the id stays this dict's
        return value

    def compiled(self, steps: Sequence[dict[str, Any]], size: Size | None, ignore_index: int) -> CompiledSteps:
        # The run's own step dicts (`step_dict`) are found by identity; others (read back from a
        # record) by their repr, stable because step dicts are built in field order.
        ids = tuple(map(id, steps))
        own = all(i in self._own_dicts for i in ids)
        if own:
            hit = self._by_identity.get((ids, size, ignore_index))
            if hit is not None:
                return hit
        key = (repr(steps), size, ignore_index)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _compile(steps, size, ignore_index)
        if own:  # one entry per distinct group of the run's own dicts: bounded by the recipe
            self._by_identity[(ids, size, ignore_index)] = compiled
        return compiled

    def __getstate__(self) -> dict[str, Any]:
        return {}  # sent to worker processes empty: each fills its own

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()


def _compiled(kernels: Kernels | None, steps, size, ignore_index) -> CompiledSteps:
    return kernels.compiled(steps, size, ignore_index) if kernels is not None else _compile(steps, size, ignore_index)


def sample_steps(
    rng: np.random.Generator, inputs: Sequence[Sample], steps: Sequence[Step], size: Size | None
) -> AlbumentationsParams:
    return group_params(int(rng.integers(2**31)), inputs, steps, size)


def group_params(
    seed: int, inputs: Sequence[Sample], steps: Sequence[Step], size: Size | None, kernels: Kernels | None = None
) -> AlbumentationsParams:
    """The params of `steps` on `inputs[0]`, drawn from a generator seeded with `seed`.

    The planner calls this with a seed derived for the output and step, which
    saves building a generator only to draw that one number.
    """
    dicts = tuple(kernels.step_dict(s) if kernels is not None else _step_dict(s) for s in steps)
    size = tuple(size) if size else None
    ignore = ignore_of(inputs)
    compiled = _compiled(kernels, dicts, size, ignore)
    try:
        drawn = tuple(d for d, _ in compiled.draw(np.random.default_rng(seed), inputs[0].image.shape))
    except ValueError as exc:  # a step that cannot run on this image (random_crop larger, no padding): name it
        raise DataprepError(inputs[0].meta.image_path or inputs[0].meta.id, str(exc)) from None
    return AlbumentationsParams(dicts, size, ignore, seed, drawn)


def sample_one(rng: np.random.Generator, inputs: Sequence[Sample], params: StepParams, size: Size) -> AlbumentationsParams:
    """Registry form: one step."""
    return sample_steps(rng, inputs, [Step(params, 1.0)], size)


def apply_steps(inputs: Sequence[Sample], p: AlbumentationsParams, kernels: Kernels | None = None) -> Sample:
    """The steps of `p` with its drawn params on `inputs[0]` (pure); `kernels`: the run's compiled steps."""
    src = inputs[0]
    if not p.steps:
        return src
    compiled = _compiled(kernels, p.steps, p.size, p.ignore_index)
    try:
        image, mask = compiled.apply(src.image, require_mask(src), p.drawn)
    except (ValueError, TypeError, RuntimeError, cv2.error) as exc:  # e.g. a photometric step on a 16-bit image
        names = ", ".join(s["op"] for s in p.steps)
        raise DataprepError(src.meta.image_path or src.meta.id, f"albumentations failed on {names}: {exc}") from None
    record = {"steps": [s["op"] for s in p.steps], "params": p.to_dict()}
    soft = _swapped_soft_label(src.meta.extra.get(SOFT_LABEL_KEY), p)
    changes = {} if soft is None else {"extra": {**src.meta.extra, SOFT_LABEL_KEY: soft}}
    return src.evolve(np.ascontiguousarray(image), np.ascontiguousarray(mask), OP_NAME, record, **changes)


def _swapped_soft_label(weights: list[float] | None, p: AlbumentationsParams) -> list[float] | None:
    """A soft label's weights with the classes of each hflip `swap_labels` pair traded, as the mask's were
    (a mirrored left arm is labelled right, and its weight must move with it); None when nothing changes."""
    ran = (step for step, drawn in zip(p.steps, p.drawn) if step["op"] == "hflip" and drawn is not None)
    pairs = [pair for step in ran for pair in step.get("swap_labels") or ()]
    if weights is None or not pairs:
        return None
    out = list(weights) + [0.0] * (max(max(pair) for pair in pairs) + 1 - len(weights))
    for a, b in pairs:  # in order: two mirrorings trade back
        out[a], out[b] = out[b], out[a]
    return out
