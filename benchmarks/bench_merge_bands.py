"""`dataprep merge-bands` against the hand-written stacking people write, in one process, outputs compared.

38-Cloud's layout at its real patch size: 384x384 uint16 patches, one file per
band (red, green, blue, NIR) in `train_<band>/`, GeoTIFF tags on each. The
hand-written merge: `tifffile.imread` of the four files, `numpy.stack`,
`tifffile.imwrite` of the (H, W, 4) array as minisblack (so that NIR is not
tagged alpha), a manifest line per patch. dataprep -j 1, then 2 worker
processes. Alternating, best of 5 each; every written image decoded and compared.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from common import alternating_best, best_of, write_result

from dataprep.executor import make_executor
from dataprep.manifest import read_manifest
from dataprep.merge_bands import merge_bands

BANDS = ("red", "green", "blue", "nir")
GEO = [(33550, "d", 3, (30.0, 30.0, 0.0), True), (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 4200000.0, 0.0), True)]


def _patches(root: Path, n: int) -> list[str]:
    rng = np.random.default_rng(0)
    ids = [f"patch_{i}_by_{i % 7}" for i in range(n)]
    for band in BANDS:
        (root / f"train_{band}").mkdir(parents=True)
    for sample in ids:
        pixels = rng.integers(6000, 60000, (384, 384, len(BANDS)), dtype=np.uint16)
        for b, band in enumerate(BANDS):
            tifffile.imwrite(root / f"train_{band}" / f"{band}_{sample}.TIF", pixels[:, :, b], extratags=GEO,
                             metadata=None)
    return ids


def _hand_written(root: Path, ids: list[str], out: Path) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = ["id,image,mask,width,height"]
    for sample in ids:
        image = np.stack([tifffile.imread(root / f"train_{b}" / f"{b}_{sample}.TIF") for b in BANDS], axis=2)
        tifffile.imwrite(out / "images" / f"{sample}.tif", image, photometric="minisblack", planarconfig="contig",
                         extratags=GEO, metadata=None)
        lines.append(f"{sample},images/{sample}.tif,,{image.shape[1]},{image.shape[0]}")
    (out / "manifest.csv").write_text("\n".join(lines) + "\n")


def main(quick: bool = False) -> None:
    n = 8 if quick else 80
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-merge-bands-"))
    try:
        src = tmp / "src"
        ids = _patches(src, n)
        patterns = [str(src / f"train_{b}" / f"{b}_{{id}}.TIF") for b in BANDS]

        def ours(jobs: int, out: Path) -> None:
            with make_executor(jobs) as executor:
                merge_bands(patterns, out, executor=executor, quiet=True)

        hand, serial = alternating_best(lambda _: _hand_written(src, ids, tmp / "hand"),
                                        lambda _: ours(1, tmp / "ours"), [None], rounds=5)
        parallel = best_of(lambda: ours(2, tmp / "ours_j2"))
        rows = read_manifest(tmp / "ours" / "manifest.csv").rows
        same = sum(np.array_equal(tifffile.imread(r.image), tifffile.imread(tmp / "hand" / "images" / f"{r.id}.tif"))
                   for r in rows)
        if same != n:
            raise SystemExit(f"outputs differ from the hand-written merge ({same}/{n} patches equal)")
        write_result("merge_bands", [{"patches": n, "hand-written s": hand, "dataprep -j 1 s": serial,
                                      "ratio -j 1": serial / hand, "dataprep -j 2 s": parallel,
                                      "speed-up -j 2": serial / parallel, "same pixels": f"{same}/{n} patches"}],
                     {"bands": "4 files of 384x384 uint16 per patch (38-Cloud's layout), GeoTIFF tags, uncompressed",
                      "timing": "best of 5 alternating runs in this process (-j 2: best of 3)"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
