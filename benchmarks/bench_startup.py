"""Start-up and whole-command overhead: what a user waits for beyond the work itself.

Whole processes, alternating runs, medians of wall time and of CPU time (user +
system of the process and its workers; far less disturbed by other load):
- `python -c pass`, the floor;
- `dataprep --help`;
- a 1-file command: `dataprep masks2labels` of one sample_data mask (default `-j`: the
  pool must not start for one file);
- `dataprep stats` over ~150 JPEGs (640x480) vs a decode-only process (import
  dataprep.io, decode the same files with `read_pixels`, as stats does).
Goals: --help and the 1-file command < 0.3 s over `python -c pass`; stats <= 1.2x decode-only.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from common import REPO, SAMPLE, run_process, write_result

from dataprep.manifest import ManifestRow, write_manifest
from dataprep.scan import scan

CLI = ["-c", "from dataprep.cli import main; main()"]
DECODE_ONLY = """
import sys
from dataprep.io import read_pixels
from dataprep.manifest import read_manifest
for row in read_manifest(sys.argv[1]).rows:
    read_pixels(row.image)
"""


def make_jpegs(root: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        base = rng.integers(0, 255, (30, 40, 3), np.uint8)
        image = cv2.resize(base, (640, 480), interpolation=cv2.INTER_CUBIC)  # smooth, photo-like JPEGs
        path = root / "images" / f"img_{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append(ManifestRow(id=f"img_{i:04d}", image=path, mask=None, width=640, height=480))
    return write_manifest(rows, root / "images.csv")


def main(quick: bool = False) -> None:
    rounds = 3 if quick else 7
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-startup-"))
    try:
        one = tmp / "one.csv"
        write_manifest(scan(SAMPLE, exclude=["bad/*"]).rows[:1], one)
        images = make_jpegs(tmp, 40 if quick else 150)
        variants = {
            "python -c pass": ["-c", "pass"],
            "dataprep --help": [*CLI, "--help"],
            "dataprep masks2labels, 1 file": [*CLI, "masks2labels", "-q", "--overwrite", "--palette",
                                              str(SAMPLE / "palette.json"), str(one), str(tmp / "labels")],
            "dataprep stats": [*CLI, "stats", "-q", str(images), "-o", str(tmp / "stats.json")],
            "decode-only process": ["-c", DECODE_ONLY, str(images)],
        }
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for name, args in variants.items():
                w, c = run_process(args, cwd=REPO, check=name != "dataprep stats")  # stats exits 0 or 1
                wall[name].append(w)
                cpu[name].append(c)
        med = {k: statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        floor, floor_cpu = med["python -c pass"], med_cpu["python -c pass"]
        rows = []
        for name in variants:
            row = {"process": name, "seconds": med[name], "cpu_seconds": med_cpu[name]}
            if name in ("dataprep --help", "dataprep masks2labels, 1 file"):
                row.update({"over_python_s": med[name] - floor, "cpu_over_python_s": med_cpu[name] - floor_cpu})
            if name == "dataprep stats":
                row.update({"ratio": med[name] / med["decode-only process"],
                            "cpu_ratio": med_cpu[name] / med_cpu["decode-only process"]})
            rows.append(row)
        write_result("startup", rows, {
            "stats data": f"{len(list((tmp / 'images').iterdir()))} JPEG 640x480, quality 90",
            "note": f"whole processes, median of {rounds} alternating rounds; shared machine, noisy: wall times "
                    "include waiting for a core, CPU times do not",
            "goals": "--help and a 1-file command < 0.3 s over python -c pass; stats <= 1.2x decode-only",
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
