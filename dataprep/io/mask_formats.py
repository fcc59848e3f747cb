"""Mask files PIL misreads, read as stored: Netpbm masks of any maxval, BMPs with a grey colour table."""
from __future__ import annotations

import cv2
import numpy as np

from .formats import PathLike, netpbm_header, read_file_bytes
from .limits import check_manifest_size, check_pixels_within


def read_netpbm_with_opencv(path: PathLike, expect: tuple[int, int] | None, limit: int | None) -> np.ndarray | None:
    """A PGM's stored samples, (H, W) uint8 or uint16, or a 16-bit PPM's (H, W, 3) RGB samples; None for other
    files (PIL reads them).

    PIL stretches a maxval other than 255 or 65535 to the full range: labels 0/1
    of a maxval-1 PGM came back as 0/255 (the ignore index), maxval 3 as 0/85/170/255;
    and it cuts 16-bit PPM colours to 8 bits. OpenCV keeps the samples, as
    read_image returns them.
    """
    head = _head(path, 512)
    header = netpbm_header(head)
    if header is None or (head[:2] in (b"P3", b"P6") and header[2] <= 255):
        return None  # 8-bit PPM colour masks and broken headers: PIL reads them or names what is wrong
    width, height, _maxval = header
    check_pixels_within(path, width, height, limit)
    check_manifest_size(path, (width, height), expect, mask=True)
    array = cv2.imdecode(np.frombuffer(read_file_bytes(path), np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.shape[:2] != (height, width):
        return None
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB) if array.ndim == 3 else array


def bmp_without_grey_shortcut(path: PathLike) -> bytes | None:
    """A palette BMP's bytes with its colour table changed where PIL would misread the pixels; None when PIL
    reads the file as it is (its header says so: the whole file is read only to be changed).

    PIL drops a grey colour table (black/white for 2 colours, i -> (i, i, i) for more)
    and unpacks the pixels as 1-bit or 8-bit whatever their depth: an 8-bit BMP mask
    with a black/white table came back all zeros, a 4-bit grey one unreadable. One
    changed blue level keeps the table, and PIL returns the stored indices.
    """
    head = _head(path, 54)
    if head[:2] != b"BM" or len(head) < 54:
        return None
    header = int.from_bytes(head[14:18], "little")
    bits = int.from_bytes(head[28:30], "little")
    if header < 40 or bits not in (2, 4, 8):
        return None  # OS/2 headers and direct colour: nothing dropped
    colors = int.from_bytes(head[46:50], "little") or 1 << bits
    if bits == 8 and colors > 2:
        return None  # 8-bit pixels with an 8-bit grey table: PIL's "L" reads the indices
    patched = bytearray(read_file_bytes(path))
    if 14 + header >= len(patched):
        return None
    patched[14 + header] ^= 1  # blue of colour 0
    return bytes(patched)


def _head(path: PathLike, size: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)
