"""Telling classes from artefacts in colour masks, and matching colours to the built-in palettes.

Artefacts are colours that only exist because of JPEG ringing or anti-aliased
edges. Colours are visited most pixels first; a colour is an artefact of a class
that has ARTEFACT_RATIO times its pixels when it lies within NEAR_DISTANCE of that
class, or within the blend distance of the line between two classes with
BLEND_RATIO times its pixels (a mix of the two at their border). Lossy masks (JPEG
files, or more than LOSSY_COLOURS distinct colours) scatter every class over a
cloud of near colours, so there colours are first pooled within LOSSY_RADIUS of a
more frequent one, and pools under MIN_CLASS_SHARE of all pixels are not classes.
Colours of a matching built-in palette are never artefacts.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from .builtins import BUILTIN_PALETTES, builtin_palette
from .inferred import InferredColour, InferredPalette
from .keys import unpack_key
from .model import Colour, EntryKind, Palette, PaletteClass

ARTEFACT_RATIO = 10
BLEND_RATIO = 1.5  # a blend is rarer than both colours it mixes
NEAR_DISTANCE = 30.0
BLEND_DISTANCE = 8.0
LOSSY_BLEND_DISTANCE = 40.0
LOSSY_COLOURS = 1000
LOSSY_RADIUS = 32.0
MIN_CLASS_SHARE = 5e-4
BUILTIN_SHARE = 0.9  # a built-in palette is suggested when its colours cover this share of the pixels
BUILTIN_CLASSES = 2  # ... and the masks use at least this many of its class (not ignore) colours
BUILTIN_TOLERANCE = 16.0  # how far a lossy class colour may be from the built-in colour it is snapped to
MAX_CANDIDATES = 4096  # colours beyond this many (the rarest) go to their nearest class directly
MAX_ARTEFACT_ENTRIES = 256  # artefact colours written to the palette file (the rest: --unknown nearest)


def _infer_colours(keys: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                   name: str, jpeg: bool, solid: np.ndarray | None = None) -> InferredPalette:
    rgb = np.stack([keys & 255, (keys >> 8) & 255, (keys >> 16) & 255], axis=1).astype(np.float64)
    suggestion, known = _best_builtin(rgb, pixels, 0.0)
    lossy = jpeg or len(keys) > LOSSY_COLOURS
    exact = _matches(rgb, known, 0.0) >= 0
    if not jpeg and solid is not None:
        # Lossless masks: a colour that fills any 3x3 block is drawn, not a blend; never an artefact.
        exact = exact | (solid > 0)
    owner = _find_artefacts(rgb, pixels, exact, lossy)  # -1: a class of its own; else the row of its class
    class_rows = np.flatnonzero(owner < 0)
    totals = pixels.astype(np.float64).copy()
    np.add.at(totals, owner[owner >= 0], pixels[owner >= 0])
    colour_of = {int(i): unpack_key(keys[i]) for i in class_rows}
    names: dict[int, tuple[str, bool]] = {}
    if suggestion is None and lossy:
        # Classes of lossy masks are rarely exact; match them to a built-in within a tolerance.
        suggestion, known = _best_builtin(rgb[class_rows], totals[class_rows], BUILTIN_TOLERANCE)
        if suggestion is not None:
            known_list = list(known)
            for i, k in zip(class_rows, _matches(rgb[class_rows], known, BUILTIN_TOLERANCE)):
                if k >= 0 and known_list[k] not in colour_of.values():
                    colour_of[int(i)] = known_list[k]
    for i in class_rows:
        names[int(i)] = known.get(colour_of[int(i)], (None, False))  # type: ignore[assignment]
    rows = _class_order(class_rows.tolist(), totals, colour_of, names)
    index_of: dict[int, int] = {}
    classes: list[PaletteClass] = []
    next_index = 0
    for i in rows:
        label, ignored = names[i]
        if ignored:
            index_of[i] = ignore_index
        else:
            next_index += next_index == ignore_index
            index_of[i] = next_index
            next_index += 1
        classes.append(PaletteClass(label or f"class_{index_of[i]}", colour_of[i], index_of[i], ignored))
    colours = [InferredColour(unpack_key(keys[i]), None, int(pixels[i]), int(images[i]),
                              index_of[i] if owner[i] < 0 else index_of[int(owner[i])], bool(owner[i] >= 0))
               for i in range(len(keys))]
    by_index = {c.index: c.name for c in classes}
    taken = {c.color for c in classes}
    artefact_entries = [PaletteClass(by_index[c.index], c.color, c.index, c.index == ignore_index,
                                     kind=EntryKind.ARTEFACT)
                        for c in colours if c.artefact and c.color not in taken][:MAX_ARTEFACT_ENTRIES]
    palette = Palette(name, tuple(classes + artefact_entries), ignore_index)
    blends = [] if lossy or solid is None else _resampling_blends(rgb, totals, class_rows, solid)
    return InferredPalette(palette, colours, "colour", 0, 0, suggestion=suggestion, lossy=lossy,
                           resampling_blends=[unpack_key(keys[i]) for i in blends])


def _class_order(rows: list[int], totals: np.ndarray, colour_of: dict[int, Colour],
                 names: dict[int, tuple[str | None, bool]]) -> list[int]:
    """Class rows in index order: black first (background, by the masks' near-universal convention), then most
    pixels first. Two classes, black and white, are named background and foreground. Without the black rule the
    index of a binary mask's background would follow its pixel share, and a train and a test set inferred apart
    could swap their classes."""
    black = [r for r in rows if _near(colour_of[r], (0, 0, 0)) and names[r][0] is None]
    rows = sorted(rows, key=lambda r: (r not in black[:1], -totals[r]))
    if len(rows) == 2 and black and _near(colour_of[rows[1]], (255, 255, 255)) and names[rows[1]][0] is None:
        names[rows[0]], names[rows[1]] = ("background", False), ("foreground", False)
    return rows


def _near(colour: Colour, target: Colour) -> bool:
    return float(np.linalg.norm(np.subtract(colour, target))) <= LOSSY_RADIUS


def _resampling_blends(rgb: np.ndarray, totals: np.ndarray, class_rows: np.ndarray, solid: np.ndarray) -> list[int]:
    """Class rows that look made by resampling a mask: never a 3x3 block of their own, and an exact mix of 3 or 4
    more frequent classes (what bilinear or area interpolation makes of a 2x2 neighbourhood).

    Kept as classes (a thin drawn class never fills a 3x3 block either): the caller says so instead.
    """
    found = []
    ranked = sorted(class_rows.tolist(), key=lambda r: -totals[r])
    for pos, i in enumerate(ranked):
        if solid[i] > 0:
            continue
        bigger = [r for r in ranked[:pos] if totals[r] >= BLEND_RATIO * totals[i]][:8]
        if len(bigger) >= 3 and _mix_of(rgb[i], rgb[bigger]):
            found.append(i)
    return found


def _mix_of(colour: np.ndarray, candidates: np.ndarray) -> bool:
    """Whether `colour` is, within BLEND_DISTANCE, a convex mix of 3 or 4 of `candidates`."""
    for k in (3, 4):
        for idx in combinations(range(len(candidates)), k):
            corners = candidates[list(idx)]
            # Least squares on the weights with their sum held at 1 (a heavily weighted extra row).
            system = np.vstack([corners.T, np.full(k, 1e3)])
            weights = np.linalg.lstsq(system, np.r_[colour, 1e3], rcond=None)[0]
            if (weights >= -1e-3).all() and np.linalg.norm(corners.T @ weights - colour) <= BLEND_DISTANCE:
                return True
    return False


def _distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))


def _find_artefacts(rgb: np.ndarray, pixels: np.ndarray, exact: np.ndarray, lossy: bool) -> np.ndarray:
    """For each colour (most pixels first): -1 if it is a class, else the row of the class it is an artefact of."""
    n = len(rgb)
    head = min(n, MAX_CANDIDATES)
    pool = np.arange(n)
    if lossy:  # pool each colour into a more frequent one nearby
        centres: list[int] = []
        for i in range(head):
            if centres and not exact[i]:
                rows = np.asarray(centres)
                d = _distances(rgb[i : i + 1], rgb[rows])[0]
                if d.min() <= LOSSY_RADIUS:
                    pool[i] = rows[d.argmin()]
                    continue
            centres.append(i)
        if n > head:
            rows = np.asarray(centres)
            pool[head:] = rows[_distances(rgb[head:], rgb[rows]).argmin(axis=1)]
    pooled = np.bincount(pool, weights=pixels, minlength=n)
    candidates = [int(i) for i in np.unique(pool)]
    candidates.sort(key=lambda i: (-pooled[i], i))
    min_pixels = MIN_CLASS_SHARE * pixels.sum() if lossy else 0
    blend_distance = LOSSY_BLEND_DISTANCE if lossy else BLEND_DISTANCE
    owner_of_pool: dict[int, int] = {}
    classes: list[int] = []
    for i in candidates[:head]:
        if classes and not exact[i]:
            rows = np.asarray(classes)
            d = _distances(rgb[i : i + 1], rgb[rows])[0]
            if pooled[i] < min_pixels:
                owner_of_pool[i] = int(rows[d.argmin()])
                continue
            big = pooled[rows] >= ARTEFACT_RATIO * pooled[i]
            if big.any() and d[big].min() <= NEAR_DISTANCE:
                owner_of_pool[i] = int(rows[big][d[big].argmin()])
                continue
            bigger = pooled[rows] >= BLEND_RATIO * pooled[i]
            blend = _blend_of(rgb[i], rgb[rows[bigger]], blend_distance) if bigger.sum() >= 2 else None
            if blend is not None:
                owner_of_pool[i] = int(rows[bigger][blend])
                continue
        classes.append(i)
    rows = np.asarray(classes)
    for i in candidates[head:]:
        owner_of_pool[i] = int(rows[_distances(rgb[i : i + 1], rgb[rows])[0].argmin()])
    owner = np.full(n, -1, np.int64)
    for i in range(n):
        p = int(pool[i])
        if p in owner_of_pool:
            owner[i] = owner_of_pool[p]
        elif p != i:
            owner[i] = p
    return owner


def _blend_of(colour: np.ndarray, candidates: np.ndarray, tolerance: float) -> int | None:
    """If `colour` lies between two candidate colours, the position of the nearer one."""
    a_idx, b_idx = np.triu_indices(len(candidates), 1)
    a, b = candidates[a_idx], candidates[b_idx]
    ab = b - a
    t = ((colour - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-9)
    inside = (t > 0.0) & (t < 1.0)
    dist = np.sqrt((((a + t[:, None] * ab) - colour) ** 2).sum(axis=1))
    hits = np.flatnonzero(inside & (dist <= tolerance))
    if not len(hits):
        return None
    k = hits[dist[hits].argmin()]
    return int(a_idx[k] if t[k] < 0.5 else b_idx[k])


def _matches(rgb: np.ndarray, known: Mapping[Colour, Any], tolerance: float) -> np.ndarray:
    """Position in `known` of the nearest colour within `tolerance`, else -1, per row of `rgb`."""
    if not known or not len(rgb):
        return np.full(len(rgb), -1, np.int64)
    table = np.array(list(known), dtype=np.float64)
    d = _distances(rgb, table)
    nearest = d.argmin(axis=1)
    return np.where(d[np.arange(len(rgb)), nearest] <= tolerance, nearest, -1)


def _best_builtin(rgb: np.ndarray, pixels: np.ndarray,
                  tolerance: float) -> tuple[str | None, dict[Colour, tuple[str, bool]]]:
    """The built-in palette whose colours (within `tolerance`) cover most pixels, if >= BUILTIN_SHARE.

    Black is a class or the ignore colour of most built-ins, so binary masks
    would match one by their background alone: red buildings on black
    (Massachusetts Buildings) read as Cityscapes' unlabeled and rider, 85% of
    the pixels ignored. A palette counts only when the masks use at least
    BUILTIN_CLASSES of its class colours other than black (SUIM's classes are
    the corners of the RGB cube: black and white would be waterbody and sea-floor).
    Two palettes covering the same share (DeepGlobe's colours are all SUIM's) are
    no evidence for either: nothing is suggested.
    """
    total = max(float(pixels.sum()), 1.0)
    best, best_share, best_known, tied = None, 0.0, {}, False
    for name in BUILTIN_PALETTES:
        known: dict[Colour, tuple[str, bool]] = {}
        for c in builtin_palette(name).classes:
            if c.color is not None:
                known.setdefault(c.color, (c.name, c.ignore))
        match = _matches(rgb[:MAX_CANDIDATES], known, tolerance)
        evidence = [not flag and colour != (0, 0, 0) for colour, (_, flag) in known.items()]
        if len({k for k in match[match >= 0].tolist() if evidence[k]}) < BUILTIN_CLASSES:
            continue
        share = float(pixels[:MAX_CANDIDATES][match >= 0].sum()) / total
        if share > best_share:
            best, best_share, best_known, tied = name, share, known, False
        elif share == best_share:
            tied = True
    if best_share < BUILTIN_SHARE or tied:
        return None, {}
    return best, best_known
