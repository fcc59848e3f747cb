"""Copy-paste's component search against an independent per-class labelling of the whole mask."""
from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from dataprep.augment.copy_paste import components, find_components
from dataprep.augment.single import Kernels
from dataprep.recipe import CopyPaste


def reference_components(mask: np.ndarray, step: CopyPaste, ignore: int) -> list[tuple]:
    """Label every candidate class on the full mask with statistics (the plain, slow way)."""
    values, counts = np.unique(mask, return_counts=True)
    keep = values != ignore
    values, counts = values[keep], counts[keep]
    if step.classes:
        classes = [int(v) for v in values if int(v) in step.classes]
    else:
        classes = [int(v) for v in values if v != values[np.argmax(counts)]] if values.size else []
    found = []
    for cls in classes:
        n, comp, stats, _ = cv2.connectedComponentsWithStats((mask == cls).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[k])
            if step.min_area <= area <= step.max_area_fraction * mask.size:
                ys, xs = np.nonzero(comp == k)
                first = np.lexsort((xs, ys))[0]
                found.append((cls, int(ys[first]), int(xs[first]), y, x, h, w))
    return sorted(found)


def masks() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for p in (0.2, 0.45, 0.6):  # salt noise: thousands of touching and nested blobs
        out.append(((rng.random((90, 120)) < p) * rng.integers(1, 4, (90, 120))).astype(np.uint8))
    ring = np.zeros((100, 100), np.uint8)  # blobs inside the holes of blobs of the same class
    for radius, value in ((45, 2), (38, 0), (30, 2), (22, 0), (12, 2), (5, 3)):
        cv2.circle(ring, (50, 50), radius, value, -1)
    out.append(ring)
    scene = np.zeros((120, 200), np.uint16)  # 16-bit labels, objects scattered over a background
    for _ in range(40):
        y, x = rng.integers(0, 120), rng.integers(0, 200)
        scene[y : y + rng.integers(2, 30), x : x + rng.integers(2, 30)] = rng.integers(1, 300)
    out.append(scene)
    signed = scene.astype(np.int32) - 1  # int32 labels with -1 (as .npy masks hold ignore)
    out.append(signed)
    return out


@pytest.mark.parametrize("step", [CopyPaste(), CopyPaste(min_area=1, max_area_fraction=1.0),
                                  CopyPaste(min_area=30, max_area_fraction=0.05), CopyPaste(classes=(2, 3))])
def test_components_match_a_full_labelling(step):
    total = 0
    for mask in masks():
        expected = reference_components(mask, step, 255)
        assert find_components(mask, step, 255) == expected
        total += len(expected)
    assert total > 5  # there were candidates to compare


def test_read_only_donors_are_searched_once_per_run():
    mask = masks()[3]
    mask.setflags(write=False)
    run = Kernels()
    first = components(mask, CopyPaste(min_area=1), 255, run)
    assert first == find_components(mask, CopyPaste(min_area=1), 255)
    assert components(mask, CopyPaste(min_area=1), 255, run) is first  # reused within the run
    assert components(mask, CopyPaste(min_area=200), 255, run) != first  # other settings: searched again
    assert components(mask, CopyPaste(min_area=1), 255, Kernels()) is not first  # another run: searched again
    assert components(mask, CopyPaste(min_area=1), 255) is not first  # no run state: nothing kept anywhere
    sent = pickle.loads(pickle.dumps(run))  # to a worker process: it fills its own
    assert components(mask, CopyPaste(min_area=1), 255, sent) is not first
    writable = mask.copy()
    assert components(writable, CopyPaste(min_area=1), 255, run) == first
    assert components(writable, CopyPaste(min_area=1), 255, run) is not first  # never kept: it could change


def test_a_run_keeps_the_components_of_its_last_donors_only():
    run = Kernels()
    donors = [np.zeros((8, 8), np.uint8) for _ in range(Kernels.DERIVED_SIZE + 1)]
    for d in donors:
        d[2:5, 2:5] = 1
        d.setflags(write=False)
    found = [components(d, CopyPaste(min_area=1), 255, run) for d in donors]
    assert components(donors[-1], CopyPaste(min_area=1), 255, run) is found[-1]
    assert components(donors[0], CopyPaste(min_area=1), 255, run) is not found[0]  # the oldest went


def test_an_offline_run_searches_each_read_only_donor_once(monkeypatch):
    from dataprep.augment import augment_samples
    from dataprep.augment import copy_paste as cp
    from dataprep.recipe import parse_recipe
    from dataprep.sample import Sample, SampleMeta

    calls = []
    real = cp.find_components
    monkeypatch.setattr(cp, "find_components", lambda *a: calls.append(1) or real(*a))
    samples = []
    for i, mask in enumerate(masks()[:2]):
        image = np.zeros((*mask.shape, 3), np.uint8)
        image.setflags(write=False)
        mask = mask.copy()
        mask.setflags(write=False)  # as the runner loads its inputs
        samples.append(Sample(image, mask, SampleMeta(f"s{i}")))
    recipe = parse_recipe({"size": list(samples[0].mask.shape), "seed": 1, "steps": [{"op": "copy_paste"}]})
    run = Kernels()
    outputs = [augment_samples(recipe, samples, index=0, variant=v, kernels=run) for v in range(4)]
    assert len(calls) == 1  # one donor, four outputs
    fresh = [augment_samples(recipe, samples, index=0, variant=v) for v in range(4)]
    assert len(calls) == 5  # without the run's kernels, every output searches
    for a, b in zip(outputs, fresh):  # the same outputs either way
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
