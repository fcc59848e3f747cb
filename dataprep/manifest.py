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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import IO

from .errors import DataprepError
from .io import PathLike, atomic_open
from .manifest_checks import header_columns, id_problem, is_blank, refuse_a_repeated_header, size_value

REQUIRED_COLUMNS = ("id", "image", "mask", "width", "height")
# What `dataprep resize` records: the image's size before its first resize.
ORIGINAL_SIZE_COLUMNS = ("original_width", "original_height")


def _fold_of(extra: dict[str, str]) -> int | None:
    value = extra.get("fold")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # a free-form `fold` column of another tool: readers that need folds refuse it


class ManifestRow:
    """One sample: id, image and mask paths (absolute), displayed size, free metadata.

    Immutable and compact: paths are held as strings (a `Path` object costs
    hundreds of bytes, and kfold holds 100k rows) and `image` / `mask` build a
    `Path` on access; `image_str` / `mask_str` give the strings without one.
    `fold` is the `fold` column as an int (None when absent, empty or not an
    integer), parsed once when the row is made. `extra` is never changed in place
    (`with_extra` makes a new row), so rows may share one dict.
    """

    __slots__ = ("id", "image_str", "mask_str", "width", "height", "extra", "fold")
    id: str
    image_str: str
    mask_str: str | None
    width: int
    height: int
    extra: dict[str, str]
    fold: int | None

    def __init__(self, id: str, image: PathLike, mask: PathLike | None, width: int, height: int,
                 extra: dict[str, str] | None = None) -> None:
        extra = {} if extra is None else extra
        _init(self, id, _path_str(image), _path_str(mask) if mask is not None else None, width, height, extra)

    @property
    def image(self) -> Path:
        return Path(self.image_str)

    @property
    def mask(self) -> Path | None:
        return Path(self.mask_str) if self.mask_str is not None else None

    def with_extra(self, **values: object) -> "ManifestRow":
        return _row(self.id, self.image_str, self.mask_str, self.width, self.height,
                    {**self.extra, **{k: str(v) for k, v in values.items()}})

    def with_columns(self, extra: dict[str, str]) -> "ManifestRow":
        """A copy whose other columns are `extra` (taken as it is, so rows may share it: never change it)."""
        return _row(self.id, self.image_str, self.mask_str, self.width, self.height, extra)

    def replace(self, **changes: object) -> "ManifestRow":
        """A copy with some fields changed (the fields of the constructor)."""
        fields = {"id": self.id, "image": self.image_str, "mask": self.mask_str, "width": self.width,
                  "height": self.height, "extra": self.extra, **changes}
        return ManifestRow(**fields)  # type: ignore[arg-type]

    def _key(self) -> tuple:
        return self.id, self.image_str, self.mask_str, self.width, self.height, self.extra

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ManifestRow):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.id, self.image_str, self.mask_str, self.width, self.height))

    def __repr__(self) -> str:
        return (f"ManifestRow(id={self.id!r}, image={self.image!r}, mask={self.mask!r}, width={self.width!r}, "
                f"height={self.height!r}, extra={self.extra!r})")

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple:
        return _row, (self.id, self.image_str, self.mask_str, self.width, self.height, self.extra)


_set = object.__setattr__


def _init(row: ManifestRow, sid: str, image: str, mask: str | None, width: int, height: int,
          extra: dict[str, str]) -> None:
    _set(row, "id", sid)
    _set(row, "image_str", image)
    _set(row, "mask_str", mask)
    _set(row, "width", width)
    _set(row, "height", height)
    _set(row, "extra", extra)
    _set(row, "fold", _fold_of(extra))


def _row(sid: str, image: str, mask: str | None, width: int, height: int, extra: dict[str, str]) -> ManifestRow:
    """A row from strings already in `Path`'s normal form (no re-parsing)."""
    row = ManifestRow.__new__(ManifestRow)
    _init(row, sid, image, mask, width, height, extra)
    return row


def _path_str(value: PathLike) -> str:
    # Path's normal form ('a//b' -> 'a/b'), so equal paths give equal rows; a string
    # already in it (what scan and read_manifest make) is kept without parsing it.
    if isinstance(value, Path):
        return os.fspath(value)
    text = os.fspath(value)
    if os.sep == "/" and text and text != "." and not text.startswith("./") and "//" not in text \
            and "/./" not in text and not text.endswith(("/", "/.")):
        return text
    return str(Path(text))


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


def require_rows(manifest: Manifest) -> Manifest:
    """`manifest`, refused when it holds a header and no rows: the one check of every command that reads one
    (some wrote empty outputs, an empty submission CSV among them, and exited 0)."""
    if not manifest.rows:
        raise DataprepError(manifest.path, "manifest has no rows")
    return manifest


def _read_rows(path: Path, base: Path, f: IO[str]) -> Manifest:
    # csv.reader with column indices: DictReader's dict per line was a fifth of reading 100k rows.
    header_reader = csv.reader(f)
    header = next(header_reader, [])
    names, spaced_after_commas = header_columns(path, header, REQUIRED_COLUMNS)
    header_lines = header_reader.line_num
    # The rows from where the header ended; `a, b, c` files drop the space after each comma.
    reader = csv.reader(f, skipinitialspace=spaced_after_commas)
    index = {name: i for i, name in enumerate(names)}
    i_id, i_image, i_mask, i_width, i_height = (index[c] for c in REQUIRED_COLUMNS)
    extra_index = [(name, i) for name, i in index.items() if name not in REQUIRED_COLUMNS]
    full = len(names)
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    resolve = functools.partial(_resolve, str(base), folders={})  # folder cache of this read only
    next_line = header_lines + 1
    for rec in reader:
        # The physical line the row starts on: blank lines and line breaks in quoted cells count, as in an editor.
        line_no, next_line = next_line, header_lines + reader.line_num + 1
        if not rec:
            continue  # a blank line
        if len(rec) != full:
            if len(rec) < full:  # short lines read as empty values
                rec = rec + [""] * (full - len(rec))
            elif any(rec[full:]):  # empty surplus cells (`a,b,c,1,1,`) lose nothing; others would be dropped
                refuse_a_repeated_header(path, line_no, rec, REQUIRED_COLUMNS)  # of a manifest with more columns
                raise DataprepError(path, f"line {line_no} has {len(rec)} fields, the header {full}: "
                                          "a comma inside an unquoted value? quote it")
        sid = rec[i_id]
        if not sid or sid.isspace():
            if is_blank(rec):
                continue  # `,,,,` (a spreadsheet's empty row) or spaces alone: a blank line
            # an id of spaces names output files ('  .png') and reads as no id in a spreadsheet
            raise DataprepError(path, f"line {line_no}: {'empty id' if not sid else f'id {sid!r} is blank'}")
        if sid in seen:
            refuse_a_repeated_header(path, line_no, rec, REQUIRED_COLUMNS)
            raise DataprepError(path, f"line {line_no}: duplicate id {sid!r}")
        seen.add(sid)
        bad = id_problem(sid)
        if bad:
            raise DataprepError(path, f"line {line_no}: id {sid!r} {bad}")
        image = rec[i_image]
        if not image:
            raise DataprepError(path, f"line {line_no}: empty image path for id {sid!r}")
        try:
            width, height = int(rec[i_width]), int(rec[i_height])
        except ValueError:  # the slow way, for the message or a float size (`320.0`)
            refuse_a_repeated_header(path, line_no, rec, REQUIRED_COLUMNS)
            width = size_value(path, line_no, "width", rec[i_width])
            height = size_value(path, line_no, "height", rec[i_height])
        if width < 1 or height < 1:
            raise DataprepError(path, f"line {line_no}: width/height must be positive, got {width}x{height}")
        mask = rec[i_mask]
        for value in (image, mask):
            if "\\" in value and not os.path.exists(resolve(value)):
                # `images\x.jpg`: one file name with a backslash in it on Linux and macOS, found nowhere
                raise DataprepError(path, f"line {line_no}: path {value!r} uses backslashes (written on Windows?) "
                                          "and is no file here; write it with '/'")
        rows.append(_row(sid, resolve(image), resolve(mask) if mask else None, width, height,
                         {name: rec[i] for name, i in extra_index}))
    return Manifest(rows, path)


def write_manifest(manifest: Manifest | Sequence[ManifestRow], path: PathLike, columns: Iterable[str] = ()) -> Path:
    """Write atomically, paths relative to the manifest's folder; extra columns keep first-seen order."""
    path = Path(path)
    rows = manifest.rows if isinstance(manifest, Manifest) else list(manifest)
    extra = extra_columns(rows, columns)
    with atomic_open(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*REQUIRED_COLUMNS, *extra])
        _write_rows(writer, rows, str(Path(os.path.abspath(path.parent))), extra)
    return path


def extra_columns(rows: Sequence[ManifestRow], first: Iterable[str] = ()) -> list[str]:
    """The extra columns `write_manifest` writes for `rows`: `first`, then the others in first-seen order."""
    extra: dict[str, None] = dict.fromkeys(first)
    for row in rows:
        for key in row.extra:
            extra.setdefault(key, None)
    return list(extra)


def render_rows(rows: Sequence[ManifestRow], folder: PathLike, columns: Sequence[str]) -> list[str]:
    """Each row's CSV line (newline included) as `write_manifest` writes it into `folder` with extra `columns`.

    For writers of many manifests of the same rows (kfold's 2k + 1): a row is formatted once per folder,
    then `write_lines` writes any selection of the lines.
    """
    lines: list[str] = []
    _write_rows(csv.writer(_LineSink(lines.append), lineterminator="\n"), rows,
                str(Path(os.path.abspath(folder))), list(columns))
    return lines


def write_lines(path: PathLike, columns: Sequence[str], lines: Iterable[str]) -> Path:
    """Write a manifest from `render_rows` lines (rendered for this file's folder and `columns`), atomically."""
    path = Path(path)
    with atomic_open(path, "w") as f:
        csv.writer(f, lineterminator="\n").writerow([*REQUIRED_COLUMNS, *columns])
        f.writelines(lines)
    return path


class _LineSink:
    # csv.writer calls write() once per row with the whole line.
    __slots__ = ("write",)

    def __init__(self, write) -> None:
        self.write = write


def _write_rows(writer, rows: Iterable[ManifestRow], folder: str, extra: list[str]) -> None:
    # A plain writer with lists: DictWriter checks every row's keys against the header
    # (a third of writing kfold's 11 manifests at 100k rows). A required column also
    # named as an extra one gets the required value there too, as a dict row would.
    shadowed = [k for k in extra if k in REQUIRED_COLUMNS]
    folders: dict[str, str] = {}  # folder cache of this write only
    for row in rows:
        values = [row.id, _relative(folder, row.image_str, folders),
                  _relative(folder, row.mask_str, folders) if row.mask_str else "", row.width, row.height]
        if shadowed:
            required = dict(zip(REQUIRED_COLUMNS, values))
            values += [required[k] if k in required else row.extra.get(k, "") for k in extra]
        else:
            get = row.extra.get
            values += [get(k, "") for k in extra]
        writer.writerow(values)


def _resolve(base: str, value: str, folders: dict[str, str] | None = None) -> str:
    # Path's normal form without a Path per row: the folder part is normalized once
    # per folder (`folders`, one read's cache), as datasets hold many files in few folders.
    # A plain "folder/name" is looked up by its folder as written, with one string method: os.path.split's
    # Python code was a fifth of reading 100k rows. Anything else (no folder, '//', '.', '..') takes the long way.
    head, _, name = value.rpartition(os.sep)
    if folders is not None and head and not head.endswith(os.sep) and name not in ("", ".", "..") \
            and not os.altsep:
        prefix = folders.get(head)
        if prefix is None:
            resolved = _resolve_folder(base, head)
            prefix = folders[head] = resolved if resolved.endswith(os.sep) else resolved + os.sep
        return prefix + name
    folder, name = os.path.split(value)
    if name in (".", ".."):
        return _resolve_slow(base, value)
    resolved = _resolve_folder(base, folder)
    return os.path.join(resolved, name) if name else resolved


def _resolve_slow(base: str, value: str) -> str:
    p = Path(value)
    return str(p) if p.is_absolute() else os.path.normpath(Path(base) / p)


def _resolve_folder(base: str, folder: str) -> str:
    p = Path(folder)
    return str(p) if p.is_absolute() else os.path.normpath(Path(base) / p)


def relative_path(folder: str, target: str, folders: dict[str, str] | None = None) -> str:
    """`target` (absolute) relative to the absolute `folder`, with '/' separators, as manifests store it.

    `folders`: a cache the caller keeps for one pass over many rows (one relpath per folder)."""
    return _relative(folder, target, {} if folders is None else folders)


def _relative(base: str, target: str, folders: dict[str, str]) -> str:
    # POSIX separators so a manifest written on one OS reads on another.
    # Datasets hold many files in few folders: one relpath per folder, not per file (relpath was two thirds of
    # writing kfold's 11 manifests at 100k rows), looked up by the folder as written with one string method.
    head, _, name = target.rpartition(os.sep)
    prefix = folders.get(head) if name not in ("", ".", "..") else None
    if prefix is not None:
        return prefix + name
    folder, name = os.path.split(target)
    if name in ("", ".", "..") or not os.path.isabs(folder):
        folder, name = os.path.split(os.path.abspath(target))
        head = None  # not a plain "folder/name": never cached
    rel = Path(os.path.relpath(folder, base)).as_posix()
    prefix = "" if rel == "." else rel + "/"
    if head and not os.altsep:  # "" would also be the head of a bare relative name
        folders[head] = prefix
    return prefix + name
