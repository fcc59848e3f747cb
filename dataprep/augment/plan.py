"""Which steps run and which partner samples they use, for each output: decided up front, seeded.

Every output (source index, variant) gets its own random streams derived from
(recipe seed, index, variant, step) by `dataprep.seeding`, so an output
never depends on how many workers ran or in which order; and each step has its
own stream, so editing one step of a recipe leaves the draws of the others alone.
Partners are indices into the manifest; workers load them, never a dataset handle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataprepError
from ..recipe import Recipe, STEP_TYPES
from ..seeding import derive_seed, generator, uniform

# Stream tags: keep the planner's and the ops' draws apart.
_COIN, _PARTNERS, _OP = 0, 1, 2


@dataclass(frozen=True)
class StepPlan:
    step: int  # index into recipe.steps
    partners: tuple[int, ...]  # manifest indices of the extra inputs (empty for one-sample ops)


@dataclass(frozen=True)
class OutputPlan:
    index: int  # source row
    variant: int
    steps: tuple[StepPlan, ...]  # only the steps that run, in recipe order

    @property
    def needed(self) -> list[int]:
        """Manifest indices to load: the source first, then each partner once."""
        seen = dict.fromkeys([self.index, *(j for s in self.steps for j in s.partners)])
        return list(seen)


def check_seed(recipe: Recipe) -> None:
    if recipe.seed < 0:
        raise DataprepError(recipe.source, f"seed: must be >= 0, got {recipe.seed}")


def step_seed(seed: int, index: int, variant: int, step: int) -> int:
    """The 64-bit seed of this output's and step's stream."""
    return derive_seed(seed, index, variant, _OP, step)


def step_rng(seed: int, index: int, variant: int, step: int) -> np.random.Generator:
    """The generator an op's sampler draws from for this output and step."""
    return generator(step_seed(seed, index, variant, step))


def plan_output(recipe: Recipe, count: int, index: int, variant: int) -> OutputPlan:
    """Coin flips and partners for output (`index`, `variant`) of a `count`-row manifest."""
    check_seed(recipe)
    steps = []
    for j, step in enumerate(recipe.steps):
        if step.p < 1.0 and uniform(derive_seed(recipe.seed, index, variant, _COIN, j)) >= step.p:
            continue
        need = STEP_TYPES[step.op].inputs - 1
        partners: tuple[int, ...] = ()
        if need:
            rng = generator(derive_seed(recipe.seed, index, variant, _PARTNERS, j))
            others = np.array([i for i in range(count) if i != index] or [index])
            picks = rng.choice(others, size=need, replace=len(others) < need)
            partners = tuple(int(i) for i in picks)
        steps.append(StepPlan(j, partners))
    return OutputPlan(index, variant, tuple(steps))


def plan_outputs(recipe: Recipe, count: int) -> list[OutputPlan]:
    """One plan per (source, variant), sources in manifest order, variants inner."""
    return [plan_output(recipe, count, i, k) for i in range(count) for k in range(recipe.variants)]
