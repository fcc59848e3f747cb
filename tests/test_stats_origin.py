"""stats.json records the rows it was measured on; the report, the trainer and the Dataset warn when it is
used with other rows (another dataset or split) or with files rewritten since (stale class counts)."""
from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest

from dataprep import SegmentationDataset
from dataprep.io import write_mask
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.report import write_report
from dataprep.stats import compute_stats, write_stats

from helpers import make_label_dataset


@pytest.fixture
def labelled(tmp_path):
    return make_label_dataset(tmp_path / "set", 8, folds=4)


def _stats_of(manifest, path):
    return write_stats(compute_stats(manifest, quiet=True), path)


def test_stats_json_records_the_rows_and_file_sizes_it_measured(labelled, tmp_path):
    stats = json.loads(_stats_of(labelled, tmp_path / "s.json").read_text())
    rows = read_manifest(labelled).rows
    ids = "".join(f"{i}\n" for i in sorted(r.id for r in rows))
    size = sum(p.stat().st_size for r in rows for p in (r.image, r.mask))
    assert stats["measured_on"] == {"file": "labels/manifest.csv", "rows": 8,
                                    "ids_sha256": hashlib.sha256(ids.encode()).hexdigest(), "file_bytes": size}
    # The same rows in another order are the same rows.
    reordered = tmp_path / "reordered.csv"
    write_manifest(rows[::-1], reordered)
    said: list[str] = []
    write_report(labelled, tmp_path / "r.html", stats=_stats_of(reordered, tmp_path / "r.json"), samples=0,
                 warn=said.append)
    assert said == []


def test_report_warns_on_stats_of_other_rows_and_not_on_its_own(labelled, tmp_path, cli):
    own = _stats_of(labelled, tmp_path / "own.json")
    subset = tmp_path / "subset.csv"
    write_manifest(read_manifest(labelled).rows[:5], subset)
    foreign = _stats_of(subset, tmp_path / "foreign.json")

    said: list[str] = []
    page = write_report(labelled, tmp_path / "ok.html", stats=own, samples=0, warn=said.append).read_text()
    assert said == [] and "measured on" not in page

    page = write_report(labelled, tmp_path / "bad.html", stats=foreign, samples=0, warn=said.append).read_text()
    assert len(said) == 1 and "measured on 5 rows of" in said[0] and "not on the 8 rows of" in said[0]
    assert "measured on 5 rows" in page

    result = cli("report", labelled, "--stats", foreign, "-o", tmp_path / "cli.html", "-n", "0")
    assert result.exit_code == 0 and "warning: " in result.stderr and str(foreign) in result.stderr


def test_rewritten_masks_make_the_stats_stale(labelled, tmp_path):
    stats = _stats_of(labelled, tmp_path / "s.json")
    row = read_manifest(labelled).rows[0]
    write_mask(row.mask, np.zeros((row.height, row.width), np.uint8))  # a remap: same ids, other file
    said: list[str] = []
    write_report(labelled, tmp_path / "r.html", stats=stats, samples=0, warn=said.append)
    assert len(said) == 1 and "files have changed since" in said[0]


def test_dataset_accepts_stats_of_a_folds_training_rows_and_warns_on_others(labelled, tmp_path):
    rows = read_manifest(labelled).rows
    train_of_fold_1 = tmp_path / "train1.csv"
    write_manifest([r for r in rows if r.fold != 1], train_of_fold_1)
    fold_stats = _stats_of(train_of_fold_1, tmp_path / "fold1.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SegmentationDataset(labelled, None, fold_stats, fold=1, split="val")
        SegmentationDataset(labelled, None, _stats_of(labelled, tmp_path / "all.json"), fold=1, split="train")

    odd = tmp_path / "odd.csv"
    write_manifest(rows[::2], odd)
    with pytest.warns(UserWarning, match=r"measured on 4 rows of .*not on the 8 rows of"):
        SegmentationDataset(labelled, None, _stats_of(odd, tmp_path / "odd.json"), fold=1, split="train")


@pytest.mark.parametrize("train", ["train", "training", "Train"])  # as scan keeps folder names: ADE20K, LoveDA
def test_dataset_accepts_stats_of_the_train_split_for_every_split(labelled, tmp_path, train):
    """`dataprep stats --split train` (train.md's advice) used for split='val' warned 'rerun dataprep stats on
    this manifest': stats of the validation rows, a leak."""
    rows = [ManifestRow(r.id, r.image, r.mask, r.width, r.height, {"split": train if i < 6 else "val"})
            for i, r in enumerate(read_manifest(labelled).rows)]
    manifest, train_only = tmp_path / "split.csv", tmp_path / "train.csv"
    write_manifest(rows, manifest)
    write_manifest(rows[:6], train_only)
    train_stats = _stats_of(train_only, tmp_path / "train.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for split in (train, "val", None):
            SegmentationDataset(manifest, None, train_stats, split=split)
    val_only = tmp_path / "val.csv"
    write_manifest(rows[6:], val_only)
    with pytest.warns(UserWarning, match=r"measured on 2 rows of .*not on the 8 rows of"):
        SegmentationDataset(manifest, None, _stats_of(val_only, tmp_path / "val.json"), split=train)


def test_trainer_warns_once_on_stats_of_other_rows(labelled, tmp_path):
    from dataprep.train import parse_config
    from dataprep.train.datainfo import describe_data

    rows = read_manifest(labelled).rows
    odd = tmp_path / "odd.csv"
    write_manifest(rows[::2], odd)

    def config(stats):
        return parse_config({"data": {"manifest": str(labelled), "stats": str(stats), "fold": 0, "num_workers": 0},
                             "model": {"width": 8, "depth": 2}, "train": {"output_dir": str(tmp_path / "run")}})

    train_rows = tmp_path / "train0.csv"
    write_manifest([r for r in rows if r.fold != 0], train_rows)
    assert describe_data(config(_stats_of(train_rows, tmp_path / "t.json"))).warnings == ()
    assert describe_data(config(_stats_of(labelled, tmp_path / "a.json"))).warnings == ()
    (line,) = describe_data(config(_stats_of(odd, tmp_path / "o.json"))).warnings
    assert "measured on 4 rows" in line and "not on the 6 training rows of" in line


def test_stats_without_the_block_are_not_checked(labelled, tmp_path):
    path = _stats_of(labelled, tmp_path / "old.json")
    data = json.loads(path.read_text())
    del data["measured_on"]
    path.write_text(json.dumps(data))
    subset = tmp_path / "subset.csv"
    write_manifest(read_manifest(labelled).rows[:3], subset)
    said: list[str] = []
    write_report(subset, tmp_path / "r.html", stats=path, samples=0, warn=said.append)
    assert said == []
