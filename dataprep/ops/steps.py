"""Single-sample recipe steps with typed params: drawn by dataprep, applied by each engine's kernel.

`CompiledSteps.draw(rng, shape)` decides for each step whether it runs (its
`p`) and draws its params (each op's `OpSpec.draw`) from one seeded
`numpy.random.Generator`, following the shape as steps change it. The same
list feeds the CPU kernel (`apply`, albumentations' functions with explicit
params) and the DALI graph (`DaliOp.feed`), so both engines apply the very same
params; offline outputs record them, and `replay` applies them again.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .kernel import BuildContext
from .params import OpParams
from .spec import ALBUMENTATIONS, OpSpec, Shape, engine_name, spec_of

Drawn = tuple[OpParams | None, ...]  # one per step; None: the step does not run


@dataclass(frozen=True)
class _Compiled:
    spec: OpSpec
    params: Any  # StepParams
    p: float
    built: Any  # the albumentations transform(s), p=1
    ctx: BuildContext


class CompiledSteps:
    """`steps` ready to draw and apply; a step albumentations cannot run is a UsageError naming it."""

    def __init__(
        self,
        steps: Sequence[Any],
        *,
        size: tuple[int, int] | None,
        ignore_index: int = 255,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        source: str | None = None,
    ) -> None:
        self.steps = tuple(steps)
        self.size = tuple(size) if size else None
        self._args = (self.steps, self.size, ignore_index, mean, std, source)
        compiled = []
        for index, step in enumerate(self.steps, 1):
            spec = spec_of(step.params)
            if spec.albumentations is None or spec.inputs != 1:
                raise UsageError(source, f"step {index} ({step.op}): not supported by the "
                                         f"{engine_name(ALBUMENTATIONS)}")
            ctx = BuildContext(self.size, ignore_index, mean, std, source, index)
            compiled.append(_Compiled(spec, step.params, step.p, spec.albumentations(step.params, 1.0, ctx), ctx))
        self._compiled = tuple(compiled)

    def __getstate__(self) -> tuple:
        return self._args  # the builders (lambdas among them) stay behind; the receiver builds its own

    def __setstate__(self, args: tuple) -> None:
        steps, size, ignore_index, mean, std, source = args
        self.__init__(steps, size=size, ignore_index=ignore_index, mean=mean, std=std, source=source)

    def __len__(self) -> int:
        return len(self._compiled)

    def draw(self, rng: np.random.Generator, shape: Shape) -> list[tuple[OpParams | None, Shape]]:
        """(params, input shape) for each step on an input of `shape`; params None: the step does not run.

        Every step draws its coin, so a step's draws never depend on whether an earlier one ran.
        """
        out: list[tuple[OpParams | None, Shape]] = []
        shape = tuple(shape)
        for c in self._compiled:
            runs = bool(rng.random() < c.p)
            if not runs:
                out.append((None, shape))
                continue
            drawn = c.spec.draw(c.params, rng, shape, self.size)
            out.append((drawn, shape))
            shape = tuple(c.spec.output_shape(c.params, shape, self.size, drawn))
        return out

    def apply(self, image: np.ndarray, mask: np.ndarray, drawn: Sequence[OpParams | None]) -> tuple[np.ndarray, np.ndarray]:
        """The steps with params `drawn` (as `draw` gives them, or read back from a record). Pure."""
        if len(drawn) != len(self._compiled):
            raise ValueError(f"{len(drawn)} drawn params for {len(self._compiled)} steps")
        for c, d in zip(self._compiled, drawn):
            if d is None:
                continue
            image, mask = c.spec.kernel(c.params, d, image, mask, c.built, c.ctx)
            if image.ndim == 2:
                image = image[:, :, None]
        return image, mask

    def run(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        """Draw, then apply: (image, mask, drawn params)."""
        drawn = tuple(d for d, _ in self.draw(rng, image.shape))
        image, mask = self.apply(image, mask, drawn)
        return image, mask, drawn

    def drawn_to_json(self, drawn: Sequence[OpParams | None]) -> list[dict[str, Any] | None]:
        return [None if d is None else d.to_dict() for d in drawn]

    def drawn_from_json(self, data: Sequence[dict[str, Any] | None]) -> Drawn:
        if len(data) != len(self._compiled):
            raise ValueError(f"{len(data)} recorded params for {len(self._compiled)} steps")
        return tuple(None if d is None else c.spec.drawn.from_dict(d) for c, d in zip(self._compiled, data))
