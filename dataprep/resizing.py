"""`dataprep resize`: images and their label maps to a new size, each the right way.

One target per run:

- `size=(h, w)`: every pair to h x w (the aspect ratio is not kept, as
  albumentations' `Resize`);
- `max_side=N`: pairs whose longer side is over N shrink until it is N, aspect
  kept (the other side rounded); smaller pairs are copied as they are;
- `scale=f`: both sides times f, rounded;
- `to="image"`: each mask to its image's size, for label maps saved at another
  resolution than their photos (`scan --keep-scaled-masks` lets such pairs into a
  manifest); `to="mask"`: each image to its mask's size instead.

Images: `cv2.INTER_AREA` when both sides shrink (no aliasing), `INTER_LINEAR`
otherwise, or the `image_interpolation` given; every band count and pixel type
is kept, and a GeoTIFF's pixel size is scaled so it stays on the map.
Masks: nearest neighbour with pixel centres aligned
(`augment.base.resize_mask`, the sampling the image's resize uses, where
`cv2.INTER_NEAREST` is off by half a pixel): classes are never blended,
colour masks keep their exact colours and palette PNGs their palette.

Files already at their target size are copied byte for byte. Written files:
images keep their format (JPEG re-encoded at `jpeg_quality`); masks become PNG
label maps (TIFF for pixel types PNG cannot hold), so a JPEG mask gets no second
round of compression noise. DST gets images/ID.ext, masks/ID.png,
manifest.csv (every column of the source rows, new width and height, and
`original_width`/`original_height`: the image's size before its first resize) and the palette file beside the source manifest.

A pair whose mask is not its image at another scale (another aspect ratio) is
an error naming the mask: stretching it would only hide that the two do not
belong together.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from . import io
from .augment.base import resize_mask
from .errors import DataprepError, UsageError, all_failed
from .executor import Executor, OnError, errors_of, run_items
from .extra_masks import refuse_extra_masks
from .folder_settings import claim_folder, release_folder
from .io import PathLike, atomic_write_bytes, read_mask_palette, staged
from .io.formats import read_file_bytes
from .manifest import ORIGINAL_SIZE_COLUMNS, Manifest, ManifestRow, read_manifest, require_rows, write_manifest
from .outputs import OutputReport, missing_folders, remove_empty
from .palette import find_palette
from .paths import Inputs, inside
from .pixeltypes import is_nodata, nodata_fill
from .raster import RasterReader, is_tiff, png_can_hold, write_raster
from .sampleio import manifest_size

MatchSide = Literal["image", "mask"]
INTERPOLATIONS = {
    "auto": None,
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "nearest": cv2.INTER_NEAREST_EXACT,
}


@dataclass(frozen=True)
class ResizeTarget:
    """How a pair's new size follows from its image's and mask's sizes; exactly one field is set."""

    size: tuple[int, int] | None = None  # (height, width)
    max_side: int | None = None
    scale: float | None = None
    to: MatchSide | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("size", "max_side", "scale", "to") if getattr(self, name) is not None]
        if len(given) != 1:
            raise UsageError(None, "give exactly one of --size, --max-side, --scale, --to"
                                   + (f" (got {', '.join(given)})" if given else ""))
        if self.size is not None and min(self.size) < 1:
            raise UsageError(None, f"--size must be at least 1x1, not {self.size[1]}x{self.size[0]}")
        if self.max_side is not None and self.max_side < 1:
            raise UsageError(None, f"--max-side must be at least 1, not {self.max_side}")
        if self.scale is not None and not (self.scale > 0 and math.isfinite(self.scale)):  # inf overflowed per file
            raise UsageError(None, f"--scale must be a finite number above 0, not {self.scale}")
        if self.to not in (None, "image", "mask"):
            raise UsageError(None, f"--to must be image or mask, not {self.to!r}")

    def of(self, image: tuple[int, int], mask: tuple[int, int] | None) -> tuple[int, int]:
        """The (height, width) both files of a pair get, from the image's and the mask's (height, width)."""
        h, w = image
        if self.size is not None:
            return self.size
        if self.to == "image" or (self.to == "mask" and mask is None):
            return image  # nothing to match: an image without a mask keeps its size
        if self.to == "mask":
            return mask
        factor = self.scale if self.scale is not None else min(1.0, self.max_side / max(h, w))  # type: ignore[operator]
        return max(1, round(h * factor)), max(1, round(w * factor))


@dataclass
class ResizeReport(OutputReport):
    pairs: int = 0
    resized_images: int = 0
    resized_masks: int = 0


@dataclass(frozen=True)
class _PairResult:
    row: ManifestRow
    resized_image: bool
    resized_mask: bool


def resize_manifest(
    manifest: Manifest | PathLike,
    out_dir: PathLike,
    target: ResizeTarget,
    *,
    image_interpolation: str = "auto",
    jpeg_quality: int = 95,
    force: bool = False,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> ResizeReport:
    """Resize every pair of `manifest` into `out_dir` (images/, masks/, manifest.csv); see the module docstring."""
    if image_interpolation not in INTERPOLATIONS:
        raise UsageError(None, f"image interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                               f"not {image_interpolation!r}")
    if not 1 <= jpeg_quality <= 100:
        raise UsageError(None, f"JPEG quality must be 1..100, not {jpeg_quality}")
    src = require_rows(manifest if isinstance(manifest, Manifest) else read_manifest(manifest))
    for row in src:
        refuse_extra_masks(row, "resize")
    out = Path(out_dir)
    # trees: not into the images' or masks' folders, whose next scan would take the outputs for data
    inputs = Inputs.of_manifest(src, trees=True)
    inputs.guard_folder(out, force=force, command="resize")
    palette_file = find_palette(Path(src.path).parent) if src.path is not None else None
    palette_copy = out / Path(palette_file).name if palette_file is not None else None
    # Every path a row may write, even with --force: resizing a scan's root into itself replaced its images and
    # masks with the smaller copies, exit 0.
    outputs = [_image_output(out, r) for r in src.rows]
    outputs += [_mask_output(out, r.id, ext) for r in src.rows if r.mask is not None
                for ext in dict.fromkeys((r.mask.suffix.lower(), ".png", ".tif"))]
    inputs.check_written([out / "manifest.csv", *([palette_copy] if palette_copy is not None else []), *outputs])
    fresh = missing_folders(out, (r.id for r in src.rows), ("images", "masks"))  # before claim_folder makes `out`
    claimed = claim_folder(out, "resize", {**asdict(target), "image_interpolation": image_interpolation,
                                           "jpeg_quality": jpeg_quality}, src.rows)
    resizer = _PairResizer(target, out, INTERPOLATIONS[image_interpolation], jpeg_quality)
    results = run_items(resizer, src.rows, executor=executor, on_error=on_error, desc="resize", quiet=quiet)
    report = ResizeReport(out, pairs=len(src))
    rows = []
    for result in results:
        if result.ok and result.value is not None:
            rows.append(result.value.row)
            report.resized_images += result.value.resized_image
            report.resized_masks += result.value.resized_mask
    report.errors = errors_of(results)
    if report.errors and not rows:  # a header-only manifest would read as a resized, empty dataset
        # Nor a record of settings: a retry at another size was refused as mixing its outputs with none.
        remove_empty(fresh)
        if claimed:
            release_folder(out, "resize")
        raise all_failed(src.path, report.errors, "pairs")
    report.manifest_path = write_manifest(rows, out / "manifest.csv")
    if palette_file is not None and palette_copy is not None and Path(palette_file).resolve() != palette_copy.resolve():
        atomic_write_bytes(palette_copy, Path(palette_file).read_bytes())
    return report


class _PairResizer:
    """Resizes one row's image and mask (runs in worker processes: plain, picklable state)."""

    def __init__(self, target: ResizeTarget, out_dir: Path, interpolation: int | None, jpeg_quality: int) -> None:
        self.target, self.out_dir = target, out_dir
        self.interpolation, self.jpeg_quality = interpolation, jpeg_quality

    def __call__(self, row: ManifestRow) -> _PairResult:
        image_info = io.read_info(row.image)
        io.check_manifest_size(row.image, (image_info.width, image_info.height), manifest_size(row))
        image_hw = (image_info.height, image_info.width)
        mask_hw = None
        if row.mask is not None:
            mask_info = io.read_info(row.mask)
            mask_hw = (mask_info.height, mask_info.width)
            if mask_hw != image_hw and not io.is_scaled_copy(image_hw[::-1], mask_hw[::-1]):
                raise DataprepError(row.mask, f"mask is {mask_hw[1]}x{mask_hw[0]} but its image "
                                              f"{row.image.name} is {image_hw[1]}x{image_hw[0]}: not the same "
                                              "picture at another scale, so resizing would hide the mismatch")
        height, width = self.target.of(image_hw, mask_hw)
        limit = io.max_image_pixels()
        if limit is not None and height * width > limit:  # --scale 100 would write what every reader refuses
            raise DataprepError(row.image, f"would become {width}x{height} = {width * height:,} pixels, over the "
                                           f"limit of {limit:,} every reader keeps ({io.MAX_PIXELS_ENV})")
        image_path = _image_output(self.out_dir, row)
        resized_image = image_hw != (height, width)
        mask_path, resized_mask = None, mask_hw is not None and mask_hw != (height, width)
        # A pair is written whole or not at all: a mask refused after its image was written (a float mask of
        # fractions) left the image in DEST, unlisted, beside "nothing written".
        with staged():
            if resized_image:
                self._resize_image(row.image, image_path, height, width)
            else:
                atomic_write_bytes(image_path, read_file_bytes(row.image))
            if resized_mask:
                mask_path = self._resize_mask(row.mask, height, width, row.id)
            elif row.mask is not None:
                mask_path = _mask_output(self.out_dir, row.id, row.mask.suffix.lower())
                atomic_write_bytes(mask_path, read_file_bytes(row.mask))
        width_column, height_column = ORIGINAL_SIZE_COLUMNS
        extra = {**row.extra, width_column: row.extra.get(width_column) or str(image_hw[1]),
                 height_column: row.extra.get(height_column) or str(image_hw[0])}
        return _PairResult(ManifestRow(row.id, image_path, mask_path, width, height, extra), resized_image, resized_mask)

    def _resize_image(self, source: Path, path: Path, height: int, width: int) -> None:
        with RasterReader(source, upright=True) as reader:  # EXIF (and TIFF) orientation applied; every band, own dtype
            pixels = reader.read_all()
            geo, photometric, alpha = reader.geo, reader.photometric, reader.alpha_sample
        h, w = pixels.shape[:2]
        interpolation = self.interpolation
        if interpolation is None:
            interpolation = cv2.INTER_AREA if height <= h and width <= w else cv2.INTER_LINEAR
        nodata = geo.nodata if geo is not None else None
        if nodata is not None and interpolation != cv2.INTER_NEAREST:
            resized = resize_around_nodata(pixels, height, width, interpolation, nodata)
        else:
            resized = resize_pixels(pixels, height, width, interpolation)
        if is_tiff(path):
            write_raster(path, resized, geo=geo.resized((h, w), (height, width)) if geo is not None else None,
                         photometric=photometric, alpha=alpha)
        else:
            io.write_image(path, resized, quality=self.jpeg_quality)

    def _resize_mask(self, source: Path, height: int, width: int, row_id: str) -> Path:
        with RasterReader(source, mask=True) as reader:  # palette PNGs: indices; colour masks: colours
            labels = reader.read_all()  # float label maps come as their whole numbers, or are refused
        resized = resize_mask(labels[:, :, 0] if labels.shape[2] == 1 else labels, height, width)
        ext = ".png" if png_can_hold(resized) else ".tif"
        path = _mask_output(self.out_dir, row_id, ext)
        palette = read_mask_palette(source)
        write_raster(path, resized, mask=True, palette=palette)
        return path


def _image_output(out_dir: Path, row: ManifestRow) -> Path:
    """Where a row's image goes: `OUT/images/<id>` with its own extension."""
    return inside(out_dir, "images", f"{row.id}{row.image.suffix.lower()}")


def _mask_output(out_dir: Path, row_id: str, ext: str) -> Path:
    """Where a row's mask goes: `OUT/masks/<id><ext>` (its own extension when copied, .png/.tif when resized)."""
    return inside(out_dir, "masks", f"{row_id}{ext}")


def resize_pixels(image: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    """(H, W, C) pixels of any band count to (height, width, C), dtype kept (OpenCV drops a single band's axis)."""
    bands = image.shape[2]
    if image.dtype not in _OPENCV_RESAMPLES:
        return _resize_via_float(image, height, width, interpolation)
    if interpolation == cv2.INTER_AREA and bands > 4:
        # OpenCV's area resampling takes 4 channels at most (`cn <= 4`): a 5-band TIFF failed every row.
        return np.concatenate([resize_pixels(image[:, :, k : k + 4], height, width, interpolation)
                               for k in range(0, bands, 4)], axis=2)
    resized = cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interpolation)
    return resized.reshape(height, width, bands)


# What cv2.resize interpolates: an int32 or float16 TIFF failed with "(-215:Assertion failed) func != 0".
_OPENCV_RESAMPLES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64))


def _resize_via_float(image: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    """Other integer and float types, resampled in float64 (exact for 32-bit integers) and cast back: integers
    rounded and clipped to the dtype, as OpenCV saturates its own."""
    if image.dtype.kind not in "iuf":
        raise DataprepError(None, f"cannot resize {image.dtype} pixels (integers or floats only)")
    resized = resize_pixels(image.astype(np.float64), height, width, interpolation)
    if image.dtype.kind in "iu":
        info = np.iinfo(image.dtype)
        resized = np.clip(np.rint(resized), info.min, info.max)
    return resized.astype(image.dtype)


def resize_around_nodata(image: np.ndarray, height: int, width: int, interpolation: int,
                         nodata: float) -> np.ndarray:
    """`resize_pixels` of a GeoTIFF with a nodata value: each band's nodata pixels take no part in the values
    around them, and an output pixel is nodata where less than half of what it is made of is data.

    Resampled as plain numbers, the nodata value was averaged in: -32768 beside 22561 gave -11110, a valid
    height, and -3.4e38 float nodata gave -inf; the kept nodata tag then matched no pixel.
    """
    valid = ~is_nodata(image, nodata)
    if valid.all():
        return resize_pixels(image, height, width, interpolation)
    values = np.where(valid, image, 0).astype(np.float64)
    weight = resize_pixels(valid.astype(np.float64), height, width, interpolation)
    total = resize_pixels(values, height, width, interpolation)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / weight
    if image.dtype.kind in "iu":
        info = np.iinfo(image.dtype)
        mean = np.clip(np.rint(np.nan_to_num(mean)), info.min, info.max)
    out = mean.astype(image.dtype)
    out[weight < 0.5] = nodata_fill(nodata, image.dtype)
    return out


__all__ = ["INTERPOLATIONS", "ResizeReport", "ResizeTarget", "resize_around_nodata", "resize_manifest",
           "resize_pixels"]
