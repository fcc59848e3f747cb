"""Loader throughput (samples/s): CPU engine (albumentations, 0 and 2 workers), DALI engine, and a
hand-written PIL + numpy loader as the baseline, over sample_data turned into label maps.

Two recipes: `crop_flip` (random resized crop 256x256 + hflip + normalize, what the
baseline implements too) and the bundled `train_default` (adds affine and colour).
DALI runs on the GPU when CUDA and DALI are present (the reason it exists: decoding
and warps on the GPU); otherwise on its CPU backend, whose per-sample warps and
arithmetic colour ops are much slower than OpenCV's, so there it is a functional
check rather than a speed-up.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import REPO, best_of, label_sample_data, write_result
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
        write_result("loader", rows, {
            "data": f"sample_data, {n} JPEG 320x240 + label-map PNG, batch {batch_size}, output {SIZE[0]}x{SIZE[1]}",
            "device": torch.cuda.get_device_name(0) if gpu else "CPU only (DALI on its CPU backend)",
            "note": "shared machine, noisy; best of %d" % repeat,
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
