"""`dataprep unstack` against the hand-written split people write, in one process, outputs compared.

A 120-page 512x512 uint8 volume with its 0/255 label stack (ISBI 2012's shape,
four times as deep). The hand-written split: `tifffile.imread` of both stacks
(whole volumes in memory), `cv2.imwrite` of each page, a manifest line per pair.
dataprep reads one page at a time (-j 1, then 2 worker processes). Alternating,
best of 5 each; the written pages decoded and compared.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import tifffile
from common import alternating_best, best_of, write_result

from dataprep import io
from dataprep.executor import make_executor
from dataprep.manifest import read_manifest
from dataprep.unstack import unstack


def _stacks(root: Path, pages: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:512]
    images, labels = root / "volume.tif", root / "labels.tif"
    cells = np.stack([(np.sin(xx / (9 + i % 5)) + np.cos(yy / (11 + i % 7))) > 0.3 for i in range(pages)])
    volume = np.clip(cells * 90 + 80 + rng.normal(0, 12, cells.shape), 0, 255).astype(np.uint8)
    tifffile.imwrite(images, volume, photometric="minisblack")  # one series of `pages` pages, as ImageJ writes
    tifffile.imwrite(labels, (cells * 255).astype(np.uint8), photometric="minisblack")
    return images, labels


def _hand_written(images: Path, labels: Path, out: Path) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    volume, masks = tifffile.imread(images), tifffile.imread(labels)
    lines = ["id,image,mask,width,height"]
    for i, (image, mask) in enumerate(zip(volume, masks)):
        cv2.imwrite(str(out / "images" / f"{i:03d}.png"), image)
        cv2.imwrite(str(out / "masks" / f"{i:03d}.png"), mask)
        lines.append(f"{i:03d},images/{i:03d}.png,masks/{i:03d}.png,{image.shape[1]},{image.shape[0]}")
    (out / "manifest.csv").write_text("\n".join(lines) + "\n")


def main(quick: bool = False) -> None:
    pages = 12 if quick else 120
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-unstack-"))
    try:
        images, labels = _stacks(tmp, pages)

        def ours(jobs: int, out: Path) -> None:
            with make_executor(jobs) as executor:
                unstack(images, out, masks=labels, executor=executor, quiet=True)

        hand, serial = alternating_best(lambda _: _hand_written(images, labels, tmp / "hand"),
                                        lambda _: ours(1, tmp / "ours"), [None], rounds=5)
        parallel = best_of(lambda: ours(2, tmp / "ours_j2"))
        rows = read_manifest(tmp / "ours" / "manifest.csv").rows
        same = sum(np.array_equal(io.read_image(r.image), io.read_image(tmp / "hand" / "images" / f"{i:03d}.png"))
                   and np.array_equal(io.read_mask(r.mask), io.read_mask(tmp / "hand" / "masks" / f"{i:03d}.png"))
                   for i, r in enumerate(rows))
        if same != pages:
            raise SystemExit(f"outputs differ from the hand-written split ({same}/{pages} pages equal)")
        write_result("unstack", [{"pages": pages, "hand-written s": hand, "dataprep -j 1 s": serial,
                                  "ratio -j 1": serial / hand, "dataprep -j 2 s": parallel,
                                  "speed-up -j 2": serial / parallel, "same pixels": f"{same}/{pages} pages"}],
                     {"stacks": f"{pages} pages of 512x512 uint8 + 0/255 labels, uncompressed TIFF",
                      "timing": "best of 5 alternating runs in this process (-j 2: best of 3)"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
