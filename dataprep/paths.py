"""Path rules shared by commands: never write over or inside the inputs by accident."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import UsageError
from .io import PathLike


def is_within(path: PathLike, folder: PathLike) -> bool:
    """True when `path` is `folder` or lies below it (symlinks resolved)."""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def guard_output(output: PathLike, inputs: Iterable[PathLike], *, force: bool = False) -> Path:
    """Refuse an output that is an input, or an output folder inside an input tree, unless `force`.

    Writing derived files into the tree being read makes the next scan pick them
    up as data; overwriting an input loses it.
    """
    out = Path(output)
    for src in inputs:
        if os.path.realpath(out) == os.path.realpath(src):
            raise UsageError(out, "output would overwrite an input")
        if Path(src).is_dir() and is_within(out, src) and not force:
            raise UsageError(out, f"output is inside the input tree {src}; choose another place or pass --force")
    return out
