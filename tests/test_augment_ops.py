"""The op contract, for every op an offline recipe can name, plus what each multi-sample op promises."""
from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest

from dataprep.augment import OPS, MULTI_OPS, plan_output
from dataprep.augment.copy_paste import CopyPasteParams, PastedObject, apply_copy_paste, sample_copy_paste
from dataprep.augment.crop import CropParams, apply_crop, sample_crop
from dataprep.augment.mix import SOFT_LABEL_KEY, MixupParams, apply_cutmix, apply_mixup, sample_cutmix
from dataprep.augment.mosaic import apply_mosaic, sample_mosaic
from dataprep.errors import DataprepError
from dataprep.recipe import STEP_TYPES, CopyPaste, Crop, CutMix, Mosaic, parse_recipe
from dataprep.sample import Sample, SampleMeta

IGNORE = 255
SIZE = (48, 64)


def make_sample(h: int, w: int, seed: int, labels=(0, 1, 2, 3), dtype=np.uint8, channels: int = 3) -> Sample:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    # Blocky labels (so there are components to paste) with a few ignore pixels.
    blocks = rng.choice(np.array(labels), size=(h // 8 + 1, w // 8 + 1))
    mask = np.kron(blocks, np.ones((8, 8), int))[:h, :w].astype(dtype)
    mask[rng.random((h, w)) < 0.02] = IGNORE
    return Sample(image, mask, SampleMeta(f"s{seed}", ignore_index=IGNORE))


def inputs_for(name: str, dtype=np.uint8) -> list[Sample]:
    shapes = [(60, 80), (50, 70), (72, 40), (64, 64)]
    return [make_sample(h, w, seed=k, labels=(k, k + 1, 7), dtype=dtype) for k, (h, w) in enumerate(shapes)][
        : OPS[name].inputs
    ]


OP_NAMES = sorted(OPS)


def test_registry_covers_every_offline_step():
    offline = {name for name, cls in STEP_TYPES.items() if "offline" in cls.engines}
    assert set(OPS) == offline
    assert {"crop", "mosaic", "copy_paste", "mixup", "cutmix", "hflip", "affine", "color_jitter"} <= set(OPS)


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_contract(name):
    op = OPS[name]
    inputs = inputs_for(name)
    step = STEP_TYPES[name]()
    params = op.sample(np.random.default_rng(7), inputs, step, SIZE)
    out = op.apply(inputs, params)

    assert out.mask.shape == out.image.shape[:2]
    assert out.image.dtype == inputs[0].image.dtype and out.image.shape[2] == inputs[0].image.shape[2]
    assert out.mask.dtype == inputs[0].mask.dtype
    allowed = set().union(*(np.unique(s.mask).tolist() for s in inputs)) | {IGNORE}
    assert set(np.unique(out.mask).tolist()) <= allowed

    again = op.apply(inputs, op.sample(np.random.default_rng(7), inputs, step, SIZE))
    np.testing.assert_array_equal(again.image, out.image)
    np.testing.assert_array_equal(again.mask, out.mask)

    restored = op.params_type.from_dict(json.loads(json.dumps(params.to_dict())))
    assert restored == params
    replay = op.apply(inputs, restored)
    np.testing.assert_array_equal(replay.image, out.image)
    np.testing.assert_array_equal(replay.mask, out.mask)
    assert pickle.loads(pickle.dumps(params)) == params
    assert out.meta.history and out.meta.history[-1][0] in (name, "albumentations")


@pytest.mark.parametrize("name", sorted(MULTI_OPS))
def test_multi_ops_keep_uint16_masks(name):
    inputs = inputs_for(name, dtype=np.uint16)
    inputs[0].mask[:4, :4] = 300  # a label that needs 16 bits
    op = OPS[name]
    out = op.apply(inputs, op.sample(np.random.default_rng(1), inputs, STEP_TYPES[name](), SIZE))
    assert out.mask.dtype == np.uint16


def test_inputs_are_not_modified():
    for name in OP_NAMES:
        inputs = inputs_for(name)
        for s in inputs:
            s.image.setflags(write=False)
            s.mask.setflags(write=False)
        op = OPS[name]
        op.apply(inputs, op.sample(np.random.default_rng(3), inputs, STEP_TYPES[name](), SIZE))


# --------------------------------------------------------------------------- crop


def test_crop_pads_with_ignore_and_fill():
    src = make_sample(30, 40, seed=1)
    p = CropParams(30, 40, -5, -6, 40, 52, image_fill=17, ignore_index=IGNORE)
    out = apply_crop([src], p)
    assert out.image.shape == (40, 52, 3)
    np.testing.assert_array_equal(out.image[5:35, 6:46], src.image)
    np.testing.assert_array_equal(out.mask[5:35, 6:46], src.mask)
    assert (out.mask[:5] == IGNORE).all() and (out.image[:5] == 17).all()
    assert (out.mask[:, 46:] == IGNORE).all()


def test_crop_refuses_small_input_without_padding():
    src = make_sample(30, 40, seed=1)
    with pytest.raises(DataprepError, match="pad_if_needed"):
        sample_crop(np.random.default_rng(0), [src], Crop(pad_if_needed=False), (48, 64))


def test_crop_scale_refuses_an_output_over_the_pixel_limit_before_making_it(monkeypatch):
    """A 1x20000 strip covering a 512x512 crop asked for 46 GB: 15 GB of memory, then an OOM kill, no word."""
    monkeypatch.setenv("DATAPREP_MAX_IMAGE_PIXELS", "1000000")
    strip = Sample(np.zeros((1, 2000, 3), np.uint8), np.zeros((1, 2000), np.uint8),
                   SampleMeta("s", ignore_index=IGNORE))
    with pytest.raises(DataprepError, match=r"makes this 2000x1 image \d+x\d+ to cover the 64x64 crop .* over the"):
        sample_crop(np.random.default_rng(0), [strip], Crop(scale=(1.0, 1.0)), (64, 64))
    square = make_sample(40, 40, seed=1)  # the same scale on an ordinary image: fine
    assert sample_crop(np.random.default_rng(0), [square], Crop(scale=(1.0, 1.0)), (64, 64)).scaled_height == 64


def test_crop_cat_max_ratio_avoids_single_class_windows():
    # Left 3/4 is class 0, right quarter class 1: most 32x32 windows are class 0 only.
    mask = np.zeros((64, 256), np.uint8)
    mask[:, 192:] = 1
    src = Sample(np.zeros((64, 256, 3), np.uint8), mask, SampleMeta("a", ignore_index=IGNORE))
    step = Crop(cat_max_ratio=0.75, max_tries=50)
    for seed in range(20):
        p = sample_crop(np.random.default_rng(seed), [src], step, (32, 32))
        window = apply_crop([src], p).mask
        counts = np.bincount(window.ravel(), minlength=2)
        assert counts.max() / counts.sum() <= 0.75
    plain = [apply_crop([src], sample_crop(np.random.default_rng(s), [src], Crop(), (32, 32))).mask for s in range(20)]
    assert any(len(np.unique(m)) == 1 for m in plain)  # the constraint is what made the difference


def test_crop_focus_classes_centres_on_the_class():
    mask = np.zeros((200, 200), np.uint8)
    mask[150:154, 20:24] = 6
    src = Sample(np.zeros((200, 200, 3), np.uint8), mask, SampleMeta("a", ignore_index=IGNORE))
    for seed in range(5):
        p = sample_crop(np.random.default_rng(seed), [src], Crop(focus_classes=(6, 9)), (40, 40))
        assert (apply_crop([src], p).mask == 6).any()


def test_crop_scale_covers_the_window():
    src = make_sample(30, 40, seed=2)
    p = sample_crop(np.random.default_rng(0), [src], Crop(scale=(1.0, 1.0)), (64, 64))
    assert p.scaled_height >= 64 and p.scaled_width >= 64
    assert not (apply_crop([src], p).mask == IGNORE).mean() > 0.05  # no padding, only the source's own ignore


# --------------------------------------------------------------------------- mosaic


def test_mosaic_quadrants_come_from_their_inputs():
    inputs = []
    for k, (h, w) in enumerate([(60, 80), (40, 40), (90, 50), (64, 64)]):
        inputs.append(Sample(np.full((h, w, 3), 10 * k, np.uint8), np.full((h, w), k, np.uint8),
                             SampleMeta(f"m{k}", ignore_index=IGNORE)))
    for seed in range(5):
        p = sample_mosaic(np.random.default_rng(seed), inputs, Mosaic(), (96, 128))
        out = apply_mosaic(inputs, p)
        assert out.image.shape == (96, 128, 3)
        cy, cx = p.center_y, p.center_x
        quads = [out.mask[:cy, :cx], out.mask[:cy, cx:], out.mask[cy:, :cx], out.mask[cy:, cx:]]
        for k, q in enumerate(quads):
            assert set(np.unique(q).tolist()) <= {k, IGNORE}
            # Image and mask agree pixel for pixel: fill where ignore, the input's value elsewhere.
            img = [out.image[:cy, :cx], out.image[:cy, cx:], out.image[cy:, :cx], out.image[cy:, cx:]][k][..., 0]
            assert (img[q == k] == 10 * k).all() and (img[q == IGNORE] == 114).all()
        # The sample touches the centre: the pixel diagonally next to it is labelled.
        if cy and cx:
            assert out.mask[cy - 1, cx - 1] == 0


@pytest.mark.parametrize("dtype, grey", [(np.uint8, 114), (np.uint16, 114 * 257), (np.float32, 114 / 255),
                                         (np.int16, 0)])
def test_mosaic_gaps_are_grey_in_the_images_own_range(dtype, grey):
    """A fixed 114 filled the gaps of 0..1 float mosaics with 114 (an outlier 114 times the brightest pixel, for
    stats and training) and of 16-bit ones with near black. An image_fill given is taken as it is."""
    inputs = [Sample(np.full((20, 20, 3), 0.25 if np.dtype(dtype).kind == "f" else 40, dtype),
                     np.zeros((20, 20), np.uint8), SampleMeta(f"g{k}", ignore_index=IGNORE)) for k in range(4)]
    for fill, expected in ((None, grey), (7, 7)):
        p = sample_mosaic(np.random.default_rng(0), inputs, Mosaic(scale=(0.3, 0.3), image_fill=fill), (96, 128))
        out = apply_mosaic(inputs, p)
        gaps = out.mask == IGNORE
        assert gaps.mean() > 0.3 and out.image.dtype == dtype
        assert np.allclose(out.image[gaps], np.asarray(expected, dtype)), (fill, np.unique(out.image[gaps]))
        assert json.loads(json.dumps(out.meta.history[-1][1]))["image_fill"] == p.image_fill  # recorded as applied


# --------------------------------------------------------------------------- copy-paste


def test_copy_paste_pastes_object_pixels_and_labels():
    target = Sample(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), np.uint8), SampleMeta("t", ignore_index=IGNORE))
    donor_img = np.zeros((64, 64, 3), np.uint8)
    donor_mask = np.ones((64, 64), np.uint8)  # background class 1 (largest: never pasted)
    donor_mask[10:20, 30:45] = 5
    donor_img[10:20, 30:45] = (200, 100, 50)
    donor = Sample(donor_img, donor_mask, SampleMeta("d", ignore_index=IGNORE))
    step = CopyPaste(scale=(1.0, 1.0), blend_sigma=0.0, flip=False)
    p = sample_copy_paste(np.random.default_rng(0), [target, donor], step, (64, 64))
    assert len(p.objects) == 1 and p.objects[0].label == 5
    out = apply_copy_paste([target, donor], p)
    o = p.objects[0]
    assert (out.mask == 5).sum() == 150
    np.testing.assert_array_equal(out.mask[o.y : o.y + 10, o.x : o.x + 15], 5)
    assert (out.image[out.mask == 5] == (200, 100, 50)).all()
    assert (out.image[out.mask == 0] == 0).all()  # hard paste: nothing else touched
    assert set(np.unique(out.mask).tolist()) == {0, 5}


def test_copy_paste_takes_only_the_chosen_component():
    donor_mask = np.zeros((40, 40), np.uint8)
    donor_mask[5:10, 5:10] = 3
    donor_mask[5:10, 12:30] = 3  # same class, separate blob in a different box
    donor = Sample(np.zeros((40, 40, 3), np.uint8), donor_mask, SampleMeta("d", ignore_index=IGNORE))
    target = Sample(np.zeros((40, 40, 3), np.uint8), np.full((40, 40), 1, np.uint8), SampleMeta("t", ignore_index=IGNORE))
    obj = PastedObject(3, 5, 5, 5, 5, 5, 5, 20, 20, 5, 5, False)
    out = apply_copy_paste([target, donor], CopyPasteParams((obj,), 0.0))
    assert (out.mask == 3).sum() == 25


def test_a_mirrored_object_is_pasted_with_its_swapped_label():
    """CIHP: copy-paste mirrored a right arm and pasted it as a right arm (a left arm's shape), with no way to
    swap; `swap_labels` gives a flipped object the label of its pair, an unflipped one keeps its own."""
    donor_mask = np.zeros((40, 40), np.uint8)
    donor_mask[5:15, 5:8] = 15  # right-arm, an L shape: mirroring it is visible
    donor_mask[12:15, 8:14] = 15
    donor = Sample(np.zeros((40, 40, 3), np.uint8), donor_mask, SampleMeta("d", ignore_index=IGNORE))
    target = Sample(np.zeros((40, 40, 3), np.uint8), np.zeros((40, 40), np.uint8), SampleMeta("t", ignore_index=IGNORE))
    pairs = ((14, 15), (16, 17))
    for flip, label in ((True, 14), (False, 15)):
        obj = PastedObject(15, 5, 5, 5, 5, 10, 9, 20, 20, 10, 9, flip)
        out = apply_copy_paste([target, donor], CopyPasteParams((obj,), 0.0, pairs))
        shape = donor_mask[5:15, 5:14] == 15
        expected = np.zeros((40, 40), np.uint8)
        expected[20:30, 20:29][shape[:, ::-1] if flip else shape] = label
        np.testing.assert_array_equal(out.mask, expected)
    params = CopyPasteParams((obj,), 0.0, pairs)
    assert CopyPasteParams.from_dict(params.to_dict()) == params
    old = {k: v for k, v in params.to_dict().items() if k != "swap_labels"}  # a record written before the field
    assert CopyPasteParams.from_dict(old).swap_labels == ()
    with pytest.raises(ValueError, match="class 15 is in more than one pair"):
        CopyPaste(swap_labels=((14, 15), (15, 16))).check()


def test_copy_paste_without_candidates_changes_nothing():
    target = make_sample(40, 40, seed=1)
    donor = Sample(np.zeros((40, 40, 3), np.uint8), np.zeros((40, 40), np.uint8), SampleMeta("d", ignore_index=IGNORE))
    p = sample_copy_paste(np.random.default_rng(0), [target, donor], CopyPaste(), (40, 40))
    out = apply_copy_paste([target, donor], p)
    assert p.objects == ()
    np.testing.assert_array_equal(out.mask, target.mask)


# --------------------------------------------------------------------------- mixup / cutmix


@pytest.mark.parametrize("lam", [0.3, 0.8])
def test_mixup_blends_images_and_keeps_the_dominant_mask(lam):
    a, b = make_sample(32, 32, seed=1, labels=(0, 1)), make_sample(32, 32, seed=2, labels=(2, 3))
    out = apply_mixup([a, b], MixupParams(lam, True, IGNORE))
    expected = np.rint(lam * a.image.astype(np.float32) + (1 - lam) * b.image.astype(np.float32))
    np.testing.assert_array_equal(out.image, expected.astype(np.uint8))
    np.testing.assert_array_equal(out.mask, a.mask if lam >= 0.5 else b.mask)
    weights = np.array(out.meta.extra[SOFT_LABEL_KEY])
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)
    frac_a = (a.mask == 0).sum() / (a.mask != IGNORE).sum()
    assert weights[0] == pytest.approx(lam * frac_a, abs=1e-5)
    assert weights[2] > 0 and weights[3] > 0


def test_mixup_resizes_a_partner_of_another_size():
    a, b = make_sample(32, 48, seed=1), make_sample(50, 20, seed=2)
    out = apply_mixup([a, b], MixupParams(0.2, False, IGNORE))
    assert out.image.shape == a.image.shape and out.mask.shape == a.mask.shape
    assert SOFT_LABEL_KEY not in out.meta.extra


def test_cutmix_pastes_the_same_box_in_image_and_mask():
    a, b = make_sample(40, 50, seed=1, labels=(0,)), make_sample(40, 50, seed=2, labels=(4,))
    p = sample_cutmix(np.random.default_rng(3), [a, b], CutMix(), (40, 50))
    out = apply_cutmix([a, b], p)
    box = (slice(p.y, p.y + p.height), slice(p.x, p.x + p.width))
    np.testing.assert_array_equal(out.image[box], b.image[box])
    np.testing.assert_array_equal(out.mask[box], b.mask[box])
    outside = np.ones((40, 50), bool)
    outside[box] = False
    np.testing.assert_array_equal(out.mask[outside], a.mask[outside])
    np.testing.assert_array_equal(out.image[outside], a.image[outside])


def test_a_grayscale_source_with_colour_partners_keeps_the_colour():
    gray, colour = make_sample(40, 50, seed=1, channels=1), make_sample(40, 50, seed=2)
    as_rgb = np.repeat(gray.image, 3, axis=2)  # what the Dataset loads the gray source as
    out = apply_mixup([gray, colour], MixupParams(0.5, False, IGNORE))
    expected = np.rint(0.5 * as_rgb.astype(np.float32) + 0.5 * colour.image.astype(np.float32)).astype(np.uint8)
    np.testing.assert_array_equal(out.image, expected)

    p = sample_cutmix(np.random.default_rng(3), [gray, colour], CutMix(), (40, 50))
    out = apply_cutmix([gray, colour], p)
    box = (slice(p.y, p.y + p.height), slice(p.x, p.x + p.width))
    outside = np.ones((40, 50), bool)
    outside[box] = False
    np.testing.assert_array_equal(out.image[box], colour.image[box])
    np.testing.assert_array_equal(out.image[outside], as_rgb[outside])

    donor_mask = np.ones((40, 50), np.uint8)
    donor_mask[10:20, 20:35] = 5
    donor_image = np.zeros((40, 50, 3), np.uint8)
    donor_image[10:20, 20:35] = (200, 100, 50)
    donor = Sample(donor_image, donor_mask, SampleMeta("d", ignore_index=IGNORE))
    target = Sample(np.full((40, 50, 1), 7, np.uint8), np.zeros((40, 50), np.uint8), SampleMeta("t", ignore_index=IGNORE))
    step = CopyPaste(scale=(1.0, 1.0), blend_sigma=0.0, flip=False)
    out = apply_copy_paste([target, donor], sample_copy_paste(np.random.default_rng(0), [target, donor], step, (40, 50)))
    assert (out.image[out.mask == 5] == (200, 100, 50)).all() and (out.image[out.mask == 0] == 7).all()

    tiles = [Sample(np.full((48, 64, 1 if k == 0 else 3), 10 * k + 5, np.uint8), np.full((48, 64), k, np.uint8),
                    SampleMeta(f"m{k}", ignore_index=IGNORE)) for k in range(4)]
    tiles[1] = dataclasses.replace(tiles[1], image=np.full((48, 64, 3), (200, 100, 50), np.uint8))
    out = apply_mosaic(tiles, sample_mosaic(np.random.default_rng(1), tiles, Mosaic(), SIZE))
    assert out.image.shape == (*SIZE, 3)
    assert (out.image[out.mask == 0] == 5).all() and (out.image[out.mask == 1] == (200, 100, 50)).all()


# --------------------------------------------------------------------------- planner and single steps


def _recipe(steps, **kw):
    return parse_recipe({"size": [32, 32], "steps": steps, **kw})


def test_planner_partners_and_probabilities():
    recipe = _recipe([{"op": "mosaic"}, {"op": "mixup", "p": 0.0}, {"op": "hflip", "p": 1.0}], seed=3)
    for index in range(5):
        plan = plan_output(recipe, 10, index, 0)
        assert [s.step for s in plan.steps] == [0, 2]
        partners = plan.steps[0].partners
        assert len(partners) == 3 and index not in partners and len(set(partners)) == 3
        assert plan == plan_output(recipe, 10, index, 0)
    plans = {plan_output(recipe, 10, 0, k).steps[0].partners for k in range(6)}
    assert len(plans) > 1  # variants draw their own partners
    assert plan_output(recipe, 1, 0, 0).steps[0].partners == (0, 0, 0)  # a one-row manifest reuses itself


def test_planner_coin_flips_follow_p():
    recipe = _recipe([{"op": "hflip", "p": 0.3}])
    ran = sum(bool(plan_output(recipe, 1, i, 0).steps) for i in range(400))
    assert 80 < ran < 160


def test_photometric_steps_leave_the_mask_alone():
    src = make_sample(40, 40, seed=4)
    for name in ("color_jitter", "hue_saturation_value", "brightness_contrast", "gaussian_blur"):
        op = OPS[name]
        out = op.apply([src], op.sample(np.random.default_rng(0), [src], STEP_TYPES[name](), (40, 40)))
        np.testing.assert_array_equal(out.mask, src.mask)
        assert not np.array_equal(out.image, src.image)


def test_evolve_keeps_every_meta_field_and_appends_history():
    meta = SampleMeta("id7", "img.jpg", "mask.png", 11, (("crop", {"y": 1}),), {"k": 1})
    sample = Sample(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), meta)
    out = sample.evolve(np.ones((2, 2, 3), np.uint8), np.ones((2, 2), np.uint8), "flip", {"axis": 1})
    expected = dataclasses.replace(meta, history=(("crop", {"y": 1}), ("flip", {"axis": 1})))
    assert out.meta == expected  # compares every field, including any added later
    assert out.image.shape == (2, 2, 3) and sample.meta.history == (("crop", {"y": 1}),)
    with pytest.raises(ValueError, match="integer array"):
        Sample(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.float32), meta)
