"""One manifest row in, one checked `Sample` out: the loader every command reads rows through.

`dataprep.io` decodes files; this module holds the policies that turn a row's
two files into a `Sample`, once, with one set of messages:

- sizes: each file's header is checked against the manifest's width/height
  (a file swapped since the scan, or a decompression bomb in its place, is
  refused unread), and the decoded image and mask against each other;
- channels: alpha is dropped unless asked for; `channels=N` asks for N bands,
  grayscale images among RGB ones are expanded, any other mismatch is refused;
- dtypes: the pixel types of `pixeltypes.PIXEL_TYPES` (uint8, uint16, int16,
  float32, any band count), anything else refused naming the file;
- masks: label maps (H, W) of integers; palette PNGs give their indices,
  colour masks are refused with the command that converts them; a row's
  extra masks (`extra_masks`) are merged in;
- metadata: `meta.extra` carries the image's `dtype` name, its `bands`, and a
  GeoTIFF's tags (`geo`, a `raster.GeoTags`) so outputs can carry them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from . import io
from .errors import DataprepError
from .extra_masks import read_mask_with_extras, read_row_mask
from .pixeltypes import PIXEL_TYPES
from .sample import DEFAULT_IGNORE_INDEX, Sample, SampleMeta

if TYPE_CHECKING:  # manifest imports io, which imports this module
    from .manifest import ManifestRow

MaskPolicy = Literal["required", "optional", "skip"]

# meta.extra keys
DTYPE_KEY, BANDS_KEY, GEO_KEY, BGR_KEY = "dtype", "bands", "geo", "bgr"


def manifest_size(row: ManifestRow) -> tuple[int, int] | None:
    """(width, height) the row promises, checked against each file's header before decoding; None when unknown."""
    return (row.width, row.height) if row.width > 0 and row.height > 0 else None


def load_sample(
    row: ManifestRow,
    *,
    channels: int | None = None,
    mask: MaskPolicy = "required",
    purpose: str = "this command",
    ignore_index: int = DEFAULT_IGNORE_INDEX,
    keep_alpha: bool = False,
    counting: bool = False,
) -> Sample:
    """The row's image (H, W, C) and label map (H, W) as a `Sample`, every check done.

    `channels`: give the image that many bands (`match_channels`). `mask`:
    "required" (refused when the row has none), "optional", or "skip" (not
    read). `purpose` names the caller in messages ("the Dataset needs label
    maps"). `counting=True` is for callers that only count pixel values: the
    channels may stay in BGR order (`meta.extra["bgr"]` says so), the array
    may be a strided view and stay as stored (EXIF orientation applied only
    where the mask needs it), which saves a colour swap and a copy per image.
    """
    expect = manifest_size(row)
    # The row's paths as strings: a Path per access would be built a dozen times per sample.
    image_path, mask_path = row.image_str, row.mask_str
    if mask == "required" and mask_path is None:
        load_row_mask(row, purpose=purpose)  # its message, before any decoding
    decoded = io.decode_file(image_path, expect=expect)
    # Counts do not depend on orientation: counting turns the image upright only
    # when its mask needs it to line up (parsing EXIF costs a tenth of a small decode).
    image = io.image_array(decoded, apply_exif=not counting, keep_alpha=keep_alpha, rgb=not counting,
                           contiguous=not counting)
    if not image.dtype.isnative:  # big-endian TIFF samples
        image = image.astype(image.dtype.newbyteorder("="))
    check_pixel_type(image, image_path)
    if channels is not None:
        image = match_channels(image, channels, image_path)
    if expect is not None and image.shape[:2] not in ((row.height, row.width), (row.width, row.height)):
        raise DataprepError(image_path, f"image is {image.shape[1]}x{image.shape[0]} but the manifest says "
                                       f"{row.width}x{row.height}; rescan it")
    label = None if mask == "skip" else load_row_mask(row, required=mask == "required", purpose=purpose)
    if counting and label is not None and label.shape != image.shape[:2]:
        image = io.apply_orientation(image, decoded.orientation)
    if label is not None and label.shape != image.shape[:2]:
        raise io.mask_size_error(mask_path, label.shape[1::-1], image.shape[1::-1], Path(image_path).name)
    extra = {DTYPE_KEY: _DTYPE_NAMES[image.dtype], BANDS_KEY: int(image.shape[2])}
    if decoded.geo is not None:
        extra[GEO_KEY] = decoded.geo
    if counting and decoded.bgr:
        extra[BGR_KEY] = True
    meta = SampleMeta(row.id, image_path, mask_path,
                      ignore_index=ignore_index, extra=extra)
    return Sample(image, label, meta)


def nodata_of(sample: Sample) -> float | None:
    """The GDAL nodata value of a GeoTIFF sample's image, else None."""
    geo = sample.meta.extra.get(GEO_KEY)
    return geo.nodata if geo is not None else None


def load_row_mask(row: ManifestRow, *, required: bool = True, purpose: str = "this command") -> np.ndarray | None:
    """The row's label map, its size checked against the manifest; None when the row has none and not `required`."""
    if row.mask_str is None:
        if required:
            raise DataprepError(row.image_str, f"no mask for this image; {purpose} needs label maps")
        return None
    return _label_map(read_row_mask(row, expect=manifest_size(row)), row.mask_str, purpose)


def load_label_map(path: io.PathLike, *, expect: tuple[int, int] | None = None,
                   purpose: str = "this command", extras: Sequence[io.PathLike] = ()) -> np.ndarray:
    """A mask file (and its `extras`, merged in) as an (H, W) integer label map; colour masks refused with the
    command that converts them."""
    return _label_map(read_mask_with_extras(path, extras, expect=expect), path, purpose)


def _label_map(label: np.ndarray, path: io.PathLike, purpose: str) -> np.ndarray:
    if label.ndim == 3:
        raise DataprepError(path, f"colour mask; run `dataprep masks2labels` first ({purpose} needs label maps "
                                  "of class indices)")
    if label.dtype == bool:
        return label.astype(np.uint8)
    if label.dtype.kind not in "iu":
        raise DataprepError(path, f"mask holds {label.dtype} values; label maps hold integer class indices")
    return label


# dtype -> name without dtype.name, which is slow enough to show up once per image.
_DTYPE_NAMES = {kind.dtype: name for name, kind in PIXEL_TYPES.items()}


def check_pixel_type(image: np.ndarray, source: io.PathLike) -> None:
    """Refuse pixel types outside `pixeltypes.PIXEL_TYPES`, naming the file."""
    if image.dtype not in _DTYPE_NAMES:
        names = ", ".join(PIXEL_TYPES)
        raise DataprepError(source, f"{image.dtype} pixels are not supported; images must be one of {names} "
                                    "(see docs/pixel-types.md)")


def match_channels(image: np.ndarray, channels: int, source: io.PathLike | None = None, *,
                   expected_by: str | None = None) -> np.ndarray:
    """(H, W, C) image with `channels` channels: grayscale expanded to RGB; any other mismatch is an error.

    `expected_by` says where `channels` comes from ("the model" for predict); by default the Dataset's first image."""
    have = image.shape[2]
    if have == channels:
        return image
    if (have, channels) == (1, 3):
        return np.ascontiguousarray(np.broadcast_to(image, (*image.shape[:2], 3)))
    if expected_by is not None:
        raise DataprepError(source, f"{have}-channel image, but {expected_by} takes {channels}-channel images")
    raise DataprepError(source, f"{have}-channel image, but the dataset's images have {channels} (as its first "
                                "image); one Dataset needs one kind (grayscale images may mix with RGB ones)")
