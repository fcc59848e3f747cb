"""Every pixel type dataprep handles, in one table: how it is read, how it is written, its value range.

A pixel type is a sample dtype times a band count. The table answers three
questions the rest of the code must agree on:

- reading: which codec decodes a container (`READERS`). TIFF goes through
  tifffile (exact bands and dtype, no colour conversion, GeoTIFF tags kept);
  JPEG, PNG, BMP and WebP keep OpenCV's fast path; palette masks go through
  PIL, which returns their indices rather than their colours;
- writing: which containers hold a (dtype, bands) exactly (`can_hold`) and the
  one chosen when the user asks for `auto` (`auto_format`): JPEG only for 8-bit
  1- or 3-band images, PNG for 16-bit 1/3 bands (and RGBA), TIFF for everything
  else (4 data bands, more than 4, 2 bands, int16, float32);
- normalization: the value range of a dtype (`value_range`) and the divisor
  that maps it to about [0, 1] when no dataset statistics are given
  (`default_scale`); float data has no natural range and is left as it is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Container names as output formats (file extensions) and as io.sniff_format names.
JPEG, PNG, TIFF = "jpg", "png", "tif"
OUTPUT_FORMATS = (JPEG, PNG, TIFF)
AUTO = "auto"
# Pixels a side each container's writer takes: libjpeg's JPEG_MAX_DIMENSION, and libpng's default user
# limit, which OpenCV keeps. Past them OpenCV logged 6 lines of [ERROR] per file and wrote nothing.
MAX_SIDE = {JPEG: 65_500, PNG: 1_000_000}
FORMAT_NAMES = {JPEG: "JPEG", PNG: "PNG", TIFF: "TIFF"}

# Which library decodes a container's pixels (io.sniff_format names).
READERS = {
    "JPEG": "opencv",
    "PNG": "opencv",  # masks: PIL, for palette indices
    "BMP": "opencv",
    "WEBP": "opencv",
    "TIFF": "tifffile",  # OpenCV as a fallback for codecs tifffile lacks here (e.g. LZW) and palette/CMYK photos
    "GIF": "pil",
    "NPY": "numpy",
}


@dataclass(frozen=True)
class PixelType:
    """One supported sample dtype."""

    name: str
    dtype: np.dtype
    value_range: tuple[float, float] | None  # None: floats, no natural range (use stats)
    formats: tuple[str, ...]  # containers that hold it exactly (for some band counts, see `can_hold`)

    @property
    def integer(self) -> bool:
        return self.dtype.kind in "iu"


PIXEL_TYPES: dict[str, PixelType] = {
    "uint8": PixelType("uint8", np.dtype(np.uint8), (0.0, 255.0), (JPEG, PNG, TIFF)),
    "uint16": PixelType("uint16", np.dtype(np.uint16), (0.0, 65535.0), (PNG, TIFF)),
    "int16": PixelType("int16", np.dtype(np.int16), (-32768.0, 32767.0), (TIFF,)),
    "float32": PixelType("float32", np.dtype(np.float32), None, (TIFF,)),
}

# Bands each container can hold (TIFF: any number).
_BANDS = {JPEG: (1, 3), PNG: (1, 3, 4)}


def pixel_type(dtype: np.dtype | str | type) -> PixelType | None:
    """The table entry of a dtype, or None when dataprep does not support it."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        return None
    return PIXEL_TYPES.get(name)


def describe(dtype: np.dtype | str, bands: int) -> str:
    """'3-band uint16', for messages."""
    return f"{bands}-band {np.dtype(dtype).name}"


def can_hold(fmt: str, dtype: np.dtype | str, bands: int, *, alpha: bool = False) -> bool:
    """Whether container `fmt` ("jpg", "png", "tif") keeps pixels of this dtype and band count (JPEG: up to its loss).

    A PNG's fourth channel is alpha to every reader (dataprep's drops it): four
    data bands (`alpha=False`) go to TIFF, where they stay four bands.
    """
    fmt = normalize_format(fmt)
    kind = pixel_type(dtype)
    if kind is None or fmt not in kind.formats:
        return False
    allowed = _BANDS.get(fmt)
    if fmt == PNG and bands == 4 and not alpha:
        return False
    return bands >= 1 and (allowed is None or bands in allowed)


def auto_format(dtype: np.dtype | str, bands: int, *, alpha: bool = False) -> str:
    """The container `auto` writes: JPEG for 8-bit 1/3 bands, PNG for 8/16-bit 1/3 bands (and RGBA), else TIFF."""
    for fmt in OUTPUT_FORMATS:
        if can_hold(fmt, dtype, bands, alpha=alpha):
            return fmt
    return TIFF


def widest_format(formats: list[str]) -> str:
    """One container for a run whose outputs need these: the last of jpg < png < tif that any needs."""
    return max((normalize_format(f) for f in formats), key=OUTPUT_FORMATS.index, default=JPEG)


def normalize_format(fmt: str) -> str:
    """'jpeg' -> 'jpg', 'tiff' -> 'tif'; others as given (lower case)."""
    fmt = fmt.lower().lstrip(".")
    return {"jpeg": JPEG, "tiff": TIFF}.get(fmt, fmt)


def default_scale(dtype: np.dtype | str) -> float:
    """The divisor that maps a dtype's values to about [0, 1] without stats: its maximum; 1.0 for floats."""
    kind = pixel_type(dtype)
    if kind is None or kind.value_range is None:
        return 1.0
    return kind.value_range[1]


def is_nodata(values: np.ndarray, nodata: float) -> np.ndarray:
    """Elementwise: which values hold a GDAL nodata value, compared as GDAL does.

    The value is first cast to the pixels' own type (GDAL writes float32
    nodata as a decimal string such as -3.4e+38, which is not exactly the
    float32 the pixels hold); NaN matches NaN. Integer pixels never match a
    value their type cannot hold.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        if np.isnan(nodata):
            return np.isnan(values)
        with np.errstate(over="ignore"):
            return values == values.dtype.type(nodata)
    info = np.iinfo(values.dtype)
    if not (float(nodata).is_integer() and info.min <= nodata <= info.max):
        return np.zeros(values.shape, bool)
    return values == values.dtype.type(int(nodata))



def nodata_fill(nodata: float | None, dtype: np.dtype) -> float:
    """The value for pixels no source pixel supplies (tile padding, what no tile covers, a resized pixel made
    mostly of nodata): a GeoTIFF's nodata value (None: it has none) where `dtype` holds it, else 0."""
    if nodata is None:
        return 0
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return float(nodata)
    info = np.iinfo(dtype)
    return int(nodata) if float(nodata).is_integer() and info.min <= nodata <= info.max else 0
