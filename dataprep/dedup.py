"""Exact and near-duplicate images: the same picture twice, or re-encoded, resized, brighter.

A duplicate that lands in train and in validation inflates the validation score
without anyone noticing. Two images are

- *exact* duplicates when their files have the same content hash (BLAKE2b);
- *near* duplicates when the 64-bit difference hash (dHash) of their gray
  thumbnails differs in at most `max_distance` bits AND the correlation of
  their rank-normalised 32x32 thumbnails is at least `min_correlation`.

Both measures are blind to brightness and contrast (a dHash bit is the sign of a
difference of neighbours; ranks do not change under any increasing tone curve)
and to small resizes and re-encoding (thumbnails average those away). The
correlation is what tells a copy from a different picture of the same texture,
whose dHash may be close by chance.

Scale: hashing runs per image through the executor (worker processes); pairs are
compared only inside hash buckets. The 64-bit hash is cut into 4 blocks of 16
bits; two hashes within 7 bits agree within one bit on at least one block, so
looking up each block and its 16 one-bit neighbours finds every candidate without
comparing all pairs (multi-index hashing).
"""
from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import io
from .errors import DataprepError, UsageError
from .executor import Executor, run_items
from .manifest import Manifest, ManifestRow, read_manifest, require_rows
from .paths import walk_files
from .split_column import SPLIT_COLUMN

THUMB = 32  # side of the correlation thumbnail
_BLOCKS = 4
_BLOCK_BITS = 64 // _BLOCKS
MAX_DISTANCE = 2 * _BLOCKS - 1  # the largest distance the index is sure to find (7)
DEFAULT_MIN_CORRELATION = 0.98
_HASH_BATCH = 8192  # images hashed per executor run
_PAIRS_PER_DOT = 4096  # thumbnail pairs correlated at once (4096 x 1024 floats = 16 MB per side)
_BIT_ORDER = np.random.default_rng(0).permutation(64)  # fixed: the same blocks in every run
_PAIRS_PER_PIECE = 1 << 20  # candidate pairs expanded at once (about 60 MB of index arrays)
_LOOK_ALIKE_SAMPLE = 1000  # images whose pairs show how alike unrelated images of a set are
_LOOK_ALIKE_PAIRS = 45  # fewer sampled pairs (10 images) say nothing of the set
_LOOK_ALIKE_MARGIN = 0.08


@dataclass(frozen=True)
class ImageHash:
    """What is kept of one image: content hash, dHash, and its thumbnail ranks (None when flat)."""

    digest: str
    dhash: int
    ranks: bytes | None


def hash_image(path: io.PathLike) -> ImageHash:
    """Content hash, 64-bit dHash and the 32x32 rank thumbnail of one image."""
    # Through io, as every read: a missing file is `PATH: file not found`, not the OSError's text naming it twice.
    digest = hashlib.blake2b(io.read_encoded_bytes(path), digest_size=16).hexdigest()
    image = io.read_image(path)
    gray = image[..., : min(3, image.shape[-1])].astype(np.float32).mean(axis=-1)
    thumb = cv2.resize(gray, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    small = cv2.resize(thumb, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    dhash = int(np.packbits(bits, bitorder="little").view("<u8")[0])
    spread = float(thumb.max() - thumb.min())
    if spread <= 1e-3 * max(1.0, float(np.abs(thumb).max())):
        return ImageHash(digest, dhash, None)  # a flat picture: only an exact copy counts
    # Ranks 0..1023 quantised to a byte; every non-flat thumbnail then has the same mean and norm.
    ranks = np.empty(THUMB * THUMB, np.uint8)
    ranks[np.argsort(thumb.ravel(), kind="stable")] = np.arange(THUMB * THUMB) // (THUMB * THUMB // 256)
    return ImageHash(digest, dhash, ranks.tobytes())


class _Hasher:
    """Picklable per-item function for the executor."""

    def __call__(self, path: str) -> ImageHash:
        return hash_image(path)


@dataclass(frozen=True)
class Member:
    id: str
    image: Path
    kind: str  # first | exact | near
    distance: int  # dHash bits different from the cluster's first image
    correlation: float  # thumbnail correlation with the cluster's first image


@dataclass(frozen=True)
class Cluster:
    index: int
    members: tuple[Member, ...]

    @property
    def first(self) -> Member:
        return self.members[0]


@dataclass
class DedupResult:
    clusters: list[Cluster]
    num_images: int
    errors: list[str] = field(default_factory=list)  # images that could not be read, "path: reason"
    warnings: list[str] = field(default_factory=list)

    @property
    def num_exact(self) -> int:
        return sum(m.kind == "exact" for c in self.clusters for m in c.members)

    @property
    def num_near(self) -> int:
        return sum(m.kind == "near" for c in self.clusters for m in c.members)

    def first_of(self) -> dict[str, str]:
        """id -> id of its cluster's first image, for every image in a cluster but the first."""
        return {m.id: c.first.id for c in self.clusters for m in c.members[1:]}

    def cluster_lines(self) -> list[str]:
        return [f"{c.first.id} = " + ", ".join(f"{m.id} ({m.kind}, r={m.correlation:.4f})" for m in c.members[1:])
                for c in self.clusters]


def find_duplicates(
    source: Manifest | Sequence[ManifestRow] | io.PathLike,
    *,
    max_distance: int = MAX_DISTANCE,
    min_correlation: float = DEFAULT_MIN_CORRELATION,
    exclude: Sequence[str] = (),
    executor: Executor | None = None,
    quiet: bool = False,
) -> DedupResult:
    """Clusters of exact and near-duplicate images in a manifest, a list of rows, or a folder of images.

    A folder is walked for image files (ids: paths relative to it, without
    extension); point it at the images, not at a tree that also holds masks.
    """
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise UsageError(None, f"max distance must be 0..{MAX_DISTANCE} bits (what the index finds), "
                               f"not {max_distance}")
    if not -1.0 <= min_correlation <= 1.0:
        raise UsageError(None, f"min correlation must be in [-1, 1], not {min_correlation}")
    ids, paths = _items(source, exclude)
    table, errors = _hash_all(paths, executor, quiet)
    ok = np.flatnonzero(table.ok)
    ids = [ids[i] for i in ok]
    paths = [paths[i] for i in ok]
    digests = [table.digests[i] for i in ok]
    codes, has_thumb, thumbs = table.codes[ok], table.has_thumb[ok], table.thumbs[ok]
    del table
    n = len(ids)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    by_digest: dict[bytes, list[int]] = defaultdict(list)
    for i, d in enumerate(digests):
        by_digest[d].append(i)
    for members in by_digest.values():
        for j in members[1:]:
            union(members[0], j)

    norm = float(np.square(np.arange(256, dtype=np.float64).repeat(THUMB * THUMB // 256) - 127.5).sum())
    for i, j in _near_pairs(codes, has_thumb, thumbs, max_distance, min_correlation, norm):
        union(int(i), int(j))

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    clusters: list[Cluster] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: ids[i])
        first = members[0]
        out = []
        for i in members:
            same = digests[i] == digests[first]
            corr = 1.0 if same else _correlation(thumbs, has_thumb, first, i, norm)
            kind = "first" if i == first else ("exact" if same else "near")
            out.append(Member(ids[i], paths[i], kind, int(np.bitwise_count(codes[i] ^ codes[first])), corr))
        clusters.append(Cluster(0, tuple(out)))
    clusters.sort(key=lambda c: c.first.id)
    clusters = [Cluster(k, c.members) for k, c in enumerate(clusters)]
    result = DedupResult(clusters, len(ids) + len(errors), errors)
    if result.num_near:
        result.warnings += _look_alike_warning(thumbs[has_thumb], min_correlation, norm)
    return result


def _look_alike_warning(thumbs: np.ndarray, min_correlation: float, norm: float) -> list[str]:
    """A warning when different images of the set correlate almost as well as near copies must.

    Fundus photos share one black field of view and one vignette: some of CHASE_DB1's
    different eyes correlate at 0.98, and its near clusters are different pictures.
    """
    rng = np.random.default_rng(0)
    sample = thumbs[np.sort(rng.choice(len(thumbs), min(len(thumbs), _LOOK_ALIKE_SAMPLE), replace=False))]
    centred = sample.astype(np.float32) + 0.5
    pairs = (centred @ centred.T / norm)[np.triu_indices(len(sample), 1)]
    if len(pairs) < _LOOK_ALIKE_PAIRS:
        return []
    # The median, which the copies among the pairs hardly move (CHASE_DB1 0.93, DRIVE 0.87, CamVid 0.45).
    typical = float(np.median(pairs))
    if typical < min_correlation - _LOOK_ALIKE_MARGIN:
        return []
    return [f"the images of this set look alike at thumbnail scale: half of {len(pairs)} sampled pairs correlate "
            f"at {typical:.3f} or more, where near copies need {min_correlation:g} (photos of one layout, such as "
            "fundus images); near clusters may hold different pictures: check them (correlation column, preview) "
            "or raise --min-correlation"]


@dataclass
class _HashTable:
    """Every image's hashes in flat arrays: about 1.1 KB an image, where objects would take several."""

    ok: np.ndarray
    digests: list[bytes]
    codes: np.ndarray
    has_thumb: np.ndarray
    thumbs: np.ndarray  # rank - 128, int8


def _hash_all(paths: Sequence[Path], executor: Executor | None, quiet: bool) -> tuple[_HashTable, list[str]]:
    n = len(paths)
    table = _HashTable(np.zeros(n, bool), [b""] * n, np.zeros(n, np.uint64), np.zeros(n, bool),
                       np.zeros((n, THUMB * THUMB), np.int8))
    errors: list[str] = []
    batches = range(0, n, _HASH_BATCH)
    # In batches, so that per-image result objects never pile up for the whole dataset.
    for b, start in enumerate(batches):
        desc = "hashing" if len(batches) == 1 else f"hashing {b + 1}/{len(batches)}"
        results = run_items(_Hasher(), [str(p) for p in paths[start:start + _HASH_BATCH]], executor=executor,
                            on_error="skip", desc=desc, quiet=quiet, unit="image")
        for k, r in enumerate(results, start):
            if r.error is not None:
                errors.append(r.error)
                continue
            h = r.value
            table.ok[k] = True
            table.digests[k] = bytes.fromhex(h.digest)
            table.codes[k] = h.dhash
            if h.ranks is not None:
                table.has_thumb[k] = True
                table.thumbs[k] = np.frombuffer(h.ranks, np.uint8).view(np.int8) ^ np.int8(-128)
    return table, errors


def _items(source, exclude: Sequence[str]) -> tuple[list[str], list[Path]]:
    if isinstance(source, Manifest):
        rows: Sequence[ManifestRow] = require_rows(source).rows
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            root = Path(os.path.abspath(path))
            rels = list(walk_files(root, io.IMAGE_EXTENSIONS, exclude=exclude))
            if not rels:
                raise DataprepError(path, "no image files in this folder")
            return [os.path.splitext(r)[0] for r in rels], [root / r for r in rels]
        if not path.exists():
            raise UsageError(path, "no such manifest or folder")
        rows = require_rows(read_manifest(path)).rows
    else:
        rows = source
    return [r.id for r in rows], [Path(r.image) for r in rows]


def _near_pairs(codes: np.ndarray, has_thumb: np.ndarray, thumbs: np.ndarray, max_distance: int,
                min_correlation: float, norm: float):
    """Index pairs (i < j) within `max_distance` dHash bits whose thumbnails correlate enough."""
    n = len(codes)
    candidates = np.flatnonzero(has_thumb)
    if len(candidates) < 2:
        return
    mask = np.uint64((1 << _BLOCK_BITS) - 1)
    keys = _scatter_bits(codes[candidates])
    close = []
    for b in range(_BLOCKS):
        values = (keys >> np.uint64(b * _BLOCK_BITS)) & mask
        order = np.argsort(values, kind="stable")
        sorted_values, owner = values[order], candidates[order]
        for flip in [0] + [1 << bit for bit in range(_BLOCK_BITS)]:
            query = sorted_values ^ np.uint64(flip)
            lo = np.searchsorted(sorted_values, query, "left")
            counts = np.searchsorted(sorted_values, query, "right") - lo
            # Bounded pieces: photos of one kind crowd some buckets, and a piece's pairs are expanded at once.
            ends = np.cumsum(counts)
            start = 0
            while start < len(query):
                stop = int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _PAIRS_PER_PIECE, "right"))
                stop = max(stop, start + 1)
                c = counts[start:stop]
                total = int(c.sum())
                if total:
                    qi = np.repeat(owner[start:stop], c)
                    offset = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
                    j = owner[np.repeat(lo[start:stop], c) + offset]
                    keep = (qi < j) & (np.bitwise_count(codes[qi] ^ codes[j]) <= max_distance)
                    if keep.any():
                        close.append(qi[keep].astype(np.int64) * n + j[keep])
                start = stop
    if not close:
        return
    pairs = np.unique(np.concatenate(close))
    i, j = pairs // n, pairs % n
    for s in range(0, len(i), _PAIRS_PER_DOT):
        ii, jj = i[s:s + _PAIRS_PER_DOT], j[s:s + _PAIRS_PER_DOT]
        # Stored values are rank - 128 (mean -0.5): undo the offset before the dot product.
        corr = np.einsum("ij,ij->i", thumbs[ii].astype(np.float32) + 0.5, thumbs[jj].astype(np.float32) + 0.5) / norm
        ok = corr >= min_correlation
        yield from zip(ii[ok], jj[ok])


def _scatter_bits(codes: np.ndarray) -> np.ndarray:
    """The codes with their bits in a fixed shuffled order, for cutting into blocks.

    Neighbouring dHash bits come from neighbouring pixels and agree more often than
    not (sky, road), so blocks of adjacent bits crowd a few buckets; blocks of
    scattered bits fill them about 4x more evenly (measured on 100k photo-like
    images). Any fixed order keeps the pigeonhole argument, distances are unchanged.
    """
    bits = np.unpackbits(codes.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    return np.packbits(np.ascontiguousarray(bits[:, _BIT_ORDER]), axis=1, bitorder="little").view("<u8").ravel()


def _correlation(thumbs: np.ndarray, has_thumb: np.ndarray, a: int, b: int, norm: float) -> float:
    if not (has_thumb[a] and has_thumb[b]):
        return float("nan")
    return float(np.dot(thumbs[a].astype(np.float64) + 0.5, thumbs[b].astype(np.float64) + 0.5) / norm)


# --------------------------------------------------------------------------- outputs


def write_clusters(result: DedupResult, path: io.PathLike) -> Path:
    """CSV, one row per image in a cluster: cluster,id,image,kind,distance,correlation (paths relative to the CSV)."""
    path = Path(path)
    base = Path(os.path.abspath(path.parent))
    with io.atomic_open(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["cluster", "id", "image", "kind", "distance", "correlation"])
        for c in result.clusters:
            for m in c.members:
                rel = Path(os.path.relpath(os.path.abspath(m.image), base)).as_posix()
                writer.writerow([c.index, m.id, rel, m.kind, m.distance, f"{m.correlation:.4f}"])
    return path


def with_groups(rows: Sequence[ManifestRow], result: DedupResult) -> list[ManifestRow]:
    """Rows with `group` (the id of the cluster's first image, or the row's own id) and `duplicate_of` columns."""
    first = result.first_of()
    return [r.with_extra(group=first.get(r.id, r.id), duplicate_of=first.get(r.id, "")) for r in rows]


def duplicates_across_splits(rows: Sequence[ManifestRow]) -> list[str]:
    """A warning when a duplicate cluster (`duplicate_of`) holds rows of several `split`s: the dataset's own
    validation or test images are copies of images of another split."""
    split_of = {r.id: r.extra.get(SPLIT_COLUMN, "") for r in rows}
    spans: dict[str, set[str]] = {}
    for r in rows:
        first = r.extra.get("duplicate_of")
        if first and first in split_of:
            spans.setdefault(first, {split_of[first]}).add(split_of[r.id])
    crossing = sorted(first for first, splits in spans.items() if len(splits) > 1)
    if not crossing:
        return []
    named = " and ".join(sorted(spans[crossing[0]]))
    return [f"{len(crossing)} of {len(spans)} duplicate clusters hold images of several splits, e.g. "
            f"{crossing[0]!r} in {named}: those splits share images, so scores on one are not held out from "
            "the other"]


def duplicates_across_folds(rows: Sequence[ManifestRow], folds: Sequence[int]) -> list[str]:
    """A warning when rows marked `duplicate_of` another row sit in a different fold from it."""
    if not any(r.extra.get("duplicate_of") for r in rows):
        return []
    fold_of = {r.id: int(f) for r, f in zip(rows, folds)}
    split = sorted({r.extra["duplicate_of"] for r in rows
                    if r.extra.get("duplicate_of") in fold_of and fold_of[r.id] != fold_of[r.extra["duplicate_of"]]})
    if not split:
        return []
    clusters = len({r.extra["duplicate_of"] for r in rows if r.extra.get("duplicate_of")})
    return [f"{len(split)} of {clusters} duplicate clusters (duplicate_of column) span several folds, e.g. "
            f"{split[0]!r}; split with --group-column group to keep each cluster in one fold"]
