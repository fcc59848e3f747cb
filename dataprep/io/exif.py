"""EXIF orientation: reading it from the file bytes or a PIL image, and turning stored pixels upright."""
from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from .formats import JPEG_SOI, PIL_ERRORS, PNG_SIGNATURE
from .limits import max_image_pixels

if TYPE_CHECKING:
    from PIL import Image

_EXIF_ORIENTATION_TAG = 0x0112


def orientation_from_bytes(data: bytes) -> int:
    """EXIF orientation from the already-read file bytes (header only, no second read)."""
    # Most files carry no EXIF at all; finding that out costs PIL a full header
    # parse, about a tenth of a small JPEG's decode.
    if data.startswith(JPEG_SOI) and not _jpeg_has_exif(data):
        return 1
    if data.startswith(PNG_SIGNATURE) and b"eXIf" not in data:
        return 1
    from PIL import Image

    max_image_pixels()
    try:
        with Image.open(BytesIO(data)) as im:
            value = exif_orientation(im)
    except PIL_ERRORS:
        return 1
    return value if value in range(1, 9) else 1


def _jpeg_has_exif(data: bytes) -> bool:
    """Whether a JPEG has an APP1 Exif segment: walks the marker segments up to the image data."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: no more metadata segments
            return False
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            return True
        pos += 2 + length
    return True  # unusual layout: let PIL decide


def exif_orientation(im: Image.Image) -> int:
    if im.format == "PNG":
        # PIL's getexif() on a PNG decodes the whole image to look for an eXIf
        # chunk after the pixel data; one before it (the usual place) is in info,
        # one after it is found by walking the chunk headers.
        raw = im.info.get("exif") or (_png_exif_after_pixels(im.fp) if im.fp is not None else None)
        if not raw:
            return 1
        from PIL import Image

        exif = Image.Exif()
        exif.load(raw)
    else:
        exif = im.getexif()
    return int(exif.get(_EXIF_ORIENTATION_TAG, 1) or 1)


# An eXIf after the pixels sits between the last IDAT and IEND, at the file's end. 16 KiB holds a camera's EXIF
# with its thumbnail; 64 KiB cost read_info a third more on every PNG.
_PNG_TAIL = 1 << 14


def _png_exif_after_pixels(fp: BinaryIO) -> bytes | None:
    """The payload of a PNG's eXIf chunk placed after its pixel data, from the last 16 KiB of `fp`; None when
    there is none. `fp` is left where it was.

    A candidate counts when the chunks from it run, length by length, to IEND at the
    file's end. Walking every chunk header from the start doubled read_info's time on
    PNGs of many IDAT chunks.
    """
    where = fp.tell()
    try:
        size = fp.seek(0, 2)
        fp.seek(max(len(PNG_SIGNATURE), size - _PNG_TAIL))
        tail = fp.read()
    except OSError:
        return None
    finally:
        fp.seek(where)
    at = tail.rfind(b"eXIf")
    while at >= 4:
        length = int.from_bytes(tail[at - 4 : at], "big")
        if _chunks_end_at_iend(tail, at - 4):
            return tail[at + 4 : at + 4 + length]
        at = tail.rfind(b"eXIf", 0, at)
    return None


def _chunks_end_at_iend(data: bytes, pos: int) -> bool:
    """Whether the chunks starting at `pos` follow one another to an IEND that ends `data`."""
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == b"IEND":
            return length == 0 and pos + 12 == len(data)
        pos += 12 + length
    return False


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright as EXIF orientation 1..8 says (same as PIL's exif_transpose)."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return np.swapaxes(array, 0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return np.swapaxes(array, 0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def tiff_orientation_cleared(data: bytes) -> bytes:
    """A TIFF's bytes with its first directory's Orientation tag set to 1, for decoding through libtiff.

    OpenCV's and PIL's libtiff honour the tag in part (the flips, and for some
    codecs the quarter turns), so their pixels were neither stored nor upright:
    read_image turned an LZW photo tagged 3 back to as stored, and refused one
    tagged 6 for its swapped size. From a copy tagged 1 they return the stored
    pixels, which every reader then turns upright once. Other bytes: unchanged.
    """
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        entry_size, count_size, value_at, first = 12, 2, 8, int.from_bytes(data[4:8], _byteorder(data))
    elif data[:4] in (b"II+\x00", b"MM\x00+"):
        entry_size, count_size, value_at, first = 20, 8, 12, int.from_bytes(data[8:16], _byteorder(data))
    else:
        return data
    order = _byteorder(data)
    entries = int.from_bytes(data[first : first + count_size], order)
    for pos in range(first + count_size, min(len(data), first + count_size + entries * entry_size), entry_size):
        if int.from_bytes(data[pos : pos + 2], order) != _EXIF_ORIENTATION_TAG:
            continue
        width = {3: 2, 4: 4}.get(int.from_bytes(data[pos + 2 : pos + 4], order))  # SHORT or LONG
        if width is None or pos + value_at + width > len(data):
            return data
        patched = bytearray(data)
        patched[pos + value_at : pos + value_at + width] = (1).to_bytes(width, order)
        return bytes(patched)
    return data


def _byteorder(data: bytes) -> str:
    return "little" if data[:2] == b"II" else "big"
