"""Reference trainer: optimizer steps per second and how much of each step waits on data.

Workload: the 32 sample_data images at their native 320x240 (--quick: 160x120,
fewer steps), label maps from masks2labels, a resize/flip/colour-jitter recipe, the UNet of pipelines/train_sample.yaml (width 16, depth 3),
batch 4, AdamW, no validation. The CPU engine runs with 0 and 2 loader workers
(0: decoding and augmenting happen in the training process, so the data share
shows what workers buy); the DALI engine runs too when nvidia-dali is
installed. The clock starts at the first optimizer step, so model set-up and
worker start-up are left out; `data %` is time blocked on the loader over
time spent in the loop, as the trainer reports it per epoch.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import time
from pathlib import Path

import torch

from common import label_sample_data, write_result
from dataprep.train import parse_config, run_training

RECIPE = "size: [{h}, {w}]\nsteps:\n  - op: resize\n  - op: hflip\n  - op: color_jitter\n    brightness: 0.2\n"


def prepare(root: Path, size: tuple[int, int]) -> Path:
    manifest = label_sample_data(root)
    (root / "recipe.yaml").write_text(RECIPE.format(h=size[0], w=size[1]))
    return manifest


def dali_available() -> bool:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


def run(manifest: Path, out: Path, engine: str, workers: int, steps: int) -> dict:
    cfg = parse_config({
        "data": {"manifest": str(manifest), "train_recipe": str(manifest.parent.parent / "recipe.yaml"),
                 "engine": engine, "batch_size": 4, "num_workers": workers},
        "model": {"width": 16, "depth": 3},
        "optim": {"lr": 3e-3},
        "train": {"epochs": 100, "max_steps": steps, "seed": 0, "output_dir": str(out), "device": "cpu"},
    })
    stamps: list[float] = []
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_training(cfg, quiet=True, overwrite=True, on_step=lambda info: stamps.append(time.perf_counter()))
    data = sum(h["data_time"] * batches_of(h, result) for h in result.history)
    compute = sum(h["step_time"] * batches_of(h, result) for h in result.history)
    return {
        "engine": engine if engine == "dali" else f"cpu, {workers} workers",
        "steps": len(stamps),
        "steps_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
        "images_per_s": 4 * (len(stamps) - 1) / (stamps[-1] - stamps[0]),
        "data_ms_per_batch": 1000 * data / max(1, len(stamps)),
        "compute_ms_per_batch": 1000 * compute / max(1, len(stamps)),
        "data_%": 100 * data / (data + compute),
    }


def batches_of(record: dict, result) -> int:
    # Batches of that epoch: steps since the previous record (accumulate is 1 here).
    index = result.history.index(record)
    return record["step"] - (result.history[index - 1]["step"] if index else 0)


def main(quick: bool = False) -> None:
    torch.set_num_threads(2)
    # --quick: a smoke run at quarter resolution.
    steps, size = (5, (120, 160)) if quick else (20, (240, 320))
    root = Path(tempfile.mkdtemp(prefix="bench_train_"))
    try:
        manifest = prepare(root, size)
        configs = [("cpu", 0), ("cpu", 2)] + ([("dali", 2)] if dali_available() else [])
        rows = [run(manifest, root / f"run_{engine}_{workers}", engine, workers, steps) for engine, workers in configs]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_result("train", rows, {
        "workload": f"32 sample_data images at {size[1]}x{size[0]}, UNet width 16 depth 3, batch 4, {steps} steps, "
                    "CPU, 2 torch threads",
        "dali": "included" if dali_available() else "not installed",
        "note": "shared 2-core machine: numbers are noisy; on CPU the loader workers compete with the model for cores",
    })


if __name__ == "__main__":
    main()
