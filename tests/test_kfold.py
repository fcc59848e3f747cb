"""`dataprep kfold`: coverage, disjointness, groups, stratification quality, errors, output files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from helpers import BackwardsExecutor  # pytest puts tests/ on sys.path
from hypothesis import strategies as st

from dataprep import io
from dataprep.errors import DataprepError, UsageError
from dataprep.manifest import Manifest, ManifestRow, read_manifest, write_manifest
from dataprep.splits import iterative_stratification, kfold, split_folds

# --------------------------------------------------------------------------- the assignment


def test_every_unit_gets_exactly_one_fold_and_sizes_balance():
    rng = np.random.default_rng(0)
    folds = iterative_stratification(np.zeros((23, 0)), 5, rng)
    assert folds.shape == (23,) and set(folds.tolist()) == set(range(5))
    sizes = np.bincount(folds, minlength=5)
    assert sizes.max() - sizes.min() <= 1


def test_single_label_counts_balance_within_one_per_fold():
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 4, 60)
    labels = np.eye(4, dtype=int)[classes]
    folds = iterative_stratification(labels, 3, np.random.default_rng(2))
    for c in range(4):
        per_fold = np.bincount(folds[classes == c], minlength=3)
        assert per_fold.max() - per_fold.min() <= 1


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 40), k=st.integers(2, 6), n_labels=st.integers(0, 5), seed=st.integers(0, 2**32 - 1))
@example(n=23, k=5, n_labels=5, seed=749900)  # 5, 5, 3, 5, 5: each fold wanted 4.6 and four took a fifth
def test_any_labels_give_a_full_partition_with_sizes_within_one(n, k, n_labels, seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, n_labels)) < rng.random(n_labels)).astype(int)
    folds = iterative_stratification(labels, k, np.random.default_rng(seed))
    assert folds.shape == (n,) and folds.min() >= 0 and folds.max() < k
    sizes = np.bincount(folds, minlength=k)
    assert sizes.max() - sizes.min() <= 1


def _reference_stratification(labels, k, rng, sizes=None):
    """The assignment written with numpy arrays throughout, one placement at a time (the definition)."""
    labels = np.asarray(labels)
    labels = labels.astype(np.int8) if labels.dtype.kind == "b" else labels
    labels = labels if labels.dtype.kind == "i" else labels.astype(np.float64)
    n_units = labels.shape[0]
    sizes = np.ones(n_units) if sizes is None else np.asarray(sizes, dtype=np.float64)
    order = rng.permutation(n_units)
    labels, sizes = labels[order], sizes[order]
    has = labels > 0
    want_size = np.full(k, sizes.sum() / k)
    want_label = np.outer(np.full(k, 1.0 / k), labels.sum(axis=0))
    fold = np.full(n_units, -1)
    left = np.ones(n_units, dtype=bool)

    def place(unit, need):
        candidates = np.flatnonzero(want_size >= sizes[unit] - 1e-9)  # the folds it fits, then half-overshoots
        if candidates.size == 0:
            candidates = np.flatnonzero(want_size > sizes[unit] / 2)
        if candidates.size == 0:
            candidates = np.flatnonzero(want_size == want_size.max())
        if need is not None:
            need = need[candidates]
            candidates = candidates[need == need.max()]
        if candidates.size > 1:
            by_size = want_size[candidates]
            candidates = candidates[by_size == by_size.max()]
        f = int(candidates[rng.integers(candidates.size)]) if candidates.size > 1 else int(candidates[0])
        fold[unit], left[unit] = f, False
        want_size[f] -= sizes[unit]
        want_label[f] -= labels[unit]

    while left.any():
        remaining = has[left].sum(axis=0)
        if not remaining.any():
            rest = np.flatnonzero(left)
            for unit in rest[np.argsort(-sizes[rest], kind="stable")]:
                place(int(unit), None)
            break
        rarest = np.flatnonzero(remaining == remaining[remaining > 0].min())
        label = int(rarest[rng.integers(rarest.size)]) if rarest.size > 1 else int(rarest[0])
        units = np.flatnonzero(has[:, label] & left)
        for unit in units[np.argsort(-labels[units, label], kind="stable")]:
            place(int(unit), want_label[:, label])
    out = np.empty(n_units, dtype=np.int64)
    out[order] = fold
    return out


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 120), k=st.integers(2, 7), n_labels=st.integers(0, 8),
       kind=st.sampled_from(["flags", "groups", "bool"]), seed=st.integers(0, 2**32 - 1))
def test_the_assignment_is_the_reference_one_fold_for_fold(n, k, n_labels, kind, seed):
    """Same folds as the array-at-a-time definition, for single images, groups of several sizes and bool input."""
    rng = np.random.default_rng(seed)
    sizes = None
    if kind == "flags":
        labels = (rng.random((n, n_labels)) < rng.random(n_labels)).astype(np.int8)
    elif kind == "groups":
        sizes = rng.integers(1, 20, n)
        labels = np.minimum(rng.integers(0, 4, (n, n_labels)) * (rng.random((n, n_labels)) < 0.4), sizes[:, None])
    else:
        labels = rng.random((n, n_labels)) < 0.1
    if k > n:
        k = n
    expected = _reference_stratification(labels, k, np.random.default_rng(seed), sizes)
    assert np.array_equal(iterative_stratification(labels, k, np.random.default_rng(seed), sizes), expected)


def test_weighted_units_keep_fold_sizes_close():
    sizes = np.array([9, 7, 6, 5, 5, 4, 3, 3, 2, 1, 1, 1])
    folds = iterative_stratification(np.zeros((12, 0)), 3, np.random.default_rng(3), sizes)
    totals = np.bincount(folds, weights=sizes, minlength=3)
    assert totals.max() - totals.min() <= 2, totals  # 47 samples: perfect would be 16/16/15


# --------------------------------------------------------------------------- label maps on disk


def _write_set(root: Path, labels_per_image: list[list[int]], *, prefix=lambda i: "", size=(12, 10)) -> Path:
    """One image and label map per entry; each label map holds the listed classes (stripes)."""
    w, h = size
    rows = []
    for i, classes in enumerate(labels_per_image):
        name = f"{prefix(i)}img_{i:03d}"
        image_path = root / "images" / f"{name}.png"
        io.write_image(image_path, np.full((h, w, 3), i % 256, np.uint8))
        mask = np.full((h, w), 255, np.uint8)
        for j, c in enumerate(classes):
            mask[:, j * w // len(classes) : (j + 1) * w // len(classes)] = c
        mask_path = root / "labels" / f"{name}.png"
        io.write_mask(mask_path, mask)
        rows.append(ManifestRow(name, image_path, mask_path, w, h))
    return write_manifest(rows, root / "manifest.csv")


def _random_labels(n: int, seed: int, classes: int = 5) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [sorted(set(rng.integers(0, classes, int(rng.integers(1, 4))).tolist())) for _ in range(n)]


def _binary_set(root: Path, n: int = 90) -> Path:
    """Every label map holds background and foreground (CrackForest: cracks in 118 of 118), the foreground
    share ranging from under 1% to 40%, a few large ones among many small."""
    rng = np.random.default_rng(11)
    rows = []
    for i in range(n):
        share = rng.uniform(0.3, 0.4) if i % 15 == 0 else rng.uniform(0.005, 0.05)
        mask = (rng.random((60, 90)) < share).astype(np.uint8)
        mask[0, 0] = 1
        mask_path = root / "labels" / f"m{i:03d}.png"
        io.write_mask(mask_path, mask)
        rows.append(ManifestRow(f"m{i:03d}", root / "images" / f"m{i:03d}.png", mask_path, 90, 60))
    return write_manifest(rows, root / "manifest.csv")


def test_a_class_every_image_holds_is_balanced_by_its_pixels_and_seeds_still_differ(tmp_path):
    """Presence flags say nothing when every image has the class: CrackForest's folds all got 23-24 crack images
    and crack shares from 1.5% to 3.0% (32% off). Its pixels, in quarter-octave steps, balance it; the steps
    leave the seed ties to order, so another seed gives other folds."""
    path = _binary_set(tmp_path)
    dev = {mode: [split_folds(path, 5, mode=mode, seed=s, quiet=True).report.max_relative_deviation.pixel[1]
                  for s in range(4)] for mode in ("plain", "multilabel")}
    assert max(dev["multilabel"]) < 0.1 < min(dev["plain"])
    a, b = (split_folds(path, 5, seed=s, quiet=True).folds for s in (0, 1))
    pairs = np.triu_indices(len(a), 1)
    together_a = (a[:, None] == a[None, :])[pairs]
    together_both = together_a & (b[:, None] == b[None, :])[pairs]
    assert together_both.sum() / together_a.sum() < 0.5  # 1 would be the same folds under another numbering


@pytest.mark.parametrize("mode", ["plain", "stratified", "multilabel"])
def test_folds_are_disjoint_and_cover_every_row(tmp_path, mode):
    path = _write_set(tmp_path, _random_labels(17, seed=4))
    result = split_folds(path, 4, mode=mode, seed=1, quiet=True)
    ids = [r.id for r in read_manifest(path)]
    assert [r.id for r in result.manifest] == ids
    assert sorted(set(result.folds.tolist())) == [0, 1, 2, 3]
    assert [int(r.extra["fold"]) for r in result.manifest] == result.folds.tolist()
    sizes = np.bincount(result.folds)
    assert sizes.max() - sizes.min() <= 1
    assert result.report.num_samples == 17 and len(result.report.folds) == 4


def test_same_seed_same_folds_and_row_order_does_not_matter(tmp_path):
    path = _write_set(tmp_path, _random_labels(20, seed=5))
    manifest = read_manifest(path)
    a = split_folds(manifest, 5, mode="multilabel", seed=7, quiet=True)
    b = split_folds(manifest, 5, mode="multilabel", seed=7, quiet=True)
    assert a.folds.tolist() == b.folds.tolist()
    reversed_manifest = Manifest(manifest.rows[::-1], manifest.path)
    c = split_folds(reversed_manifest, 5, mode="multilabel", seed=7, quiet=True)
    assert {r.id: r.extra["fold"] for r in c.manifest} == {r.id: r.extra["fold"] for r in a.manifest}
    others = [split_folds(manifest, 5, mode="multilabel", seed=s, quiet=True).folds.tolist() for s in (8, 9, 10)]
    assert any(o != a.folds.tolist() for o in others)


@pytest.mark.parametrize("mode", ["plain", "stratified", "multilabel"])
def test_groups_never_straddle_folds(tmp_path, mode):
    cities = ["aachen", "bern", "cologne", "dresden", "erfurt", "freiburg", "goslar"]
    rng = np.random.default_rng(6)
    city_of = rng.integers(0, len(cities), 40)
    path = _write_set(tmp_path, _random_labels(40, seed=6), prefix=lambda i: f"{cities[city_of[i]]}_")
    result = split_folds(path, 3, mode=mode, group_by=r"images/([a-z]+)_", seed=2, quiet=True)
    fold_of_group: dict[str, set[int]] = {}
    for row in result.manifest:
        fold_of_group.setdefault(row.extra["group"], set()).add(int(row.extra["fold"]))
    assert set(fold_of_group) == {cities[c] for c in set(city_of.tolist())}
    assert all(len(f) == 1 for f in fold_of_group.values())
    assert result.report.num_groups == len(fold_of_group)


def test_group_column(tmp_path):
    path = _write_set(tmp_path, _random_labels(12, seed=7))
    manifest = read_manifest(path)
    rows = [r.with_extra(sequence=f"seq{i % 4}") for i, r in enumerate(manifest)]
    result = split_folds(Manifest(rows, manifest.path), 2, group_column="sequence", quiet=True)
    for s in range(4):
        assert len({int(r.extra["fold"]) for r in result.manifest if r.extra["sequence"] == f"seq{s}"}) == 1


def test_one_image_under_several_ids_stays_in_one_fold_and_is_warned(tmp_path):
    """Two overlapping manifests joined: one photo under two ids went to two folds (trained and validated on),
    exit 0, no word; also when grouped, the repeat joins its groups. A mask filled down to other images is
    named."""
    manifest = read_manifest(_write_set(tmp_path, _random_labels(24, seed=9)))
    rows = list(manifest.rows)
    copies = [ManifestRow(f"copy_{i}", rows[i].image, rows[i].mask, rows[i].width, rows[i].height)
              for i in range(0, 24, 3)]
    joined = Manifest(rows + copies, manifest.path)
    for seed in range(4):
        result = split_folds(joined, 4, seed=seed, quiet=True)
        fold_of_image: dict[str, set[int]] = {}
        for row, fold in zip(result.manifest, result.folds.tolist()):
            fold_of_image.setdefault(row.image_str, set()).add(fold)
        assert len(fold_of_image) == 24 and all(len(f) == 1 for f in fold_of_image.values())
    assert any("8 image file(s) are named by several rows" in w and "'img_000', 'copy_0'" in w and
               "kept in one fold" in w for w in result.warnings)
    # The folds do not depend on where the repeats stand (the first row's id named the joined unit).
    reordered = split_folds(Manifest(copies + rows, manifest.path), 4, seed=3, quiet=True)
    in_order = split_folds(joined, 4, seed=3, quiet=True)
    assert ({r.id: f for r, f in zip(reordered.manifest, reordered.folds.tolist())}
            == {r.id: f for r, f in zip(in_order.manifest, in_order.folds.tolist())})
    # Grouped: a copy of seq0's first image filed under seq5 makes seq0 and seq5 one unit.
    grouped_rows = [r.with_extra(sequence=f"seq{i // 4}") for i, r in enumerate(rows)] + [copies[0].with_extra(
        sequence="seq5")]
    for seed in range(4):
        grouped = split_folds(Manifest(grouped_rows, manifest.path), 3, group_column="sequence", seed=seed,
                              quiet=True)
        fold_of = {}
        for row, fold in zip(grouped.manifest, grouped.folds.tolist()):
            fold_of.setdefault(row.extra["sequence"], set()).add(fold)
        assert fold_of["seq0"] == fold_of["seq5"] and all(len(f) == 1 for f in fold_of.values())
    assert not any("image file(s)" in w for w in split_folds(manifest, 4, quiet=True).warnings)
    filled = [ManifestRow(r.id, r.image, rows[0].mask, r.width, r.height) for r in rows[:5]] + rows[5:]
    warned = split_folds(Manifest(filled, manifest.path), 4, quiet=True).warnings
    assert any("1 mask file(s) are the label map of different images" in w and "of 5 images" in w for w in warned)


def test_errors_k_too_large_and_regex_problems(tmp_path):
    path = _write_set(tmp_path, _random_labels(4, seed=8), prefix=lambda i: f"g{i % 2}_")
    with pytest.raises(UsageError, match="k=5 is larger than the number of samples"):
        split_folds(path, 5, quiet=True)
    with pytest.raises(UsageError, match="k=3 is larger than the number of groups"):
        split_folds(path, 3, group_by=r"(g\d)_", quiet=True)
    with pytest.raises(UsageError, match="matches none of the 4 image paths"):
        split_folds(path, 2, group_by=r"city_(\w+)", quiet=True)
    with pytest.raises(DataprepError, match=r"g1_img_001\.png: does not match"):
        split_folds(path, 2, group_by=r"g0_", quiet=True)
    with pytest.raises(UsageError, match="not a valid regular expression"):
        split_folds(path, 2, group_by=r"(unclosed", quiet=True)
    with pytest.raises(UsageError, match="no column 'city'"):
        split_folds(path, 2, group_column="city", quiet=True)
    with pytest.raises(UsageError, match="at least 2"):
        split_folds(path, 1, quiet=True)


def test_many_absent_classes_are_one_warning(tmp_path):
    """16-bit label maps of a 300-class palette holding 3 classes: kfold printed one warning per absent class."""
    labels = [[0, 1]] * 6 + [[0, 2]] * 4
    path = _write_set(tmp_path, labels)
    palette = {"name": "t", "ignore_index": 65535, "classes": [
        {"name": f"c{i}", "color": [i % 256, i // 256, 0], "index": i} for i in range(300)]}
    (tmp_path / "palette.json").write_text(json.dumps(palette))
    warnings = split_folds(path, 2, mode="multilabel", quiet=True).warnings
    absent = [w for w in warnings if "do not occur" in w]
    assert absent == ["297 classes do not occur in any image: 3 (c3), 4 (c4), 5 (c5), 6 (c6), 7 (c7), 8 (c8), "
                      "9 (c9), 10 (c10) and 289 more"]
    assert not any("does not occur" in w for w in warnings)


def test_rare_class_warning_names_the_class(tmp_path):
    labels = [[0, 1]] * 8 + [[0, 2]] * 2
    path = _write_set(tmp_path, labels)
    palette = {"name": "t", "ignore_index": 255, "classes": [
        {"name": n, "color": [i * 50, 0, 0], "index": i} for i, n in enumerate(["road", "car", "bicycle", "train"])]}
    (tmp_path / "palette.json").write_text(json.dumps(palette))
    result = split_folds(path, 5, mode="multilabel", quiet=True)
    assert any("bicycle" in w and "only 2 images" in w for w in result.warnings)
    assert any("train" in w and "does not occur" in w for w in result.warnings)
    assert not any("road" in w or "car" in w for w in result.warnings)
    # Each of the two bicycle images goes to a different fold.
    assert len({int(f) for f, lab in zip(result.folds, labels) if 2 in lab}) == 2


def test_report_numbers_match_the_folds(tmp_path):
    labels = _random_labels(15, seed=9)
    path = _write_set(tmp_path, labels)
    result = split_folds(path, 3, mode="multilabel", seed=3, quiet=True)
    report = result.report
    for f, entry in enumerate(report.folds):
        members = [lab for lab, fold in zip(labels, result.folds) if fold == f]
        assert entry.num_samples == len(members)
        assert list(entry.balance.image_count) == [sum(c in lab for lab in members) for c in range(5)]
    whole = np.array(report.whole.presence_fraction)
    for c in range(5):
        worst = max(abs(e.balance.presence_fraction[c] - whole[c]) / whole[c] for e in report.folds)
        assert report.max_relative_deviation.presence[c] == pytest.approx(worst)


# --------------------------------------------------------------------------- sample_data


def _sample_labels(sample_data: Path, out: Path) -> Path:
    """sample_data's colour masks -> index label maps (vectorised palette lookup), and a manifest."""
    palette = json.loads((sample_data / "palette.json").read_text())
    keys = {(c["color"][0] << 16) | (c["color"][1] << 8) | c["color"][2]: c["index"] for c in palette["classes"]}
    colours, indices = np.array(sorted(keys)), np.array([keys[k] for k in sorted(keys)], np.uint8)
    rows = []
    for image in sorted((sample_data / "images").rglob("*.jpg")):
        rel = image.relative_to(sample_data / "images").with_suffix("")
        rgb = io.read_mask(sample_data / "masks" / rel.with_suffix(".png")).astype(np.int64)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        pos = np.searchsorted(colours, packed)
        assert np.all(colours[np.minimum(pos, len(colours) - 1)] == packed), f"unknown colour in {rel}"
        label_path = out / "labels" / rel.with_suffix(".png")
        io.write_mask(label_path, indices[pos])
        rows.append(ManifestRow(rel.as_posix(), image, label_path, rgb.shape[1], rgb.shape[0]))
    (out / "palette.json").write_text(json.dumps(palette))
    return write_manifest(rows, out / "manifest.csv")


@pytest.fixture(scope="module")
def sample_labels(tmp_path_factory, sample_data) -> Path:
    if not (sample_data / "palette.json").exists():
        pytest.skip("sample_data not generated")
    return _sample_labels(sample_data, tmp_path_factory.mktemp("sample_labels"))


def test_multilabel_beats_plain_on_class_presence_deviation(sample_labels):
    manifest = read_manifest(sample_labels)
    assert len(manifest) == 32
    seeds = range(8)

    def mean_presence_deviation(mode: str) -> float:
        values = [split_folds(manifest, 5, mode=mode, seed=s, quiet=True)
                  .report.mean_max_relative_deviation.presence for s in seeds]
        return float(np.mean(values))

    assert mean_presence_deviation("multilabel") < mean_presence_deviation("plain")


def test_cli_writes_fold_files(sample_labels, tmp_path, cli):
    out = tmp_path / "splits"
    result = cli("kfold", sample_labels, "-k", "3", "--seed", "3", "--group-by", r"images/([a-z]+)/", "-o", out,
                 "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    assert "max dev images" in result.output and "person" in result.output
    by_domain = {(r.extra["group"], r.extra["fold"]) for r in read_manifest(out / "manifest.csv")}
    assert sorted(g for g, _ in by_domain) == ["downtown", "highway", "suburb"]
    # 3 domains (downtown, suburb, highway) cannot fill 4 folds.
    result = cli("kfold", sample_labels, "-k", "4", "--group-by", r"images/([a-z]+)/", "-o", tmp_path / "x", "-j", "1")
    assert result.exit_code == 2 and ("k=4 is larger than the number of groups (3: 'downtown', 'highway', "
                                      "'suburb' (from --group-by 'images/([a-z]+)/'))") in result.output

    out = tmp_path / "plain"
    assert cli("kfold", sample_labels, "-k", "4", "--mode", "plain", "-o", out, "-q").exit_code == 0
    whole = read_manifest(out / "manifest.csv")
    fold_of = {r.id: int(r.extra["fold"]) for r in whole}
    seen: list[str] = []
    for f in range(4):
        train = {r.id for r in read_manifest(out / f"fold_{f}" / "train.csv")}
        val = {r.id for r in read_manifest(out / f"fold_{f}" / "val.csv")}
        assert not train & val and train | val == set(fold_of)
        assert val == {i for i, fold in fold_of.items() if fold == f}
        seen += sorted(val)
        # Paths are rewritten relative to the fold folder and still point at the same files.
        assert {r.mask for r in read_manifest(out / f"fold_{f}" / "val.csv")} <= {r.mask for r in whole}
    assert sorted(seen) == sorted(fold_of)
    report = json.loads((out / "report.json").read_text())
    assert report["k"] == 4 and report["mode"] == "plain" and len(report["folds"]) == 4


def test_rerun_with_smaller_k_removes_stale_fold_folders(tmp_path):
    path = _write_set(tmp_path / "data", _random_labels(10, seed=10))
    kfold(path, tmp_path / "out", 5, quiet=True)
    kfold(path, tmp_path / "out", 3, quiet=True)
    assert sorted(p.name for p in (tmp_path / "out").glob("fold_*")) == ["fold_0", "fold_1", "fold_2"]


def _consistent_split(out: Path) -> dict[str, int]:
    """The fold of each id by manifest.csv, checked against every fold_i/{train,val}.csv (independently)."""
    fold_of = {r.id: r.fold for r in read_manifest(out / "manifest.csv")}
    for f in sorted(set(fold_of.values())):
        train = {r.id for r in read_manifest(out / f"fold_{f}" / "train.csv")}
        val = {r.id for r in read_manifest(out / f"fold_{f}" / "val.csv")}
        assert not train & val and val == {i for i, fold in fold_of.items() if fold == f}
        assert train == set(fold_of) - val
    return fold_of


def test_a_rerun_killed_while_writing_leaves_the_old_split_whole(tmp_path, monkeypatch):
    """A rerun with another seed killed midway left fold_1/train.csv of the new split beside val.csv of the old:
    672 ids in both, under the old report.json."""
    import dataprep.foldfiles as foldfiles

    path = _write_set(tmp_path / "data", _random_labels(30, seed=12))
    kfold(path, tmp_path / "out", 5, seed=0, quiet=True)
    before = _consistent_split(tmp_path / "out")
    report = (tmp_path / "out" / "report.json").read_bytes()
    write_lines, calls = foldfiles.write_lines, []

    def killed_at_the_fourth(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return write_lines(*args, **kwargs)

    monkeypatch.setattr(foldfiles, "write_lines", killed_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        kfold(path, tmp_path / "out", 5, seed=7, quiet=True)
    assert _consistent_split(tmp_path / "out") == before
    assert (tmp_path / "out" / "report.json").read_bytes() == report
    monkeypatch.setattr(foldfiles, "write_lines", write_lines)
    replace, moved = os.replace, []

    def killed_while_moving(source, target):
        if str(source).endswith(".next"):  # a staged manifest moved into place, not an atomic write's temp
            moved.append(target)
            if len(moved) == 3:
                raise KeyboardInterrupt
        replace(source, target)

    monkeypatch.setattr(foldfiles.os, "replace", killed_while_moving)
    with pytest.raises(KeyboardInterrupt):
        kfold(path, tmp_path / "out", 5, seed=7, quiet=True)
    assert not (tmp_path / "out" / "report.json").exists()  # incomplete, and says so
    monkeypatch.undo()
    kfold(path, tmp_path / "out", 5, seed=7, quiet=True)  # the rerun completes it
    assert _consistent_split(tmp_path / "out") != before and (tmp_path / "out" / "report.json").exists()


def test_output_must_not_overwrite_the_input_manifest(tmp_path):
    path = _write_set(tmp_path, _random_labels(6, seed=11))
    with pytest.raises(UsageError, match="overwrite an input"):
        kfold(path, tmp_path, 2, quiet=True)


# --------------------------------------------------------------------------- real data


@pytest.mark.integration
def test_camvid_grouped_by_sequence_never_straddles(shared_data, tmp_path, cli):
    root = shared_data("camvid_segnet/CamVid")
    rows = []
    for split in ("train", "val", "test"):
        for image in sorted((root / split).glob("*.png")):
            rows.append(ManifestRow(f"{split}/{image.stem}", image, root / f"{split}annot" / image.name, 480, 360))
    path = write_manifest(rows, tmp_path / "camvid.csv")
    out = tmp_path / "splits"
    result = cli("kfold", path, "-k", "3", "--ignore-index", "11", "--num-classes", "11",
                 "--group-by", r"([^/]+)_[^/]+$", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    folds_of: dict[str, set[str]] = {}
    for row in read_manifest(out / "manifest.csv"):
        folds_of.setdefault(row.extra["group"], set()).add(row.extra["fold"])
    assert set(folds_of) == {"0001TP", "0006R0", "0016E5", "Seq05VD"}
    assert all(len(f) == 1 for f in folds_of.values())
    report = json.loads((out / "report.json").read_text())
    assert report["num_groups"] == 4 and report["classes"]["num_classes"] == 11


def test_unreadable_masks_count_as_unlabelled(tmp_path):
    path = _write_set(tmp_path, _random_labels(8, seed=12))
    (tmp_path / "labels" / "img_003.png").write_bytes(b"broken")
    result = split_folds(path, 2, mode="multilabel", quiet=True)
    assert len(result.errors) == 1 and "img_003.png" in result.errors[0]
    assert sorted(np.bincount(result.folds).tolist()) == [4, 4]
    plain = split_folds(path, 2, mode="plain", quiet=True)
    assert not plain.errors and any("leaves out 1 row" in w for w in plain.warnings)
    assert plain.report.unreadable_masks == 1
    with pytest.raises(DataprepError, match="img_003.png"):
        split_folds(path, 2, on_error="fail", quiet=True)


def test_one_class_label_maps_warn(tmp_path, cli):
    """Real case: 0/255 vessel masks converted with `-p voc` hold background and ignore only; kfold
    split them silently and training then reported mIoU 100%. One class present is a warning."""
    manifest = _write_set(tmp_path / "one", [[0]] * 6)
    result = split_folds(manifest, 3)
    assert any("only one class (class_0)" in w for w in result.warnings)
    res = cli("kfold", manifest, "-k", "3", "-o", tmp_path / "folds", "-q")
    assert res.exit_code == 0 and "warning: only one class" in res.output
    two = _write_set(tmp_path / "two", [[0, 1]] * 6)
    assert not any("one class" in w for w in split_folds(two, 3).warnings)


def test_folds_carry_the_palette_beside_every_manifest(tmp_path):
    """Real case: kfold wrote no palette.json, so augment and preview on its manifests lost class
    names and colours (legend "0 0", "1 1"). Every manifest it writes gets the palette beside it."""
    from dataprep.palette import builtin_palette, resolve_palette

    manifest = _write_set(tmp_path / "set", _random_labels(9, 0, classes=3))
    builtin_palette("voc").save(tmp_path / "set" / "palette.json")
    kfold(manifest, tmp_path / "folds", 3)
    for where in ["manifest.csv", "fold_0/train.csv", "fold_2/val.csv"]:
        found = resolve_palette(None, tmp_path / "folds" / where)
        assert found is not None and found.names[:3] == ["background", "aeroplane", "bicycle"], where
    # Without a palette nothing is invented.
    bare = _write_set(tmp_path / "bare", _random_labels(9, 1, classes=3))
    kfold(bare, tmp_path / "bare_folds", 3)
    assert not (tmp_path / "bare_folds" / "palette.json").exists()


def test_fold_report_round_trips_and_refuses_what_it_is_not(tmp_path):
    from dataprep.foldreport import FoldReport, load_fold_report

    path = _write_set(tmp_path / "set", _random_labels(12, seed=3))
    result = kfold(path, tmp_path / "folds", 3, group_by=r"img_\d\d(\d)", seed=2)
    text = (tmp_path / "folds" / "report.json").read_text()
    report = load_fold_report(tmp_path / "folds")
    assert report == result.report and report.to_json() == text
    assert report.folds[1].fold == 1 and report.classes.num_classes == len(report.whole.pixel_fraction)
    plain = split_folds(_write_set(tmp_path / "bare", [[0]] * 4), 2, mode="plain").report
    assert FoldReport.from_json(plain.to_json()) == plain
    data = json.loads(text)
    del data["folds"][0]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataprepError, match=r"bad\.json: not a fold report .*folds must be a list of k=3") as err:
        load_fold_report(bad)
    assert "\n" not in str(err.value)
    bad.write_text(json.dumps({**json.loads(text), "k": "3"}))
    with pytest.raises(DataprepError, match="k must be an integer"):
        load_fold_report(bad)


def test_unreadable_masks_are_listed_in_row_order_however_the_chunks_finish(tmp_path):
    path = _write_set(tmp_path, _random_labels(80, seed=5))
    for i in (3, 41, 77):
        (tmp_path / "labels" / f"img_{i:03d}.png").write_bytes(b"broken")
    expected = split_folds(path, 2, mode="multilabel", quiet=True)
    result = split_folds(path, 2, mode="multilabel", executor=BackwardsExecutor(), quiet=True)
    assert [e.split(":")[0].rsplit("/", 1)[-1] for e in result.errors] == ["img_003.png", "img_041.png", "img_077.png"]
    assert result.errors == expected.errors and result.folds.tolist() == expected.folds.tolist()


def test_tiles_of_one_source_in_several_folds_are_a_warning(tmp_path):
    """SpaceNet tiles grouped by their tile row (--group-by on the tile name): overlapping tiles of one scene
    landed in train and val without a word. A tile manifest's own `group` column keeps them together."""
    rows = []
    for scene in ("a", "b", "c", "d"):
        for y in (0, 96, 192):
            image = tmp_path / "images" / f"{scene}_{y:03d}_000.png"
            io.write_image(image, np.zeros((8, 8, 3), np.uint8))
            rows.append(ManifestRow(f"{scene}_{y:03d}_000", image, None, 8, 8,
                                    {"source_id": scene, "tile_y": str(y), "tile_x": "0", "group": scene}))
    manifest = write_manifest(rows, tmp_path / "tiles.csv")
    by_row = split_folds(manifest, 3, mode="plain", group_by=r"_(\d{3})_\d{3}\.png$")
    assert len(by_row.warnings) == 1 and "tiles of 4 of 4 source images span several folds" in by_row.warnings[0]
    by_scene = split_folds(manifest, 2, mode="plain", group_column="group")
    assert not [w for w in by_scene.warnings if "source images" in w]


def test_windows_of_larger_scenes_named_so_in_several_folds_are_a_warning(tmp_path):
    """MMSegmentation's Potsdam crops (2_10_0_0_512_512.png: 512 px at stride 256) spread over the folds: the
    same pixels trained and validated, exit 0 and no word. The suggested --group-by keeps each scene whole."""
    rows = []
    for scene in ("2_10", "2_11", "3_10", "4_12"):
        for x in (0, 256, 512):
            for y in (0, 256):
                name = f"{scene}_{x}_{y}_{x + 512}_{y + 512}"
                image = tmp_path / "img_dir" / "train" / f"{name}.png"
                io.write_image(image, np.zeros((8, 8, 3), np.uint8))
                rows.append(ManifestRow(name, image, None, 8, 8))
    manifest = write_manifest(rows, tmp_path / "m.csv")
    (warning,) = split_folds(manifest, 2, mode="plain", quiet=True).warnings
    assert "named as windows of larger scenes" in warning and " of 4 scenes span several folds" in warning
    group_by = warning.split("--group-by '")[1].rstrip("'")
    grouped = split_folds(manifest, 2, mode="plain", group_by=group_by, quiet=True)
    assert not grouped.warnings and sorted(set(grouped.groups)) == ["2_10", "2_11", "3_10", "4_12"]
    others = []
    for i in range(len(rows) + 1):  # most images named otherwise: the names say nothing
        others.append(ManifestRow(f"photo_{i}", tmp_path / "img_dir" / f"photo_{i}.png", None, 8, 8))
        io.write_image(others[-1].image, np.zeros((8, 8, 3), np.uint8))
    assert not split_folds(write_manifest(rows + others, tmp_path / "mixed.csv"), 2, mode="plain",
                           quiet=True).warnings
    dates = []  # cam_DD_MM_YYYY_HH: four numbers, the "windows" of one "scene" of every size
    for day in range(1, 25):
        dates.append(ManifestRow(f"d{day}", tmp_path / "img_dir" / f"cam_{day:02d}_06_2021_{day:02d}.png", None, 8, 8))
        io.write_image(dates[-1].image, np.zeros((8, 8, 3), np.uint8))
    assert not split_folds(write_manifest(dates, tmp_path / "dates.csv"), 2, mode="plain", quiet=True).warnings


def _with_splits(root: Path, splits: list[str]) -> Path:
    manifest = read_manifest(_write_set(root, _random_labels(len(splits), 0)))
    rows = [r.with_extra(split=s) for r, s in zip(manifest, splits)]
    return write_manifest(rows, root / "manifest.csv", columns=["split"])


def test_folding_several_splits_warns_that_the_test_set_trains(tmp_path):
    """SegNet's CamVid scanned into train 367 / val 101 / test 233 was folded whole: the official test images
    trained in four of five folds, and nothing said so."""
    manifest = _with_splits(tmp_path, ["train"] * 6 + ["val"] * 3 + ["test"] * 3)
    result = split_folds(manifest, 3)
    assert len(result.manifest) == 12
    assert result.warnings[0] == ("the manifest holds several splits (test 3, train 6, val 3) and kfold mixes them: "
                                  "the 'test' rows, the dataset's held-out test set, train in some folds; "
                                  "--split train,val takes only those rows")
    assert result.warnings[0] in result.report.warnings
    single = _with_splits(tmp_path / "one", ["train"] * 6)
    assert not any("several splits" in w for w in split_folds(single, 3).warnings)
    loveda = _with_splits(tmp_path / "loveda", ["Train"] * 6 + ["Val"] * 3)  # no test split: fold one of them
    assert split_folds(loveda, 3).warnings[0] == ("the manifest holds several splits (Train 6, Val 3) and kfold "
                                                  "mixes them; --split Train takes the rows of one")
    dev = _with_splits(tmp_path / "dev", ["training"] * 6 + ["dev"] * 3)
    assert split_folds(dev, 3).warnings[0].endswith("--split training takes the rows of one")


def test_split_keeps_only_those_rows_in_every_output(tmp_path, cli):
    manifest = _with_splits(tmp_path, ["train"] * 6 + ["val"] * 3 + ["test"] * 3)
    result = kfold(manifest, tmp_path / "folds", 3, splits=["train", "val"])
    assert sorted(r.extra["split"] for r in result.manifest) == ["train"] * 6 + ["val"] * 3
    assert not any("several splits" in w for w in result.warnings)
    written = read_manifest(tmp_path / "folds" / "manifest.csv")
    assert len(written) == 9 and {r.extra["split"] for r in written} == {"train", "val"}
    for f in range(3):
        parts = [read_manifest(tmp_path / "folds" / f"fold_{f}" / f"{s}.csv") for s in ("train", "val")]
        assert sum(len(p) for p in parts) == 9
    res = cli("kfold", manifest, "-k", "3", "--split", "train", "-o", tmp_path / "cli", "-q")
    assert res.exit_code == 0 and len(read_manifest(tmp_path / "cli" / "manifest.csv")) == 6


def test_split_names_a_split_the_manifest_has(tmp_path, cli):
    manifest = _with_splits(tmp_path, ["train"] * 4 + ["val"] * 2)
    with pytest.raises(UsageError, match="no rows of split 'tran'; the splits here: train, val"):
        split_folds(manifest, 2, splits=["tran"])
    plain = _write_set(tmp_path / "plain", _random_labels(4, 0))
    with pytest.raises(UsageError, match="--split needs a 'split' column"):
        split_folds(plain, 2, splits=["train"])
    with pytest.raises(UsageError, match="--split names no split"):
        split_folds(manifest, 2, splits=[])
    assert cli("kfold", manifest, "-k", "2", "--split", ",", "-o", tmp_path / "o").exit_code == 2
    res = cli("kfold", manifest, "-k", "2", "--split", "tran", "-o", tmp_path / "out")
    assert res.exit_code == 2 and "no rows of split 'tran'" in res.output and not (tmp_path / "out").exists()
