"""The per-run state of a conversion: lookup tables and scratch buffers, held in one explicit object.

A `ConversionContext` is made by the batch job (`masks_to_labels`) and handed to
every conversion of the run; callers converting many masks themselves pass one
too (`mask_to_labels(..., context=ctx)`). Without one, each call builds its
tables afresh. Pickling a context (to send it to a worker process) drops its
tables and buffers: they are never shipped. A worker process resolves the
context it receives once per run, not once per chunk: a forked worker finds the
parent's own context, whose tables it shares copy-on-write; a spawned one keeps
the first copy it unpickled and builds its tables there once.
The cost of building them and what reusing them saves is measured in
`benchmarks/bench_masks2labels.py` (rows "convert only", fresh context vs reused).
"""
from __future__ import annotations

import itertools
import json
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..palette import Palette, colour_key

Remap = Mapping[int, int]


@dataclass(frozen=True)
class Table:
    """A lookup table input value -> label."""

    lut: np.ndarray
    sentinel: int  # the table's value for "not in the palette"; no class uses it


# Masks above this many pixels get fresh scratch arrays, so that one huge mask does not
# pin its memory for the rest of the run.
SCRATCH_MAX_PIXELS = 1 << 24


class ConversionContext:
    """Tables (per palette and remap) and per-thread scratch arrays that one run reuses."""

    max_tables = 4  # a colour table is 16-32 MB; a run rarely needs more than one

    def __init__(self, _token: tuple[int, int] | None = None) -> None:
        self._tables: dict[tuple[str, str], Table] = {}
        self._local = threading.local()
        # Which run's context this is, across processes: (process that made it, serial number).
        self._token = _token or (os.getpid(), next(_serials))
        _contexts[self._token] = self

    def __reduce__(self) -> tuple:
        return _context_for, (self._token,)  # the token travels; tables and buffers never do

    def _cached(self, key: tuple[str, str], build: Callable[[], Table]) -> Table:
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= self.max_tables:
                self._tables.pop(next(iter(self._tables)))
            table = self._tables[key] = build()
        return table

    def colour_table(self, palette: Palette) -> Table:
        """2^24 entries: packed colour key -> index, or the sentinel."""

        def build() -> Table:
            dtype, sentinel = _sentinel(palette)
            lut = np.full(1 << 24, sentinel, dtype)
            for colour, index in palette.colour_to_index().items():
                lut[colour_key(colour)] = index
            return Table(lut, sentinel)

        return self._cached((palette.fingerprint, "colours"), build)

    def value_table(self, palette: Palette, remap: Remap | None) -> Table:
        """65536 entries: stored index value -> index (itself unless remapped), or the sentinel."""

        def build() -> Table:
            dtype, sentinel = _sentinel(palette)
            lut = np.full(65536, sentinel, dtype)
            for v in palette.valid_values:
                lut[v] = v
            for src, dst in (remap or {}).items():
                if 0 <= src <= 65535:
                    lut[src] = dst
            return Table(lut, sentinel)

        return self._cached((palette.fingerprint, json.dumps(sorted((remap or {}).items()))), build)

    def scratch(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """A reusable array of this thread: fresh 8-24 MB temporaries per mask make the allocator hand
        memory back and fault it in again on every file, which costs as much as the conversion itself."""
        arrays = self._local.__dict__.setdefault("arrays", {})
        array = arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = arrays[name] = np.empty(shape, dtype)
        return array


_serials = itertools.count()
_contexts: "weakref.WeakValueDictionary[tuple[int, int], ConversionContext]" = weakref.WeakValueDictionary()
_received: list[ConversionContext] = []  # a worker's context of the current run, kept between its chunks


def _context_for(token: tuple[int, int]) -> ConversionContext:
    """The context a pickled one stands for in this process: in the process that made it, a fresh one (a copy
    shares nothing); in a worker, the one this run's earlier chunks used, or the parent's own when forked."""
    if token[0] == os.getpid():
        return ConversionContext()
    context = _contexts.get(token)
    if context is None:
        context = ConversionContext(token)
    _received[:] = [context]  # one run at a time: the previous run's tables can go
    return context


def _sentinel(palette: Palette) -> tuple[type[np.unsignedinteger], int]:
    """Table dtype and a value no class uses; uint16 when all 256 uint8 values are taken."""
    valid = palette.valid_values
    if palette.label_dtype == np.uint8:
        free = [v for v in range(255, -1, -1) if v not in valid]
        if free:
            return np.uint8, free[0]
    return np.uint16, next(v for v in range(65535, -1, -1) if v not in valid)


__all__ = ["ConversionContext", "SCRATCH_MAX_PIXELS", "Table"]
