"""An offline output replays exactly from the params it records (typed, JSON round trip)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dataprep import io
from dataprep.augment import augment_manifest, load_sample, replay
from dataprep.errors import DataprepError
from dataprep.manifest import ManifestRow, read_manifest, write_manifest

STEPS = [
    {"op": "random_scale", "scale": [0.8, 1.3]},
    {"op": "crop", "cat_max_ratio": 0.8},
    {"op": "hflip"},
    {"op": "rotate", "limit": [-20, 20], "p": 0.7},
    {"op": "mixup", "alpha": 0.4, "p": 0.6},
    {"op": "affine", "shear": [-5, 5]},
    {"op": "color_jitter", "hue": 0.05},
    {"op": "random_resized_crop", "scale": [0.5, 1.0]},
    {"op": "gaussian_blur", "p": 0.5},
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    rng = np.random.default_rng(0)
    rows = []
    for k in range(4):
        h, w = 70 + 6 * k, 90 - 4 * k
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4:h // 2, w // 3:] = 1 + k % 2
        io.write_image(root / f"{k}.png", image)
        io.write_mask(root / f"{k}_m.png", mask)
        rows.append(ManifestRow(f"s{k}", root / f"{k}.png", root / f"{k}_m.png", w, h))
    write_manifest(rows, root / "manifest.csv")
    return root / "manifest.csv"


def test_an_output_replays_byte_identical_from_its_recorded_params(dataset, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({"size": [48, 64], "variants": 3, "seed": 4, "ignore_index": 255,
                                  "output": {"image_format": "png"}, "steps": STEPS}))
    summary = augment_manifest(dataset, recipe, tmp_path / "out", quiet=True)
    assert summary.errors == [] and summary.written == 12
    sources = {r.id: r for r in read_manifest(dataset)}
    ops_seen = set()
    for row in read_manifest(summary.manifest):
        ids = row.extra["source_ids"].split(";")
        source, *partners = (load_sample(sources[i], 255) for i in ids)
        params = row.extra["params"]
        out = replay(params, source, partners)
        assert np.array_equal(out.image, io.read_image(row.image))
        assert np.array_equal(out.mask, io.read_mask(row.mask))
        record = json.loads((tmp_path / "out" / "params" / f"{row.id}.json").read_text())
        assert json.dumps(record["params"], sort_keys=True, separators=(",", ":")) == params
        ops_seen.update(row.extra["ops"].split(";"))
    assert {"random_scale", "crop", "affine", "color_jitter", "random_resized_crop", "mixup"} <= ops_seen


def test_recorded_single_sample_params_are_typed_and_drive_the_kernel(dataset, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({"size": [48, 64], "seed": 1, "output": {"image_format": "png"},
                                  "steps": [{"op": "rotate", "limit": [30, 30]}, {"op": "resize"}]}))
    row = read_manifest(augment_manifest(dataset, recipe, tmp_path / "out", quiet=True).manifest)[0]
    (group,) = [p for p in json.loads(row.extra["params"]) if p["op"] == "albumentations"]
    assert group["steps"] == ["rotate", "resize"]
    rotate, resize = group["params"]["drawn"]
    assert rotate["rotate"] == 30.0 and resize == {}
    source = load_sample(read_manifest(dataset)[0], 255)
    # Another angle in the record gives another image: the kernel applies the record, not a hidden RNG.
    rotate["rotate"] = -30.0
    assert not np.array_equal(replay([group], source).image, io.read_image(row.image))
    with pytest.raises(DataprepError, match="cannot replay op 'bogus'"):
        replay([{"op": "bogus"}], source)
