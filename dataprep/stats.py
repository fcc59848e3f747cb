"""Dataset statistics: per-band image moments and percentiles, class pixel counts and weights.

One streaming pass over the manifest. Every row becomes a small `Partial`
(exact per-band histograms of the image, class pixel counts of the label
map); `merge_partials` combines them; the final numbers are computed once from
the merged partial. Merging adds integer counts (and, for float images, exact
fractions), so it is exact, associative and commutative: a serial run, a
process pool and a Dask tree reduction give the same bits in any order, which a
floating-point Chan/Welford merge of per-image (mean, M2) guarantees only for
one fixed merge order.

The work is split by job:
- `pixel_stats.py`: the image side (exact histograms, their merge, mean/std/percentiles);
  `float_stats.py` for float images (exact fraction sums, fixed-bin percentiles);
- `class_stats.py`: the label side (class counts, frequencies, weights) and the class options;
- this module: one row's partial, the merge, the pass over an executor and stats.json.

Every public name of those modules is importable from here. The result is the
`stats.json` contract documented in docs/stats_kfold.md, read back as
`contracts.Stats`.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .class_stats import (
    AUTO,
    ENET_C,
    ClassInfo,
    IgnoreIndex,
    LabelAccumulator,
    LabelPartial,
    class_summary,
    class_weights,
    ignore_inside_classes_warning,
    ignore_is_a_class_warning,
    label_partial,
    one_class_warning,
    resolve_classes,
    segnet_void_warning,
    unconverted_warning,
)
from .contracts import STATS_VERSION, Stats
from .stats_origin import MeasuredOn
from .errors import DataprepError, all_failed
from .executor import Executor, OnError, run_items
from .io import PathLike, atomic_write_text, load_sample
from .manifest import Manifest, ManifestRow, read_manifest, require_rows
from .repeats import repeated_files, repeated_files_warnings
from .pixel_stats import (
    PERCENTILES,
    PixelAccumulator,
    PixelPartial,
    hist_moments,
    hist_percentile,
    image_partial,
    image_summary,
    narrow_sixteen_bit_warning,
)
from .progress import progress_bar
from .sample import DEFAULT_IGNORE_INDEX
from .sampleio import BGR_KEY, load_row_mask, nodata_of
from .split_column import select_splits, split_mix

# Rows per run_items call: bounds the partials held in memory at once.
_BLOCK = 1024


@dataclass
class Partial:
    """What one row (or a merged run of rows) contributes to the statistics."""

    num_images: int = 0
    image: PixelPartial | None = None
    labels: LabelPartial | None = None


def per_image_partial(row: ManifestRow, *, images: bool = True, labels: bool = True, num_classes: int | None = None,
                      ignore_index: int | None = DEFAULT_IGNORE_INDEX) -> Partial:
    """Read one manifest row and measure it. Top-level and picklable, for any executor."""
    part = Partial(num_images=1)
    if images:
        # Counting needs neither RGB order nor a contiguous copy (counting=True).
        sample = load_sample(row, mask="optional" if labels else "skip", purpose="stats", counting=True)
        part.image = image_partial(sample.image, row.image_str, bgr=sample.meta.extra.get(BGR_KEY, False),
                                   nodata=nodata_of(sample))
        mask = sample.mask
    else:
        mask = load_row_mask(row, required=False, purpose="stats") if labels else None
    if mask is not None:
        part.labels = label_partial(mask, num_classes=num_classes, ignore_index=ignore_index, source=row.mask_str)
    return part


def merge_partials(partials: Iterable[Partial | None]) -> Partial:
    """Combine partials (None entries are skipped); the result is a Partial too, so merges nest.

    Every field is an integer count and merging adds them, so the result is
    exact and the same whatever the order or grouping of the merges (serial,
    process pool, a tree reduction on a cluster).
    """
    num_images = 0
    image_acc: PixelAccumulator | None = None
    label_acc = LabelAccumulator()
    for p in partials:
        if p is None:
            continue
        num_images += p.num_images
        if p.image is not None:
            if image_acc is None:
                image_acc = PixelAccumulator(p.image)
            else:
                image_acc.add(p.image)
        if p.labels is not None:
            label_acc.add(p.labels)
    return Partial(
        num_images=num_images,
        image=image_acc.result() if image_acc is not None else None,
        labels=label_acc.result() if label_acc.num_images else None,
    )


@dataclass
class StatsResult:
    stats: dict[str, Any]  # the stats.json content
    errors: list[str]  # one line per skipped row
    warnings: list[str] = field(default_factory=list)  # valid results that are most likely not what was meant


def collect_partials(rows: Sequence[ManifestRow], fn: Callable[[ManifestRow], Partial], *,
                     executor: Executor | None = None, on_error: OnError = "skip", quiet: bool = False,
                     desc: str = "stats", merge: bool = False) -> tuple[list[Partial | None], list[str]]:
    """Run `fn` over `rows` on `executor`; partials in input order (None for failed rows) and the error lines.

    With `merge=True` the partials are folded block by block as they arrive, so
    memory stays flat on huge manifests; the list then holds the one merged
    Partial, bit-identical to merging them all at once.
    """
    out: list[Partial | None] = []
    errors: list[str] = []
    with progress_bar(total=len(rows), desc=desc, unit="file", quiet=quiet, leave=False) as bar:
        for start in range(0, len(rows), _BLOCK):
            block = rows[start : start + _BLOCK]
            results = run_items(fn, block, executor=executor, on_error=on_error, quiet=True)
            errors.extend(r.error for r in results if r.error is not None)
            partials = [r.value for r in results]
            out = [merge_partials([*out, *partials])] if merge else [*out, *partials]
            bar.update(len(block))
    if merge and not out:
        out = [Partial()]
    return out, errors


def collect_stats(manifest: Manifest | PathLike, *, palette: PathLike | None = None, num_classes: int | None = None,
                  ignore_index: IgnoreIndex = AUTO, executor: Executor | None = None, on_error: OnError = "skip",
                  quiet: bool = False, splits: Sequence[str] | None = None) -> StatsResult:
    """Measure every row of the manifest (of `splits` only, by its split column, when given); return the
    stats.json dict and the rows skipped."""
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    require_rows(manifest)
    mix = split_mix(manifest) if splits is None else None
    if splits is not None:
        manifest = select_splits(manifest, splits)
    info = resolve_classes(manifest, palette=palette, num_classes=num_classes, ignore_index=ignore_index)
    fn = functools.partial(per_image_partial, num_classes=info.num_classes, ignore_index=info.ignore_index)
    (merged,), errors = collect_partials(manifest.rows, fn, executor=executor, on_error=on_error, quiet=quiet,
                                         merge=True)
    if errors and len(errors) == len(manifest):
        raise all_failed(manifest.path, errors, "rows")
    if merged.image is None:
        raise DataprepError(manifest.path, f"no readable images ({len(errors)} failed)"
                            + (f"; first: {errors[0]}" if errors else ""))
    has_masks = any(r.mask is not None for r in manifest.rows)
    classes = None
    if has_masks:
        labels = merged.labels or LabelPartial(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        classes = class_summary(labels, num_classes=info.num_classes, ignore_index=info.ignore_index, names=info.names)
    stats = {
        "version": STATS_VERSION,
        "num_images": merged.num_images,
        "measured_on": MeasuredOn.of_rows(manifest.rows, _short_name(manifest.path)).to_json(),
        "image": image_summary(merged.image),
        "classes": classes,
    }
    warnings = [mix.warning("stats", "are in the mean, std and class weights")] if mix is not None else []
    lonely = one_class_warning(classes["pixel_count"], classes["names"]) if classes else None
    raw = unconverted_warning(classes["pixel_count"]) if classes and info.names is None else None
    inside = ignore_inside_classes_warning(classes["pixel_count"], classes["ignored_pixels"], info.ignore_index) \
        if classes and info.names is None and ignore_index == AUTO else None
    void = segnet_void_warning(classes["pixel_count"], classes["image_count"], classes["num_images"]) \
        if classes and info.names is None and ignore_index == AUTO and num_classes is None else None
    among = ignore_is_a_class_warning(info.num_classes, info.ignore_index) if classes else None
    if among:
        warnings.append(among)
    image = stats["image"] or {}
    narrow = narrow_sixteen_bit_warning(image["dtype"], max(image["max"]), "the images") if image.get("max") else None
    if narrow:
        warnings.append(narrow)
    repeats = repeated_files_warnings(manifest.rows, repeated_files(manifest.rows),
                                      consequence="they count once per row in the mean, std and class counts")
    return StatsResult(stats, errors, warnings + [w for w in (lonely, raw, inside, void) if w] + repeats)


def _short_name(path: Path | None) -> str | None:
    # The folder and the name: most manifests are called manifest.csv.
    return None if path is None else Path(*path.parts[-2:]).as_posix()


def compute_stats(manifest: Manifest | PathLike, *, palette: PathLike | None = None, num_classes: int | None = None,
                  ignore_index: IgnoreIndex = AUTO, executor: Executor | None = None, on_error: OnError = "skip",
                  quiet: bool = False, splits: Sequence[str] | None = None) -> dict[str, Any]:
    """The stats.json content for a manifest (rows that fail are skipped unless on_error="fail").

    `ignore_index`: "auto" (the palette's, else 255), an integer, or None for no ignore index.
    `num_classes`: explicit, else from the palette, else the largest label + 1.
    """
    return collect_stats(manifest, palette=palette, num_classes=num_classes, ignore_index=ignore_index,
                         executor=executor, on_error=on_error, quiet=quiet, splits=splits).stats


def write_stats(stats: "dict[str, Any] | Stats", path: PathLike) -> Path:
    """Write stats.json atomically."""
    if isinstance(stats, Stats):
        stats = stats.to_json()
    path = Path(path)
    atomic_write_text(path, to_json(stats))
    return path


def to_json(data: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON with objects indented and lists of plain values on one line (per-class lists stay readable)."""
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(data, dict) and data:
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, indent, _level + 1)}" for k, v in data.items()]
        text = "{\n" + ",\n".join(items) + f"\n{pad}}}"
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        text = "[\n" + ",\n".join(f"{inner}{to_json(v, indent, _level + 1)}" for v in data) + f"\n{pad}]"
    else:
        text = json.dumps(data)
    return text + ("\n" if _level == 0 else "")


def load_stats(path: "PathLike | Stats | dict[str, Any]") -> Stats:
    """Read a stats.json (or check a parsed one) into the typed `Stats` every reader uses."""
    return Stats.from_json(path)


__all__ = [
    "AUTO",
    "ENET_C",
    "PERCENTILES",
    "ClassInfo",
    "IgnoreIndex",
    "LabelPartial",
    "Partial",
    "PixelPartial",
    "Stats",
    "StatsResult",
    "class_summary",
    "class_weights",
    "collect_partials",
    "collect_stats",
    "compute_stats",
    "hist_moments",
    "hist_percentile",
    "image_partial",
    "image_summary",
    "label_partial",
    "load_stats",
    "merge_partials",
    "one_class_warning",
    "per_image_partial",
    "resolve_classes",
    "to_json",
    "unconverted_warning",
    "write_stats",
]
