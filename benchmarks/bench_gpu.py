"""The GPU path measured: the DALI engine on CUDA, the trainer with AMP, resume onto the CPU.

For a machine with CUDA (see `benchmarks/gpu_check.sh`); `--smoke` runs every part
at toy sizes on whatever is here (CPU, DALI's CPU backend), to check the script.

- Loader: `pipelines/train_default.yaml` at 256x256 and 512x512, batch 32 and 64, over
  a synthetic set of 1024x768 JPEGs with 8-class label maps (streets-like blocks, so
  decoding is real work). DALI (on the GPU: `device="mixed"` decoding, warps and colour
  ops there; 2 CPU threads, and as many as the machine has cores) against the CPU engine
  (albumentations) with 2 workers and with a worker per core; batches end up on the
  device either way. Samples/s over the epochs after the first, and the time from
  `make_loader` to the first batch (pipeline build or worker start-up, first decode).
- Training: the reference UNet, 200 optimizer steps with AMP (`amp: auto`: bf16 where
  the GPU has it), on both engines: steps/s and the share of the loop spent waiting
  for data, as the trainer reports it (data_time / (data_time + step_time)).
- Resume: the last checkpoint of the GPU run, resumed with `device: cpu` for one more
  step (the checkpoint's tensors mapped onto the CPU).

    python benchmarks/bench_gpu.py [--smoke]
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_train import batches_of
from common import QUICK_ENV, REPO, write_result

from dataprep import make_loader
from dataprep.io import write_image, write_mask
from dataprep.manifest import ManifestRow, write_manifest
from dataprep.train import parse_config, run_training
from dataprep.train.optim import amp_dtype, amp_name

CLASSES = 8


def make_dataset(root: Path, n: int, size: tuple[int, int], seed: int = 0) -> Path:
    """`n` (height, width) JPEG images with label maps of blocks and the image's colours matching them."""
    rng = np.random.default_rng(seed)
    h, w = size
    palette = rng.integers(0, 256, (CLASSES, 3), dtype=np.uint8)
    rows = []
    for i in range(n):
        label = np.zeros((h, w), np.uint8)
        for _ in range(12):
            y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            label[y0:y0 + int(rng.integers(h // 8, h // 2)), x0:x0 + int(rng.integers(w // 8, w // 2))] = \
                rng.integers(0, CLASSES)
        image = palette[label].astype(np.int16) + rng.integers(-20, 21, (h, w, 3))
        image_path, mask_path = root / "images" / f"s{i:04d}.jpg", root / "labels" / f"s{i:04d}.png"
        write_image(image_path, np.clip(image, 0, 255).astype(np.uint8))
        write_mask(mask_path, label)
        rows.append(ManifestRow(f"s{i:04d}", image_path, mask_path, w, h))
    return write_manifest(rows, root / "manifest.csv")


@functools.lru_cache(maxsize=None)
def recipe_at(side: int, folder: Path) -> Path:
    """train_default.yaml with the output size `side` x `side`, written into `folder` (once per size)."""
    import yaml

    recipe = yaml.safe_load((REPO / "pipelines" / "train_default.yaml").read_text())
    recipe["size"] = [side, side]
    path = folder / f"train_default_{side}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_loader(manifest: Path, engine: str, workers: int, side: int, batch: int, epochs: int,
                   device: torch.device) -> dict:
    start = time.perf_counter()
    loader = make_loader(manifest, recipe_at(side, manifest.parent), None, engine, batch_size=batch, num_workers=workers, seed=0,
                         device=device, drop_last=True)
    batches = iter(loader)
    first = next(batches)
    _sync(device)
    first_batch_s = time.perf_counter() - start
    assert first["image"].device.type == device.type, (engine, first["image"].device)
    for _ in batches:  # the rest of the first epoch: warm-up
        pass
    samples = 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        loader.set_epoch(epoch)
        for b in loader:
            samples += len(b["id"])
        _sync(device)
    seconds = time.perf_counter() - start
    close = getattr(loader, "close", None)
    if close:
        close()
    return {"part": "loader", "engine": engine, "host_threads": workers, "size": side, "batch": batch,
            "samples_per_s": samples / seconds, "first_batch_s": first_batch_s, "samples": samples}


def train_config(manifest: Path, out: Path, engine: str, workers: int, steps: int, side: int, batch: int,
                 device: str, width: int) -> object:
    return parse_config({
        "data": {"manifest": str(manifest), "train_recipe": str(recipe_at(side, manifest.parent)), "engine": engine,
                 "batch_size": batch, "num_workers": workers},
        "model": {"width": width, "depth": 4, "num_classes": CLASSES},
        "optim": {"lr": 1e-3},
        "train": {"epochs": 1000, "max_steps": steps, "seed": 0, "output_dir": str(out), "device": device,
                  "amp": "auto"},
    })


def measure_training(manifest: Path, out: Path, engine: str, workers: int, steps: int, side: int, batch: int,
                     device: str, width: int) -> tuple[dict, object]:
    stamps: list[float] = []
    cfg = train_config(manifest, out, engine, workers, steps, side, batch, device, width)
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_training(cfg, quiet=True, overwrite=True, on_step=lambda info: stamps.append(time.perf_counter()))
    # Per-batch times per epoch record, weighted by the epoch's batches.
    data = sum(h["data_time"] * batches_of(h, result) for h in result.history)
    compute = sum(h["step_time"] * batches_of(h, result) for h in result.history)
    row = {"part": "training", "engine": engine, "host_threads": workers, "size": side, "batch": batch,
           "steps": len(stamps), "steps_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
           "data_wait_%": 100 * data / (data + compute) if data + compute else None,
           "amp": amp_name(amp_dtype("auto", torch.device(device))[0])}
    return row, result


def resume_on_cpu(manifest: Path, out: Path, checkpoint: Path, steps: int, side: int, batch: int, width: int) -> dict:
    cfg = train_config(manifest, out, "cpu", 0, steps + 1, side, batch, "cpu", width)
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_training(cfg, resume=checkpoint, quiet=True, overwrite=True)
    devices = {p.device.type for p in result.model.parameters()}
    return {"part": "resume on cpu", "engine": "cpu", "steps": len(result.step_losses), "devices": sorted(devices),
            "finite_loss": bool(result.step_losses) and all(np.isfinite(result.step_losses))}


def main(smoke: bool = False) -> None:
    gpu = torch.cuda.is_available()
    device = torch.device("cuda", 0) if gpu else torch.device("cpu")
    cores = len(os.sched_getaffinity(0))
    if smoke:
        os.environ[QUICK_ENV] = "1"  # results/*.quick.json: a smoke run never replaces measured figures
        n, image, sides, batches, epochs, steps, width = 16, (192, 256), (64,), (4,), 1, 3, 8
    else:
        n, image, sides, batches, epochs, steps, width = 256, (768, 1024), (256, 512), (32, 64), 2, 200, 32
    root = Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    rows: list[dict] = []
    try:
        began = time.perf_counter()
        manifest = make_dataset(root / "data", n, image)
        made = time.perf_counter() - began
        for side in sides:
            for batch in batches:
                for engine, workers in dict.fromkeys([("dali", 2), ("dali", cores), ("cpu", 2), ("cpu", cores)]):
                    # The 2-worker CPU engine is the slow one: one epoch after the warm-up is enough.
                    runs = 1 if (engine, workers) == ("cpu", 2) else epochs
                    rows.append(measure_loader(manifest, engine, workers, side, batch, runs, device))
                    print(rows[-1], flush=True)
        train_batch, train_side = (4, 64) if smoke else (16, 256)
        results = {}
        for engine, workers in (("dali", 4), ("cpu", min(cores, 8))):
            row, results[engine] = measure_training(manifest, root / f"train_{engine}", engine, workers, steps,
                                                    train_side, train_batch, str(device), width)
            rows.append(row)
            print(row, flush=True)
        checkpoint = results["dali"].last_checkpoint
        rows.append(resume_on_cpu(manifest, root / "train_dali", checkpoint, steps, train_side, train_batch, width))
        print(rows[-1], flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    notes = {
        "device": torch.cuda.get_device_name(0) if gpu else "CPU only (DALI on its CPU backend)",
        "versions": _versions(),
        "data": f"{n} synthetic {image[1]}x{image[0]} JPEGs + {CLASSES}-class label maps (made in {made:.1f} s)",
        "loader": "train_default.yaml at each size; samples/s over the epochs after the first; drop_last",
        "training": f"UNet width {width} depth 4, batch {train_batch} at {train_side}x{train_side}, {steps} steps, "
                    "AMP auto",
        "cores": cores,
    }
    if gpu:
        for side in sides:
            for batch in batches:
                pick = {(r["engine"], r["host_threads"]): r["samples_per_s"] for r in rows
                        if r["part"] == "loader" and r["size"] == side and r["batch"] == batch}
                notes[f"dali / cpu at 2 host threads, {side}px batch {batch} (target >= 5)"] = \
                    round(pick[("dali", 2)] / pick[("cpu", 2)], 2)
    write_result("gpu" if gpu else "gpu_cpu_backend", rows, notes)


def _versions() -> dict:
    out = {"torch": torch.__version__, "cuda": torch.version.cuda}
    with contextlib.suppress(ImportError):
        import nvidia.dali as dali

        out["dali"] = dali.__version__
    with contextlib.suppress(ImportError):
        import albumentations

        out["albumentations"] = albumentations.__version__
    return out


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
