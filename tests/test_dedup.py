"""`dataprep dedup`: exact and near-duplicate images, groups for kfold, and the kfold warning."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from dataprep import io
from dataprep.dedup import MAX_DISTANCE, find_duplicates, hash_image, with_groups
from dataprep.manifest import Manifest, ManifestRow, read_manifest, write_manifest
from dataprep.splits import split_folds


def _scene(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A photo-like picture: smooth random shapes at a few scales plus fine grain."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for cells, weight in ((3, 90.0), (6, 45.0), (12, 20.0)):
        field = rng.normal(size=(cells, cells, 3)).astype(np.float32)
        img += weight * cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img + 128, 0, 255).astype(np.uint8)


def _texture(seed: int, size: int = 512) -> np.ndarray:
    """One large fine-grained texture (the same stochastic process everywhere)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size // 4, size // 4, 3)).astype(np.float32)
    return cv2.resize(base, (size, size), interpolation=cv2.INTER_NEAREST).astype(np.uint8)


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "images"
    for s in range(6):
        io.write_mask(root / f"scene{s}.png", _scene(s))
    a = _scene(0)
    io.write_mask(root / "copy_brighter.png", np.clip(a.astype(int) + 45, 0, 255).astype(np.uint8))
    b = _scene(1)
    io.write_mask(root / "copy_lowcontrast.png", ((b.astype(np.float32) - 128) * 0.6 + 110).astype(np.uint8))
    c = _scene(2)
    io.write_mask(root / "copy_resized.png", cv2.resize(c, (100, 75), interpolation=cv2.INTER_AREA))
    io.write_image(root / "copy_reencoded.jpg", _scene(3), quality=70)
    shutil.copyfile(root / "scene4.png", root / "copy_exact.png")
    tex = _texture(7)
    io.write_mask(root / "texture_a.png", tex[:128, :128])
    io.write_mask(root / "texture_b.png", tex[256:384, 256:384])
    io.write_mask(root / "texture_c.png", tex[:128, 384:512])
    io.write_mask(root / "flat_a.png", np.full((40, 40, 3), 90, np.uint8))
    io.write_mask(root / "flat_b.png", np.full((40, 40, 3), 200, np.uint8))
    return root


def _clusters(result) -> set[frozenset[tuple[str, str]]]:
    return {frozenset((m.id, m.kind) for m in c.members) for c in result.clusters}


def test_finds_brightness_contrast_resize_reencode_and_exact_copies_only(tree):
    result = find_duplicates(tree, quiet=True)
    assert _clusters(result) == {
        frozenset({("copy_brighter", "first"), ("scene0", "near")}),
        frozenset({("copy_lowcontrast", "first"), ("scene1", "near")}),
        frozenset({("copy_resized", "first"), ("scene2", "near")}),
        frozenset({("copy_reencoded", "first"), ("scene3", "near")}),
        frozenset({("copy_exact", "first"), ("scene4", "exact")}),
    }
    assert result.num_images == 16 and not result.errors
    # Textures of one process and flat pictures of different grays are not copies of each other.
    ids = {m.id for c in result.clusters for m in c.members}
    assert not ids & {"texture_a", "texture_b", "texture_c", "flat_a", "flat_b", "scene5"}


def test_measures_against_independent_numpy(tree):
    """dHash bits and thumbnail correlation recomputed here without the code under test."""
    def gray(path):
        return io.read_image(path)[..., :3].astype(np.float32).mean(-1)

    def dhash(g):
        small = cv2.resize(cv2.resize(g, (32, 32), interpolation=cv2.INTER_AREA), (9, 8), interpolation=cv2.INTER_AREA)
        return sum(1 << i for i, bit in enumerate((small[:, 1:] > small[:, :-1]).ravel()) if bit)

    for name in ("scene0.png", "copy_brighter.png", "texture_a.png"):
        assert hash_image(tree / name).dhash == dhash(gray(tree / name))

    def spearman(p, q):
        a = cv2.resize(gray(p), (32, 32), interpolation=cv2.INTER_AREA).ravel()
        b = cv2.resize(gray(q), (32, 32), interpolation=cv2.INTER_AREA).ravel()
        ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
        return np.corrcoef(ra, rb)[0, 1]

    result = find_duplicates(tree, quiet=True)
    member = next(m for c in result.clusters for m in c.members if m.id == "scene0")
    assert member.correlation == pytest.approx(spearman(tree / "copy_brighter.png", tree / "scene0.png"), abs=2e-3)
    assert spearman(tree / "texture_a.png", tree / "texture_b.png") < 0.5


def test_index_finds_every_pair_within_max_distance():
    """Multi-index lookup against a brute-force all-pairs check on random 64-bit codes."""
    from dataprep.dedup import THUMB, _near_pairs

    rng = np.random.default_rng(0)
    n = 3000
    codes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    codes ^= rng.integers(0, 2, n).astype(np.uint64) << np.uint64(63)  # the top bit too
    for i in range(0, 600, 2):  # plant close pairs: flip up to MAX_DISTANCE random bits
        bits = rng.choice(64, rng.integers(0, MAX_DISTANCE + 1), replace=False)
        codes[i + 1] = codes[i] ^ np.uint64(sum(1 << int(b) for b in bits))
    thumbs = np.zeros((n, THUMB * THUMB), np.int8)
    found = {(int(i), int(j)) for i, j in _near_pairs(codes, np.ones(n, bool), thumbs, MAX_DISTANCE, -1.0, 1.0)}
    dist = np.bitwise_count(codes[:, None] ^ codes[None, :])
    brute = {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(dist <= MAX_DISTANCE, 1)))}
    assert found == brute and len(brute) >= 300


def test_groups_keep_duplicates_in_one_fold_and_kfold_warns_otherwise(tree, tmp_path):
    rows = [ManifestRow(p.stem, p, None, 8, 8) for p in sorted(tree.iterdir())]
    grouped = with_groups(rows, find_duplicates(Manifest(rows), quiet=True))
    by_id = {r.id: r for r in grouped}
    assert by_id["scene0"].extra == {"group": "copy_brighter", "duplicate_of": "copy_brighter"}
    assert by_id["scene5"].extra == {"group": "scene5", "duplicate_of": ""}
    pairs = [("scene0", "copy_brighter"), ("scene1", "copy_lowcontrast"), ("scene2", "copy_resized"),
             ("scene3", "copy_reencoded"), ("scene4", "copy_exact")]
    warned = [split_folds(Manifest(grouped), 4, mode="plain", seed=s).warnings for s in range(4)]
    assert any(any("duplicate clusters (duplicate_of column) span several folds" in w for w in ws) for ws in warned)
    for seed in range(4):
        result = split_folds(Manifest(grouped), 4, mode="plain", seed=seed, group_column="group")
        fold = {r.id: r.extra["fold"] for r in result.manifest}
        assert all(fold[a] == fold[b] for a, b in pairs)
        assert not any("span several folds" in w for w in result.warnings)


def test_cli_writes_clusters_and_grouped_manifest(tree, tmp_path, cli):
    manifest = tmp_path / "m.csv"
    write_manifest([ManifestRow(p.stem, p, None, 8, 8) for p in sorted(tree.iterdir())], manifest)
    res = cli("dedup", manifest, "-o", tmp_path / "dups.csv", "--manifest-out", tmp_path / "g.csv", "-q")
    assert res.exit_code == 0, res.output
    assert "5 clusters: 1 exact and 4 near copies" in res.output
    with open(tmp_path / "dups.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert {(r["cluster"], r["id"], r["kind"]) for r in table if r["id"].startswith("copy_exact")} == {
        ("1", "copy_exact", "first")}
    assert [r["image"] for r in table if r["id"] == "scene4"] == ["images/scene4.png"]
    assert read_manifest(tmp_path / "g.csv")[0].extra.keys() == {"group", "duplicate_of"}
    res = cli("kfold", tmp_path / "g.csv", "-k", "2", "--mode", "plain", "--group-column", "group", "-o",
              tmp_path / "splits", "-q")
    assert res.exit_code == 0, res.output


def test_scan_duplicates_flag_adds_group_columns(tmp_path, cli):
    from dataprep.scan import scan

    for s in range(3):
        io.write_mask(tmp_path / "images" / f"s{s}.png", _scene(s))
        io.write_mask(tmp_path / "masks" / f"s{s}.png", np.zeros((96, 128), np.uint8))
    io.write_mask(tmp_path / "images/s0_copy.png", np.clip(_scene(0).astype(int) - 30, 0, 255).astype(np.uint8))
    io.write_mask(tmp_path / "masks/s0_copy.png", np.zeros((96, 128), np.uint8))
    result = scan(tmp_path, duplicates=True, quiet=True)
    assert {r.id: r.extra["group"] for r in result.rows} == {"s0": "s0", "s0_copy": "s0", "s1": "s1", "s2": "s2"}
    assert result.duplicates is not None and len(result.duplicates.clusters) == 1
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "--duplicates", "-q")
    assert res.exit_code == 0, res.output
    assert "duplicates: s0 = s0_copy (near, r=" in res.output
    assert "duplicate clusters  1 (0 exact, 1 near copies)" in res.output
    assert {r.id: r.extra["duplicate_of"] for r in read_manifest(tmp_path / "m.csv")} == {
        "s0": "", "s0_copy": "s0", "s1": "", "s2": ""}


def test_scan_duplicates_warns_when_a_cluster_spans_splits(tmp_path, cli):
    """A test image that is a copy of a training image (Kaggle sets shipped that way): its score is not held out.
    scan --duplicates gave the clusters, and nothing said that one crossed from train into test."""
    from dataprep.scan import scan

    for split, names in (("train", ("s0", "s1")), ("test", ("s2",))):
        for name in names:
            io.write_mask(tmp_path / f"{split}_images" / f"{name}.png", _scene(int(name[1])))
            io.write_mask(tmp_path / f"{split}_masks" / f"{name}.png", np.zeros((96, 128), np.uint8))
    copy = np.clip(_scene(0).astype(int) - 30, 0, 255).astype(np.uint8)
    io.write_mask(tmp_path / "test_images" / "t0.png", copy)
    io.write_mask(tmp_path / "test_masks" / "t0.png", np.zeros((96, 128), np.uint8))
    result = scan(tmp_path, duplicates=True, quiet=True)
    assert {r.image.stem: r.extra["split"] for r in result.rows} == {"s0": "train", "s1": "train", "s2": "test",
                                                                      "t0": "test"}
    assert result.notes == ["1 of 1 duplicate clusters hold images of several splits, e.g. 'test_images/t0' in "
                            "test and train: those splits share images, so scores on one are not held out from "
                            "the other"]
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "--duplicates", "-q")
    assert res.exit_code == 0 and "warning: 1 of 1 duplicate clusters hold images of several splits" in res.output
    res = cli("dedup", tmp_path / "m.csv", "-o", tmp_path / "dups.csv", "-q")
    assert res.exit_code == 0 and "warning: 1 of 1 duplicate clusters hold images of several splits" in res.output
    io.write_mask(tmp_path / "train_images" / "t0.png", copy)  # the copy in its own split: no warning
    io.write_mask(tmp_path / "train_masks" / "t0.png", np.zeros((96, 128), np.uint8))
    (tmp_path / "test_images" / "t0.png").unlink(), (tmp_path / "test_masks" / "t0.png").unlink()
    assert scan(tmp_path, duplicates=True, quiet=True).notes == []


def test_unreadable_image_is_reported_not_fatal(tree, cli, tmp_path):
    (tree / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = find_duplicates(tree, quiet=True)
    assert len(result.errors) == 1 and "broken.png" in result.errors[0] and len(result.clusters) == 5
    res = cli("dedup", tree, "-o", tmp_path / "d.csv", "-q")
    assert res.exit_code == 1 and (tmp_path / "d.csv").is_file()


def test_a_missing_image_of_a_manifest_is_one_plain_line_and_left_out_of_the_count(tree, cli, tmp_path):
    """It read `unreadable (left out): 'PATH': FileNotFoundError: [Errno 2] ...: 'PATH'` and "17 images" of 16 read."""
    manifest = tmp_path / "m.csv"
    moved = tree / "moved.png"
    write_manifest([ManifestRow(p.stem, p, None, 8, 8) for p in [*sorted(tree.iterdir()), moved]], manifest)
    res = cli("dedup", manifest, "-o", tmp_path / "d.csv", "-q")
    assert res.exit_code == 1 and (tmp_path / "d.csv").is_file()
    assert res.stderr.splitlines() == [f"unreadable (left out): {moved}: file not found"]
    assert res.stdout.splitlines()[-1].startswith("17 images (1 unreadable, left out), 5 clusters: ")


def test_close_dhash_but_different_detail_is_rejected_by_correlation(tmp_path):
    """Same coarse layout (so the 9x8 dHash is close), different detail at thumbnail scale: not a copy."""
    coarse = np.random.default_rng(3).integers(40, 215, (8, 9)).astype(np.float32)
    base = cv2.resize(coarse, (288, 256), interpolation=cv2.INTER_NEAREST)
    for s in (1, 2):
        fine = np.random.default_rng(s).normal(0, 35, (32, 32)).astype(np.float32)
        img = np.clip(base + cv2.resize(fine, (288, 256), interpolation=cv2.INTER_NEAREST), 0, 255).astype(np.uint8)
        io.write_mask(tmp_path / f"d{s}.png", np.repeat(img[..., None], 3, 2))
    a, b = hash_image(tmp_path / "d1.png"), hash_image(tmp_path / "d2.png")
    assert bin(a.dhash ^ b.dhash).count("1") <= MAX_DISTANCE  # a candidate for the index...
    assert find_duplicates(tmp_path, quiet=True).clusters == []  # ...that the correlation turns down
    assert len(find_duplicates(tmp_path, min_correlation=0.0, quiet=True).clusters) == 1


def test_same_clusters_in_small_hash_batches_and_worker_processes(tree, monkeypatch):
    from dataprep import dedup
    from dataprep.executor import ProcessExecutor

    whole = find_duplicates(tree, quiet=True)
    monkeypatch.setattr(dedup, "_HASH_BATCH", 3)
    with ProcessExecutor(2) as ex:
        batched = find_duplicates(tree, executor=ex, quiet=True)
    assert batched.clusters == whole.clusters and len(whole.clusters) == 5


def test_the_grouped_manifest_in_another_folder_takes_the_palette_along(tree, tmp_path, cli):
    """kfold and train read the palette beside the manifest they get: the grouped manifest written elsewhere
    found a raw-mask palette of 256 classes there (2-class label maps), or none."""
    (tmp_path / "labels").mkdir()
    manifest = tmp_path / "labels/manifest.csv"
    write_manifest([ManifestRow(p.stem, p, None, 8, 8) for p in sorted(tree.iterdir())], manifest)
    (tmp_path / "labels/palette.json").write_text('{"name": "two", "classes": [{"name": "a", "color": [0, 0, 0]}]}')
    (tmp_path / "work").mkdir()
    res = cli("dedup", manifest, "-o", tmp_path / "dups.csv", "--manifest-out", tmp_path / "work/g.csv", "-q")
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    assert (tmp_path / "work/palette.json").read_bytes() == (tmp_path / "labels/palette.json").read_bytes()
    (tmp_path / "work/palette.json").write_text('{"name": "raw", "classes": [{"name": "b", "color": [1, 1, 1]}]}')
    res = cli("dedup", manifest, "-o", tmp_path / "dups.csv", "--manifest-out", tmp_path / "work/g.csv", "-q")
    assert (f"warning: {tmp_path / 'work/palette.json'} is not the palette beside {manifest} "
            f"({tmp_path / 'labels/palette.json'})") in res.output
    assert '"raw"' in (tmp_path / "work/palette.json").read_text()  # never overwritten


def _fundus(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A fundus-like photo: one bright disc with a vignette on black, and a little detail of its own."""
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (h / 2))
    detail = cv2.resize(np.random.default_rng(seed).normal(size=(8, 8)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    img = np.where(r < 0.95, 200 * (1 - 0.6 * r**2) + 15 * detail, 0)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, 2)


def test_near_clusters_of_look_alike_photos_are_warned_of(tmp_path, tree, cli):
    """Different photos of one layout (CHASE_DB1's eyes) correlate like near copies: the clusters are said to be
    uncertain, where photos of varied scenes with real copies get no such word."""
    for s in range(12):
        io.write_mask(tmp_path / "eyes" / f"eye{s}.png", _fundus(s))
    result = find_duplicates(tmp_path / "eyes", quiet=True)
    assert result.num_near == 11  # the limit of thumbnails, said rather than mended
    assert len(result.warnings) == 1 and "look alike" in result.warnings[0]
    assert "66 sampled pairs" in result.warnings[0]
    res = cli("dedup", tmp_path / "eyes", "-o", tmp_path / "d.csv", "-q")
    assert res.exit_code == 0 and "warning: the images of this set look alike" in res.stderr
    scenes = find_duplicates(tree, quiet=True)
    assert scenes.num_near == 4 and scenes.warnings == []
