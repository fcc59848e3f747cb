"""Tile and stitch a 10000x10000 3-band image: time and peak memory against reading it once.

The source is a striped, uncompressed TIFF (64 rows per strip) with a label
map beside it as PNG (decoded whole) or as a striped TIFF (read band by band). Each step runs in a fresh Python process, so its peak
resident memory (VmHWM) is its own; `python + imports` is the floor every
step pays. `tile` reads the TIFF one band of tile rows at a time, so its peak
stays near one band plus the decoded PNG mask (or one band of a TIFF mask); `stitch` holds the rebuilt
image and mask. The stitched image is checked equal to the source.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from common import REPO, write_result

from dataprep import io
from dataprep.manifest import ManifestRow, write_manifest

_STEP = r"""
import json, resource, sys, time
from pathlib import Path
root = Path(sys.argv[1]); step = sys.argv[2]
from dataprep.raster import read_raster
from dataprep.stitch import stitch_manifest
from dataprep.tiling import tile_manifest
from dataprep import io
start = time.perf_counter()
if step == "read image once":
    read_raster(root / "scene.tif")
elif step == "read image + mask once":
    both = read_raster(root / "scene.tif"), io.read_mask(root / "scene_mask.png")
elif step == "tile":
    tile_manifest(root / "source.csv", root / "tiles", size=512, overlap=64, quiet=True, force=True)
elif step == "tile (mask as striped TIFF)":
    tile_manifest(root / "source_tiff_mask.csv", root / "tiles_tiff_mask", size=512, overlap=64, quiet=True, force=True)
elif step == "stitch":
    stitch_manifest(root / "tiles" / "manifest.csv", root / "stitched", quiet=True)
seconds = time.perf_counter() - start
# VmHWM is this process image's own peak; ru_maxrss would carry the parent's peak across fork + exec.
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak}))
"""


def _run(root: Path, step: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _STEP, str(root), step], check=False, capture_output=True, text=True,
                         # a 10,000 x 10,000 scene is over the decompression-bomb guard, and genuine
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "DATAPREP_MAX_IMAGE_PIXELS": "none"})
    if out.returncode:
        raise SystemExit(f"step {step!r} failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> None:
    side = 2000 if quick else 10_000
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-tile-"))
    try:
        rng = np.random.default_rng(0)
        image = np.empty((side, side, 3), np.uint8)
        for y in range(0, side, 1000):  # random pixels, written band by band to keep this process small
            image[y : y + 1000] = rng.integers(0, 256, (min(1000, side - y), side, 3), dtype=np.uint8)
        tifffile.imwrite(tmp / "scene.tif", image, photometric="rgb", rowsperstrip=64)
        mask = ((np.arange(side, dtype=np.int32)[:, None] // 97 + np.arange(side, dtype=np.int32)[None, :] // 89) % 7)
        io.write_mask(tmp / "scene_mask.png", mask.astype(np.uint8))
        tifffile.imwrite(tmp / "scene_mask.tif", mask.astype(np.uint8), rowsperstrip=64)
        del mask
        write_manifest([ManifestRow("scene", tmp / "scene.tif", tmp / "scene_mask.png", side, side)], tmp / "source.csv")
        write_manifest([ManifestRow("scene", tmp / "scene.tif", tmp / "scene_mask.tif", side, side)],
                       tmp / "source_tiff_mask.csv")
        rows = []
        floor = _run(tmp, "imports only")
        rows.append({"step": "python + imports", "seconds": 0.0, "peak_rss_mb": floor["peak_rss_mb"]})
        for step in ("read image once", "read image + mask once", "tile", "tile (mask as striped TIFF)", "stitch"):
            result = _run(tmp, step)
            rows.append({"step": step, **result})
        with tifffile.TiffFile(tmp / "stitched" / "images" / "scene.tif") as tif:
            same = np.array_equal(tif.pages.first.asarray(), image)
        tiles = len(list((tmp / "tiles" / "images").iterdir()))
        notes = {"image": f"{side}x{side}x3 uint8, striped TIFF (64 rows/strip), {image.nbytes / 2**20:.0f} MiB decoded",
                 "tiles": f"{tiles} tiles of 512x512, overlap 64, pad none",
                 "stitched equals source": same}
        if not same:
            raise SystemExit("stitched image differs from the source")
        write_result("tile", rows, notes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
