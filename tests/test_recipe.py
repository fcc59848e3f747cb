"""Recipe validation: errors name the file, the step and the field; albumentations compilation."""
from __future__ import annotations

import re

import numpy as np
import pytest

from dataprep.albu import compile_albumentations
from dataprep.errors import DataprepError, UsageError
from dataprep.recipe import STEP_TYPES, load_recipe, parse_recipe
from dataprep.strict_load import load_yaml


@pytest.mark.parametrize(
    "steps, message",
    [
        ([{"op": "rotat"}], "step 1: unknown op 'rotat'"),
        ([{"op": "hflip"}, {"op": "rotate", "limt": 3}], "step 2 (rotate): unknown field 'limt'"),
        ([{"op": "rotate", "limit": "x"}], "step 1 (rotate): limit: expected a list"),
        ([{"op": "rotate", "limit": [10, -10]}], "limit: lower bound 10.0 is above upper bound -10.0"),
        ([{"op": "hflip", "p": 1.5}], "step 1 (hflip): p: must be in [0, 1]"),
        ([{"op": "crop", "cat_max_ratio": 0}], "cat_max_ratio"),
        ([{"op": "random_crop", "pad_if_needed": "yes"}], "pad_if_needed: expected true or false"),
        (["hflip"], "step 1: must be a mapping"),
        ([{"op": "hflip", "swap_labels": [[1, 1]]}], "swap_labels: a pair is two different class indices"),
        ([{"op": "hflip", "swap_labels": [[1, 2], [2, 3]]}], "swap_labels: class 2 is in more than one pair"),
        ([{"op": "hflip", "swap_labels": [1, 2]}], "swap_labels: expected a list"),
    ],
)
def test_errors_name_step_and_field(steps, message):
    with pytest.raises(DataprepError) as err:
        parse_recipe({"size": [8, 8], "steps": steps}, source="r.yaml")
    assert str(err.value).startswith("r.yaml: ")
    assert message in str(err.value)


def test_top_level_fields_validated(tmp_path):
    with pytest.raises(DataprepError, match="unknown field"):
        parse_recipe({"steps": [], "sise": [1, 1]})
    with pytest.raises(DataprepError, match="'size' is required by mosaic"):
        parse_recipe({"steps": [{"op": "mosaic"}]})
    with pytest.raises(DataprepError, match="quality"):
        parse_recipe({"steps": [], "output": {"quality": 0}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [\n")
    with pytest.raises(DataprepError, match="line 2, column 1: expected"):
        load_recipe(bad)


def test_defaults_and_round_trip():
    recipe = parse_recipe({"size": [32, 48], "steps": [{"op": "hflip"}, {"op": "rotate"}]})
    assert recipe.steps[0].p == 0.5 and recipe.steps[1].p == 1.0
    again = parse_recipe(recipe.to_dict())
    assert again.steps == recipe.steps and again.size == (32, 48)


def test_engine_support_is_declared():
    recipe = parse_recipe({"size": [8, 8], "steps": [{"op": "hflip"}, {"op": "mosaic"}]})
    assert recipe.unsupported("albumentations") == ["step 2 (mosaic)"]
    with pytest.raises(DataprepError, match="cannot run step 2 \\(mosaic\\)"):
        recipe.require_engine("dali")
    unsupported = "step 2 (mosaic): not supported by the cpu engine (albumentations)"
    with pytest.raises(DataprepError, match=re.escape(unsupported)):
        compile_albumentations(recipe.steps, size=recipe.size)


def test_every_single_sample_step_compiles_and_keeps_mask_labels():
    ops = [op for op, cls in STEP_TYPES.items() if "albumentations" in cls.engines]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    mask = rng.integers(0, 4, (50, 70), dtype=np.uint8)
    for op in ops:
        step = {"op": op, "p": 1.0}
        if op == "normalize":
            step.update(mean=[120.0, 120.0, 120.0], std=[60.0, 60.0, 60.0])
        recipe = parse_recipe({"size": [40, 60], "steps": [step]})
        out = compile_albumentations(recipe.steps, size=recipe.size, ignore_index=255, seed=3)(image=image, mask=mask)
        assert out["mask"].dtype == np.uint8, op
        assert set(np.unique(out["mask"])) <= {0, 1, 2, 3, 255}, op
        assert out["mask"].shape == out["image"].shape[:2], op


def test_normalize_needs_stats_or_values():
    recipe = parse_recipe({"steps": [{"op": "normalize"}]})
    with pytest.raises(DataprepError, match="no mean/std"):
        compile_albumentations(recipe.steps, size=None)
    compose = compile_albumentations(recipe.steps, size=None, mean=[100.0], std=[50.0])
    out = compose(image=np.full((2, 2, 1), 150, np.uint8))["image"]
    np.testing.assert_allclose(out, 1.0)


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("steps:\n  - op: color_jitter\n    brightness: 2e-1\n")
    assert load_recipe(path).steps[0].params.brightness == 0.2


@pytest.mark.parametrize("text, value", [
    ("0512", 512), ("-07", -7), ("+3", 3), ("1_000", 1000), ("0o14", 12), ("0x1F", 31),  # YAML 1.2 core ints
    ("1:20", "1:20"), ("0b101", "0b101"), ("0o9", "0o9"), ("1:20.5", "1:20.5"),  # 1.1's base 60 and 0b: strings
    ("012.5", 12.5), ("3e-4", 3e-4),
])
def test_yaml_numbers_follow_yaml_1_2(text, value):
    loaded = load_yaml(f"v: {text}\n")["v"]
    assert loaded == value and type(loaded) is type(value)  # PyYAML 1.1: 0512 -> 330, 1:20 -> 80


def test_a_size_with_leading_zeros_is_decimal(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("size: [0512, 0320]\nsteps: [{op: random_crop}]\n")
    assert load_recipe(path).size == (512, 320)  # was (330, 208): read as octal
    path.write_text("size: [1:20, 64]\nsteps: [{op: random_crop}]\n")
    with pytest.raises(UsageError) as err:
        load_recipe(path)
    assert str(err.value) == f"{path}: size: expected an integer, got '1:20'"  # was 80 (base 60)
    path.write_text("size: [64, 64]\nseed: !!int 0b101\nsteps: []\n")  # an explicit tag: an error, not a traceback
    with pytest.raises(UsageError, match=r"line 2, column 7: '0b101' is not a YAML 1\.2 integer"):
        load_recipe(path)


@pytest.mark.parametrize("text, says", [
    ("size: [64,64]\nsteps:\n\t- op: hflip\n",
     "line 3, column 1: found a tab (YAML indents with spaces: replace the tab with spaces)"),
    ("size: [64, 64\nsteps: []\n",
     "line 2, column 6: expected ',' or ']', but got ':' (while parsing a flow sequence from line 1, column 7)"),
    ("steps:\n  - op: hflip\n   p: 0.5\n", "line 3, column 4: expected <block end>, but found '<block mapping start>' "
     "(while parsing a block collection from line 2, column 3)"),
    ("steps: []\nseed: 1\nseed: 2\n", "line 3, column 1: duplicate key 'seed'"),
])
def test_yaml_syntax_errors_say_the_problem_and_where(tmp_path, text, says):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        load_recipe(path)
    assert str(err.value) == f"{path}: {says}"  # was the context alone: "not valid YAML: while scanning ..."


def test_merge_keys_merge_and_the_mapping_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("size: [64, 64]\nx-common: &c {p: 0.25}\nx-rot: &r {<<: *c, op: rotate, p: 0.75}\nsteps:\n"
                    "  - <<: *c\n    op: hflip\n  - <<: *c\n    op: vflip\n    p: 0.5\n  - {<<: *r, limit: [-10, 10]}\n"
                    "  - {<<: [*c, *r], op: rotate}\n")
    recipe = load_recipe(path)
    assert [(s.op, s.p) for s in recipe.steps] == [("hflip", 0.25), ("vflip", 0.5), ("rotate", 0.75), ("rotate", 0.25)]
    assert recipe.steps[2].params.limit == (-10, 10)  # PyYAML 6's own merge gave *r's merged p (0.25) over its own
    path.write_text("x-c: &c {p: 0.5}\nsteps:\n  - <<: *c\n    op: hflip\n    op: vflip\n")
    with pytest.raises(UsageError) as err:  # the mapping's own keys are still checked
        load_recipe(path)
    assert str(err.value) == f"{path}: line 5, column 5: duplicate key 'op'"
    assert load_yaml("a: &a {k: 1}\nb: {<<: *a, k: 2}\n") == {"a": {"k": 1}, "b": {"k": 2}}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_hflip_swap_labels_mirrors_and_exchanges_the_pairs_in_every_cpu_path(dtype):
    """The albumentations Compose, the drawn-params kernel and offline augment all swap; the image only mirrors."""
    from dataprep.ops.geometric import swap_labels
    from dataprep.ops.steps import CompiledSteps

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    mask = rng.integers(0, 7, (6, 9)).astype(dtype)
    mask[0, 0] = 255
    expected = mask[:, ::-1].copy()
    for a, b in ((1, 4), (2, 6)):
        expected[mask[:, ::-1] == a], expected[mask[:, ::-1] == b] = b, a
    recipe = parse_recipe({"steps": [{"op": "hflip", "p": 1.0, "swap_labels": [[1, 4], [2, 6]]}]})
    out = compile_albumentations(recipe.steps, size=None, seed=0)(image=image, mask=mask)
    assert np.array_equal(out["mask"], expected) and out["mask"].dtype == dtype
    assert np.array_equal(out["image"], image[:, ::-1])
    assert np.array_equal(swap_labels(mask, ((1, 4), (2, 6))), np.select(
        [mask == 1, mask == 4, mask == 2, mask == 6], [4, 1, 6, 2], mask.astype(np.int64)).astype(dtype))
    steps = CompiledSteps(recipe.steps, size=None, ignore_index=255)
    kernel_image, kernel_mask, applied = steps.run(image, mask, np.random.default_rng(1))
    assert np.array_equal(kernel_mask, expected) and np.array_equal(kernel_image, image[:, ::-1])
    plain = parse_recipe({"steps": [{"op": "hflip", "p": 0.0, "swap_labels": [[1, 4]]}]})
    assert np.array_equal(compile_albumentations(plain.steps, size=None, seed=0)(image=image, mask=mask)["mask"], mask)


def test_a_recipe_that_is_not_utf8_is_one_usage_error(tmp_path):
    """A Latin-1 recipe (or trainer config) printed Python's UnicodeDecodeError traceback, exit 1."""
    from dataprep.errors import UsageError

    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\nsteps: []\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin1.yaml: not UTF-8 text \(byte 0xe9 at offset 9\); save it as UTF-8"):
        load_recipe(path)


@pytest.mark.parametrize("changes, says", [
    ({"steps": [{"op": "gaussian_blur", "sigma": [float("nan"), 1.0]}]},
     "step 1 (gaussian_blur): sigma: must be a finite number, got nan"),
    ({"size": [100000, 100000]}, "size: 100000 x 100000 is 10,000,000,000 pixels per output, over the"),
    ({"seed": -1}, "seed: must be 0 or more, got -1"),
])
def test_values_that_failed_once_per_output_are_refused_on_load(changes, says):
    """NaN sigma (a pydantic dump per output), a 100000 x 100000 size (30 GB per output) and seed -1 (exit 1,
    where every other recipe mistake is a usage error)."""
    data = {"size": [64, 64], "steps": [{"op": "hflip"}], **changes}
    with pytest.raises(UsageError, match=re.escape(says)):
        parse_recipe(data, "r.yaml")


@pytest.mark.parametrize("step, says", [
    ({"op": "hflip", "prob": 0.5},
     "unknown field 'prob'; a step's fields are op, p (its probability) and hflip's own: swap_labels"),
    ({"op": "vflip", "prob": 0.5},
     "unknown field 'prob'; a step's fields are op and p (its probability); vflip has no fields of its own"),
])
def test_an_unknown_step_field_names_the_common_fields_too(step, says):
    with pytest.raises(UsageError) as err:  # was "fields are swap_labels", as if a step had no probability
        parse_recipe({"size": [8, 8], "steps": [step]}, source="r.yaml")
    assert str(err.value) == f"r.yaml: step 1 ({step['op']}): {says}"


def test_recipe_shapes_that_are_no_recipe_say_what_to_write(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("- op: hflip\n")
    with pytest.raises(UsageError) as err:
        load_recipe(path)
    assert str(err.value) == (f"{path}: a recipe is a mapping with a 'steps' list, not a list: "
                              "put the steps under `steps:`")
    with pytest.raises(UsageError) as err:  # was "error: .: unreadable: Is a directory"
        load_recipe("")
    assert str(err.value) == "the recipe path is empty; give the recipe's YAML file"
    with pytest.raises(UsageError) as err:  # what the CLI's Path("") becomes
        load_recipe(".")
    assert str(err.value) == ".: is a folder, not a YAML file (an empty path is read as '.', this folder)"


def test_the_cpu_engine_is_named_as_users_pick_it():
    from dataprep.data.dataset import load_recipe_arg

    recipe = parse_recipe({"size": [8, 8], "steps": [{"op": "mosaic"}]}, source="r.yaml")
    with pytest.raises(UsageError) as err:
        recipe.require_engine("albumentations")
    assert str(err.value) == "r.yaml: the cpu engine (albumentations) cannot run step 1 (mosaic)"
    with pytest.raises(UsageError) as err:  # was "a list is not a recipe; give ... a list of steps"
        load_recipe_arg(["hflip"])
    assert str(err.value) == ("recipe: item 1 of the list is a str ('hflip'), not a step; a list recipe is a list of "
                              "step mappings ([{'op': 'hflip'}, ...], in YAML `- op: hflip`)")
