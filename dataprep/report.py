"""One self-contained HTML page about a prepared dataset: `dataprep report`.

What a person looks at before training: per-band histograms, class
frequencies and weights (from `stats.json`), per-fold class balance (from a
`kfold` folder), the distribution of image sizes, problems with the manifest's
files, and a grid of sample previews with overlays. Charts are inline SVG and
previews an inline JPEG, so the page opens offline, from a CI artefact or an email,
with no dependency beyond what dataprep already has.

Numbers in the charts are carried as `data-*` attributes too, so tests (and
scripts) can read them back without parsing drawings. What the page shows is
gathered first (`report_gather.py`), then drawn here.
"""
from __future__ import annotations

import base64
import html
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import io
from .errors import UsageError
from .option_ranges import check_seed
from .foldreport import FoldReport
from .manifest import Manifest, read_manifest
from .palette import Palette
from .paths import Inputs
from .preview import colour_table
from .report_gather import HIST_BINS, ReportData, band_histograms, check_files, gather

BAND_COLOURS = {1: ["#555555"], 3: ["#d62728", "#2ca02c", "#1f77b4"], 4: ["#d62728", "#2ca02c", "#1f77b4", "#7f7f7f"]}


# --------------------------------------------------------------------------- drawing (inline SVG)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in rgb[:3]))


def bar_chart(labels: Sequence[str], values: Sequence[float], colours: Sequence[str], *, title: str,
              fmt: str = "{:.1%}", kind: str = "bars") -> str:
    """Horizontal bars, one per label, the value written after each."""
    width, label_w, row_h = 640, 150, 22
    top = max(values) if len(values) and max(values) > 0 else 1.0
    height = row_h * len(labels) + 10
    parts = [f'<svg class="chart" data-kind="{_e(kind)}" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>']
    for i, (label, value, colour) in enumerate(zip(labels, values, colours)):
        y = 5 + i * row_h
        w = (width - label_w - 90) * (value / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(label)}</text>'
                     f'<rect class="bar" data-label="{_e(label)}" data-value="{value!r}" x="{label_w}" y="{y + 2}" '
                     f'width="{w:.1f}" height="{row_h - 6}" fill="{colour}" stroke="#333" stroke-width="0.5"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_e(fmt.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_chart(hist: np.ndarray, value_range: tuple[float, float], *, title: str) -> str:
    """One polyline per band over the pixel values (counts scaled to the largest bin of all bands).

    The svg's `data-range` holds the values the bins span (HIST_BINS equal bins from the first to the last).
    """
    width, height, pad = 640, 220, 30
    colours = BAND_COLOURS.get(hist.shape[0], ["#555555"] * hist.shape[0])
    top = float(hist.max()) or 1.0
    step = (width - 2 * pad) / (hist.shape[1] - 1)
    lo, hi = value_range
    parts = [f'<svg class="chart" data-kind="histogram" data-range="{_e(json.dumps([lo, hi]))}" role="img" '
             f'width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
             f'<rect x="{pad}" y="{pad // 2}" width="{width - 2 * pad}" height="{height - pad - pad // 2}" '
             f'fill="#fafafa" stroke="#999"/>']
    for c in range(hist.shape[0]):
        points = " ".join(f"{pad + b * step:.1f},{height - pad - (height - 1.5 * pad) * hist[c, b] / top:.1f}"
                          for b in range(hist.shape[1]))
        counts = json.dumps([int(v) for v in hist[c]])
        parts.append(f'<polyline class="band" data-band="{c}" data-counts="{_e(counts)}" points="{points}" '
                     f'fill="none" stroke="{colours[c]}" stroke-width="2"/>')
    parts.append(f'<text x="{pad}" y="{height - 8}">{lo:g}</text>'
                 f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">{hi:g}</text></svg>')
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# --------------------------------------------------------------------------- the page


def _class_names(data: ReportData, k: int) -> list[str]:
    # The palette first: kfold's report writes class_N when it had none.
    names: Sequence[str] | None = None
    if data.palette is not None:
        by_index: dict[int, str] = {}
        for c in data.palette.classes:
            by_index.setdefault(c.index, c.name)
        names = [by_index.get(i, f"class_{i}") for i in range(k)]
    stats_classes = data.stats.classes if data.stats is not None else None
    names = names or (stats_classes.names if stats_classes is not None else None) \
        or (data.folds.classes.names if data.folds is not None and data.folds.classes is not None else None)
    names = list(names or [])
    return [names[i] if i < len(names) else f"class_{i}" for i in range(k)]


def _class_colours(data: ReportData, k: int) -> list[str]:
    table = colour_table(data.palette, max(256, k))
    return [_hex(table[i]) for i in range(k)]


def _section_images(data: ReportData) -> str:
    out = ['<section id="images"><h2>Image bands</h2>']
    img = data.stats.image if data.stats is not None else None
    out.extend(f'<p class="warning">warning: {_e(w)}</p>' for w in data.warnings)
    if img is not None:
        # stats leave alpha out: a fourth band is data (a 4-band TIFF's NIR was labelled "A")
        band_names = "RGB" if img.channels == 3 else ""

        def cell(values: tuple[float, ...] | None, c: int, fmt: str) -> str:
            return "" if values is None else format(values[c], fmt)

        rows = [[f"{c} {band_names[c]}" if band_names else c, f"{img.mean[c]:.2f}", f"{img.std[c]:.2f}",
                 cell(img.min, c, "g"), cell(img.max, c, "g"), cell(img.p1, c, ".1f"), cell(img.p99, c, ".1f")]
                for c in range(img.channels)]
        out.append(f"<p>{data.stats.num_images} images, {_e(str(img.dtype))}, {img.channels} channel(s) "
                   "(stats.json)</p>")
        out.append(_table(["band", "mean", "std", "min", "max", "p1", "p99"], rows))
    if data.histograms is not None:
        of = "" if data.hist_images == len(data.manifest) else f" of {len(data.manifest)}"
        lo, hi = data.hist_range
        out.append(f"<p>Pixel histograms of {data.hist_images}{of} images ({HIST_BINS} bins per band, "
                   f"values {lo:g} to {hi:g}).</p>")
        out.append(histogram_chart(data.histograms, data.hist_range, title="per-band pixel histograms"))
    else:
        out.append("<p>No readable image to measure.</p>")
    out.append("</section>")
    return "".join(out)


def _section_classes(data: ReportData) -> str:
    classes = data.stats.classes if data.stats is not None else None
    out = ['<section id="classes"><h2>Classes</h2>']
    if classes is None or classes.pixel_count is None:
        out.append("<p>No class statistics: pass <code>--stats stats.json</code> (from <code>dataprep stats</code>) "
                   "of a manifest with label maps.</p></section>")
        return "".join(out)
    k = classes.num_classes
    names, colours = _class_names(data, k), _class_colours(data, k)
    ignore = classes.ignore_index
    out.append(f"<p>{k} classes in {classes.num_images} label maps; ignore index "
               f"{'none' if ignore is None else ignore} ({classes.ignored_pixels or 0:,} pixels ignored).</p>")
    # Label maps read without a palette (e.g. 0/255 masks) can span 256 values: show the classes that occur.
    pixel_count, frequency = classes.pixel_count, classes.frequency or (0.0,) * k
    image_count = classes.image_count or (0,) * k
    shown = [i for i in range(k) if pixel_count[i] > 0] if k > 40 else list(range(k))
    out.append("<h3>Share of labelled pixels</h3>")
    if len(shown) < k:
        out.append(f"<p>{len(shown)} of the {k} classes occur; the others are left out below.</p>")
    out.append(bar_chart([f"{i} {names[i]}" for i in shown], [frequency[i] for i in shown],
                         [colours[i] for i in shown], title="class frequency", kind="class-frequency"))
    w = {key: classes.weights.get(key) or (0.0,) * k for key in ("inverse_frequency", "median_frequency", "enet")}
    rows = [[i, names[i], f"{pixel_count[i]:,}", f"{frequency[i]:.4f}",
             image_count[i], f"{w['inverse_frequency'][i]:.4f}", f"{w['median_frequency'][i]:.4f}",
             f"{w['enet'][i]:.4f}"] for i in shown]
    out.append("<h3>Class weights</h3>")
    out.append(_table(["class", "name", "pixels", "frequency", "images", "inverse frequency", "median frequency",
                       "ENet"], rows, "weights"))
    out.append("</section>")
    return "".join(out)


def _section_folds(data: ReportData) -> str:
    out = ['<section id="folds"><h2>Folds</h2>']
    r = data.folds
    if r is None:
        if "fold" in data.manifest.extra_columns:
            counts = Counter(str(row.fold) if row.fold is not None else row.extra.get("fold", "")
                             for row in data.manifest)
            out.append(_table(["fold", "samples"], sorted(counts.items())))
        else:
            out.append("<p>No folds: pass <code>--splits DIR</code> (from <code>dataprep kfold</code>).</p>")
        out.append("</section>")
        return "".join(out)
    k = r.k
    out.append(f"<p>k={k}, mode {_e(r.mode)}, seed {_e(r.seed)}, {r.num_samples} samples"
               + (f" in {r.num_groups} groups" if r.num_groups is not None else "")
               + f"; largest fold size deviation {r.size_deviation:.1%}.</p>")
    classes = r.classes
    header = ["", "whole", *(f"fold {f.fold}" for f in r.folds)]
    rows: list[list[Any]] = [["samples", r.num_samples, *(f.num_samples for f in r.folds)]]
    if classes and r.whole is not None:
        nk = classes.num_classes
        names, colours = _class_names(data, nk), _class_colours(data, nk)
        whole = r.whole.pixel_fraction
        for c in range(nk):
            if nk > 40 and not whole[c]:
                continue  # a class that never occurs (label maps read without a palette span 256 values)
            rows.append([f"{c} {names[c]}", _pct(whole[c]),
                         *(_pct(f.balance.pixel_fraction[c]) for f in r.folds if f.balance is not None)])
        out.append(_table(header, rows, "folds"))
        out.append("<h3>Share of labelled pixels per validation fold</h3>")
        out.append(_fold_chart(r, names, colours))
        dev = r.mean_max_relative_deviation
        if dev is not None:
            out.append(f"<p>Mean over classes of the largest deviation from the whole: pixels "
                       f"{_pct(dev.pixel)}, images {_pct(dev.presence)}.</p>")
    else:
        out.append(_table(header, rows, "folds"))
    warnings = r.warnings
    for warning in warnings[:10]:
        out.append(f'<p class="warning">warning: {_e(warning)}</p>')
    if len(warnings) > 10:
        out.append(f'<p class="warning">... and {len(warnings) - 10} more warnings in report.json</p>')
    out.append("</section>")
    return "".join(out)


def _fold_chart(r: FoldReport, names: Sequence[str], colours: Sequence[str]) -> str:
    """Per fold one stacked bar of class shares: equal-looking bars mean balanced folds."""
    width, label_w, row_h = 640, 80, 26
    assert r.whole is not None
    bars = [("whole", r.whole.pixel_fraction)] + [(f"fold {f.fold}", f.balance.pixel_fraction)
                                                  for f in r.folds if f.balance is not None]
    height = row_h * len(bars) + 10
    parts = [f'<svg class="chart" data-kind="fold-balance" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>class share per fold</title>']
    span = width - label_w - 10
    for i, (label, fractions) in enumerate(bars):
        y, x = 5 + i * row_h, float(label_w)
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{_e(label)}</text>')
        for c, value in enumerate(fractions):
            value = value or 0.0
            w = span * value
            parts.append(f'<rect class="segment" data-fold="{_e(label)}" data-class="{c}" data-value="{value!r}" '
                         f'x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{colours[c]}">'
                         f'<title>{_e(names[c])}: {_pct(value)}</title></rect>')
            x += w
    parts.append("</svg>")
    return "".join(parts)


def _section_sizes(data: ReportData) -> str:
    common = data.sizes.most_common()
    shown = common[:12]
    out = ['<section id="sizes"><h2>Image sizes</h2>',
           f"<p>{len(common)} distinct size(s) over {len(data.manifest)} images"
           + (f"; the {len(shown)} most common:" if len(common) > len(shown) else ":") + "</p>"]
    total = len(data.manifest)
    out.append(bar_chart([f"{w}x{h}" for (w, h), _ in shown], [n / total for _, n in shown],
                         ["#4c78a8"] * len(shown), title="image sizes", kind="sizes"))
    widths = [r.width for r in data.manifest.rows]
    heights = [r.height for r in data.manifest.rows]
    out.append(f"<p>width {min(widths)}-{max(widths)}, height {min(heights)}-{max(heights)} pixels.</p></section>")
    return "".join(out)


def _section_problems(data: ReportData) -> str:
    out = ['<section id="problems"><h2>Problems</h2>']
    if data.problems:
        shown = data.problems[:200]
        out.append(f"<p>{len(data.problems)} problem(s) with the manifest's files"
                   + (f" (first {len(shown)} shown)" if len(shown) < len(data.problems) else "") + ":</p><ul>")
        out += [f'<li class="problem">{_e(p)}</li>' for p in shown]
        out.append("</ul>")
    else:
        out.append("<p>None: every image and mask the manifest names is readable and has the size it says.</p>")
    out.append("</section>")
    return "".join(out)


def _section_samples(data: ReportData) -> str:
    out = ['<section id="samples"><h2>Samples</h2>']
    if data.preview_jpeg is None:
        out.append("<p>No previews.</p>")
    else:
        encoded = base64.b64encode(data.preview_jpeg).decode("ascii")
        out.append("<p>image | mask | overlay (the same picks as <code>dataprep preview</code>).</p>"
                   f'<img class="previews" alt="sample previews" src="data:image/jpeg;base64,{encoded}">')
    out.append("</section>")
    return "".join(out)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; background: #fff; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #4c78a8; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #eef2f7; } td:first-child, th:first-child { text-align: left; }
svg.chart { display: block; margin: .5em 0; font-size: 12px; }
.warning { color: #a15c00; } li.problem { font-family: monospace; }
img.previews { max-width: 100%; border: 1px solid #ccc; }
nav a { margin-right: 1em; }
"""


def render(data: ReportData) -> str:
    """The HTML page (one string, nothing fetched)."""
    source = data.manifest.path or "manifest"
    sections = [_section_images(data), _section_classes(data), _section_folds(data), _section_sizes(data),
                _section_problems(data), _section_samples(data)]
    nav = " ".join(f'<a href="#{s}">{s}</a>' for s in ("images", "classes", "folds", "sizes", "problems", "samples"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>dataprep report: {_e(source)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>dataprep report</h1><p>{_e(source)}: {len(data.manifest)} samples.</p><nav>{nav}</nav>"
            + "".join(sections) + "</body></html>\n")


def write_report(manifest: Manifest | io.PathLike, output: io.PathLike, *, stats: io.PathLike | None = None,
                 splits: io.PathLike | None = None, palette: Palette | str | io.PathLike | None = None,
                 samples: int = 9, seed: int = 0, max_images: int = 200,
                 warn: Callable[[str], None] | None = None, problem: Callable[[str], None] | None = None) -> Path:
    """Gather, render and write the page atomically; returns its path. `warn` is given each warning line
    (a stats.json measured on other rows), `problem` each file problem (missing, unreadable, another size) once
    the page is written; the page shows both."""
    output = Path(output)
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    read = [stats, palette if isinstance(palette, (str, Path)) and Path(palette).is_file() else None,
            *((Path(splits) / "report.json", splits) if splits is not None else ())]
    Inputs.of_manifest(manifest).with_files(p for p in read if p is not None).guard_file(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise UsageError(output, "the report is an HTML page: give a .html output")
    seed = check_seed(seed)  # numpy's raw "expected non-negative integer" at the sample pick otherwise
    data = gather(manifest, stats=stats, splits=splits, palette=palette, samples=samples, seed=seed,
                  max_images=max_images)
    for line in data.warnings if warn is not None else ():
        warn(line)
    io.atomic_write_text(output, render(data))
    for line in data.problems if problem is not None else ():
        problem(line)
    return output


def problems_line(problems: list[str], page: io.PathLike) -> str:
    """The one line a run that found file problems ends with: the first, the count and where all are; they were
    shown in the page alone, and the run exited 0 with every file of the manifest missing."""
    return f"{problems[0]} ({len(problems)} file problem(s) in all, listed in {page})"


__all__ = ["HIST_BINS", "ReportData", "band_histograms", "bar_chart", "check_files", "gather", "histogram_chart",
           "problems_line", "render", "write_report"]
