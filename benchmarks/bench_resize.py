"""`dataprep resize` against the hand-written cv2 loop it replaces, in one process, outputs compared.

Two jobs on photo-sized pairs (1280x960 JPEG photos):
- `--max-side 512`: photos and their full-size PNG label maps shrunk (area for the
  image, nearest for the mask);
- `--to image`: label maps stored at 0.43x of the photo (as in a real public
  set) brought to the photo's size; the photos are copied.

The hand-written loop is what people write: cv2.imread, cv2.resize (INTER_AREA
for the image, INTER_NEAREST_EXACT for the mask), cv2.imwrite at JPEG quality 95,
a manifest line per pair. Serial both sides (-j 1), alternating, best of 5
runs each; then dataprep with 2 worker processes (best of 3). The outputs are decoded and compared: images
must be the same pixels, masks the same labels.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from common import alternating_best, best_of, write_result

from dataprep import io
from dataprep.executor import make_executor
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.resizing import ResizeTarget, resize_manifest

WIDTH, HEIGHT = 1280, 960


def _dataset(root: Path, n: int, mask_scale: float) -> Path:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    rows = []
    for i in range(n):
        # A smooth photo-like image (JPEG-compressible) and a label map of a few regions.
        base = (np.sin(xx / (40 + i)) * 60 + np.cos(yy / (30 + i)) * 60 + 128)
        image = np.clip(base[..., None] + rng.normal(0, 8, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
        labels = ((xx // (97 + i) + yy // (83 + i)) % 5).astype(np.uint8)
        if mask_scale != 1.0:
            labels = cv2.resize(labels, (round(WIDTH * mask_scale), round(HEIGHT * mask_scale)),
                                interpolation=cv2.INTER_NEAREST_EXACT)
        image_path, mask_path = root / "images" / f"p{i:03d}.jpg", root / "masks" / f"p{i:03d}.png"
        io.write_image(image_path, image)
        io.write_mask(mask_path, labels)
        rows.append(ManifestRow(f"p{i:03d}", image_path, mask_path, WIDTH, HEIGHT))
    return write_manifest(rows, root / "manifest.csv")


def _hand_written(manifest: Path, out: Path, max_side: int | None) -> None:
    """The script a user writes by hand for the same job."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    lines = ["id,image,mask,width,height"]
    for row in read_manifest(manifest).rows:
        image = cv2.imread(str(row.image), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(row.mask), cv2.IMREAD_UNCHANGED)
        h, w = image.shape[:2]
        size = (w, h)
        if max_side is not None:
            factor = min(1.0, max_side / max(h, w))
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
        if size != (w, h):
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(out / "images" / f"{row.id}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        else:  # unchanged: copied, not re-encoded
            shutil.copyfile(row.image, out / "images" / f"{row.id}.jpg")
        if mask.shape[1::-1] != size:
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST_EXACT)
        cv2.imwrite(str(out / "masks" / f"{row.id}.png"), mask)
        lines.append(f"{row.id},images/{row.id}.jpg,masks/{row.id}.png,{size[0]},{size[1]}")
    (out / "manifest.csv").write_text("\n".join(lines) + "\n")


def _compare(ours: Path, theirs: Path) -> tuple[int, int]:
    """(pairs whose image pixels are equal, pairs whose labels are equal)."""
    same_images = same_masks = 0
    for row in read_manifest(ours / "manifest.csv").rows:
        same_images += np.array_equal(io.read_image(row.image), io.read_image(theirs / "images" / f"{row.id}.jpg"))
        same_masks += np.array_equal(io.read_mask(row.mask), io.read_mask(theirs / "masks" / f"{row.id}.png"))
    return same_images, same_masks


def main(quick: bool = False) -> None:
    n = 6 if quick else 32
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-resize-"))
    rows = []
    try:
        jobs = [("--max-side 512", 1.0, ResizeTarget(max_side=512), 512),
                ("--to image (masks at 0.43x)", 0.43, ResizeTarget(to="image"), None)]
        for name, mask_scale, target, max_side in jobs:
            src = _dataset(tmp / f"src{len(rows)}", n, mask_scale)
            ours, theirs = tmp / f"ours{len(rows)}", tmp / f"theirs{len(rows)}"

            def run_ours(jobs_: int, out: Path = ours) -> None:
                with make_executor(jobs_) as executor:
                    resize_manifest(src, out, target, executor=executor, quiet=True)

            # Alternating, best of 5 each: a spell of other load hits both sides alike.
            hand, serial = alternating_best(lambda _: _hand_written(src, theirs, max_side), lambda _: run_ours(1),
                                            [None], rounds=5)
            parallel = best_of(lambda: run_ours(2, tmp / f"ours_j2_{len(rows)}"))
            same_images, same_masks = _compare(ours, theirs)
            if same_images != n or same_masks != n:
                raise SystemExit(f"{name}: outputs differ from the hand-written loop "
                                 f"({same_images}/{n} images, {same_masks}/{n} masks equal)")
            rows.append({"job": name, "pairs": n, "hand-written cv2 s": hand, "dataprep -j 1 s": serial,
                         "ratio -j 1": serial / hand, "dataprep -j 2 s": parallel, "speed-up -j 2": serial / parallel,
                         "same pixels": f"{same_images}/{n} images, {same_masks}/{n} masks"})
        write_result("resize", rows, {"photos": f"{WIDTH}x{HEIGHT} JPEG, label maps PNG",
                                      "timing": "best of 5 alternating whole runs in this process (-j 2: best of 3), outputs on local disk"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
