"""Sampled params: small frozen dataclasses that round-trip through JSON.

Every op's random choices for one sample are one of these, drawn by dataprep
from a seeded `numpy.random.Generator` and handed unchanged to each engine's
kernel (albumentations' functions on the CPU, the DALI graph), and recorded
per offline output so that `dataprep.augment.replay` reproduces it.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class OpParams:
    """Base of the sampled params of an op: a small frozen dataclass that round-trips through JSON."""

    def to_dict(self) -> dict[str, Any]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:  # dataclasses.fields per call was a tenth of an offline output's bookkeeping
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))
        return {name: _jsonable(getattr(self, name)) for name in names}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpParams":
        hints = typing.get_type_hints(cls)
        # A field added since (with its default) is absent from records written before it.
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        return cls(**{f.name: _from_json(data[f.name], hints[f.name]) for f in dataclasses.fields(cls)
                      if f.name in data or f.name in required})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_PLAIN = (int, float, str, bool, type(None))


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, OpParams):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_json(value: Any, hint: Any) -> Any:
    """Rebuild tuples and nested params that JSON turned into lists and dicts."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, OpParams):
        return hint.from_dict(value)
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(v, args[0]) for v in value)
        return tuple(_from_json(v, a) for v, a in zip(value, args))
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _from_json(value, non_none[0]) if len(non_none) == 1 else value
    return value


@dataclass(frozen=True)
class NoParams(OpParams):
    """An op with no random choice but whether it runs."""


@dataclass(frozen=True)
class Seeded(OpParams):
    """Ops whose draws are whole fields (displacements, holes, noise): the seed their kernel draws them from."""

    seed: int
