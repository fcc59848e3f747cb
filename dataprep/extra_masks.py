"""Further masks of one image (BUSI's `x_mask_1.png` beside `x_mask.png`, one file per lesion) and their union.

`scan` pairs one mask per image and lists the others in the row's `extra_masks`
column: a JSON list of file names relative to the mask's own folder, so the row
stays right wherever its manifest is written. Every reader of a row's mask
(`sampleio.load_row_mask`: the Dataset, stats, augment; `masks2labels`,
`palette infer`, `kfold`, `preview`) gets the union: each extra mask's labelled
pixels (not 0, not black) are added to the main mask (`merge_mask`). A pixel
two masks label differently is refused: which one is right is not something to
guess. `tile` and `resize`, which cut or rewrite the mask files themselves,
refuse rows with extra masks: `masks2labels` merges them once, and its label
maps and manifest have none.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import io
from .errors import DataprepError

if TYPE_CHECKING:  # manifest imports io, which imports sampleio, which imports this module
    from .manifest import ManifestRow

EXTRA_MASKS_COLUMN = "extra_masks"


def encode_extra_masks(names: Sequence[str]) -> str:
    """The column's value for these file names (relative to the main mask's folder); "" for none."""
    return json.dumps(list(names), ensure_ascii=False) if names else ""


def extra_mask_paths(row: ManifestRow) -> list[str]:
    """The row's further mask files as absolute paths; [] when it has none."""
    value = row.extra.get(EXTRA_MASKS_COLUMN, "")
    if not value:
        return []
    if row.mask_str is None:
        raise DataprepError(row.image_str, f"{EXTRA_MASKS_COLUMN} is set but the row has no mask")
    try:
        names = json.loads(value)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise DataprepError(row.mask_str, f"{EXTRA_MASKS_COLUMN} must be a JSON list of file names, not {value!r}")
    folder = os.path.dirname(row.mask_str)
    paths = []
    for name in names:
        if os.path.isabs(name) or ".." in Path(name).parts:
            raise DataprepError(row.mask_str, f"{EXTRA_MASKS_COLUMN}: {name!r} is not a path inside the mask's folder")
        paths.append(os.path.join(folder, name))
    return paths


def refuse_extra_masks(row: ManifestRow, command: str) -> None:
    """For commands that write masks of their own: one line naming the file, instead of dropping lesions."""
    if row.extra.get(EXTRA_MASKS_COLUMN):
        raise DataprepError(row.mask_str, f"has further masks ({EXTRA_MASKS_COLUMN} column) that {command} would "
                                          "leave out; run `dataprep masks2labels` first, which merges them")


def read_row_mask(row: ManifestRow, expect: tuple[int, int] | None = None) -> np.ndarray:
    """The row's mask as stored (colours, values), its extra masks merged in; the row must have a mask."""
    assert row.mask_str is not None
    return read_mask_with_extras(row.mask_str, extra_mask_paths(row), expect=expect)


def read_mask_with_extras(path: io.PathLike, extras: Sequence[io.PathLike],
                          expect: tuple[int, int] | None = None) -> np.ndarray:
    """The mask at `path` with every extra mask's labelled pixels added (see the module's docstring)."""
    mask = io.read_mask(path, expect=expect)
    for extra_path in extras:
        mask = merge_mask(mask, io.read_mask(extra_path, expect=expect), path, extra_path)
    return mask


def merge_mask(mask: np.ndarray, extra: np.ndarray, mask_path: io.PathLike, extra_path: io.PathLike) -> np.ndarray:
    """`mask` with `extra`'s labelled pixels (not 0, not black) added; pixels both label differently are refused.

    Masks stored alike (shape, dtype) merge value by value. A binary extra mask stored otherwise (BUSI: a
    1-bit main mask read as 0/1, an RGBA extra of black and white) adds its foreground as the main mask's
    one foreground value. An alpha band that is opaque everywhere is no colour and is left out of both."""
    mask, extra = _opaque(mask, mask_path), _opaque(extra, extra_path)
    if extra.shape[:2] != mask.shape[:2]:
        raise DataprepError(extra_path, f"extra mask is {_shape(extra)} but its main mask {Path(mask_path).name} "
                                        f"is {_shape(mask)}")
    labelled = _labelled(extra)
    if not labelled.any():
        return mask
    merged = mask.copy()
    if extra.shape == mask.shape and extra.dtype == mask.dtype:
        differs = extra != mask if mask.ndim == 2 else (extra != mask).any(axis=2)
        clash = labelled & differs & _labelled(mask)
        if clash.any():
            y, x = (int(v[0]) for v in np.nonzero(clash))
            raise DataprepError(extra_path, f"{int(clash.sum())} pixels (the first at x={x}, y={y}) hold "
                                            f"{_value(extra[y, x])} here and {_value(mask[y, x])} in its main mask "
                                            f"{Path(mask_path).name}; which is right cannot be told")
        merged[labelled] = extra[labelled]
    else:
        merged[labelled] = _foreground_value(mask, extra, labelled, mask_path, extra_path)
    return merged


def _opaque(mask: np.ndarray, path: io.PathLike) -> np.ndarray:
    if mask.ndim == 3 and mask.shape[2] == 4:
        alpha = mask[:, :, 3]
        if not (alpha == np.iinfo(mask.dtype).max).all():
            raise DataprepError(path, "has transparent pixels: masks with transparency cannot be merged with "
                                      "further masks")
        return mask[:, :, :3]
    return mask


def _labelled(mask: np.ndarray) -> np.ndarray:
    return mask != 0 if mask.ndim == 2 else (mask != 0).any(axis=2)


def _distinct(mask: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """The distinct labelled values (rows of channels for colour masks)."""
    values = mask[labelled]
    return np.unique(values, axis=0) if values.ndim == 2 else np.unique(values)


def _foreground_value(mask: np.ndarray, extra: np.ndarray, extra_labelled: np.ndarray, mask_path: io.PathLike,
                      extra_path: io.PathLike) -> np.ndarray:
    """The main mask's one foreground value, for a binary extra mask stored another way."""
    extra_form = f"stored as {_shape(extra)} {extra.dtype}"
    stored = f"{extra_form}, its main mask {Path(mask_path).name} as {_shape(mask)} {mask.dtype}"
    extra_values = _distinct(extra, extra_labelled)
    if len(extra_values) > 1:
        raise DataprepError(extra_path, f"extra mask holds {len(extra_values)} classes, {stored}: save them alike")
    main_values = _distinct(mask, _labelled(mask))
    if len(main_values) > 1:
        raise DataprepError(extra_path, f"main mask {Path(mask_path).name} holds {len(main_values)} classes and "
                                        f"this extra mask is {extra_form}: save them alike")
    if len(main_values) == 1:
        return main_values[0]
    # An empty main mask: the extra's value, when it says the same thing in the main mask's form.
    grey = np.unique(np.atleast_1d(extra_values[0]))
    if len(grey) != 1 or int(grey[0]) > np.iinfo(mask.dtype).max:
        raise DataprepError(extra_path, f"extra mask is {stored}, and the main mask has no foreground to say "
                                        "which value it stands for: save them alike")
    return np.full(mask.shape[2:], grey[0], mask.dtype)


def _shape(array: np.ndarray) -> str:
    channels = f"x{array.shape[2]} channels" if array.ndim == 3 else ""
    return f"{array.shape[1]}x{array.shape[0]}{channels}"


def _value(value: np.ndarray) -> str:
    return str(tuple(int(v) for v in value)) if np.ndim(value) else str(int(value))
