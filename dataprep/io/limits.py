"""The decompression-bomb guard: the largest image decoded, checked from file headers before any decode."""
from __future__ import annotations

import os
import sys
import warnings
from io import BytesIO
from pathlib import Path

from ..errors import DataprepError, UsageError
from .formats import JPEG_SOI, PIL_ERRORS, PNG_SIGNATURE, PathLike, header_size

# Decompression bombs: a few hundred KB of PNG can claim 20000x20000 pixels and
# take gigabytes to decode. Sizes are checked from the header before any decode.
# The default is PIL's (about 9459x9459, a 256 MB RGB image).
MAX_PIXELS_ENV = "DATAPREP_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# The limit above is dataprep's own; PIL's warning would only repeat it. Matched by
# its words, not its class, so that importing this module does not import PIL.
warnings.filterwarnings("ignore", message=r"Image size \(\d+ pixels\) exceeds limit", module=r"PIL\.Image")


def max_image_pixels() -> int | None:
    """The largest width x height decoded, from DATAPREP_MAX_IMAGE_PIXELS (default PIL's; 'none' = no limit)."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_PIXELS
    text = raw.strip().lower()
    if text in ("none", "0", "off"):
        limit = None
    else:
        try:
            limit = int(float(text))
        except ValueError:
            raise UsageError(None, f"{MAX_PIXELS_ENV}={raw!r}: expected a pixel count or 'none'") from None
        if limit < 1:
            raise UsageError(None, f"{MAX_PIXELS_ENV}={raw!r}: expected a positive pixel count or 'none'")
    # Raising the limit must reach PIL too, which refuses twice its own limit. PIL is
    # imported only by the readers that need it, each of which calls this after importing.
    image = sys.modules.get("PIL.Image")
    pil = getattr(image, "MAX_IMAGE_PIXELS", None)
    if pil is not None and (limit is None or limit > pil):
        image.MAX_IMAGE_PIXELS = limit
    return limit


def check_pixels(path: PathLike, width: int, height: int) -> None:
    """Refuse a size over `max_image_pixels()` before anything decodes it."""
    check_pixels_within(path, width, height, max_image_pixels())


def check_pixels_within(path: PathLike, width: int, height: int, limit: int | None) -> None:
    """`check_pixels` against a `max_image_pixels()` the caller already has (a reader calls it once per file)."""
    if limit is not None and width * height > limit:
        raise DataprepError(
            path,
            f"{width}x{height} pixels ({width * height:,}) is over the limit of {limit:,}, which guards against "
            f"decompression bombs; if the file is genuine, raise it with {MAX_PIXELS_ENV}=N (or 'none')",
        )


def bomb_error(path: Path, exc: Exception) -> DataprepError:
    """PIL refused a file at twice its limit, before dataprep could look: say it dataprep's way."""
    try:
        with open(path, "rb") as f:
            size = header_size(f.read(1 << 16))
        if size is not None:
            check_pixels(path, *size)
    except DataprepError as err:
        return err
    except OSError:
        pass
    return DataprepError(path, f"{exc}; raise the limit with {MAX_PIXELS_ENV}=N (or 'none')")


def check_manifest_size(path: PathLike, size: tuple[int, int] | None, expect: tuple[int, int] | None, *,
                        mask: bool = False) -> None:
    """Refuse a file whose header `size` (width, height) is not the `expect`ed manifest size (either way round).

    `mask`: the file is a mask, whose scaled copy is named with the command that resizes it; an image of another
    size means the manifest's size is stale (the masks are not at fault)."""
    # A manifest's sizes come from scan: a file swapped since (or a bomb put in its
    # place) is refused from its header instead of being decoded. Either way round: EXIF.
    if expect is not None and size is not None and size not in (expect, expect[::-1]):
        fix = "rescan it"
        if mask and is_scaled_copy(expect, size):  # `scan --keep-scaled-masks` rows, or one saved at another resolution
            fix = (f"the same shape at {size[0] / expect[0]:.2f}x, saved at another resolution "
                   "(`dataprep resize --to image` brings masks to their images' size)")
        raise DataprepError(path, f"is {size[0]}x{size[1]} but the manifest says {expect[0]}x{expect[1]}; {fix}")


def mask_size_error(path: PathLike, mask: tuple[int, int], image: tuple[int, int],
                    image_name: str | None = None) -> DataprepError:
    """The one error for a mask of (width, height) `mask` whose image is `image`; a scaled one is named as such."""
    reason = f"mask is {mask[0]}x{mask[1]} but its image {image_name + ' ' if image_name else ''}is {image[0]}x{image[1]}"
    if is_scaled_copy(image, mask):
        reason += (f" (the same shape at {mask[0] / image[0]:.2f}x: `dataprep resize --to image` resizes it "
                   "by nearest neighbour)")
    return DataprepError(path, reason + border_note(image, mask))


# Sides this close are a border added or cut (GlaS's annotations of 777x524 for 775x522 photos), not a rescale:
# resizing such a mask to its image shifted a crack's labels by a pixel (12% of them), exit 0.
_BORDER_PIXELS = 4


def is_scaled_copy(image: tuple[int, int], mask: tuple[int, int]) -> bool:
    """Whether (width, height) `mask` is `image` scaled: both sides differ, in one ratio (within a pixel).

    One side off by a pixel or two with the other equal, or both within a few
    pixels (`is_border_difference`), is a crop or pad, not a scaled copy."""
    (iw, ih), (mw, mh) = image, mask
    if iw == mw or ih == mh or is_border_difference(image, mask):
        return False
    return abs(ih * mw / iw - mh) <= 1 or abs(iw * mh / ih - mw) <= 1


def is_border_difference(image: tuple[int, int], mask: tuple[int, int]) -> bool:
    """Whether (width, height) `mask` differs from `image` by a border of a few pixels at most, on both sides."""
    (iw, ih), (mw, mh) = image, mask
    return (iw, ih) != (mw, mh) and abs(iw - mw) <= _BORDER_PIXELS and abs(ih - mh) <= _BORDER_PIXELS


def border_note(image: tuple[int, int], mask: tuple[int, int]) -> str:
    """' (...)' naming a few-pixel border difference as a pad or crop that no resize undoes; '' otherwise."""
    if not is_border_difference(image, mask):
        return ""
    return (f" ({mask[0] - image[0]:+d} px wide, {mask[1] - image[1]:+d} px high: padded or cropped, not scaled; "
            "a resize would shift its labels: undo the pad or crop)")


def check_decoded_size(path: Path, data: bytes, expect: tuple[int, int] | None = None) -> None:
    """Refuse encoded bytes whose header says too many pixels, or other than the manifest's `expect`ed size."""
    size = header_size(data)
    if size is None and not data.startswith((PNG_SIGNATURE, JPEG_SOI)):
        from PIL import Image

        max_image_pixels()
        try:
            with Image.open(BytesIO(data)) as im:
                size = im.size
        except Image.DecompressionBombError as exc:
            raise DataprepError(path, f"{exc}; raise the limit with {MAX_PIXELS_ENV}=N (or 'none')") from None
        except PIL_ERRORS:
            return  # the decoder says what is wrong
    if size is not None:
        check_pixels(path, *size)
    check_manifest_size(path, size, expect)
