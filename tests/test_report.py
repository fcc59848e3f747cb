"""`dataprep report`: a self-contained HTML page whose numbers are the data's."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLE_DATA, make_multiband_set
from dataprep import io, read_manifest, write_manifest
from dataprep.manifest import ManifestRow
from dataprep.labels import masks_to_labels
from dataprep.palette import builtin_palette, load_palette
from dataprep.preview import make_contact_sheet
from dataprep.report import HIST_BINS, write_report
from dataprep.scan import scan
from dataprep.splits import kfold
from dataprep.stats import compute_stats, write_stats


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    write_manifest(scan(SAMPLE_DATA, exclude=["bad/*"]).manifest, root / "manifest.csv")
    masks_to_labels(root / "manifest.csv", root / "labels", load_palette(SAMPLE_DATA / "palette.json"))
    labels = root / "labels/manifest.csv"
    write_stats(compute_stats(labels), root / "stats.json")
    kfold(labels, root / "splits", 4)
    return root


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_structure_and_numbers(prepared, tmp_path):
    labels = prepared / "labels/manifest.csv"
    out = write_report(labels, tmp_path / "report.html", stats=prepared / "stats.json", splits=prepared / "splits",
                       samples=4)
    page = _parse(out)
    assert [a["id"] for a in page.find("section")] == ["images", "classes", "folds", "sizes", "problems", "samples"]
    # Self-contained: no script, stylesheet link or remote source.
    assert not page.find("script") and not page.find("link")
    for _, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key, "")
            assert not value or value.startswith(("#", "data:")), value

    rows = read_manifest(labels).rows
    # Class frequencies, counted here from the label maps.
    counts = np.zeros(7, np.int64)
    for row in rows:
        mask = np.asarray(Image.open(row.mask))
        counts += np.bincount(mask[mask != 255].ravel(), minlength=7)[:7]
    bars = page.find("rect", **{"class": "bar"})
    freq = [float(b["data-value"]) for b in bars if b["data-label"][0].isdigit() and " " in b["data-label"]]
    assert freq == pytest.approx((counts / counts.sum()).tolist(), rel=1e-9)
    assert "0 sky" in [b["data-label"] for b in bars]

    # Band histograms over every image (32 <= the default 200), counted here.
    hist = np.zeros((3, 256), np.int64)
    for row in rows:
        image = io.read_image(row.image)
        for c in range(3):
            hist[c] += np.bincount(image[:, :, c].ravel(), minlength=256)
    bands = page.find("polyline", **{"class": "band"})
    assert len(bands) == 3
    for c, band in enumerate(bands):
        assert json.loads(band["data-counts"]) == hist[c].reshape(HIST_BINS, -1).sum(axis=1).tolist()

    # Fold balance: per fold the class shares of its validation rows, counted here.
    folds = {r.id: int(r.extra["fold"]) for r in read_manifest(prepared / "splits/manifest.csv")}
    per_fold = np.zeros((4, 7), np.int64)
    for row in rows:
        mask = np.asarray(Image.open(row.mask))
        per_fold[folds[row.id]] += np.bincount(mask[mask != 255].ravel(), minlength=7)[:7]
    segments = page.find("rect", **{"class": "segment"})
    for f in range(4):
        values = [float(s["data-value"]) for s in segments if s["data-fold"] == f"fold {f}"]
        assert values == pytest.approx((per_fold[f] / per_fold[f].sum()).tolist(), rel=1e-9)

    # Sizes: every sample_data image is 320x240.
    sizes = [b for b in bars if "x" in b["data-label"] and b["data-label"][0].isdigit() and " " not in b["data-label"]]
    assert [(b["data-label"], float(b["data-value"])) for b in sizes] == [("320x240", 1.0)]
    assert "None: every image and mask" in "".join(page.text)

    # Previews: the contact sheet of the same picks, inline.
    (img,) = page.find("img")
    data = base64.b64decode(img["src"].split(",", 1)[1])
    decoded = np.asarray(Image.open(__import__("io").BytesIO(data)))
    assert decoded.shape == make_contact_sheet(labels, n=4, seed=0).shape


def test_report_lists_file_problems_and_works_without_stats(prepared, tmp_path):
    rows = read_manifest(prepared / "labels/manifest.csv").rows
    wrong = rows[1].__class__(rows[1].id, rows[1].image, rows[1].mask, 100, 100, rows[1].extra)
    missing = rows[2].__class__("gone", tmp_path / "gone.jpg", rows[2].mask, rows[2].width, rows[2].height, {})
    write_manifest([rows[0], wrong, missing], tmp_path / "m.csv")
    out = write_report(tmp_path / "m.csv", tmp_path / "r.html", samples=0)
    page = _parse(out)
    problems = "\n".join("".join(page.text).split("Problems", 1)[1:])
    assert str(tmp_path / "gone.jpg") in problems and "file not found" in problems
    assert f"{rows[1].image}: image is 320x240 but the manifest says 100x100" in problems
    text = "".join(page.text)
    assert "pass --stats stats.json" in text and "pass --splits DIR" in text
    assert not page.find("img")


def test_report_cli(prepared, tmp_path, cli):
    labels = prepared / "labels/manifest.csv"
    result = cli("report", labels, "--stats", prepared / "stats.json", "--splits", prepared / "splits",
                 "-o", tmp_path / "r.html", "-n", "2")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").is_file() and "wrote" in result.output
    bad = cli("report", labels, "-o", tmp_path / "r.png")
    assert bad.exit_code == 2 and "give a .html output" in bad.output and not (tmp_path / "r.png").exists()
    nofolds = cli("report", labels, "--splits", tmp_path, "-o", tmp_path / "x.html")
    assert nofolds.exit_code == 2 and "fold report not found" in nofolds.output


def test_file_problems_end_the_run_with_one_line_and_exit_1_after_the_page(prepared, tmp_path, cli):
    """Every file missing: the page listed the problems, stderr said nothing and the run exited 0."""
    rows = read_manifest(prepared / "labels/manifest.csv").rows
    write_manifest([r.replace(image=tmp_path / "gone" / r.image.name) for r in rows[:3]], tmp_path / "m.csv")
    res = cli("report", tmp_path / "m.csv", "-o", tmp_path / "r.html", "-n", "0")
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"error: {tmp_path / 'gone' / rows[0].image.name}: file not found "
                                       f"(3 file problem(s) in all, listed in {tmp_path / 'r.html'})"]
    assert "file not found" in (tmp_path / "r.html").read_text()
    assert cli("report", prepared / "labels/manifest.csv", "-o", tmp_path / "ok.html", "-n", "0").exit_code == 0


def test_a_manifest_given_for_splits_is_a_usage_error_saying_what_splits_takes(prepared, tmp_path, cli):
    """It printed the JSON decoder's `Expecting value: line 1 column 1 (char 0)`, exit 1."""
    labels = prepared / "labels/manifest.csv"
    res = cli("report", labels, "--splits", labels, "-o", tmp_path / "r.html")
    assert res.exit_code == 2 and not (tmp_path / "r.html").exists()
    assert res.stderr.splitlines() == [f"error: {labels}: not a fold report (not JSON): --splits takes the folder "
                                       "`dataprep kfold -o` wrote, or the report.json in it"]
    cut = tmp_path / "splits"
    shutil.copytree(prepared / "splits", cut)
    (cut / "report.json").write_text((cut / "report.json").read_text()[:40])  # kfold's own file, cut short
    res = cli("report", labels, "--splits", cut, "-o", tmp_path / "r.html")
    assert res.exit_code == 1 and "report.json: not valid JSON; write the folds again" in res.stderr
    # A stats.json given for the folds: "missing 'k'", exit 1.
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"version": 1, "image": {"mean": [1.0]}, "classes": None}))
    res = cli("report", labels, "--splits", stats, "-o", tmp_path / "r.html")
    assert res.exit_code == 2 and not (tmp_path / "r.html").exists()
    assert f"error: {stats}: is a stats.json (`dataprep stats`), not a fold report: --splits takes" in res.stderr


def test_report_warns_when_the_folds_were_made_from_other_rows(prepared, tmp_path, cli):
    labels = prepared / "labels/manifest.csv"
    rows = read_manifest(labels).rows
    write_manifest(rows[: len(rows) // 2], tmp_path / "half.csv")
    kfold(tmp_path / "half.csv", tmp_path / "half_splits", 2)
    other = cli("report", labels, "--splits", tmp_path / "half_splits", "-o", tmp_path / "r.html", "-n", "0")
    assert other.exit_code == 0, other.output
    line = (f"warning: {tmp_path / 'half_splits'}: folds made from {len(rows) // 2} rows of "
            f"{tmp_path / 'half_splits/manifest.csv'}, not from the {len(rows)} rows of {labels} "
            f"({len(rows) - len(rows) // 2} of them in no fold)")
    assert line in other.output and "rerun `dataprep kfold`" in "".join(_parse(tmp_path / "r.html").text)
    shutil.copy(tmp_path / "half_splits/report.json", tmp_path / "lone.json")  # no split manifest beside it
    lone = cli("report", labels, "--splits", tmp_path / "lone.json", "-o", tmp_path / "r.html", "-n", "0")
    assert f"folds of {len(rows) // 2} rows, not of the {len(rows)} rows of {labels}" in lone.output
    same = cli("report", prepared / "splits/manifest.csv", "--splits", prepared / "splits", "-o", tmp_path / "r.html",
               "-n", "0")
    assert same.exit_code == 0 and "warning" not in same.output, same.output
    # `kfold --split train`: the held-out split is left out of the folds on purpose
    with_splits = [r.with_extra(split="test" if i % 4 == 0 else "train") for i, r in enumerate(rows)]
    write_manifest(with_splits, tmp_path / "split.csv")
    kfold(tmp_path / "split.csv", tmp_path / "train_splits", 2, splits=["train"])
    held_out = cli("report", tmp_path / "split.csv", "--splits", tmp_path / "train_splits", "-o", tmp_path / "r.html",
                   "-n", "0")
    assert held_out.exit_code == 0 and "warning" not in held_out.output, held_out.output


def test_report_warns_when_the_folds_or_stats_count_other_classes(prepared, tmp_path, cli):
    """Another dataset's folds with the same row ids (ISBI's 0..29 beside CamVid renamed 0..29) were shown under
    this palette's names: ISBI's background/foreground balance as CamVid's Sky and Building."""
    labels = prepared / "labels/manifest.csv"
    palette = load_palette(SAMPLE_DATA / "palette.json")
    report = json.loads((prepared / "splits/report.json").read_text())
    assert report["classes"]["num_classes"] == palette.num_classes > 2
    same = cli("report", labels, "--splits", prepared / "splits", "--stats", prepared / "stats.json",
               "-o", tmp_path / "same.html", "-n", "0")
    assert same.exit_code == 0 and "warning" not in same.output, same.output
    binary = []  # the same ids, two classes: another dataset's folds
    for row in read_manifest(labels).rows:
        mask = io.read_mask(row.mask)
        path = tmp_path / "binary" / f"{row.id.replace('/', '_')}.png"
        io.write_mask(path, np.where(mask == 255, 255, mask > 0).astype(np.uint8))
        binary.append(ManifestRow(row.id, row.image, path, row.width, row.height))
    write_manifest(binary, tmp_path / "binary" / "manifest.csv")
    other, plain = tmp_path / "other", tmp_path / "plain"
    kfold(tmp_path / "binary" / "manifest.csv", other, 2, palette=builtin_palette("binary"), quiet=True)
    kfold(tmp_path / "binary" / "manifest.csv", plain, 2, quiet=True)
    res = cli("report", labels, "--splits", other, "-o", tmp_path / "r.html", "-n", "0")
    assert res.exit_code == 0, res.output
    assert (f"warning: {other}: measured 2 classes (background, foreground), not the {palette.num_classes} of "
            f"palette {palette.name!r}") in res.output
    res = cli("report", labels, "--splits", plain, "-o", tmp_path / "r.html", "-n", "0")
    counted = json.loads((plain / "report.json").read_text())["classes"]["num_classes"]  # up to the largest label
    assert counted < palette.num_classes
    assert (f"measured {counted} classes (up to the largest label present, without a palette?), not the "
            f"{palette.num_classes} of palette {palette.name!r}: rerun it with --palette or --num-classes "
            f"{palette.num_classes}") in res.output
    stats = json.loads((prepared / "stats.json").read_text())
    stats["classes"]["names"] = list(reversed(stats["classes"]["names"]))
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    res = cli("report", labels, "--stats", tmp_path / "stats.json", "-o", tmp_path / "r.html", "-n", "0")
    assert f"warning: {tmp_path / 'stats.json'}: measured {palette.num_classes} classes (" in res.output


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_report_renders_in_headless_chromium(prepared, tmp_path):
    out = write_report(prepared / "labels/manifest.csv", tmp_path / "report.html", stats=prepared / "stats.json",
                       splits=prepared / "splits", samples=3)
    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1100,2400", out.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int64)
    # Not blank: many colours (charts in class colours, photos), and a good share of non-white pixels.
    colours = np.unique(pixels.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 50
    assert (pixels.sum(axis=2) < 3 * 240).mean() > 0.05


def test_report_of_binary_masks_without_palette_shows_the_classes_that_occur(tmp_path):
    from dataprep.manifest import ManifestRow

    rows = []
    for i in range(3):
        image, mask = tmp_path / f"i{i}.png", tmp_path / f"m{i}.png"
        io.write_image(image, np.full((16, 16), 100 + i, np.uint8))
        labels = np.zeros((16, 16), np.uint8)
        labels[: 4 + i] = 255  # 0/255 masks: 256 "classes" when read without a palette
        io.write_mask(mask, labels)
        rows.append(ManifestRow(f"s{i}", image, mask, 16, 16, {}))
    write_manifest(rows, tmp_path / "m.csv")
    stats = compute_stats(tmp_path / "m.csv", ignore_index=None)
    assert stats["classes"]["num_classes"] == 256
    write_stats(stats, tmp_path / "s.json")
    page = _parse(write_report(tmp_path / "m.csv", tmp_path / "r.html", stats=tmp_path / "s.json", samples=0))
    labels = [b["data-label"] for b in page.find("rect", **{"class": "bar"}) if " " in b["data-label"]]
    assert labels == ["0 class_0", "255 class_255"]
    assert "2 of the 256 classes occur" in "".join(page.text)


def _histogram_of(page: _Page) -> tuple[list[list[int]], list[float]]:
    (chart,) = page.find("svg", **{"data-kind": "histogram"})
    return [json.loads(b["data-counts"]) for b in page.find("polyline", **{"class": "band"})], \
        json.loads(chart["data-range"])


def test_histograms_of_int16_images_cover_the_signed_range(tmp_path):
    manifest, images = make_multiband_set(tmp_path / "d", 3, np.int16, n=3)
    page = _parse(write_report(manifest, tmp_path / "r.html", samples=0))
    counts, value_range = _histogram_of(page)
    assert value_range == [-32768, 32767]
    for c in range(3):
        values = np.concatenate([a[:, :, c].ravel() for a in images]).astype(np.int64) + 32768
        assert counts[c] == np.bincount(values, minlength=65536).reshape(HIST_BINS, -1).sum(axis=1).tolist()


def test_histograms_of_float_images_bin_the_measured_range(tmp_path):
    manifest, images = make_multiband_set(tmp_path / "d", 5, np.float32, n=3)
    page = _parse(write_report(manifest, tmp_path / "r.html", samples=0))
    counts, value_range = _histogram_of(page)
    lo, hi = float(min(a.min() for a in images)), float(max(a.max() for a in images))
    assert value_range == [lo, hi] and len(counts) == 5
    for c in range(5):
        values = np.concatenate([a[:, :, c].ravel() for a in images])
        expected = np.histogram(values.astype(np.float64), bins=HIST_BINS, range=(lo, hi))[0]
        assert counts[c] == expected.tolist() and sum(counts[c]) == values.size


def test_float_histograms_bin_at_float64_edges(tmp_path):
    """float32 values near 1000 with a 0.01 spread: numpy's float32 edges put up to 95,644 of 2M pixels in another
    bin than the exact ones."""
    import tifffile

    rng = np.random.default_rng(3)
    values = (1000 + rng.random((64, 80)) * 0.01).astype(np.float32)
    tifffile.imwrite(tmp_path / "a.tif", values, photometric="minisblack")
    io.write_mask(tmp_path / "a.png", np.zeros((64, 80), np.uint8))
    manifest = write_manifest([ManifestRow("a", tmp_path / "a.tif", tmp_path / "a.png", 80, 64)], tmp_path / "m.csv")
    counts, (lo, hi) = _histogram_of(_parse(write_report(manifest, tmp_path / "r.html", samples=0)))
    exact = np.histogram(values.astype(np.float64).ravel(), bins=HIST_BINS, range=(lo, hi))[0]
    assert counts[0] == exact.tolist()


def test_histograms_leave_out_a_geotiffs_nodata_pixels_as_stats_does(tmp_path):
    """RGB.byte.tif's nodata=0 border (32.6% of the scene) filled the first bin of every band's histogram."""
    import tifffile

    data = np.random.default_rng(4).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    data[:10] = 0
    tifffile.imwrite(tmp_path / "scene.tif", data, photometric="rgb", metadata=None,
                     extratags=[(42113, "s", 0, "0", True)])
    manifest = write_manifest([ManifestRow("scene", tmp_path / "scene.tif", None, 40, 30)], tmp_path / "m.csv")
    counts, value_range = _histogram_of(_parse(write_report(manifest, tmp_path / "r.html", samples=0)))
    assert value_range == [0, 255]
    for c in range(3):
        band = data[:, :, c].ravel()
        expected = np.bincount(band[band != 0], minlength=256).reshape(HIST_BINS, -1).sum(axis=1)
        assert counts[c] == expected.tolist()


@pytest.mark.parametrize("nodata_text", ["-3.4e+38", "nan"])
def test_float_histograms_leave_out_nodata_and_span_the_valid_values(tmp_path, nodata_text):
    """rasterio's float_raster_with_nodata.tif: -3.4e38 stretched the value range over 38 decades, its NaN
    sibling float_nan.tif had no histogram at all."""
    import tifffile

    data = np.random.default_rng(5).normal(0.3, 0.1, (20, 30, 2)).astype(np.float32)
    data[:6] = np.float32(float(nodata_text))
    tifffile.imwrite(tmp_path / "scene.tif", data, photometric="minisblack", planarconfig="contig", metadata=None,
                     extratags=[(42113, "s", 0, nodata_text, True)])
    manifest = write_manifest([ManifestRow("scene", tmp_path / "scene.tif", None, 30, 20)], tmp_path / "m.csv")
    counts, value_range = _histogram_of(_parse(write_report(manifest, tmp_path / "r.html", samples=0)))
    valid = data[6:]
    assert value_range == pytest.approx([float(valid.min()), float(valid.max())])
    for c in range(2):
        expected = np.histogram(valid[:, :, c], bins=HIST_BINS, range=(float(valid.min()), float(valid.max())))[0]
        assert counts[c] == expected.tolist()


def test_a_four_band_image_s_bands_are_not_named_rgba(tmp_path):
    """Stats leave alpha out, so a fourth band is data: a 4-band uint16 TIFF's NIR was labelled "3 A"."""
    manifest, _images = make_multiband_set(tmp_path / "d", 4, np.uint16, n=2)
    write_stats(compute_stats(manifest), tmp_path / "s.json")
    html = write_report(manifest, tmp_path / "r.html", stats=tmp_path / "s.json", samples=0).read_text()
    section = html[html.index('<section id="images">'):]
    section = section[: section.index("</section>")]
    assert "3 A" not in section and "0 R" not in section and ">3<" in section
