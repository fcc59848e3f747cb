"""Decoding image files: TIFF through tifffile (exact bands and pixel types), the rest through OpenCV, PIL
for what OpenCV cannot read; and encoded images held in memory."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import DataprepError, TiffStackError, TruncatedError
from .exif import apply_orientation, orientation_from_bytes, tiff_orientation_cleared
from .frames import check_one_frame
from .formats import (JPEG_EOI, JPEG_SOI, PIL_ERRORS, PNG_END, PNG_SIGNATURE, PathLike, is_tiff_name, jpeg2000_short,
                      read_file_bytes, short_reason, sniff_format, unreadable)
from .limits import MAX_PIXELS_ENV, check_decoded_size, check_manifest_size, check_pixels, max_image_pixels


class Decoded:
    """A decoded image file as the codec returns it (stored orientation, maybe BGR), and what is known of it."""

    __slots__ = ("array", "bgr", "alpha", "geo", "_data", "_orientation")

    def __init__(self, array: np.ndarray, bgr: bool, alpha: bool, *, orientation: int | None = None,
                 data: bytes | None = None, geo: Any = None) -> None:
        self.array = array  # (H, W, C)
        self.bgr = bgr  # colour channels in BGR(A) order
        self.alpha = alpha  # the last channel is alpha
        self.geo = geo  # raster.GeoTags of a GeoTIFF, else None
        self._data = data
        self._orientation = orientation

    @property
    def orientation(self) -> int:
        """EXIF/TIFF orientation 1..8; parsed from the file bytes only when asked for (counting never asks)."""
        if self._orientation is None:
            self._orientation = orientation_from_bytes(self._data) if self._data is not None else 1
            self._data = None
        return self._orientation


def decode_file(path: PathLike, *, expect: tuple[int, int] | None = None) -> Decoded:
    """Decode an image file: TIFF through tifffile (exact bands and dtype), the rest through OpenCV.

    `expect` = (width, height) the manifest promises: a header saying otherwise is refused before decoding.
    """
    path = Path(path)
    if is_tiff_name(path):
        decoded = _decode_tiff(path, expect)
        if decoded is not None:
            return decoded
        data = _read_bytes(path)
    else:
        data = _read_bytes(path)
        if sniff_format(data[:16]) == "TIFF":  # a TIFF under another name is still no job for OpenCV
            decoded = _decode_tiff(path, expect)
            if decoded is not None:
                return decoded
    array, bgr = _decode_image(path, data, expect)
    # OpenCV gives 4 channels only with alpha (BGRA); PIL's fallback 2 for gray + alpha.
    return Decoded(array, bgr, array.shape[2] in (2, 4), data=data)


def image_array(decoded: Decoded, *, apply_exif: bool = True, keep_alpha: bool = False, rgb: bool = True,
                contiguous: bool = True) -> np.ndarray:
    """The (H, W, C) image of a `Decoded`: RGB order (unless `rgb=False`), alpha dropped (unless `keep_alpha`),
    EXIF orientation applied (unless `apply_exif=False`; as a view when `contiguous=False`)."""
    array = decoded.array
    if rgb and decoded.bgr:
        array = _bgr_to_rgb(array)
    if decoded.alpha and not keep_alpha:
        array = array[:, :, :-1]
    if apply_exif:
        array = apply_orientation(array, decoded.orientation)
    return np.ascontiguousarray(array) if contiguous else array


def read_image(path: PathLike, *, apply_exif: bool = True, keep_alpha: bool = False,
               expect: tuple[int, int] | None = None) -> np.ndarray:
    """Decode an image to (H, W, C) RGB order, EXIF orientation applied, bit depth and bands kept.

    `expect` = (width, height) the manifest promises: a header saying otherwise is refused before decoding.
    """
    return image_array(decode_file(path, expect=expect), apply_exif=apply_exif, keep_alpha=keep_alpha)


def read_pixels(path: PathLike, *, expect: tuple[int, int] | None = None) -> tuple[np.ndarray, bool]:
    """Decoded pixel values for callers that only count them (statistics): `(array, bgr)`.

    `array` is (H, W, C) with alpha dropped, as stored: no EXIF orientation, no
    colour swap, possibly a strided view; `bgr` says its colour channels are in
    BGR order. It saves `read_image`'s colour swap, about 5% of a JPEG's decode.
    """
    decoded = decode_file(path, expect=expect)
    return image_array(decoded, apply_exif=False, rgb=False, contiguous=False), decoded.bgr


def read_encoded_bytes(path: PathLike) -> np.ndarray:
    """A file's bytes as a uint8 array, for decoders outside Python (DALI); unreadable files named."""
    path = Path(path)
    try:
        return np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except OSError as exc:
        raise DataprepError(path, f"unreadable: {exc.strerror or exc}") from None


def identify_bytes(data: bytes, source: PathLike | None = None) -> str:
    """The format ("PNG", "JPEG", ...) of an encoded image held in memory; refused when it is none."""
    found = sniff_format(data[:16])
    if found is not None:
        return found
    from PIL import Image

    max_image_pixels()
    try:
        with Image.open(BytesIO(data)) as im:
            return im.format or "PNG"
    except PIL_ERRORS as exc:
        raise DataprepError(source, f"not an image: {short_reason(exc)}") from None


def decode_gray_bytes(data: bytes, source: PathLike | None = None) -> np.ndarray:
    """(H, W) uint8 luminance of an encoded image held in memory (e.g. a mask embedded in JSON)."""
    from PIL import Image

    max_image_pixels()
    try:
        with Image.open(BytesIO(data)) as im:
            check_pixels(source or "<bytes>", *im.size)
            return np.asarray(im.convert("L"))
    except Image.DecompressionBombError as exc:
        raise DataprepError(source, f"{exc}; raise the limit with {MAX_PIXELS_ENV}=N (or 'none')") from None
    except PIL_ERRORS as exc:
        raise DataprepError(source, f"not an image: {short_reason(exc)}") from None


def decode_binary_bytes(data: bytes, source: PathLike | None = None) -> np.ndarray:
    """(H, W) bool mask of an encoded image held in memory: its alpha band where it has one (a transparent
    palette entry counts), else its non-zero pixels or palette indices (Supervisely's bitmaps)."""
    from PIL import Image

    max_image_pixels()
    try:
        with Image.open(BytesIO(data)) as im:
            check_pixels(source or "<bytes>", *im.size)
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                return np.asarray(im.convert("RGBA"))[:, :, 3] > 0
            pixels = np.asarray(im)  # palette-mode: its indices
            return pixels.any(axis=2) if pixels.ndim == 3 else pixels > 0
    except Image.DecompressionBombError as exc:
        raise DataprepError(source, f"{exc}; raise the limit with {MAX_PIXELS_ENV}=N (or 'none')") from None
    except PIL_ERRORS as exc:
        raise DataprepError(source, f"not an image: {short_reason(exc)}") from None


def open_tiff(path: Path, expect: tuple[int, int] | None, *, mask: bool = False) -> Any | None:
    """A `raster.RasterReader` on a TIFF (`mask`: palette indices, not colours), sizes checked; None when
    tifffile cannot parse the file."""
    from ..raster import RasterReader

    try:
        reader = RasterReader(path, mask=mask)
    except DataprepError as exc:
        if exc.reason == "file not found" or isinstance(exc, TiffStackError):
            raise  # a stack: OpenCV and PIL would read its first page alone
        return None  # not a TIFF tifffile can parse: the other decoders say what is wrong
    try:
        check_pixels(path, reader.width, reader.height)
        check_manifest_size(path, (reader.width, reader.height), expect, mask=mask)
    except BaseException:
        reader.close()
        raise
    return reader


def _decode_tiff(path: Path, expect: tuple[int, int] | None) -> Decoded | None:
    """A TIFF through tifffile: exact bands and dtype, GeoTIFF tags kept. None: leave it to OpenCV/PIL."""
    reader = open_tiff(path, expect)
    if reader is None:
        return None
    with reader:
        if reader.photometric not in ("minisblack", "rgb"):
            return None  # palette, CMYK, YCbCr: OpenCV gives the colours a viewer shows
        # A codec tifffile lacks here (LZW, JPEG without imagecodecs): the reader falls back to OpenCV's libtiff.
        array = reader.read_all()
        return Decoded(array, False, reader.alpha, orientation=reader.orientation, geo=reader.geo)


def decode_tiff_with_opencv(path: PathLike) -> np.ndarray:
    """A TIFF's stored pixels through OpenCV's libtiff, (H, W, C) in RGB(A) order, no orientation applied.

    libtiff has the codecs real TIFFs use (LZW, JPEG, PackBits, Deflate) where
    tifffile needs the imagecodecs package for most of them.
    """
    data = tiff_orientation_cleared(read_file_bytes(path))
    with _quiet_opencv():
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise DataprepError(path, "OpenCV cannot decode this TIFF either")
    if array.ndim == 2:
        return array[:, :, None]
    return _bgr_to_rgb(array) if array.shape[2] in (3, 4) else array


def decode_tiff_with_pil(path: PathLike) -> np.ndarray:
    """A TIFF's stored pixels through PIL's libtiff, (H, W, C), no orientation applied."""
    data = read_file_bytes(path)
    cleared = tiff_orientation_cleared(data)
    array = _read_with_pil(Path(path), cleared if cleared is not data else None)
    return array[:, :, None] if array.ndim == 2 else array


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's libtiff prints a warning per GeoTIFF tag it does not know ("TIFF_Warning ... Unknown field")."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _decode_image(path: Path, data: bytes, expect: tuple[int, int] | None = None) -> tuple[np.ndarray, bool]:
    """(H, W, C) pixels as OpenCV (else PIL) returns them, and whether colour channels are BGR(A)."""
    if not data:  # OpenCV's assertion on an empty buffer escaped as a traceback (preview, report)
        raise DataprepError(path, "unreadable: the file is empty (0 bytes)")
    if data.startswith(JPEG_SOI) and JPEG_EOI not in data[-64:].rstrip(b"\x00\r\n "):
        raise TruncatedError(path, "truncated: JPEG ends without its end-of-image marker")
    found = sniff_format(data[:16])
    if found == "JPEG2000":
        short = jpeg2000_short(BytesIO(data), len(data))
        if short:  # else PIL's "broken data stream" said nothing of a cut file
            raise TruncatedError(path, short)
    tiff = found == "TIFF"
    original = data
    check_decoded_size(path, data, expect)  # again for a TIFF: tifffile may not have parsed it
    check_one_frame(path, data)
    # IMREAD_UNCHANGED keeps 16-bit depth and alpha; it also skips EXIF
    # orientation, which read_image applies for every format alike.
    if tiff:
        data = tiff_orientation_cleared(data)  # the stored pixels: Decoded turns them upright
        with _quiet_opencv():
            array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    elif data.startswith(PNG_SIGNATURE) and not data.endswith(PNG_END):
        # Truncated (PIL names it: OpenCV printed "[ WARN:0@0.2] ... PNG input buffer is incomplete" above the
        # one-line error), or bytes after its end, which OpenCV reads quietly (PIL would cut 16-bit colour).
        if PNG_END in data:
            with _quiet_opencv():
                array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        else:
            array = None
    elif _opencv_misreads_bmp(data):
        array = None
    else:
        # Quiet: a file OpenCV refuses printed its "[ERROR:0@0.05] ... Assertion failed" above PIL's one line.
        with _quiet_opencv():
            array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    bgr = array is not None and array.ndim == 3 and array.shape[2] in (3, 4)
    if array is None:
        array = _read_with_pil(path, data if data is not original else None)  # the file itself, unless changed
    if array.ndim == 2:
        array = array[:, :, None]
    return array, bgr


@cache
def jpeg2000_decodable() -> bool:
    """Whether OpenCV or PIL was built with OpenJPEG (PIL reads JPEG 2000 headers either way, in Python)."""
    if cv2.haveImageWriter(".jp2"):  # OpenCV builds its JPEG 2000 reader and writer together
        return True
    from PIL import features

    return bool(features.check_codec("jpg_2000"))


def _opencv_misreads_bmp(data: bytes) -> bool:
    """BMPs OpenCV decodes to wrong pixels without an error (bmpsuite): 32-bit BI_BITFIELDS with the masks after
    a 40- or 52-byte header (their bytes taken as BGRA: red lost, a junk alpha added), and OS/2 1.x palette
    images (3-byte colours read as 4). PIL reads them, or refuses a bitfield layout it does not know."""
    if data[:2] != b"BM" or len(data) < 34:
        return False
    header = int.from_bytes(data[14:18], "little")
    if header == 12:
        return True
    bits, compression = int.from_bytes(data[28:30], "little"), int.from_bytes(data[30:34], "little")
    return header < 56 and bits == 32 and compression == 3


def _read_with_pil(path: Path, data: bytes | None = None) -> np.ndarray:
    """`path` decoded by PIL, from `data` when given (its bytes, maybe changed)."""
    from PIL import Image

    max_image_pixels()
    try:
        with Image.open(path if data is None else BytesIO(data)) as im:
            im.load()
            if im.mode == "1":
                im = im.convert("L")  # 0/255, as OpenCV reads 1-bit files (a PNG OpenCV refused came back as bools)
            elif im.mode in ("P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV"):  # LA: RGBA, as OpenCV gives it
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            arr = np.asarray(im)
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except PIL_ERRORS as exc:
        raise unreadable(path, exc) from None
    if arr.dtype == np.int32:
        arr = arr.astype(np.uint16)
    return arr


def _bgr_to_rgb(array: np.ndarray) -> np.ndarray:
    # cvtColor is ~20x faster than a reversed-stride numpy copy.
    if array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)


def _read_bytes(path: Path) -> bytes:
    try:
        return read_file_bytes(path)
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except OSError as exc:
        raise DataprepError(path, f"unreadable: {exc.strerror or exc}") from None
