"""The op spec: everything dataprep knows about one recipe op, in one registered object.

A spec holds the op's params type (schema and validation), its default `p`,
whether it needs the recipe `size`, how many samples it consumes, whether it
moves pixels (`geometric`) or changes image values only (`colour_only`), whether
it reads the bands as R, G and B (`needs_rgb`), its output shape, and one
implementation per engine it runs on. The engines an op claims are exactly the
implementations it has, so a recipe check (`Recipe.require_engine`) and the
engine compiling the step cannot disagree.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .params import NoParams, OpParams

# Engines a step can run on.
ALBUMENTATIONS = "albumentations"  # CPU path of the Dataset, and single-sample offline steps
DALI = "dali"
OFFLINE = "offline"  # dataprep.augment (may need several input samples)
# Engines as messages name them: users pick the loader's `engine="cpu"` (`--engine cpu`), never "albumentations".
ENGINE_NAMES = {ALBUMENTATIONS: "cpu engine (albumentations)", DALI: "dali engine", OFFLINE: "offline engine"}


def engine_name(engine: str) -> str:
    """`cpu engine (albumentations)` for "albumentations" (and "cpu"), `dali engine`, `offline engine`."""
    return ENGINE_NAMES.get(ALBUMENTATIONS if engine == "cpu" else engine, f"{engine} engine")

Range = tuple[float, float]
Shape = tuple[int, ...]
Size = tuple[int, int]


@dataclass(frozen=True)
class StepParams:
    """Base of every op's recipe fields. Subclasses are frozen dataclasses with typed fields.

    The class attributes below are filled in from the op's spec when it is
    registered (read-only views for code that holds a params object).
    """

    op: ClassVar[str] = ""
    engines: ClassVar[frozenset[str]] = frozenset()
    inputs: ClassVar[int] = 1
    geometric: ClassVar[bool] = False
    needs_rgb: ClassVar[bool] = False

    def check(self) -> None:
        """Raise ValueError("field: reason") for values out of range."""


@dataclass(frozen=True)
class OfflineImpl:
    """An op of dataprep.augment: `module`'s sampler, pure apply and params type (imported when run offline).

    `uses_partners(params)`: whether the partners gave any pixel (None: they always do).
    """

    module: str
    sample: str
    apply: str
    params: str
    uses_partners: Callable[[Any], bool] | None = None

    def load(self, name: str, inputs: int) -> Any:
        from ..augment.base import Op

        module = importlib.import_module(self.module)
        return Op(name, inputs, getattr(module, self.sample), getattr(module, self.apply),
                  getattr(module, self.params), uses_partners=self.uses_partners)


def same_shape(params: StepParams, shape: Shape, size: Size | None, drawn: Mapping[str, Any] | None) -> Shape:
    return shape


def recipe_size(params: StepParams, shape: Shape, size: Size | None, drawn: Mapping[str, Any] | None) -> Shape:
    assert size is not None, "a spec with needs_size=True is only built with a size"
    return (int(size[0]), int(size[1]), *shape[2:])


OutputShape = Callable[[StepParams, Shape, "Size | None", Any], Shape]


def no_draw(params: StepParams, rng: Any, shape: Shape, size: Size | None) -> NoParams:
    return NoParams()


def run_built(params: StepParams, drawn: Any, image: Any, mask: Any, built: Any, ctx: Any) -> tuple[Any, Any]:
    """The kernel of an op without random params: its albumentations transform, called as it is."""
    out = built(image=image, mask=mask)
    return out["image"], out["mask"]


@dataclass(frozen=True)
class OpSpec:
    """One op. `albumentations`: a builder `(params, p, ctx) -> transform(s)`; `dali`: a `DaliOp`
    subclass; `offline`: True to run offline through the albumentations kernel, or an
    `OfflineImpl` naming a dataprep.augment op (multi-sample and offline-only ops).

    Single-sample ops also say how their random params are drawn and applied, so that every
    engine gets the same typed params: `draw(params, rng, shape, size) -> drawn` (a `drawn`
    instance, from a `numpy.random.Generator`; it may look at the input's shape only), and
    `kernel(params, drawn, image, mask, built, ctx) -> (image, mask)` applies them on the CPU with
    albumentations' functions (`built`: what the `albumentations` builder made, with p=1).

    `output_shape(params, shape, size, drawn)`: the (H, W, C) after the op on an input of
    `shape`; `drawn` is the op's drawn params (only shape-changing random ops read it).
    """

    params: type[StepParams]
    default_p: float = 1.0
    needs_size: bool = False
    inputs: int = 1
    geometric: bool = False
    colour_only: bool = False  # changes image values only (photometric), never geometry or the mask
    # Reads the bands as R, G and B (hue, saturation): runs on 3-band images (and on gray ones, where
    # albumentations and the DALI graph leave the colour terms out), refused at load time on any other
    # band count. Ops that treat every band alike (brightness/contrast, blur, noise, normalize) say False.
    needs_rgb: bool = False
    # The pixel types its albumentations kernel takes (None: every one dataprep reads); others are refused at
    # load time, before a sample is drawn: OpenCV's HSV conversion takes 8-bit and float images only.
    cpu_pixel_types: tuple[str, ...] | None = None
    output_shape: OutputShape = same_shape
    albumentations: Callable[..., Any] | None = None
    dali: type | None = None
    offline: bool | OfflineImpl = False
    draw: Callable[..., Any] = no_draw
    drawn: type[OpParams] = NoParams
    kernel: Callable[..., tuple[Any, Any]] = run_built

    @property
    def name(self) -> str:
        return self.params.op

    @property
    def engines(self) -> frozenset[str]:
        claimed = {ALBUMENTATIONS: self.albumentations is not None, DALI: self.dali is not None,
                   OFFLINE: bool(self.offline)}
        return frozenset(engine for engine, has in claimed.items() if has)

    def check(self) -> None:
        if not self.name:
            raise ValueError(f"{self.params.__name__}: no op name")
        if self.offline is True and self.albumentations is None:
            raise ValueError(f"{self.name}: runs offline through albumentations but has no albumentations builder")
        if self.inputs > 1 and (self.albumentations is not None or self.dali is not None):
            raise ValueError(f"{self.name}: a {self.inputs}-input op runs offline only")
        if self.geometric and self.colour_only:
            raise ValueError(f"{self.name}: cannot be both geometric and colour-only")
        if self.needs_rgb and not self.colour_only:
            raise ValueError(f"{self.name}: an op that needs RGB images changes image values only (colour_only)")


SPECS: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add `spec` to the registry (and give its params class the spec's read-only attributes)."""
    spec.check()
    if spec.name in SPECS:
        raise ValueError(f"op {spec.name!r} registered twice")
    SPECS[spec.name] = spec
    cls = spec.params
    cls.engines = spec.engines
    cls.inputs = spec.inputs
    cls.geometric = spec.geometric
    cls.needs_rgb = spec.needs_rgb
    return spec


def spec_of(params: StepParams | str) -> OpSpec:
    return SPECS[params if isinstance(params, str) else params.op]


# --------------------------------------------------------------------------- validation helpers


def check_range(name: str, value: Range, lo: float | None = None, hi: float | None = None) -> None:
    a, b = value
    if a > b:
        raise ValueError(f"{name}: lower bound {a} is above upper bound {b}")
    if lo is not None and a < lo:
        raise ValueError(f"{name}: {a} is below the minimum {lo}")
    if hi is not None and b > hi:
        raise ValueError(f"{name}: {b} is above the maximum {hi}")


def check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")
