"""Reading and writing images and masks: the only package that touches codecs.

Conventions every other module relies on:
- images come back as (H, W, C) arrays in RGB(A) channel order, EXIF orientation
  applied, bit depth kept (uint8 or uint16), grayscale as C == 1;
- masks come back exactly as stored: palette PNGs as their indices (never their
  colours), single-channel PNGs as indices (8 or 16 bit), colour masks as
  (H, W, 3) RGB or (H, W, 4) RGBA;
- every write is atomic (temporary file in the target folder, then rename) and
  creates missing folders, so an interrupted run never leaves a half-written file.

Import from here (`from dataprep.io import read_image`); the modules behind it have one job each:
`formats` (extensions, sniffing, cut-short files), `limits` (the decompression-bomb guard),
`info` (headers), `exif`, `decode` (images), `masks`, `encode` (writers), `atomic` (atomic writes, stale
temporary files). TIFF pixels go through `dataprep.raster`.
"""
from __future__ import annotations

from typing import Any

from ..errors import DataprepError
from .atomic import atomic_open, atomic_write_bytes, atomic_write_text, create_exclusive, remove_stale_temps, staged
from .decode import (
    Decoded,
    decode_binary_bytes,
    decode_file,
    decode_gray_bytes,
    identify_bytes,
    image_array,
    jpeg2000_decodable,
    read_encoded_bytes,
    read_image,
    read_pixels,
)
from .encode import encode_image, write_image, write_mask
from .exif import apply_orientation
from .formats import (
    IMAGE_EXTENSIONS,
    JPEG2000_EXTENSIONS,
    LOSSY_EXTENSIONS,
    MASK_EXTENSIONS,
    PathLike,
    check_complete,
    content_mismatch,
    has_extension,
    sniff_format,
    strip_suffix,
)
from .info import ImageInfo, read_info
from .limits import (DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, border_note, check_manifest_size, check_pixels, is_scaled_copy,
                     mask_size_error, max_image_pixels)
from .masks import read_mask, read_mask_palette, read_png_palette

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "JPEG2000_EXTENSIONS", "LOSSY_EXTENSIONS", "MASK_EXTENSIONS",
    "MAX_PIXELS_ENV", "DataprepError", "border_note",
    "Decoded", "ImageInfo", "PathLike", "apply_orientation", "atomic_open", "atomic_write_bytes", "atomic_write_text",
    "create_exclusive",
    "check_complete", "check_manifest_size", "check_pixels", "content_mismatch", "decode_binary_bytes", "decode_file",
    "decode_gray_bytes",
    "encode_image", "has_extension", "identify_bytes", "image_array", "jpeg2000_decodable", "load_sample",
    "mask_size_error", "max_image_pixels",
    "read_encoded_bytes", "read_image", "read_info", "read_mask", "read_mask_palette", "read_pixels",
    "read_png_palette", "remove_stale_temps", "is_scaled_copy", "sniff_format", "staged", "strip_suffix", "write_image",
    "write_mask",
]


def load_sample(row: Any, **options: Any) -> Any:
    """A manifest row as a checked `Sample`: the one row loader (`dataprep.sampleio.load_sample`, same options).

    Its policies (sizes, channels, dtypes, masks, one set of messages) live in
    sampleio, built on the readers above.
    """
    from ..sampleio import load_sample as load  # sampleio imports this package

    return load(row, **options)
