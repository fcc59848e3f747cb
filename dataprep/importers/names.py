"""Class names -> training indices, for exports that name classes without numbering them (VIA, Label Studio,
labelme without a labels.txt).

The order is fixed before any image is read, never taken from the order of
first appearance: the train and val exports of one project, imported one after
the other, must number their classes alike. It comes from, first to last:
a labels file (`labels.txt`, labelme's rules: `_background_` first or implied,
`__ignore__` the ignore index), the tool's own class list where the export
carries one (VIA's attribute options), or the names found, sorted (numbers
by value: "2" before "10").
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from pathlib import Path

from .base import IGNORE, ClassSpec
from .labelme import BACKGROUND_LABEL, IGNORE_LABEL, read_labels_txt

BACKGROUND_NAMES = ("background", BACKGROUND_LABEL)


def class_index(found: Iterable[str], *, labels_file: Path | None = None,
                declared: list[str] | None = None) -> tuple[dict[str, int], list[ClassSpec], bool]:
    """(name -> index or IGNORE, the classes in index order, whether the list is closed: names outside it are
    errors). Background is index 0, under its own name when one is listed or found."""
    if labels_file is not None:
        listed, closed = read_labels_txt(labels_file), True
    elif declared:
        listed, closed = list(dict.fromkeys(declared)), True
    else:
        listed, closed = sort_names(found), False
    index: dict[str, int] = {IGNORE_LABEL: IGNORE}
    background = next((n for n in listed if n.strip().lower() in BACKGROUND_NAMES), None)
    names = [background or "background"] + [n for n in listed if n not in (background, IGNORE_LABEL)]
    for i, name in enumerate(names):
        index[name] = i
    return index, [ClassSpec(n) for n in names], closed


def sort_names(names: Iterable[str]) -> list[str]:
    """The distinct names, sorted; names that are numbers by value ("2" before "10"), before the others."""
    return sorted(set(names), key=_sort_key)


def _sort_key(name: str) -> tuple[int, float, str]:
    try:
        return 0, float(name), name
    except ValueError:
        return 1, 0.0, name


def case_variants(names: Iterable[str]) -> str | None:
    """A warning when class names differ only in case or surrounding spaces ('Butterfly', 'butterfly '): two
    classes the annotators most likely meant as one."""
    groups: dict[str, set[str]] = {}
    for name in names:
        groups.setdefault(name.strip().casefold(), set()).add(name)
    clashes = [sorted(g) for g in groups.values() if len(g) > 1]
    if not clashes:
        return None
    shown = "; ".join(" / ".join(repr(n) for n in g) for g in clashes[:3])
    return f"{len(clashes)} group(s) of class names differ only in case or spaces and are separate classes: {shown}"


def shared_names(named: Iterable[tuple[Any, str]]) -> str | None:
    """A warning when several categories (id, name) carry one name, or names that differ only in case or spaces:
    a COCO export's `dog` of ids 1 and 2 became two classes named `dog`, and a class lookup by name picks one."""
    groups: dict[str, list[tuple[Any, str]]] = {}
    for cid, name in named:
        groups.setdefault(str(name).strip().casefold(), []).append((cid, str(name)))
    clashes = [g for g in groups.values() if len(g) > 1]
    if not clashes:
        return None
    shown = "; ".join(" / ".join(f"{name!r} (id {cid})" for cid, name in g) for g in clashes[:3])
    return (f"{len(clashes)} name(s) are shared by several categories, each a class of its own: {shown}; "
            "if they are one class, give them one category in the export")
