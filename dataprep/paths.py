"""Path rules shared by commands: never write over or inside the inputs by accident."""
from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import UsageError
from .io import PathLike, has_extension


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


def walk_files(
    root: PathLike,
    extensions: frozenset[str],
    *,
    exclude: Sequence[str] = (),
    skip: Iterable[PathLike] = (),
) -> Iterator[str]:
    """Relative POSIX paths of the non-hidden files under `root` with one of `extensions`, sorted per folder.

    Follows symlinks without looping; `exclude` holds globs matched against the
    relative path (`bad/*` also skips the folder `bad`); `skip` holds folders
    never entered (e.g. an output folder inside the input tree).
    """
    skipped = [os.path.realpath(s) for s in skip]
    seen_dirs: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink back up the tree
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else Path(rel_dir).as_posix() + "/"
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".")
            and not _excluded(rel_dir + d + "/", exclude)
            and not any(is_within(os.path.join(dirpath, d), s) for s in skipped)
        )
        for name in sorted(filenames):
            if name.startswith(".") or not has_extension(name, extensions):
                continue
            rel = rel_dir + name
            if not _excluded(rel, exclude):
                yield rel


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel.rstrip("/"), p.rstrip("/*")) for p in patterns)
