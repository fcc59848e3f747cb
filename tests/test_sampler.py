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


def test_trainer_config_class_balance(tmp_path):
    from dataprep.train.config import parse_config

    cfg = parse_config({"data": {"manifest": "m.csv", "stats": "s.json", "class_balance": 0.3}})
    assert cfg.data.class_balance == 0.3
    with pytest.raises(DataprepError, match="data.class_balance: needs data.stats"):
        parse_config({"data": {"manifest": "m.csv", "class_balance": 0.3}})
    with pytest.raises(DataprepError, match=r"data.class_balance: must be in \(0, 1\]"):
        parse_config({"data": {"manifest": "m.csv", "stats": "s.json", "class_balance": 2}})
