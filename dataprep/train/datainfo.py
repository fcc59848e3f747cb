"""What the trainer needs to know about the data, and the loaders that deliver it.

Class count, class names, ignore index, input channels and normalization come
from `contracts.resolve_dataset_info`, the resolver the Dataset and augment use
too (explicit config > palette (data.palette, else the file beside the
manifest) > stats.json > the train recipe; channels: config > stats.json > the
first image). The loaders are handed the result, so the loss ignores the very
label the loaders pad masks with.
"""
from __future__ import annotations

from collections.abc import Callable
import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ..contracts import DatasetInfo, Stats, resolve_dataset_info
from ..errors import DataprepError, UsageError
from ..io import read_image
from ..manifest import Manifest, ManifestRow, read_manifest, require_rows
from ..palette import resolve_palette
from ..split_column import select_splits
from ..stats_origin import origin_warning
from . import distributed as D
from .config import TrainConfig
from .leakage import check_row_overlap, check_source_leakage
from .model import min_input_side


@dataclass(frozen=True)
class DataInfo:
    num_classes: int
    in_channels: int
    ignore_index: int
    class_names: list[str] | None
    stats: Stats | None
    mask_paths: dict[str, str]  # sample id -> mask path, for error messages
    dataset: DatasetInfo | None = None  # what the loaders are given
    warnings: tuple[str, ...] = ()  # for the console: a stats.json measured on other rows

    def normalization(self, cfg: TrainConfig) -> dict[str, Any]:
        """The normalization the training loader applied, for inference (`dataprep predict`).

        Resolved as the loader resolves it: the train recipe's `normalize` mean/std
        first, then stats.json's, else each dtype scaled to 0-1. `from` says which
        ("recipe", "stats" or "scale"; mean/std are None for "scale").
        """
        from ..data.dataset import load_recipe_arg, online_steps, resolve_normalization

        recipe = load_recipe_arg(cfg.data.train_recipe)
        _, step = online_steps(recipe)
        norm = resolve_normalization(step, self.stats, str(cfg.data.stats) if cfg.data.stats else None,
                                     recipe.source if recipe is not None else None)
        if norm.mean is None:
            kind = "scale"
        elif step is not None and step.mean is not None:
            kind = "recipe"
        else:
            kind = "stats"
        max_value = self.stats.image.max_value if self.stats is not None else None
        return {"from": kind, "mean": None if norm.mean is None else list(norm.mean),
                "std": None if norm.std is None else list(norm.std), "max_value": max_value,
                "source": norm.source}


def _refuse_size_below_depth(recipe: Any, depth: int, path: Any) -> None:
    """A recipe size below the UNet's 2**depth (each down step halves it): a 1x1 crop ended mid-run in a
    max-pooling traceback of 76 lines."""
    need = min_input_side(depth)
    if recipe is not None and recipe.size and min(recipe.size) < need:
        raise UsageError(path, f"size {list(recipe.size)} is below {need}, what a model of model.depth {depth} "
                               f"needs (each of its {depth} down steps halves the size): give a size of at least "
                               f"{need}, or a smaller model.depth")


def describe_data(cfg: TrainConfig) -> DataInfo:
    d, m = cfg.data, cfg.model
    manifest = require_rows(read_manifest(d.manifest))
    stats = Stats.from_json(d.stats) if d.stats else None
    palette = resolve_palette(d.palette, d.manifest)
    from ..data.dataset import load_recipe_arg, online_steps

    recipe = load_recipe_arg(d.train_recipe)
    for path, loaded in ((d.train_recipe, recipe), (d.val_recipe, load_recipe_arg(d.val_recipe))):
        _refuse_size_below_depth(loaded, m.depth, path)
    _, step = online_steps(recipe)
    own = step is not None and step.mean is not None and step.std is not None
    # Read even when in_channels or stats.json say the channels: they are checked against it below.
    first_path = manifest.rows[0].image
    first = read_image(first_path)
    resolved = resolve_dataset_info(
        ignore_index=d.ignore_index, num_classes=m.num_classes, channels=m.in_channels,
        mean=step.mean if own else None, std=step.std if own else None,
        explicit_source=recipe.source if recipe is not None else None,
        palette=palette, stats=stats, recipe=recipe, first_image=first)
    if not resolved.num_classes:
        raise UsageError(cfg.source, "model.num_classes: not set, and there is no data.stats or palette.json to take it from")
    if resolved.num_classes < 2:
        # Cross-entropy over one class is 0 whatever the model does: ISBI's raw 0/255 masks under ignore 255
        # trained 'to mIoU 100%', exit 0.
        where = resolved.from_.get("num_classes", "explicit")
        raise UsageError(cfg.source, f"1 class (from the {where}): a model of one class learns nothing (its loss is "
                                     "always 0); binary 0/255 masks counted with 255 as ignore? convert them with "
                                     "`dataprep masks2labels -p binary`, or set model.num_classes")
    resolved = dataclasses.replace(resolved, channels=_checked_channels(resolved, first, first_path, cfg))
    num_classes, ignore, in_channels = resolved.num_classes, resolved.ignore_index, resolved.channels
    names = list(resolved.class_names) if resolved.class_names is not None else None

    mask_paths = {r.id: str(r.mask) for r in manifest if r.mask}
    training, validation, what, field = _train_val_rows(manifest, d)
    overlap = None
    if validation is not None:
        mask_paths.update({r.id: str(r.mask) for r in validation if r.mask})
        check_source_leakage(training, validation, d.manifest, what)
        overlap = check_row_overlap(training, validation, d.val_manifest or d.manifest, what, field)
    origin = None
    if stats is not None:
        origin = origin_warning(stats.measured_on, training, stats_name=f"data.stats {d.stats}",
                                rows_name=f"the {len(training)} training rows of {d.manifest}", alternatives=[manifest.rows])
    disagree = _palette_stats_disagreement(palette, stats, d) if not m.num_classes else None
    warnings = tuple(w for w in (origin, disagree, overlap) if w)
    return DataInfo(int(num_classes), int(in_channels), int(ignore), names, stats, mask_paths, resolved, warnings)


def _checked_channels(resolved: DatasetInfo, first: Any, first_path: Any, cfg: TrainConfig) -> int:
    """The channels the loaders give (the first image's, or 3 for grayscale under a 3-channel normalization, as
    `dataset_channels` decides); model.in_channels or stats.json saying otherwise is refused here, not met as
    torch's "expected input[4, 1, 128, 128] to have 3 channels" traceback at the first batch."""
    from ..data.dataset import dataset_channels

    own = int(first.shape[2]) if first.ndim == 3 else 1
    given = dataset_channels(resolved.normalization, own)
    origin = resolved.from_.get("channels")
    if origin == "image" or resolved.channels == given:
        return given
    where = "model.in_channels" if origin == "explicit" else f"data.stats {cfg.data.stats} (image.channels)"
    expanded = f", expanded to {given} for the {given}-channel normalization" if given != own else ""
    raise UsageError(cfg.source, f"{where}: {resolved.channels}, but the images have {given} channel(s) (the "
                                 f"first, {first_path}, has {own}{expanded}); set model.in_channels to {given} "
                                 "or leave it unset")


def _palette_stats_disagreement(palette: Any, stats: Stats | None, d: Any) -> str | None:
    """The palette (which gives the model its classes) and stats.json counting other classes: a palette beside
    the manifest that belongs to other masks (a raw-mask `palette infer` of 256 classes beside label maps of 2
    trained a 255-class model without a word)."""
    if palette is None or stats is None or stats.classes is None or not stats.classes.num_classes:
        return None
    if palette.num_classes == stats.classes.num_classes:
        return None
    source = palette.source or palette.name
    return (f"the palette {source} has {palette.num_classes} classes, but data.stats {d.stats} counted "
            f"{stats.classes.num_classes}: the model takes the palette's; if it is not the label maps' own (the one "
            "masks2labels wrote beside them), set data.palette or model.num_classes")


def _train_val_rows(manifest: Manifest, d: Any) -> tuple[list[ManifestRow], list[ManifestRow] | None, str, str]:
    """The training rows, the validation rows (None without validation), what the validation data is and the
    setting that chose it, for messages."""
    training = list(manifest.rows)
    if d.fold is not None:
        _check_fold(manifest, d.fold, d.manifest)
        val = [r for r in manifest if r.fold == d.fold]
        return [r for r in manifest if r.fold != d.fold], val, f"validation fold {d.fold}", "data.fold"
    if d.train_split:
        training = _split_rows(manifest, d.train_split, "data.train_split")
    if d.val_split:
        val = _split_rows(manifest, d.val_split, "data.val_split")
        return training, val, f"validation split {d.val_split!r}", "data.val_split"
    if d.val_manifest:
        val = read_manifest(d.val_manifest).rows
        return training, val, f"the validation manifest {d.val_manifest}", "data.val_manifest"
    return training, None, "", ""


def _split_rows(manifest: Manifest, split: str, field: str) -> list[ManifestRow]:
    try:
        return select_splits(manifest, [split]).rows
    except UsageError as exc:
        raise UsageError(exc.path, f"{field}: {exc.reason}") from None


def _check_fold(manifest: Manifest, fold: int, source: str) -> None:
    if "fold" not in manifest.extra_columns:
        raise UsageError(source, "data.fold is set but this manifest has no `fold` column (use the kfold output manifest)")
    folds = {r.fold for r in manifest}
    if fold not in folds:
        known = sorted(f for f in folds if f is not None)
        raise UsageError(source, f"fold {fold} is not in the manifest; its folds are {known}")


def build_loaders(cfg: TrainConfig, info: D.DistInfo, device: torch.device, *,
                  val_batch_size: int | None = None, data: DataInfo | None = None) -> tuple[Any, Any | None]:
    """The train loader (this rank's shard, shuffled) and the validation loader (this rank's shard, or None).

    `val_batch_size` overrides the configured one (1 when validation samples differ in size).
    `data`: `describe_data`'s result; its `DatasetInfo` goes to both loaders.
    """
    make_loader = _make_loader()
    d = cfg.data
    common: dict[str, Any] = dict(
        stats=d.stats, engine=d.engine, num_workers=d.num_workers, seed=cfg.train.seed,
        shard_id=info.rank, num_shards=info.world_size, pin_memory=device.type == "cuda",
        device=device if d.engine == "dali" else None,  # DALI runs on this rank's GPU; the CPU engine stays on CPU
        info=data.dataset if data is not None else None,
    )
    train_loader = make_loader(d.manifest, d.train_recipe, batch_size=d.batch_size, shuffle=True,
                               drop_last=d.drop_last, class_balance=d.class_balance, **d.train_rows(), **common)
    val_batch = val_batch_size or d.val_batch_size or d.batch_size
    validation = d.val_rows()
    val_loader = None
    if validation is not None:
        source, rows = validation
        val_loader = make_loader(source, d.val_recipe, batch_size=val_batch, shuffle=False, **rows, **common)
    return train_loader, val_loader


def _make_loader() -> Callable[..., Any]:
    try:
        from ..data.loader import make_loader
    except ImportError as exc:
        raise DataprepError(None, f"the data loader (dataprep.data) is not available: {exc}") from None
    return make_loader
