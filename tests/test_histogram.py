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


def _colour_case(rng: np.random.Generator, shape: tuple[int, int], colours: np.ndarray) -> np.ndarray:
    # Runs of one colour, as in real masks, with single stray pixels between them.
    runs = np.repeat(rng.integers(0, len(colours), (shape[0], shape[1] // 8 + 1)), 8, axis=1)[:, :shape[1]]
    runs[rng.random(shape) < 0.05] = rng.integers(0, len(colours))
    return colours[runs]


@pytest.mark.skipif(histogram._histogram is None, reason="the C kernel was not built")
@pytest.mark.parametrize("view", ["whole", "odd width", "every other row", "one row", "empty"])
def test_lookup_kernel_equals_a_numpy_gather_and_bincount(view):
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, (30, 3)).astype(np.uint8)
    rgb = _colour_case(rng, (41, 67), colours)
    rgb = {"whole": rgb, "odd width": rgb[:, :37], "every other row": rgb[::2], "one row": rgb[:1],
           "empty": rgb[:0]}[view]
    lut = rng.integers(0, 256, 1 << 24).astype(np.uint8)
    labels, counts = histogram.lookup_rgb_and_count(rgb, lut)
    keys = rgb[..., 0].astype(np.int64) | rgb[..., 1].astype(np.int64) << 8 | rgb[..., 2].astype(np.int64) << 16
    np.testing.assert_array_equal(labels, lut[keys])
    np.testing.assert_array_equal(counts, np.bincount(lut[keys].ravel(), minlength=256))


def test_lookup_kernel_declines_what_it_cannot_do():
    lut8, lut16 = np.zeros(1 << 24, np.uint8), np.zeros(1 << 24, np.uint16)
    rgb = np.zeros((4, 6, 3), np.uint8)
    assert histogram.lookup_rgb_and_count(rgb, lut16) is None  # 256 classes + a sentinel: uint16 table
    assert histogram.lookup_rgb_and_count(rgb[:, ::2], lut8) is None  # pixels not packed along the row
    assert histogram.lookup_rgb_and_count(np.zeros((4, 6, 4), np.uint8), lut8) is None  # RGBA: alpha matters


@pytest.mark.parametrize("kernel", ["built", "fallback"])
@pytest.mark.parametrize("unknown", ["none", "ignore", "nearest"])
def test_colour_conversion_is_the_same_with_and_without_the_kernel(kernel, unknown, monkeypatch):
    from dataprep.labels import mask_to_labels
    from dataprep.palette import builtin_palette

    if kernel == "built" and histogram._histogram is None:
        pytest.skip("the C kernel was not built")
    if kernel == "fallback":
        monkeypatch.setattr(histogram, "_histogram", None)
    palette = builtin_palette("cityscapes")
    known = np.array([c.color for c in palette.classes if c.color is not None], np.uint8)
    rng = np.random.default_rng(6)
    rgb = _colour_case(rng, (50, 90), known)
    if unknown != "none":
        rgb[3:5, 7:20] = (1, 2, 3)  # a colour no class has
    result = mask_to_labels(rgb, palette, unknown="error" if unknown == "none" else unknown)
    # Independent reference: one comparison per palette colour.
    expected = np.full(rgb.shape[:2], 254, np.int64)
    for colour, index in palette.colour_to_index().items():
        expected[np.all(rgb == colour, axis=-1)] = index
    if unknown == "ignore":
        expected[3:5, 7:20] = palette.ignore_index
    elif unknown == "nearest":
        assert (result.labels[3:5, 7:20] == result.labels[3, 7]).all()
        expected[3:5, 7:20] = result.labels[3, 7]
    assert (expected != 254).all()
    np.testing.assert_array_equal(result.labels, expected)
    np.testing.assert_array_equal(result.counts, np.bincount(expected.ravel(), minlength=palette.max_value + 1)
                                  [:palette.max_value + 1])
    assert bool(result.unknown) == (unknown != "none")
