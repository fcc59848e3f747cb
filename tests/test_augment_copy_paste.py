"""Copy-paste's component search against an independent per-class labelling of the whole mask."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from dataprep.augment.copy_paste import _components, find_components
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


def test_read_only_donors_are_searched_once():
    mask = masks()[3]
    mask.setflags(write=False)
    first = _components(mask, CopyPaste(min_area=1), 255)
    assert _components(mask, CopyPaste(min_area=1), 255) is first  # reused
    assert _components(mask, CopyPaste(min_area=200), 255) != first  # other settings: searched again
    writable = mask.copy()
    assert _components(writable, CopyPaste(min_area=1), 255) == first
    assert _components(writable, CopyPaste(min_area=1), 255) is not first  # never cached: it could change
