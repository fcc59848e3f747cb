"""Animated GIFs, PNGs (APNG) and WebPs: refused, since OpenCV, PIL and DALI all read their first frame alone."""
from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING

from ..errors import StackError
from .formats import PIL_ERRORS, PNG_SIGNATURE, PathLike
from .limits import max_image_pixels

if TYPE_CHECKING:
    from PIL import Image

GIF_SIGNATURES = (b"GIF87a", b"GIF89a")


def png_frames(data: bytes) -> int:
    """The frame count an APNG's acTL chunk declares (it must come before the first IDAT); 1 for a plain PNG."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"acTL":
            return max(1, int.from_bytes(data[pos + 8:pos + 12], "big"))
        if kind in (b"IDAT", b"IEND"):
            return 1
        pos += 12 + length
    return 1


def animated_webp(data: bytes) -> bool:
    """Whether a WebP's extended header (VP8X) sets the animation flag."""
    return data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8X" and len(data) > 20 and bool(data[20] & 0x02)


def frame_count(data: bytes) -> int:
    """Frames in an encoded GIF, PNG or WebP held in memory; 1 for other formats and for files too broken to say."""
    if data.startswith(PNG_SIGNATURE):
        return png_frames(data)
    if not (data.startswith(GIF_SIGNATURES) or animated_webp(data)):
        return 1
    from PIL import Image

    max_image_pixels()  # PIL's own limit follows dataprep's
    try:
        with Image.open(BytesIO(data)) as im:
            return int(getattr(im, "n_frames", 1))
    except (*PIL_ERRORS, Image.DecompressionBombError):
        return 1  # the decoder that reads it next names the problem


def check_one_frame(path: PathLike, data: bytes) -> None:
    """Refuse an animated GIF/PNG/WebP held in memory instead of reading its first frame."""
    refuse_frames(path, frame_count(data))


def check_pil_frames(path: PathLike, im: Image.Image) -> None:
    """Refuse an animated GIF/PNG/WebP that PIL has opened (its n_frames)."""
    if im.format in ("GIF", "PNG", "WEBP"):
        refuse_frames(path, int(getattr(im, "n_frames", 1)))


def refuse_frames(path: PathLike, frames: int) -> None:
    if frames > 1:
        raise StackError(path, f"an animation of {frames} frames, not one image; save each frame as its own file")
