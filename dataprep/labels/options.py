"""What the user says about values the palette does not map plainly: `unknown` modes and `remap`s."""
from __future__ import annotations

import numpy as np

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import DataprepError, UsageError
from ..io import PathLike
from ..palette import Colour, Palette
from ..palette.model import PALETTE_REMAPS
from ..strict_load import load_yaml, yaml_error, yaml_reason
from .context import Remap

Unknown = Literal["error", "ignore", "nearest"]
UNKNOWN_MODES: tuple[str, ...] = ("error", "ignore", "nearest")
UnknownKey = Colour | int  # a colour (colour masks) or a stored value (index masks)


class UnknownValuesError(DataprepError):
    """A mask holds colours or values that the palette does not know."""

    def __init__(self, path: PathLike | None, reason: str, counts: Mapping[UnknownKey, int] | None = None) -> None:
        super().__init__(path, reason)
        self.counts = dict(counts or {})

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.counts))


def _check_unknown(unknown: str) -> None:
    if unknown not in UNKNOWN_MODES:
        raise UsageError(None, f"unknown must be one of {', '.join(UNKNOWN_MODES)}, not {unknown!r}")


ALL_GREY_HINT = "; all grey: an index mask saved as RGB?"


IDS_NOT_INDICES = "so every value of these masks is an id, not an index"
CLASS_PLUS_ONE = "as masks that store class + 1 with 0 as no-data hold it (LoveDA, MMSeg's reduce_zero_label)"


def _unknown_error(found: Mapping[UnknownKey, int], palette: Palette, *, colours: bool) -> UnknownValuesError:
    total = sum(found.values())
    what = "colour" if colours else "value"
    listed = ", ".join(f"{format_unknown(k)} x {n:,}" for k, n in _top(found, 5))
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    hint = "use --unknown ignore|nearest or add them to the palette" if colours else \
        "use --remap, --unknown ignore or add them to the palette"
    ids = palette.ids()
    if not colours and set(found) == {65535}:
        # 0/65535 masks (a binary mask saved as 16-bit) were called an instance map, 255 x 256 + 255.
        if palette.num_classes <= 2:
            hint = "65535 is the white of a binary mask saved as 16-bit (0/65535): --remap 65535:1"
        else:
            hint = f"65535 is the usual no-data value of 16-bit masks: --remap 65535:{palette.ignore_index} (ignore)"
    elif not colours and (instance_hint := _instance_map_hint(found, palette)):
        hint = instance_hint
    elif not colours and ids and all(k in ids for k in found):
        # Cityscapes labelIds given with the cityscapes palette: --unknown ignore would keep the
        # values that happen to be valid indices, each the wrong class.
        example = " (Cityscapes labelIds)" if palette.name == "cityscapes" else ""
        hint = f"they are ids of palette {palette.name!r}{example}, {IDS_NOT_INDICES}: use --remap ids"
    elif not colours and set(found) == {palette.num_classes} and palette.num_classes != palette.ignore_index:
        # --unknown ignore, the plain hint, kept every other value one class off and made the last class ignore.
        k = palette.num_classes
        hint = (f"{k} is one past the last class ({k - 1}): a class the palette lacks (add it), a void value "
                f"(SegNet CamVid's 11: --remap {k}:{palette.ignore_index}), or {CLASS_PLUS_ONE}: --remap reduce-zero")
    levels = {k[0] for k in found if k[0] == k[1] == k[2]} if colours else set()  # type: ignore[index]
    # Index masks saved as RGB give several grey levels; a few black pixels alone say nothing.
    if colours and len(levels) == len(found) and len(levels) >= 2 and not levels <= {0, 255}:
        hint += ALL_GREY_HINT
    plural = "s" if len(found) > 1 else ""
    reason = (f"{total:,} pixels in {len(found)} {what}{plural} not in palette {palette.name!r}: "
              f"{listed}{more}; {hint}")
    return UnknownValuesError(None, reason, found)


def _instance_map_hint(found: Mapping[UnknownKey, int], palette: Palette) -> str | None:
    """Most unknown pixels >= 256 whose values // 1000 or // 256 are class values of the palette: an instance map
    (Cityscapes instanceIds, MOTS: class x 1000 + object; KITTI, Mapillary: class x 256 + object). --unknown
    ignore kept the small values as wrong classes and ignored every object."""
    big = {int(k): n for k, n in found.items() if isinstance(k, (int, np.integer)) and int(k) >= 256}
    if sum(big.values()) < 0.5 * sum(found.values()):
        return None
    known = set(palette.valid_values) | set(palette.ids())
    fits = [(base, what) for base, what in ((1000, "class x 1000 + object: Cityscapes instanceIds, MOTS"),
                                            (256, "class x 256 + object: KITTI, Mapillary"))
            if all(v >= base and v // base in known for v in big)]  # every object of a class, none of class 0
    if not fits:
        return None
    example = max(big, key=big.get)
    readings = " or ".join(f"{example // base} x {base} + {example % base} ({what})" for base, what in fits)
    base = fits[0][0]
    return (f"values such as {example} read as {readings}: an instance map, not a class mask; pair the class masks "
            f"instead, or map each class's range with --remap {example // base * base}-"
            f"{example // base * base + base - 1}:CLASS,...")


def _top(found: Mapping[UnknownKey, int], n: int) -> list[tuple[UnknownKey, int]]:
    return sorted(found.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


def format_unknown(key: UnknownKey) -> str:
    return "({},{},{})".format(*key) if isinstance(key, tuple) else f"value {key}"


NAMED_REMAPS = PALETTE_REMAPS  # what a palette file may record as its remap too


def parse_remap(spec: str | PathLike | Mapping[Any, Any] | None) -> dict[int, int] | Literal["ids", "reduce-zero"] | None:
    """`--remap`: "ids", "reduce-zero", a JSON/YAML file {old: new}, or inline "old:new,old:new"."""
    if spec is None or spec == "":
        return None
    if isinstance(spec, Mapping):
        items = spec.items()
    else:
        text = os.fspath(spec)
        if text in NAMED_REMAPS:
            return text  # type: ignore[return-value]
        path = Path(text)
        if path.is_file():
            try:
                data = load_yaml(path.read_text(encoding="utf-8"))  # JSON is YAML too
            except (OSError, yaml_error()) as exc:  # --remap's argument is at fault: a usage error (exit 2)
                reason = str(exc) if isinstance(exc, OSError) else yaml_reason(exc)
                raise UsageError(path, f"unreadable remap file: {reason}") from None
            if not isinstance(data, Mapping):
                raise UsageError(path, "remap file must hold a mapping {old value: new index}")
            items = data.items()
        else:
            pairs = [p.strip() for p in text.split(",") if p.strip()]
            if not pairs or any(p.count(":") != 1 for p in pairs):
                raise UsageError(None, f"--remap must be 'ids', 'reduce-zero', a JSON/YAML file or 'old:new,...', "
                                       f"not {text!r}")
            items = [tuple(p.split(":")) for p in pairs]  # type: ignore[misc]
    remap: dict[int, int] = {}
    try:
        for key, value in items:
            span = _RANGE.match(str(key).strip())
            if span and int(span[1]) > int(span[2]):
                raise UsageError(None, f"--remap range {key} runs backwards: write it LOW-HIGH")
            olds = range(int(span[1]), int(span[2]) + 1) if span else (int(key),)
            new = int(value)
            # '1:2,1:3' kept the last silently, where a file's duplicate key is refused
            twice = next((old for old in olds if old in remap and remap[old] != new), None)
            if twice is not None:
                raise UsageError(None, f"--remap maps {twice} twice ({remap[twice]} and {new}): give each value once")
            remap.update(dict.fromkeys(olds, new))
    except (TypeError, ValueError):
        raise UsageError(None, f"--remap values must be integers or ranges LOW-HIGH: {spec!r}") from None
    return remap


# "1-65535": every value from 1 to 65535 (object ids of instance masks -> one foreground class); "-1" stays -1
_RANGE = re.compile(r"^(\d+)-(\d+)$")


def _check_remap(remap: Remap | Literal["ids", "reduce-zero"] | None, palette: Palette) -> dict[int, int] | None:
    if remap == "reduce-zero":
        # MMSegmentation's reduce_zero_label (ADE20K, COCO-Stuff): 0 means "not labelled", class k is stored as k + 1.
        shifted = {c.index + 1: c.index for c in palette.classes if c.index != palette.ignore_index}
        return {**shifted, 0: palette.ignore_index}
    if remap == "ids":
        ids = palette.ids()
        if not ids:
            raise UsageError(None, f"--remap ids: palette {palette.name!r} declares no ids")
        return ids
    if not remap:
        return None
    bad = sorted(v for v in remap.values() if v not in palette.valid_values)
    if bad:
        raise UsageError(None, f"--remap targets {bad} are neither class indices of palette {palette.name!r} "
                               f"nor its ignore index {palette.ignore_index}")
    return dict(remap)
