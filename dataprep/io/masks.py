"""Reading masks exactly as stored: palette indices (never their colours), 8/16-bit label maps, colour masks."""
from __future__ import annotations

import math
import os
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import DataprepError
from .decode import open_tiff
from .exif import tiff_orientation_cleared
from .formats import PIL_ERRORS, PNG_END, PNG_SIGNATURE, PathLike, read_file_bytes, unreadable
from .frames import check_one_frame, check_pil_frames
from .limits import bomb_error, check_manifest_size, check_pixels, check_pixels_within, max_image_pixels
from .mask_formats import bmp_without_grey_shortcut, read_netpbm_with_opencv

if TYPE_CHECKING:
    from PIL import Image


def read_mask(path: PathLike, *, expect: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask as stored: indices (H, W) for palette/grayscale/16-bit, colours (H, W, 3|4) for RGB(A).

    `expect` = (width, height) the manifest promises: a header saying otherwise is refused before decoding.
    """
    # The name as a string: callers pass manifest strings, and a Path per mask was a tenth of kfold's time.
    name = os.fspath(path)
    ext = os.path.splitext(name)[1].lower()
    if ext == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataprepError(path, f"unreadable: {exc}") from None
        if arr.ndim not in (2, 3):
            raise DataprepError(path, f"mask must be 2-D (or 3-D colour), got shape {arr.shape}")
        return labels_from_floats(path, arr) if arr.dtype.kind == "f" else arr
    if ext in (".tif", ".tiff"):
        mask = _tiff_mask(Path(name), expect)
        if mask is not None:
            return mask
    limit = max_image_pixels()  # refuses a malformed limit before any file is opened
    try:
        if ext == ".png":
            fast = _read_png_with_opencv(name, expect, limit)
        elif ext in (".pgm", ".ppm"):
            fast = read_netpbm_with_opencv(name, expect, limit)
            if fast is not None and fast.ndim == 3:
                fast = colours_to_8bit(name, fast)  # 16-bit PPM colours: exact 8-bit colours, or refused
        else:
            fast = None
        if fast is not None:
            return fast
        # PIL reads the file itself (its messages name it) unless its bytes had to change.
        return _read_mask_with_pil(Path(name), expect, bmp_without_grey_shortcut(name) if ext == ".bmp" else None)
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except DataprepError:
        raise
    except MemoryError:
        raise DataprepError(path, "out of memory while decoding") from None
    except PIL_ERRORS as exc:
        raise unreadable(path, exc) from None


def _read_mask_with_pil(path: Path, expect: tuple[int, int] | None, data: bytes | None = None) -> np.ndarray:
    """`path` (from `data`, its bytes, when given) read by PIL."""
    # Imported here: label maps and colour masks, the common masks, are read by OpenCV above.
    from PIL import Image

    max_image_pixels()  # PIL's own limit follows dataprep's
    try:
        with Image.open(path if data is None else BytesIO(data)) as im:
            if im.format == "TIFF" and path.suffix.lower() not in (".tif", ".tiff"):
                # A TIFF under another name (MetaMorph's .stk): PIL would read its first plane alone.
                mask = _tiff_mask(path, expect)
                if mask is not None:
                    return mask
            check_pixels(path, *im.size)
            check_manifest_size(path, im.size, expect, mask=True)
            check_pil_frames(path, im)
            if im.format == "TIFF" and im.tag_v2.get(274, 1) != 1:
                # libtiff would turn it in part; masks are read as stored
                with Image.open(BytesIO(tiff_orientation_cleared(read_file_bytes(path)))) as stored:
                    stored.load()
                    return _mask_array(path, stored)
            scale = _LOW_BIT_GREY_SCALES.get(_raw_mode(im))
            im.load()
            mask = _mask_array(path, im)
            return mask // np.uint8(scale) if scale else mask
    except Image.DecompressionBombError as exc:
        raise bomb_error(path, exc) from None


# PNG colour type -> (bit depths OpenCV reads exactly, channels OpenCV returns, swap to RGB(A)). PIL cuts
# 16-bit colour to 8 bits without a word (merging colours), so OpenCV reads those too.
# Grey + alpha (4) too: PIL opens 16-bit ones as 8-bit RGBA, and label 300 became 1. Their grey band is the mask.
_OPENCV_PNG_KINDS = {0: ((8, 16), 1, None), 2: ((8, 16), 3, cv2.COLOR_BGR2RGB), 4: ((8, 16), 4, None),
                     6: ((8, 16), 4, cv2.COLOR_BGRA2RGBA)}
# PIL scales 2- and 4-bit grey samples to 0..255 for display: class 3 of a 2-bit label map came back as 255, the
# ignore index. Masks keep the stored samples, as 1-bit masks keep 0/1.
_LOW_BIT_GREY_SCALES = {"L;2": 85, "L;4": 17}


def _raw_mode(im: Image.Image) -> str | None:
    """How the file stores its pixels before PIL converts them ("L;2": 2-bit grey), while it is not yet loaded."""
    if not im.tile:
        return None
    args = im.tile[0][3]
    return args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else None


def colours_to_8bit(path: PathLike, colours: np.ndarray) -> np.ndarray:
    """16-bit colour mask pixels as the 8-bit colours they encode, exactly, or refused.

    Tools save 8-bit colours in 16-bit files as v * 257 (full scale) or v << 8;
    any other value is a colour 8 bits cannot hold, and rounding it would merge
    it with its neighbours.
    """
    for scale in (257, 256):
        if not np.any(colours % scale):
            return (colours // scale).astype(np.uint8)
    fix = "save the mask with 8 bits per channel or as class indices"
    odd = colours[((colours % 257 != 0) & (colours % 256 != 0)).any(axis=-1)]
    if not len(odd):
        raise DataprepError(path, f"16-bit colour mask mixing two scalings of 8-bit colours (v*257 and v*256); {fix}")
    raise DataprepError(path, f"16-bit colour mask with colour {tuple(int(v) for v in odd[0])}, which no 8-bit "
                              f"colour scales to (v*257 or v*256); {fix}")


# Class indices a float mask may hold: 0..65535 as uint8/uint16 label maps hold, negatives (an ignore index such as
# -1, which stats take with --ignore-index -1 as in integer .npy label maps) only where int16 holds every value.
_SIGNED_LABELS = (-32768, 32767)


def labels_from_floats(path: PathLike, values: np.ndarray) -> np.ndarray:
    """A float mask (float16/32/64, any shape) as the integer class indices it holds, exactly: uint8 when they
    fit, else uint16; int16 when one is negative. NaN, inf, fractions or values no label map holds: refused.

    NIfTI conversions and numpy saves store label maps as float 0.0/1.0 (or 0..N); a fraction means a
    probability map, and rounding it would invent classes.
    """
    kind = values.dtype
    if not values.size:
        return values.astype(np.uint8)
    lowest, highest = values.min(), values.max()  # NaN propagates to both
    # Compared as Python floats: 65535 as a float16 overflows to inf.
    low, high = float(lowest), float(highest)
    if math.isnan(low):
        raise DataprepError(path, f"mask is {kind} and holds NaN: no class index (no-data? give it a class or the "
                                  "ignore index first)")
    if math.isinf(low) or math.isinf(high):
        raise DataprepError(path, f"mask is {kind} and holds {low if math.isinf(low) else high}: no class index")
    if low < 0:
        if low < _SIGNED_LABELS[0] or high > _SIGNED_LABELS[1]:
            raise DataprepError(path, f"mask is {kind} with values {_number(lowest)}..{_number(highest)}: class "
                                      "indices are 0..65535, and negative ones (an ignore index) need all within "
                                      "-32768..32767")
        target: type[np.integer] = np.int16
    elif high > 65535:
        raise DataprepError(path, f"mask is {kind} with values outside 0..65535 ({_number(highest)}): no class "
                                  "index")
    else:
        target = np.uint8 if high <= 255 else np.uint16
    labels = values.astype(target)
    if not np.array_equal(labels, values):  # whole numbers cast back unchanged; fractions were cut
        example = values[labels != values].flat[0]
        raise DataprepError(path, f"mask is {kind} with values that are not whole numbers ({_number(example)}): a "
                                  "probability map? threshold it to class indices first")
    return labels


def _number(value: np.floating) -> str:
    """`value` as its dtype prints it, shortest form (float32 0.37 as 0.37, not 0.3700000047683716)."""
    return str(value).removesuffix(".0")


def _read_png_with_opencv(path: str, expect: tuple[int, int] | None, limit: int | None) -> np.ndarray | None:
    """An 8/16-bit grayscale (label map) or 8-bit RGB(A) (colour mask) PNG decoded by OpenCV, or None for any
    other file (PIL reads it: palette indices, low bit depths, 16-bit colour).

    OpenCV returns the stored values as PIL does for these kinds, in a fifth of the
    time on small label maps (kfold reads one per row) and three quarters of it on
    large colour masks, and spares a short command PIL's import. A file OpenCV
    cannot decode goes to PIL too, which names the problem.
    """
    data = read_file_bytes(path)  # whole: the header decides, and nearly all masks pass it
    check_one_frame(path, data)
    head = data[:33]
    kind = _OPENCV_PNG_KINDS.get(head[25]) if len(head) == 33 else None
    if kind is None or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR" or head[24] not in kind[0]:
        return None  # lower depths OpenCV scales to 0..255; palette PNGs it turns into colours
    if not data.endswith(PNG_END):
        return None  # truncated or trailing bytes: PIL's reading and messages, and no OpenCV warning on stderr
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    check_pixels_within(path, width, height, limit)
    check_manifest_size(path, (width, height), expect, mask=True)
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    _depths, channels, to_rgb = kind
    shape = (height, width) if channels == 1 else (height, width, channels)
    # A transparent colour (tRNS) makes OpenCV add an alpha channel PIL does not: the shape check sends it to PIL,
    # except at 16 bits, where PIL would cut the colours to 8 bits: there the added alpha is dropped.
    if array is not None and head[24] == 16 and channels == 3 and array.shape == (height, width, 4):
        array = array[:, :, :3]
    if array is None or array.shape != shape or array.dtype != (np.uint8 if head[24] == 8 else np.uint16):
        return None
    if head[25] == 4:
        return array[:, :, 0]  # OpenCV repeats the grey in B, G and R
    if to_rgb is None:
        return array
    colours = cv2.cvtColor(array, to_rgb)
    return colours if head[24] == 8 else colours_to_8bit(path, colours)


def _tiff_mask(path: Path, expect: tuple[int, int] | None) -> np.ndarray | None:
    """A TIFF mask's values through tifffile (palette TIFFs: their indices); None: leave it to PIL."""
    reader = open_tiff(path, expect, mask=True)
    if reader is None:
        return None
    with reader:
        if reader.photometric not in ("minisblack", "miniswhite", "rgb", "palette"):
            return None
        try:
            array = reader.read_all()
        except DataprepError:
            if reader.dtype == np.uint16 and reader.bands >= 3:
                raise  # PIL would cut 16-bit colours to 8 bits without a word
            return None  # a codec tifffile lacks here: PIL may have it
    from ..raster import mask_from

    return mask_from(path, array)


def read_png_palette(path: PathLike) -> np.ndarray | None:
    """The (N, 3) uint8 colour table of a palette-mode PNG, or None for other modes."""
    from PIL import Image

    max_image_pixels()
    with Image.open(path) as im:
        if im.mode != "P":
            return None
        table = _colour_table(im)
        if im.format == "GIF" and (_all_grey(table) or _grey_gif_levels(im) is not None):
            return None  # a grey GIF is read as grey levels; an all-grey table says so without decoding it
        return table


def read_mask_palette(path: PathLike) -> np.ndarray | None:
    """The colour table of a palette-mode mask file (PNG, GIF, TIFF, BMP); None for other modes, `.npy` files
    and files PIL cannot open (a multi-band or float TIFF)."""
    if os.path.splitext(os.fspath(path))[1].lower() == ".npy":
        return None
    try:
        return read_png_palette(path)
    except PIL_ERRORS:
        return None


def _colour_table(im: Image.Image) -> np.ndarray:
    # The table as the file holds it, before any pixel is decoded (getpalette() decodes the whole image first).
    raw_table = im.palette is not None and im.palette.mode == "RGB" and im.palette.rawmode in (None, "RGB")
    raw = np.frombuffer(bytes(im.palette.palette if raw_table else im.getpalette() or []), np.uint8)
    return raw[: len(raw) // 3 * 3].reshape(-1, 3).copy()


def _grey_gif_levels(im: Image.Image) -> np.ndarray | None:
    """A GIF whose pixels are all grey, as its grey levels; None for other files.

    GIF has no grayscale mode: a grey mask saved as GIF gets whatever indices the encoder
    picks (DRIVE's vessel masks: white at index 251 in 58 files, while 20 of the same set
    were read as 0/255), so its indices mean nothing and its grey levels are the values.
    PNGs keep their indices: their tables are class colours (a label map's white class).
    """
    if im.format != "GIF" or im.mode != "P":
        return None
    indices = np.asarray(im, dtype=np.uint8)
    table = np.zeros((256, 3), np.uint8)
    colours = _colour_table(im)[:256]
    table[: len(colours)] = colours
    present = np.flatnonzero(np.bincount(indices.ravel(), minlength=256))
    if not _all_grey(table[present]):
        return None
    return table[:, 0][indices]


def _all_grey(colours: np.ndarray) -> bool:
    return bool(np.all(colours[:, 0] == colours[:, 1]) and np.all(colours[:, 1] == colours[:, 2]))


def _mask_array(path: Path, im: Image.Image) -> np.ndarray:
    mode = im.mode
    levels = _grey_gif_levels(im)
    if levels is not None:
        return levels
    if mode in ("P", "L"):
        return np.asarray(im, dtype=np.uint8).copy()
    if mode == "1":
        return np.asarray(im, dtype=np.uint8)
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataprepError(path, f"mask values {arr.min()}..{arr.max()} do not fit 16 bits")
        return arr.astype(np.uint16)
    if mode in ("RGB", "RGBA"):
        return np.asarray(im, dtype=np.uint8).copy()
    if mode == "LA":
        return np.asarray(im.getchannel("L"), dtype=np.uint8).copy()
    if mode == "PA":
        return np.asarray(im.convert("P"), dtype=np.uint8).copy()
    if mode == "F":
        return labels_from_floats(path, np.asarray(im))
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
