"""Loader throughput (samples/s): CPU engine (albumentations, 0 and 2 workers), DALI engine, and a
hand-written PIL + numpy loader as the baseline, over sample_data turned into label maps.

And, as whole processes (import, worker start-up, every epoch), `make_loader(engine="cpu")`
against what it replaces: a hand-written `Dataset` (cv2 read, the same albumentations
Compose, numpy normalize) in a plain torch `DataLoader` (persistent workers, as
make_loader's), with 0 and 2 workers, alternating runs, medians; make_loader with its
extras on (per-sample seeding, label-map checks, one-line errors).

Two recipes: `crop_flip` (random resized crop 256x256 + hflip + normalize, what the
baseline implements too) and the bundled `train_default` (adds affine and colour).
DALI runs on the GPU when CUDA and DALI are present (the reason it exists: decoding
and warps on the GPU); otherwise on its CPU backend, whose per-sample warps and
arithmetic colour ops are much slower than OpenCV's, so there it is a functional
check rather than a speed-up.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import REPO, best_of, label_sample_data, run_process, write_result
from PIL import Image

from dataprep import make_loader
from dataprep.manifest import ManifestRow, read_manifest

SIZE = (256, 256)
CROP_FLIP = {"size": list(SIZE), "steps": [{"op": "random_resized_crop", "scale": [0.35, 1.0]},
                                           {"op": "hflip"}, {"op": "normalize"}]}


class BaselineLoader:
    """What one would write by hand: PIL decode, numpy crop/flip, PIL resize, normalize, torch.stack."""

    def __init__(self, manifest: Path, batch_size: int, seed: int = 0) -> None:
        self.rows = read_manifest(manifest).rows
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.mean = np.array([0.485, 0.456, 0.406], np.float32) * 255
        self.std = np.array([0.229, 0.224, 0.225], np.float32) * 255

    def sample(self, row: ManifestRow) -> tuple[np.ndarray, np.ndarray]:
        image = Image.open(row.image).convert("RGB")
        mask = Image.open(row.mask)
        w, h = image.size
        area = w * h * self.rng.uniform(0.35, 1.0)
        ratio = np.exp(self.rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = min(w, round(np.sqrt(area * ratio))), min(h, round(np.sqrt(area / ratio)))
        x, y = int(self.rng.integers(0, w - cw + 1)), int(self.rng.integers(0, h - ch + 1))
        box = (x, y, x + cw, y + ch)
        image = image.resize(SIZE[::-1], Image.BILINEAR, box=box)
        mask = mask.resize(SIZE[::-1], Image.NEAREST, box=box)
        img, msk = np.asarray(image, np.float32), np.asarray(mask, np.int64)
        if self.rng.random() < 0.5:
            img, msk = img[:, ::-1], msk[:, ::-1]
        return ((img - self.mean) / self.std).transpose(2, 0, 1), msk

    def __iter__(self):
        order = self.rng.permutation(len(self.rows))
        for start in range(0, len(order), self.batch_size):
            pairs = [self.sample(self.rows[i]) for i in order[start:start + self.batch_size]]
            yield {"image": torch.from_numpy(np.stack([p[0] for p in pairs])),
                   "mask": torch.from_numpy(np.stack([p[1] for p in pairs])), "id": []}


RECIPE = REPO / "pipelines" / "train_default.yaml"
STATS = {"version": 1, "image": {"mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4]}}


def hand_written_loader(manifest: Path, workers: int, batch_size: int):
    """The DataLoader one writes by hand around the same albumentations Compose."""
    import cv2
    from torch.utils.data import DataLoader, Dataset

    from dataprep import recipe as R
    from dataprep.albu import compile_albumentations

    recipe = R.load_recipe(RECIPE)
    compose = compile_albumentations(recipe.steps[:-1], size=recipe.size, ignore_index=255)  # without normalize
    mean = np.array(STATS["image"]["mean"], np.float32)
    std = np.array(STATS["image"]["std"], np.float32)
    rows = read_manifest(manifest).rows

    class HandDataset(Dataset):
        def __len__(self) -> int:
            return len(rows)

        def __getitem__(self, i: int):
            image = cv2.cvtColor(cv2.imread(str(rows[i].image)), cv2.COLOR_BGR2RGB)
            mask = np.asarray(Image.open(rows[i].mask))  # palette PNG: the indices
            out = compose(image=image, mask=mask)
            x = ((out["image"].astype(np.float32) - mean) / std).transpose(2, 0, 1)
            return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(out["mask"].astype(np.int64))

    return DataLoader(HandDataset(), batch_size=batch_size, shuffle=True, num_workers=workers,
                      persistent_workers=workers > 0)


def child(kind: str, manifest: Path, workers: int, epochs: int, batch_size: int) -> None:
    """One whole training-data process: build the loader, run `epochs` epochs."""
    if kind == "hand":
        loader = hand_written_loader(manifest, workers, batch_size)
    else:
        loader = make_loader(manifest, RECIPE, STATS, "cpu", batch_size=batch_size, num_workers=workers, seed=0)
    for epoch in range(epochs):
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        for _ in loader:
            pass


def whole_process_rows(manifest: Path, n: int, *, epochs: int, rounds: int, batch_size: int) -> list[dict]:
    """make_loader vs the hand-written DataLoader, whole processes, alternating, medians."""
    times: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for workers in (0, 2):
            for kind in ("hand", "dataprep"):
                seconds, cpu_seconds = run_process([__file__, "--child", kind, str(manifest), str(workers),
                                                    str(epochs), str(batch_size)])
                times.setdefault((kind, workers), []).append(seconds)
                cpu.setdefault((kind, workers), []).append(cpu_seconds)
    rows = []
    for workers in (0, 2):
        hand = statistics.median(times[("hand", workers)])
        ours = statistics.median(times[("dataprep", workers)])
        hand_cpu = statistics.median(cpu[("hand", workers)])
        ours_cpu = statistics.median(cpu[("dataprep", workers)])
        rows.append({"recipe": "train_default", "loader": "make_loader vs hand-written DataLoader (whole process)",
                     "workers/threads": workers, "samples": n * epochs, "seconds": ours, "baseline_seconds": hand,
                     "ratio": ours / hand, "cpu_ratio": ours_cpu / hand_cpu})
    return rows


def dali_available() -> bool:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


def main(quick: bool = False) -> None:
    epochs, repeat, batch_size = (1, 1, 8) if quick else (3, 3, 8)
    gpu = torch.cuda.is_available()
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-loader-"))
    try:
        manifest = label_sample_data(tmp)
        n = len(read_manifest(manifest))
        stats = {"version": 1, "image": {"mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4]}}
        recipes = {"crop_flip": CROP_FLIP, "train_default": REPO / "pipelines" / "train_default.yaml"}
        configs = [("baseline PIL+numpy", None, {})]
        configs += [("cpu (albumentations)", "cpu", {"num_workers": 0}),
                    ("cpu (albumentations)", "cpu", {"num_workers": 2})]
        if dali_available():
            configs.append(("dali (" + ("GPU" if gpu else "CPU backend") + ")", "dali", {"num_workers": 2}))
        rows = []
        for recipe_name, recipe in recipes.items():
            for label, engine, kw in configs:
                if engine is None and recipe_name != "crop_flip":
                    continue  # the baseline implements crop_flip only
                if engine is None:
                    loader = BaselineLoader(manifest, batch_size)
                else:
                    loader = make_loader(manifest, recipe, stats, engine, batch_size=batch_size, seed=0, **kw)
                    list(loader)  # warm-up: worker start-up, DALI pipeline build

                def run() -> None:
                    for epoch in range(epochs):
                        if hasattr(loader, "set_epoch"):
                            loader.set_epoch(epoch)
                        for batch in loader:
                            if gpu:
                                batch["image"].sum().item()  # wait for the device
                seconds = best_of(run, repeat=repeat)
                rows.append({"recipe": recipe_name, "loader": label, "workers/threads": kw.get("num_workers", 0),
                             "samples": n * epochs, "seconds": seconds, "samples_per_s": n * epochs / seconds})
                del loader
        rows += whole_process_rows(manifest, n, epochs=2 if quick else 20, rounds=1 if quick else 5,
                                   batch_size=batch_size)
        write_result("loader", rows, {
            "data": f"sample_data, {n} JPEG 320x240 + label-map PNG, batch {batch_size}, output {SIZE[0]}x{SIZE[1]}",
            "device": torch.cuda.get_device_name(0) if gpu else "CPU only (DALI on its CPU backend)",
            "note": "shared machine, noisy; in-process rows: best of %d; whole-process rows: median of "
                    "alternating runs, ratio = make_loader / hand-written (<= 1.0 is the goal)" % repeat,
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        kind, manifest, workers, epochs, batch = sys.argv[2:7]
        child(kind, Path(manifest), int(workers), int(epochs), int(batch))
    else:
        main(quick="--quick" in sys.argv)
