"""The trainer's configuration: a typed YAML file, validated on load.

Sections and fields are the dataclasses below (every field but
`data.manifest` has a default). Unknown fields, wrong types and out-of-range
values raise a UsageError (exit code 2) naming the file and the field, e.g.
`train.yaml: optim.lr: expected a number, got 'fast'`.

Relative paths in the file are taken relative to the file's own folder, so a
config works whatever folder `dataprep train` runs from (as MMSegmentation's
`data_root` beside the config does). Overrides (`--set`, `-o`) come from the
command line and stay relative to the current folder.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import UsageError
from ..io import PathLike
from ..option_ranges import MAX_SEED
from ..recipe import build_dataclass, load_yaml, load_yaml_file  # shared with recipes: typed validation, YAML rules
from ..strict_load import yaml_error


def _positive(name: str, value: float | None, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")


@dataclass(frozen=True)
class DataConfig:
    manifest: str = ""  # required; a kfold manifest (with a `fold` column) when `fold` is set
    val_manifest: str | None = None  # a separate validation manifest (instead of `fold`)
    train_recipe: str | None = None  # online recipe (pipelines/train_*.yaml); None: normalization only
    val_recipe: str | None = None
    stats: str | None = None  # stats.json: normalization, class weights, num_classes
    palette: str | None = None  # palette.json; default: the one beside the manifest, if any
    fold: int | None = None  # train on rows whose fold != N, validate on fold == N
    train_split: str | None = None  # instead of `fold`: train on the rows of this split (the `split` column)
    val_split: str | None = None  # ... and validate on the rows of this one
    engine: Literal["cpu", "dali"] = "cpu"
    batch_size: int = 8
    val_batch_size: int | None = None  # default: batch_size
    num_workers: int = 2
    drop_last: bool = False
    ignore_index: int | None = None  # default: from stats.json, else palette.json, else 255
    class_balance: float | None = None  # repeat-factor sampling threshold for training batches (needs stats)

    def check(self) -> None:
        _positive("batch_size", self.batch_size)
        _positive("val_batch_size", self.val_batch_size)
        _positive("num_workers", self.num_workers, allow_zero=True)
        _positive("fold", self.fold, allow_zero=True)
        if self.class_balance is not None and not 0.0 < self.class_balance <= 1.0:
            raise ValueError(f"class_balance: must be in (0, 1], got {self.class_balance}")
        if self.class_balance is not None and not self.stats:
            raise ValueError("class_balance: needs data.stats (its per-class image counts)")
        if self.fold is not None and self.val_manifest is not None:
            raise ValueError("fold: give either `fold` or `val_manifest`, not both")
        if self.fold is not None and (self.train_split or self.val_split):
            raise ValueError("fold: give either `fold` or `train_split`/`val_split`, not both")
        if self.val_split and self.val_manifest is not None:
            raise ValueError("val_split: give either `val_split` or `val_manifest`, not both")
        if self.val_split and not self.train_split:
            # MMSegmentation's train and val splits are two lists; training on "every row" took val and test too.
            raise ValueError(f"val_split: {self.val_split!r} is set without data.train_split, so training would use "
                             f"every row, the {self.val_split!r} rows among them; set data.train_split (e.g. train)")
        if self.val_split and self.val_split == self.train_split:
            raise ValueError(f"val_split: {self.val_split!r} is the training split too")

    def train_rows(self) -> dict[str, Any]:
        """`make_loader`'s row selection for training: a fold's training rows, a split, or every row."""
        if self.fold is not None:
            return {"fold": self.fold, "split": "train"}
        return {"split": self.train_split} if self.train_split else {}

    def val_rows(self) -> tuple[str, dict[str, Any]] | None:
        """(manifest, `make_loader`'s row selection) of the validation data, or None without any."""
        if self.fold is not None:
            return self.manifest, {"fold": self.fold, "split": "val"}
        if self.val_split:
            return self.manifest, {"split": self.val_split}
        return (self.val_manifest, {}) if self.val_manifest else None


@dataclass(frozen=True)
class ModelConfig:
    width: int = 32  # channels of the first level; doubled at each level down
    depth: int = 4  # number of 2x down-samplings
    up: Literal["bilinear", "transposed"] = "bilinear"
    in_channels: int | None = None  # default: from stats.json, else the first image
    num_classes: int | None = None  # default: from stats.json, else palette.json
    sync_bn: bool = False  # SyncBatchNorm across GPUs under DDP (CUDA only)

    def check(self) -> None:
        _positive("width", self.width)
        if not 1 <= self.depth <= 6:
            raise ValueError(f"depth: must be in 1..6, got {self.depth}")
        _positive("in_channels", self.in_channels)
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(f"num_classes: must be >= 2, got {self.num_classes}")


@dataclass(frozen=True)
class LossConfig:
    class_weights: Literal["none", "inverse_frequency", "median_frequency", "enet"] | None = "none"
    label_smoothing: float = 0.0
    focal_gamma: float = 0.0  # 0: plain cross-entropy

    def check(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: must be in [0, 1), got {self.label_smoothing}")
        _positive("focal_gamma", self.focal_gamma, allow_zero=True)


@dataclass(frozen=True)
class OptimConfig:
    name: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # SGD only

    def check(self) -> None:
        _positive("lr", self.lr)
        _positive("weight_decay", self.weight_decay, allow_zero=True)
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: must be in [0, 1), got {self.momentum}")


@dataclass(frozen=True)
class ScheduleConfig:
    name: Literal["cosine", "onecycle", "constant"] = "cosine"
    warmup_steps: int = 0  # linear warm-up (onecycle: the rising phase)
    min_lr: float = 0.0  # cosine: the final learning rate

    def check(self) -> None:
        _positive("warmup_steps", self.warmup_steps, allow_zero=True)
        _positive("min_lr", self.min_lr, allow_zero=True)


@dataclass(frozen=True)
class LoopConfig:
    epochs: int = 10
    max_steps: int | None = None  # optimizer steps; ends training early and sets the schedule length
    accumulate: int = 1  # batches per optimizer step
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"  # auto: bf16 (or fp16) on CUDA, off on CPU
    clip_grad_norm: float | None = None
    seed: int = 0
    deterministic: bool = False
    output_dir: str = "runs/train"
    val_every: int = 1  # epochs between validations (the last epoch always validates)
    device: str = "auto"  # auto | cpu | cuda | cuda:N

    def check(self) -> None:
        _positive("epochs", self.epochs)
        _positive("max_steps", self.max_steps)
        _positive("accumulate", self.accumulate)
        _positive("clip_grad_norm", self.clip_grad_norm)
        _positive("val_every", self.val_every)
        if not 0 <= self.seed <= MAX_SEED:  # 2**64 ended in torch's "Overflow when unpacking long long"
            raise ValueError(f"seed: must be in 0..{MAX_SEED} (2**63 - 1), got {self.seed}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device: must be auto, cpu, cuda or cuda:N, got {self.device!r}")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: LoopConfig = field(default_factory=LoopConfig)
    source: str | None = None  # file it was loaded from, for messages

    def to_dict(self) -> dict[str, Any]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in _SECTIONS}

    def replace(self, **sections: Mapping[str, Any]) -> "TrainConfig":
        """A copy with some fields changed: cfg.replace(train={"epochs": 2})."""
        data = self.to_dict()
        for name, values in sections.items():
            data[name] = {**data[name], **values}
        return parse_config(data, self.source)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "train": LoopConfig,
}


# Fields holding paths: relative values in a config file are relative to that file's folder.
PATH_FIELDS: tuple[str, ...] = ("data.manifest", "data.val_manifest", "data.train_recipe", "data.val_recipe",
                                "data.stats", "data.palette", "train.output_dir")
# The ones that must exist before training starts, with what each holds.
_INPUT_FIELDS: dict[str, str] = {"data.manifest": "manifest", "data.val_manifest": "manifest",
                                 "data.train_recipe": "recipe", "data.val_recipe": "recipe",
                                 "data.stats": "stats file"}


def load_config(path: PathLike, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read and validate a trainer YAML file; `overrides` maps dotted keys ("train.epochs") to values.

    Relative paths in the file are resolved against the file's folder; those in
    `overrides` are left as given (relative to the current folder).
    """
    path = Path(path)
    data = load_yaml_file(path, not_found=UsageError(path, "config not found"))
    if data is None:
        data = {}
    data = resolve_paths(data, path.parent, str(path))
    return parse_config(apply_overrides(data, overrides or {}, str(path)), str(path))


def resolve_paths(data: Any, base: Path, source: str | None = None) -> Any:
    """A copy of a parsed config with relative path fields joined to `base` (lexically, as a shell would)."""
    if not isinstance(data, Mapping):
        return data
    result = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    for key in PATH_FIELDS:
        section, _, name = key.partition(".")
        values = result.get(section)
        if not isinstance(values, dict):
            continue
        value = values.get(name)
        if isinstance(value, str) and value and not os.path.isabs(value):
            values[name] = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    return result


def check_inputs(config: TrainConfig) -> None:
    """Every input file the config names exists; a missing one is a usage error naming the config field."""
    for key, what in _INPUT_FIELDS.items():
        section, _, name = key.partition(".")
        value = getattr(getattr(config, section), name)
        if value and not Path(value).is_file():
            where = f"{key} in {config.source}" if config.source else key
            raise UsageError(value, f"{what} not found ({where}; relative paths in a config file are relative "
                                    "to its folder, those given with --set to the current folder)")


def parse_config(data: Any, source: str | None = None) -> TrainConfig:
    """Validate a config given as a mapping (e.g. parsed YAML)."""
    if not isinstance(data, Mapping):
        raise UsageError(source, "a trainer config must be a mapping with sections " + ", ".join(_SECTIONS))
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise UsageError(source, f"unknown section(s) {', '.join(map(repr, unknown))}; sections are {', '.join(_SECTIONS)}")
    sections: dict[str, Any] = {}
    try:
        for name, cls in _SECTIONS.items():
            values = data.get(name) or {}
            known = [f.name for f in dataclasses.fields(cls)]
            unknown = sorted(set(values) - set(known)) if isinstance(values, Mapping) else []
            if unknown:
                raise ValueError(f"unknown field '{name}.{unknown[0]}'; {name} fields are {', '.join(known)}")
            sections[name] = build_dataclass(cls, values, f"{name}.")
    except ValueError as exc:
        raise UsageError(source, str(exc)) from None
    schedule, optim = sections["schedule"], sections["optim"]
    if schedule.name == "cosine" and schedule.min_lr > optim.lr:  # the other schedules do not read min_lr
        # The cosine goes from lr to min_lr: above lr it would rise over the whole run.
        raise UsageError(source, f"schedule.min_lr: {schedule.min_lr} is above optim.lr {optim.lr} (the cosine "
                                 "would rise from lr to min_lr); set min_lr below optim.lr")
    if not sections["data"].manifest:
        raise UsageError(source, "data.manifest: required (the manifest to train on)")
    return TrainConfig(**sections, source=source)


def apply_overrides(data: Any, overrides: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """A copy of `data` with dotted keys set: {"train.epochs": 3} -> data["train"]["epochs"] = 3."""
    if not isinstance(data, Mapping):
        raise UsageError(source, "a trainer config must be a mapping with sections " + ", ".join(_SECTIONS))
    result = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    for key, value in overrides.items():
        section, dot, name = key.partition(".")
        if not dot or not name or "." in name:
            raise UsageError(None, f"override {key!r}: expected SECTION.FIELD, e.g. train.epochs")
        target = result.setdefault(section, {})
        if target is None:
            target = result[section] = {}
        if not isinstance(target, dict):
            raise UsageError(source, f"{section}: must be a mapping")
        target[name] = value
    return result


def parse_override(text: str) -> tuple[str, Any]:
    """'train.epochs=3' -> ('train.epochs', 3); the value is read as YAML (null, true, 1e-3, [1, 2])."""
    key, eq, raw = text.partition("=")
    if not eq or not key.strip():
        raise UsageError(None, f"--set {text!r}: expected KEY=VALUE, e.g. train.epochs=3")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml_error():
        value = raw
    return key.strip(), value
