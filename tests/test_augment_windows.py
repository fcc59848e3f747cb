"""Mosaic computes only the visible window of each scaled sample: it must match scaling the whole sample."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from dataprep.augment.mosaic import scaled_mask_window, scaled_window


def full_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-aligned nearest neighbour of the whole mask, written out per pixel."""
    rows = [min(int((r + 0.5) * mask.shape[0] / height), mask.shape[0] - 1) for r in range(height)]
    cols = [min(int((c + 0.5) * mask.shape[1] / width), mask.shape[1] - 1) for c in range(width)]
    return mask[np.array(rows)][:, np.array(cols)]


@pytest.mark.parametrize("scaled", [(37, 61), (120, 200), (250, 333), (80, 100)])
def test_windows_match_the_whole_sample_scaled(scaled):
    rng = np.random.default_rng(sum(scaled))
    image = cv2.GaussianBlur(rng.integers(0, 256, (80, 100, 3), dtype=np.uint8), (0, 0), 2)
    mask = rng.integers(0, 5, (80, 100)).astype(np.uint8)
    whole_image = cv2.resize(image, scaled[::-1], interpolation=cv2.INTER_LINEAR)
    whole_mask = full_nearest(mask, *scaled)
    for _ in range(10):
        h, w = int(rng.integers(1, scaled[0] + 1)), int(rng.integers(1, scaled[1] + 1))
        y, x = int(rng.integers(0, scaled[0] - h + 1)), int(rng.integers(0, scaled[1] - w + 1))
        np.testing.assert_array_equal(scaled_mask_window(mask, scaled, y, x, h, w), whole_mask[y : y + h, x : x + w])
        window = scaled_window(image, scaled, y, x, h, w).astype(int)
        expected = whole_image[y : y + h, x : x + w].astype(int)
        assert window.shape == expected.shape
        # Same sampling positions; only the interpolation's fixed-point rounding differs.
        assert np.abs(window - expected).max() <= 2 if scaled != (80, 100) else np.array_equal(window, expected)
