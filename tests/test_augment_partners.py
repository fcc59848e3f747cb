"""Partner choice of the offline mixing ops: within the source's fold (else group), O(1), recorded in full."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from dataprep import io
from dataprep.augment import augment_manifest, plan_output
from dataprep.augment.plan import PartnerPools, draw_partners, plan_outputs
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.recipe import parse_recipe


def tiny_manifest(root: Path, folds: list[int], groups: list[str] | None = None) -> Path:
    """Rows of 24x32 images whose pixels and labels say which row they are (label = row % 4)."""
    rows = []
    for i, fold in enumerate(folds):
        image = np.full((24, 32, 3), (i * 7) % 256, np.uint8)
        mask = np.full((24, 32), i % 4, np.uint8)
        io.write_image(root / "images" / f"r{i:02d}.png", image)
        io.write_mask(root / "masks" / f"r{i:02d}.png", mask)
        extra = {"fold": str(fold)}
        if groups is not None:
            extra["group"] = groups[i]
        rows.append(ManifestRow(f"r{i:02d}", root / "images" / f"r{i:02d}.png", root / "masks" / f"r{i:02d}.png",
                                32, 24, extra))
    write_manifest(rows, root / "manifest.csv")
    return root / "manifest.csv"


def mosaic_recipe(tmp_path: Path, **top) -> Path:
    path = tmp_path / "mosaic.yaml"
    path.write_text(yaml.safe_dump({"size": [32, 32], "variants": 3, "steps": [{"op": "mosaic"}], **top}))
    return path


def test_a_three_fold_manifest_through_mosaic_keeps_every_output_in_its_fold(tmp_path):
    """The real case: a 3-fold aerial set, where 23 of 31 training mosaics of fold 0 held
    validation pixels because partners came from the whole manifest."""
    folds = [i % 3 for i in range(12)]
    manifest = tiny_manifest(tmp_path / "in", folds)
    fold_of = {r.id: r.extra["fold"] for r in read_manifest(manifest)}
    summary = augment_manifest(manifest, mosaic_recipe(tmp_path), tmp_path / "out", quiet=True)
    rows = read_manifest(summary.manifest).rows
    assert len(rows) == 36 and not summary.errors
    for row in rows:
        ids = row.extra["source_ids"].split(";")
        assert len(ids) == 4 and ids[0] == row.id.rsplit("__v", 1)[0]
        assert {fold_of[i] for i in ids} == {row.extra["fold"]}, row
        assert len(set(ids)) == 4  # 4 rows per fold: the source and 3 distinct partners

    # `partners: any` is the explicit way out, and then folds do mix.
    loose = augment_manifest(manifest, mosaic_recipe(tmp_path, partners="any"), tmp_path / "any", quiet=True)
    mixed = [r for r in read_manifest(loose.manifest)
             if len({fold_of[i] for i in r.extra["source_ids"].split(";")}) > 1]
    assert len(mixed) > 20


def test_default_pools_are_the_folds_where_there_are_folds_else_the_groups(tmp_path):
    """BUSI after dedup (`group` = near-duplicate cluster) and a grouped kfold: pooling by fold and group left
    978 of 1422 mixing steps (default.yaml) the image with itself. Folds alone bound the default pools;
    `same_group` is still there, and says how often a row was alone in its pool."""
    folds = [0] * 8 + [1] * 4
    groups = ["a", "a", "a", "b", "b", "b", "b", "b", "c", "c", "c", "c"]
    manifest = tiny_manifest(tmp_path / "in", folds, groups)
    group_of = {r.id: r.extra["group"] for r in read_manifest(manifest)}
    fold_of = {r.id: r.extra["fold"] for r in read_manifest(manifest)}

    def sources(summary):
        return [(r.extra, r.extra["source_ids"].split(";")) for r in read_manifest(summary.manifest)]

    default = augment_manifest(manifest, mosaic_recipe(tmp_path), tmp_path / "d", quiet=True)
    assert default.pooled_by == ("fold",) and default.alone == 0 and default.mixing == 36
    rows = sources(default)
    assert all({fold_of[i] for i in ids} == {extra["fold"]} for extra, ids in rows)
    assert any(len({group_of[i] for i in ids}) > 1 for _, ids in rows)

    strict = augment_manifest(manifest, mosaic_recipe(tmp_path, partners="same_group"), tmp_path / "g", quiet=True)
    assert strict.pooled_by == ("fold", "group")
    assert all({group_of[i] for i in ids} == {extra["group"]} for extra, ids in sources(strict))

    # Without folds the group bounds the pool, so a later grouped kfold keeps outputs with their sources;
    # a group of one row has only itself to mix with, and the summary counts it.
    groups[0] = "alone"
    unfolded = tiny_manifest(tmp_path / "nofold", folds, groups)
    rows = [r for r in read_manifest(unfolded).rows]
    for r in rows:
        del r.extra["fold"]
    write_manifest(rows, unfolded)
    summary = augment_manifest(unfolded, mosaic_recipe(tmp_path), tmp_path / "n", quiet=True)
    assert summary.pooled_by == ("group",) and summary.alone == 3  # r00's 3 variants
    group_of["r00"] = "alone"
    for extra, ids in sources(summary):
        assert {group_of[i] for i in ids} == {extra["group"]}
    assert [ids for _, ids in sources(summary) if ids[0] == "r00"] == [["r00"] * 4] * 3


def test_partners_stay_in_their_split(tmp_path):
    """A scanned train/val/test manifest without folds: mosaics of training images drew test images as partners
    (one pool for every row), so test pixels trained. Partners now stay in the row's split too."""
    manifest = tiny_manifest(tmp_path / "in", [0] * 12)
    split_of = {f"r{i:02d}": ("train", "val", "test")[i % 3] for i in range(12)}
    rows = []
    for r in read_manifest(manifest):
        extra = {k: v for k, v in r.extra.items() if k != "fold"}
        rows.append(r.replace(extra={**extra, "split": split_of[r.id]}))
    write_manifest(rows, manifest)
    summary = augment_manifest(manifest, mosaic_recipe(tmp_path), tmp_path / "out", quiet=True)
    assert summary.pooled_by == ("split",) and not summary.errors
    for row in read_manifest(summary.manifest):
        ids = row.extra["source_ids"].split(";")
        assert {split_of[i] for i in ids} == {split_of[ids[0]]}, row
    loose = augment_manifest(manifest, mosaic_recipe(tmp_path, partners="any"), tmp_path / "any", quiet=True)
    assert loose.pooled_by == ()  # `any` still means any row


def test_provenance_keeps_one_entry_per_input_position(tmp_path):
    """With few rows mosaic repeats partners; the record must still say which image went into which tile."""
    manifest = tiny_manifest(tmp_path / "in", [0, 0])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"size": [32, 32], "steps": [{"op": "mosaic"}, {"op": "cutmix"}]}))
    rows = read_manifest(augment_manifest(manifest, recipe, tmp_path / "out", quiet=True).manifest)
    for row in rows:
        ids = row.extra["source_ids"].split(";")
        other = "r01" if ids[0] == "r00" else "r00"
        assert ids == [ids[0], other, other, other, other]  # 3 mosaic tiles, then the cutmix partner


def test_pools_and_draws():
    keys = [i % 3 for i in range(30)]
    pools = PartnerPools(keys)
    seen: Counter = Counter()
    for index in range(30):
        start, size, position = pools.pool_of(index)
        assert size == 10 and pools.row(start, position) == index
        for k in range(40):
            picks = draw_partners(index * 100 + k, pools, index, 3)
            assert len(set(picks)) == 3 and index not in picks
            assert {keys[p] for p in picks} == {keys[index]}
            seen.update(picks)
    assert set(seen) == set(range(30))  # every row serves as a partner
    assert min(seen.values()) > 0.6 * max(seen.values())  # roughly uniform
    # A pool too small for distinct partners repeats the others; a row alone reuses itself.
    small = PartnerPools(["a", "a", "b"])
    assert set(draw_partners(1, small, 0, 3)) == {1}
    assert draw_partners(1, small, 2, 3) == (2, 2, 2)


def test_a_row_count_is_one_pool_and_plans_are_deterministic():
    recipe = parse_recipe({"size": [32, 32], "variants": 2, "steps": [{"op": "mosaic"}]})
    plans = plan_outputs(recipe, PartnerPools([0] * 50))
    assert plans == plan_outputs(recipe, 50)  # one key everywhere == no keys
    assert plan_output(recipe, PartnerPools(list(range(5))), 3, 0).steps[0].partners == (3, 3, 3)


@pytest.mark.parametrize("bad", ["fold", "everything", 3])
def test_an_unknown_partner_scope_is_refused(bad):
    from dataprep.errors import DataprepError

    with pytest.raises(DataprepError, match="partners: must be one of"):
        parse_recipe({"size": [32, 32], "partners": bad, "steps": [{"op": "mosaic"}]})


def _train_config(manifest: Path, **data):
    from dataprep.train import parse_config

    recipe = manifest.parent / "resize.yaml"
    recipe.write_text("size: [32, 32]\nsteps:\n  - op: resize\n")
    return parse_config({"data": {"manifest": str(manifest), "train_recipe": str(recipe), "val_recipe": str(recipe),
                                  "batch_size": 2, "num_workers": 0, **data},
                         "model": {"num_classes": 4, "width": 8, "depth": 2}})


def test_the_trainer_refuses_training_rows_made_from_validation_images(tmp_path):
    """Training on fold != 0 of mosaics drawn from the whole manifest would validate on pixels seen in training."""
    from dataprep.errors import DataprepError
    from dataprep.train.datainfo import describe_data

    manifest = tiny_manifest(tmp_path / "in", [i % 3 for i in range(12)])
    leaky = augment_manifest(manifest, mosaic_recipe(tmp_path, partners="any"), tmp_path / "any", quiet=True).manifest
    with pytest.raises(DataprepError, match=r"training row 'r\d\d__v\d' was made from 'r\d\d' of validation fold 0"):
        describe_data(_train_config(Path(leaky), fold=0))
    # Against a separate validation manifest, the same rule holds.
    val = tmp_path / "val.csv"
    write_manifest([r for r in read_manifest(manifest) if r.extra["fold"] == "0"], val)
    with pytest.raises(DataprepError, match="of the validation manifest"):
        describe_data(_train_config(Path(leaky), val_manifest=str(val)))

    clean = augment_manifest(manifest, mosaic_recipe(tmp_path), tmp_path / "clean", quiet=True).manifest
    assert describe_data(_train_config(Path(clean), fold=0)).num_classes == 4
    assert describe_data(_train_config(manifest, fold=0)).num_classes == 4  # raw rows: nothing mixed


def test_the_cli_warns_when_rows_mix_with_themselves(tmp_path):
    from click.testing import CliRunner

    from dataprep.cli import main

    manifest = tiny_manifest(tmp_path / "in", [0, 0, 1], ["a", "b", "c"])
    recipe = mosaic_recipe(tmp_path, partners="same_group")
    result = CliRunner().invoke(main, ["augment", "-q", "-j", "1", "--recipe", str(recipe), str(manifest),
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert ("warning: 9 of 9 mixing steps found no other row in their pool (rows sharing its fold/group) "
            "and mixed a sample with itself") in result.output
