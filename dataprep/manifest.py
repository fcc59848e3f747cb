"""The manifest: the CSV contract every command reads and writes.

Format (UTF-8 CSV with a header row):

    id,image,mask,width,height[,any other columns...]

- `id`      unique sample id (the image path relative to the scanned root, without extension)
- `image`   image path, relative to the folder the manifest lives in
- `mask`    mask path, relative likewise; empty for unlabelled images
- `width`, `height`  image size in pixels as displayed (EXIF orientation applied)
- any further column is free metadata kept through every command
  (e.g. `fold`, `group`, `source_ids`, `ops`, `params`, `seed`).

In memory, paths are absolute; they are made relative again when written, so a
manifest can be written anywhere and still point at the same files.
"""
from __future__ import annotations

import csv
import functools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from .errors import DataprepError
from .io import PathLike, atomic_open

REQUIRED_COLUMNS = ("id", "image", "mask", "width", "height")
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class ManifestRow:
    id: str
    image: Path
    mask: Path | None
    width: int
    height: int
    extra: dict[str, str] = field(default_factory=dict)

    def with_extra(self, **values: object) -> "ManifestRow":
        return replace(self, extra={**self.extra, **{k: str(v) for k, v in values.items()}})


@dataclass
class Manifest:
    rows: list[ManifestRow]
    path: Path | None = None  # where it was read from, for messages

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ManifestRow]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> ManifestRow:
        return self.rows[index]

    @property
    def extra_columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            for key in row.extra:
                seen.setdefault(key, None)
        return list(seen)

    def filter(self, keep) -> "Manifest":
        return Manifest([r for r in self.rows if keep(r)], self.path)


def read_manifest(path: PathLike) -> Manifest:
    """Load a manifest; relative paths are resolved against the manifest's folder."""
    path = Path(path)
    base = Path(os.path.abspath(path.parent))
    try:
        # utf-8-sig: spreadsheet programs (Excel) save UTF-8 CSVs with a byte-order mark.
        f = open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataprepError(path, "manifest not found") from None
    except IsADirectoryError:
        raise DataprepError(path, "is a folder, not a manifest CSV") from None
    except OSError as exc:
        raise DataprepError(path, f"unreadable: {exc.strerror or exc}") from None
    try:
        with f:
            return _read_rows(path, base, f)
    except UnicodeDecodeError as exc:
        raise DataprepError(path, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                                  "save the manifest as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DataprepError(path, f"not a readable CSV: {exc}") from None


def _read_rows(path: Path, base: Path, f: IO[str]) -> Manifest:
    reader = csv.DictReader(f)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataprepError(path, f"not a dataprep manifest: missing column(s) {', '.join(missing)}")
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    resolve = functools.partial(_resolve, str(base), folders={})  # folder cache of this read only
    for line_no, rec in enumerate(reader, start=2):
        sid = rec["id"]
        if not sid:
            raise DataprepError(path, f"line {line_no}: empty id")
        if sid in seen:
            raise DataprepError(path, f"line {line_no}: duplicate id {sid!r}")
        seen.add(sid)
        bad = id_problem(sid)
        if bad:
            raise DataprepError(path, f"line {line_no}: id {sid!r} {bad}")
        if not rec["image"]:
            raise DataprepError(path, f"line {line_no}: empty image path for id {sid!r}")
        try:
            width, height = int(rec["width"]), int(rec["height"])
        except (TypeError, ValueError):
            raise DataprepError(path, f"line {line_no}: width/height must be integers") from None
        if width < 1 or height < 1:
            raise DataprepError(path, f"line {line_no}: width/height must be positive, got {width}x{height}")
        extra = {k: (v if v is not None else "") for k, v in rec.items() if k not in REQUIRED_COLUMNS and k is not None}
        rows.append(
            ManifestRow(
                id=sid,
                image=resolve(rec["image"]),
                mask=resolve(rec["mask"]) if rec["mask"] else None,
                width=width,
                height=height,
                extra=extra,
            )
        )
    return Manifest(rows, path)


def id_problem(sid: str) -> str | None:
    """Why `sid` cannot name output files, or None.

    Commands build output paths from ids (`OUT/images/<id>__v0.jpg`), so an id
    must stay a relative path below the output folder: '/'-separated parts,
    none empty, '.' or '..', no backslash, drive letter or control character.
    """
    if _CONTROL.search(sid):
        return "contains a control character"
    if "\\" in sid:
        return "contains a backslash; ids use '/' between folders"
    if sid.startswith("/") or _DRIVE.match(sid):
        return "is an absolute path; ids must be relative (they name output files)"
    parts = sid.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "has an empty, '.' or '..' part; ids must stay below the output folder"
    return None


def write_manifest(manifest: Manifest | Sequence[ManifestRow], path: PathLike, columns: Iterable[str] = ()) -> Path:
    """Write atomically, paths relative to the manifest's folder; extra columns keep first-seen order."""
    path = Path(path)
    rows = manifest.rows if isinstance(manifest, Manifest) else list(manifest)
    base = Path(os.path.abspath(path.parent))
    extra: dict[str, None] = dict.fromkeys(columns)
    for row in rows:
        for key in row.extra:
            extra.setdefault(key, None)
    fieldnames = [*REQUIRED_COLUMNS, *extra]
    # A plain writer with lists: DictWriter checks every row's keys against the header
    # (a third of writing kfold's 11 manifests at 100k rows). A required column also
    # named as an extra one gets the required value there too, as a dict row would.
    shadowed = [k for k in extra if k in REQUIRED_COLUMNS]
    folder = str(base)
    relative = functools.partial(_relative, folder, {})  # folder cache of this write only
    with atomic_open(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(fieldnames)
        for row in rows:
            values = [row.id, relative(row.image), relative(row.mask) if row.mask else "",
                      row.width, row.height]
            if shadowed:
                required = dict(zip(REQUIRED_COLUMNS, values))
                values += [required[k] if k in required else row.extra.get(k, "") for k in extra]
            else:
                values += [row.extra.get(k, "") for k in extra]
            writer.writerow(values)
    return path


def _resolve(base: str, value: str, folders: dict[str, str] | None = None) -> Path:
    # One Path per path (each Path() parses its string again): the folder part is
    # normalized once per folder (`folders`, one read's cache), as datasets hold many files in few folders.
    folder, name = os.path.split(value)
    if name in (".", ".."):
        return _resolve_slow(base, value)
    resolved = folders.get(folder) if folders is not None else None
    if resolved is None:
        resolved = _resolve_folder(base, folder)
        if folders is not None:
            folders[folder] = resolved
    return Path(os.path.join(resolved, name)) if name else Path(resolved)


def _resolve_slow(base: str, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else Path(os.path.normpath(Path(base) / p))


def _resolve_folder(base: str, folder: str) -> str:
    p = Path(folder)
    return str(p) if p.is_absolute() else os.path.normpath(Path(base) / p)


def _relative(base: str, folders: dict[str, str], target: Path) -> str:
    # POSIX separators so a manifest written on one OS reads on another.
    folder, name = os.path.split(os.fspath(target))
    if name in ("", ".", "..") or not os.path.isabs(folder):
        folder, name = os.path.split(os.path.abspath(target))
    rel = folders.get(folder)
    if rel is None:
        # Datasets hold many files in few folders: one relpath per folder, not per file
        # (relpath was two thirds of writing kfold's 11 manifests at 100k rows).
        rel = folders[folder] = Path(os.path.relpath(folder, base)).as_posix()
    return name if rel == "." else f"{rel}/{name}"


