"""`dataprep labels2rle` against the loop Kaggle kernels write for a submission file, outputs compared.

400 Severstal-sized label maps (1600x256, 4 classes, each present with p=0.5 as one ellipse, imported from
a run-length CSV first). The loop: PIL per label map (cv2 would give a palette PNG's colours), the
kernels' mask2rle (flatten the transposed mask, run boundaries with np.where) per class present,
csv.writer. Both write the CSV to disk; dataprep -j 1 alternates with the loop (best of 3 each), then -j 2.
The two files must hold the same rows.
"""
from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_import_tools import _kaggle_export
from common import alternating_best, best_of, write_result
from PIL import Image

from dataprep.executor import make_executor
from dataprep.importers import import_annotations
from dataprep.manifest import read_manifest
from dataprep.rle_export import write_rle_csv


def _mask2rle(mask: np.ndarray) -> str:
    pixels = np.concatenate([[0], mask.T.flatten(), [0]])
    runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
    runs[1::2] -= runs[::2]
    return " ".join(str(x) for x in runs)


def _hand_written(manifest: Path, out: Path) -> None:
    with open(out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["ImageId", "ClassId", "EncodedPixels"])
        for row in read_manifest(manifest).rows:
            label = np.asarray(Image.open(row.mask))  # palette PNGs: PIL gives the indices, cv2 colours
            for cls in range(1, 5):
                if (label == cls).any():
                    writer.writerow([row.image.name, cls, _mask2rle((label == cls).astype(np.uint8))])


def main(quick: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-rle-"))
    try:
        export = _kaggle_export(tmp / "kaggle", 20 if quick else 400)
        report = import_annotations("kaggle-rle", export, tmp / "labels", quiet=True, unlisted_background=True)
        manifest = report.manifest_path

        def ours(jobs: int, out: Path) -> None:
            with make_executor(jobs) as executor:
                write_rle_csv(manifest, out, executor=executor, quiet=True)

        hand, serial = alternating_best(lambda _: _hand_written(manifest, tmp / "hand.csv"),
                                        lambda _: ours(1, tmp / "ours.csv"), [None], rounds=3)
        parallel = best_of(lambda: ours(2, tmp / "ours-j2.csv"))
        same = (tmp / "hand.csv").read_text() == (tmp / "ours.csv").read_text()
        if not same:
            raise SystemExit("labels2rle and the hand-written loop wrote different CSVs")
        rows = [{"label maps": report.converted, "hand-written s": hand, "dataprep -j 1 s": serial,
                 "speed-up -j 1": hand / serial, "dataprep -j 2 s": parallel, "speed-up -j 2": hand / parallel,
                 "same CSV": same}]
        write_result("rle", rows, {"data": "1600x256 label maps, 4 classes (Severstal's layout)",
                                   "timing": "best of 3 alternating runs in this process (-j 2: best of 3)"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
