"""What the per-run state objects cost and save, and what dropping the process-wide caches costs.

Measured:
- `builtin_palette(name)`: building a built-in palette (there is no process-wide cache of them:
  callers build one per run, inference a handful);
- `ConversionContext`: building the 2^24-entry colour table of a palette, which one masks2labels
  run (or one chunk of it in a worker process) builds once and then reuses; and one 2048x1024 colour
  mask converted with the context reused vs a fresh one per call (also in bench_masks2labels);
- `seeding.reseed`: putting a generator pair into a seed's state through numpy's own PCG64 seeding,
  against building a fresh pair (what albumentations would need without it);
- `augment.SampleCache`: a cache hit against decoding the sample (a 1024x1024 JPEG and its label map);
- copy-paste's donor components: searching a 1024x1024 label map of 60 objects against a hit in the
  run's `Kernels` (a donor serves several outputs of a run).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import best_of, write_result

from dataprep import io
from dataprep.augment.copy_paste import components, find_components
from dataprep.augment.run import SampleCache, load_sample
from dataprep.augment.single import Kernels
from dataprep.labels import ConversionContext, mask_to_labels
from dataprep.manifest import ManifestRow
from dataprep.palette import BUILTIN_PALETTES, builtin_palette
from dataprep.recipe import CopyPaste
from dataprep.seeding import derive_seed, generator_pair, reseed


def per_call(fn, calls: int, repeat: int) -> float:
    """Best seconds per call over `repeat` runs of `calls` calls."""
    return best_of(lambda: [fn() for _ in range(calls)], repeat=repeat) / calls


def main(quick: bool = False) -> None:
    repeat = 3 if quick else 7
    load_before = os.getloadavg()[0]
    rows = []
    for name in BUILTIN_PALETTES:
        s = per_call(lambda: builtin_palette(name), 20 if quick else 100, repeat)
        rows.append({"what": f"builtin_palette({name!r}) built", "us": 1e6 * s})

    palette = builtin_palette("cityscapes")
    table_s = per_call(lambda: ConversionContext().colour_table(palette), 3 if quick else 10, repeat)
    rows.append({"what": "colour table built (cityscapes, 2^24 entries)", "us": 1e6 * table_s})
    rng = np.random.default_rng(0)
    colours = np.array([c.color for c in palette.classes if c.color is not None], np.uint8)
    mask = colours[rng.integers(0, len(colours), size=(64, 128))].repeat(16, axis=0).repeat(16, axis=1)
    context = ConversionContext()
    reused_s = per_call(lambda: mask_to_labels(mask, palette, context=context), 5, repeat)
    fresh_s = per_call(lambda: mask_to_labels(mask, palette), 5, repeat)
    rows.append({"what": "2048x1024 colour mask converted, context reused", "us": 1e6 * reused_s})
    rows.append({"what": "2048x1024 colour mask converted, fresh context per call", "us": 1e6 * fresh_s})

    pair = generator_pair(0)
    seeds = [derive_seed(3, i) for i in range(1000)]
    it = iter(range(10 ** 9))
    reseed_s = per_call(lambda: reseed(pair, seeds[next(it) % 1000]), 2000, repeat)
    fresh_pair_s = per_call(lambda: generator_pair(seeds[next(it) % 1000]), 2000, repeat)
    rows.append({"what": "seeding.reseed (numpy's PCG64 seeding, state handed over)", "us": 1e6 * reseed_s})
    rows.append({"what": "seeding.generator_pair (a fresh pair)", "us": 1e6 * fresh_pair_s})

    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-state-"))
    try:
        image = rng.integers(0, 255, size=(1024, 1024, 3), dtype=np.uint8)
        labels = rng.integers(0, 19, size=(1024, 1024), dtype=np.uint8)
        io.write_image(tmp / "a.jpg", image)
        io.write_mask(tmp / "a.png", labels)
        row = ManifestRow("a", tmp / "a.jpg", tmp / "a.png", 1024, 1024, {})
        decode_s = per_call(lambda: load_sample(row, 255), 3, repeat)
        cache = SampleCache()
        load_sample(row, 255, cache)
        hit_s = per_call(lambda: load_sample(row, 255, cache), 200, repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows.append({"what": "augment sample decoded (1024x1024 JPEG + label PNG)", "us": 1e6 * decode_s})
    rows.append({"what": "augment SampleCache hit", "us": 1e6 * hit_s})

    donor = np.zeros((1024, 1024), np.uint8)
    for _ in range(60):  # objects of 8 classes on a background
        centre = (int(rng.integers(0, 1024)), int(rng.integers(0, 1024)))
        axes = (int(rng.integers(5, 80)), int(rng.integers(5, 60)))
        cv2.ellipse(donor, centre, axes, float(rng.integers(0, 180)), 0, 360, int(rng.integers(1, 9)), -1)
    donor.setflags(write=False)
    step = CopyPaste()
    search_s = per_call(lambda: find_components(donor, step, 255), 2 if quick else 5, repeat)
    run = Kernels()
    components(donor, step, 255, run)
    derived_s = per_call(lambda: components(donor, step, 255, run), 200, repeat)
    rows.append({"what": "copy-paste donor components searched (1024x1024, 60 objects)", "us": 1e6 * search_s})
    rows.append({"what": "copy-paste donor components, hit in the run's Kernels", "us": 1e6 * derived_s})

    notes = {
        "colour table build / one conversion with a reused context": round(table_s / reused_s, 2),
        "fresh context per call / reused context": round(fresh_s / reused_s, 2),
        "sample decode / cache hit": round(decode_s / hit_s),
        "reseed / fresh generator pair": round(reseed_s / fresh_pair_s, 2),
        "copy-paste component search / Kernels hit": round(search_s / derived_s),
        "copy-paste component search / sample decode": round(search_s / decode_s, 2),
        # Other processes competing for the cores slow every row alike; ratios hold better than times.
        "load average (1 min) before / after": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    write_result("hidden_state", rows, notes)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
