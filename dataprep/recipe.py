"""Recipes: one YAML schema for offline augmentation and training-time transforms.

A recipe file looks like this (every field but `steps` has a default):

    name: default
    seed: 0                # offline runs: same seed + inputs -> same outputs
    size: [512, 512]       # output height, width; every output has this size
    variants: 2            # offline: outputs written per source sample
    ignore_index: 255      # mask fill for padding, rotation corners, etc.
    output: {image_format: auto, quality: 95}  # auto: jpg for 8-bit RGB/gray, png 16-bit, tif beyond
    partners: same_group   # offline mixing ops: partners share the row's fold/group (or `any`)
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
naming the file, the step and the field. Which engine runs a step
(albumentations, DALI, the offline multi-sample ops) is declared here too, so an
engine can refuse a recipe at load time instead of silently skipping a step.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from .errors import DataprepError, UsageError
from .io import PathLike
from .sample import DEFAULT_IGNORE_INDEX
from .strict_load import load_yaml

# Engines a step can run on.
ALBUMENTATIONS = "albumentations"  # CPU path of the Dataset, and single-sample offline steps
DALI = "dali"
OFFLINE = "offline"  # dataprep.augment (may need several input samples)

Range = tuple[float, float]
PartnerScope = Literal["same_group", "same_fold", "any"]


@dataclass(frozen=True)
class StepParams:
    """Base of every op's parameters. Subclasses are frozen dataclasses with typed fields."""

    op: ClassVar[str] = ""
    engines: ClassVar[frozenset[str]] = frozenset({ALBUMENTATIONS, DALI, OFFLINE})
    inputs: ClassVar[int] = 1  # samples an op consumes (mosaic: 4)
    geometric: ClassVar[bool] = False  # moves pixels, so the mask must follow

    def check(self) -> None:
        """Raise ValueError("field: reason") for values out of range."""


def _check_range(name: str, value: Range, lo: float | None = None, hi: float | None = None) -> None:
    a, b = value
    if a > b:
        raise ValueError(f"{name}: lower bound {a} is above upper bound {b}")
    if lo is not None and a < lo:
        raise ValueError(f"{name}: {a} is below the minimum {lo}")
    if hi is not None and b > hi:
        raise ValueError(f"{name}: {b} is above the maximum {hi}")


def _check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")


# --------------------------------------------------------------------------- geometric


@dataclass(frozen=True)
class RandomResizedCrop(StepParams):
    """Crop a random area (fraction `scale` of the image, aspect `ratio`) and resize it to the recipe size."""

    op: ClassVar[str] = "random_resized_crop"
    geometric: ClassVar[bool] = True
    scale: Range = (0.5, 1.0)
    ratio: Range = (3 / 4, 4 / 3)

    def check(self) -> None:
        _check_range("scale", self.scale, 0.0, 1.0)
        _check_positive("scale", self.scale[0])
        _check_range("ratio", self.ratio, 0.0)
        _check_positive("ratio", self.ratio[0])


@dataclass(frozen=True)
class RandomCrop(StepParams):
    """A random window of the recipe size; smaller inputs are padded (mask with the ignore index)."""

    op: ClassVar[str] = "random_crop"
    geometric: ClassVar[bool] = True
    pad_if_needed: bool = True
    image_fill: int = 0


@dataclass(frozen=True)
class Resize(StepParams):
    """Resize to the recipe size (image: area/linear interpolation, mask: nearest)."""

    op: ClassVar[str] = "resize"
    geometric: ClassVar[bool] = True


@dataclass(frozen=True)
class RandomScale(StepParams):
    """Scale by a random factor in `scale` (keeps aspect ratio; size changes)."""

    op: ClassVar[str] = "random_scale"
    geometric: ClassVar[bool] = True
    scale: Range = (0.75, 1.25)

    def check(self) -> None:
        _check_range("scale", self.scale, 0.0)
        _check_positive("scale", self.scale[0])


@dataclass(frozen=True)
class HorizontalFlip(StepParams):
    op: ClassVar[str] = "hflip"
    geometric: ClassVar[bool] = True


@dataclass(frozen=True)
class VerticalFlip(StepParams):
    op: ClassVar[str] = "vflip"
    geometric: ClassVar[bool] = True


@dataclass(frozen=True)
class Rotate(StepParams):
    """Rotate about the centre by an angle in `limit` degrees; corners: image `image_fill`, mask ignore."""

    op: ClassVar[str] = "rotate"
    geometric: ClassVar[bool] = True
    limit: Range = (-10.0, 10.0)
    image_fill: int = 0

    def check(self) -> None:
        _check_range("limit", self.limit, -360.0, 360.0)


@dataclass(frozen=True)
class Affine(StepParams):
    """Scale, translate (fraction of size), rotate and shear (degrees) about the centre."""

    op: ClassVar[str] = "affine"
    geometric: ClassVar[bool] = True
    scale: Range = (0.9, 1.1)
    translate: Range = (-0.0625, 0.0625)
    rotate: Range = (-15.0, 15.0)
    shear: Range = (0.0, 0.0)
    image_fill: int = 0

    def check(self) -> None:
        _check_range("scale", self.scale, 0.0)
        _check_positive("scale", self.scale[0])
        _check_range("translate", self.translate, -1.0, 1.0)
        _check_range("rotate", self.rotate, -360.0, 360.0)
        _check_range("shear", self.shear, -89.0, 89.0)


# Training-time only: their drawn params include whole displacement fields or
# noise maps, too large to record per output in an offline manifest.
ONLINE = frozenset({ALBUMENTATIONS})


@dataclass(frozen=True)
class Elastic(StepParams):
    """Elastic deformation (a random displacement field smoothed by `sigma`, scaled by `alpha` pixels)."""

    op: ClassVar[str] = "elastic"
    engines: ClassVar[frozenset[str]] = ONLINE
    geometric: ClassVar[bool] = True
    alpha: float = 40.0
    sigma: float = 6.0
    image_fill: int = 0

    def check(self) -> None:
        _check_positive("alpha", self.alpha, allow_zero=True)
        _check_positive("sigma", self.sigma)


@dataclass(frozen=True)
class GridDistortion(StepParams):
    """Stretch a `num_steps` x `num_steps` grid's cells by factors in 1 + `distort_limit`."""

    op: ClassVar[str] = "grid_distortion"
    engines: ClassVar[frozenset[str]] = ONLINE
    geometric: ClassVar[bool] = True
    num_steps: int = 5
    distort_limit: Range = (-0.3, 0.3)
    image_fill: int = 0

    def check(self) -> None:
        if self.num_steps < 1:
            raise ValueError(f"num_steps: must be >= 1, got {self.num_steps}")
        _check_range("distort_limit", self.distort_limit, -1.0, 1.0)


@dataclass(frozen=True)
class Perspective(StepParams):
    """A random perspective warp: corners moved by up to `scale` of the size; output keeps the input size."""

    op: ClassVar[str] = "perspective"
    engines: ClassVar[frozenset[str]] = ONLINE
    geometric: ClassVar[bool] = True
    scale: Range = (0.05, 0.1)
    image_fill: int = 0

    def check(self) -> None:
        _check_range("scale", self.scale, 0.0, 0.5)


@dataclass(frozen=True)
class CoarseDropout(StepParams):
    """Erase `holes` rectangles (sides a fraction of the image) to `image_fill`.

    `mask_fill`: `ignore` (the default) erases the mask there too, with the ignore
    index, so the loss skips pixels the model cannot see; `kept` leaves the mask
    as it was (the model must infer the hidden class).
    """

    op: ClassVar[str] = "coarse_dropout"
    engines: ClassVar[frozenset[str]] = ONLINE
    holes: tuple[int, int] = (1, 4)
    hole_height: Range = (0.05, 0.15)
    hole_width: Range = (0.05, 0.15)
    image_fill: int = 0
    mask_fill: Literal["ignore", "kept"] = "ignore"

    def check(self) -> None:
        if not 1 <= self.holes[0] <= self.holes[1]:
            raise ValueError(f"holes: must be 1 <= min <= max, got {list(self.holes)}")
        _check_range("hole_height", self.hole_height, 0.0, 1.0)
        _check_positive("hole_height", self.hole_height[0])
        _check_range("hole_width", self.hole_width, 0.0, 1.0)
        _check_positive("hole_width", self.hole_width[0])


@dataclass(frozen=True)
class CropNonEmpty(StepParams):
    """A crop of the recipe size around a random labelled pixel (albumentations' CropNonEmptyMaskIfExists).

    Class 0, the ignore index and `empty_classes` count as empty; a sample
    without other pixels gets a random crop. Smaller inputs are padded first
    (mask with the ignore index).
    """

    op: ClassVar[str] = "crop_non_empty"
    engines: ClassVar[frozenset[str]] = ONLINE
    geometric: ClassVar[bool] = True
    empty_classes: tuple[int, ...] = ()
    image_fill: int = 0


@dataclass(frozen=True)
class GaussianNoise(StepParams):
    """Add Gaussian noise; its standard deviation drawn from `std` (a fraction of the pixel range)."""

    op: ClassVar[str] = "gaussian_noise"
    engines: ClassVar[frozenset[str]] = frozenset({ALBUMENTATIONS, DALI})
    std: Range = (0.02, 0.08)
    mean: Range = (0.0, 0.0)
    per_channel: bool = True

    def check(self) -> None:
        _check_range("std", self.std, 0.0, 1.0)
        _check_range("mean", self.mean, -1.0, 1.0)


# --------------------------------------------------------------------------- photometric


@dataclass(frozen=True)
class ColorJitter(StepParams):
    """torchvision-style jitter: factors drawn from [1-x, 1+x]; hue as a fraction of the colour wheel."""

    op: ClassVar[str] = "color_jitter"
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.0

    def check(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            _check_positive(name, getattr(self, name), allow_zero=True)
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue: must be in [0, 0.5], got {self.hue}")


@dataclass(frozen=True)
class HueSaturationValue(StepParams):
    """Shift hue (degrees), saturation and value (in 0-255 units for uint8 images)."""

    op: ClassVar[str] = "hue_saturation_value"
    hue_shift: Range = (-20.0, 20.0)
    saturation_shift: Range = (-30.0, 30.0)
    value_shift: Range = (-20.0, 20.0)

    def check(self) -> None:
        _check_range("hue_shift", self.hue_shift, -180.0, 180.0)
        _check_range("saturation_shift", self.saturation_shift, -255.0, 255.0)
        _check_range("value_shift", self.value_shift, -255.0, 255.0)


@dataclass(frozen=True)
class BrightnessContrast(StepParams):
    """Brightness shift and contrast factor, each drawn from [-x, x] (as albumentations RandomBrightnessContrast)."""

    op: ClassVar[str] = "brightness_contrast"
    brightness: Range = (-0.2, 0.2)
    contrast: Range = (-0.2, 0.2)

    def check(self) -> None:
        _check_range("brightness", self.brightness, -1.0, 1.0)
        _check_range("contrast", self.contrast, -1.0, 1.0)


@dataclass(frozen=True)
class GaussianBlur(StepParams):
    op: ClassVar[str] = "gaussian_blur"
    sigma: Range = (0.1, 1.5)

    def check(self) -> None:
        _check_range("sigma", self.sigma, 0.0, 20.0)
        _check_positive("sigma", self.sigma[1])


@dataclass(frozen=True)
class Normalize(StepParams):
    """Scale to float and normalize per channel; mean/std (0-255 units) default to those of stats.json."""

    op: ClassVar[str] = "normalize"
    engines: ClassVar[frozenset[str]] = frozenset({ALBUMENTATIONS, DALI})
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def check(self) -> None:
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean/std: give both or neither")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"std: every value must be > 0, got {list(self.std)}")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError("mean/std: must have the same number of channels")


# --------------------------------------------------------------------------- offline multi-sample ops


@dataclass(frozen=True)
class Crop(StepParams):
    """Offline crop to the recipe size: random, or class-aware.

    `cat_max_ratio` < 1 retries (up to `max_tries`) until no single class covers
    more than that fraction of the crop (ignore excluded), as in MMSegmentation.
    `focus_classes` centres the crop on a random pixel of one of these classes
    when the sample has any. `scale` (optional) first resizes the input by a
    random factor relative to the smallest size that covers the crop, so
    [1, 2] never pads and zooms in up to 2x whatever the input size.
    """

    op: ClassVar[str] = "crop"
    engines: ClassVar[frozenset[str]] = frozenset({OFFLINE})
    geometric: ClassVar[bool] = True
    cat_max_ratio: float = 1.0
    max_tries: int = 10
    focus_classes: tuple[int, ...] = ()
    pad_if_needed: bool = True
    image_fill: int = 0
    scale: Range | None = None

    def check(self) -> None:
        if not 0.0 < self.cat_max_ratio <= 1.0:
            raise ValueError(f"cat_max_ratio: must be in (0, 1], got {self.cat_max_ratio}")
        if self.max_tries < 1:
            raise ValueError(f"max_tries: must be >= 1, got {self.max_tries}")
        if self.scale is not None:
            _check_range("scale", self.scale, 0.0)
            _check_positive("scale", self.scale[0])


@dataclass(frozen=True)
class Mosaic(StepParams):
    """Four samples on one canvas of the recipe size around a random centre."""

    op: ClassVar[str] = "mosaic"
    engines: ClassVar[frozenset[str]] = frozenset({OFFLINE})
    inputs: ClassVar[int] = 4
    geometric: ClassVar[bool] = True
    center: Range = (0.25, 0.75)  # centre position as a fraction of the canvas
    scale: Range = (0.5, 1.0)  # each quadrant's source scale relative to fitting the canvas
    image_fill: int = 114

    def check(self) -> None:
        _check_range("center", self.center, 0.0, 1.0)
        _check_range("scale", self.scale, 0.0)
        _check_positive("scale", self.scale[0])


@dataclass(frozen=True)
class CopyPaste(StepParams):
    """Paste objects (connected components) of `classes` from a donor sample into the target."""

    op: ClassVar[str] = "copy_paste"
    engines: ClassVar[frozenset[str]] = frozenset({OFFLINE})
    inputs: ClassVar[int] = 2
    classes: tuple[int, ...] = ()  # empty: any non-ignore class but the donor's largest
    max_objects: int = 3
    min_area: int = 16  # pixels; smaller components are noise
    max_area_fraction: float = 0.25  # components larger than this fraction of the image are background
    scale: Range = (0.75, 1.25)
    flip: bool = True
    blend_sigma: float = 1.0  # feathers image edges; 0 = hard paste

    def check(self) -> None:
        if self.max_objects < 1:
            raise ValueError(f"max_objects: must be >= 1, got {self.max_objects}")
        _check_range("scale", self.scale, 0.0)
        _check_positive("scale", self.scale[0])
        _check_positive("blend_sigma", self.blend_sigma, allow_zero=True)
        if not 0.0 < self.max_area_fraction <= 1.0:
            raise ValueError(f"max_area_fraction: must be in (0, 1], got {self.max_area_fraction}")


@dataclass(frozen=True)
class Mixup(StepParams):
    """Blend two images with lambda ~ Beta(alpha, alpha); the mask is the dominant sample's."""

    op: ClassVar[str] = "mixup"
    engines: ClassVar[frozenset[str]] = frozenset({OFFLINE})
    inputs: ClassVar[int] = 2
    alpha: float = 0.4
    soft_labels: bool = False  # also write per-class weights as .npz

    def check(self) -> None:
        _check_positive("alpha", self.alpha)


@dataclass(frozen=True)
class CutMix(StepParams):
    """Paste a random box of a second sample into image and mask; box area ~ 1 - Beta(alpha, alpha)."""

    op: ClassVar[str] = "cutmix"
    engines: ClassVar[frozenset[str]] = frozenset({OFFLINE})
    inputs: ClassVar[int] = 2
    geometric: ClassVar[bool] = True
    alpha: float = 1.0

    def check(self) -> None:
        _check_positive("alpha", self.alpha)


STEP_TYPES: dict[str, type[StepParams]] = {
    cls.op: cls
    for cls in (
        RandomResizedCrop, RandomCrop, Resize, RandomScale, HorizontalFlip, VerticalFlip, Rotate, Affine,
        Elastic, GridDistortion, Perspective, CoarseDropout, CropNonEmpty, GaussianNoise,
        ColorJitter, HueSaturationValue, BrightnessContrast, GaussianBlur, Normalize,
        Crop, Mosaic, CopyPaste, Mixup, CutMix,
    )
}
# Flips are coin tosses by nature; everything else runs every time unless `p` says otherwise.
_DEFAULT_P = {"hflip": 0.5, "vflip": 0.5}


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
    # rows of the same `fold` and `group` (each where the manifest has the column),
    # of the same `fold` only, or any row. Drawing across folds leaks validation pixels.
    partners: PartnerScope = "same_group"

    def unsupported(self, engine: str) -> list[str]:
        """`step N (op)` for each step that `engine` cannot run."""
        return [f"step {i} ({s.op})" for i, s in enumerate(self.steps, 1) if engine not in s.params.engines]

    def require_engine(self, engine: str) -> None:
        bad = self.unsupported(engine)
        if bad:
            raise UsageError(self.source, f"the {engine} engine cannot run {', '.join(bad)}")

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
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise UsageError(path, f"not valid YAML: {str(exc).splitlines()[0]}") from None


def load_recipe(path: PathLike) -> Recipe:
    """Read and validate a recipe YAML file."""
    path = Path(path)
    data = load_yaml_file(path, not_found=UsageError(path, "recipe not found"))
    return parse_recipe(data, source=str(path))


def parse_recipe(data: Any, source: str | None = None) -> Recipe:
    """Validate a recipe given as a mapping (e.g. parsed YAML)."""

    def fail(reason: str) -> DataprepError:
        return UsageError(source, reason)

    if not isinstance(data, Mapping):
        raise fail("a recipe must be a mapping with a 'steps' list")
    unknown = sorted(set(data) - _RECIPE_FIELDS)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(map(repr, unknown))}; expected {sorted(_RECIPE_FIELDS)}")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list):
        raise fail("'steps' must be a list of steps, each a mapping with an 'op'")
    steps = tuple(_parse_step(i, s, source) for i, s in enumerate(steps_data, 1))

    try:
        name = str(data.get("name") or (Path(source).stem if source else "recipe"))
        seed = _coerce("seed", data.get("seed", 0), int)
        size_value = data.get("size")
        size = None if size_value is None else _coerce("size", size_value, tuple[int, int])
        if size is not None and (size[0] < 1 or size[1] < 1):
            raise ValueError(f"size: height and width must be >= 1, got {list(size)}")
        variants = _coerce("variants", data.get("variants", 1), int)
        if not 1 <= variants <= MAX_VARIANTS:
            raise ValueError(f"variants: must be 1..{MAX_VARIANTS}, got {variants}")
        ignore_index = _coerce("ignore_index", data.get("ignore_index", DEFAULT_IGNORE_INDEX), int)
        output = build_dataclass(OutputFormat, data.get("output") or {}, "output.")
        partners = _coerce("partners", data.get("partners", "same_group"), PartnerScope)
    except ValueError as exc:
        raise fail(str(exc)) from None
    needs_size = [s.op for s in steps if s.op in _NEEDS_SIZE]
    if needs_size and size is None:
        raise fail(f"'size' is required by {', '.join(sorted(set(needs_size)))}")
    return Recipe(steps, name, seed, size, variants, ignore_index, output, source, partners)


_NEEDS_SIZE = {"random_resized_crop", "random_crop", "resize", "crop", "mosaic"}


def _parse_step(index: int, data: Any, source: str | None) -> Step:
    if not isinstance(data, Mapping) or "op" not in data:
        raise UsageError(source, f"step {index}: must be a mapping with an 'op' field, got {data!r}")
    op = data["op"]
    cls = STEP_TYPES.get(op)
    if cls is None:
        raise UsageError(source, f"step {index}: unknown op {op!r}; known ops: {', '.join(sorted(STEP_TYPES))}")
    fields = {k: v for k, v in data.items() if k not in ("op", "p")}
    try:
        p = _coerce("p", data.get("p", _DEFAULT_P.get(op, 1.0)), float)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p: must be in [0, 1], got {p}")
        params = build_dataclass(cls, fields)
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
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported field type {hint!r} for {name}")  # a bug in a params class
