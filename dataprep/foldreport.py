"""The fold report (`report.json` of `dataprep kfold`): typed, with its JSON form and its computation.

Pixel fraction: a class's share of a fold's labelled pixels; presence
fraction: the share of a fold's images that contain the class. Relative
deviation: |fold - whole| / whole, None for classes absent from the whole.
Without masks (or in a dataset without classes) `classes` is None and the
per-class parts are absent.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataprepError, UsageError
from .io import PathLike

REPORT_VERSION = 1
Floats = tuple[float, ...]
Nullable = tuple[float | None, ...]


@dataclass(frozen=True)
class PixelPresence:
    """A pair of per-class (or summary) values: by pixel share and by image presence."""
    pixel: Any
    presence: Any


@dataclass(frozen=True)
class ClassBalance:
    """Class distribution of a set of images (the whole, or one validation fold)."""
    labelled_pixels: int
    pixel_fraction: Floats
    image_count: tuple[int, ...]
    presence_fraction: Floats


@dataclass(frozen=True)
class FoldEntry:
    """One validation fold: its size and, with classes, its balance and deviation from the whole."""
    fold: int
    num_samples: int
    num_groups: int | None = None  # grouped splits only
    balance: ClassBalance | None = None
    deviation: PixelPresence | None = None  # per class: Nullable pixel, Nullable presence


@dataclass(frozen=True)
class ClassNames:
    num_classes: int
    names: tuple[str, ...] | None


@dataclass(frozen=True)
class FoldReport:
    k: int
    num_samples: int
    num_groups: int | None
    size_deviation: float
    folds: tuple[FoldEntry, ...]
    mode: str = "plain"
    seed: int = 0
    group_by: str | None = None
    group_column: str | None = None
    ignore_index: int | None = None
    classes: ClassNames | None = None
    whole: ClassBalance | None = None
    max_relative_deviation: PixelPresence | None = None  # per class
    mean_max_relative_deviation: PixelPresence | None = None  # over the classes
    warnings: tuple[str, ...] = ()
    unreadable_masks: int = 0
    version: int = REPORT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the order report.json has them."""
        out: dict[str, Any] = {
            "version": self.version, "k": self.k, "mode": self.mode, "seed": self.seed, "group_by": self.group_by,
            "group_column": self.group_column, "ignore_index": self.ignore_index, "num_samples": self.num_samples,
            "num_groups": self.num_groups, "size_deviation": self.size_deviation,
            "classes": None if self.classes is None else {
                "num_classes": self.classes.num_classes,
                "names": list(self.classes.names) if self.classes.names is not None else None},
        }
        if self.classes is not None:
            out["mean_max_relative_deviation"] = _pair(self.mean_max_relative_deviation)
            out["max_relative_deviation"] = _pair(self.max_relative_deviation, list)
            out["whole"] = _balance(self.whole)
        out["folds"] = [_entry(f) for f in self.folds]
        out["warnings"] = list(self.warnings)
        out["unreadable_masks"] = self.unreadable_masks
        return out

    def to_json(self) -> str:
        from .stats import to_json

        return to_json(self.to_dict())

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any], source: PathLike | None = None) -> "FoldReport":
        """Parse report.json text (or its decoded object); DataprepError naming `source` if it is not one."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise DataprepError(source, f"not a fold report: {exc}") from None
        try:
            return _parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            raise DataprepError(source, f"not a fold report written by `dataprep kfold` ({detail})") from None


def load_fold_report(path: PathLike) -> FoldReport:
    """Read `report.json`, or the one in the folder `dataprep kfold -o` wrote."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / "report.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(path, "fold report not found (give the folder `dataprep kfold -o` wrote)") from None
    except (OSError, ValueError) as exc:
        raise DataprepError(path, f"not a fold report: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        if path.name == "report.json":  # kfold's own file, cut short or edited
            raise DataprepError(path, "not valid JSON; write the folds again with `dataprep kfold`") from None
        # Another file given for the folds (a manifest CSV): the decoder's "Expecting value" said nothing of that.
        raise UsageError(path, "not a fold report (not JSON): --splits takes the folder `dataprep kfold -o` "
                               "wrote, or the report.json in it") from None
    if isinstance(data, Mapping) and "folds" not in data and ("image" in data or "classes" in data):
        # stats.json given for the folds: "missing 'k'" and exit 1 said nothing of the mix-up
        raise UsageError(path, "is a stats.json (`dataprep stats`), not a fold report: --splits takes the folder "
                               "`dataprep kfold -o` wrote, or the report.json in it")
    return FoldReport.from_json(data, path)


# --------------------------------------------------------------------------- JSON


def _pair(p: PixelPresence | None, convert=lambda v: v) -> dict[str, Any] | None:
    return None if p is None else {"pixel": convert(p.pixel), "presence": convert(p.presence)}


def _balance(b: ClassBalance | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {"labelled_pixels": b.labelled_pixels, "pixel_fraction": list(b.pixel_fraction),
            "image_count": list(b.image_count), "presence_fraction": list(b.presence_fraction)}


def _entry(f: FoldEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"fold": f.fold, "num_samples": f.num_samples}
    if f.num_groups is not None:
        out["num_groups"] = f.num_groups
    if f.balance is not None:
        out.update(_balance(f.balance) or {})
    if f.deviation is not None:
        out["pixel_deviation"] = list(f.deviation.pixel)
        out["presence_deviation"] = list(f.deviation.presence)
    return out


def _int(value: Any, what: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value


def _num(value: Any, what: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def _list(value: Any, what: str, n: int, item, *, optional: bool = False) -> tuple:
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"{what} must be a list of {n} values")
    return tuple(item(v, what, optional=optional) for v in value)


def _str(value: Any, what: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    return value


def _parse_balance(d: Mapping[str, Any], n: int, where: str) -> ClassBalance:
    return ClassBalance(_int(d["labelled_pixels"], f"{where} labelled_pixels"),
                        _list(d["pixel_fraction"], f"{where} pixel_fraction", n, _num),
                        _list(d["image_count"], f"{where} image_count", n, _int),
                        _list(d["presence_fraction"], f"{where} presence_fraction", n, _num))


def _parse(d: Any) -> FoldReport:
    if not isinstance(d, Mapping):
        raise ValueError("not a JSON object")
    version = _int(d["version"], "version")
    if version != REPORT_VERSION:
        raise ValueError(f"version {version}, this dataprep reads version {REPORT_VERSION}")
    k = _int(d["k"], "k")
    if not isinstance(d["folds"], list) or len(d["folds"]) != k:
        raise ValueError(f"folds must be a list of k={k} entries")
    classes = n = None
    if d.get("classes") is not None:
        c = d["classes"]
        n = _int(c["num_classes"], "classes.num_classes")
        names = c.get("names")
        classes = ClassNames(n, None if names is None else _list(names, "classes.names", n, _str))
    folds = []
    for i, f in enumerate(d["folds"]):
        where = f"folds[{i}]"
        if _int(f["fold"], f"{where}.fold") != i:
            raise ValueError(f"{where}.fold must be {i}")
        balance = deviation = None
        if n is not None:
            balance = _parse_balance(f, n, where)
            deviation = PixelPresence(_list(f["pixel_deviation"], f"{where} pixel_deviation", n, _num, optional=True),
                                      _list(f["presence_deviation"], f"{where} presence_deviation", n, _num,
                                            optional=True))
        folds.append(FoldEntry(i, _int(f["num_samples"], f"{where}.num_samples"),
                               _int(f.get("num_groups"), f"{where}.num_groups", optional=True), balance, deviation))
    whole = max_dev = mean_dev = None
    if n is not None:
        whole = _parse_balance(d["whole"], n, "whole")
        m = d["max_relative_deviation"]
        max_dev = PixelPresence(_list(m["pixel"], "max_relative_deviation.pixel", n, _num, optional=True),
                                _list(m["presence"], "max_relative_deviation.presence", n, _num, optional=True))
        m = d["mean_max_relative_deviation"]
        mean_dev = PixelPresence(_num(m["pixel"], "mean_max_relative_deviation.pixel", optional=True),
                                 _num(m["presence"], "mean_max_relative_deviation.presence", optional=True))
    warnings = d.get("warnings") or []
    if not isinstance(warnings, list):
        raise ValueError("warnings must be a list")
    return FoldReport(
        k=k, num_samples=_int(d["num_samples"], "num_samples"),
        num_groups=_int(d.get("num_groups"), "num_groups", optional=True),
        size_deviation=_num(d["size_deviation"], "size_deviation"), folds=tuple(folds),
        mode=_str(d.get("mode", "plain"), "mode"), seed=_int(d.get("seed", 0), "seed"),
        group_by=_str(d.get("group_by"), "group_by", optional=True),
        group_column=_str(d.get("group_column"), "group_column", optional=True),
        ignore_index=_int(d.get("ignore_index"), "ignore_index", optional=True), classes=classes, whole=whole,
        max_relative_deviation=max_dev, mean_max_relative_deviation=mean_dev,
        warnings=tuple(_str(w, "warnings") for w in warnings),
        unreadable_masks=_int(d.get("unreadable_masks", 0), "unreadable_masks"), version=version)


# --------------------------------------------------------------------------- computation


def fold_report(pixels: np.ndarray | None, folds: np.ndarray, k: int, *, unit: np.ndarray | None = None,
                names: Sequence[str] | None = None, **settings: Any) -> FoldReport:
    """Per-fold sizes and class distributions, and their largest relative deviation from the whole.

    `pixels` is the (rows, classes) class pixel count matrix (None without
    masks); `settings` are the run's FoldReport fields (mode, seed, warnings, ...).
    """
    folds = np.asarray(folds)
    n = folds.size
    sizes = np.bincount(folds, minlength=k)
    expected = n / k
    groups = [int(np.unique(unit[folds == f]).size) if unit is not None else None for f in range(k)]
    common: dict[str, Any] = dict(k=k, num_samples=int(n),
                                  num_groups=int(np.unique(unit).size) if unit is not None else None,
                                  size_deviation=float(np.max(np.abs(sizes - expected)) / expected), **settings)
    if pixels is None or pixels.shape[1] == 0:
        return FoldReport(folds=tuple(FoldEntry(f, int(sizes[f]), groups[f]) for f in range(k)), **common)
    num_k = pixels.shape[1]
    present = pixels > 0
    whole_pixels = _fractions(pixels.sum(axis=0), pixels.sum())
    whole_presence = _fractions(present.sum(axis=0), n)
    dev_pixel = np.full((k, num_k), np.nan)
    dev_presence = np.full((k, num_k), np.nan)
    entries = []
    for f in range(k):
        sel = folds == f
        fp = _fractions(pixels[sel].sum(axis=0), pixels[sel].sum())
        fq = _fractions(present[sel].sum(axis=0), int(sel.sum()))
        dev_pixel[f] = _relative(fp, whole_pixels)
        dev_presence[f] = _relative(fq, whole_presence)
        balance = ClassBalance(int(pixels[sel].sum()), _floats(fp), tuple(int(v) for v in present[sel].sum(axis=0)),
                               _floats(fq))
        entries.append(FoldEntry(f, int(sizes[f]), groups[f], balance,
                                 PixelPresence(_nullable(dev_pixel[f]), _nullable(dev_presence[f]))))
    occurring = whole_pixels > 0
    max_pixel = np.where(occurring, np.nan_to_num(dev_pixel).max(axis=0), np.nan)
    max_presence = np.where(occurring, np.nan_to_num(dev_presence).max(axis=0), np.nan)
    return FoldReport(
        folds=tuple(entries),
        classes=ClassNames(num_k, tuple(names)[:num_k] if names is not None else None),
        whole=ClassBalance(int(pixels.sum()), _floats(whole_pixels), tuple(int(v) for v in present.sum(axis=0)),
                           _floats(whole_presence)),
        max_relative_deviation=PixelPresence(_nullable(max_pixel), _nullable(max_presence)),
        mean_max_relative_deviation=PixelPresence(
            float(np.mean(max_pixel[occurring])) if occurring.any() else None,
            float(np.mean(max_presence[occurring])) if occurring.any() else None),
        **common)


def _fractions(counts: np.ndarray, total: float) -> np.ndarray:
    counts = np.asarray(counts, np.float64)
    return counts / total if total else np.zeros_like(counts)


def _relative(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    out = np.full(whole.shape, np.nan)
    ok = whole > 0
    out[ok] = np.abs(part[ok] - whole[ok]) / whole[ok]
    return out


def _floats(a: Sequence[float] | np.ndarray) -> Floats:
    return tuple(float(v) for v in a)


def _nullable(a: np.ndarray) -> Nullable:
    return tuple(None if np.isnan(v) else float(v) for v in a)


__all__ = ["ClassBalance", "ClassNames", "FoldEntry", "FoldReport", "PixelPresence", "REPORT_VERSION",
           "fold_report", "load_fold_report"]
