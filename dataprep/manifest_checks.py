"""The manifest reader's checks: the rules for ids, and what hand-edited files hold that dataprep never writes
(a spreadsheet's separators, spaces, BOMs, empty rows, float sizes, a second header row).

Kept apart from `dataprep.manifest` so that its row loop stays short; these functions import nothing of it
(it imports them), and the ones called per row run only once a row has failed the plain check.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .errors import CONTROL_CHARACTER, DataprepError

BOM = "\ufeff"
# Separators a spreadsheet writes instead of ',': Excel in locales whose decimal mark is a comma saves ';'.
_OTHER_SEPARATORS = ((";", "';'"), ("\t", "tabs"))
_DRIVE = re.compile(r"^[A-Za-z]:")
# A name holding one cannot be an id (it names output files) and is printed escaped, to keep messages one line.
# Anything any rule of `id_problem` refuses; ids that do not match (nearly all) need no closer look.
_ANY_ID_PROBLEM = re.compile(r"[\x00-\x1f\x7f\\]|^[A-Za-z]:|(?:^|/)\.{0,2}(?:/|$)")


def header_columns(path: Path, header: list[str], required: Sequence[str]) -> tuple[list[str], bool]:
    """The column names of a header row as the reader matches them, and whether its cells follow ', '.

    Names are stripped of surrounding whitespace (`id, image, ...` typed by hand: ' image' is the image column)
    and of leading byte-order marks (`utf-8-sig` takes off one; a file saved again by a tool that adds one to
    text already holding one has two). Refuses, in one line naming `path`, a header without the `required`
    columns (saying when it is separated by ';' or tabs) and a header naming a column twice.
    """
    cells = [header[0].lstrip(BOM), *header[1:]] if header else []
    names = [cell.strip() for cell in cells]
    missing = [name for name in required if name not in names]
    if missing:
        raise DataprepError(path, f"not a dataprep manifest: {_missing_reason(cells, missing, required)}")
    repeated = sorted({name for name in names if name and names.count(name) > 1})  # `,,` of a spreadsheet
    if repeated:  # its last value silently won: `id,id,...` read the second column as the ids
        raise DataprepError(path, f"header names column(s) {', '.join(map(repr, repeated))} twice; keep one")
    # Every name after the first begins with a space: the whole file is written `a, b, c`, and the space after
    # each comma is part of the separator, not of the value (else every path would start with a space).
    spaced_after_commas = len(cells) > 1 and all(cell[:1] == " " for cell in cells[1:])
    return names, spaced_after_commas


def _missing_reason(cells: list[str], missing: list[str], required: Sequence[str]) -> str:
    # A ';'- or tab-separated file reads as one cell per line: "missing every column" would not say why.
    joined = ",".join(cells)
    for separator, called in _OTHER_SEPARATORS:
        found = {part.strip() for part in joined.split(separator)}
        if separator in joined and len(found.intersection(required)) >= 2:
            return (f"its header is separated by {called}, and a manifest is comma-separated: "
                    "save it as CSV with ',' between the cells")
    return f"missing column(s) {', '.join(missing)}"


def is_blank(record: Sequence[str]) -> bool:
    """A row of empty (or whitespace) cells only: what a blank line is, as spreadsheets write it (`,,,,`)."""
    return not any(cell.strip() for cell in record)


def refuse_a_repeated_header(path: Path, line_no: int, record: Sequence[str], required: Sequence[str]) -> None:
    """Refuse a data row that is a header row again: two manifests concatenated (`cat a.csv b.csv`), the second's
    header left in the middle, perhaps with its own BOM, columns or order. Called where such a row fails (its
    `width` is no integer, a second one's `id` a duplicate) to say what the row is instead."""
    names = {cell.lstrip(BOM).strip() for cell in record}
    if all(name in names for name in required):
        raise DataprepError(path, f"line {line_no} repeats the header (manifests concatenated?); remove it")


def size_value(path: Path, line_no: int, column: str, text: str) -> int:
    """The `width` or `height` cell `text` as an int, also when it is a whole number written as a float
    (`320.0`: pandas writes an int column as floats when it holds a NaN); refused naming the value."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value: float | None = float(text)
    except ValueError:
        value = None
    if value is not None and value.is_integer():  # False for nan and inf as for 320.5
        return int(value)
    raise DataprepError(path, f"line {line_no}: {column} {text!r} must be an integer")


def id_problem(sid: str) -> str | None:
    """Why `sid` cannot name output files, or None.

    Commands build output paths from ids (`OUT/images/<id>__v0.jpg`), so an id
    must stay a relative path below the output folder: '/'-separated parts,
    none empty, '.' or '..', no backslash, drive letter or control character.
    """
    return None if _ANY_ID_PROBLEM.search(sid) is None else _id_problem_named(sid)


def _id_problem_named(sid: str) -> str | None:
    # The rules one by one, for the message.
    if CONTROL_CHARACTER.search(sid):
        return "contains a control character"
    if "\\" in sid:
        return "contains a backslash; ids use '/' between folders"
    if sid.startswith("/") or _DRIVE.match(sid):
        return "is an absolute path; ids must be relative (they name output files)"
    parts = sid.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "has an empty, '.' or '..' part; ids must stay below the output folder"
    return None
