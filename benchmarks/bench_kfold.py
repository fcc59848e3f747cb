"""kfold at scale: 10k and 100k rows of tiny label maps, whole `dataprep kfold` processes.

Growth (100k / 10k time), peak memory (the process's max RSS) and time per row.
The rows point at a pool of 1,000 distinct 16x16 label maps (up to 6 of 19
classes each), so the files fit the page cache and the measurement is dataprep's
own per-row cost (reading, class counts, stratification, writing the folds), not
the disk's. Serial (-j 1) and the default (all cores).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import run_cli_peak, write_result

from dataprep.io import write_mask
from dataprep.manifest import ManifestRow, write_manifest

POOL = 1000
SIDE = 16
CLASSES = 19


def make_manifest(root: Path, rows: int, seed: int = 0) -> Path:
    masks = root / "masks"
    if not masks.exists():
        rng = np.random.default_rng(seed)
        masks.mkdir(parents=True)
        for i in range(POOL):
            present = rng.choice(CLASSES, size=int(rng.integers(1, 7)), replace=False)
            write_mask(masks / f"m{i:04d}.png", rng.choice(present, size=(SIDE, SIDE)).astype(np.uint8))
    out = root / f"manifest_{rows}.csv"
    write_manifest([ManifestRow(id=f"r{i:06d}", image=f"images/r{i:06d}.jpg", mask=masks / f"m{i % POOL:04d}.png",
                                width=SIDE, height=SIDE) for i in range(rows)], out)
    return out


def run_kfold(manifest: Path, out: Path, jobs: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one whole `dataprep kfold` process."""
    return run_cli_peak(["kfold", str(manifest), "-k", "5", "-o", str(out), "-j", str(jobs), "-q",
                         "--num-classes", str(CLASSES)])


def main(quick: bool = False) -> None:
    sizes = (2_000, 20_000) if quick else (10_000, 100_000)
    repeat = 1
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-kfold-"))
    try:
        manifests = {n: make_manifest(tmp, n) for n in sizes}
        rows = []
        for jobs in (1, 0):
            times: dict[int, list[float]] = {n: [] for n in sizes}
            peaks: dict[int, float] = {n: 0.0 for n in sizes}
            for _ in range(repeat):  # alternating sizes, median of the repeats
                for n in sizes:
                    seconds, peak = run_kfold(manifests[n], tmp / f"out_{n}", jobs)
                    times[n].append(seconds)
                    peaks[n] = max(peaks[n], peak)
            for n in sizes:
                med = float(np.median(times[n]))
                rows.append({"rows": n, "jobs": jobs or "all cores", "seconds": med, "peak_rss_mb": peaks[n],
                             "ms_per_row": 1000 * med / n})
            small, big = (float(np.median(times[n])) for n in sizes)
            rows.append({"rows": f"{sizes[1]} / {sizes[0]}", "jobs": jobs or "all cores", "seconds": big / small})
        write_result("kfold", rows, {
            "data": f"{POOL} distinct {SIDE}x{SIDE} label maps, {CLASSES} classes, multilabel mode, k=5",
            "note": f"whole processes, {repeat} run(s) each, sizes alternating; peak = max RSS of the process "
                    "(the parent; workers are separate processes); shared machine, noisy",
            "goal": "100k rows < 10 s and < 200 MB",
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
