"""Class-balanced (repeat-factor) sampling for make_loader and the trainer."""
from __future__ import annotations

import collections
import math

import numpy as np
import pytest
from PIL import Image

from dataprep import make_loader, read_manifest
from dataprep.data.sampler import (
    class_repeat_factors,
    epoch_length,
    image_repeat_factors,
    repeated_order,
)
from dataprep.errors import DataprepError, UsageError
from dataprep.stats import compute_stats

THRESHOLD = 0.6


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    from helpers import make_label_dataset

    manifest = make_label_dataset(tmp_path_factory.mktemp("sampler"), n=16)
    return manifest, compute_stats(manifest)


def _expected_factors(manifest, stats, t):
    """Repeat factors computed here from the label maps, as LVIS defines them."""
    rows = read_manifest(manifest).rows
    k = stats["classes"]["num_classes"]
    presence = np.zeros((len(rows), k), bool)
    for i, row in enumerate(rows):
        values = np.unique(np.asarray(Image.open(row.mask)))
        presence[i, values[values < k]] = True
    f = presence.mean(axis=0)  # share of images containing each class
    r_class = [max(1.0, math.sqrt(t / fc)) if fc > 0 else 1.0 for fc in f]
    return np.array([max([1.0] + [r_class[c] for c in range(k) if presence[i, c]]) for i in range(len(rows))])


def test_repeat_factors_match_the_definition(labelled):
    manifest, stats = labelled
    counts = np.array(stats["classes"]["image_count"], float)
    expected_class = np.maximum(1.0, np.sqrt(THRESHOLD / (counts / stats["classes"]["num_images"])))
    np.testing.assert_allclose(class_repeat_factors(stats, THRESHOLD), expected_class)
    factors = image_repeat_factors(read_manifest(manifest).rows, stats, THRESHOLD)
    np.testing.assert_allclose(factors, _expected_factors(manifest, stats, THRESHOLD))
    assert factors.max() > 1.0 and factors.min() >= 1.0  # some images hold a rare class
    with pytest.raises(UsageError, match="threshold"):
        class_repeat_factors(stats, 0.0)
    with pytest.raises(UsageError, match="class statistics"):
        class_repeat_factors({"classes": None}, 0.5)


def test_repeated_order_repeats_each_image_by_its_factor():
    factors = np.array([1.0, 1.0, 2.5, 1.2, 3.0, 1.0])
    total = epoch_length(factors)
    assert total == round(factors.sum())
    seen = np.zeros(len(factors))
    epochs = 400
    for epoch in range(epochs):
        order = repeated_order(factors, seed=1, epoch=epoch, shuffle=True)
        assert len(order) == total
        counts = np.bincount(order, minlength=len(factors))
        assert (counts >= np.floor(factors)).all() and (counts <= np.ceil(factors)).all()
        seen += counts
    # On average r_i, the fractional parts scaled to fill the epoch (9.7 -> 10 slots: 1 extra for 0.7 of fractions).
    fraction = factors - np.floor(factors)
    expected = np.floor(factors) + fraction * (total - np.floor(factors).sum()) / fraction.sum()
    np.testing.assert_allclose(seen / epochs, expected, atol=0.06)
    np.testing.assert_allclose(expected[[2, 3]], [2.5 + 0.5 / 0.7 - 0.5, 1.0 + 0.2 / 0.7])
    # An integral sum: each image on average exactly r_i times; large fractions never give ceil(r_i) + 1.
    for exact in (np.array([1.0, 1.5, 2.5, 1.0]), np.array([1.95, 1.6, 1.0])):
        seen = np.zeros(len(exact))
        for epoch in range(400):
            counts = np.bincount(repeated_order(exact, seed=0, epoch=epoch, shuffle=False), minlength=len(exact))
            assert (counts <= np.ceil(exact)).all()
            seen += counts
        if exact.sum() == round(exact.sum()):
            np.testing.assert_allclose(seen / 400, exact, atol=0.06)
    a = repeated_order(factors, seed=1, epoch=3, shuffle=True)
    np.testing.assert_array_equal(a, repeated_order(factors, seed=1, epoch=3, shuffle=True))
    assert not np.array_equal(a, repeated_order(factors, seed=1, epoch=4, shuffle=True))
    # Shards split one epoch's order, padded to equal lengths.
    shards = [repeated_order(factors, seed=1, epoch=3, shuffle=True, shard_id=s, num_shards=4) for s in range(4)]
    assert len({len(s) for s in shards}) == 1
    merged = np.stack(shards, axis=1).reshape(-1)[:total]
    np.testing.assert_array_equal(merged, a)


def test_make_loader_class_balance_cpu(labelled):
    manifest, stats = labelled
    factors = _expected_factors(manifest, stats, THRESHOLD)
    rows = read_manifest(manifest).rows
    kw = dict(batch_size=4, num_workers=0, seed=2, shuffle=True)
    plain = make_loader(manifest, None, stats, "cpu", **kw)
    balanced = make_loader(manifest, None, stats, "cpu", class_balance=THRESHOLD, **kw)
    total = round(factors.sum())
    assert len(plain) == math.ceil(len(rows) / 4) and len(balanced) == math.ceil(total / 4)
    ids = [i for batch in balanced for i in batch["id"]]
    assert len(ids) == total
    counts = collections.Counter(ids)
    for row, r in zip(rows, factors):
        assert math.floor(r) <= counts[row.id] <= math.ceil(r), row.id
    with pytest.raises(UsageError, match="needs stats"):
        make_loader(manifest, None, None, "cpu", class_balance=THRESHOLD, **kw)


@pytest.mark.dali
def test_make_loader_class_balance_dali_reads_the_cpu_order(labelled):
    pytest.importorskip("nvidia.dali")
    manifest, stats = labelled
    kw = dict(batch_size=4, seed=2, shuffle=True, class_balance=THRESHOLD)
    cpu = make_loader(manifest, None, stats, "cpu", num_workers=0, **kw)
    dali = make_loader(manifest, None, stats, "dali", num_workers=1, **kw)
    assert len(cpu) == len(dali)
    for epoch in (0, 1):
        cpu.set_epoch(epoch)
        dali.set_epoch(epoch)
        assert [b["id"] for b in cpu] == [b["id"] for b in dali]


@pytest.mark.parametrize("engine", ["cpu", "dali"])
def test_an_image_repeated_in_one_epoch_is_augmented_anew_each_time(labelled, engine):
    """Every appearance of a repeated image drew (seed, epoch, index)'s params: class balance brought a rare
    CamVid image back 3 times in an epoch as 3 byte-identical crops, and shard padding gave 2 ranks one sample
    alike. Each appearance now draws its own; the first keeps the params it always had."""
    if engine == "dali":
        pytest.importorskip("nvidia.dali")
    manifest, stats = labelled
    recipe = {"size": [96, 96], "steps": [{"op": "random_crop"}, {"op": "hflip"}]}
    extra = {"device": "cpu"} if engine == "dali" else {"num_workers": 0}
    kw = dict(batch_size=5, seed=2, shuffle=True, **extra)
    seen = collections.defaultdict(list)
    for shard in range(4):  # 16 images, 21 appearances at t=1, padded to 24
        loader = make_loader(manifest, recipe, stats, engine, class_balance=1.0, shard_id=shard, num_shards=4, **kw)
        loader.set_epoch(1)
        for batch in loader:
            for name, image in zip(batch["id"], batch["image"]):
                seen[name].append(image.numpy().tobytes())
    repeated = {name: draws for name, draws in seen.items() if len(draws) > 1}
    assert sum(len(d) for d in seen.values()) == 24 and len(repeated) >= 5
    assert all(len(set(draws)) == len(draws) for draws in repeated.values()), \
        {name: len(set(draws)) for name, draws in repeated.items()}
    # A sample's first appearance is augmented as the plain loader (no repeats) augments it.
    plain = make_loader(manifest, recipe, stats, engine, **kw)
    plain.set_epoch(1)
    first = {name: image.numpy().tobytes() for batch in plain for name, image in zip(batch["id"], batch["image"])}
    assert all(first[name] in draws for name, draws in seen.items())


def test_trainer_config_class_balance(tmp_path):
    from dataprep.train.config import parse_config

    cfg = parse_config({"data": {"manifest": "m.csv", "stats": "s.json", "class_balance": 0.3}})
    assert cfg.data.class_balance == 0.3
    with pytest.raises(DataprepError, match="data.class_balance: needs data.stats"):
        parse_config({"data": {"manifest": "m.csv", "class_balance": 0.3}})
    with pytest.raises(DataprepError, match=r"data.class_balance: must be in \(0, 1\]"):
        parse_config({"data": {"manifest": "m.csv", "stats": "s.json", "class_balance": 2}})
