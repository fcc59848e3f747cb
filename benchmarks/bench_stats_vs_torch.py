"""`dataprep stats` against the torch `DataLoader` loop users write to get a dataset's mean/std.

Whole processes, alternating runs, medians of wall time and of CPU time (user +
system of the process and its workers), on ~150 photo-like JPEGs (640x480):
- `dataprep stats` with its default `-j` (all cores);
- the loop from the tutorials: a `torch.utils.data.Dataset` whose `__getitem__`
  reads the file with `cv2.imread` (+ BGR -> RGB), a `DataLoader(batch_size=16,
  num_workers=<cores>)`, and per-channel sum and sum of squares accumulated in
  float64 (std = sqrt(E[x^2] - mean^2)).
Both must give the same per-channel mean and std (0..255 scale) to 1e-6; the
benchmark fails otherwise. Issue goal: stats at least 4.8x faster than the loop.
"""
from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_startup import CLI, make_jpegs
from common import REPO, child_env, run_process, write_result

TORCH_LOOP = """
import json, os, sys
import cv2
import torch
from torch.utils.data import DataLoader, Dataset


class ImageDataset(Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        image = cv2.imread(self.paths[i], cv2.IMREAD_COLOR)
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return torch.from_numpy(image)


if __name__ == "__main__":
    paths = sorted(p.path for p in os.scandir(sys.argv[1]) if p.name.endswith(".jpg"))
    loader = DataLoader(ImageDataset(paths), batch_size=16, num_workers=os.cpu_count())
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    pixels = 0
    for batch in loader:
        batch = batch.to(torch.float64)
        total += batch.sum(dim=(0, 1, 2))
        total_sq += (batch ** 2).sum(dim=(0, 1, 2))
        pixels += batch.shape[0] * batch.shape[1] * batch.shape[2]
    mean = total / pixels
    std = (total_sq / pixels - mean ** 2).sqrt()
    print(json.dumps({"mean": mean.tolist(), "std": std.tolist()}))
"""


def _torch_stats(folder: Path, script: Path) -> dict:
    out = subprocess.run([sys.executable, str(script), str(folder)], check=True, capture_output=True, text=True,
                         cwd=REPO, env=child_env())
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dataprep_stats(args: list[str], out: Path) -> dict:
    subprocess.run([sys.executable, *args], cwd=REPO, env=child_env(), capture_output=True)  # exits 0 or 1
    image = json.loads(out.read_text())["image"]
    return {"mean": image["mean"], "std": image["std"]}


def main(quick: bool = False) -> None:
    import os

    rounds = 3 if quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-stats-torch-"))
    try:
        manifest = make_jpegs(tmp, 40 if quick else 150)
        script = tmp / "torch_loop.py"  # a file, as users run it (DataLoader workers may need to import it)
        script.write_text(TORCH_LOOP)
        out = tmp / "stats.json"
        stats_args = [*CLI, "stats", "-q", str(manifest), "-o", str(out)]
        ours, theirs = _dataprep_stats(stats_args, out), _torch_stats(tmp / "images", script)
        diff = max(abs(a - b) for key in ("mean", "std") for a, b in zip(ours[key], theirs[key]))
        if diff > 1e-6:
            raise AssertionError(f"stats and the torch loop disagree by {diff}: {ours} vs {theirs}")
        variants = {"dataprep stats (default -j)": (stats_args, False),
                    "torch DataLoader loop": ([str(script), str(tmp / "images")], True)}
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for name, (args, check) in variants.items():
                w, c = run_process(args, cwd=REPO, check=check)
                wall[name].append(w)
                cpu[name].append(c)
        med = {k: statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        ours_s, loop_s = med["dataprep stats (default -j)"], med["torch DataLoader loop"]
        rows = [{"process": k, "seconds": med[k], "cpu_seconds": med_cpu[k]} for k in variants]
        rows.append({"process": "torch loop / dataprep stats", "ratio": loop_s / ours_s,
                     "cpu_ratio": med_cpu["torch DataLoader loop"] / med_cpu["dataprep stats (default -j)"]})
        write_result("stats_vs_torch", rows, {
            "data": f"{len(list((tmp / 'images').iterdir()))} JPEG 640x480, quality 90",
            "workers": f"DataLoader num_workers={os.cpu_count()}, batch_size=16; stats default -j",
            "agreement": f"per-channel mean/std (0..255) agree to {diff:.1e} (required: 1e-6)",
            "mean / std": f"{[round(v, 4) for v in ours['mean']]} / {[round(v, 4) for v in ours['std']]}",
            "note": f"whole processes, median of {rounds} alternating rounds; shared machine, noisy: wall times "
                    "include waiting for a core, CPU times do not",
            "goal": "stats at least 4.8x faster than the torch loop",
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
