"""Compile recipe steps to an albumentations 2.0.8 Compose (the CPU engine).

Each op's builder lives with its spec (dataprep.ops); masks always get nearest
interpolation and the recipe's ignore index as fill (see dataprep.ops.kernel).

Seeding: albumentations' `Compose(seed=...)` / `set_random_seed` give every
transform its own generator with the *same* seed, so e.g. hflip and vflip at
p=0.5 always fire together. `seed_compose` shares one seeded generator pair
across all transforms instead; use it rather than `set_random_seed`.
"""
from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np

from . import recipe as r
from .errors import UsageError
from .ops.kernel import NEAREST, NEAREST_RESIZE, BuildContext  # noqa: F401  (re-exported)
from .ops.spec import ALBUMENTATIONS, engine_name, spec_of
from .seeding import generator_pair, reseed


def compile_albumentations(
    steps: Sequence[r.Step],
    *,
    size: tuple[int, int] | None,
    ignore_index: int = 255,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    seed: int | None = None,
    source: str | None = None,
    save_applied_params: bool = False,
) -> A.Compose:
    """An A.Compose doing what `steps` say; `mean`/`std` (raw pixel units) feed a `normalize` step.

    Raises UsageError naming the step if albumentations cannot run it.
    """
    transforms = []
    for index, step in enumerate(steps, 1):
        build = spec_of(step.params).albumentations
        if build is None:
            raise UsageError(source, f"step {index} ({step.op}): not supported by the "
                                     f"{engine_name(ALBUMENTATIONS)}")
        built = build(step.params, step.p, BuildContext(size, ignore_index, mean, std, source, index))
        transforms.extend(built if isinstance(built, list) else [built])
    # No Compose-level mask_interpolation: it would override the per-step choice
    # (resize vs warp) of each builder.
    compose = A.Compose(transforms, save_applied_params=save_applied_params, strict=True)
    if seed is not None:
        seed_compose(compose, seed)
    return compose


def seed_compose(compose: A.Compose, seed: int) -> A.Compose:
    """Seed all transforms of `compose` from one generator pair, so their draws are independent.

    (albumentations' own `set_random_seed` seeds each transform separately with the
    same seed, which makes equal-probability steps fire together.) A Compose whose
    transforms already share one pair (seeded here, or given one with
    `set_random_state`) has that pair reset in place: offline augmentation reseeds
    once per output, and building a fresh pair each time would cost more.
    """
    pair = (compose.random_generator, compose.py_random)
    shared = compose.transforms and isinstance(pair[0].bit_generator, np.random.PCG64) and all(
        t.random_generator is pair[0] and t.py_random is pair[1] for t in compose.transforms)
    if shared:
        reseed(pair, seed)
    else:
        compose.set_random_state(*generator_pair(seed))
    return compose
