"""masks2labels on Dask: throughput with 1 vs 2 workers, and the cost of Dask vs the local process pool.

Workload: Cityscapes-like 1024x2048 RGB colour masks (blocky regions of palette
colours), converted to index PNGs. Every configuration converts the same files
into a fresh folder; cluster start-up is timed separately (a command pays it
once, whatever the number of files).
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from common import write_result
from dataprep.executor import Executor, ProcessExecutor, SerialExecutor, make_executor
from dataprep.io import write_mask
from dataprep.labels import masks_to_labels
from dataprep.manifest import ManifestRow, write_manifest

COLOURS = [(128, 64, 128), (244, 35, 232), (70, 70, 70), (107, 142, 35), (70, 130, 180),
           (220, 20, 60), (0, 0, 142), (153, 153, 153), (0, 0, 0)]
PALETTE = {"name": "bench", "ignore_index": 255,
           "classes": [{"name": f"c{i}", "color": list(c), "index": i} for i, c in enumerate(COLOURS[:-1])]
           + [{"name": "void", "color": [0, 0, 0], "index": 255, "ignore": True}]}


def make_masks(root: Path, n: int, size: tuple[int, int], seed: int = 0) -> Path:
    """n colour masks of `size` (h, w) made of random rectangles, a manifest and a palette; returns the manifest."""
    rng = np.random.default_rng(seed)
    colours = np.array(COLOURS, np.uint8)
    h, w = size
    rows = []
    for i in range(n):
        # Coarse blocks with rectangles on top: region boundaries like street scenes, PNG-friendly.
        mask = colours[rng.integers(0, len(colours), (h // 64 + 1, w // 64 + 1))].repeat(64, 0).repeat(64, 1)[:h, :w]
        for _ in range(40):
            y, x = rng.integers(0, h), rng.integers(0, w)
            mask[y:y + rng.integers(8, h // 4), x:x + rng.integers(8, w // 4)] = colours[rng.integers(len(colours))]
        path = root / "masks" / f"city{i % 4}" / f"frame_{i:04d}.png"
        write_mask(path, np.ascontiguousarray(mask))
        # Images are not read by masks2labels; the mask stands in so the manifest is valid.
        rows.append(ManifestRow(f"city{i % 4}/frame_{i:04d}", path, path, w, h))
    (root / "palette.json").write_text(json.dumps(PALETTE))
    return write_manifest(rows, root / "manifest.csv")


def convert(manifest: Path, out: Path, palette: Path, executor: Executor) -> None:
    report = masks_to_labels(manifest, out, palette, executor=executor, quiet=True, overwrite=True)
    assert report.failed == 0, report.errors[:3]


def main(quick: bool = False) -> None:
    # Every configuration runs OpenCV single-threaded, as pool and Dask workers do; it also keeps
    # this process from starting OpenCV's thread pool, which a forked pool worker would inherit
    # in a state that can hang it (opencv/opencv#5150).
    cv2.setNumThreads(1)
    n, size, repeat = (12, (512, 1024), 2) if quick else (40, (1024, 2048), 5)
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    executors: dict[str, Executor] = {}
    try:
        manifest = make_masks(tmp / "data", n, size)
        palette = tmp / "data" / "palette.json"
        runs = 0

        def once(executor: Executor) -> float:
            nonlocal runs
            runs += 1
            out = tmp / f"out{runs}"
            start = time.perf_counter()
            convert(manifest, out, palette, executor)
            seconds = time.perf_counter() - start
            shutil.rmtree(out)
            return seconds

        # The pool forks its workers on first use: before this process holds Dask's threads.
        executors["serial (-j 1)"] = SerialExecutor()
        executors["process pool (-j 2)"] = ProcessExecutor(2)
        once(executors["process pool (-j 2)"])
        startup = {}
        for workers in (1, 2):
            start = time.perf_counter()
            executors[f"dask (--scheduler local:{workers})"] = make_executor(None, f"local:{workers}")
            startup[workers] = time.perf_counter() - start
        for ex in executors.values():
            once(ex)  # warm-up: worker imports and per-process lookup tables
        # Round-robin repetitions, best of each: load from other processes hits every configuration alike.
        times = {name: once(ex) for name, ex in executors.items()}
        for _ in range(repeat - 1):
            for name, ex in executors.items():
                times[name] = min(times[name], once(ex))

        base = times["serial (-j 1)"]
        rows = [{"executor": name, "workers": 1 if ("-j 1" in name or "local:1" in name) else 2,
                 "seconds": t, "images_per_s": n / t, "vs_serial": base / t} for name, t in times.items()]
        dask1, dask2 = times["dask (--scheduler local:1)"], times["dask (--scheduler local:2)"]
        pool2 = times["process pool (-j 2)"]
        write_result("dask", rows, {
            "workload": f"{n} colour masks {size[1]}x{size[0]}, best of {repeat} round-robin runs after a warm-up",
            "dask speedup 2 vs 1 workers": round(dask1 / dask2, 2),
            "dask overhead vs process pool at 2 workers": f"{(dask2 / pool2 - 1) * 100:+.1f}%",
            "local cluster start-up (s)": {k: round(v, 2) for k, v in startup.items()},
        })
    finally:
        for ex in reversed(executors.values()):  # last started first: each cluster restores log levels on close
            ex.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(quick=True)
