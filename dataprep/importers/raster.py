"""Shapes -> pixels, each format the way its own tool draws it.

Every rasterizer returns the runs a region covers, `(starts, ends)` over the
image's pixels in column-major order (pixel `x * height + y`), the order of COCO's
RLE: a COCO region is painted straight from its RLE, never expanded to pixels.

Rules (what each format's tool or reference converter does, matched on purpose):
- `coco_polygon`, `coco_rle`: pycocotools (`frPyObjects`, the RLE as stored):
  exactly what `COCO.annToMask` gives; CVAT polygons and boxes use it too, as
  CVAT's own mask exporter (datumaro) does.
- `pil_*`: PIL `ImageDraw` with float vertices, outline included, as labelme's
  `shape_to_mask` (so `labelme2voc.py` output is reproduced).
- `pil_ellipse`: an ellipse by centre and radii (VIA, Label Studio; rotated ones
  are polygons, `ellipse_region`).
- `ls_brush`: Label Studio's brush RLE, decoded as label-studio-converter does, alpha > 128.
- `cv2_polygon`: vertices scaled to pixels and truncated to int, then
  `cv2.fillPoly`, as ultralytics' `polygon2mask` for YOLO segment labels.
- `cvat_rle`: CVAT's mask RLE: row-major runs inside the box left/top/width/height,
  background run first.
- `mask_file`: a binary mask image, non-zero = the region.
- `colour_mask`, `panoptic_png`: whole label images (CVAT colour masks through
  labelmap.txt, COCO panoptic segment ids), split into one region per class.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ..errors import DataprepError, UsageError
from ..io import LOSSY_EXTENSIONS, has_extension, read_mask

Rasterizer = Callable[[Any, int, int], "Runs"]


# --------------------------------------------------------------------------- COCO RLE


Runs = tuple[np.ndarray, np.ndarray]  # (starts, ends), int64, sorted, non-overlapping; column-major


def mask_runs(mask: np.ndarray) -> Runs:
    """The runs of a (H, W) mask's non-zero pixels, column-major."""
    flat = np.ascontiguousarray(mask.T).ravel() != 0
    return _flat_runs(flat.view(np.int8))


def _flat_runs(flat: np.ndarray) -> Runs:
    """(starts, ends) of the runs of 1 in a flat int8 array of 0 and 1."""
    edges = np.diff(flat, prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def coco_counts(counts: str | bytes) -> np.ndarray:
    """Decode a compressed COCO RLE string to its run lengths (pycocotools' rleFrString, vectorized).

    Each count is a little-endian base-32 number, 5 bits per character offset by
    48, 0x20 marking "more characters", 0x10 in the last one the sign; from the
    third count on each is stored as the difference to the count two before.
    """
    raw = np.frombuffer(counts.encode("ascii") if isinstance(counts, str) else counts, np.uint8)
    if not len(raw):
        return np.zeros(0, np.int64)
    if raw.min() < 48 or raw.max() > 48 + 63:
        raise ValueError("RLE string holds characters outside the COCO alphabet")
    c = raw.astype(np.int64) - 48
    last = (c & 0x20) == 0
    if not last[-1]:
        raise ValueError("RLE string ends in the middle of a count")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.repeat(np.arange(len(ends)), ends - starts + 1)
    digit = np.arange(len(c)) - starts[group]
    values = np.add.reduceat((c & 0x1F) << (5 * digit), starts)
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * (ends - starts + 1)[negative])
    out = values.copy()
    out[1::2] = np.cumsum(values[1::2])
    if len(values) > 2:
        out[2::2] = np.cumsum(values[2::2])
    return out


def rle_runs(counts: np.ndarray, height: int, width: int) -> Runs:
    """The foreground runs (odd positions) of an RLE's run lengths, in the RLE's own pixel order."""
    counts = np.asarray(counts, np.int64)
    if (counts < 0).any():
        raise ValueError("RLE has negative run lengths")
    total = int(counts.sum())
    if total != height * width:
        raise ValueError(f"RLE runs cover {total} pixels, not {height}x{width} = {height * width}")
    bounds = np.cumsum(counts)
    starts, ends = bounds[0::2][: len(counts) // 2], bounds[1::2]
    keep = ends > starts
    return starts[keep], ends[keep]


def require_pycocotools(path: Any) -> None:
    """A one-line error instead of an ImportError when polygons need pycocotools and it is missing."""
    try:
        import pycocotools.mask  # noqa: F401
    except ImportError:
        raise UsageError(path, "polygons are rasterized with pycocotools, which is not installed: "
                               "pip install 'dataprep[coco]'") from None


# pycocotools' rleFrPoly keeps a point per fifth of a pixel of outline, in C ints: a vertex at 1e12, inf or NaN
# (int-cast to INT_MIN) made it allocate terabytes and segfault (cocoapi#380), killing the whole import without a
# word; at 1e7 one 40x30 image took 840 MB. 2**24 points is an outline of ~3.4 million pixels, far past any real
# shape's (a 100-megapixel image's border is 40,000).
_MAX_OUTLINE_POINTS = 2 ** 24


def _check_coco_polygon(poly: list[float], height: int, width: int) -> None:
    flat = np.asarray(poly, np.float64)
    lo, hi = float(flat.min()), float(flat.max())  # NaN in either: the full check names the point
    # Every edge spans at most 5 * (hi - lo) steps: a bound for what real shapes are, at two reductions
    # (the full check cost the COCO import a sixth of its time).
    if -2 ** 28 < lo and hi < 2 ** 28 and (len(flat) // 2) * (5 * (hi - lo) + 1) <= _MAX_OUTLINE_POINTS:
        return
    xy = flat.reshape(-1, 2)
    finite = np.isfinite(xy).all(axis=1)
    if not finite.all():
        x, y = xy[np.argmin(finite)]
        raise ValueError(f"polygon point ({x:g}, {y:g}) is not a finite number")
    scaled = np.trunc(5 * xy + 0.5)  # pycocotools' (int)(scale * x + .5)
    steps = np.abs(scaled - np.roll(scaled, -1, axis=0)).max(axis=1).sum() + len(xy)
    if np.abs(scaled).max() >= 2 ** 31 or steps > _MAX_OUTLINE_POINTS:
        x, y = xy[np.argmax(np.abs(xy - (width / 2, height / 2)).max(axis=1))]
        raise ValueError(f"polygon point ({x:g}, {y:g}) lies far outside the {width}x{height} image "
                         f"(an outline of {steps / 5:,.0f} pixels): a corrupt coordinate")


def _coco_polygon(data: Any, height: int, width: int) -> Runs:
    from pycocotools import mask as mask_utils

    for poly in data:
        _check_coco_polygon(poly, height, width)
    rles = mask_utils.frPyObjects([list(map(float, p)) for p in data], height, width)
    rle = mask_utils.merge(rles) if len(rles) > 1 else rles[0]  # the union, as annToMask makes it
    return rle_runs(coco_counts(rle["counts"]), height, width)


def _coco_rle(data: Any, height: int, width: int) -> Runs:
    counts = data["counts"]
    size = [int(v) for v in data["size"]]
    if size != [height, width]:
        raise ValueError(f"RLE size {size[1]}x{size[0]} (w x h) is not the image's {width}x{height}")
    runs = coco_counts(counts) if isinstance(counts, (str, bytes)) else np.asarray(counts, np.int64)
    return rle_runs(runs, height, width)


# --------------------------------------------------------------------------- PIL (labelme)


Reach = Callable[[np.ndarray, Any], float]  # how far beyond its points' box a shape may paint


def _pil(draw_fn: Callable[[ImageDraw.ImageDraw, list[tuple[float, float]], Any], None],
         reach: Reach = lambda pts, extra: 1.0) -> Rasterizer:
    """Draw on the rows the shape spans only, shifted up by whole rows, and keep the columns it can reach, so a
    small shape on a large image costs its own size, not the image's. Only rows are shifted: PIL finds each
    row's edge crossings as x0 + (y - y0) * slope, so a shift in y leaves every crossing bit for bit the same,
    a shift in x rounds some differently (1 pixel in about 200 random polygons)."""
    def rasterize(data: Any, height: int, width: int) -> Runs:
        points, extra = data
        pts = np.asarray([(float(x), float(y)) for x, y in points], np.float64).reshape(-1, 2)
        margin = reach(pts, extra) + 2
        top = max(0, int(np.floor(pts[:, 1].min() - margin)))
        bottom = min(height, int(np.ceil(pts[:, 1].max() + margin)) + 1)
        # Drawn at its own x, but only the columns it can reach are copied and turned into runs.
        left = max(0, int(np.floor(pts[:, 0].min() - margin)))
        right = min(width, int(np.ceil(pts[:, 0].max() + margin)) + 1)
        if bottom <= top or right <= left:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        canvas = Image.new("L", (width, bottom - top), 0)
        draw_fn(ImageDraw.Draw(canvas), [(x, y - top) for x, y in pts.tolist()], extra)
        box = canvas.crop((left, 0, right, bottom - top))
        bitmap = np.frombuffer(box.tobytes(), np.uint8).reshape(bottom - top, right - left)
        return box_runs(bitmap != 0, left, top, height)

    return rasterize


def _pil_polygon(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], _: Any) -> None:
    draw.polygon(xy, outline=1, fill=1)


def _pil_rectangle(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], _: Any) -> None:
    (x1, y1), (x2, y2) = xy
    draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=1, fill=1)


def _pil_circle(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], _: Any) -> None:
    (cx, cy), (px, py) = xy
    d = float(np.hypot(cx - px, cy - py))
    draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)


def _pil_ellipse(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], radii: Any) -> None:
    (cx, cy), (rx, ry) = xy[0], radii
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], outline=1, fill=1)


def ellipse_region(cx: float, cy: float, rx: float, ry: float, theta: float) -> tuple[str, Any]:
    """(kind, data) of an ellipse by centre, radii and rotation (radians, clockwise on screen): PIL's ellipse
    unrotated, a 720-gon otherwise (PIL draws no rotated ellipse); vertices in image coordinates."""
    if theta % np.pi == 0 or rx == ry:
        return "pil_ellipse", ([(cx, cy)], (rx, ry))
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(theta), np.sin(theta)
    return "pil_polygon", (list(zip((cx + c * x - s * y).tolist(), (cy + s * x + c * y).tolist())), None)


def _pil_line(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], width: Any) -> None:
    draw.line(xy, fill=1, width=int(width))


def _pil_linestrip(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], width: Any) -> None:
    # labelme rounds a linestrip's joints, so a wide line has no notch where it turns.
    draw.line(xy, fill=1, width=int(width), joint="curve")


def _pil_mask(data: Any, height: int, width: int) -> Runs:
    """labelme 5 `mask` shapes: a binary PNG placed at the rounded top-left of the shape's box, as labelme's
    `shapes_to_label` places it: integer corners crop it to the box, fractional ones keep its own size."""
    corners, mask = data
    box = np.asarray(corners, np.float64).reshape(-1, 2)
    (x0, y0), (x1, y1) = np.round(box[:2]).astype(int) if len(box) >= 2 else (np.round(box[0]).astype(int),) * 2
    if len(box) >= 2 and np.array_equal(box[:2], np.trunc(box[:2])):
        mask = mask[: max(0, y1 - y0 + 1), : max(0, x1 - x0 + 1)]
    canvas = np.zeros((height, width), bool)
    top, left = max(y0, 0), max(x0, 0)
    sub = mask[top - y0 : max(top - y0, height - y0), left - x0 : max(left - x0, width - x0)]
    canvas[top : top + sub.shape[0], left : left + sub.shape[1]] = sub
    return mask_runs(canvas)


def _ls_brush(data: Any, height: int, width: int) -> Runs:
    """Label Studio brush: its RLE decoded to the RGBA canvas, alpha > 128 (`ls_rle.py`)."""
    from .ls_rle import brush_mask

    return mask_runs(brush_mask(data, height, width))


# --------------------------------------------------------------------------- cv2 (ultralytics)


def _cv2_polygon(data: Any, height: int, width: int) -> Runs:
    pts = np.asarray(data, np.float64).reshape(-1, 2) * (width, height)
    canvas = np.zeros((height, width), np.uint8)
    cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)
    return mask_runs(canvas)


def _norm_box(data: Any, height: int, width: int) -> Runs:
    """A box (x1, y1, x2, y2) in 0..1 image units: the pixels between its edges rounded to the pixel grid, as a
    COCO `bbox` draws. (As a polygon through cv2, whose edges are inclusive and whose points truncate, a 3x1 box
    of Roboflow's YOLO sample drew 5x3: 0.35 - 0.15 is 0.1999..., and both edges took a pixel.)"""
    x1, y1, x2, y2 = (float(v) for v in data)
    left, right = (min(max(round(v * width), 0), width) for v in (x1, x2))
    top, bottom = (min(max(round(v * height), 0), height) for v in (y1, y2))
    if right <= left or bottom <= top:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return box_runs(np.ones((bottom - top, right - left), np.uint8), left, top, height)


# --------------------------------------------------------------------------- CVAT, mask files


def _cvat_rle(data: Any, height: int, width: int) -> Runs:
    left, top, w, h, counts = data
    if left < 0 or top < 0 or left + w > width or top + h > height:
        raise ValueError(f"mask box {w}x{h} at ({left},{top}) lies outside the {width}x{height} image")
    starts, ends = rle_runs(np.asarray(counts, np.int64), h, w)  # row-major inside the box
    # The box's bitmap, never a list of its pixels (sorting those took 98 of 114 s on 41 MP photos).
    edges = np.zeros(h * w + 1, np.int8)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    return box_runs(np.cumsum(edges[:-1]).reshape(h, w) > 0, left, top, height)


def _kaggle_rle(data: Any, height: int, width: int) -> Runs:
    numbers, order, checked = data
    total = height * width
    starts = numbers[0::2] - 1
    ends = starts + numbers[1::2]
    if len(ends) and ends.max() > total:
        raise ValueError(f"RLE run ends at pixel {int(ends.max())}, past the {total} of the {width}x{height} image")
    starts, ends = _merged(starts, ends)
    if order == "column" and not (checked and height != width):
        return starts, ends
    # The pixels, as run lengths repeated: no per-pixel Python, no cumulative sum over the image.
    gaps = starts - np.concatenate(([0], ends[:-1]))
    counts = np.stack([gaps, ends - starts], axis=1).ravel()
    flat = np.repeat(np.tile(np.array([False, True]), len(starts)), counts)
    flat = np.concatenate([flat, np.zeros(total - len(flat), bool)])
    by_columns, by_rows = flat.reshape(width, height).T, flat.reshape(height, width)
    if checked and height != width:
        _refuse_stripes(by_columns if order == "column" else by_rows, by_rows if order == "column" else by_columns,
                        order)
    return (starts, ends) if order == "column" else mask_runs(by_rows)


def _merged(starts: np.ndarray, ends: np.ndarray) -> Runs:
    """Runs sorted by start, overlapping or touching ones joined."""
    if not len(starts):
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], np.maximum.accumulate(ends[order])
    first = np.concatenate(([True], starts[1:] > ends[:-1]))
    last = np.concatenate((first[1:], [True]))
    return starts[first], ends[last]


def _refuse_stripes(decoded: np.ndarray, other: np.ndarray, order: str) -> None:
    """An RLE decoded in the wrong order breaks shapes into stripes: more edges than the other order gives.
    On 1,536 real masks of CamVid, VOC, Kvasir, BUSI, SUIM, DRIVE and CHASE_DB1 encoded both ways, the wrong
    order gave at least 1.29 times the right one's edges, the right one at most 0.78 times the wrong one's.
    Regular patterns (1-pixel stripes, checkerboards) can pass for stripes: an order given explicitly is
    never second-guessed."""
    mine, theirs = _edge_count(decoded), _edge_count(other)
    if mine > 1.25 * theirs and mine - theirs >= 32:
        other_order = "row" if order == "column" else "column"
        raise ValueError(f"decoded {order}-major the mask is stripes ({mine:,} edge pixels against {theirs:,} "
                         f"{other_order}-major): its pixels are numbered the other way, --rle-order {other_order}")


def _edge_count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1]))


def box_runs(bitmap: np.ndarray, left: int, top: int, height: int) -> Runs:
    """The image runs of a (h, w) bitmap whose top-left pixel is (left, top) in an image `height` tall."""
    h, w = bitmap.shape
    # A zero row below the box keeps every column-major run inside one column, so runs map to the image one by one.
    columns = np.zeros((w, h + 1), np.int8)  # built transposed: one copy instead of two
    columns[:, :h] = bitmap.T
    local_starts, local_ends = _flat_runs(columns.ravel())
    column, row = np.divmod(local_starts, h + 1)
    image_start = (column + left) * height + row + top
    image_end = image_start + (local_ends - local_starts)
    if not len(image_start):
        return image_start, image_end
    joined = image_start[1:] == image_end[:-1]  # a box as tall as the image: columns continue each other
    return image_start[np.r_[True, ~joined]], image_end[np.r_[~joined, True]]


def _clipped_box_runs(mask: np.ndarray, left: int, top: int, height: int, width: int) -> Runs:
    """`box_runs` of a bitmap at (left, top), cut to the image (objects may reach past its edge)."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + w, width), min(top + h, height)
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return box_runs(mask[y0 - top : y1 - top, x0 - left : x1 - left], x0, y0, height)


def _sly_polygon(data: Any, height: int, width: int) -> Runs:
    """Supervisely's Polygon.draw: points floored (its PointLocation), the exterior filled with cv2 (8-connected),
    then each interior filled back out, on the polygon's own box."""
    exterior, interiors = data
    outer = np.floor(np.asarray(exterior, np.float64)).astype(np.int64)
    left, top = outer.min(axis=0)
    right, bottom = outer.max(axis=0)
    canvas = np.zeros((int(bottom - top) + 1, int(right - left) + 1), np.uint8)
    cv2.fillPoly(canvas, [(outer - (left, top)).astype(np.int32)], 1)
    holes = [(np.floor(np.asarray(h, np.float64)).astype(np.int64) - (left, top)).astype(np.int32)
             for h in interiors if len(h) >= 3]
    if holes:
        cv2.fillPoly(canvas, holes, 0)
    return _clipped_box_runs(canvas, int(left), int(top), height, width)


def _sly_rectangle(data: Any, height: int, width: int) -> Runs:
    """Supervisely's Rectangle.draw: cv2.rectangle FILLED, both corners inclusive."""
    (x1, y1), (x2, y2) = np.floor(np.asarray(data, np.float64)).astype(np.int64)
    left, right, top, bottom = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    return _clipped_box_runs(np.ones((int(bottom - top) + 1, int(right - left) + 1), bool), int(left), int(top),
                             height, width)


def _sly_bitmap(data: Any, height: int, width: int) -> Runs:
    """Supervisely's bitmap: base64 of a zlib-compressed PNG whose alpha (or single band) is the mask, its
    top-left pixel at `origin` [x, y]."""
    from .supervisely import decode_bitmap

    encoded, (left, top), source = data
    return _clipped_box_runs(decode_bitmap(encoded, source), int(left), int(top), height, width)


def _mask_file(data: Any, height: int, width: int) -> Runs:
    path = Path(data)
    mask = read_mask(path)
    if mask.shape[:2] != (height, width):
        raise DataprepError(path, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {width}x{height}")
    if has_extension(path.name, LOSSY_EXTENSIONS):
        # JPEG spreads a 0/255 mask's edges over 1..36 and 219..254: read as non-zero, each instance grew a halo
        # (7% more pixels on a 120x140 ellipse at quality 75); half its brightest value splits them exactly.
        grey = mask[:, :, :3].max(axis=2) if mask.ndim == 3 else mask
        return mask_runs(grey > grey.max(initial=0) / 2)
    if mask.ndim == 3:
        mask = mask[:, :, :3].any(axis=2)
    return mask_runs(mask)


# --------------------------------------------------------------------------- whole label images


def _split_by_value(keys: np.ndarray, table: dict[int, int], path: Path, what: str) -> list[tuple[int, Runs]]:
    """(label, runs) per key of `table`, in its order (a panoptic PNG's segments as `segments_info` lists them,
    which numbers their instances), no runs for a key the image lacks; segment id 0 absent from it is left
    unpainted."""
    flat = keys.T.ravel()  # column-major, as every rasterizer's runs
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(flat)]
    uniq, inverse = np.unique(flat[starts], return_inverse=True)
    unknown = [int(k) for k in uniq if int(k) not in table and not (k == 0 and what == "segment id")]
    if unknown:
        shown = ", ".join(_fmt_key(k, what) for k in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        source = "labelmap.txt" if what == "colour" else "segments_info"
        raise DataprepError(path, f"{len(unknown)} {what}(s) not in {source}: {shown}{more}")
    order = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(uniq)))]
    position = {key: i for i, key in enumerate(uniq.tolist())}
    out = []
    for key, label in table.items():
        rows = order[bounds[position[key]] : bounds[position[key] + 1]] if key in position else order[:0]
        out.append((label, (starts[rows], ends[rows])))
    return out


def _fmt_key(key: int, what: str) -> str:
    if what == "colour":
        return "({},{},{})".format(key & 255, (key >> 8) & 255, (key >> 16) & 255)
    return str(key)


def _read_rgb(path: Path, height: int, width: int) -> np.ndarray:
    mask = read_mask(path)
    if mask.ndim != 3 or mask.shape[2] not in (3, 4):
        raise DataprepError(path, f"expected an RGB colour mask, got shape {mask.shape}")
    if mask.shape[:2] != (height, width):
        raise DataprepError(path, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {width}x{height}")
    return mask[:, :, :3].astype(np.int64)


def _mat_label_image(data: Any, height: int, width: int, ignore_index: int, dtype: type) -> np.ndarray:
    """A MATLAB label array as the label map itself: its values are the class indices; VOC's 255 is ignore
    below 255 classes."""
    from .matlab import VOID, load_label_array

    path = Path(data[0])
    labels = load_label_array(path, data[1])
    if labels.shape != (height, width):
        raise DataprepError(path, f"label map is {labels.shape[1]}x{labels.shape[0]} but its image is "
                                  f"{width}x{height}")
    count, void = data[2], data[2] <= VOID  # below 255 classes, 255 is VOC's void
    highest = int(labels.max())
    if highest < count or (void and highest == VOID and int(np.where(labels == VOID, 0, labels).max()) < count):
        unknown = ()
    else:
        present = np.flatnonzero(np.bincount(labels.ravel()))
        unknown = present[(present >= count) & ~((present == VOID) & void)]
    if len(unknown):
        raise DataprepError(path, f"{len(unknown)} value(s) not in the class list: "
                                  f"{', '.join(str(v) for v in unknown[:5])}")
    out = labels.astype(dtype)
    if void and ignore_index != VOID:
        out[labels == VOID] = ignore_index
    return out


def _colour_mask(data: Any, height: int, width: int) -> list[tuple[int, np.ndarray]]:
    """CVAT Segmentation mask 1.1: colours -> classes through labelmap.txt."""
    path, colours = Path(data[0]), data[1]
    rgb = _read_rgb(path, height, width)
    keys = rgb[:, :, 0] | (rgb[:, :, 1] << 8) | (rgb[:, :, 2] << 16)
    table = {int(r) | int(g) << 8 | int(b) << 16: index for (r, g, b), index in colours.items()}
    return _split_by_value(keys, table, path, "colour")


def _panoptic_png(data: Any, height: int, width: int) -> list[tuple[int, np.ndarray]]:
    """COCO panoptic: id = R + 256 G + 256^2 B; id 0 (unlabelled) is left unpainted."""
    path, segments = Path(data[0]), data[1]
    rgb = _read_rgb(path, height, width)
    ids = rgb[:, :, 0] + 256 * rgb[:, :, 1] + 65536 * rgb[:, :, 2]
    return _split_by_value(ids, segments, path, "segment id")


# Whole label images whose parts are one instance each (a panoptic segment), numbered 1.. in the order given.
INSTANCE_PARTS = frozenset({"panoptic_png"})

MULTI_RASTERIZERS: dict[str, Callable[[Any, int, int], list[tuple[int, Runs]]]] = {
    "colour_mask": _colour_mask,
    "panoptic_png": _panoptic_png,
}


# Whole label images that are the label map as they are (values already class indices): written as they
# are, without painting; their instance map, when asked for, is empty. (data, height, width, ignore index,
# dtype) -> (H, W) labels.
def _ade20k_label_image(data: Any, height: int, width: int, ignore_index: int, dtype: type) -> np.ndarray:
    from .ade20k import ade20k_label_image

    return ade20k_label_image(data, height, width, ignore_index, dtype)


LABEL_IMAGES: dict[str, Callable[[Any, int, int, int, type], np.ndarray]] = {
    "mat_labels": _mat_label_image,
    "ade20k_seg": _ade20k_label_image,
}


RASTERIZERS: dict[str, Rasterizer] = {
    "coco_polygon": _coco_polygon,
    "coco_rle": _coco_rle,
    "pil_polygon": _pil(_pil_polygon),
    "pil_rectangle": _pil(_pil_rectangle),
    "pil_circle": _pil(_pil_circle, lambda pts, _: float(np.hypot(*(pts[0] - pts[1])))),
    "pil_line": _pil(_pil_line, lambda pts, width: float(width)),
    "pil_linestrip": _pil(_pil_linestrip, lambda pts, width: float(width)),
    "pil_ellipse": _pil(_pil_ellipse, lambda pts, axes: float(max(axes[0], axes[1]))),
    "pil_mask": _pil_mask,
    "cv2_polygon": _cv2_polygon,
    "norm_box": _norm_box,
    "cvat_rle": _cvat_rle,
    "sly_polygon": _sly_polygon,
    "sly_rectangle": _sly_rectangle,
    "sly_bitmap": _sly_bitmap,
    "kaggle_rle": _kaggle_rle,
    "ls_brush": _ls_brush,
    "mask_file": _mask_file,
}


def rasterize(kind: str, label: int, data: Any, height: int, width: int) -> list[tuple[int, Runs]]:
    """(label, runs) pairs a region paints: one pair, or one per class of a label image."""
    if kind in MULTI_RASTERIZERS:
        return MULTI_RASTERIZERS[kind](data, height, width)
    return [(label, RASTERIZERS[kind](data, height, width))]
