"""Path rules shared by commands: never write over or inside the inputs by accident.

Every command that writes checks its output against the files it reads with
one `Inputs` object: an output file that is an input is always refused; an
output folder that holds input files, or lies inside the tree the images and
masks come from (the next scan would take the outputs for data), is refused
unless --force. Writers build each final path with `inside`, which refuses a
path that leaves the output folder (an id with '..' or an absolute id).
"""
from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import DataprepError, UsageError
from .extra_masks import EXTRA_MASKS_COLUMN, extra_mask_paths
from .folder_settings import check_owner, folder_owner
from .io import PathLike, has_extension, remove_stale_temps


def is_within(path: PathLike, folder: PathLike) -> bool:
    """True when `path` is `folder` or lies below it (symlinks resolved)."""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def inside(folder: PathLike, *parts: str) -> Path:
    """`folder / parts...`, refusing a result that is not strictly below `folder` (also through symlinks: an
    `OUT/images/city` linked to the dataset's own folder would put the outputs among the inputs)."""
    base = os.path.abspath(folder)
    path = os.path.normpath(os.path.join(base, *parts))
    prefix = base.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        raise DataprepError(path, f"would be written outside the output folder {folder}; refused")
    if not _real_dir_within(os.path.dirname(path), base):
        raise DataprepError(path, f"would be written outside the output folder {folder} (a symlink leads to "
                                  f"{os.path.realpath(os.path.dirname(path))}); refused")
    return Path(path)


def real_file_path(path: PathLike) -> str:
    """The file's path with its folder's symlinks resolved (cached per folder): what a record of the file
    compares, so that `data/` spelled through a link to it names the same file."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(_real_folder(folder), name)


def file_stamp(path: PathLike) -> tuple[str, int, int] | None:
    """(real path, size, mtime_ns) of a file, what a rerun compares to tell it unchanged; None when it cannot
    be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return real_file_path(path), st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)


@functools.lru_cache(maxsize=4096)
def _real_dir_within(directory: str, base: str) -> bool:
    # Cached: a tiler writes thousands of files into a few folders, and realpath costs a syscall per part.
    return is_within(directory, base)


def _key(path: PathLike, cache: dict[str, str]) -> str:
    """The file's real path, for comparing files: one realpath per folder, not per file (manifests list
    thousands of files in a few folders), looked up by the folder as written, so most files cost one split.

    Symlinks resolve before '..', as the system resolves them when the file is opened.
    """
    p = os.fspath(path)
    folder, sep, name = p.rpartition(os.sep)
    if name in ("", ".", "..") or os.altsep:  # not a file name, or Windows' two separators: resolved whole
        return os.path.realpath(p)
    folder = (folder or os.sep) if sep else os.curdir
    if not folder.startswith(os.sep):  # relative to the working folder as it is now
        folder = os.path.join(os.getcwd(), folder)
    real = cache.get(folder)
    if real is None:
        real = os.path.realpath(folder)
        real = cache[folder] = real if real.endswith(os.sep) else real + os.sep  # joined by + below
    return real + name


# A dataset's files sit at most this many folders below its root (images/<city>/<sequence>/x.jpg).
_TREE_DEPTH = 3


def _trees(paths: Iterable[PathLike]) -> list[str]:
    """The folder the files come from: their common folder, or none when the files are spread over
    unrelated places (whose common folder, e.g. a home folder, is no dataset)."""
    dirs = sorted({os.path.realpath(os.path.dirname(os.path.abspath(p))) for p in paths})
    if not dirs:
        return []
    root = os.path.commonpath(dirs)
    depth = root.rstrip(os.sep).count(os.sep)
    if os.path.dirname(root) != root and all(d.count(os.sep) - depth <= _TREE_DEPTH for d in dirs):
        return [root]
    return []


_UNNAMED = frozenset({"", ".", ".."})
_FOLDER_RECORDS = frozenset({"manifest.csv", "palette.json"})  # what a command's output folder lists its files in


class Inputs:
    """The files one run reads, to check where it may write.

    `trees` are folders the outputs must not go into (the images' and masks'
    common folders for augment: outputs there would be scanned as data).
    """

    def __init__(self, files: Iterable[PathLike] = (), trees: Iterable[PathLike] = (),
                 folders: Iterable[PathLike] = ()) -> None:
        self._real: dict[str, str] = {}
        self._given = list(files)  # resolved when first needed: kfold checks 2k + 2 outputs against 200k inputs
        self._given_folders = list(folders)
        self.trees = [os.path.realpath(t) for t in trees]

    @functools.cached_property
    def files(self) -> set[str]:
        """Each input file's real path (its folder's real path and its name as given)."""
        return {_key(f, self._real) for f in self._given}

    @functools.cached_property
    def folders(self) -> set[str]:
        # Folders read as a whole (a folder of masks) count as holding inputs too.
        return {os.path.dirname(f) for f in self.files} | {os.path.realpath(f) for f in self._given_folders}

    def with_files(self, files: Iterable[PathLike]) -> "Inputs":
        """These inputs and `files` (the same trees and folders)."""
        more = Inputs([*self._given, *files], folders=self._given_folders)
        more.trees = self.trees
        return more

    @classmethod
    def of_manifest(cls, manifest, *, trees: bool = False) -> "Inputs":
        """The manifest file, its images and masks; with `trees`, the images' and masks' common folders too."""
        images = [r.image_str for r in manifest.rows]  # strings: a Path per row was most of this at 100k rows
        masks = [r.mask_str for r in manifest.rows if r.mask_str is not None]
        masks += [p for r in manifest.rows if r.extra.get(EXTRA_MASKS_COLUMN) for p in extra_mask_paths(r)]
        files = [*images, *masks, *([manifest.path] if manifest.path is not None else [])]
        roots = [*_trees(images), *_trees(masks)] if trees else []
        return cls(files, roots)

    def holds(self, path: PathLike) -> bool:
        return _key(path, self._real) in self.files

    def guard_file(self, output: PathLike) -> Path:
        """Refuse an output file that is one of the inputs (exit 2); --force never allows it."""
        out = Path(output)
        if self.holds(out):
            raise UsageError(out, "output would overwrite an input of this run; choose another output file")
        if out.is_dir():
            raise UsageError(out, "is a folder; give a file name")
        owner = folder_owner(out.parent) if out.name in _FOLDER_RECORDS and out.is_file() else None
        if owner is not None:  # `scan -o tiles/manifest.csv` lost the tile offsets stitch needs
            raise UsageError(out, f"is the {out.name} of the outputs `dataprep {owner}` wrote beside it; "
                                  "choose another file")
        remove_stale_temps(out.parent, out.name)  # of a killed earlier run
        return out

    def guard_folder(self, output: PathLike, *, force: bool = False, command: str | None = None) -> Path:
        """Refuse an output folder that holds input files or lies inside an input tree, unless `force`; with
        `command`, also one holding another command's outputs (see `check_owner`), whatever `force` says.

        Also removes temporary files left there by an earlier run that was killed.
        """
        out = Path(output)
        if out.exists() and not out.is_dir():
            raise UsageError(out, "output must be a folder")
        if not force:
            for folder in sorted(self.folders):
                if is_within(folder, out):
                    example = next((f for f in sorted(self.files) if os.path.dirname(f) == folder), folder)
                    raise UsageError(out, f"output folder holds input files of this run (e.g. {example}); "
                                          "choose another folder or pass --force")
            for tree in self.trees:
                if is_within(out, tree):
                    raise UsageError(out, f"output folder is inside {tree}, where the images or masks come from "
                                          "(the next scan would take the outputs for data); choose another folder "
                                          "or pass --force")
        remove_stale_temps(out)
        if command is not None and out.is_dir():
            check_owner(out, command)
        _real_dir_within.cache_clear()  # a run of a notebook's earlier cell may have seen these folders unlinked
        _real_folder.cache_clear()
        return out

    def guard_foreign(self, output: PathLike, marker: str, extensions: frozenset[str], *, force: bool = False) -> None:
        """Refuse an existing folder holding files of `extensions` that no run of this command wrote.

        `marker` is the file the command leaves in its output folders; without it
        the files there are someone else's (the original masks) and would be replaced.
        """
        out = Path(output)
        if force or not out.is_dir() or (out / marker).exists():
            return
        for name in sorted(os.listdir(out)):
            path = out / name
            if not name.startswith(".") and (path.is_dir() or has_extension(name, extensions)):
                raise UsageError(out, f"already holds files this command did not write (e.g. {path}); they could "
                                      "be overwritten: choose an empty or new folder, or pass --force")

    def check_written(self, paths: Iterable[PathLike]) -> None:
        """Refuse writing any of `paths` that is an input (even with --force)."""
        paths = list(paths)
        keys = self.files if "files" in self.__dict__ else self._keys_named_like(paths)
        for p in paths:
            if _key(p, self._real) in keys:
                raise UsageError(p, "output would overwrite an input of this run; choose another output folder")

    def _keys_named_like(self, paths: Sequence[PathLike]) -> set[str]:
        """The keys of the inputs that can equal one of `paths`' keys: a key ends with the name as given
        (only its folder is resolved), so only inputs of the same name; those without a plain name
        ('.', '..') resolve whole, and are always among them."""
        names = {os.fspath(p).rpartition(os.sep)[2] for p in paths}
        if os.altsep or names & _UNNAMED:
            return self.files
        return {_key(f, self._real) for f in self._given
                if (name := os.fspath(f).rpartition(os.sep)[2]) in names or name in _UNNAMED}


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
