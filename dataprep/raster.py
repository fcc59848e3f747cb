"""Rasters of any pixel type: multi-band, 16-bit and float TIFFs, and windows of them.

dataprep.io decodes through OpenCV, which is right for photos and PNG masks but
not for remote-sensing or microscopy TIFFs (more than 4 bands, float32, planar
layouts). This module reads and writes those with tifffile, and reads windows of
a TIFF without decoding the whole file:

- `read_raster(path)`: the whole image as (H, W, C) in its own dtype (TIFF via
  tifffile, everything else via dataprep.io);
- `RasterReader(path).read(y0, y1, x0, x1)`: a window; for TIFF only the strips
  or tiles that touch it are read and decoded (tifffile's `TiffPage.decode`),
  so memory stays bounded by the window plus the segments around it. Other
  formats are decoded once and sliced;
- `write_raster(path, array, geo=...)`: TIFF via tifffile (any bands/dtype),
  PNG and the rest via dataprep.io; atomic like every write;
- `GeoTags`: the GeoTIFF tags of the first page, shifted to a window's origin
  (`GeoTags.shifted`) so tiles keep their place on the map.

Supported TIFFs: the first page of the file, chunky (contig) or planar
(separate) samples, strips or tiles, uncompressed or compressed with any codec
tifffile can decode here (zlib/deflate and LZMA built in; LZW, JPEG, PackBits
and others need the `imagecodecs` package; without it, files OpenCV reads
right - gray, RGB, RGBA of 8/16 bits - are decoded whole by OpenCV's libtiff,
8-bit RGBA with an unassociated alpha by PIL's, as OpenCV premultiplies it).
Volumetric pages (tile depth > 1) are read whole.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataprepError, TiffStackError, TruncatedError
from .io import PathLike, apply_orientation, read_image, read_mask, write_image, write_mask
from .io.atomic import atomic_path, write_error
from .io.formats import check_complete, sniff_format
from .io.info import tiff_pages
from .io.masks import colours_to_8bit, labels_from_floats

TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})

# GeoTIFF: ModelPixelScale, ModelTiepoint, ModelTransformation, GeoKeyDirectory,
# GeoDoubleParams, GeoAsciiParams, GDAL_METADATA, GDAL_NODATA.
_PIXEL_SCALE, _TIEPOINT, _TRANSFORMATION, _GDAL_METADATA, _NODATA = 33550, 33922, 34264, 42112, 42113
_GEOKEYS = 34735
_STATISTICS_ITEM = re.compile(r"\s*<Item name=\"STATISTICS_[A-Z_]+\"[^>]*>[^<]*</Item>")
_GEO_TAGS = (33550, 33922, 34264, 34735, 34736, 34737, 42112, 42113)
_TAG_TYPES = {33550: 12, 33922: 12, 34264: 12, 34735: 3, 34736: 12, 34737: 2, 42112: 2, 42113: 2}


def is_tiff(path: PathLike) -> bool:
    return Path(path).suffix.lower() in TIFF_EXTENSIONS


def _holds_tiff(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return sniff_format(f.read(16)) == "TIFF"
    except OSError:
        return False  # the decoders name the problem


def _tifffile():
    try:
        import tifffile
    except ImportError:  # pragma: no cover - a declared dependency
        raise DataprepError(None, "reading TIFF rasters needs tifffile: pip install tifffile") from None
    return tifffile


_DECODERS: dict[Any, bool] = {}
# What every libtiff decodes: none, CCITT 1D/G3/G4, LZW, old and new JPEG, Adobe deflate, PackBits, deflate.
_LIBTIFF_CODECS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 32773, 32946})
_JPEG_CODECS = frozenset({6, 7, 33007, 34892})  # old JPEG, JPEG, ALT_JPEG, lossy JPEG (DNG)


def has_decoder(compression: Any) -> bool:
    """Whether tifffile can decode this compression here. Its table lists ZSTD whatever is installed; the
    decoder then fails on its first call ("No module named 'compression'"), so it is called once to tell."""
    if compression not in _DECODERS:
        from tifffile import TIFF

        try:
            decode = TIFF.DECOMPRESSORS[compression]
        except KeyError:
            _DECODERS[compression] = False
        else:
            try:
                decode(b"")
            except ImportError:
                _DECODERS[compression] = False
            except Exception:  # noqa: BLE001 - empty data is no valid stream: the decoder is there
                _DECODERS[compression] = True
            else:
                _DECODERS[compression] = True
    return _DECODERS[compression]


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------- georeference


def _map_tiepoints(value: Any, move: Any) -> tuple[float, ...]:
    """Tiepoints (I, J, K, X, Y, Z, ...) with each raster point (I, J) moved by `move(i, j)`; ground points kept."""
    numbers = [float(v) for v in value]
    for n in range(0, len(numbers) - 5, 6):
        numbers[n], numbers[n + 1] = move(numbers[n], numbers[n + 1])
    return tuple(numbers)


@dataclass(frozen=True)
class GeoTags:
    """GeoTIFF tags as (code, value) pairs, written back unchanged except for the pixel origin and size."""

    tags: tuple[tuple[int, Any], ...]

    def shifted(self, dy: int, dx: int) -> "GeoTags":
        """The tags of a window whose top-left pixel is (dy, dx) in this raster (negative: back to a source)."""
        out = []
        values = dict(self.tags)
        for code, value in self.tags:
            if code == _TIEPOINT and _PIXEL_SCALE in values and len(value) == 6:
                sx, sy = float(values[_PIXEL_SCALE][0]), float(values[_PIXEL_SCALE][1])
                i, j, k, x, y, z = (float(v) for v in value[:6])
                # The tiepoint ties raster (i, j) to model (x, y); the window's (i, j) is the
                # source's (i + dx, j + dy), and model y decreases down the raster.
                value = (i, j, k, x + dx * sx, y - dy * sy, z)
            elif code == _TIEPOINT and len(value) >= 6:
                # Ground control points (Sentinel-1 GRD: many tiepoints, no pixel scale): each keeps its ground
                # point and moves in raster coordinates; copied as they were, every tile claimed the scene's corner.
                value = _map_tiepoints(value, lambda i, j: (i - dx, j - dy))
            elif code == _TRANSFORMATION and len(value) == 16:
                m = [float(v) for v in value]
                m[3] += m[0] * dx + m[1] * dy
                m[7] += m[4] * dx + m[5] * dy
                value = tuple(m)
            out.append((code, value))
        return GeoTags(tuple(out)).without_statistics()

    def without_statistics(self) -> "GeoTags":
        """The tags without GDAL's STATISTICS_* metadata items: a window or a resampled copy has pixels of its
        own, and a GIS showed each tile with the whole scene's minimum, maximum, mean and std."""
        out = []
        for code, value in self.tags:
            if code == _GDAL_METADATA and isinstance(value, str) and "STATISTICS_" in value:
                value = _STATISTICS_ITEM.sub("", value)
                if "<Item" not in value:
                    continue
            out.append((code, value))
        return GeoTags(tuple(out))

    def placement(self) -> "GeoTags":
        """Where the pixels lie (scale, tiepoint or transformation, GeoKeys), without the image's nodata value
        and GDAL metadata: the tags of a label map drawn on this raster, whose 0 is a class, not nodata."""
        return GeoTags(tuple((code, value) for code, value in self.tags if code not in (_NODATA, _GDAL_METADATA)))

    def resized(self, source: tuple[int, int], size: tuple[int, int]) -> "GeoTags":
        """The tags of this raster resampled from `source` to `size` pixels ((height, width)): same ground, larger
        pixels.

        Raster coordinates scale about the raster's corner; with PixelIsPoint (GTRasterTypeGeoKey 2) a coordinate
        is a pixel's centre, so new pixel 0's centre lies at old (f - 1) / 2, not at old 0 (450 m off on a 30 m
        grid resized by 4)."""
        fy, fx = source[0] / size[0], source[1] / size[1]
        half = 0.5 if self.pixel_is_point else 0.0
        oy, ox = half * fy - half, half * fx - half  # where new pixel (0, 0) lies in old raster coordinates
        values = dict(self.tags)
        out = []
        for code, value in self.tags:
            if code == _PIXEL_SCALE and len(value) >= 2:
                value = (float(value[0]) * fx, float(value[1]) * fy, *value[2:])
            elif code == _TIEPOINT and _PIXEL_SCALE in values and len(value) == 6:
                sx, sy = float(values[_PIXEL_SCALE][0]), float(values[_PIXEL_SCALE][1])
                i, j, k, x, y, z = (float(v) for v in value)
                value = (0.0, 0.0, k, x + (ox - i) * sx, y - (oy - j) * sy, z)  # tied at new pixel (0, 0)
            elif code == _TIEPOINT and len(value) >= 6:  # ground control points
                value = _map_tiepoints(value, lambda i, j: ((i + half) / fx - half, (j + half) / fy - half))
            elif code == _TRANSFORMATION and len(value) == 16:
                m = [float(v) for v in value]
                m[3] += m[0] * ox + m[1] * oy
                m[7] += m[4] * ox + m[5] * oy
                m[0], m[4] = m[0] * fx, m[4] * fx  # model change per pixel column
                m[1], m[5] = m[1] * fy, m[5] * fy  # ... and per pixel row
                value = tuple(m)
            out.append((code, value))
        return GeoTags(tuple(out)).without_statistics()

    @property
    def pixel_is_point(self) -> bool:
        """GTRasterTypeGeoKey (1025) is RasterPixelIsPoint: raster coordinates name pixel centres."""
        keys = dict(self.tags).get(_GEOKEYS)
        if keys is None or len(keys) < 4:
            return False
        entries = [tuple(int(v) for v in keys[n : n + 4]) for n in range(4, 4 + 4 * int(keys[3]), 4)]
        return any(key == 1025 and location == 0 and value == 2 for key, location, _, value in entries)

    @property
    def nodata(self) -> float | None:
        """GDAL's nodata value (tag 42113, one value for every band), or None when the tag is absent or not a number."""
        value = dict(self.tags).get(_NODATA)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        try:
            return float(str(value).strip().rstrip("\x00")) if value is not None else None
        except ValueError:
            return None

    @property
    def georeferenced(self) -> bool:
        """Whether the tags place the pixels anywhere (a CRS or a pixel-to-ground transform), not a nodata alone."""
        return self.affine() is not None or bool(self._crs())

    def grid_difference(self, other: "GeoTags") -> str | None:
        """What puts `other`'s pixels elsewhere than these: "CRS", "pixel size" or "origin"; None when both lie on
        one grid, however the tags say it (tiepoint + scale or a transformation matrix, PixelIsPoint or
        PixelIsArea, a Z scale, redundant GeoKeys beside one EPSG code, CRS citations worded otherwise)."""
        if self._crs() != other._crs():
            return "CRS"
        mine, theirs = self.affine(), other.affine()
        if (mine is None) != (theirs is None):
            return "origin"
        if mine is None or theirs is None:
            return None
        (a, b, c, d, e, f), (a2, b2, c2, d2, e2, f2) = mine, theirs
        pixel = max(abs(a), abs(b), abs(d), abs(e), 1e-300)
        if not np.allclose((a, b, d, e), (a2, b2, d2, e2), rtol=1e-9, atol=pixel * 1e-9):
            return "pixel size"
        if not np.allclose((c, f), (c2, f2), rtol=0, atol=pixel * 1e-6):
            return "origin"
        return None

    def affine(self) -> tuple[float, float, float, float, float, float] | None:
        """(a, b, c, d, e, f): ground x = a*col + b*row + c, y = d*col + e*row + f for the corner of pixel
        (col, row); None without a single tiepoint and scale or a transformation matrix."""
        values = dict(self.tags)
        matrix, scale, tie = values.get(_TRANSFORMATION), values.get(_PIXEL_SCALE), values.get(_TIEPOINT)
        if matrix is not None and len(matrix) == 16:
            a, b, c, d, e, f = (float(matrix[n]) for n in (0, 1, 3, 4, 5, 7))
        elif scale is not None and len(scale) >= 2 and tie is not None and len(tie) == 6:
            sx, sy = float(scale[0]), float(scale[1])
            i, j, x, y = float(tie[0]), float(tie[1]), float(tie[3]), float(tie[4])
            a, b, c, d, e, f = sx, 0.0, x - i * sx, 0.0, -sy, y + j * sy
        else:
            return None
        if self.pixel_is_point:  # raster coordinates name pixel centres: the corner is half a pixel before
            c, f = c - 0.5 * (a + b), f - 0.5 * (d + e)
        return a, b, c, d, e, f

    def _crs(self) -> dict[int, Any]:
        """The GeoKeys that say the CRS: an EPSG code where there is one (projected 3072, else geographic 2048,
        with the model type), every key otherwise; double parameters resolved, citations and raster type left
        out."""
        keys = self._geokeys()
        keys.pop(1025, None)
        for code in (3072, 2048):
            if code in keys and keys[code] not in (0, 32767):  # 32767: user-defined, told by the other keys
                return {1024: keys.get(1024), code: keys[code]}
        return keys

    def _geokeys(self) -> dict[int, Any]:
        """GeoKey -> value, double parameters resolved, ASCII citations left out."""
        values = dict(self.tags)
        keys, doubles = values.get(_GEOKEYS), values.get(34736) or ()
        if keys is None or len(keys) < 4:
            return {}
        out: dict[int, Any] = {}
        for n in range(4, min(len(keys), 4 + 4 * int(keys[3])) - 3, 4):
            key, location, count, value = (int(v) for v in keys[n : n + 4])
            if location == 0:
                out[key] = value
            elif location == 34736:
                out[key] = tuple(round(float(d), 9) for d in doubles[value : value + count])
        return out

    def extratags(self) -> list[tuple[int, int, int, Any, bool]]:
        tags = []
        for code, value in self.tags:
            dtype = _TAG_TYPES[code]
            count = len(value) if dtype != 2 else 0
            if dtype == 2 and isinstance(value, bytes):
                value = value.decode("latin-1")
            tags.append((code, dtype, count, value, True))
        return tags


def _geo_of(page: Any) -> GeoTags | None:
    found = []
    for code in _GEO_TAGS:
        tag = page.tags.get(code)
        if tag is None:
            continue
        value = tag.value
        if isinstance(value, (tuple, list, np.ndarray)):
            cast = int if _TAG_TYPES[code] == 3 else float
            value = tuple(cast(v) for v in np.asarray(value).ravel())
        found.append((code, value))
    return GeoTags(tuple(found)) if found else None


# --------------------------------------------------------------------------- reading


def _orientation_of(page: Any) -> int:
    """The TIFF Orientation tag (274), 1..8; 1 when absent or invalid."""
    tag = page.tags.get(274)
    try:
        value = int(tag.value) if tag is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if value in range(1, 9) else 1


def _photometric_of(page: Any) -> str:
    """The PhotometricInterpretation tag's name, lower case. A TIFF without one (Pillow's 10ct_32bit_128.tiff; every
    reader crashed on it) holds stored values: grey for one or two samples, RGB(A) for three or four 8/16-bit ones."""
    if 262 not in page.tags:
        return "rgb" if page.samplesperpixel in (3, 4) and page.bitspersample in (8, 16) else "minisblack"
    name = getattr(page.photometric, "name", None)
    return name.lower() if name else f"photometric {int(page.photometric)}"


def _as_hwc(array: np.ndarray, page: Any) -> np.ndarray:
    """A first page's pixels as (H, W, C), whatever the sample layout."""
    axes = page.axes
    if axes == "YX":
        return array[:, :, None]
    if axes == "YXS":
        return array
    if axes == "SYX":
        return np.moveaxis(array, 0, -1)
    raise DataprepError(page.parent.filename, f"unsupported TIFF layout {axes!r} (expected YX, YXS or SYX)")


def stack_slices(path: PathLike) -> tuple[tuple[int, ...], ...]:
    """The pages that make each image of a TIFF stack, in order.

    One page per image, except in a hyperstack whose pages interleave channels
    (ImageJ/OME axes with C, e.g. ZCYX): there an image is the C pages of one
    slice, in channel order, whatever the order the axes are stored in.
    """
    tifffile = _tifffile()
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0] if tif.series else None
            if series is None or "C" not in series.axes:
                if len(tif.pages) < 2:
                    return tuple((i,) for i in range(max(1, contiguous_planes(tif))))
                # Overviews and transparency masks (NewSubfileType bits 0 and 2) are no slices of a volume.
                # A pyramidal or cloud-optimised GeoTIFF is one image, as a one-page file is.
                kept = [page.index for page in tiff_pages(tif) if not _overview_or_mask(page)]
                return tuple((i,) for i in kept)
            page_axes = series.pages[0].axes
            outer = [(axis, size) for axis, size in zip(series.axes, series.shape) if axis not in page_axes]
            order = [page.index for page in series.pages if page is not None]
            sizes = [size for _, size in outer]
            if "C" not in dict(outer) or int(np.prod(sizes)) != len(order):
                raise DataprepError(path, f"a hyperstack with axes {series.axes} whose pages are not one channel of "
                                          "one slice each; export one channel per stack first")
            channel = [axis for axis, _ in outer].index("C")
            grid = np.moveaxis(np.asarray(order).reshape(sizes), channel, -1).reshape(-1, sizes[channel])
            return tuple(tuple(int(p) for p in row) for row in grid)
    except DataprepError:
        raise
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types for broken files
        raise DataprepError(path, f"unreadable TIFF: {_short(exc)}") from None


def contiguous_planes(tif: Any) -> int:
    """The planes of a one-page TIFF whose first series holds more than the page (MetaMorph STK); else 0."""
    # Only STK, ImageJ (> 4 GB stacks keep one page) and tifffile's own shaped files can: parsing the series of
    # every other file cost a third of opening a band file.
    if len(tif.pages) != 1 or not (tif.is_stk or tif.is_imagej or tif.is_shaped) or not tif.series:
        return 0
    series = tif.series[0]
    planes = series.size // max(1, series.keyframe.size)
    return planes if planes > 1 else 0


class TiffPages:
    """The pages of one TIFF stack, read one at a time from a file kept open.

    Opening the file for each page would walk the chain of page headers from
    the start every time (quadratic in the pages). Planes stored behind a
    single page (MetaMorph STK) are read together once. Picklable: a copy in a
    worker process opens its own file on first use.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._tif: Any = None
        self._planes: np.ndarray | None = None

    def read_slice(self, pages: tuple[int, ...]) -> np.ndarray:
        """The pages of one slice (see `stack_slices`) as the bands of one (H, W, C) image."""
        arrays = [self.read(index) for index in pages]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=2)

    def read(self, index: int) -> np.ndarray:
        """Page `index` as (H, W, C) in its own dtype."""
        try:
            if self._tif is None:
                self._tif = _tifffile().TiffFile(self.path)
                if contiguous_planes(self._tif):
                    series = self._tif.series[0]
                    self._planes = series.asarray().reshape(-1, *series.keyframe.shape)
            if self._planes is not None:
                page, array = self._tif.series[0].keyframe, self._planes[index]
            else:
                page = self._tif.pages[index]
                array = page.asarray()
        except Exception as exc:  # noqa: BLE001 - a missing codec or a corrupt page
            raise DataprepError(self.path, f"cannot decode page {index}: {_short(exc)}") from None
        return _as_hwc(array, page)

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None
        self._planes = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_tif": None, "_planes": None}


def read_raster(path: PathLike, *, mask: bool = False) -> np.ndarray:
    """The whole raster: (H, W, C) in the file's dtype; `mask=True`: (H, W) label map as dataprep.io reads it.

    TIFFs go through tifffile (any number of bands, any dtype); other formats
    through dataprep.io.
    """
    path = Path(path)
    if not is_tiff(path):
        return read_mask(path) if mask else read_image(path)
    with RasterReader(path, mask=mask, upright=not mask) as reader:  # masks: palette indices, as stored
        array = reader.read_all()
    if mask:
        return mask_from(path, array)
    return array


def mask_from(path: PathLike, array: np.ndarray) -> np.ndarray:
    """(H, W, C) TIFF mask pixels as dataprep.io returns masks: (H, W) indices, or (H, W, 3|4) uint8 colours
    (16-bit colours: the 8-bit colours they encode; float samples: the whole numbers they hold)."""
    if array.dtype.kind == "f":
        array = labels_from_floats(path, array)
    if array.shape[2] in (3, 4) and array.dtype == np.uint8:
        return array
    if array.shape[2] in (3, 4) and array.dtype == np.uint16:
        return colours_to_8bit(path, array)
    if array.shape[2] != 1:
        raise DataprepError(path, f"mask has {array.shape[2]} bands of {array.dtype}; expected one band of class indices")
    if array.dtype.kind not in "iu":
        raise DataprepError(path, f"mask is {array.dtype}; masks must hold integer class indices")
    return array[:, :, 0]


def _overview_or_mask(page: Any) -> bool:
    """A reduced-resolution copy or transparency mask (NewSubfileType bits 0 and 2): no image of its own."""
    return bool(int(getattr(page, "subfiletype", 0) or 0) & 5)


def _gdal_validity_mask(path: Path, tif: Any) -> str:
    """Where GDAL keeps a GeoTIFF's per-pixel validity mask, when it has one: "internal" (a page with
    NewSubfileType bit 2), "sidecar" (`x.tif.msk` beside it), else ""."""
    if any(int(getattr(page, "subfiletype", 0) or 0) & 4 for page in tiff_pages(tif)):
        return "internal"
    return "sidecar" if os.path.exists(f"{path}.msk") else ""


def stack_pages(tif: Any) -> int:
    """How many pages of `tif` (a tifffile.TiffFile) are full-size images: 1 unless the file is a stack.

    Later pages of the first page's size that are not reduced-resolution copies
    (pyramid overviews) or transparency masks (NewSubfileType bits 0 and 2) make a stack,
    and so do planes stored one after another behind a single page (MetaMorph STK).
    """
    pages = tif.pages
    if len(pages) < 2:
        return max(1, contiguous_planes(tif))
    size = (pages.first.imagelength, pages.first.imagewidth)
    # Every page is looked at: a stack with an overview (or mask) after each slice read as its first slice.
    full = sum(1 for page in tiff_pages(tif) if (page.imagelength, page.imagewidth) == size
               and not _overview_or_mask(page))
    return full if full > 1 else 1


class _SegmentError(DataprepError):
    """One strip or tile of a TIFF could not be decoded."""


class RasterReader:
    """Windows of one raster. TIFF: only the segments (strips/tiles) a window touches are decoded.

    Of the segments a window needed, those reaching into its bottom quarter
    are kept for the next call, so that overlapping windows read top to bottom
    (tile rows) decode each segment about once while memory stays near one
    window. Use as a context manager (it keeps the file open).
    """

    def __init__(self, path: PathLike, *, mask: bool = False, upright: bool = False) -> None:
        """`upright`: a TIFF image tagged with an Orientation is read turned as `io.read_image` (the loaders) reads it
        (decoded whole; `height`/`width` are then the upright ones and `orientation` 1). Masks stay as stored."""
        self.path = Path(path)
        self.mask = mask
        self._upright, self._turn = upright, 1  # _turn: the orientation applied on decoding
        self._palette_colours = False
        self._one_bit = self._min_is_white = False
        self._tif: Any = None
        self._whole: np.ndarray | None = None
        self._cache: dict[int, np.ndarray] = {}
        self.geo: GeoTags | None = None
        self.photometric: str | None = None  # None: not a TIFF
        self.validity_mask = ""  # a GeoTIFF's GDAL mask, which no reader applies: "internal", "sidecar" or ""
        # By content too: a TIFF under another name (MetaMorph's .stk) handed to read_image would come back here.
        if is_tiff(self.path) or _holds_tiff(self.path):
            self._open_tiff()
        else:
            # Alpha kept: tiles hold every band of the source (an RGBA PNG's nodata alpha included).
            self._whole = read_mask(self.path) if mask else read_image(self.path, keep_alpha=True)
            if self._whole.ndim == 2:
                self._whole = self._whole[:, :, None]
            self.height, self.width, self.bands = self._whole.shape
            self.dtype = self._whole.dtype
            self.orientation = 1  # read_image applied it
            self.alpha = False
            self.alpha_sample: str | None = None

    # ---- TIFF

    def _open_tiff(self) -> None:
        tifffile = _tifffile()
        try:
            self._tif = tifffile.TiffFile(self.path)
            page = self._tif.pages.first
            shape = page.shape
        except FileNotFoundError:
            raise DataprepError(self.path, "file not found") from None
        except Exception as exc:  # noqa: BLE001 - tifffile raises many types for broken files
            self.close()
            raise DataprepError(self.path, f"unreadable TIFF: {_short(exc)}") from None
        self._page = page
        if page.axes not in ("YX", "YXS", "SYX"):
            self.close()
            raise DataprepError(self.path, f"unsupported TIFF layout {page.axes!r} (expected YX, YXS or SYX)")
        pages = stack_pages(self._tif)
        if pages > 1:
            self.close()
            raise TiffStackError(self.path, f"a stack of {pages} pages of {page.imagewidth}x{page.imagelength}, "
                                            "not one image; split it with `dataprep unstack`")
        self.height, self.width = int(page.imagelength), int(page.imagewidth)
        self.bands = int(page.samplesperpixel)
        self.dtype = np.dtype(page.dtype)
        # 1-bit (bool in tifffile): read as 0/255 like OpenCV's 1-bit PNGs, and as classes 0/1 in masks, like
        # PIL's; a bool mask was refused ("mask is bool") and a bool image reached stats and the writers.
        self._one_bit = self.dtype == np.bool_
        if self._one_bit:
            self.dtype = np.dtype(np.uint8)
        self.geo = _geo_of(page)
        self.validity_mask = _gdal_validity_mask(self.path, self._tif) if self.geo is not None else ""
        self.photometric = _photometric_of(page)
        if self.photometric == "ycbcr" and int(page.compression) in _JPEG_CODECS:
            # JPEG-compressed YCbCr (GDAL's usual JPEG GeoTIFF, rasterio's goes.tif) decodes to RGB in tifffile and
            # libtiff alike: tile and resize refused the files that stats read.
            self.photometric = "rgb"
        self.orientation = _orientation_of(page)
        # Min-is-white: images read as a viewer shows them, masks as stored. PIL and OpenCV invert both, and an
        # ImageJ mask saved with an inverting LUT (objects 255) came back with object and background swapped.
        self._min_is_white = self.photometric == "miniswhite" and self.bands == 1 and self.dtype.kind == "u"
        if self._min_is_white and not self.mask:
            self.photometric = "minisblack"  # what the pixels read are
        # Only a declared alpha sample is alpha: tifffile marks extra bands of a
        # multispectral image "unspecified" (0), and those are data. GDAL writes an
        # alpha after them (rasterio's RGBA.uint16.tif: extras unspecified, unspecified, alpha).
        extras = tuple(int(e) for e in (page.extrasamples or ()))
        self.alpha = bool(extras) and extras[-1] in (1, 2) and not any(extras[:-1])
        self._unassociated_alpha = self.alpha and extras[-1] == 2
        # What the last band is, to write it back the same (premultiplied colours stay premultiplied).
        self.alpha_sample = ("unassalpha" if extras[-1] == 2 else "assocalpha") if self.alpha else None
        self._layout = self._segment_layout(page, len(shape))
        # Volumetric or unusual layouts are decoded whole, on the first read: opening
        # stays a header read (sizes are checked before anything is decoded).
        self._palette_colours = not self.mask and self.photometric == "palette" and self.bands == 1
        if self._palette_colours:
            # A palette image's pixels are its colours, as stats and every viewer read them: tiles of its indices
            # lost the colour table, and resizing averaged indices into other colours.
            self.bands, self.dtype, self.photometric, self._layout = 3, np.dtype(np.uint8), "rgb", None
        if self._upright and not self.mask and self.orientation != 1:
            # tile, resize and predict read TIFFs here while the loaders turn them upright: a photo tagged 3 gave
            # tiles and resized copies upside down against their masks (and against what training read).
            self._turn, self._layout = self.orientation, None
            if self._turn >= 5:
                self.height, self.width = self.width, self.height
            self.orientation = 1
        if self.mask and self.dtype.kind == "f":
            # Float label maps (NIfTI conversions) as read_mask reads them, whole numbers as classes, decided over
            # the whole map (decoded on opening): tile refused them and resize wrote float tiles.
            self._whole = labels_from_floats(self.path, self._decode_whole())
            self.dtype, self._layout = self._whole.dtype, None

    def _segment_layout(self, page: Any, ndim: int) -> tuple[int, int, int, int, int] | None:
        """(segment height, width, rows of segments, columns, planes) or None when not a plain strip/tile layout."""
        if page.imagedepth != 1 or page.tiledepth not in (0, 1, None):
            return None
        if page.is_tiled:
            sh, sw = int(page.tilelength), int(page.tilewidth)
        else:
            sh, sw = min(int(page.rowsperstrip or self.height), self.height), self.width
        ny, nx = math.ceil(self.height / sh), math.ceil(self.width / sw)
        planes = self.bands if page.planarconfig == 2 else 1
        if len(page.dataoffsets) != planes * ny * nx:
            return None
        return sh, sw, ny, nx, planes

    def _decode_whole(self) -> np.ndarray:
        array = self._decode_stored()
        return np.ascontiguousarray(apply_orientation(array, self._turn)) if self._turn != 1 else array

    def _decode_stored(self) -> np.ndarray:
        if self._palette_colours:
            return self._decode_with_libtiff(DataprepError(self.path, "cannot decode this palette TIFF"))
        try:
            array = self._page.asarray()
        except Exception as exc:  # noqa: BLE001
            reason = self._codec_needed() if isinstance(exc, ImportError) else f"cannot decode: {_short(exc)}"
            return self._decode_with_libtiff(DataprepError(self.path, reason))
        return _as_hwc(array, self._page)

    def _codec_needed(self) -> str:
        """tifffile's codec is missing here (its ZSTD without the module it needs)."""
        name = getattr(self._page.compression, "name", self._page.compression)
        return (f"cannot decode its {name} compression here: that needs the imagecodecs package "
                "(pip install imagecodecs)")

    @property
    def libtiff_reads_right(self) -> bool:
        """Whether libtiff (OpenCV's, PIL's) decodes this TIFF to the same bands: gray, RGB, RGBA of 8/16 bits,
        in a compression libtiff's own codecs hold (JPEG-XL, JPEG 2000 and PNG-compressed TIFFs came back from
        OpenCV as zeros, which stats took for black images)."""
        if self.dtype not in (np.uint8, np.uint16) or int(self._page.compression) not in _LIBTIFF_CODECS:
            return False
        if self._palette_colours:
            return True
        if self.photometric == "rgb":
            # Planar 16-bit colour came back from OpenCV as other (changing) values: Pillow's planar LZW samples.
            planar16 = self.dtype == np.uint16 and self._page.planarconfig == 2
            return not planar16 and (self.bands == 3 or (self.bands == 4 and self.alpha))
        return self.photometric in ("minisblack", "miniswhite") and self.bands == 1

    def missing_codec(self) -> str | None:
        """The compression's name when tifffile has no decoder for it here and libtiff would misread the
        raster (more bands than RGBA, floats): then no reader can decode it; else None."""
        compression = self._page.compression
        if self.libtiff_reads_right or has_decoder(compression):
            return None
        return getattr(compression, "name", str(compression))

    def _decode_with_libtiff(self, error: DataprepError) -> np.ndarray:
        """The whole raster through OpenCV or PIL when tifffile lacks the codec; `error` when they would misread it
        (or cannot decode it either: then a cut-short file is named so, as scan names it, not a missing codec)."""
        try:
            return self._libtiff_pixels(error)
        except DataprepError:
            short = check_complete(self.path)
            if short:
                raise TruncatedError(self.path, short) from None
            raise

    def _libtiff_pixels(self, error: DataprepError) -> np.ndarray:
        if not self.libtiff_reads_right:
            raise error  # e.g. 4 data bands OpenCV would read as one grey: say why it cannot be read
        from .io.decode import decode_tiff_with_opencv, decode_tiff_with_pil

        # OpenCV's libtiff reads 8-bit RGBA through TIFFReadRGBA, which premultiplies the
        # colours by an unassociated alpha (alpha 8 turns (119, 137, 97) into (4, 4, 3)); PIL keeps them.
        premultiplied = self.dtype == np.uint8 and self._unassociated_alpha
        try:
            array = decode_tiff_with_pil(self.path) if premultiplied else decode_tiff_with_opencv(self.path)
        except DataprepError:
            try:  # 2- and 4-bit grey, which OpenCV does not decode
                array = decode_tiff_with_pil(self.path)
            except DataprepError:
                raise error from None
        if array.shape != (self.height, self.width, self.bands) or array.dtype != self.dtype:
            raise error
        if self._min_is_white:
            array = np.iinfo(array.dtype).max - array  # libtiff inverted it
        bits = int(self._page.bitspersample)
        if self.mask and bits in (2, 4):
            array = array // np.uint8(255 // (2**bits - 1))  # PIL stretched the samples: the stored classes
        return array

    def _segment(self, index: int) -> np.ndarray:
        seg = self._cache.get(index)
        if seg is None:
            page = self._page
            fh = self._tif.filehandle
            offset, count = int(page.dataoffsets[index]), int(page.databytecounts[index])
            fh.seek(offset)
            data = fh.read(count) if count else None
            try:
                seg, _, _ = page.decode(data, index)
            except Exception as exc:  # noqa: BLE001 - a missing codec or corrupt segment
                reason = f"cannot decode TIFF segment {index}: {_short(exc)}"
                if isinstance(exc, ImportError):  # ZSTD: "No module named 'compression'"
                    reason = self._codec_needed()
                raise _SegmentError(self.path, reason) from None
            if seg is None:  # an empty (sparse) segment
                sh, sw = self._layout[0], self._layout[1]
                seg = np.zeros((1, sh, sw, 1 if self._layout[4] > 1 else self.bands), self.dtype)
            seg = seg.reshape(seg.shape[-3:])  # (h, w, samples)
            self._cache[index] = seg
        return seg

    # ---- windows

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Pixels [y0:y1, x0:x1] (clipped to the raster) as (h, w, C) in the raster's dtype."""
        y0, x0 = max(0, y0), max(0, x0)
        y1, x1 = min(self.height, y1), min(self.width, x1)
        if self._whole is None and self._layout is None:
            self._whole = self._decode_whole()
        if self._whole is None:
            try:
                return self._read_segments(y0, y1, x0, x1)
            except _SegmentError as exc:  # a codec tifffile lacks: OpenCV decodes the whole file instead
                self._whole, self._cache = self._decode_with_libtiff(exc), {}
        return self._as_read(np.ascontiguousarray(self._whole[y0:y1, x0:x1]))

    def _as_read(self, array: np.ndarray) -> np.ndarray:
        """Stored pixels as callers get them: 1-bit ones as 0/1 (masks) or 0/255 (images); a min-is-white image as
        the grey a viewer shows, where a mask keeps the labels it stores."""
        invert = self._min_is_white and not self.mask
        if self._one_bit:
            bits = (array == 0) if invert else (array != 0)
            return bits.astype(np.uint8) * np.uint8(1 if self.mask else 255)
        return np.iinfo(array.dtype).max - array if invert else array

    def _read_segments(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        sh, sw, ny, nx, planes = self._layout
        out = np.empty((max(0, y1 - y0), max(0, x1 - x0), self.bands), self.dtype)
        keep_from = y1 - (y1 - y0) // 4
        kept: dict[int, np.ndarray] = {}
        for cy in range(y0 // sh, (y1 - 1) // sh + 1 if y1 > y0 else 0):
            for cx in range(x0 // sw, (x1 - 1) // sw + 1 if x1 > x0 else 0):
                for plane in range(planes):
                    index = (plane * ny + cy) * nx + cx
                    seg = self._segment(index)
                    sy, sx = cy * sh, cx * sw
                    if sy + sh > keep_from:
                        kept[index] = seg
                    a, b = max(y0, sy), min(y1, sy + sh, sy + seg.shape[0])
                    c, d = max(x0, sx), min(x1, sx + sw, sx + seg.shape[1])
                    if a >= b or c >= d:
                        continue
                    block = seg[a - sy : b - sy, c - sx : d - sx]
                    if planes > 1:
                        out[a - y0 : b - y0, c - x0 : d - x0, plane] = block[:, :, 0]
                    else:
                        out[a - y0 : b - y0, c - x0 : d - x0] = block
                    self._cache.pop(index, None)  # a full read never holds a second copy
        self._cache = kept
        return self._as_read(out)

    def read_all(self) -> np.ndarray:
        """The whole raster, decoded by tifffile straight into one array (no segment cache)."""
        if self._whole is not None:
            return self._as_read(np.ascontiguousarray(self._whole))
        return self._as_read(np.ascontiguousarray(self._decode_whole()))

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None
        self._cache = {}

    def __enter__(self) -> "RasterReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- writing


def write_raster(
    path: PathLike,
    array: np.ndarray,
    *,
    mask: bool = False,
    palette: np.ndarray | None = None,
    geo: GeoTags | None = None,
    photometric: str | None = None,
    alpha: bool | str | None = False,
) -> None:
    """Write (H, W[, C]) pixels atomically; TIFF keeps any band count and dtype, others go through dataprep.io.

    `mask=True` writes a label map (PNG via `io.write_mask`, with `palette` for a
    palette PNG). `geo`, `photometric` and `alpha` (the last band is the source's alpha: its
    `RasterReader.alpha_sample`, "unassalpha" or "assocalpha"; True means unassociated) apply to TIFF only.
    """
    path = Path(path)
    array = np.asarray(array)
    if not is_tiff(path):
        if mask:
            write_mask(path, array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array, palette=palette)
        else:
            write_image(path, array)
        return
    tifffile = _tifffile()
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        photo = "minisblack"
    elif photometric == "rgb" and array.shape[2] >= 3:
        photo = "rgb"
    else:
        photo = "minisblack"
    kwargs: dict[str, Any] = {"photometric": photo, "metadata": None}
    if mask and palette is not None and array.ndim == 2 and array.dtype == np.uint8 and len(palette):
        # A palette label map as a palette TIFF (--mask-format tif): its tiles and the stitched map were grey.
        table = np.zeros((256, 3), np.uint16)
        colours = np.asarray(palette, np.uint16).reshape(-1, 3)[:256]
        table[: len(colours)] = colours * 257
        kwargs.update(photometric="palette", colormap=np.ascontiguousarray(table.T))
    if array.ndim == 3:
        kwargs["planarconfig"] = "contig"
        extra = array.shape[2] - (3 if photo == "rgb" else 1)
        if extra > 0:
            # The last band is alpha only when the source's was: a NIR band tagged alpha was lost to every later
            # read, and GDAL's gray + unspecified + alpha layout (rasterio's RGBA.uint16.tif) lost its alpha.
            last = alpha if isinstance(alpha, str) else "unassalpha" if alpha else "unspecified"
            kwargs["extrasamples"] = ("unspecified",) * (extra - 1) + (last,)
    if geo is not None:
        kwargs["extratags"] = geo.extratags()
    # tifffile wants a named file: the hidden temporary name of every atomic write, renamed when complete.
    try:
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, np.ascontiguousarray(array), **kwargs)
    except BaseException as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            # The disk's fault, as every other writer says it: a full disk writing GeoTIFF tiles went on to fail
            # each further tile ("cannot write TIFF of uint8 ...: [Errno 28]") instead of stopping the run.
            raise write_error(path, exc) from None
        if isinstance(exc, Exception) and not isinstance(exc, DataprepError):
            raise DataprepError(path, f"cannot write TIFF of {array.dtype} {array.shape}: {_short(exc)}") from None
        raise


def png_can_hold(array: np.ndarray) -> bool:
    """Whether a PNG keeps these pixels exactly: uint8/uint16 with 1, 3 or 4 channels."""
    channels = 1 if array.ndim == 2 else array.shape[2]
    return array.dtype in (np.uint8, np.uint16) and channels in (1, 3, 4)
