"""Recipes: one YAML schema for offline augmentation and training-time transforms.

A recipe file looks like this (every field but `steps` has a default):

    name: default
    seed: 0                # offline runs: same seed + inputs -> same outputs
    size: [512, 512]       # output height, width; every output has this size
    variants: 2            # offline: outputs written per source sample
    ignore_index: 255      # mask fill for padding, rotation corners, etc.
    output: {image_format: auto, quality: 95}  # auto: jpg for 8-bit RGB/gray, png 16-bit, tif beyond
    partners: auto         # offline mixing ops: partners share the row's fold (else group; or `any`)
    steps:
      - op: random_resized_crop
        scale: [0.5, 1.0]
      - op: hflip
        p: 0.5
      - op: color_jitter
        brightness: 0.2

Each step names an op (`op`) and may give a probability `p` (default 1.0 except
where noted) and the op's own fields. Steps are validated on load: an unknown op,
an unknown field, a wrong type or an out-of-range value is a `UsageError` (exit code 2)
naming the file, the step and the field. Which engines run a step
(albumentations, DALI, the offline multi-sample ops) is what the op's spec in
`dataprep.ops` implements, so an engine refuses a recipe at load time instead
of silently skipping a step.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import DataprepError, UsageError
from .io import PathLike, max_image_pixels
from .sample import DEFAULT_IGNORE_INDEX
from .strict_load import load_yaml, yaml_error, yaml_reason
from .ops import (  # noqa: F401  (the op params types, importable from here as before)
    ALBUMENTATIONS, DALI, OFFLINE, SPECS, Affine, BrightnessContrast, CoarseDropout, ColorJitter, CopyPaste, Crop,
    CropNonEmpty, CutMix, Elastic, GaussianBlur, GaussianNoise, GridDistortion, HorizontalFlip, HueSaturationValue,
    Mixup, Mosaic, Normalize, Perspective, RandomCrop, RandomResizedCrop, RandomScale, Resize, Rotate, StepParams,
    VerticalFlip,
)
from .ops.spec import Range, engine_name, spec_of

PartnerScope = Literal["auto", "same_group", "same_fold", "any"]

# Op name -> params type: a read-only view of the op specs (dataprep.ops) for code that builds params by name.
STEP_TYPES: Mapping[str, type[StepParams]] = types.MappingProxyType({n: s.params for n, s in SPECS.items()})


# --------------------------------------------------------------------------- recipe


@dataclass(frozen=True)
class Step:
    params: StepParams
    p: float = 1.0

    @property
    def op(self) -> str:
        return self.params.op

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "p": self.p, **params_to_dict(self.params)}


@dataclass(frozen=True)
class OutputFormat:
    # auto: JPEG only for 8-bit 1/3-band images, PNG for 16-bit, TIFF beyond (dataprep.pixeltypes).
    image_format: Literal["auto", "jpg", "jpeg", "png", "tif", "tiff"] = "auto"
    quality: int = 95

    def check(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality: must be in 1..100, got {self.quality}")


@dataclass(frozen=True)
class Recipe:
    steps: tuple[Step, ...]
    name: str = "recipe"
    seed: int = 0
    size: tuple[int, int] | None = None  # (height, width)
    variants: int = 1
    ignore_index: int = DEFAULT_IGNORE_INDEX
    output: OutputFormat = field(default_factory=OutputFormat)
    source: str | None = None  # file it was loaded from, for messages
    # Where offline mixing ops (mosaic, copy-paste, mixup, cutmix) take partners from:
    # auto: rows of the same `fold` where the manifest has folds, else of the same
    # `group`, else any; same_group: the same `fold` and `group`; same_fold; any.
    # Drawing across folds leaks validation pixels.
    partners: PartnerScope = "auto"

    def unsupported(self, engine: str) -> list[str]:
        """`step N (op)` for each step that `engine` cannot run."""
        return [f"step {i} ({s.op})" for i, s in enumerate(self.steps, 1) if engine not in spec_of(s.params).engines]

    def require_engine(self, engine: str) -> None:
        bad = self.unsupported(engine)
        if bad:
            raise UsageError(self.source, f"the {engine_name(engine)} cannot run {', '.join(bad)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "size": list(self.size) if self.size else None,
            "variants": self.variants,
            "ignore_index": self.ignore_index,
            "output": dataclasses.asdict(self.output),
            "partners": self.partners,
            "steps": [s.to_dict() for s in self.steps],
        }


def params_to_dict(params: StepParams) -> dict[str, Any]:
    """JSON-able field values (tuples as lists)."""
    return {f.name: _jsonable(getattr(params, f.name)) for f in dataclasses.fields(params)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


# Outputs per source: each is planned up front, so an absurd count would hang before the first write.
MAX_VARIANTS = 10_000

_RECIPE_FIELDS = {"name", "seed", "size", "variants", "ignore_index", "output", "partners", "steps"}


def load_yaml_file(path: Path, *, not_found: DataprepError) -> Any:
    """Read and parse a recipe or trainer YAML file; a missing file raises `not_found`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise not_found from None
    except IsADirectoryError:
        # `--recipe ""` reaches here as Path("") == Path("."), a folder
        empty = " (an empty path is read as '.', this folder)" if str(path) == "." else ""
        raise UsageError(path, f"is a folder, not a YAML file{empty}") from None
    except UnicodeDecodeError as exc:  # a Latin-1 recipe printed Python's traceback
        raise UsageError(path, f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                               "save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(path, f"unreadable: {exc.strerror or exc}") from None
    try:
        return load_yaml(text)
    except yaml_error() as exc:  # `line L, column C: reason` (the first line of str(exc) was only its context)
        reason = yaml_reason(exc)
        raise UsageError(path, reason if reason.startswith("line ") else f"not valid YAML: {reason}") from None


def load_recipe(path: PathLike) -> Recipe:
    """Read and validate a recipe YAML file."""
    if not str(path).strip():  # Path("") is Path("."): read as a folder, "error: .: unreadable: Is a directory"
        raise UsageError(None, "the recipe path is empty; give the recipe's YAML file")
    path = Path(path)
    data = load_yaml_file(path, not_found=UsageError(path, "recipe not found"))
    return parse_recipe(data, source=str(path))


def parse_recipe(data: Any, source: str | None = None) -> Recipe:
    """Validate a recipe given as a mapping (e.g. parsed YAML)."""

    def fail(reason: str) -> DataprepError:
        return UsageError(source, reason)

    if isinstance(data, list):  # a file of `- op: hflip` lines: the steps without the `steps:` key
        raise fail("a recipe is a mapping with a 'steps' list, not a list: put the steps under `steps:`")
    if not isinstance(data, Mapping):
        raise fail("a recipe must be a mapping with a 'steps' list")
    # `x-` keys are left alone (as Docker Compose does): a place for the anchors that `<<: *name` merges
    unknown = sorted(k for k in set(data) - _RECIPE_FIELDS if not (isinstance(k, str) and k.startswith("x-")))
    if unknown:
        raise fail(f"unknown field(s) {', '.join(map(repr, unknown))}; expected {sorted(_RECIPE_FIELDS)} "
                   "(or keys starting with x-, which are ignored: a place for YAML anchors)")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list):
        raise fail("'steps' must be a list of steps, each a mapping with an 'op'")
    steps = tuple(_parse_step(i, s, source) for i, s in enumerate(steps_data, 1))

    try:
        name = str(data.get("name") or (Path(source).stem if source else "recipe"))
        seed = _coerce("seed", data.get("seed", 0), int)
        if seed < 0:  # failed once per output, where --seed refuses it
            raise ValueError(f"seed: must be 0 or more, got {seed}")
        size_value = data.get("size")
        size = None if size_value is None else _coerce("size", size_value, tuple[int, int])
        if size is not None and (size[0] < 1 or size[1] < 1):
            raise ValueError(f"size: height and width must be >= 1, got {list(size)}")
        limit = max_image_pixels()
        if size is not None and limit is not None and size[0] * size[1] > limit:
            # 100000 x 100000 tried to allocate 30 GB per output; the same limit as the images read
            raise ValueError(f"size: {size[0]} x {size[1]} is {size[0] * size[1]:,} pixels per output, over the "
                             f"{limit:,} images may have (DATAPREP_MAX_IMAGE_PIXELS)")
        variants = _coerce("variants", data.get("variants", 1), int)
        if not 1 <= variants <= MAX_VARIANTS:
            raise ValueError(f"variants: must be 1..{MAX_VARIANTS}, got {variants}")
        ignore_index = _coerce("ignore_index", data.get("ignore_index", DEFAULT_IGNORE_INDEX), int)
        if not 0 <= ignore_index <= 65535:
            # -1 reached cv2 as a uint8 fill, which saturates: rotated corners became class 0, silently
            raise ValueError(f"ignore_index: must be a mask value 0..65535, got {ignore_index}")
        output = build_dataclass(OutputFormat, data.get("output") or {}, "output.")
        partners = _coerce("partners", data.get("partners", "auto"), PartnerScope)
    except ValueError as exc:
        raise fail(str(exc)) from None
    needs_size = [s.op for s in steps if spec_of(s.params).needs_size]
    if needs_size and size is None:
        raise fail(f"'size' is required by {', '.join(sorted(set(needs_size)))}")
    return Recipe(steps, name, seed, size, variants, ignore_index, output, source, partners)


def _parse_step(index: int, data: Any, source: str | None) -> Step:
    if not isinstance(data, Mapping) or "op" not in data:
        raise UsageError(source, f"step {index}: must be a mapping with an 'op' field, got {data!r}")
    op = data["op"]
    spec = SPECS.get(op) if isinstance(op, str) else None
    if spec is None:
        raise UsageError(source, f"step {index}: unknown op {op!r}; known ops: {', '.join(sorted(SPECS))}")
    fields = {k: v for k, v in data.items() if k not in ("op", "p")}
    own = sorted(f.name for f in dataclasses.fields(spec.params))
    unknown = sorted(map(str, set(fields) - set(own)))
    if unknown:  # `prob: 0.5` was told "fields are swap_labels", as if a step had no probability
        fields_are = (f"op, p (its probability) and {op}'s own: {', '.join(own)}" if own
                      else f"op and p (its probability); {op} has no fields of its own")
        raise UsageError(source, f"step {index} ({op}): unknown field {unknown[0]!r}; a step's fields are {fields_are}")
    try:
        p = _coerce("p", data.get("p", spec.default_p), float)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p: must be in [0, 1], got {p}")
        params = build_dataclass(spec.params, fields)
    except ValueError as exc:
        raise UsageError(source, f"step {index} ({op}): {exc}") from None
    return Step(params, p)


def build_dataclass(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    """Instantiate dataclass `cls` from `values`, type-checking every field."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{prefix.rstrip('.') or cls.__name__}: must be a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"unknown field '{prefix}{unknown[0]}'; fields are {', '.join(sorted(known)) or '(none)'}"
        )
    kwargs = {name: _coerce(prefix + name, value, hints[name]) for name, value in values.items()}
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check:
        try:
            check()
        except ValueError as exc:
            raise ValueError(f"{prefix}{exc}") from None
    return obj


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert a YAML value to the annotated type, or raise ValueError('name: expected ...')."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{name}: unexpected value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{name}: must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(name, v, args[0]) for v in value)
        if len(value) != len(args):
            raise ValueError(f"{name}: expected a list of {len(args)} values, got {list(value)!r}")
        return tuple(_coerce(name, v, a) for v, a in zip(value, args))
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}: expected a number, got {value!r}")
        if not math.isfinite(value):  # .nan reached albumentations and failed once per output, exit 1
            raise ValueError(f"{name}: must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported field type {hint!r} for {name}")  # a bug in a params class
