"""Every op spec x every engine it claims: the implementation exists, runs, and agrees on the output shape.

A new op registered in dataprep.ops is picked up here without editing this file.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from dataprep.augment import OPS
from dataprep.errors import UsageError
from dataprep.ops import ALBUMENTATIONS, DALI, OFFLINE, SPECS, OfflineImpl, OpSpec, StepParams
from dataprep.ops.dali_graph import DaliOp, build_steps, compile_dali_ops, input_name
from dataprep.ops.steps import CompiledSteps
from dataprep.recipe import Normalize, Step, parse_recipe
from dataprep.sample import Sample, SampleMeta

SIZE = (48, 64)  # recipe size: smaller than the input in both sides, so crops crop and resizes shrink
SHAPE = (60, 84, 3)
IGNORE = 255
# Fields an op needs to run on its own (normalize: no stats.json here).
# Ops whose DALI node gives the CPU kernel's pixels exactly (no resampling, no float rounding).
EXACT = {"hflip", "vflip", "random_crop"}
FIELDS = {"normalize": {"mean": [100.0, 100.0, 100.0], "std": [50.0, 50.0, 50.0]}}


def params_of(name: str) -> StepParams:
    return parse_recipe({"size": list(SIZE), "steps": [{"op": name, **FIELDS.get(name, {})}]}).steps[0].params


def sample_input(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    mask = np.zeros(SHAPE[:2], np.uint8)
    mask[10:40, 20:60] = 1  # crop_non_empty needs a labelled pixel
    return image, mask


def pairs(engine: str) -> list[str]:
    return sorted(name for name, spec in SPECS.items() if engine in spec.engines)


def cpu_kernel(name: str, seed: int = 3):
    """The op on the CPU kernel with the params drawn from `seed`: image, mask, drawn params."""
    steps = CompiledSteps([Step(params_of(name), 1.0)], size=SIZE, ignore_index=IGNORE)
    image, mask = sample_input()
    out_image, out_mask, (drawn,) = steps.run(image, mask, np.random.default_rng(seed))
    return out_image, out_mask, drawn


def test_every_spec_is_consistent_and_claims_only_what_it_implements():
    assert SPECS, "no op registered"
    for name, spec in SPECS.items():
        assert spec.name == name and spec.params.op == name
        assert spec.engines <= {ALBUMENTATIONS, DALI, OFFLINE} and spec.engines, name
        assert spec.params.engines == spec.engines and spec.params.inputs == spec.inputs  # the read-only views
        assert not (spec.geometric and spec.colour_only), name
        assert (DALI in spec.engines) == (spec.dali is not None)
        if spec.dali is not None:
            assert issubclass(spec.dali, DaliOp), name
        if isinstance(spec.offline, OfflineImpl):
            op = OPS[name]
            assert op.inputs == spec.inputs and callable(op.sample) and callable(op.apply)
        elif spec.offline:
            assert spec.inputs == 1 and OPS[name].inputs == 1  # runs in an albumentations group
        else:
            assert name not in OPS
        if spec.inputs > 1:
            assert spec.engines == {OFFLINE}, name


def test_a_spec_cannot_claim_an_engine_it_has_no_implementation_for():
    @dataclass_params
    class Bad(StepParams):
        op = "bad"

    with pytest.raises(ValueError, match="no albumentations builder"):
        OpSpec(Bad, offline=True).check()
    with pytest.raises(ValueError, match="offline only"):
        OpSpec(Bad, inputs=2, dali=DaliOp).check()
    assert OpSpec(Bad, albumentations=lambda p, prob, ctx: None).engines == {ALBUMENTATIONS}


def dataclass_params(cls):
    from dataclasses import dataclass

    return dataclass(frozen=True)(cls)


@pytest.mark.parametrize("name", pairs(ALBUMENTATIONS))
def test_albumentations_kernel_gives_the_spec_shape(name):
    spec = SPECS[name]
    image, mask, drawn = cpu_kernel(name)
    assert isinstance(drawn, spec.drawn)
    assert type(drawn).from_dict(json.loads(json.dumps(drawn.to_dict()))) == drawn  # JSON round trip
    assert image.shape[:2] == spec.output_shape(params_of(name), SHAPE, SIZE, drawn)[:2]
    assert mask.shape == image.shape[:2]
    again = cpu_kernel(name)  # same seed, same params, same pixels
    assert again[2] == drawn and np.array_equal(again[0], image) and np.array_equal(again[1], mask)


@pytest.mark.parametrize("name", pairs(OFFLINE))
def test_offline_op_gives_the_spec_shape(name):
    spec = SPECS[name]
    params = params_of(name)
    samples = []
    for k in range(spec.inputs):
        image, mask = sample_input(k)
        samples.append(Sample(image, mask, SampleMeta(id=f"s{k}", ignore_index=IGNORE)))
    op = OPS[name]
    out = op.apply(samples, op.sample(np.random.default_rng(1), samples, params, SIZE))
    if spec.offline is True:  # the albumentations kernel: same shape as on the CPU engine
        (drawn,) = out.meta.history[-1][1]["params"]["drawn"]
        typed = spec.drawn.from_dict(drawn)
        assert out.image.shape[:2] == spec.output_shape(params, SHAPE, SIZE, typed)[:2]
    else:
        assert out.image.shape == spec.output_shape(params, SHAPE, SIZE, {})
    assert out.mask.shape == out.image.shape[:2]


@pytest.mark.dali
@pytest.mark.parametrize("name", pairs(DALI))
def test_dali_node_runs_and_agrees_with_the_cpu_kernel_on_shape(name):
    pytest.importorskip("nvidia.dali")
    from nvidia.dali import fn, types
    from nvidia.dali.pipeline import Pipeline

    params = params_of(name)
    steps = [Step(params, 1.0)]
    ops = compile_dali_ops(steps, SIZE)
    image, mask = sample_input()
    # The params DALI is fed: those the CPU kernel applies with seed 3.
    drawn = CompiledSteps(steps, size=SIZE, ignore_index=IGNORE).draw(np.random.default_rng(3), SHAPE)
    pipe = Pipeline(batch_size=1, num_threads=1, device_id=None, prefetch_queue_depth=1)
    with pipe:
        img = fn.external_source(name="image", layout="HWC", ndim=3, dtype=types.UINT8)
        msk = fn.external_source(name="mask", layout="HWC", ndim=3, dtype=types.UINT8)
        img, msk = build_steps(ops, img, msk, fn=fn, types=types, gpu=False, channels=3, max_value=255.0,
                               ignore_index=IGNORE)
        pipe.set_outputs(img, msk)
    pipe.build()
    pipe.feed_input("image", [image])
    pipe.feed_input("mask", [mask[:, :, None]])
    for k, (op, (p, shape)) in enumerate(zip(ops, drawn)):
        for key, value in op.feed(p, shape).items():
            pipe.feed_input(input_name(k, key), [value])
    dali_image, dali_mask = (np.array(o.as_array())[0] for o in pipe.run())
    cpu_image, cpu_mask, _ = cpu_kernel(name)
    assert dali_image.shape[:2] == cpu_image.shape[:2] == dali_mask.shape[:2]
    if name in EXACT:
        assert np.array_equal(dali_mask[:, :, 0], cpu_mask) and np.array_equal(dali_image, cpu_image)
    assert dali_image.shape[:2] == SPECS[name].output_shape(params, SHAPE, SIZE, drawn[0][0])[:2]


@pytest.mark.parametrize("name", sorted(set(SPECS) - set(pairs(DALI))))
def test_an_op_without_a_dali_implementation_is_a_load_time_error(name):
    spec = SPECS[name]
    fields = {"size": list(SIZE), "steps": [{"op": "hflip"}, {"op": name, **FIELDS.get(name, {})}]}
    recipe = parse_recipe(fields, source="r.yaml")
    with pytest.raises(UsageError) as err:
        recipe.require_engine(DALI)
    assert str(err.value).count("\n") == 0 and f"step 2 ({name})" in str(err.value) and "r.yaml" in str(err.value)
    with pytest.raises(UsageError, match=rf"step 2 \({name}\): not supported by the DALI engine"):
        compile_dali_ops(recipe.steps, SIZE, source="r.yaml")
    assert DALI not in spec.params.engines


def test_normalize_is_the_only_dali_op_outside_the_step_graph():
    # The loader normalizes itself; a normalize node in the step graph would do it twice.
    (op,) = compile_dali_ops([Step(Normalize(), 1.0)], None)
    assert op.inputs == () and op.build(None, "image", "mask") == ("image", "mask")
