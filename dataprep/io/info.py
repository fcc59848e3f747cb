"""What a file's header says (size, orientation, bands, pixel type) without decoding its pixels."""
from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataprepError, TiffStackError
from .exif import exif_orientation
from .frames import check_pil_frames
from .formats import PIL_ERRORS, PathLike, is_tiff_name, jpeg2000_header, netpbm_header, unreadable
from .limits import bomb_error, check_pixels, max_image_pixels


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, without decoding pixels."""

    width: int  # as displayed, EXIF orientation applied
    height: int
    stored_width: int
    stored_height: int
    orientation: int  # EXIF orientation 1..8 (1 = as stored)
    mode: str  # PIL mode, e.g. "RGB", "L", "P", "I;16" (TIFF: "4xuint16" where PIL has none)
    format: str
    bands: int = 0  # channels an image read gives, alpha included (palette and CMYK as colours); 0: unknown
    dtype: str = ""  # sample dtype an image read gives: "uint8", "uint16", "int16", "float32", ...
    alpha: bool = False  # the last band is alpha (dropped by read_image unless keep_alpha)
    geo: Any = field(default=None, compare=False, repr=False)  # a GeoTIFF's raster.GeoTags, else None
    validity_mask: str = ""  # a GeoTIFF's GDAL mask no reader applies: "internal", "sidecar" (x.tif.msk) or ""


def read_info(path: PathLike) -> ImageInfo:
    """Size, orientation, mode, bands and dtype from the header only (no pixel decoding)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataprepError(path, f"unreadable: {exc}") from None
        if arr.ndim not in (2, 3):
            raise DataprepError(path, f"unreadable: expected a 2-D or 3-D array, got shape {arr.shape}")
        h, w = int(arr.shape[0]), int(arr.shape[1])
        bands = int(arr.shape[2]) if arr.ndim == 3 else 1
        return ImageInfo(w, h, w, h, 1, str(arr.dtype), "NPY", bands, str(arr.dtype))
    if is_tiff_name(path):
        # PIL knows neither multi-band nor most float TIFFs ("cannot identify image file").
        info = _tiff_info(path)
        if info is not None:
            return info
    from PIL import Image

    max_image_pixels()  # PIL's own limit follows dataprep's
    try:
        with Image.open(path) as im:
            w, h = im.size
            check_pixels(path, w, h)  # before EXIF: PIL's EXIF reading of a PNG decodes it
            check_pil_frames(path, im)
            orientation = exif_orientation(im)
            mode, fmt = im.mode, im.format or ""
            transparent = "transparency" in im.info
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except Image.DecompressionBombError as exc:
        raise bomb_error(path, exc) from None
    except PIL_ERRORS as exc:
        raise unreadable(path, exc) from None
    if fmt == "TIFF":  # TIFF data under another name
        info = _tiff_info(path)
        if info is not None:
            return info
    if orientation not in range(1, 9):
        orientation = 1
    dw, dh = (h, w) if orientation >= 5 else (w, h)
    bands, dtype, alpha = _pil_kind(path, mode, fmt, transparent)
    return ImageInfo(dw, dh, w, h, orientation, mode, fmt, bands, dtype, alpha)


# PIL mode -> (bands, dtype) of what the image readers return for it (palette and CMYK as colours).
_PIL_KINDS = {
    "1": (1, "uint8"), "L": (1, "uint8"), "P": (3, "uint8"), "RGB": (3, "uint8"), "CMYK": (3, "uint8"),
    "YCbCr": (3, "uint8"), "LAB": (3, "uint8"), "HSV": (3, "uint8"), "LA": (4, "uint8"), "PA": (4, "uint8"),
    "RGBA": (4, "uint8"), "I;16": (1, "uint16"), "I;16B": (1, "uint16"), "I;16L": (1, "uint16"),
    "I": (1, "uint16"), "F": (1, "float32"),
}


def _pil_kind(path: Path, mode: str, fmt: str, transparent: bool) -> tuple[int, str, bool]:
    bands, dtype = _PIL_KINDS.get(mode, (0, ""))
    if mode == "P" and transparent:
        bands = 4  # the decoder gives RGBA for a palette with a transparent entry
    rgb_key = fmt == "PNG" and mode == "RGB" and transparent
    if rgb_key:
        bands = 4  # OpenCV gives an RGB PNG with a transparent colour (tRNS) an alpha band
    if fmt == "PNG" and mode in ("RGB", "RGBA", "LA"):
        # PIL shows 16-bit colour PNGs as 8-bit modes; the header's bit depth says what a read gives.
        with suppress(OSError):
            with open(path, "rb") as f:
                head = f.read(26)
            if len(head) == 26 and head[24] == 16:
                dtype = "uint16"
    if fmt == "PPM" and mode == "RGB":
        # PIL shows a 16-bit PPM (maxval over 255) as 8-bit RGB; read_image gives its 16-bit samples.
        with suppress(OSError):
            with open(path, "rb") as f:
                header = netpbm_header(f.read(512))
            if header is not None and header[2] > 255:
                dtype = "uint16"
    if fmt == "JPEG2000" and mode in ("RGB", "RGBA"):
        # PIL shows 9- to 16-bit colour as 8-bit modes; OpenCV, which decodes it, gives uint16.
        with suppress(OSError):
            with open(path, "rb") as f:
                header = jpeg2000_header(f, os.fstat(f.fileno()).st_size)
            if header is not None and header[2] > 8:
                dtype = "uint16"
    return bands, dtype, mode in ("LA", "PA", "RGBA") or (mode == "P" and transparent) or rgb_key


def _tiff_info(path: Path) -> ImageInfo | None:
    """A TIFF's header through tifffile; None when tifffile cannot parse it (PIL then says what is wrong)."""
    from ..raster import RasterReader

    try:
        reader = RasterReader(path)
    except DataprepError as exc:
        if exc.reason == "file not found" or isinstance(exc, TiffStackError):
            raise
        return None
    with reader:
        w, h, orientation = reader.width, reader.height, reader.orientation
        bands, dtype, photometric = reader.bands, reader.dtype.name, reader.photometric
        alpha, geo, validity_mask = reader.alpha, reader.geo, reader.validity_mask
        missing = reader.missing_codec()
    if missing:  # torchgeo's L8 Biome: scan passed these 11-band LZW scenes, and stats then failed on each
        raise DataprepError(path, f"{missing}-compressed {bands}-band {dtype} TIFF: decoding it needs the "
                                  "imagecodecs package (pip install imagecodecs)")
    check_pixels(path, w, h)
    if photometric not in ("minisblack", "rgb"):
        # Decoded to the colours a viewer shows (palette, CMYK, YCbCr): 8-bit RGB.
        bands, dtype, alpha = 3, "uint8", False
    dw, dh = (h, w) if orientation >= 5 else (w, h)
    return ImageInfo(dw, dh, w, h, orientation, _tiff_mode(bands, dtype, photometric, alpha), "TIFF", bands, dtype,
                     alpha, geo, validity_mask)


_TIFF_GRAY_MODES = {"uint8": "L", "uint16": "I;16", "int16": "I;16S", "int32": "I", "float32": "F"}


def _tiff_mode(bands: int, dtype: str, photometric: str | None, alpha: bool) -> str:
    """A PIL-style mode name where PIL has one, else e.g. "9xuint16"."""
    if photometric == "palette":
        return "P"
    if bands == 1 and dtype in _TIFF_GRAY_MODES:
        return _TIFF_GRAY_MODES[dtype]
    if dtype == "uint8" and bands in (3, 4) and (bands == 3 or alpha):
        return "RGB" if bands == 3 else "RGBA"
    return f"{bands}x{dtype}"


def tiff_data_end(path: PathLike) -> int:
    """Where the last strip or tile of a TIFF ends, from its directories (0 when tifffile cannot read them: the
    decoder reports that file)."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return max((o + n for page in tiff_pages(tif) for o, n in zip(page.dataoffsets, page.databytecounts)
                        if n), default=0)
    except Exception:
        return 0


def tiff_pages(tif: Any) -> list[Any]:
    """The pages of a tifffile.TiffFile, by index: iterating them never ends in a file whose last directory
    points back at the first (Pillow's multipage_single_frame_loop.tiff), where their count stops at the loop."""
    return [tif.pages[i] for i in range(len(tif.pages))]
