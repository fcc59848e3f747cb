#!/usr/bin/env python3
"""Regenerate the committed ``sample_data`` street-scene dataset.

Usage::

    python sample_data/generate.py [--out DIR]

The output is byte-identical on every run: all randomness comes from one fixed
seed, and each scene gets its own generator derived from (seed, domain, number)
so that adding or reordering scenes never changes the others.

Each scene is built as geometry first; every shape is painted into the label
map and the photo in the same step (``Canvas.paint``), so masks and images can
never disagree. Masks are drawn without antialiasing, so they contain only the
exact palette colours. Only numpy, opencv-python-headless and pillow are used.
"""
from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SEED = 20240611
W, H = 320, 240
JPEG_QUALITY = 90

SKY, BUILDING, ROAD, SIDEWALK, VEGETATION, CAR, PERSON = range(7)
VOID = 255

# (name, RGB colour, index); the last entry is the ignore class.
CLASSES: tuple[tuple[str, tuple[int, int, int], int], ...] = (
    ("sky", (70, 130, 180), SKY),
    ("building", (70, 70, 70), BUILDING),
    ("road", (128, 64, 128), ROAD),
    ("sidewalk", (244, 35, 232), SIDEWALK),
    ("vegetation", (107, 142, 35), VEGETATION),
    ("car", (0, 0, 142), CAR),
    ("person", (220, 20, 60), PERSON),
    ("void", (0, 0, 0), VOID),
)


@dataclass(frozen=True)
class Domain:
    name: str
    folder: str  # relative to images/ and masks/; nested on purpose
    count: int
    domain_id: int  # part of each scene's seed, so domains never share scenes


DOMAINS: tuple[Domain, ...] = (
    Domain("downtown", "downtown", 12, 1),
    Domain("suburb", "suburb", 12, 2),
    Domain("highway", "highway/morning", 8, 3),
)

BAD_NAMES = ("broken", "wrong_size", "orphan", "good")

Colour = tuple[float, float, float]

FACADES: tuple[Colour, ...] = (
    (182, 170, 150), (150, 140, 130), (160, 92, 72), (122, 122, 128),
    (204, 194, 174), (96, 102, 112), (172, 160, 138), (138, 110, 92),
)
ROOFS: tuple[Colour, ...] = ((122, 62, 50), (90, 80, 80), (68, 70, 82), (140, 92, 62))
CAR_PAINTS: tuple[Colour, ...] = (
    (190, 28, 30), (32, 62, 150), (228, 228, 226), (38, 38, 44),
    (150, 152, 158), (24, 96, 62), (214, 176, 44), (104, 22, 32),
)
SHIRTS: tuple[Colour, ...] = (
    (200, 40, 40), (40, 80, 170), (235, 235, 230), (30, 30, 32),
    (230, 170, 40), (70, 130, 70), (150, 60, 140), (120, 120, 125),
)
PANTS: tuple[Colour, ...] = ((40, 45, 70), (30, 30, 32), (90, 80, 70), (60, 70, 100), (160, 150, 130))
SKINS: tuple[Colour, ...] = ((236, 200, 170), (205, 160, 120), (160, 110, 75), (110, 75, 50))


@dataclass(frozen=True)
class ScenePlan:
    """Which classes a scene must show, decided up front so presence is balanced."""

    domain: Domain
    number: int  # 1-based, used in the file name
    people: bool
    cars: bool
    trees: bool
    lush: bool  # many big trees: vegetation-heavy outliers
    skyline: bool  # highway only: distant buildings on the horizon

    @property
    def stem(self) -> str:
        return f"{self.domain.name}_{self.number:04d}"

    @property
    def seed(self) -> list[int]:
        return [SEED, self.domain.domain_id, self.number]


# --------------------------------------------------------------------------- shapes
# All masks are drawn with LINE_8 (no antialiasing) so labels stay pure.


def _blank() -> np.ndarray:
    return np.zeros((H, W), np.uint8)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def poly_mask(points: Sequence[tuple[float, float]]) -> np.ndarray:
    m = _blank()
    cv2.fillPoly(m, [np.round(np.asarray(points, np.float64)).astype(np.int32)], 1, cv2.LINE_8)
    return m.astype(bool)


def ellipse_mask(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    m = _blank()
    axes = (max(1, int(round(rx))), max(1, int(round(ry))))
    cv2.ellipse(m, _pt(cx, cy), axes, 0, 0, 360, 1, -1, cv2.LINE_8)
    return m.astype(bool)


def rect_mask(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    m = np.zeros((H, W), bool)
    xa, xb = max(0, int(round(x0))), min(W, int(round(x1)))
    ya, yb = max(0, int(round(y0))), min(H, int(round(y1)))
    if xa < xb and ya < yb:
        m[ya:yb, xa:xb] = True
    return m


def rounded_rect_mask(x0: float, y0: float, x1: float, y1: float, r: float) -> np.ndarray:
    r = max(1.0, min(r, (x1 - x0) / 2, (y1 - y0) / 2))
    m = rect_mask(x0 + r, y0, x1 - r, y1) | rect_mask(x0, y0 + r, x1, y1 - r)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        m |= ellipse_mask(cx, cy, r, r)
    return m


# --------------------------------------------------------------------------- textures


def smooth_noise(rng: np.random.Generator, cell_y: int, cell_x: int) -> np.ndarray:
    """Value noise with blobs about cell_y x cell_x pixels; unit variance-ish, zero mean."""
    gh, gw = H // cell_y + 4, W // cell_x + 4
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(small, (gw * cell_x, gh * cell_y), interpolation=cv2.INTER_CUBIC)
    return big[cell_y : cell_y + H, cell_x : cell_x + W]


def fbm(rng: np.random.Generator, cells: Sequence[tuple[int, int]]) -> np.ndarray:
    """Several octaves of value noise, normalised to zero mean and unit std."""
    total = np.zeros((H, W), np.float32)
    for octave, (cy, cx) in enumerate(cells):
        total += smooth_noise(rng, cy, cx) * 0.55**octave
    return (total - total.mean()) / (total.std() + 1e-6)


def textured(rng: np.random.Generator, colour: Colour, blotch: float, grain: float, cell: int = 6) -> np.ndarray:
    """A flat colour with low-frequency blotches and pixel grain: flat fills look synthetic."""
    lum = 1.0 + blotch * smooth_noise(rng, cell, cell) + grain * rng.standard_normal((H, W)).astype(np.float32)
    return np.asarray(colour, np.float32)[None, None, :] * lum[..., None]


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


# --------------------------------------------------------------------------- canvas


@dataclass
class Canvas:
    image: np.ndarray  # (H, W, 3) float32 RGB
    label: np.ndarray  # (H, W) uint8 class indices
    haze: np.ndarray  # (3,) colour distant things fade into

    def paint(self, region: np.ndarray, cls: int, texture: np.ndarray, fade: float = 0.0) -> None:
        """Label and colour the same pixels in one step, keeping mask and photo in sync."""
        self.label[region] = cls
        pixels = texture[region] if texture.ndim == 3 else np.broadcast_to(texture, (int(region.sum()), 3))
        self.image[region] = pixels * (1.0 - fade) + self.haze * fade

    def tint(self, region: np.ndarray, colour: Colour | np.ndarray, alpha: float = 1.0) -> None:
        """Photo-only detail (windows, lane marks): the label underneath stays as it is."""
        self.image[region] = self.image[region] * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha

    def darken(self, region: np.ndarray, factor: float) -> None:
        self.image[region] *= factor


@dataclass(frozen=True)
class Street:
    """A straight road seen in perspective: edges are lines meeting towards the horizon."""

    horizon: int
    top_l: float
    top_r: float
    bot_l: float
    bot_r: float
    walk: float  # sidewalk width at the bottom row; 0 means no sidewalk strip

    def t(self, y: float) -> float:
        """0 at the horizon, 1 at the bottom row: proportional to apparent size."""
        return (y - self.horizon) / (H - self.horizon)

    def y_at(self, t: float) -> float:
        return self.horizon + t * (H - self.horizon)

    def road_x(self, y: float) -> tuple[float, float]:
        t = self.t(y)
        return lerp(self.top_l, self.bot_l, t), lerp(self.top_r, self.bot_r, t)

    def across(self, y: float, f: float) -> float:
        """x of the point a fraction f across the road at row y."""
        xl, xr = self.road_x(y)
        return lerp(xl, xr, f)


# --------------------------------------------------------------------------- sky and backdrop


def draw_sky(c: Canvas, rng: np.random.Generator, horizon: int, top: Colour, low: Colour) -> None:
    t = np.clip(np.arange(H, dtype=np.float32) / max(horizon, 1), 0, 1) ** 1.3
    grad = np.asarray(top, np.float32) * (1 - t[:, None]) + np.asarray(low, np.float32) * t[:, None]
    img = np.repeat(grad[:, None, :], W, axis=1)
    # Clouds are stretched sideways because they flatten with distance.
    n = fbm(rng, ((40, 110), (20, 55), (10, 26), (5, 12)))
    threshold = rng.uniform(0.0, 1.4)
    cover = np.clip((n - threshold) / 0.9, 0, 1)[..., None] * rng.uniform(0.6, 0.95)
    cloud = np.asarray((246, 246, 248), np.float32) - 22 * np.clip(n - threshold - 0.8, 0, 1.5)[..., None]
    c.paint(np.ones((H, W), bool), SKY, img * (1 - cover) + cloud * cover)


def draw_treeline(c: Canvas, rng: np.random.Generator, horizon: int, height: float) -> None:
    """A far band of trees: bumpy top made of overlapping circles."""
    region = rect_mask(0, horizon - height * 0.4, W, horizon + 4)
    x = -10.0
    while x < W + 10:
        r = rng.uniform(0.5, 1.0) * height
        region |= ellipse_mask(x, horizon - height * 0.4, r, r * rng.uniform(0.7, 1.0))
        x += r * rng.uniform(0.8, 1.4)
    tone = (64, 92, 52)
    tex = textured(rng, tone, 0.10, 0.07, cell=3)
    c.paint(region, VEGETATION, tex, fade=0.35)


def draw_facade(
    c: Canvas, rng: np.random.Generator, x0: float, x1: float, top: float, bottom: float,
    tone: Colour, window: tuple[float, float], pitch: tuple[float, float], fade: float,
) -> None:
    region = rect_mask(x0, top, x1, bottom)
    tex = textured(rng, tone, 0.05, 0.04, cell=4)
    # Side shading reads as depth; a darker cornice marks the roof line.
    tex[:, max(0, int(x1) - 3) : max(0, int(x1))] *= 0.82
    tex[max(0, int(top)) : max(0, int(top) + 3)] *= 0.75
    ww, wh = window
    px, py = pitch
    lit = rng.uniform(0.0, 0.25)
    y = top + py * 0.7
    while y + wh < bottom:
        x = x0 + (px - ww) / 2 + 2
        while x + ww < x1 - 2:
            if rng.random() < lit:
                glass = np.array((235, 205, 130), np.float32) * rng.uniform(0.8, 1.0)
            else:
                glass = np.array((52, 62, 78), np.float32) + rng.uniform(0, 60) * np.array((0.7, 0.85, 1.0), np.float32)
            cv2.rectangle(tex, _pt(x, y), _pt(x + ww - 1, y + wh - 1), glass.tolist(), -1, cv2.LINE_8)
            sill = (np.asarray(tone, np.float32) * 1.15).tolist()
            cv2.line(tex, _pt(x - 1, y + wh), _pt(x + ww, y + wh), sill, 1, cv2.LINE_8)
            x += px
        y += py
    c.paint(region, BUILDING, tex, fade=fade)


def draw_downtown_blocks(c: Canvas, rng: np.random.Generator, horizon: int) -> None:
    x = -float(rng.integers(0, 25))
    while x < W:
        if rng.random() < 0.18:  # a gap between towers lets the sky through
            x += float(rng.integers(8, 30))
            continue
        w = float(rng.integers(35, 90))
        top = float(rng.integers(-10, max(1, horizon - 45)))
        tone = FACADES[rng.integers(len(FACADES))]
        win = (float(rng.integers(4, 8)), float(rng.integers(5, 9)))
        pitch = (win[0] + float(rng.integers(3, 7)), win[1] + float(rng.integers(4, 8)))
        draw_facade(c, rng, x, x + w, top, horizon + 6, tone, win, pitch, fade=0.08)
        x += w


def draw_houses(c: Canvas, rng: np.random.Generator, horizon: int) -> None:
    x = -float(rng.integers(0, 30))
    while x < W:
        x += float(rng.integers(6, 40))
        w = float(rng.integers(45, 90))
        wall_top = horizon - float(rng.integers(18, 40))
        tone = FACADES[rng.integers(len(FACADES))]
        draw_facade(c, rng, x, x + w, wall_top, horizon + 6, tone, (7, 7), (w / rng.integers(2, 4), 14), fade=0.12)
        roof_h = float(rng.integers(10, 26))
        overhang = 3.0
        if rng.random() < 0.7:
            pts = [(x - overhang, wall_top), (x + w + overhang, wall_top), (x + w / 2, wall_top - roof_h)]
        else:  # hipped roof
            pts = [(x - overhang, wall_top), (x + w + overhang, wall_top),
                   (x + w * 0.75, wall_top - roof_h), (x + w * 0.25, wall_top - roof_h)]
        roof = poly_mask(pts)
        tex = textured(rng, ROOFS[rng.integers(len(ROOFS))], 0.06, 0.05, cell=3)
        tex[(np.arange(H) % 3 == 0)] *= 0.88  # shingle courses
        c.paint(roof, BUILDING, tex, fade=0.12)
        x += w


def draw_skyline(c: Canvas, rng: np.random.Generator, horizon: int) -> None:
    """Distant, hazy buildings: small, low contrast, barely any windows."""
    x = float(rng.integers(0, 120))
    end = x + float(rng.integers(80, 200))
    while x < min(end, W):
        w = float(rng.integers(8, 26))
        top = horizon - float(rng.integers(6, 32))
        tone = FACADES[rng.integers(len(FACADES))]
        draw_facade(c, rng, x, x + w, top, horizon + 3, tone, (2, 2), (4, 5), fade=0.5)
        x += w + float(rng.integers(0, 6))


# --------------------------------------------------------------------------- ground


def paving(rng: np.random.Generator, street: Street, tone: Colour, radial: bool) -> np.ndarray:
    tex = textured(rng, tone, 0.04, 0.05, cell=5)
    # Joints at equal ground distances bunch up towards the horizon.
    ys = np.arange(H, dtype=np.float32)
    t = np.clip((ys - street.horizon) / (H - street.horizon), 1e-3, 1)
    depth = 6.0 / t
    joint = (depth % 1.6) < 0.22
    strength = np.clip(t * 3, 0, 1)
    tex *= np.where(joint, 1 - 0.14 * strength, 1.0)[:, None, None]
    if radial:
        vx = (street.top_l + street.top_r) / 2
        dark = (np.asarray(tone, np.float32) * 0.86).tolist()
        for xb in np.arange(-400, W + 400, 46):
            cv2.line(tex, _pt(vx + (xb - vx) * 0.02, street.horizon), _pt(xb, H), dark, 1, cv2.LINE_8)
    return tex


def grass(rng: np.random.Generator, tone: Colour) -> np.ndarray:
    n = fbm(rng, ((30, 30), (8, 8), (3, 3)))
    lum = 1 + 0.10 * n + 0.08 * rng.standard_normal((H, W)).astype(np.float32)
    return np.asarray(tone, np.float32)[None, None, :] * lum[..., None]


def asphalt(rng: np.random.Generator, street: Street, tone: float) -> np.ndarray:
    tex = textured(rng, (tone, tone, tone * 1.03), 0.06, 0.06, cell=10)
    tex *= (1 + 0.05 * smooth_noise(rng, 3, 3))[..., None]
    return tex


def draw_ground(c: Canvas, street: Street, base: int, base_tex: np.ndarray) -> None:
    c.paint(rect_mask(0, street.horizon, W, H), base, base_tex)


def draw_walk_strips(c: Canvas, rng: np.random.Generator, street: Street) -> None:
    hz, w = street.horizon, street.walk
    strip = poly_mask([(street.top_l - 2, hz), (street.top_r + 2, hz),
                       (street.bot_r + w, H), (street.bot_l - w, H)])
    c.paint(strip, SIDEWALK, paving(rng, street, (176, 170, 164), radial=False), fade=0.05)


def draw_road(c: Canvas, rng: np.random.Generator, street: Street, lanes: int, curb: bool) -> None:
    hz = street.horizon
    road = poly_mask([(street.top_l, hz), (street.top_r, hz), (street.bot_r, H), (street.bot_l, H)])
    if curb:  # a pale kerb edge on the sidewalk side makes the road edge read as a step
        kerb = poly_mask([(street.top_l - 1, hz), (street.top_r + 1, hz),
                          (street.bot_r + 7, H), (street.bot_l - 7, H)]) & ~road
        c.tint(kerb & (c.label == SIDEWALK), (205, 202, 196), 0.8)
    c.paint(road, ROAD, asphalt(rng, street, float(rng.uniform(88, 115))), fade=0.04)
    on_road = c.label == ROAD
    # Solid edge lines, dashed lane dividers; painted on the photo only, still "road".
    for f in (0.03, 0.97):
        draw_marking(c, street, f, 2.2, dashed=False, keep=on_road)
    for k in range(1, lanes):
        draw_marking(c, street, k / lanes, 2.6, dashed=True, keep=on_road, phase=float(rng.uniform(0, 10)))
    # Oil stains and tyre tracks in the middle of each lane.
    for k in range(lanes):
        f = (k + 0.5) / lanes
        track = poly_mask([(street.across(hz, f), hz), (street.across(hz, f), hz),
                           (street.across(H, f) + 12, H), (street.across(H, f) - 12, H)])
        c.darken(track & on_road, 0.93)


def draw_marking(c: Canvas, street: Street, f: float, half_w: float, dashed: bool,
                 keep: np.ndarray, phase: float = 0.0) -> None:
    def quad(t0: float, t1: float) -> np.ndarray:
        y0, y1 = street.y_at(t0), street.y_at(t1)
        x0, x1 = street.across(y0, f), street.across(y1, f)
        return poly_mask([(x0 - half_w * t0, y0), (x0 + half_w * t0, y0),
                          (x1 + half_w * t1, y1), (x1 - half_w * t1, y1)])

    paint = (226, 224, 214)
    if not dashed:
        c.tint(quad(0.0, 1.0) & keep, paint, 0.85)
        return
    # Equal dashes on the ground: image size falls off as 1/distance.
    d = 4.0 + phase
    while True:
        t0, t1 = 4.0 / (d + 3.0), 4.0 / d
        if t0 < 0.03:
            break
        c.tint(quad(t0, min(t1, 1.0)) & keep, paint, 0.85)
        d += 9.0


# --------------------------------------------------------------------------- objects


def foliage(rng: np.random.Generator, tone: Colour, cy: float, r: float) -> np.ndarray:
    n = fbm(rng, ((6, 6), (3, 3), (2, 2)))
    ys = np.arange(H, dtype=np.float32)[:, None]
    light = np.clip(1.15 - 0.45 * (ys - (cy - r)) / max(2 * r, 1), 0.6, 1.2)  # lit from above
    lum = (1 + 0.16 * n) * light
    return np.asarray(tone, np.float32)[None, None, :] * lum[..., None]


def draw_tree(c: Canvas, rng: np.random.Generator, x: float, y: float, size: float, fade: float) -> None:
    trunk_h = size * rng.uniform(0.35, 0.5)
    trunk_w = max(2.0, size * rng.uniform(0.05, 0.08))
    crown_r = size * rng.uniform(0.22, 0.34)
    cy = y - trunk_h - crown_r * 0.55
    trunk = rect_mask(x - trunk_w / 2, cy, x + trunk_w / 2, y)
    c.paint(trunk, VEGETATION, textured(rng, (92, 70, 50), 0.08, 0.08, cell=2), fade=fade)
    crown = np.zeros((H, W), bool)
    for _ in range(int(rng.integers(4, 9))):
        ox, oy = rng.normal(0, 0.45, 2) * crown_r
        rr = crown_r * rng.uniform(0.45, 0.75)
        crown |= ellipse_mask(x + ox, cy + oy * 0.8, rr, rr * rng.uniform(0.8, 1.0))
    tone = (float(rng.uniform(55, 85)), float(rng.uniform(95, 130)), float(rng.uniform(35, 55)))
    c.paint(crown, VEGETATION, foliage(rng, tone, cy, crown_r), fade=fade)


def draw_car(c: Canvas, rng: np.random.Generator, cx: float, y: float, w: float, rear: bool, fade: float) -> None:
    paint = np.asarray(CAR_PAINTS[rng.integers(len(CAR_PAINTS))], np.float32)
    wheel_h, body_h, cabin_h = 0.14 * w, 0.38 * w, 0.30 * w
    body_bot = y - wheel_h * 0.45
    body_top = body_bot - body_h
    # Contact shadow first, onto whatever road is underneath.
    c.darken(ellipse_mask(cx, y - 1, w * 0.56, max(1.5, 0.05 * w)) & (c.label == ROAD), 0.55)
    for side in (-1, 1):
        wx = cx + side * w * 0.34
        c.paint(rect_mask(wx - w * 0.08, y - wheel_h, wx + w * 0.08, y), CAR,
                textured(rng, (26, 26, 28), 0.05, 0.05), fade=fade)
    body_y = np.arange(H, dtype=np.float32)[:, None, None]
    shade = np.clip(1.15 - 0.35 * (body_y - body_top) / max(body_h, 1), 0.75, 1.2)
    body_tex = textured(rng, tuple(paint), 0.02, 0.03) * shade
    cabin_pts = [(cx - w * 0.42, body_top + 1), (cx + w * 0.42, body_top + 1),
                 (cx + w * 0.31, body_top - cabin_h), (cx - w * 0.31, body_top - cabin_h)]
    c.paint(poly_mask(cabin_pts), CAR, body_tex, fade=fade)
    c.paint(rounded_rect_mask(cx - w / 2, body_top, cx + w / 2, body_bot, 0.1 * w), CAR, body_tex, fade=fade)
    # Glass, lights, bumper and plate are photo-only details inside the car's label.
    inset = max(1.0, 0.04 * w)
    glass = poly_mask([(cx - w * 0.38, body_top - inset * 0.3), (cx + w * 0.38, body_top - inset * 0.3),
                       (cx + w * 0.29, body_top - cabin_h + inset), (cx - w * 0.29, body_top - cabin_h + inset)])
    c.tint(glass, (38, 46, 58), 0.9)
    c.tint(glass & rect_mask(0, body_top - cabin_h, W, body_top - cabin_h * 0.6), (150, 170, 190), 0.35)
    light = (200, 30, 30) if rear else (240, 236, 210)
    ly = body_top + body_h * 0.18
    for side in (-1, 1):
        lx = cx + side * w * 0.38
        c.tint(rect_mask(lx - w * 0.08, ly, lx + w * 0.08, ly + body_h * 0.2), light, 0.9)
    c.tint(rect_mask(cx - w / 2, body_bot - body_h * 0.22, cx + w / 2, body_bot), (30, 30, 32), 0.6)
    c.tint(rect_mask(cx - w * 0.11, body_top + body_h * 0.45, cx + w * 0.11, body_top + body_h * 0.65),
           (232, 232, 225), 0.9)


def draw_person(c: Canvas, rng: np.random.Generator, x: float, y: float, h: float, fade: float) -> None:
    shirt = SHIRTS[rng.integers(len(SHIRTS))]
    pants = PANTS[rng.integers(len(PANTS))]
    skin = SKINS[rng.integers(len(SKINS))]
    stride = rng.uniform(-0.09, 0.09) * h  # mid-step legs look less like a cut-out
    hip_y, leg_w = y - 0.48 * h, max(1.0, 0.08 * h)
    for side, foot in ((-1, stride), (1, -stride)):
        hx = x + side * 0.06 * h
        leg = poly_mask([(hx - leg_w / 2, hip_y), (hx + leg_w / 2, hip_y),
                         (hx + foot + leg_w * 0.4, y), (hx + foot - leg_w * 0.4, y)])
        c.paint(leg, PERSON, textured(rng, pants, 0.04, 0.05, cell=2), fade=fade)
    shirt_tex = textured(rng, shirt, 0.06, 0.05, cell=2)
    for side in (-1, 1):
        sx = x + side * 0.14 * h
        hand = sx + side * 0.03 * h  # arms hang slightly outwards
        arm = poly_mask([(sx - 0.03 * h, y - 0.8 * h), (sx + 0.03 * h, y - 0.8 * h),
                         (hand + 0.025 * h, y - 0.5 * h), (hand - 0.025 * h, y - 0.5 * h)])
        c.paint(arm, PERSON, shirt_tex, fade=fade)
    torso = rounded_rect_mask(x - 0.13 * h, y - 0.82 * h, x + 0.13 * h, y - 0.45 * h, 0.05 * h)
    c.paint(torso, PERSON, shirt_tex, fade=fade)
    head = ellipse_mask(x, y - 0.9 * h, 0.065 * h, 0.08 * h)
    c.paint(head, PERSON, textured(rng, skin, 0.03, 0.04, cell=2), fade=fade)
    c.tint(head & rect_mask(0, 0, W, y - 0.93 * h), (45, 32, 24), 0.85)  # hair


def draw_pole(c: Canvas, rng: np.random.Generator, x: float, y: float, size: float, fade: float) -> None:
    """Street furniture has no class in this palette, so it is labelled void."""
    top = y - size
    pole_w = max(2.0, size * 0.03)
    metal = textured(rng, (112, 114, 118), 0.03, 0.05, cell=2)
    c.paint(rect_mask(x - pole_w / 2, top, x + pole_w / 2, y), VOID, metal, fade=fade)
    r = max(3.0, size * 0.08)
    if rng.random() < 0.5:
        c.paint(ellipse_mask(x, top + r, r, r), VOID, textured(rng, (200, 30, 35), 0.02, 0.03), fade=fade)
        c.tint(ellipse_mask(x, top + r, r * 0.7, r * 0.7), (238, 238, 238), 1.0)
    else:
        c.paint(rect_mask(x - r * 1.3, top, x + r * 1.3, top + r * 1.6), VOID,
                textured(rng, (30, 80, 170), 0.02, 0.03), fade=fade)


def draw_hood(c: Canvas, rng: np.random.Generator) -> None:
    """The ego car's bonnet, as dash-cam frames show it: unlabelled (void)."""
    base = float(rng.integers(12, 20))
    bump = float(rng.uniform(4, 9))
    xs = (np.arange(W, dtype=np.float32) - W / 2) / (W / 2)
    edge = H - base - bump * (1 - xs**2)
    ys = np.arange(H, dtype=np.float32)[:, None]
    region = ys >= np.round(edge)[None, :]
    sheen = np.clip(1.5 - 0.6 * (ys - edge.min()) / (H - edge.min()), 0.8, 1.5)
    tex = textured(rng, (34, 37, 42), 0.03, 0.03) * sheen[..., None]
    c.paint(region, VOID, tex)


# --------------------------------------------------------------------------- scenes

Drawable = tuple[float, Callable[[], None]]  # (ground row, painter): far things first
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def side_x(rng: np.random.Generator, street: Street, y: float, margin: float, width: float) -> float | None:
    """A point beside the road (within `width` of its edge), or None if off-frame."""
    xl, xr = street.road_x(y)
    if rng.random() < 0.5:
        lo, hi = max(4.0, xl - margin - width), xl - margin
    else:
        lo, hi = xr + margin, min(W - 4.0, xr + margin + width)
    return float(rng.uniform(lo, hi)) if hi > lo + 1 else None


def place_cars(rng: np.random.Generator, c: Canvas, street: Street, lanes: int, count: int,
               one_way: bool = False) -> list[Drawable]:
    out: list[Drawable] = []
    slots = [(lane, b) for lane in range(lanes) for b in range(5)]
    for i in rng.choice(len(slots), size=min(count, len(slots)), replace=False):
        lane, band = slots[int(i)]
        t = 0.1 + 0.13 * band + rng.uniform(0, 0.1)
        y = street.y_at(t)
        xl, xr = street.road_x(y)
        lane_w = (xr - xl) / lanes
        cx = xl + (lane + 0.5 + rng.uniform(-0.08, 0.08)) * lane_w
        w = lane_w * rng.uniform(0.62, 0.74)
        rear = one_way or lane >= lanes // 2  # driving on the right: oncoming cars in the left lanes
        out.append((y, lambda cx=cx, y=y, w=w, rear=rear, t=t: draw_car(c, rng, cx, y, w, rear, 0.3 * (1 - t))))
    return out


def place_people(rng: np.random.Generator, c: Canvas, street: Street, count: int, on_strip: bool,
                 taken: list[Box]) -> list[Drawable]:
    """People go first and record their boxes, so trees and poles can keep out of the way."""
    out: list[Drawable] = []
    for _ in range(count):
        for _attempt in range(20):
            t = rng.uniform(0.18, 0.75)
            y = street.y_at(t)
            h = 95 * t * rng.uniform(0.88, 1.08)
            if on_strip:  # stay on the sidewalk strip between kerb and lawn
                x = side_x(rng, street, y, 0.12 * h + 7 * t, max(0.0, street.walk * t - 0.3 * h))
            else:
                x = side_x(rng, street, y, 0.15 * h + 7 * t, 120)
            if x is not None:
                taken.append((x - 0.2 * h, y - h, x + 0.2 * h, y))
                out.append((y + 0.5, lambda x=x, y=y, h=h, t=t: draw_person(c, rng, x, y, h, 0.3 * (1 - t))))
                break
    return out


def overlaps(box: Box, taken: Sequence[Box]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in taken)


def place_trees(rng: np.random.Generator, c: Canvas, street: Street, count: int, scale: float,
                margin: float, taken: Sequence[Box] = (), nearest: float = 0.05) -> list[Drawable]:
    out: list[Drawable] = []
    for _ in range(count):
        for _attempt in range(10):  # a tree in front of a pedestrian would hide the rare class
            t = rng.uniform(nearest, 0.6)
            y = street.y_at(t)
            size = 150 * t * scale * rng.uniform(0.8, 1.2)
            x = side_x(rng, street, y, margin * t + 0.08 * size, 160)
            if x is not None and not overlaps((x - 0.5 * size, y - size, x + 0.5 * size, y), taken):
                out.append((y, lambda x=x, y=y, size=size, t=t: draw_tree(c, rng, x, y, size, 0.35 * (1 - t))))
                break
    return out


def place_poles(rng: np.random.Generator, c: Canvas, street: Street, count: int, margin: float,
                taken: Sequence[Box] = ()) -> list[Drawable]:
    out: list[Drawable] = []
    for _ in range(count):
        for _attempt in range(10):
            t = rng.uniform(0.15, 0.7)
            y = street.y_at(t)
            x = side_x(rng, street, y, margin * t, 6 * t + 2)
            if x is not None and not overlaps((x - 0.12 * 160 * t, y - 160 * t, x + 0.12 * 160 * t, y), taken):
                out.append((y, lambda x=x, y=y, t=t: draw_pole(c, rng, x, y, 160 * t, 0.3 * (1 - t))))
                break
    return out


def make_street(rng: np.random.Generator, horizon: int, top_half: tuple[int, int],
                bottom_half: tuple[int, int], walk: float) -> Street:
    vx = W / 2 + rng.uniform(-35, 35)
    vb = vx + rng.uniform(-30, 30)
    th, bh = rng.uniform(*top_half), rng.uniform(*bottom_half)
    return Street(horizon, vx - th, vx + th, vb - bh, vb + bh, walk)


def new_canvas(haze: Colour) -> Canvas:
    return Canvas(np.zeros((H, W, 3), np.float32), np.full((H, W), SKY, np.uint8), np.asarray(haze, np.float32))


def scene_downtown(rng: np.random.Generator, plan: ScenePlan) -> Canvas:
    horizon = int(rng.integers(100, 126))
    c = new_canvas((190, 200, 210))
    draw_sky(c, rng, horizon, (60, 110, 175), (185, 205, 225))
    draw_downtown_blocks(c, rng, horizon)
    street = make_street(rng, horizon, (20, 36), (165, 220), walk=0)
    # Downtown ground is all pavement; the road is cut into it.
    draw_ground(c, street, SIDEWALK, paving(rng, street, (168, 162, 158), radial=True))
    draw_road(c, rng, street, lanes=2, curb=True)
    objs: list[Drawable] = []
    taken: list[Box] = []
    if plan.cars:
        objs += place_cars(rng, c, street, 2, int(rng.integers(1, 5)))
    if plan.people:
        objs += place_people(rng, c, street, int(rng.integers(1, 5)), on_strip=False, taken=taken)
    if plan.trees:
        objs += place_trees(rng, c, street, int(rng.integers(1, 4)), 1.0, margin=25, taken=taken,
                            nearest=0.2)  # far street trees would be a few pixels
    objs += place_poles(rng, c, street, int(rng.integers(0, 3)), margin=10, taken=taken)
    render_objects(objs)
    return c


def scene_suburb(rng: np.random.Generator, plan: ScenePlan) -> Canvas:
    horizon = int(rng.integers(105, 131))
    c = new_canvas((195, 205, 215))
    draw_sky(c, rng, horizon, (70, 125, 190), (190, 210, 228))
    if plan.lush or rng.random() < 0.6:
        draw_treeline(c, rng, horizon, float(rng.uniform(10, 24)))
    draw_houses(c, rng, horizon)
    street = make_street(rng, horizon, (10, 20), (120, 170), walk=float(rng.uniform(35, 60)))
    draw_ground(c, street, VEGETATION, grass(rng, (92, 128, 56)))
    draw_walk_strips(c, rng, street)
    draw_road(c, rng, street, lanes=2, curb=True)
    objs: list[Drawable] = []
    taken: list[Box] = []
    if plan.cars:
        objs += place_cars(rng, c, street, 2, int(rng.integers(1, 4)))
    if plan.people:
        objs += place_people(rng, c, street, int(rng.integers(1, 4)), on_strip=True, taken=taken)
    n_trees, scale = (int(rng.integers(6, 10)), 1.8) if plan.lush else (int(rng.integers(1, 5)), 1.0)
    objs += place_trees(rng, c, street, n_trees, scale, margin=street.walk + 4, taken=taken)
    objs += place_poles(rng, c, street, int(rng.integers(0, 2)), margin=street.walk - 4, taken=taken)
    render_objects(objs)
    return c


def scene_highway(rng: np.random.Generator, plan: ScenePlan) -> Canvas:
    horizon = int(rng.integers(98, 118))
    c = new_canvas((230, 214, 196))  # warm morning haze
    draw_sky(c, rng, horizon, (96, 140, 196), (240, 208, 170))
    if plan.lush or rng.random() < 0.7:
        draw_treeline(c, rng, horizon, float(rng.uniform(8, 20) * (1.6 if plan.lush else 1.0)))
    if plan.skyline:  # drawn after the tree band so the trees cannot hide the whole city
        draw_skyline(c, rng, horizon)
    street = make_street(rng, horizon, (3, 7), (175, 230), walk=0)
    draw_ground(c, street, VEGETATION, grass(rng, (118, 128, 64)))
    draw_road(c, rng, street, lanes=3, curb=False)
    objs = place_cars(rng, c, street, 3, int(rng.integers(2, 7)), one_way=True)
    n_trees, scale = (int(rng.integers(5, 9)), 1.8) if plan.lush else (int(rng.integers(0, 4)), 1.0)
    objs += place_trees(rng, c, street, n_trees, scale, margin=30)
    render_objects(objs)
    draw_hood(c, rng)
    return c


def render_objects(objs: list[Drawable]) -> None:
    for _, draw in sorted(objs, key=lambda o: o[0]):  # painter's order: far rows first
        draw()


SCENES: dict[str, Callable[[np.random.Generator, ScenePlan], Canvas]] = {
    "downtown": scene_downtown, "suburb": scene_suburb, "highway": scene_highway,
}


def photo_finish(rng: np.random.Generator, image: np.ndarray, warm: bool) -> np.ndarray:
    """Exposure, colour cast, vignette, lens blur and sensor noise: what makes it look shot, not drawn."""
    cast = np.array((1.05, 1.0, 0.93) if warm else (1.0, 1.0, 1.0), np.float32) * (1 + rng.uniform(-0.03, 0.03, 3))
    img = image * rng.uniform(0.9, 1.08) * cast.astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
    img *= (1 - 0.12 * r2)[..., None]
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=float(rng.uniform(0.55, 0.85)))
    img += rng.normal(0, 2.2, (H, W, 1)).astype(np.float32) + rng.normal(0, 1.2, (H, W, 3)).astype(np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render(plan: ScenePlan) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 photo, uint8 label map) for one planned scene."""
    rng = np.random.default_rng(plan.seed)
    c = SCENES[plan.domain.name](rng, plan)
    image = photo_finish(rng, c.image, warm=plan.domain.name == "highway")
    label = c.label.copy()
    # Annotators left a thin unlabelled margin; also guarantees the ignore class shows up.
    label[:2], label[-2:], label[:, :2], label[:, -2:] = VOID, VOID, VOID, VOID
    return image, label


def make_plans() -> list[ScenePlan]:
    """Fix class presence per scene so the set is deliberately unbalanced (person is rare)."""
    rng = np.random.default_rng(SEED)
    plans: list[ScenePlan] = []
    # downtown: 6/12 with people, 2 with no cars, 4 with no trees at all (no vegetation)
    # suburb:   4/12 with people, 3 with no cars, 3 lush; highway: no people, 2 lush, 3 skylines
    rules = {
        "downtown": dict(people=6, no_cars=2, no_trees=4, lush=0, skyline=0),
        "suburb": dict(people=4, no_cars=3, no_trees=0, lush=3, skyline=0),
        "highway": dict(people=0, no_cars=0, no_trees=0, lush=2, skyline=3),
    }
    for d in DOMAINS:
        r = rules[d.name]

        def pick(k: int) -> set[int]:
            return {int(i) + 1 for i in rng.choice(d.count, size=k, replace=False)}

        people, no_cars, no_trees = pick(r["people"]), pick(r["no_cars"]), pick(r["no_trees"])
        lush, skyline = pick(r["lush"]), pick(r["skyline"])
        for n in range(1, d.count + 1):
            plans.append(ScenePlan(d, n, people=n in people, cars=n not in no_cars, trees=n not in no_trees,
                                   lush=n in lush, skyline=n in skyline))
    return plans


# --------------------------------------------------------------------------- output

LUT = np.zeros((256, 3), np.uint8)
for _name, _rgb, _idx in CLASSES:
    LUT[_idx] = _rgb


def encode_jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def encode_mask(label: np.ndarray) -> bytes:
    """Colour-coded RGB PNG (not palette mode): the format the toolkit has to convert."""
    out = io.BytesIO()
    Image.fromarray(LUT[label]).save(out, format="PNG")
    return out.getvalue()


def palette_json() -> str:
    # One class per line keeps the file readable and diffs small.
    rows = []
    for name, rgb, idx in CLASSES:
        entry: dict[str, object] = {"name": name, "color": list(rgb), "index": idx}
        if idx == VOID:
            entry["ignore"] = True
        rows.append("    " + json.dumps(entry))
    head = f'{{\n  "name": "sample_streets",\n  "ignore_index": {VOID},\n  "classes": [\n'
    return head + ",\n".join(rows) + "\n  ]\n}\n"


def owned_files(out: Path) -> list[Path]:
    """Everything this script may have written before, including from older scene counts."""
    found: list[Path] = []
    for d in DOMAINS:
        found += out.glob(f"images/{d.folder}/{d.name}_[0-9][0-9][0-9][0-9].jpg")
        found += out.glob(f"masks/{d.folder}/{d.name}_[0-9][0-9][0-9][0-9].png")
    for name in BAD_NAMES:
        found += [out / "bad" / "images" / f"{name}.jpg", out / "bad" / "masks" / f"{name}.png"]
    found.append(out / "palette.json")
    return [p for p in found if p.is_file()]


def clean(out: Path) -> None:
    for p in owned_files(out):
        p.unlink()
    # Prune now-empty folders deepest first; anything else a user put there survives.
    dirs: set[Path] = set()
    for d in DOMAINS:
        for root in ("images", "masks"):
            leaf = out / root / d.folder
            dirs |= {leaf, *leaf.parents}
    dirs |= {out / "bad" / "images", out / "bad" / "masks", out / "bad"}
    for d in sorted((d for d in dirs if out in d.parents), key=lambda p: len(p.parts), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_bad(out: Path) -> None:
    """Known-broken files for exercising scan/validation: see README.md."""
    downtown = DOMAINS[0]

    def scene(n: int) -> tuple[np.ndarray, np.ndarray]:
        # Numbers far past the real scenes so bad/ never duplicates a dataset image.
        return render(ScenePlan(downtown, 900 + n, people=True, cars=True, trees=True, lush=False, skyline=False))

    img, lab = scene(1)
    jpeg = encode_jpeg(img)
    write(out / "bad/images/broken.jpg", jpeg[: len(jpeg) // 2])  # no end-of-image marker
    write(out / "bad/masks/broken.png", encode_mask(lab))

    img, lab = scene(2)
    write(out / "bad/images/wrong_size.jpg", encode_jpeg(img))
    small = cv2.resize(lab, (W // 2, H // 2), interpolation=cv2.INTER_NEAREST)  # nearest keeps colours exact
    write(out / "bad/masks/wrong_size.png", encode_mask(small))

    img, _ = scene(3)
    write(out / "bad/images/orphan.jpg", encode_jpeg(img))

    img, lab = scene(4)
    write(out / "bad/images/good.jpg", encode_jpeg(img))
    write(out / "bad/masks/good.png", encode_mask(lab))


def generate(out: Path) -> int:
    cv2.setNumThreads(1)  # no thread-count-dependent code paths: same bytes on any machine load
    clean(out)
    plans = make_plans()
    for plan in plans:
        image, label = render(plan)
        write(out / "images" / plan.domain.folder / f"{plan.stem}.jpg", encode_jpeg(image))
        write(out / "masks" / plan.domain.folder / f"{plan.stem}.png", encode_mask(label))
    write_bad(out)
    (out / "palette.json").write_text(palette_json(), encoding="utf-8")
    return len(plans)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the folder holding this script)")
    args = parser.parse_args(argv)
    n = generate(args.out.resolve())
    print(f"wrote {n} image/mask pairs, bad/ and palette.json to {args.out}")


if __name__ == "__main__":
    main()
