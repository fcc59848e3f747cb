"""What a file is: extensions, the format its first bytes announce, header sizes, cut-short files."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import DataprepError, TruncatedError

PathLike = str | os.PathLike[str]

# .ppm / .pgm: Netpbm, as STARE (retinal vessels) ships its photos and vessel labels.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
MASK_EXTENSIONS = frozenset({".png", ".bmp", ".tif", ".tiff", ".gif", ".npy", ".jpg", ".jpeg", ".ppm", ".pgm"})
LOSSY_EXTENSIONS = frozenset({".jpg", ".jpeg", ".webp"})

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_IEND = b"IEND"

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
)
_EXTENSION_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
                     ".webp": "WEBP", ".gif": "GIF", ".npy": "NPY", ".ppm": "PPM", ".pgm": "PPM"}


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
    """(width, height) as stored, parsed from a PNG or JPEG header; None for other formats."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
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
