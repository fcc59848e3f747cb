"""Which steps run and which partner samples they use, for each output: decided up front, seeded.

Every output (source index, variant) gets its own random streams derived from
(recipe seed, index, variant, step) by `dataprep.seeding`, so an output
never depends on how many workers ran or in which order; and each step has its
own stream, so editing one step of a recipe leaves the draws of the others alone.
Partners are indices into the manifest; workers load them, never a dataset handle.

Partners come from the source row's pool (`PartnerPools`): by default the rows
that share its `split` and `fold` (its `group` where there are no folds), so a
mosaic of a training fold never holds validation pixels. Choosing them costs O(partners)
per output, whatever the manifest's size: the pools are built once, and a draw
picks positions in the pool with the source's own position skipped arithmetically.
"""
from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataprepError
from ..recipe import PartnerScope, Recipe, STEP_TYPES
from ..option_ranges import MAX_SEED
from ..seeding import derive_seed, extend_seed, generator, uniform
from ..split_column import SPLIT_COLUMN

# Stream tags: keep the planner's and the ops' draws apart.
_COIN, _PARTNERS, _OP = 0, 1, 2
# Manifest columns that bound a pool, per `partners` scope of a recipe.
POOL_COLUMNS: dict[str, tuple[str, ...]] = {"same_group": ("fold", "group"), "same_fold": ("fold",), "any": ()}


def pool_columns(scope: PartnerScope, available: Collection[str]) -> tuple[str, ...]:
    """The manifest columns (of `available`) whose values bound a row's partner pool.

    `auto` takes the fold alone where there are folds: a grouped kfold already
    keeps each group in one fold, and pooling by group as well would leave a
    row of a near-duplicate cluster (dedup's `group`) or of a one-image group
    only its own copies to mix with. Without folds the group bounds the pool,
    so that a later grouped kfold keeps every output with its sources. Every
    scope but `any` keeps partners in the row's `split` as well (scan's
    train/val/test folders): a mosaic of training images never shows a test one.
    """
    split = (SPLIT_COLUMN,) if SPLIT_COLUMN in available and scope != "any" else ()
    if scope == "auto":
        return split + next(((c,) for c in ("fold", "group") if c in available), ())
    return split + tuple(c for c in POOL_COLUMNS[scope] if c in available)


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
    def inputs(self) -> list[int]:
        """Manifest index of every input position, in order: the source, then each step's partners (repeats kept)."""
        return [self.index, *(j for s in self.steps for j in s.partners)]

    @property
    def needed(self) -> list[int]:
        """Manifest indices to load: the source first, then each partner once."""
        return list(dict.fromkeys(self.inputs))


class PartnerPools:
    """Rows grouped by a key (e.g. their fold and group); partners are drawn within a row's pool.

    `order` lists the rows pool by pool (manifest order inside a pool); for each
    row, `start`/`size` locate its pool in `order` and `position` is its own
    place there. Built once in O(rows); `pool_of` is then O(1).
    """

    def __init__(self, keys: Sequence[Hashable] | int) -> None:
        if isinstance(keys, int):  # one pool holding every row: no arrays needed
            self.count, self.order = keys, None
            return
        self.count = len(keys)
        codes: dict[Hashable, int] = {}
        code = np.fromiter((codes.setdefault(k, len(codes)) for k in keys), np.int64, self.count)
        order = np.argsort(code, kind="stable")
        sizes = np.bincount(code, minlength=len(codes))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        position = np.empty(self.count, np.int64)
        position[order] = np.arange(self.count) - starts[code[order]]
        self.order = order
        self.start, self.size, self.position = starts[code], sizes[code], position
        self.pools = len(codes)

    @classmethod
    def from_rows(cls, columns: Sequence[Mapping[str, str]], scope: PartnerScope) -> "PartnerPools":
        """Pools of manifest rows (their extra columns) for a recipe's `partners` scope."""
        wanted = pool_columns(scope, {c for c in ("fold", "group", SPLIT_COLUMN) if any(c in row for row in columns)})
        if not wanted:
            return cls(len(columns))
        return cls([tuple(row.get(c, "") for c in wanted) for row in columns])

    def __len__(self) -> int:
        return self.count

    def pool_of(self, index: int) -> tuple[int, int, int]:
        """(start in `order`, pool size, position of `index` in its pool)."""
        if self.order is None:
            return 0, self.count, index
        return int(self.start[index]), int(self.size[index]), int(self.position[index])

    def row(self, start: int, position: int) -> int:
        return position if self.order is None else int(self.order[start + position])

    @property
    def keyed(self) -> bool:
        return self.order is not None


def check_seed(recipe: Recipe) -> None:
    if not 0 <= recipe.seed <= MAX_SEED:  # 2**64 wrapped to 0 in derive_seed's 64-bit words
        raise DataprepError(recipe.source, f"seed: must be in 0..{MAX_SEED}, got {recipe.seed}")


def step_seed(seed: int, index: int, variant: int, step: int) -> int:
    """The 64-bit seed of this output's and step's stream."""
    return derive_seed(seed, index, variant, _OP, step)


def step_rng(seed: int, index: int, variant: int, step: int) -> np.random.Generator:
    """The generator an op's sampler draws from for this output and step."""
    return generator(step_seed(seed, index, variant, step))


def below(seed: int, n: int) -> int:
    """A uniform integer in [0, n) from a well-mixed 64-bit seed (multiply-shift; bias below n / 2**64)."""
    return (seed * n) >> 64


def draw_partners(key: int, pools: PartnerPools, index: int, need: int) -> tuple[int, ...]:
    """`need` partners of row `index` from its pool, the k-th drawn from `extend_seed(key, k)`: distinct
    and never the row itself when the pool is large enough, with repeats when it is too small, the row
    itself when it is alone. No generator is built: a few integer mixes per output."""
    start, size, position = pools.pool_of(index)
    others = size - 1
    if others <= 0:
        return (index,) * need
    picks: list[int] = []
    for k in range(need):
        if others < need:
            picks.append(below(extend_seed(key, k), others))
            continue
        # Sequential draws without replacement: the k-th draw is the r-th value not yet taken.
        r = below(extend_seed(key, k), others - k)
        for taken in sorted(picks):
            if r >= taken:
                r += 1
        picks.append(r)
    # Position `position` is the row itself: candidates at or after it move one along.
    return tuple(pools.row(start, p + (p >= position)) for p in picks)


def plan_output(recipe: Recipe, pools: PartnerPools | int, index: int, variant: int) -> OutputPlan:
    """Coin flips and partners for output (`index`, `variant`); `pools` may be a row count (one pool)."""
    check_seed(recipe)
    if isinstance(pools, int):
        pools = PartnerPools(pools)
    prefix = derive_seed(recipe.seed, index, variant)  # shared by every stream of this output
    steps = []
    for j, step in enumerate(recipe.steps):
        if step.p < 1.0 and uniform(extend_seed(prefix, _COIN, j)) >= step.p:
            continue
        need = STEP_TYPES[step.op].inputs - 1
        partners = draw_partners(extend_seed(prefix, _PARTNERS, j), pools, index, need) if need else ()
        steps.append(StepPlan(j, partners))
    return OutputPlan(index, variant, tuple(steps))


def plan_outputs(recipe: Recipe, pools: PartnerPools | int) -> list[OutputPlan]:
    """One plan per (source, variant), sources in manifest order, variants inner."""
    if isinstance(pools, int):
        pools = PartnerPools(pools)
    return [plan_output(recipe, pools, i, k) for i in range(len(pools)) for k in range(recipe.variants)]
