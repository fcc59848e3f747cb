"""Exact per-channel counts: the C kernel and the cv2 fallback against numpy.bincount."""
from __future__ import annotations

import numpy as np
import pytest

from dataprep import histogram
from dataprep.histogram import channel_histograms


def _reference(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = array[:, :, None]
    bins = 256 if array.dtype == np.uint8 else 65536
    return np.stack([np.bincount(array[:, :, c].ravel(), minlength=bins) for c in range(array.shape[2])])


def _cases() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    flat = np.full((16, 16, 3), 7, np.uint8)  # one bin per channel: every count lands on the same counter
    wide = rng.integers(0, 256, (40, 64, 4), dtype=np.uint8)
    return [
        noisy,
        flat,
        rng.integers(0, 256, (23, 31), dtype=np.uint8),  # grayscale, width not a multiple of 4
        rng.integers(0, 3, (9, 5, 1), dtype=np.uint8),
        np.repeat(rng.integers(0, 19, (12, 1)), 40, axis=1).astype(np.uint8),  # a label map: runs of one value
        np.repeat(rng.integers(0, 19, (12, 1)), 40, axis=1).astype(np.uint8)[::-2, 1::3],  # strided 2-D view
        wide,
        rng.integers(0, 256, (5, 7, 11), dtype=np.uint8),  # many bands
        noisy[::-1, ::2],  # negative row stride, gapped pixels
        noisy[:, :, ::-1],  # channel order reversed (BGR view)
        wide[:, :, 1:3],  # two channels out of four
        np.zeros((0, 5, 3), np.uint8),
        rng.integers(0, 65536, (13, 11, 3), dtype=np.uint16),
    ]


@pytest.mark.parametrize("case", range(len(_cases())))
@pytest.mark.parametrize("kernel", ["built", "fallback"])
def test_counts_equal_bincount(case, kernel, monkeypatch):
    if kernel == "built" and histogram._histogram is None:
        pytest.skip("the C kernel was not built")
    if kernel == "fallback":
        monkeypatch.setattr(histogram, "_histogram", None)
    array = _cases()[case]
    hist = channel_histograms(array)
    assert hist.dtype == np.int64
    np.testing.assert_array_equal(hist, _reference(array))


@pytest.mark.skipif(histogram._histogram is None, reason="the C kernel was not built")
@pytest.mark.parametrize("case", range(len(_cases()) - 1))  # the uint8 cases
def test_kernel_adds_exact_counts_for_any_channel_count(case):
    array = _cases()[case]
    array3 = array[:, :, None] if array.ndim == 2 else array
    out = np.full((array3.shape[2], 256), 5, np.int64)
    histogram._histogram.add_u8(array3, out)  # adds to what is there
    np.testing.assert_array_equal(out, _reference(array) + 5)


def test_fallback_counts_big_images_in_bands(monkeypatch):
    # cv2 counts in float32, exact only up to 2**24 per bin; force bands on a small image.
    monkeypatch.setattr(histogram, "_histogram", None)
    monkeypatch.setattr(histogram, "FLOAT32_EXACT", 50)
    image = np.random.default_rng(4).integers(0, 256, (31, 17, 3), dtype=np.uint8)
    np.testing.assert_array_equal(channel_histograms(image), _reference(image))


def test_counts_past_float32_precision():
    # 4097 x 4097 = 2**24 + 8193 equal pixels: float32 counting would round this bin.
    image = np.full((4097, 4097, 1), 200, np.uint8)
    assert channel_histograms(image)[0, 200] == image.size


def test_other_dtypes_are_refused():
    with pytest.raises(TypeError, match="float32"):
        channel_histograms(np.zeros((2, 2), np.float32))
