"""Helpers shared by several test modules: small datasets on disk, image/mask sync checks, configs.

Test modules import from here (pytest puts tests/ on sys.path), never from one another.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dataprep.executor import SerialExecutor
from dataprep.io import read_image, write_image, write_mask
from dataprep.labels import masks_to_labels
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.scan import scan

if TYPE_CHECKING:  # conftest imports this module: no torch import for tests that never use it
    import torch

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"
SAMPLE = SAMPLE_DATA
PIPELINES = REPO / "pipelines"
# Real public datasets live beside the checkout in CI; a fresh clone has none.
SHARED_DATA = REPO.parent / "shared" / "data"


# --------------------------------------------------------------------------- datasets and sync checks (loader tests)


def make_label_dataset(root: Path, n: int = 8, *, folds: int = 4) -> Path:
    """The first `n` sample_data pairs, masks converted by masks2labels, with a `fold` column."""
    rows = scan(SAMPLE, exclude=["bad/*"]).rows[:n]
    write_manifest([r.with_extra(fold=i % folds) for i, r in enumerate(rows)], root / "colour.csv")
    masks_to_labels(root / "colour.csv", root / "labels", SAMPLE / "palette.json", quiet=True)
    return root / "labels" / "manifest.csv"


def write_stats(manifest: Path) -> Path:
    """A minimal stats.json (the fields the Dataset reads), computed directly with numpy."""
    pixels = np.concatenate([read_image(r.image).reshape(-1, 3) for r in read_manifest(manifest)]).astype(np.float64)
    stats = {"version": 1, "num_images": len(read_manifest(manifest)),
             "image": {"channels": 3, "dtype": "uint8", "max_value": 255,
                       "mean": pixels.mean(0).tolist(), "std": pixels.std(0).tolist()},
             "classes": None}
    path = manifest.parent / "stats.json"
    path.write_text(json.dumps(stats))
    return path


# Coordinate encoding: R = 2x + 20, G = 2y + 20, B = 100 (a blend with the fill shows as B < 100);
# mask = (x mod 15) + 15 * (y mod 15), so 255 is never a label and can be the fill.
COORD_PERIOD = 15


def coordinate_pair(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([2 * xx + 20, 2 * yy + 20, np.full_like(xx, 100)], axis=2).astype(np.uint8)
    mask = (xx % COORD_PERIOD + COORD_PERIOD * (yy % COORD_PERIOD)).astype(np.uint8)
    return image, mask


def make_coordinate_dataset(root: Path, sizes=((80, 96), (80, 96), (72, 100))) -> Path:
    rows = []
    for i, (h, w) in enumerate(sizes):
        image, mask = coordinate_pair(h, w)
        write_image(root / f"img_{i}.png", image)
        write_mask(root / f"mask_{i}.png", mask)
        rows.append(ManifestRow(f"s{i}", root / f"img_{i}.png", root / f"mask_{i}.png", w, h))
    write_manifest(rows, root / "manifest.csv")
    return root / "manifest.csv"


def make_mixed_channel_dataset(root: Path, kinds: str) -> Path:
    """One 40x48 PNG pair per letter of `kinds`: 'g' a grayscale image, 'c' a colour one."""
    rng = np.random.default_rng(len(kinds))
    rows = []
    for i, kind in enumerate(kinds):
        image = rng.integers(0, 256, (40, 48, 1 if kind == "g" else 3), dtype=np.uint8)
        write_image(root / f"{i}{kind}.png", image)
        write_mask(root / f"{i}{kind}_mask.png", rng.integers(0, 3, (40, 48), dtype=np.uint8))
        rows.append(ManifestRow(f"{i}{kind}", root / f"{i}{kind}.png", root / f"{i}{kind}_mask.png", 48, 40))
    return write_manifest(rows, root / "m.csv")


def sync_errors(image: torch.Tensor, mask: torch.Tensor, tolerance: float = 0.8) -> tuple[int, int]:
    """(pixels where mask and image disagree about the source pixel, pixels checked) for one 0-1 scaled sample.

    The image says which source position a pixel was interpolated from
    (fractional); the mask says which source pixel nearest-neighbour picked.
    They must be within half a pixel (+ 0.25 for the 8-bit encoding) of each other.
    """
    raw = image.double().numpy() * 255.0
    ix, iy, blue = (raw[0] - 20) / 2, (raw[1] - 20) / 2, raw[2]
    m = mask.numpy()
    valid = (m != 255) & (np.abs(blue - 100) < 0.5)
    mx, my = m % COORD_PERIOD, m // COORD_PERIOD
    half = COORD_PERIOD / 2

    def wrapped(d):
        return np.abs((d + half) % COORD_PERIOD - half)

    bad = valid & ((wrapped(ix - mx) > tolerance) | (wrapped(iy - my) > tolerance))
    return int(bad.sum()), int(valid.sum())


GEOMETRIC_STEPS = {
    "random_resized_crop": [{"op": "random_resized_crop", "scale": [0.2, 1.0]}],
    "downscale": [{"op": "resize"}],
    "random_scale": [{"op": "random_scale", "scale": [0.3, 1.8]}],
    "random_crop_padded": [{"op": "random_crop"}],
    "flips": [{"op": "hflip", "p": 1.0}, {"op": "vflip", "p": 1.0}],
    "rotate": [{"op": "rotate", "limit": [-40, 40]}],
    "affine": [{"op": "affine", "scale": [0.6, 1.4], "translate": [-0.2, 0.2], "rotate": [-30, 30],
                "shear": [-15, 15]}],
    "chain": [{"op": "random_resized_crop", "scale": [0.3, 1.0]}, {"op": "hflip"},
              {"op": "affine", "rotate": [-20, 20]}, {"op": "vflip"}],
}


def geometric_recipe(name: str) -> dict:
    size = {"downscale": [32, 40], "random_resized_crop": [60, 50]}.get(name, [100, 120])  # ~2.5x down / pads
    return {"size": size, "ignore_index": 255, "steps": GEOMETRIC_STEPS[name]}


def sync_tolerance(name: str) -> float:
    # Two resamplings in a row: the second one's nearest pixel of the intermediate image
    # is up to half an intermediate pixel (< 0.5 source pixel when upscaling) off as well.
    return 1.2 if name == "chain" else 0.8


def mask_mismatch(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int]:
    """(pixels where label maps differ, of those how many are NOT explained by a label boundary).

    A pixel is explained when each map's value occurs in the other map's 3x3
    neighbourhood there: the engines picked adjacent source pixels at a tie.
    """
    a, b = a.numpy(), b.numpy()
    diff = a != b
    unexplained = 0
    for y, x in zip(*np.nonzero(diff)):
        window_a = a[max(0, y - 1):y + 2, max(0, x - 1):x + 2]
        window_b = b[max(0, y - 1):y + 2, max(0, x - 1):x + 2]
        if not ((window_a == b[y, x]).any() and (window_b == a[y, x]).any()):
            unexplained += 1
    return int(diff.sum()), unexplained


# --------------------------------------------------------------------------- training

N_IMAGES = 8
SIZE = (96, 128)  # height, width


def prepare_sample_labels(sample_data: Path, root: Path, n: int = N_IMAGES) -> Path:
    """Label maps for the first `n` sample_data pairs + manifest (with a 2-way `fold` column) + recipe."""
    images = sorted((sample_data / "images").rglob("*.jpg"))[:n]
    rows = []
    for i, image in enumerate(images):
        mask = sample_data / "masks" / image.relative_to(sample_data / "images").with_suffix(".png")
        rows.append(ManifestRow(image.stem, image, mask, 320, 240, {"fold": str(i % 2)}))
    write_manifest(rows, root / "colour" / "manifest.csv")
    report = masks_to_labels(root / "colour" / "manifest.csv", root / "labels", sample_data / "palette.json", quiet=True)
    recipe = root / "resize.yaml"
    recipe.write_text(f"size: [{SIZE[0]}, {SIZE[1]}]\nsteps:\n  - op: resize\n")
    return Path(report.manifest_path)


def make_config(manifest: Path, out: Path, **sections):
    from dataprep.train import parse_config  # only the training tests pay for importing the trainer

    base = {
        "data": {"manifest": str(manifest), "train_recipe": str(manifest.parent.parent / "resize.yaml"),
                 "val_recipe": str(manifest.parent.parent / "resize.yaml"), "batch_size": 4, "num_workers": 0},
        "model": {"width": 16, "depth": 3},
        "optim": {"lr": 1e-2},
        "schedule": {"warmup_steps": 3},
        "train": {"epochs": 2, "seed": 0, "deterministic": True, "output_dir": str(out)},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return parse_config(base)


# --------------------------------------------------------------------------- executor (run in a subprocess)


def blur_size(side: int) -> int:
    import time

    import cv2
    import numpy as np

    time.sleep(0.05)  # enough work per item for the pool to start
    return int(cv2.GaussianBlur(np.ones((side, side, 3), np.uint8), (9, 9), 0).sum())


# --------------------------------------------------------------------------- multi-band rasters (written by tifffile)

MULTIBAND_SIZE = (24, 32)  # H, W


def multiband_pixels(rng: np.random.Generator, bands: int, dtype: type, size: tuple[int, int] = MULTIBAND_SIZE
                     ) -> np.ndarray:
    """Random (H, W, bands) pixels: 12-bit-ish uint16 counts, full-range int16, or float reflectances."""
    if dtype == np.float32:
        # Reflectances with an offset: the large-mean, small-spread case where naive sums lose digits.
        return (rng.normal(0.3, 0.05, (*size, bands)) + np.arange(bands) * 10).astype(np.float32)
    if dtype == np.int16:
        return rng.integers(-32768, 32767, (*size, bands), endpoint=True).astype(np.int16)
    return rng.integers(0, 12000, (*size, bands)).astype(dtype)  # 12-bit-ish sensor counts


def make_multiband_set(root: Path, bands: int, dtype: type, n: int = 5, seed: int = 0
                       ) -> tuple[Path, list[np.ndarray]]:
    """`n` TIFFs of `bands` bands written by tifffile, 3-class label maps, and their manifest; returns it and the
    arrays written (references are computed from these, never through dataprep's readers)."""
    import tifffile

    rng = np.random.default_rng(seed)
    rows, images = [], []
    root.mkdir(parents=True, exist_ok=True)
    h, w = MULTIBAND_SIZE
    for i in range(n):
        image = multiband_pixels(rng, bands, dtype)
        if bands == 1:
            tifffile.imwrite(root / f"{i}.tif", image[:, :, 0], photometric="minisblack")
        else:
            tifffile.imwrite(root / f"{i}.tif", image, photometric="minisblack", planarconfig="contig")
        write_mask(root / f"{i}_mask.png", rng.integers(0, 3, (h, w), dtype=np.uint8))
        rows.append(ManifestRow(f"s{i}", root / f"{i}.tif", root / f"{i}_mask.png", w, h))
        images.append(image)
    return write_manifest(rows, root / "manifest.csv"), images


def make_small_pairs(root: Path, n: int, seed: int) -> Path:
    """`n` random 32x24 PNG pairs (3 classes) under root/src and their manifest root/rows.csv."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        image, mask = root / "src" / f"{i}.png", root / "src" / f"{i}_m.png"
        write_image(image, rng.integers(0, 255, (24, 32, 3), np.uint8))
        write_mask(mask, rng.integers(0, 3, (24, 32)).astype(np.uint8))
        rows.append(ManifestRow(str(i), image, mask, 32, 24))
    return write_manifest(rows, root / "rows.csv")


def run_beside_first_call(monkeypatch, module, name: str, second_run) -> list[str]:
    """Patch `module.name` so that its first call first runs `second_run()`, a second command into the folder
    being written; returns the outcome, filled then: ["running", "written" or the UsageError's text]."""
    from dataprep.errors import UsageError

    real = getattr(module, name)
    outcome: list[str] = []

    def patched(*args, **kwargs):
        if not outcome:
            outcome.append("running")
            try:
                second_run()
                outcome.append("written")
            except UsageError as exc:
                outcome.append(str(exc))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, patched)
    return outcome


class BackwardsExecutor(SerialExecutor):
    """Finishes the chunks last to first, as a pool may: what callers must not depend on."""

    def map_chunks(self, fn, chunks):
        return iter([fn(chunk) for chunk in chunks][::-1])

