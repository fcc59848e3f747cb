"""Grey index masks that went through JPEG: telling the compression noise of their values from their classes."""
from __future__ import annotations

import numpy as np

from .artefacts import LOSSY_RADIUS, _infer_colours
from .inferred import InferredColour, InferredPalette
from .model import EntryKind, Palette, PaletteClass, _colour, voc_colormap

BINARY_FOREGROUND = 255  # index masks of only 0 and this value are binary: it is a class, not ignore
SOLID_CLASS_SHARE = 1.5e-3  # of all pixels filling 3x3 blocks: a class, not JPEG noise (measured: up to 1e-3)


def _looks_lossy(values: np.ndarray, pixels: np.ndarray, solid: np.ndarray) -> bool:
    """Index values that never fill a 3x3 block, 8 or more and 3 times the values that do, each within
    LOSSY_RADIUS of one that does and a minority of the pixels: the noise of masks once saved as JPEG, then as
    PNG (Kvasir's polyps so: 0..8 and 247..255, 18 classes inferred for 2). Or grey values of any level beside
    0 and 255 alone filling blocks: anti-aliased binary masks (magnetic-tile defects: 256 classes, 255 ignore)."""
    scattered, filling = values[solid == 0], values[solid > 0]
    # JPEG leaves ~8-16 noise values around each level; a handful of 1-pixel line classes beside two area
    # classes (lane markings, boundaries) must not look so.
    # A binary mask with anti-aliased edges: 0 and 255 both fill regions, greys between them on edges only. Not
    # when 0 alone fills blocks: 1-2 pixel lane lines or cracks of several classes are classes, not edges.
    if set(filling.tolist()) == {0, BINARY_FOREGROUND} and len(scattered) >= 3 \
            and pixels[solid == 0].sum() < 0.25 * pixels.sum():
        return True
    if not len(filling) or len(scattered) < 8 or len(scattered) < 3 * len(filling):
        return False
    near = np.abs(scattered[:, None].astype(np.int64) - filling[None, :].astype(np.int64)).min(axis=1)
    return bool((near <= LOSSY_RADIUS).all()) and pixels[solid == 0].sum() < 0.25 * pixels.sum()


def _infer_lossy_values(values: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                        name: str, solid: np.ndarray | None = None) -> InferredPalette:
    """Grey index masks saved as JPEG: their values scatter around a few (0 and 255 turn into 0..12 and
    240..255), so the values are pooled as grey colours are, and every value 0..255 is listed under the class
    of the nearest pooled value (the threshold at 128 of binary masks). The ids carry it: `--remap ids`.

    Pooling joins values closer than LOSSY_RADIUS, which made trimaps (1, 2, 3) and 0/1 masks one class: a
    value whose 3x3-filling pixels (`solid`) are SOLID_CLASS_SHARE of all pixels is a class of its own: JPEG
    noise seldom fills regions (ISBI's membranes at quality 75-95: never; Oxford-IIIT Pet's trimaps at 75: 0.1%
    of the pixels), classes do (CamVid's poles as JPEG: 0.2%, pedestrians 0.27%; its bicyclists, 0.05%, are
    still joined to a neighbour: index masks of adjacent values survive JPEG only so far)."""
    pooled = _infer_colours(values * 0x010101, pixels, images, ignore_index, name, True)
    centres = sorted({c.color[0] for c in pooled.palette.classes if c.kind is not EntryKind.ARTEFACT and c.color})
    if solid is not None and pixels.sum():
        filling = values[solid >= SOLID_CLASS_SHARE * pixels.sum()]
        centres = sorted({*centres, *(int(v) for v in filling if 0 <= v < 256)})
        # Pools of edge greys far from every level (anti-aliased masks: 120, 140, 220...) never fill a block.
        fills = {int(v) for v in values[solid > 0]}
        if len([c for c in centres if c in fills]) >= 2:
            centres = [c for c in centres if c in fills]
    binary = len(centres) == 2 and centres[0] <= LOSSY_RADIUS and centres[1] >= 255 - LOSSY_RADIUS
    if binary:
        centres = [0, BINARY_FOREGROUND]  # the threshold at 128 exactly, whatever value JPEG left most of
    index_of = np.abs(np.arange(256)[:, None] - np.array(centres)[None, :]).argmin(axis=1)  # ties: the lower
    labels = ["background", "foreground"] if binary else [f"class_{i}" for i in range(len(centres))]
    colours_of = [(0, 0, 0), (255, 255, 255)] if binary else [_colour(c) for c in voc_colormap(len(centres))]
    classes = [PaletteClass(label, colour, i, id=centre)
               for i, (label, colour, centre) in enumerate(zip(labels, colours_of, centres))]
    classes += [PaletteClass(labels[int(index_of[v])], None, int(index_of[v]), id=v, kind=EntryKind.ARTEFACT)
                for v in range(256) if v not in centres]
    colour_of = {c.id: c.color for c in classes}
    colours = [InferredColour(colour_of.get(int(v)) or (int(v),) * 3, int(v), int(n), int(m), int(index_of[v]),
                              int(v) not in centres) for v, n, m in zip(values, pixels, images)]
    return InferredPalette(Palette(name, tuple(classes), ignore_index), colours, "index", 0, 0, lossy=True)
