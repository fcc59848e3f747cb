"""Runs a recipe on samples in memory: the plan's steps in order, then a fit to the output size."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import UsageError
from ..recipe import OFFLINE, STEP_TYPES, Recipe
from ..sample import Sample
from .base import resize_image, resize_mask, require_mask
from .plan import OutputPlan, PartnerPools, plan_output, step_rng, step_seed
from .registry import MULTI_OPS, is_albumentations_step
from .single import OP_NAME as ALBUMENTATIONS, Kernels, apply_steps, group_params


def check_recipe(recipe: Recipe) -> tuple[int, int]:
    """The output size; raises naming the recipe when it cannot run offline."""
    recipe.require_engine(OFFLINE)
    if recipe.size is None:
        raise UsageError(recipe.source, "offline augmentation needs 'size' (output height, width)")
    _check_soft_labels_last(recipe)
    return recipe.size


def _check_soft_labels_last(recipe: Recipe) -> None:
    """Refuse a mixing step after a mixup with soft labels: the weights are computed when mixup runs and stay as
    they are, so a cutmix box (a third image's pixels and labels, up to the whole output) or another mixup was
    missing from them (pipelines/mixup.yaml on CamVid: one class's weight off by up to 0.26)."""
    soft = None
    for number, step in enumerate(recipe.steps, 1):
        if soft is not None and STEP_TYPES[step.op].inputs > 1 and step.p > 0:
            raise UsageError(recipe.source, f"step {number} ({step.op}) comes after step {soft} (mixup) with "
                             "soft_labels: true, whose weights would not count the pixels it brings in from other "
                             "images; put the mixup after the other mixing steps")
        if step.op == "mixup" and step.p > 0 and getattr(step.params, "soft_labels", False):
            soft = number


# History name of the final fit to the output size (not a recipe step).
FIT = "resize"
# SampleMeta.extra key of an output: manifest index of every input that gave pixels, one per position, in order.
USED_INPUTS_KEY = "used_inputs"


def execute(
    recipe: Recipe, plan: OutputPlan, samples: Mapping[int, Sample], kernels: Kernels | None = None
) -> Sample:
    """The output of `plan`; `samples` maps manifest index -> loaded sample (source and partners).

    `kernels`: the run's compiled albumentations steps (one object per run; None compiles them
    for this output alone).

    The output's `meta.extra[USED_INPUTS_KEY]` lists the inputs that went into it
    (`plan.inputs` less the partners of a step that used none, e.g. a copy-paste
    that pasted nothing).
    """
    size = check_recipe(recipe)
    sample = samples[plan.index]
    used = [plan.index]
    group: list[int] = []  # consecutive single-sample steps, run as one albumentations Compose

    def flush(current: Sample) -> Sample:
        if not group:
            return current
        # The group's one random choice, its Compose seed (31 bits: JSON-safe anywhere).
        seed = step_seed(recipe.seed, plan.index, plan.variant, group[0]) >> 33
        params = group_params(seed, [current], [recipe.steps[j] for j in group], size, kernels)
        group.clear()
        return apply_steps([current], params, kernels)

    for sp in plan.steps:
        step = recipe.steps[sp.step]
        if is_albumentations_step(step):
            group.append(sp.step)
            continue
        sample = flush(sample)
        op = MULTI_OPS[step.op]
        # Partners come in raw: the steps before this one shaped only the source.
        inputs = [sample, *(samples[j] for j in sp.partners)]
        rng = step_rng(recipe.seed, plan.index, plan.variant, sp.step)
        run = {"kernels": kernels} if op.takes_kernels and kernels is not None else {}
        params = op.sample(rng, inputs, step.params, size, **run)
        sample = op.apply(inputs, params)
        if op.uses_partners is None or op.uses_partners(params):
            used.extend(sp.partners)
    sample = flush(sample)
    if (sample.height, sample.width) != size:
        # So every output collates; recorded like any op.
        image = resize_image(sample.image, *size)
        mask = resize_mask(require_mask(sample), *size)
        sample = sample.evolve(image, mask, FIT, {"from": [sample.height, sample.width], "to": list(size)})
    return replace(sample, meta=replace(sample.meta, extra={**sample.meta.extra, USED_INPUTS_KEY: tuple(used)}))


def augment_samples(
    recipe: Recipe, samples: Sequence[Sample], index: int, variant: int = 0, pools: PartnerPools | None = None,
    kernels: Kernels | None = None,
) -> Sample:
    """Output (`index`, `variant`) of `recipe` over in-memory `samples` (what the runner does per file).

    Partner pools follow each sample's `meta.extra` `fold`/`group`, as the runner's follow the
    manifest columns; pass `pools` (built once) to skip rebuilding them on every call, and a
    `Kernels()` kept across calls to compile the albumentations steps once.
    """
    if pools is None:
        # One-sample recipes draw no partners: one pool of every row, without reading the rows' columns.
        pools = PartnerPools.from_rows([s.meta.extra for s in samples], recipe.partners) \
            if any(STEP_TYPES[step.op].inputs > 1 for step in recipe.steps) else PartnerPools(len(samples))
    plan = plan_output(recipe, pools, index, variant)
    return execute(recipe, plan, {i: _as_input(samples[i], recipe.ignore_index) for i in plan.needed}, kernels)


def _as_input(sample: Sample, ignore_index: int) -> Sample:
    """`sample` with the recipe's ignore index and no history (copied only when that changes it)."""
    meta = sample.meta
    if meta.ignore_index == ignore_index and not meta.history:
        return sample
    return replace(sample, meta=replace(meta, ignore_index=ignore_index, history=()))


def applied_ops(sample: Sample) -> list[str]:
    """Op names in the order they ran (albumentations groups expanded to their steps)."""
    names: list[str] = []
    for op, params in sample.meta.history:
        names.extend(params.get("steps", [])) if op == ALBUMENTATIONS else names.append(op)
    return names


def provenance(sample: Sample) -> list[dict[str, Any]]:
    """The sampled params of every op that ran, as JSON-able dicts."""
    return [{"op": op, **params} for op, params in sample.meta.history]
