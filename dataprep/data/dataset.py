"""`SegmentationDataset` and what both loader engines share.

Shared by the CPU (albumentations) and DALI engines, so that they read the same
rows in the same order and normalize the same way:

- `select_rows`: the manifest rows a fold/split keeps;
- `DataSpec` / `resolve_spec`: manifest, online recipe steps, normalization and
  ignore index resolved once from the user's arguments;
- `load_pair`: one image and its label map through dataprep.io, checked, the
  image given the dataset's channel count (`dataset_channels`);
- `sample_seed` / `epoch_order`: per-sample seeds from (seed, epoch, index, copy) and
  the per-epoch (shuffled, sharded) order, so results depend neither on the
  number of workers nor on the order workers finish in.

Normalization is always the last thing done, exactly once: with the `normalize`
step's own mean/std if the recipe gives them, else stats.json's `image.mean` /
`image.std` (raw pixel units, one entry per band), else a plain scale by the
pixel type's range (uint8 /255, uint16 /65535, int16 /32767, float as is). A
recipe needs no `normalize` step for this; if it has one, it must be the last
step. Ignore index and normalization come from `contracts.resolve_dataset_info`
(explicit > palette > stats.json > recipe), the one resolver the trainer and
augment use too. Steps that need RGB images (hue/saturation, colour jitter: the
op spec's `needs_rgb`) on images that are neither RGB nor gray are refused at
load time, naming the step; steps that treat every band alike run on any.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from .. import recipe as R
from ..class_stats import ignore_as_class_warning
from ..contracts import (DatasetInfo, Normalization, Stats, check_colour_steps, float_range_refusal, needs_rgb,
                         pixel_type_refusal, resolve_dataset_info)
from ..errors import DataprepError, UsageError
from ..option_ranges import check_seed
from ..io import PathLike, load_sample, mask_size_error, read_info
from ..manifest import Manifest, ManifestRow, read_manifest
from ..ops import SPECS
from ..ops.geometric import mirror_warnings
from ..ops.steps import CompiledSteps
from ..pixel_stats import narrow_sixteen_bit_warning
from ..sampleio import load_row_mask
from ..sampleio import manifest_size, match_channels  # noqa: F401 - the DALI engine imports them from here
from ..split_column import SPLIT_COLUMN, select_splits
from ..stats_origin import training_row_sets, origin_warning
from .sampler import order_words, shard_order

SPLITS = ("train", "val")
# Kept for the DALI engine, which reads 8- and 16-bit data only.
MAX_VALUE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


# --------------------------------------------------------------------------- arguments


def load_manifest_arg(manifest: Manifest | PathLike) -> Manifest:
    if isinstance(manifest, Manifest):
        return manifest
    if not isinstance(manifest, (str, os.PathLike)):
        raise UsageError(None, f"manifest: a {type(manifest).__name__} is not a manifest; give the path of a "
                               "manifest CSV (`dataprep scan` writes one) or a dataprep.manifest.Manifest")
    return read_manifest(manifest)


def load_recipe_arg(recipe: R.Recipe | PathLike | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
                    ) -> R.Recipe | None:
    """A recipe from a Recipe, a YAML path, a mapping, or a list of step mappings (the `steps:` alone)."""
    if recipe is None or isinstance(recipe, R.Recipe):
        return recipe
    if isinstance(recipe, Mapping):
        return R.parse_recipe(recipe)
    if isinstance(recipe, (list, tuple)) and all(isinstance(step, Mapping) for step in recipe):
        return R.parse_recipe({"steps": list(recipe)})
    if isinstance(recipe, (list, tuple)):  # ["hflip"]: said "give ... a list of steps", which it was meant as
        index, item = next((i, s) for i, s in enumerate(recipe, 1) if not isinstance(s, Mapping))
        raise UsageError(None, f"recipe: item {index} of the list is a {type(item).__name__} ({item!r}), not a step; "
                               "a list recipe is a list of step mappings ([{'op': 'hflip'}, ...], in YAML "
                               "`- op: hflip`)")
    if isinstance(recipe, (str, os.PathLike)):
        return R.load_recipe(recipe)
    if callable(recipe):
        # A Compose draws its own parameters: the engines could not give image and mask, or CPU and DALI, the
        # same ones, nor make an epoch repeat.
        raise UsageError(None, f"recipe: a {type(recipe).__name__} is a transform, not a recipe; write its steps "
                               "as a recipe (a YAML file, or {'size': [H, W], 'steps': [{'op': 'hflip'}, ...]}: "
                               "see docs/augment.md for the ops)")
    raise UsageError(None, f"recipe: a {type(recipe).__name__} is not a recipe; give a YAML path, a mapping, a "
                           "list of step mappings ([{'op': 'hflip'}, ...]) or a dataprep.recipe.Recipe")


def load_stats_arg(stats: Stats | Mapping[str, Any] | PathLike | None) -> tuple[Stats | None, str | None]:
    """(the typed stats, its file name for messages)."""
    if stats is None:
        return None, None
    loaded = Stats.from_json(stats)
    return loaded, loaded.source


def select_rows(manifest: Manifest, *, fold: int | None = None, split: str | None = None) -> list[ManifestRow]:
    """Rows of `manifest` for a k-fold split: train = `fold` column != fold, val = == fold; all rows if fold is None.

    Without a fold, `split` names rows of the manifest's `split` column (`scan` writes it when the folders
    name splits: `split="val"` on SegNet's CamVid or Kaggle's `val_images`)."""
    source = str(manifest.path) if manifest.path else "manifest"
    # bool is an int to Python (fold=True was fold 1) and a str fold ("0" from argparse or the environment) was
    # reported as missing from the manifest: only integers are fold numbers
    if fold is not None and (isinstance(fold, bool) or not isinstance(fold, (int, np.integer))):
        raise UsageError(source, f"fold must be an int, not {type(fold).__name__} {fold!r}"
                                 + (f" (pass fold=int({fold!r}))" if isinstance(fold, str) else ""))
    if fold is not None:
        fold = int(fold)
    if fold is None:
        if split is None:
            return list(manifest.rows)
        if SPLIT_COLUMN not in manifest.extra_columns:
            raise UsageError(source, f"split={split!r} needs a fold number (fold=N), or a manifest with a "
                                     f"{SPLIT_COLUMN!r} column")
        return list(select_splits(manifest, [split]).rows)
    if split is not None and split not in SPLITS:
        raise UsageError(source, f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split is None:
        raise UsageError(source, f"fold={fold} needs split='train' or split='val'")
    if "fold" not in manifest.extra_columns:
        raise DataprepError(source, "no `fold` column; use the manifest written by `dataprep kfold`")
    folds = []
    for row in manifest.rows:
        if row.fold is None:
            raise DataprepError(source, f"row {row.id!r}: fold {row.extra.get('fold', '')!r} is not an integer")
        folds.append(row.fold)
    if fold not in folds:
        raise DataprepError(source, f"fold {fold} not in the manifest; folds are {sorted(set(folds))}")
    keep_val = split == "val"
    return [row for row, f in zip(manifest.rows, folds) if (f == fold) == keep_val]


# --------------------------------------------------------------------------- normalization


def resolve_normalization(
    normalize: R.Normalize | None, stats: Stats | None, stats_source: str | None = None,
    recipe_source: str | None = None
) -> Normalization:
    """The normalize step's own mean/std, else stats.json's, else a scale by the dtype (`resolve_dataset_info`)."""
    own = normalize is not None and normalize.mean is not None and normalize.std is not None
    return resolve_dataset_info(mean=normalize.mean if own else None, std=normalize.std if own else None,
                                explicit_source=recipe_source, stats=stats).normalization


# --------------------------------------------------------------------------- the resolved setup


@dataclass(frozen=True)
class DataSpec:
    """Everything a loader engine needs, resolved and validated once."""

    rows: tuple[ManifestRow, ...]
    steps: tuple[R.Step, ...]  # online steps, without the final normalize
    size: tuple[int, int] | None
    normalization: Normalization
    ignore_index: int
    seed: int
    recipe_source: str | None
    manifest_source: str | None
    info: DatasetInfo | None = None  # what `resolve_dataset_info` found (ignore index, normalization, classes)


def online_steps(recipe: R.Recipe | None) -> tuple[tuple[R.Step, ...], R.Normalize | None]:
    """The recipe's steps without a trailing `normalize`, and that step's params (None if absent)."""
    if recipe is None:
        return (), None
    steps = list(recipe.steps)
    normalize = None
    for index, step in enumerate(steps, 1):
        if step.op != "normalize":
            continue
        if index != len(steps):
            raise DataprepError(recipe.source, f"step {index} (normalize): must be the last step of an online recipe")
        if step.p != 1.0:
            raise DataprepError(recipe.source, f"step {index} (normalize): p must be 1, got {step.p}")
        normalize = step.params
        steps.pop()
    return tuple(steps), normalize  # type: ignore[return-value]


def resolve_info(
    manifest: Manifest, stats: Stats | None, recipe: R.Recipe | None, normalize: R.Normalize | None,
    ignore_index: int | None = None
) -> DatasetInfo:
    """`resolve_dataset_info` for a Dataset: the palette beside the manifest, the recipe's normalize step as explicit."""
    palette = None
    if manifest.path is not None:
        from ..palette import resolve_palette

        palette = resolve_palette(None, manifest.path)
    own = normalize is not None and normalize.mean is not None and normalize.std is not None
    return resolve_dataset_info(ignore_index=ignore_index, mean=normalize.mean if own else None,
                                std=normalize.std if own else None,
                                explicit_source=recipe.source if recipe is not None else None,
                                palette=palette, stats=stats, recipe=recipe)


def resolve_spec(
    manifest: Manifest | PathLike,
    recipe: R.Recipe | PathLike | Mapping[str, Any] | None = None,
    stats: Mapping[str, Any] | PathLike | None = None,
    *,
    fold: int | None = None,
    split: str | None = None,
    seed: int = 0,
    ignore_index: int | None = None,
    engine: str = R.ALBUMENTATIONS,
    info: DatasetInfo | None = None,
) -> DataSpec:
    """Read and check the arguments of a Dataset/loader; errors name the file at fault.

    `info`: the trainer's resolved `DatasetInfo`; its ignore index and
    normalization are used (a normalize step's own mean/std still win), so the
    loss and the loaders agree.
    """
    man = load_manifest_arg(manifest)
    rec = load_recipe_arg(recipe)
    stats_dict, stats_source = load_stats_arg(stats)
    rows = select_rows(man, fold=fold, split=split)
    if not rows:
        raise DataprepError(man.path, "no rows to load" + (f" for fold {fold}, split {split!r}" if fold is not None else ""))
    unlabelled = [r.id for r in rows if r.mask is None]
    if unlabelled:
        raise DataprepError(
            man.path, f"{len(unlabelled)} row(s) have no mask (first: {unlabelled[0]!r}); the Dataset needs label maps"
        )
    if rec is not None:
        # Offline-only ops (mosaic, copy_paste, ...) and engine gaps fail here, at load time.
        rec.require_engine(engine)
    steps, normalize = online_steps(rec)
    source = rec.source if rec is not None else None
    resolved = resolve_info(man, stats_dict, rec, normalize, ignore_index)
    if stats_dict is not None and info is None:  # the trainer checks its own stats
        origin = origin_warning(stats_dict.measured_on, man.rows, stats_name=stats_source or "stats",
                                rows_name=f"the {len(man)} rows of {man.path}" if man.path else None,
                                alternatives=[rows, *training_row_sets(man.rows)])
        if origin:
            warnings.warn(origin, UserWarning, stacklevel=3)
    for line in mirror_warnings(rec, resolved.class_names) if rec is not None else ():
        warnings.warn(line, UserWarning, stacklevel=3)
    if rec is not None and rec.size and not any(SPECS[s.op].needs_size for s in steps):
        # Offline runs fit outputs to `size`; online only a step that takes it does (val.yaml: `- op: resize`).
        warnings.warn(f"{source or 'the recipe'}: size {list(rec.size)} is taken by no step, so samples keep their "
                      "images' sizes; add `- op: resize` (or a crop) to give them that size", UserWarning, stacklevel=3)
    if info is not None:
        own = resolved.from_.get("normalization") == "explicit"
        resolved = dataclasses.replace(info, normalization=resolved.normalization if own else info.normalization)
    if not 0 <= resolved.ignore_index <= 65535:
        # Padding and rotated-in corners are filled with it: -100 (torch's default) saturated to class 0.
        origin = resolved.from_.get("ignore_index", "explicit")
        where = "" if origin == "explicit" else f" (from the {origin})"
        raise UsageError(None, f"ignore_index {resolved.ignore_index}{where}: label maps hold 0..65535 and padding "
                               "is filled with it; use 255, and the same value in the loss "
                               "(CrossEntropyLoss(ignore_index=255))")
    # The first image's pixels, read once for whichever check needs them.
    first_image = functools.cache(lambda: load_sample(rows[0], mask="skip", purpose="the Dataset").image)
    if any(needs_rgb(s.op) for s in steps):
        check_colour_steps(steps, dataset_channels(resolved.normalization, int(first_image().shape[2])), source)
    typed = engine == R.ALBUMENTATIONS and any(SPECS[s.op].cpu_pixel_types for s in steps)
    photometric = any(SPECS[s.op].colour_only for s in steps)
    dtype = read_info(rows[0].image).dtype if typed or photometric else None
    refusal = pixel_type_refusal(steps, dtype) if typed else None
    if photometric and not refusal and dtype.startswith("float"):
        refusal = float_range_refusal(steps, first_image())
    if refusal:
        raise UsageError(str(rows[0].image), refusal)
    if info is None:  # the trainer checks its first batch itself
        _warn_of_the_first_sample(rows[0], resolved, source, dtype or read_info(rows[0].image).dtype, first_image)
    return DataSpec(
        rows=tuple(rows),
        steps=steps,
        size=rec.size if rec is not None else None,
        normalization=resolved.normalization,
        ignore_index=resolved.ignore_index,
        seed=check_seed(seed),  # int(seed) took 1.5 and "1"; 2**64 wrapped to 0 in sample_seed's 64-bit words
        recipe_source=source,
        manifest_source=str(man.path) if man.path else None,
        info=resolved,
    )


def _warn_of_the_first_sample(row: ManifestRow, resolved: DatasetInfo, source: str | None, dtype: str,
                              first_image: Any) -> None:
    """Warnings a look at the first sample gives, for a user's own training loop (the trainer checks its first
    batch): masks a loss would learn wrongly from, and a normalization that leaves inputs far from 0 +- 1."""
    lines = []
    if resolved.class_names is None:
        try:
            values = np.unique(load_row_mask(row, purpose="the Dataset")).tolist()
        except DataprepError:
            values = []  # reading the item raises it, in the worker that reads it
        lines.append(ignore_as_class_warning(values, resolved.ignore_index, f"the first label map ({row.mask_str})"))
    origin = resolved.from_.get("normalization")
    if origin == "explicit":
        lines.append(_unit_mean_std_warning(resolved.normalization, dtype, source))
    if origin == "scale" and dtype == "uint16":
        lines.append(narrow_sixteen_bit_warning(dtype, float(first_image().max()),
                                                f"the images (the first: {row.image_str})"))
    for line in filter(None, lines):
        warnings.warn(line, UserWarning, stacklevel=4)


def _unit_mean_std_warning(normalization: Normalization, dtype: str, source: str | None) -> str | None:
    """albumentations' Normalize takes ImageNet's 0-1 mean/std and a max_pixel_value of 255; ours are in raw
    pixel units, so those values on 8-bit images gave inputs of 130..1060, without a word."""
    mean, std = normalization.mean, normalization.std
    if mean is None or std is None or not np.issubdtype(np.dtype(dtype), np.integer):
        return None
    if not (all(0 < m < 1 for m in mean) and all(0 < v < 1 for v in std)):  # mean 0, std 1: raw values, on purpose
        return None
    top = np.iinfo(np.dtype(dtype)).max
    raw = ", ".join(f"{m * top:.1f}" for m in mean), ", ".join(f"{v * top:.1f}" for v in std)
    return (f"{source or 'the recipe'}: normalize mean/std are 0-1 values, but the images are {dtype} (0..{top}) "
            f"and mean/std are in raw pixel units: inputs will be far from 0 +- 1; use mean [{raw[0]}], std "
            f"[{raw[1]}], or leave them out to use stats.json's")


# --------------------------------------------------------------------------- per-sample pieces


def dataset_channels(normalization: Normalization, first_image_channels: int) -> int:
    """The channels every image of a Dataset is given: the first image's, or 3 for grayscale data normalized as RGB.

    Datasets mix grayscale and colour pictures (COCO has about 1% grayscale
    JPEGs). As MMSegmentation's colour loading and DALI's RGB decoding do, a
    grayscale image in a colour dataset is expanded to RGB (`match_channels`), so
    batches stack; a colour image in a grayscale dataset is an error, never
    silently turned gray.
    """
    mean = normalization.mean
    if first_image_channels == 1 and mean is not None and len(mean) == 3:
        return 3
    return first_image_channels


def load_pair(row: ManifestRow, channels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The row's image (H, W, C) and label map (H, W) as uint8/uint16, sizes checked (`io.load_sample`).

    `channels`: convert the image to that many channels (`match_channels`).
    """
    sample = load_sample(row, channels=channels, purpose="the Dataset")
    return sample.image, label_map(sample.mask, row.mask_str)


def label_map(mask: np.ndarray, path: PathLike) -> np.ndarray:
    """Check a mask is a 2-D index map and narrow it to uint8/uint16 (what cv2 and DALI resample)."""
    if mask.ndim == 3:
        raise DataprepError(
            path,
            f"colour mask ({mask.shape[2]} channels); the Dataset needs label maps: run `dataprep masks2labels` first",
        )
    if mask.dtype in (np.uint8, np.uint16):
        return mask
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    if not np.issubdtype(mask.dtype, np.integer):
        raise DataprepError(path, f"mask holds {mask.dtype} values; label maps hold integer class indices")
    lo, hi = (int(mask.min()), int(mask.max())) if mask.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise DataprepError(
            path, f"label values {lo}..{hi} are outside 0..65535; run `dataprep masks2labels` to map them"
        )
    return mask.astype(np.uint8 if hi <= 255 else np.uint16)


def sample_seed(seed: int, epoch: int, index: int, copy: int = 0) -> int:
    """A 32-bit seed for one sample of one epoch (same on every worker, process and engine); `copy`: which
    appearance of the sample in the epoch (`shard_order`), 0 for the first (whose seed it always was)."""
    words = [int(seed) & 0xFFFFFFFFFFFFFFFF, int(epoch) & 0xFFFFFFFF, int(index) & 0xFFFFFFFFFFFFFFFF]
    if copy:
        words.append(int(copy) & 0xFFFFFFFF)
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def sample_rngs(seed: int, epoch: int, index: int, copy: int = 0) -> tuple[np.random.Generator, random.Random]:
    """The (numpy, python) generator pair an albumentations Compose draws one sample's params from."""
    s = sample_seed(seed, epoch, index, copy)
    return np.random.default_rng(s), random.Random(s)


def epoch_order(
    size: int, *, seed: int, epoch: int, shuffle: bool, shard_id: int = 0, num_shards: int = 1, copies: bool = False
):
    """This shard's sample indices for one epoch (`copies`: with their copy numbers, see `shard_order`).

    As torch's DistributedSampler: one permutation per (seed, epoch) shared by
    all shards, padded with its own first indices to a multiple of `num_shards`
    so every shard gets the same number of samples, then every
    `num_shards`-th index from `shard_id`.
    """
    if shuffle:
        order = np.random.default_rng(order_words(seed, epoch)).permutation(size)
    else:
        order = np.arange(size)
    return shard_order(order, shard_id, num_shards, copies)


def _initialized_rank() -> int | None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except (ImportError, RuntimeError, ValueError):
        pass
    return None


def distributed_rank() -> int:
    """This process's rank in a distributed run: torch.distributed's once initialized (forked DataLoader workers
    keep their parent's), else torchrun's RANK, else 0."""
    rank = _initialized_rank()
    if rank is not None:
        return rank
    try:
        return max(0, int(os.environ.get("RANK", "0")))
    except ValueError:  # not torchrun's: no rank to tell apart
        return 0


def check_sharding(shard_id: int, num_shards: int) -> None:
    if num_shards < 1:
        raise UsageError(None, f"num_shards must be >= 1, got {num_shards}")
    if not 0 <= shard_id < num_shards:
        raise UsageError(None, f"shard_id must be in 0..{num_shards - 1}, got {shard_id}")


# --------------------------------------------------------------------------- the Dataset


class SegmentationDataset(Dataset):
    """A torch Dataset over a manifest: `ds[i]` -> {"image": float32 [C,H,W], "mask": int64 [H,W], "id": str}.

    `recipe`: online recipe (path, Recipe, mapping or None for no transforms);
    `stats`: stats.json path, dict or `Stats` for normalization (None: scale by the dtype's range);
    `info`: a resolved `DatasetInfo` (the trainer's), for the ignore index and normalization;
    `fold`/`split`: keep the train or val rows of one k-fold fold;
    `seed`: augmentation seed; sample i of epoch e always gets the same random
    params, whichever worker loads it. Set the epoch with `set_epoch`, or index
    with an `(epoch, index)` pair, or `(epoch, index, copy)` for an appearance
    after the first in one epoch (what the loader's sampler sends, so that
    persistent workers see the epoch too, and repeats differ). Until `set_epoch` is called, plain
    `ds[i]` draws anew each time, as torchvision and albumentations transforms do:
    the n-th `ds[i]` of this process is epoch n's (each rank of a distributed
    run drawing its own, see `distributed_rank`), and in a torch DataLoader
    worker the draw also follows the loader's base seed and the worker (a plain
    DataLoader without set_epoch gave every epoch the same augmentations); as
    with torch's own randomness there, `torch.manual_seed` makes it repeat.
    """

    def __init__(
        self,
        manifest: Manifest | PathLike,
        recipe: R.Recipe | PathLike | Mapping[str, Any] | None = None,
        stats: Mapping[str, Any] | PathLike | None = None,
        *,
        fold: int | None = None,
        split: str | None = None,
        seed: int = 0,
        ignore_index: int | None = None,
        info: DatasetInfo | None = None,
    ) -> None:
        self.spec = resolve_spec(
            manifest, recipe, stats, fold=fold, split=split, seed=seed, ignore_index=ignore_index, info=info
        )
        self.epoch = 0
        self._epoch_set = False
        self._draws: dict[int, int] = {}  # index -> how often plain ds[index] was read in this process
        self._compose = self._build_compose()

    def _build_compose(self):
        if not self.spec.steps:
            return None
        return CompiledSteps(
            self.spec.steps, size=self.spec.size, ignore_index=self.spec.ignore_index, source=self.spec.recipe_source
        )

    # ---- what users look at

    @property
    def rows(self) -> tuple[ManifestRow, ...]:
        return self.spec.rows

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.spec.rows]

    @property
    def ignore_index(self) -> int:
        return self.spec.ignore_index

    @property
    def seed(self) -> int:
        return self.spec.seed

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draws for plain `ds[i]` indexing (from now on always those of `epoch`)."""
        self.epoch = int(epoch)
        self._epoch_set = True

    def _plain_epoch(self, index: int) -> int:
        """The epoch whose params a plain `ds[index]` gets (see the class docstring)."""
        if self._epoch_set:
            return self.epoch
        draw = self._draws.get(index, 0)
        self._draws[index] = draw + 1
        worker = get_worker_info()
        # Every rank of a distributed run counts its own reads, and its workers' base seeds repeat the other
        # ranks' under one torch.manual_seed: without the rank, rank 1's first read of a sample in epoch 3 was the
        # draw rank 0 gave it in epoch 0 (4 ranks, 8 epochs: 3-5 distinct augmentations per sample, not 8).
        rank = [r] if (r := self._rank()) else []
        if worker is None:
            return int(np.random.SeedSequence([*rank, draw]).generate_state(1)[0]) if rank else draw
        # The loader's base seed changes each epoch; persistent workers keep theirs, and their counts are their
        # own: the worker's id tells a sample read first by worker 1 in epoch 2 from its first read by worker 0.
        return int(np.random.SeedSequence([(worker.seed - worker.id) & 0xFFFFFFFFFFFFFFFF, worker.id, draw, *rank])
                   .generate_state(1)[0])

    def _rank(self) -> int:
        """`distributed_rank`, or in a spawned worker the rank of the process that pickled this Dataset."""
        pickled = self.__dict__.get("_pickled_rank")
        if pickled is not None and get_worker_info() is not None and _initialized_rank() is None:
            return pickled
        return distributed_rank()

    def __getstate__(self) -> dict[str, Any]:
        # Spawned and forkserver workers (the DataLoader's default in a rank started by torch.multiprocessing.spawn)
        # have no process group: with init_process_group(rank=...) alone, every rank's workers drew as rank 0.
        return {**self.__dict__, "_pickled_rank": distributed_rank()}

    @cached_property
    def channels(self) -> int:
        """Channels of every image this Dataset gives (see `dataset_channels`)."""
        first = load_sample(self.spec.rows[0], mask="skip", purpose="the Dataset")
        return dataset_channels(self.spec.normalization, int(first.image.shape[2]))

    def __len__(self) -> int:
        return len(self.spec.rows)

    def __getitem__(self, key: int | tuple[int, int] | tuple[int, int, int]) -> dict[str, Any]:
        epoch, asked, copy = (*key, 0)[:3] if isinstance(key, tuple) else (None, key, 0)
        index = int(asked)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):  # the index as asked: ds[-33] of 32 is not "index -1"
            raise IndexError(f"index {int(asked)} out of range for {len(self)} samples")
        if epoch is None:
            epoch = self._plain_epoch(index)
        row = self.spec.rows[index]
        image, mask = self.transform(*load_pair(row, self.channels), epoch=int(epoch), index=index,
                                     source=row.image_str, copy=int(copy))
        return {
            "image": torch.from_numpy(self.spec.normalization(image)),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "id": row.id,
        }

    def transform(
        self, image: np.ndarray, mask: np.ndarray, *, epoch: int, index: int, source: PathLike | None = None,
        copy: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply the recipe's steps with the params of sample `index` in `epoch` (no normalization); `copy`: its
        appearance in the epoch when the epoch holds it more than once (class balance, shard padding).

        A bool mask is read as classes 0 and 1 (it comes back uint8: padding holds the ignore index); an int64
        mask comes back int64 (OpenCV works in int32); a mask whose type cannot hold the ignore index comes back
        in the smallest type that does (uint8 under ignore index 1000: uint16)."""
        if image.shape[:2] != mask.shape[:2]:  # albumentations refuses this; the steps would misalign the pair
            raise mask_size_error(source, mask.shape[1::-1], image.shape[1::-1])
        if self._compose is None:
            return image, mask
        given = mask.dtype
        if given == np.bool_:
            mask = mask.astype(np.uint8)  # OpenCV's resize refused it with a message naming neither
        elif np.issubdtype(given, np.integer) and np.iinfo(given).max < self.spec.ignore_index:
            # OpenCV saturates the fill: rotated-in corners of int8 masks were 127, of uint8 ones under 1000, 255.
            mask = mask.astype(np.promote_types(given, np.min_scalar_type(self.spec.ignore_index)))
        np_rng, _ = sample_rngs(self.spec.seed, epoch, index, copy)
        try:
            image, mask, _ = self._compose.run(image, mask, np_rng)
        except (ValueError, TypeError, cv2.error) as exc:  # e.g. a colour step on a 16-bit or 2-channel image
            raise DataprepError(source, f"augmentation failed: {str(exc).splitlines()[0]}") from None
        return image, (mask.astype(np.int64) if given == np.int64 else mask)


def describe_sizes(ids: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> str:
    """`a: 240x320, b: 256x256` for the first two samples of different sizes."""
    first = shapes[0]
    other = next(i for i, s in enumerate(shapes) if s != first)
    return f"{ids[0]!r} is {first[-1]}x{first[-2]}, {ids[other]!r} is {shapes[other][-1]}x{shapes[other][-2]}"


__all__ = [
    "DataSpec",
    "Normalization",
    "SegmentationDataset",
    "dataset_channels",
    "epoch_order",
    "load_pair",
    "match_channels",
    "resolve_spec",
    "sample_seed",
    "select_rows",
]
