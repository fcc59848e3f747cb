"""`dataprep import coco` on a synthetic COCO instances JSON: 5,000 images of 640x480 with 50,000 polygons.

Measured in the same run, on the same JSON and image files (serial, OpenCV single-threaded):
- `import_annotations("coco", ...)`: parse, size check from the image header,
  rasterize (pycocotools polygons, painted run by run), write palette PNGs,
  palette.json and manifest.csv;
- the loop users write by hand: `COCO(json)`, then per image `annToMask` per
  annotation, `mask[m > 0] = index`, `cv2.imwrite` (on a subset of the images:
  it is slower; images per second are compared);
- `import_annotations` with `-j 2` (a process pool);
- compute only, no files: the importer's rasterize + paint per image vs `annToMask` +
  `mask[m > 0] = index` per annotation (each side's JSON parsing and indexing included).
Outputs of both are compared pixel for pixel on the subset (they must be equal).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import write_result

from dataprep.executor import ProcessExecutor
from dataprep.importers import import_annotations
from dataprep.io import read_mask

WIDTH, HEIGHT = 640, 480


def synthetic_coco(root: Path, images: int, per_image: int, seed: int = 0) -> Path:
    """Star-shaped polygons (8..40 vertices, 10..150 px radius), 1..3 parts, over 80 categories with COCO's id gaps."""
    rng = np.random.default_rng(seed)
    cat_ids = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    blank = cv2.imencode(".png", np.full((HEIGHT, WIDTH, 3), 127, np.uint8))[1].tobytes()
    img_dir = root / "images"
    img_dir.mkdir(parents=True)
    imgs, anns = [], []
    for i in range(images):
        name = f"{i:012d}.png"
        (img_dir / name).write_bytes(blank)
        imgs.append({"id": i + 1, "file_name": name, "width": WIDTH, "height": HEIGHT})
        for _ in range(per_image):
            parts = []
            for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
                n = int(rng.integers(8, 41))
                cx, cy = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)
                radius = rng.uniform(10, 150) * rng.uniform(0.5, 1.0, n)
                angle = np.sort(rng.uniform(0, 2 * np.pi, n))
                xs = np.clip(cx + radius * np.cos(angle), 0, WIDTH)
                ys = np.clip(cy + radius * np.sin(angle), 0, HEIGHT)
                parts.append([round(float(v), 2) for xy in zip(xs, ys) for v in xy])
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(rng.choice(cat_ids)),
                         "iscrowd": 0, "segmentation": parts, "area": 0.0, "bbox": [0, 0, 0, 0]})
    path = root / "instances.json"
    path.write_text(json.dumps({"images": imgs, "annotations": anns,
                                "categories": [{"id": c, "name": f"cat{c}"} for c in cat_ids]}))
    return path


def hand_loop(json_path: Path, out: Path, limit: int) -> tuple[float, int]:
    """What users write with pycocotools; returns (seconds, images)."""
    from pycocotools.coco import COCO

    start = time.perf_counter()
    coco = COCO(str(json_path))
    index = {c: i + 1 for i, c in enumerate(sorted(coco.getCatIds()))}
    out.mkdir(parents=True, exist_ok=True)
    ids = sorted(coco.getImgIds())[:limit]
    for iid in ids:
        img = coco.loadImgs(iid)[0]
        mask = np.zeros((img["height"], img["width"]), np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[iid], iscrowd=None)):
            mask[coco.annToMask(ann) > 0] = index[ann["category_id"]]
        cv2.imwrite(str(out / (Path(img["file_name"]).stem + ".png")), mask)
    return time.perf_counter() - start, len(ids)


def compute_only(json_path: Path, limit: int) -> tuple[float, float]:
    """Seconds per image for the rasterize + paint step of each side, without reading or writing files."""
    from pycocotools.coco import COCO

    from dataprep.importers.coco import read_coco
    from dataprep.importers.paint import Drawn, paint
    from dataprep.importers.raster import rasterize

    start = time.perf_counter()
    plan = read_coco(json_path)
    for entry in plan.entries[:limit]:
        drawn = [Drawn(label, starts, ends, r.z, i) for i, r in enumerate(entry.regions)
                 for label, (starts, ends) in rasterize(r.kind, r.label, r.data, HEIGHT, WIDTH)]
        paint(drawn, HEIGHT, WIDTH, ignore_index=255, num_classes=81)
    ours = (time.perf_counter() - start) / limit
    start = time.perf_counter()
    coco = COCO(str(json_path))
    index = {c: i + 1 for i, c in enumerate(sorted(coco.getCatIds()))}
    for iid in sorted(coco.getImgIds())[:limit]:
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[iid])):
            mask[coco.annToMask(ann) > 0] = index[ann["category_id"]]
    return ours, (time.perf_counter() - start) / limit


def main(quick: bool = False) -> None:
    images, per_image = (500, 10) if quick else (5000, 10)
    loop_images = 200 if quick else 1000
    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_import_"))
    try:
        json_path = synthetic_coco(tmp / "coco", images, per_image)
        size_mb = json_path.stat().st_size / 1e6
        start = time.perf_counter()
        report = import_annotations("coco", json_path, tmp / "ours", quiet=True)
        ours = time.perf_counter() - start
        assert report.ok and report.converted == images
        loop_s, loop_n = hand_loop(json_path, tmp / "loop", loop_images)
        for name in sorted(os.listdir(tmp / "loop"))[:loop_n]:
            a, b = read_mask(tmp / "ours" / "labels" / name), read_mask(tmp / "loop" / name)
            if not np.array_equal(a, b):
                raise AssertionError(f"{name}: import differs from the annToMask loop")
        with ProcessExecutor(2) as pool:
            start = time.perf_counter()
            import_annotations("coco", json_path, tmp / "ours_j2", executor=pool, quiet=True)
            ours_j2 = time.perf_counter() - start
        polygons = images * per_image
        ours_c, loop_c = compute_only(json_path, loop_images)
        rows = [
            {"variant": "dataprep import coco", "jobs": 1, "images": images, "s": ours,
             "images_per_s": images / ours, "polygons_per_s": polygons / ours, "vs_loop": (images / ours) / (loop_n / loop_s)},
            {"variant": "dataprep import coco", "jobs": 2, "images": images, "s": ours_j2,
             "images_per_s": images / ours_j2, "polygons_per_s": polygons / ours_j2,
             "vs_loop": (images / ours_j2) / (loop_n / loop_s)},
            {"variant": "annToMask loop (by hand)", "jobs": 1, "images": loop_n, "s": loop_s,
             "images_per_s": loop_n / loop_s, "polygons_per_s": loop_n * per_image / loop_s, "vs_loop": 1.0},
            {"variant": "compute only: import rasterize + paint", "jobs": 1, "images": loop_images,
             "s": ours_c * loop_images, "images_per_s": 1 / ours_c, "polygons_per_s": per_image / ours_c,
             "vs_loop": loop_c / ours_c},
            {"variant": "compute only: annToMask + assign", "jobs": 1, "images": loop_images,
             "s": loop_c * loop_images, "images_per_s": 1 / loop_c, "polygons_per_s": per_image / loop_c,
             "vs_loop": 1.0},
        ]
        write_result("import", rows, {
            "workload": f"{images} images {WIDTH}x{HEIGHT}, {polygons} annotations (1-3 polygon parts each), "
                        f"80 categories; JSON {size_mb:.1f} MB",
            "equal_outputs": f"first {loop_n} label maps identical to the annToMask loop's",
            "note": "the loop's time includes COCO() indexing; both write one PNG per image; the importer also "
                    "reads every image's header (size check) and writes atomically",
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
