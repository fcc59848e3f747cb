"""What a file is: extensions, the format its first bytes announce, header sizes, cut-short files."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import IO

from ..errors import DataprepError, TruncatedError

PathLike = str | os.PathLike[str]

# .ppm / .pgm: Netpbm, as STARE (retinal vessels) ships its photos and vessel labels. JPEG 2000: Sentinel-2 bands,
# GeoNRW's RGB tiles; images only (lossy in general, as JPEG; scan says so of one where a mask would be).
JPEG2000_EXTENSIONS = frozenset({".jp2", ".j2k", ".jpx"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
                              *JPEG2000_EXTENSIONS})
MASK_EXTENSIONS = frozenset({".png", ".bmp", ".tif", ".tiff", ".gif", ".npy", ".jpg", ".jpeg", ".ppm", ".pgm"})
LOSSY_EXTENSIONS = frozenset({".jpg", ".jpeg", ".webp"})

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_IEND = b"IEND"
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # a JP2 (or JPX) file: boxes, the codestream in a jp2c box
J2K_START = b"\xff\x4f\xff\x51"  # a bare codestream (.j2k): SOC, then the SIZ marker
J2K_END = b"\xff\xd9"  # EOC, the codestream's last marker

# What a file's first bytes say it is, whatever its name says.
_MAGIC = (
    (JPEG_SOI + b"\xff", "JPEG"),
    (PNG_SIGNATURE, "PNG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"\x93NUMPY", "NPY"),
    (JP2_SIGNATURE, "JPEG2000"),
    (J2K_START, "JPEG2000"),
)
_EXTENSION_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
                     ".webp": "WEBP", ".gif": "GIF", ".npy": "NPY", ".ppm": "PPM", ".pgm": "PPM",
                     **dict.fromkeys(JPEG2000_EXTENSIONS, "JPEG2000")}


def has_extension(path: PathLike, extensions: frozenset[str]) -> bool:
    """Case-insensitive extension test (`IMG_001.JPG` is a JPEG too)."""
    return os.path.splitext(str(path))[1].lower() in extensions


def strip_suffix(text: str, suffix: str) -> str:
    """Remove `suffix` from the end of `text` if present (unlike str.rstrip, which strips characters)."""
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def sniff_format(head: bytes) -> str | None:
    """The format the first bytes of a file announce ("PNG", "JPEG", ...), or None when unknown."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:1] == b"P" and head[1:2] in (b"5", b"6") and head[2:3] in (b" ", b"\t", b"\n", b"\r"):
        return "PPM"  # binary Netpbm: PGM (P5) or PPM (P6)
    return None


def content_mismatch(path: PathLike) -> str | None:
    """"PNG data in a .jpg file" when the bytes are another known format than the extension says, else None."""
    path = Path(path)
    expected = _EXTENSION_FORMAT.get(path.suffix.lower())
    try:
        with open(path, "rb") as f:
            found = sniff_format(f.read(16))
    except OSError:
        return None  # the header reader reports unreadable files
    if expected is None or found is None or found == expected:
        return None
    return f"{found} data in a {path.suffix} file"

def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as stored, parsed from a PNG, JPEG or JPEG 2000 header; None for other formats."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((JP2_SIGNATURE, J2K_START)):
        header = jpeg2000_header(BytesIO(data), len(data))
        return header[:2] if header is not None else None
    if data.startswith(JPEG_SOI):
        pos = 2
        while pos + 9 <= len(data):
            if data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            if marker == 0xFF:
                pos += 1
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                return int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(data[pos + 5 : pos + 7], "big")
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                pos += 2
                continue
            if marker == 0xDA:
                return None
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def is_tiff_name(path: Path) -> bool:
    """Whether the name says TIFF (tifffile reads it first, whatever PIL or OpenCV would make of it)."""
    return path.suffix.lower() in (".tif", ".tiff")


def read_file_bytes(path: PathLike) -> bytes:
    """A whole file's bytes through the OS's own calls: a Python file object costs as much as the
    read itself on small label maps (kfold reads one per row)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        first = os.read(fd, info.st_size + 1)  # +1: a file that grew since is read on below
        if len(first) == info.st_size and stat.S_ISREG(info.st_mode):
            return first
        chunks = [first]
        while chunks[-1]:  # grown, over one read's limit (2 GB), or not a regular file: to the end
            chunks.append(os.read(fd, 1 << 20))
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_complete(path: PathLike) -> str | None:
    """Why the file looks cut short, or None. Reads only the last bytes of the file."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(54)
        fmt = sniff_format(head[:16])  # by content: a PNG named .jpg is checked as the PNG it is
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if fmt == "BMP":
            return _bmp_short(head, size)
        if fmt == "TIFF":
            return _tiff_short(path, size)
        if fmt == "JPEG2000":
            return jpeg2000_short(f, size)
        if fmt not in ("PNG", "JPEG"):
            return None
        f.seek(max(0, size - 64))
        tail = f.read()
    if fmt == "PNG":
        return None if PNG_IEND in tail else "truncated: PNG has no IEND chunk"
    # Writers may pad after the end-of-image marker; entropy-coded data never
    # contains FFD9, so finding it near the end means the scan data is complete.
    return None if JPEG_EOI in tail.rstrip(b"\x00\r\n ") else "truncated: JPEG ends without its end-of-image marker"


def _bmp_short(head: bytes, size: int) -> str | None:
    """A BMP's header gives its length: uncompressed rows of the stated size after the pixel offset (SUIM's
    masks; a cut one passed the header check and failed in masks2labels)."""
    if len(head) < 34:
        return "truncated: BMP header cut short"
    declared, offset = int.from_bytes(head[2:6], "little"), int.from_bytes(head[10:14], "little")
    width = int.from_bytes(head[18:22], "little", signed=True)
    height = int.from_bytes(head[22:26], "little", signed=True)
    bits, compression = int.from_bytes(head[28:30], "little"), int.from_bytes(head[30:34], "little")
    # Uncompressed (BI_RGB, BI_BITFIELDS): rows padded to 4 bytes; the header's file size is only trusted for the
    # others (RLE), as some writers state it a few bytes long.
    if compression in (0, 3) and width > 0 and bits:
        needed = offset + (width * bits + 31) // 32 * 4 * abs(height)
    else:
        needed = declared
    return f"truncated: BMP holds {size:,} of its {needed:,} bytes" if size < needed else None


def _tiff_short(path: Path, size: int) -> str | None:
    """A TIFF whose first directory (libtiff writes it after the pixels), strips or tiles lie past the end of the
    file."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] in (b"II*\x00", b"MM\x00*"):  # classic TIFF; BigTIFF's directory is checked by tifffile below
        first = int.from_bytes(head[4:8], "little" if head[:2] == b"II" else "big")
        if first + 2 > size:
            return f"truncated: TIFF holds {size:,} bytes, its first directory starts at {first:,}"
    from .info import tiff_data_end  # the header readers live there

    needed = tiff_data_end(path)
    return f"truncated: TIFF holds {size:,} of the {needed:,} bytes its directory points to" if size < needed else None


def jp2_boxes(f: IO[bytes], start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, where its contents start, where it ends) of each JP2 box from `start` to `end` (a length of 0 runs to
    `end`); a box's end may lie past `end` in a cut file. Stops at a length too short for its own header."""
    pos = start
    for _ in range(4096):  # real files hold a handful; a corrupt one is never walked for long
        if pos + 8 > end:
            return
        f.seek(pos)
        head = f.read(16)
        length, kind, body = int.from_bytes(head[:4], "big"), head[4:8], pos + 8
        if length == 1:  # a 64-bit length follows the type
            length, body = int.from_bytes(head[8:16], "big"), pos + 16
        elif length == 0:
            length = end - pos
        if len(head) < body - pos or length < body - pos:
            return
        yield kind, body, pos + length
        pos += length


def jpeg2000_header(f: IO[bytes], size: int) -> tuple[int, int, int] | None:
    """(width, height, bits of the deepest component) from a JP2's ihdr (and bpcc) box or a bare codestream's SIZ
    marker; None for other files and headers too broken to say (PIL then names what is wrong)."""
    f.seek(0)
    if f.read(len(J2K_START)) == J2K_START:
        return _siz_header(f)
    f.seek(0)
    if f.read(len(JP2_SIGNATURE)) != JP2_SIGNATURE:
        return None
    for kind, body, end in jp2_boxes(f, 0, size):
        if kind == b"jp2h":
            return _jp2h_header(f, body, min(end, size))
        if kind == b"jp2c":
            return None  # the header box comes first in a valid file
    return None


def _siz_header(f: IO[bytes]) -> tuple[int, int, int] | None:
    f.seek(8)
    siz = f.read(34)  # Xsiz, Ysiz, XOsiz, YOsiz, the tile grid (4 bytes each), Csiz (2)
    if len(siz) < 34:
        return None
    width = int.from_bytes(siz[0:4], "big") - int.from_bytes(siz[8:12], "big")
    height = int.from_bytes(siz[4:8], "big") - int.from_bytes(siz[12:16], "big")
    components = f.read(3 * int.from_bytes(siz[32:34], "big"))[::3]  # Ssiz of each: bits - 1, the sign bit high
    return (width, height, max(b & 0x7F for b in components) + 1) if components else None


def _jp2h_header(f: IO[bytes], start: int, end: int) -> tuple[int, int, int] | None:
    size, bits = None, None
    for kind, body, box_end in jp2_boxes(f, start, end):
        f.seek(body)
        if kind == b"ihdr":
            ihdr = f.read(11)  # height, width (4 bytes each), components (2), bits per component
            if len(ihdr) < 11:
                return None
            size = int.from_bytes(ihdr[4:8], "big"), int.from_bytes(ihdr[0:4], "big")
            bits = None if ihdr[10] == 0xFF else (ihdr[10] & 0x7F) + 1  # 255: they differ, the bpcc box says
        elif kind == b"bpcc" and size is not None and bits is None:
            depths = f.read(min(box_end, end) - body)
            bits = max(b & 0x7F for b in depths) + 1 if depths else None
    return (*size, bits) if size is not None and bits is not None else None


def jpeg2000_short(f: IO[bytes], size: int) -> str | None:
    """Why a JPEG 2000 file looks cut short, or None: each JP2 box up to the codestream's ends within the file, and
    the codestream with its EOC marker (OpenJPEG decodes a cut one quietly where its tiles allow)."""
    f.seek(0)
    if f.read(len(J2K_START)) == J2K_START:
        return _eoc_missing(f, size)
    for kind, _body, end in jp2_boxes(f, 0, size):
        if end > size:
            return (f"truncated: JPEG 2000 holds {size:,} of the {end:,} bytes its "
                    f"{kind.decode('latin-1').strip()} box runs to")
        if kind == b"jp2c":
            return _eoc_missing(f, end)
    return "truncated: JPEG 2000 file ends before its codestream (jp2c box)"


def _eoc_missing(f: IO[bytes], end: int) -> str | None:
    # Bit stuffing keeps FF followed by 0x90 or more out of coded data: an FFD9 near the end is the real EOC.
    f.seek(max(0, end - 64))
    tail = f.read(end - f.tell())
    if J2K_END in tail.rstrip(b"\x00\r\n "):
        return None
    return "truncated: JPEG 2000 codestream ends without its end-of-codestream marker"


def unreadable(path: PathLike, exc: BaseException) -> DataprepError:
    # The codec's words are all there is to tell a cut-short file from a corrupt one.
    short = short_reason(exc)
    return (TruncatedError if "truncated" in short else DataprepError)(path, f"unreadable: {short}")


def netpbm_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, maxval) of a PGM or PPM (binary or plain) from its first bytes; None for other files."""
    if data[:2] not in (b"P2", b"P3", b"P5", b"P6"):
        return None
    fields = b" ".join(line.split(b"#")[0] for line in data[2:512].split(b"\n")).split()
    if len(fields) < 3 or not all(f.isdigit() for f in fields[:3]):
        return None
    return int(fields[0]), int(fields[1]), int(fields[2])


# What PIL raises for a file it cannot read: UnidentifiedImageError is an OSError; NotImplementedError comes from
# formats it lacks a codec for (DDS's DXGI formats), which reached users as a traceback.
PIL_ERRORS = (OSError, SyntaxError, ValueError, NotImplementedError)


def short_reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
