"""`dataprep import label-studio`, `via`, `kaggle-rle`, `mat`, `supervisely` and `ade20k` against
the loops people write for them, outputs compared.

Label Studio: tasks of 1280x720 with 3 brush regions (soft-edged blobs, as the
brush and magic wand paint them) and 5 polygons each. The hand-written loop is
the one label-studio-converter's users write: its brush decoder (the rle-pack
bit stream read as a string of '0'/'1', one slice per field, as `brush.decode_rle`
does), the alpha channel thresholded at 128, polygons drawn with PIL at
percent * size / 100, `cv2.imwrite` of the label map.

VIA: a `via_region_data.json` of 1024x768 images with 12 polygons each; the loop
is `json.load`, a PIL polygon per region, `cv2.imwrite`.

Both sides write to disk; dataprep -j 1 alternates with the loop (best of 3 each),
then -j 2. Every label map is compared with the loop's.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from common import alternating_best, best_of, write_result
from PIL import Image, ImageDraw

from dataprep.executor import make_executor
from dataprep.importers import import_annotations
from dataprep.importers.ls_rle import encode_brush_rle
from dataprep.io import read_mask

LS_W, LS_H = 1280, 720
VIA_W, VIA_H = 1024, 768
KG_W, KG_H = 1600, 256
MAT_W, MAT_H = 500, 375
SLY_W, SLY_H = 1920, 1080
ADE_W, ADE_H = 1024, 768
CLASSES = ["fire", "sky", "smoke"]  # sorted, as dataprep numbers them: 1, 2, 3


def _blob(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A soft-edged disc of alpha, 20-120 px across: a brush stroke's canvas."""
    yy, xx = np.mgrid[:h, :w]
    cx, cy, r = rng.integers(100, w - 100), rng.integers(100, h - 100), rng.integers(10, 60)
    distance = np.hypot(xx - cx, yy - cy)
    return (np.clip(r + 1 - distance, 0, 1) * 255).astype(np.uint8)


def _polygon(rng: np.random.Generator, w: int, h: int) -> list[tuple[float, float]]:
    cx, cy, r = rng.uniform(80, w - 80), rng.uniform(80, h - 80), rng.uniform(15, 70)
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(6, 30))))
    radii = r * rng.uniform(0.5, 1.0, len(angles))
    return list(zip((cx + radii * np.cos(angles)).tolist(), (cy + radii * np.sin(angles)).tolist()))


def _label_studio_export(root: Path, tasks: int) -> Path:
    rng = np.random.default_rng(0)
    blank = cv2.imencode(".png", np.full((LS_H, LS_W, 3), 90, np.uint8))[1].tobytes()
    (root / "images").mkdir(parents=True)
    out = []
    for t in range(tasks):
        (root / "images" / f"frame{t:04d}.png").write_bytes(blank)
        results = []
        for b in range(3):
            rgba = np.zeros((LS_H, LS_W, 4), np.uint8)
            rgba[..., 3] = _blob(rng, LS_W, LS_H)
            rgba[rgba[..., 3] > 0, :3] = 255
            results.append({"type": "brushlabels", "original_width": LS_W, "original_height": LS_H,
                            "value": {"format": "rle", "rle": encode_brush_rle(rgba), "brushlabels": [CLASSES[b]]}})
        for p in range(5):
            points = [[x * 100 / LS_W, y * 100 / LS_H] for x, y in _polygon(rng, LS_W, LS_H)]
            results.append({"type": "polygonlabels", "original_width": LS_W, "original_height": LS_H,
                            "value": {"points": points, "polygonlabels": [CLASSES[p % 3]]}})
        out.append({"id": t, "data": {"image": f"/data/upload/1/{t:08x}-frame{t:04d}.png"},
                    "annotations": [{"id": t, "was_cancelled": False, "result": results}]})
    path = root / "export.json"
    path.write_text(json.dumps(out))
    return path


def _bitstring_decode(rle: list[int]) -> np.ndarray:
    bits = "".join(format(b, "08b") for b in rle)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        pos += n
        return int(bits[pos - n:pos], 2)

    total, word = read(32), read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(total, np.uint8)
    i = 0
    while i < total:
        repeat = read(1)
        j = i + 1 + read(sizes[read(2)])
        if repeat:
            out[i:j] = read(word)
            i = j
        else:
            while i < j:
                out[i] = read(word)
                i += 1
    return out


def _hand_written_label_studio(export: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = {name: i + 1 for i, name in enumerate(CLASSES)}
    for task in json.loads(export.read_text()):
        results = task["annotations"][0]["result"]
        w, h = results[0]["original_width"], results[0]["original_height"]
        label = np.zeros((h, w), np.uint8)
        for r in results:
            v = r["value"]
            if r["type"] == "brushlabels":
                alpha = _bitstring_decode(v["rle"]).reshape(h, w, 4)[:, :, 3]
                label[alpha > 128] = index[v["brushlabels"][0]]
            else:
                canvas = Image.new("L", (w, h), 0)
                ImageDraw.Draw(canvas).polygon([(x * w / 100, y * h / 100) for x, y in v["points"]], fill=1,
                                               outline=1)
                label[np.asarray(canvas) > 0] = index[v["polygonlabels"][0]]
        name = task["data"]["image"].rsplit("/", 1)[-1].split("-", 1)[1]
        cv2.imwrite(str(out / (Path(name).stem + ".png")), label)


def _via_export(root: Path, images: int) -> Path:
    rng = np.random.default_rng(1)
    blank = cv2.imencode(".jpg", np.full((VIA_H, VIA_W, 3), 90, np.uint8))[1].tobytes()
    data = {}
    for i in range(images):
        name = f"img{i:04d}.jpg"
        (root / name).write_bytes(blank)
        regions = []
        for k in range(12):
            pts = _polygon(rng, VIA_W, VIA_H)
            regions.append({"shape_attributes": {"name": "polygon", "all_points_x": [round(x) for x, _ in pts],
                                                 "all_points_y": [round(y) for _, y in pts]},
                            "region_attributes": {"class": CLASSES[k % 3]}})
        data[f"{name}{len(blank)}"] = {"filename": name, "size": len(blank), "regions": regions, "file_attributes": {}}
    path = root / "via_region_data.json"
    path.write_text(json.dumps(data))
    return path


def _hand_written_via(export: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = {name: i + 1 for i, name in enumerate(CLASSES)}
    for record in json.loads(export.read_text()).values():
        canvas = Image.new("L", (VIA_W, VIA_H), 0)
        draw = ImageDraw.Draw(canvas)
        for region in record["regions"]:
            shape = region["shape_attributes"]
            label = index[region["region_attributes"]["class"]]
            draw.polygon(list(zip(shape["all_points_x"], shape["all_points_y"])), fill=label, outline=label)
        cv2.imwrite(str(out / (Path(record["filename"]).stem + ".png")), np.asarray(canvas))


def _kaggle_export(root: Path, images: int) -> Path:
    """Severstal's layout: `ImageId,ClassId,EncodedPixels`, 4 classes, column-major RLE, 1600x256 JPEGs."""
    rng = np.random.default_rng(2)
    blank = cv2.imencode(".jpg", np.full((KG_H, KG_W, 3), 90, np.uint8))[1].tobytes()
    (root / "train_images").mkdir(parents=True)
    yy, xx = np.mgrid[:KG_H, :KG_W]
    lines = ["ImageId,ClassId,EncodedPixels"]
    for i in range(images):
        name = f"{i:08x}.jpg"
        (root / "train_images" / name).write_bytes(blank)
        for cls in range(1, 5):
            if rng.random() < 0.5:
                continue
            cx, cy = rng.uniform(0, KG_W), rng.uniform(0, KG_H)
            rx, ry = rng.uniform(20, 300), rng.uniform(10, 100)
            mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1
            flat = np.concatenate(([0], mask.T.ravel().astype(np.int8), [0]))
            edges = np.diff(flat)
            starts, ends = np.flatnonzero(edges == 1) + 1, np.flatnonzero(edges == -1) + 1
            lines.append(f"{name},{cls},{' '.join(f'{a} {b - a}' for a, b in zip(starts, ends))}")
    path = root / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _hand_written_kaggle(export: Path, out: Path) -> None:
    """The competition kernels' `rle2mask`: a slice per run, `reshape(width, height).T`."""
    import csv

    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, np.ndarray] = {}
    with open(export, newline="") as f:
        for row in csv.DictReader(f):
            label = labels.setdefault(row["ImageId"], np.zeros((KG_H, KG_W), np.uint8))
            s = row["EncodedPixels"].split()
            starts, lengths = np.asarray(s[0::2], int) - 1, np.asarray(s[1::2], int)
            flat = np.zeros(KG_H * KG_W, np.uint8)
            for lo, hi in zip(starts, starts + lengths):
                flat[lo:hi] = 1
            label[flat.reshape(KG_W, KG_H).T == 1] = int(row["ClassId"])
    for name in sorted(p.name for p in (export.parent / "train_images").iterdir()):
        cv2.imwrite(str(out / (Path(name).stem + ".png")), labels.get(name, np.zeros((KG_H, KG_W), np.uint8)))


def _mat_export(root: Path, images: int) -> Path:
    """SBD's layout: img/*.jpg and cls/*.mat holding GTcls.Segmentation (21 VOC values and 255), 500x375."""
    import scipy.io

    rng = np.random.default_rng(3)
    blank = cv2.imencode(".jpg", np.full((MAT_H, MAT_W, 3), 90, np.uint8))[1].tobytes()
    (root / "img").mkdir(parents=True)
    (root / "cls").mkdir()
    for i in range(images):
        name = f"2008_{i:06d}"
        (root / "img" / f"{name}.jpg").write_bytes(blank)
        blocks = rng.integers(0, 21, (MAT_H // 25 + 1, MAT_W // 25 + 1))
        seg = np.kron(blocks, np.ones((25, 25), int))[:MAT_H, :MAT_W].astype(np.uint8)
        seg[::25] = 255  # the boundary band VOC marks void
        scipy.io.savemat(root / "cls" / f"{name}.mat", {"GTcls": {"Segmentation": seg, "CategoriesPresent": 1}})
    return root / "cls"


def _hand_written_mat(export: Path, out: Path) -> None:
    """The loop SBD users write: loadmat, GTcls[0][0]['Segmentation'], cv2.imwrite."""
    import scipy.io

    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(export.glob("*.mat")):
        seg = scipy.io.loadmat(path)["GTcls"][0][0]["Segmentation"]
        cv2.imwrite(str(out / (path.stem + ".png")), seg.astype(np.uint8))


def _supervisely_export(root: Path, images: int) -> Path:
    """A Supervisely project: ds0/img/*.jpg (1920x1080) and ds0/ann/*.json with 20 polygons (2 with a hole) and
    6 bitmaps each, 3 classes."""
    import base64
    import zlib

    rng = np.random.default_rng(4)
    blank = cv2.imencode(".jpg", np.full((SLY_H, SLY_W, 3), 90, np.uint8))[1].tobytes()
    (root / "ds0" / "img").mkdir(parents=True)
    (root / "ds0" / "ann").mkdir()
    (root / "meta.json").write_text(json.dumps({"classes": [{"title": c, "shape": "any", "color": "#102030"}
                                                            for c in CLASSES]}))
    for i in range(images):
        name = f"frame_{i:04d}.jpg"
        (root / "ds0" / "img" / name).write_bytes(blank)
        objects = []
        for k in range(26):
            cx, cy, r = rng.uniform(100, SLY_W - 100), rng.uniform(100, SLY_H - 100), rng.uniform(20, 90)
            if k < 20:
                angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
                ring = [[cx + r * np.cos(a), cy + r * np.sin(a)] for a in angles]
                hole = [[cx + r / 3 * np.cos(a), cy + r / 3 * np.sin(a)] for a in angles] if k < 2 else None
                objects.append({"classTitle": CLASSES[k % 3], "geometryType": "polygon",
                                "points": {"exterior": ring, "interior": [hole] if hole else []}})
            else:
                yy, xx = np.mgrid[: int(2 * r), : int(2 * r)]
                blob = ((yy - r) ** 2 + (xx - r) ** 2 < r * r).astype(np.uint8) * 255
                png = cv2.imencode(".png", np.dstack([blob, blob, blob, blob]))[1].tobytes()
                objects.append({"classTitle": CLASSES[k % 3], "geometryType": "bitmap",
                                "bitmap": {"data": base64.b64encode(zlib.compress(png)).decode("ascii"),
                                           "origin": [int(cx - r), int(cy - r)]}})
        ann = {"size": {"height": SLY_H, "width": SLY_W}, "objects": objects}
        (root / "ds0" / "ann" / f"{name}.json").write_text(json.dumps(ann))
    return root


def _hand_written_supervisely(export: Path, out: Path) -> None:
    """The SDK's drawing, written out: a full-image canvas per polygon (fillPoly of the floored exterior, then
    the interiors), bitmaps decoded (zlib, PNG alpha) and pasted at their origin, cv2.imwrite."""
    import base64
    import zlib

    out.mkdir(parents=True, exist_ok=True)
    index = {c["title"]: i + 1 for i, c in enumerate(json.loads((export / "meta.json").read_text())["classes"])}
    for path in sorted((export / "ds0" / "ann").glob("*.json")):
        ann = json.loads(path.read_text())
        h, w = ann["size"]["height"], ann["size"]["width"]
        labels = np.zeros((h, w), np.uint8)
        for obj in ann["objects"]:
            if obj["geometryType"] == "polygon":
                canvas = np.zeros((h, w), np.uint8)
                cv2.fillPoly(canvas, [np.floor(obj["points"]["exterior"]).astype(np.int32)], 1)
                holes = [np.floor(p).astype(np.int32) for p in obj["points"]["interior"]]
                if holes:
                    cv2.fillPoly(canvas, holes, 0)
                labels[canvas > 0] = index[obj["classTitle"]]
            else:
                png = zlib.decompress(base64.b64decode(obj["bitmap"]["data"]))
                mask = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)[:, :, 3] > 0
                x, y = obj["bitmap"]["origin"]
                region = labels[y : y + mask.shape[0], x : x + mask.shape[1]]
                region[mask[: region.shape[0], : region.shape[1]]] = index[obj["classTitle"]]
        cv2.imwrite(str(out / (Path(path.name.removesuffix(".json")).stem + ".png")), labels)


def _ade20k_export(root: Path, images: int) -> Path:
    """ADE20K's full release: x.jpg, x_seg.png (class codes red / 10 * 256 + green over 40 of 3688 classes, blue
    an instance number) and x.json naming them, 1024x768."""
    rng = np.random.default_rng(5)
    blank = cv2.imencode(".jpg", np.full((ADE_H, ADE_W, 3), 90, np.uint8))[1].tobytes()
    codes_used = np.sort(rng.choice(np.arange(1, 3689), 40, replace=False))
    root.mkdir(parents=True)
    for i in range(images):
        name = f"ADE_train_{i:08d}"
        (root / f"{name}.jpg").write_bytes(blank)
        blocks = rng.choice(np.append(codes_used, 0), (ADE_H // 32, ADE_W // 32))
        codes = np.kron(blocks, np.ones((32, 32), int))
        instance = np.kron(rng.integers(0, 6, blocks.shape), np.ones((32, 32), int))
        seg = np.stack([codes // 256 * 10, codes % 256, instance], axis=2).astype(np.uint8)
        cv2.imwrite(str(root / f"{name}_seg.png"), seg[:, :, ::-1])
        objects = [{"id": k, "name": f"object {c}", "name_ndx": int(c), "parts": {"part_level": 0}}
                   for k, c in enumerate(np.unique(blocks)) if c]
        (root / f"{name}.json").write_text(json.dumps({"annotation": {"object": objects}}))
    return root


def _hand_written_ade20k(export: Path, out: Path) -> None:
    """The release's loadAde20K decode (PIL, (R / 10) * 256 + G), the set's codes gathered in a first pass and
    numbered in order, 0 (unlabelled) as 255, cv2.imwrite."""
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(export.glob("*_seg.png"))
    decoded = {}
    for path in files:
        seg = np.array(Image.open(path))
        decoded[path] = (seg[:, :, 0] / 10).astype(np.int32) * 256 + seg[:, :, 1].astype(np.int32)
    codes = sorted(set().union(*(np.unique(c).tolist() for c in decoded.values())) - {0})
    lut = np.full(256 * 26, 255, np.uint8)
    lut[codes] = np.arange(len(codes))
    for path, code in decoded.items():
        cv2.imwrite(str(out / (path.name.removesuffix("_seg.png") + ".png")), lut[code])


def _compare(ours: Path, hand: Path, labels_under: str = "") -> tuple[int, int]:
    files = sorted(hand.glob("*.png"))
    same = sum(np.array_equal(read_mask(ours / "labels" / labels_under / f.name), read_mask(f)) for f in files)
    return same, len(files)


def _measure(fmt: str, export: Path, tmp: Path, hand_fn, outputs: str | None = None, labels_under: str = "",
             **options) -> dict:
    name = outputs or fmt

    def ours(jobs: int, out: Path) -> None:
        with make_executor(jobs) as executor:
            report = import_annotations(fmt, export, out, executor=executor, quiet=True, force=True, **options)
        if not report.ok:
            raise SystemExit(f"import {fmt} failed: {report.errors[:1]}")

    hand, serial = alternating_best(lambda _: hand_fn(export, tmp / f"{name}-hand"),
                                    lambda _: ours(1, tmp / f"{name}-ours"), [None], rounds=3)
    parallel = best_of(lambda: ours(2, tmp / f"{name}-ours-j2"))
    same, total = _compare(tmp / f"{name}-ours", tmp / f"{name}-hand", labels_under)
    if same != total:
        raise SystemExit(f"{fmt}: {total - same} of {total} label maps differ from the hand-written loop")
    return {"format": fmt, "images": total, "hand-written s": hand, "dataprep -j 1 s": serial,
            "speed-up -j 1": hand / serial, "dataprep -j 2 s": parallel, "speed-up -j 2": hand / parallel,
            "same label maps": f"{same}/{total}"}


def main(quick: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-import-tools-"))
    try:
        ls_export = _label_studio_export(tmp / "ls", 6 if quick else 60)
        (tmp / "via").mkdir()
        via_export = _via_export(tmp / "via", 10 if quick else 200)
        kaggle_export = _kaggle_export(tmp / "kaggle", 20 if quick else 400)
        rows = [_measure("label-studio", ls_export, tmp, _hand_written_label_studio),
                _measure("via", via_export, tmp, _hand_written_via),
                _measure("kaggle-rle", kaggle_export, tmp, _hand_written_kaggle, unlisted_background=True),
                _measure("mat", _mat_export(tmp / "sbd", 20 if quick else 400), tmp, _hand_written_mat)]
        names = tmp / "voc_names.txt"
        names.write_text("".join(f"class_{i}\n" for i in range(21)))
        rows.append({**_measure("mat", tmp / "sbd" / "cls", tmp, _hand_written_mat, labels_file=names,
                                outputs="mat-labels"), "format": "mat --labels"})
        rows.append(_measure("supervisely", _supervisely_export(tmp / "sly", 8 if quick else 60), tmp,
                             _hand_written_supervisely, labels_under="ds0"))
        rows.append(_measure("ade20k", _ade20k_export(tmp / "ade", 10 if quick else 200), tmp,
                             _hand_written_ade20k))
        write_result("import_tools", rows, {
            "label-studio": f"{LS_W}x{LS_H}, 3 soft-edged brush regions + 5 polygons per task; the loop decodes "
                            "brushes as label-studio-converter's brush.decode_rle (bit string)",
            "via": f"{VIA_W}x{VIA_H} JPEGs, 12 polygons per image, PIL polygons in the loop",
            "kaggle-rle": f"Severstal's layout: {KG_W}x{KG_H} JPEGs, 4 classes, each present with p=0.5 as one "
                          "ellipse; the loop is the kernels' rle2mask (a slice per run, reshape(width, height).T)",
            "mat": f"SBD's layout: {MAT_W}x{MAT_H} JPEGs, cls/*.mat with GTcls.Segmentation (21 values + 255); "
                   "the loop is loadmat + cv2.imwrite. Without --labels the files are read twice (the class "
                   "count first, in parallel at -j 2); with --labels (21 names) once",
            "supervisely": f"{SLY_W}x{SLY_H} JPEGs, 20 polygons (2 with a hole) and 6 bitmaps per image; the loop "
                           "draws as the SDK: a full-image canvas per polygon",
            "ade20k": f"the full release's layout: {ADE_W}x{ADE_H} JPEGs, x_seg.png codes of 40 classes with "
                      "instance numbers, x.json names; the loop is loadAde20K's decode, a first pass for the set's "
                      "codes, cv2.imwrite; it keeps every decoded mask in memory (25k ADE images would not fit), "
                      "dataprep decodes each file twice (the set's codes, then the maps), in parallel at -j 2",
            "timing": "best of 3 alternating runs in this process (-j 2: best of 3), outputs written to disk"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
