"""`dataprep augment` end to end: files, provenance, determinism across workers, resume, errors."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import make_multiband_set, make_small_pairs
from dataprep import io
from dataprep.augment import augment_manifest
from dataprep.errors import DataprepError, UsageError
from dataprep.executor import ProcessExecutor
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.palette import load_palette

REPO = Path(__file__).resolve().parent.parent
PIPELINES = REPO / "pipelines"
SHIPPED = ["default", "mosaic", "copy_paste", "mixup", "crops"]


def colour_to_labels(mask: np.ndarray, palette: dict) -> np.ndarray:
    labels = np.full(mask.shape[:2], palette.get("ignore_index", 255), np.uint8)
    for c in palette["classes"]:
        labels[(mask[:, :, :3] == c["color"]).all(axis=-1)] = c["index"]
    return labels


@pytest.fixture(scope="module")
def labelled(sample_data, tmp_path_factory) -> Path:
    """Six sample_data pairs with label-map masks and palette.json beside the manifest."""
    root = tmp_path_factory.mktemp("labelled")
    palette = json.loads((sample_data / "palette.json").read_text())
    rows = []
    for image in sorted((sample_data / "images").rglob("*.jpg"))[::5][:6]:
        rel = image.relative_to(sample_data / "images").with_suffix("")
        labels = colour_to_labels(io.read_mask(sample_data / "masks" / rel.with_suffix(".png")), palette)
        mask_path = root / "labels" / rel.with_suffix(".png")
        io.write_mask(mask_path, labels)
        rows.append(ManifestRow(rel.as_posix(), image, mask_path, labels.shape[1], labels.shape[0], {"fold": "1"}))
    write_manifest(rows, root / "manifest.csv")
    (root / "palette.json").write_text((sample_data / "palette.json").read_text())
    return root / "manifest.csv"


def small_recipe(tmp_path: Path, name: str = "default", **changes) -> Path:
    data = yaml.safe_load((PIPELINES / f"{name}.yaml").read_text())
    data.update({"size": [96, 128], **changes})
    path = tmp_path / f"{name}_small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_outputs_sizes_labels_and_provenance(labelled, tmp_path):
    recipe = small_recipe(tmp_path, variants=2)
    summary = augment_manifest(labelled, recipe, tmp_path / "out", quiet=True)
    assert summary.errors == [] and summary.written == 12 and summary.reused == 0
    colours = json.loads((labelled.parent / "palette.json").read_text())["classes"]
    out = read_manifest(summary.manifest)
    assert len(out) == 12
    sources = read_manifest(labelled)
    source_labels = set().union(*(np.unique(io.read_mask(r.mask)).tolist() for r in sources))
    for row in out:
        assert row.id.endswith(("__v0", "__v1"))
        assert row.image.suffix == ".jpg" and row.mask.suffix == ".png"
        image, mask = io.read_image(row.image), io.read_mask(row.mask)
        assert image.shape == (96, 128, 3) and mask.shape == (96, 128) and (row.height, row.width) == (96, 128)
        assert set(np.unique(mask).tolist()) <= source_labels | {255}
        table = io.read_png_palette(row.mask)  # palette PNG: viewers show the classes' own colours
        for entry in colours:
            assert table[entry["index"]].tolist() == entry["color"], entry["name"]
        ops = row.extra["ops"].split(";")
        params = json.loads(row.extra["params"])
        assert "crop" in ops and [p["op"] for p in params if p["op"] != "albumentations"] == [
            o for o in ops if o in ("mosaic", "copy_paste", "mixup", "crop", "resize")
        ]
        assert row.extra["source_ids"].split(";")[0] == row.id.rsplit("__v", 1)[0]
        assert row.extra["seed"] == "0" and row.extra["fold"] == "1"
    assert (tmp_path / "out" / "palette.json").read_text() == (labelled.parent / "palette.json").read_text()
    assert len({r.extra["params"] for r in out}) == 12  # every output drew its own params


def test_serial_and_parallel_runs_are_byte_identical(labelled, tmp_path):
    recipe = small_recipe(tmp_path, variants=2)
    augment_manifest(labelled, recipe, tmp_path / "serial", quiet=True)
    with ProcessExecutor(2) as executor:
        augment_manifest(labelled, recipe, tmp_path / "parallel", executor=executor, quiet=True)
    serial, parallel = files_of(tmp_path / "serial"), files_of(tmp_path / "parallel")
    assert serial.keys() == parallel.keys() and len(serial) > 30
    assert serial == parallel
    other = augment_manifest(labelled, recipe, tmp_path / "seed1", seed=1, quiet=True)
    assert files_of(tmp_path / "seed1")["manifest.csv"] != serial["manifest.csv"] and not other.errors


def test_rerun_keeps_finished_outputs_and_redoes_missing_ones(labelled, tmp_path):
    recipe = small_recipe(tmp_path, "crops", variants=1)
    out = tmp_path / "out"
    augment_manifest(labelled, recipe, out, quiet=True)
    before = files_of(out)
    victim = sorted((out / "params").rglob("*.json"))[0]
    victim.unlink()
    stamp = {p: p.stat().st_mtime_ns for p in (out / "images").rglob("*.jpg")}
    summary = augment_manifest(labelled, recipe, out, quiet=True)
    assert (summary.written, summary.reused) == (1, 5)
    assert files_of(out) == before
    changed = [p for p, t in stamp.items() if p.stat().st_mtime_ns != t]
    assert len(changed) == 1
    with pytest.raises(DataprepError, match="different recipe"):
        augment_manifest(labelled, recipe, out, seed=5, on_error="fail", quiet=True)
    assert augment_manifest(labelled, recipe, out, seed=5, overwrite=True, quiet=True).written == 6


def _mosaic_set(tmp_path: Path, n: int = 6) -> tuple[Path, Path]:
    """`n` small rows (distinct pixels) and a mosaic recipe: every output reads its source and three donors."""
    recipe = tmp_path / "mosaic.yaml"
    recipe.write_text(yaml.safe_dump({"seed": 0, "size": [24, 32], "variants": 2, "partners": "any",
                                      "output": {"image_format": "png"}, "steps": [{"op": "mosaic"}]}))
    return make_small_pairs(tmp_path, n, seed=3), recipe


def _rewrite(path: Path, array: np.ndarray, mask: bool) -> None:
    (io.write_mask if mask else io.write_image)(path, array)
    stat = path.stat()  # a later mtime even where the file system's clock is coarse
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_a_rerun_redoes_exactly_the_outputs_whose_donor_mask_changed(tmp_path, cli):
    """The rerun check covered the recipe, the ids and the palette, not the files: a mask fixed (and relabelled by
    masks2labels) kept every output made from the old one, "kept from an earlier run", exit 0."""
    manifest, recipe = _mosaic_set(tmp_path)
    out = tmp_path / "out"
    first = augment_manifest(manifest, recipe, out, quiet=True)
    assert (first.written, first.reused) == (12, 0)
    rows = {r.id: r for r in read_manifest(first.manifest)}
    used = {oid for oid, r in rows.items() if "2" in r.extra["source_ids"].split(";")}
    assert 2 < len(used) < 12  # as its own source and as another's donor, and not everywhere
    stamps = {p: p.stat().st_mtime_ns for p in (out / "masks").rglob("*.png")}
    donor = tmp_path / "src" / "2_m.png"
    _rewrite(donor, (io.read_mask(donor) + 1) % 3, mask=True)
    again = augment_manifest(manifest, recipe, out, quiet=True)
    augment_manifest(manifest, recipe, tmp_path / "fresh", quiet=True)
    assert files_of(out) == files_of(tmp_path / "fresh")  # not the outputs of the old mask
    assert (again.written, again.reused, again.redone) == (len(used), 12 - len(used), len(used))
    rewritten = {p.stem for p, t in stamps.items() if p.stat().st_mtime_ns != t}
    assert rewritten == used
    unchanged = augment_manifest(manifest, recipe, out, quiet=True)
    assert (unchanged.written, unchanged.reused, unchanged.redone) == (0, 12, 0)
    assert files_of(out) == files_of(tmp_path / "fresh")
    # An image counts as much as a mask; the summary says why outputs were written again.
    image = tmp_path / "src" / "4.png"
    _rewrite(image, 255 - io.read_image(image), mask=False)
    result = cli("augment", "--recipe", recipe, manifest, out, "-q")
    redone = sum("4" in r.extra["source_ids"].split(";") for r in rows.values())
    assert result.exit_code == 0, result.output
    assert f"({12 - redone} kept from an earlier run, {redone} redone: their inputs changed)" in result.output


def test_an_output_whose_record_lists_no_inputs_is_redone(tmp_path):
    """Params files of earlier versions say nothing of the inputs: whether those changed is unknown."""
    manifest, recipe = _mosaic_set(tmp_path, n=3)
    out = tmp_path / "out"
    augment_manifest(manifest, recipe, out, quiet=True)
    before = files_of(out)
    victim = out / "params" / "1__v0.json"
    record = json.loads(victim.read_text())
    victim.write_text(json.dumps({k: v for k, v in record.items() if k != "inputs"}))
    summary = augment_manifest(manifest, recipe, out, quiet=True)
    assert (summary.written, summary.reused, summary.redone) == (1, 5, 1)
    assert files_of(out) == before


def test_png_images_and_soft_labels(labelled, tmp_path):
    recipe = small_recipe(tmp_path, "mixup", steps=[{"op": "mixup", "alpha": 0.4, "soft_labels": True},
                                                     {"op": "crop", "scale": [1.0, 1.0]}])
    summary = augment_manifest(labelled, recipe, tmp_path / "out", image_format="png", quiet=True)
    rows = read_manifest(summary.manifest).rows
    assert all(r.image.suffix == ".png" for r in rows)
    for row in rows:
        soft = np.load(tmp_path / "out" / row.extra["soft_label"])
        weights = soft["weights"]
        assert weights.sum() == pytest.approx(1.0, abs=1e-4) and (weights >= 0).all()
        lam = json.loads(row.extra["params"])[0]["lam"]
        present = np.unique(io.read_mask(row.mask))
        assert weights[[c for c in present if c < len(weights)]].sum() >= min(lam, 1 - lam) - 1e-4


def test_colour_masks_are_refused_naming_the_file(sample_data, tmp_path):
    image = sorted((sample_data / "images" / "downtown").glob("*.jpg"))[0]
    mask = sample_data / "masks" / "downtown" / image.with_suffix(".png").name
    write_manifest([ManifestRow("a", image, mask, 320, 240)], tmp_path / "m" / "manifest.csv")
    with pytest.raises(DataprepError, match="masks2labels") as err:
        augment_manifest(tmp_path / "m" / "manifest.csv", PIPELINES / "crops.yaml", tmp_path / "out",
                         on_error="fail", quiet=True)
    assert str(mask) in str(err.value)


def test_label_values_the_palette_does_not_hold_are_refused_naming_the_file(labelled, tmp_path, cli):
    rows = read_manifest(labelled).rows
    classes = len(json.loads((labelled.parent / "palette.json").read_text())["classes"])
    raw = io.read_mask(rows[0].mask).copy()
    raw[:10, :10] = classes  # one past the last class, not the ignore index: a raw id left unconverted
    io.write_mask(tmp_path / "src/raw.png", raw)
    bad_row = ManifestRow("raw", rows[0].image, tmp_path / "src/raw.png", rows[0].width, rows[0].height)
    good = tmp_path / "src/good.png"
    good.write_bytes(rows[1].mask.read_bytes())
    good_row = ManifestRow(rows[1].id, rows[1].image, good, rows[1].width, rows[1].height)
    write_manifest([good_row, bad_row], tmp_path / "m" / "manifest.csv")  # masks in one tree, outputs outside
    (tmp_path / "m" / "palette.json").write_text((labelled.parent / "palette.json").read_text())
    recipe = small_recipe(tmp_path, "crops", variants=1)
    summary = augment_manifest(tmp_path / "m" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    assert summary.written == 1 and [r.id for r in read_manifest(summary.manifest)] == [f"{rows[1].id}__v0"]
    assert len(summary.errors) == 1 and summary.errors[0].startswith(f"{tmp_path / 'src/raw.png'}: label value(s) "
                                                                     f"{classes} are not classes of the palette")
    result = cli("augment", "--recipe", recipe, tmp_path / "m" / "manifest.csv", tmp_path / "out2", "-q",
                 "--on-error", "fail")
    assert result.exit_code == 1 and "convert the masks with `dataprep masks2labels` first" in result.output


def test_a_value_in_a_gap_of_the_palette_and_a_swap_to_no_class_are_refused(labelled, tmp_path, cli):
    """A palette without an index between its classes took masks holding it (only values past the last class
    were checked), and hflip's swap_labels [1, 40] wrote class 40, which no palette entry has, in every mirrored
    output."""
    palette = json.loads((labelled.parent / "palette.json").read_text())
    last = max(c["index"] for c in palette["classes"] if not c.get("ignore"))
    rows = read_manifest(labelled).rows
    held = {r.id: set(np.unique(io.read_mask(r.mask)).tolist()) for r in rows}
    gap = next(v for v in range(1, last) if 0 < sum(v in h for h in held.values()) < len(rows))
    palette["classes"] = [c for c in palette["classes"] if c["index"] != gap]
    with_gap = [r for r in rows if gap in held[r.id]]
    (tmp_path / "m").mkdir()
    write_manifest(rows, tmp_path / "m" / "manifest.csv")
    (tmp_path / "m" / "palette.json").write_text(json.dumps(palette))
    recipe = small_recipe(tmp_path, "crops", variants=1)
    summary = augment_manifest(tmp_path / "m" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    assert summary.written == len(rows) - len(with_gap)
    assert sorted(summary.errors) == sorted(f"{r.mask}: label value(s) {gap} are not classes of the palette "
                                            f"(0..{last} without {gap}, ignore 255); convert the masks with "
                                            "`dataprep masks2labels` first" for r in with_gap)
    gap_swap = small_recipe(tmp_path, "crops", variants=1, steps=[{"op": "hflip", "p": 1.0,
                                                                   "swap_labels": [[gap + 1, gap]]}])
    with pytest.raises(UsageError, match=rf"swap_labels \[{gap}\] are not classes of palette .* \(0\.\.{last} without "
                                         rf"{gap}\)"):
        augment_manifest(tmp_path / "m" / "manifest.csv", gap_swap, tmp_path / "out_gap", quiet=True)
    swap = small_recipe(tmp_path, "crops", variants=1, steps=[{"op": "hflip", "p": 1.0, "swap_labels": [[1, 40]]}])
    result = cli("augment", "--recipe", swap, labelled, tmp_path / "out2", "-q")
    assert result.exit_code == 2
    assert "step 1 (hflip): swap_labels [40] are not classes of palette" in result.output
    assert not (tmp_path / "out2").exists()
    mismatch = tmp_path / "ignore11.yaml"
    mismatch.write_text("size: [8, 8]\nignore_index: 11\nsteps: [{op: hflip}]\n")
    result = cli("augment", "--recipe", mismatch, labelled, tmp_path / "out3", "-q")
    assert result.exit_code == 2 and "set ignore_index: 255 in the recipe" in result.output


def test_a_mask_of_negative_labels_is_refused_before_any_work_whatever_the_crop(labelled, tmp_path):
    """Void stored as -1 (a float TIFF read as int16): refused only on writing the PNG, after the work, and
    written where the random crop happened to cut the -1 corner away."""
    rows = read_manifest(labelled).rows[:2]
    made = []
    for row in rows:
        labels = io.read_mask(row.mask).astype(np.int16)
        labels[:2, :2] = -1  # one corner: most crops leave it out
        path = tmp_path / "src" / f"{row.id.replace('/', '_')}.npy"
        path.parent.mkdir(exist_ok=True)
        np.save(path, labels)
        made.append(ManifestRow(row.id, row.image, path, row.width, row.height))
    good = read_manifest(labelled).rows[2]
    shutil.copyfile(good.mask, tmp_path / "src" / "good.png")
    good = ManifestRow(good.id, good.image, tmp_path / "src" / "good.png", good.width, good.height)
    write_manifest([*made, good], tmp_path / "m" / "manifest.csv")
    recipe = small_recipe(tmp_path, "crops", variants=3)
    summary = augment_manifest(tmp_path / "m" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    assert summary.written == 3 and {r.id for r in read_manifest(summary.manifest)} == {
        f"{good.id}__v{k}" for k in range(3)}
    assert sorted(set(summary.errors)) == sorted(
        f"{r.mask}: label value -1 is negative, which a PNG label map cannot hold: map it to the ignore index "
        "first (masks2labels --remap=-1:255)" for r in made)


def test_classes_a_step_names_are_checked_against_the_palette_and_the_outputs(labelled, tmp_path, cli):
    classes = load_palette(labelled.parent / "palette.json").num_classes
    rows = []
    for row in read_manifest(labelled).rows:  # the same masks without their last class
        mask = io.read_mask(row.mask).copy()
        mask[mask == classes - 1] = 0
        io.write_mask(tmp_path / "src" / f"{row.id.replace('/', '_')}.png", mask)
        rows.append(ManifestRow(row.id, row.image, tmp_path / "src" / f"{row.id.replace('/', '_')}.png", row.width,
                                row.height))
    write_manifest(rows, tmp_path / "m/manifest.csv")
    (tmp_path / "m/palette.json").write_text((labelled.parent / "palette.json").read_text())
    labelled = tmp_path / "m/manifest.csv"
    present = set()
    for row in rows:
        present |= set(np.unique(io.read_mask(row.mask)).tolist()) - {255}
    absent = sorted(set(range(classes)) - present)
    assert absent == [classes - 1]
    steps = [{"op": "copy_paste", "classes": [min(present), absent[0]]}, {"op": "crop", "focus_classes": [absent[0]]}]
    recipe = small_recipe(tmp_path, "crops", variants=1, steps=steps)
    result = cli("augment", "--recipe", recipe, labelled, tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    assert f"warning: step 1 (copy_paste): classes [{absent[0]}] appear in none of the 6 outputs" in result.output
    assert f"warning: step 2 (crop): focus_classes [{absent[0]}] appear in none of the 6 outputs" in result.output
    steps[1]["focus_classes"] = [min(present)]
    again = cli("augment", "--recipe", small_recipe(tmp_path, "crops", variants=1, steps=steps), labelled,
                tmp_path / "out2", "-q")
    assert "step 2" not in again.output and "step 1 (copy_paste)" in again.output
    steps[0]["classes"] = [classes]  # past the palette's last class
    wrong = cli("augment", "--recipe", small_recipe(tmp_path, "crops", variants=1, steps=steps), labelled,
                tmp_path / "out3", "-q")
    assert wrong.exit_code == 2
    assert f"step 1 (copy_paste): classes [{classes}] are not classes of palette" in wrong.output
    assert not (tmp_path / "out3").exists()


def test_mirroring_steps_that_keep_a_palettes_left_and_right_classes_get_a_warning(labelled, tmp_path, cli):
    """Human parsing (CIHP) with the default recipe: hflip and copy-paste mirrored arms, legs and shoes and kept
    left labelled left, 1-3% of the pixels off the dataset's own flipped labels, without a word."""
    palette = json.loads((labelled.parent / "palette.json").read_text())
    palette["classes"][5]["name"], palette["classes"][6]["name"] = "Left-arm", "Right-arm"  # car, person
    (tmp_path / "m").mkdir()
    (tmp_path / "m/palette.json").write_text(json.dumps(palette))
    write_manifest(read_manifest(labelled).rows, tmp_path / "m/manifest.csv")
    steps = [{"op": "hflip"}, {"op": "copy_paste"}, {"op": "copy_paste", "flip": False},
             {"op": "copy_paste", "classes": [1, 2]}, {"op": "hflip", "p": 0.0}]  # pastes no arm; never flips
    recipe = small_recipe(tmp_path, "crops", variants=1, steps=steps)
    result = cli("augment", "--recipe", recipe, tmp_path / "m/manifest.csv", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    for number, op in ((1, "hflip"), (2, "copy_paste")):
        assert (f"warning: step {number} ({op}) mirrors, but the palette's Left-arm/Right-arm are not in its "
                "swap_labels: if they are mirror images (a left and a right arm), a mirrored left one stays labelled "
                "left; then add swap_labels: [[5, 6]]") in result.output
    assert "step 3" not in result.output and "step 4" not in result.output and "step 5" not in result.output
    steps[0]["swap_labels"] = steps[1]["swap_labels"] = [[6, 5]]
    steps[3]["classes"] = [1, 6]
    steps[3]["swap_labels"] = [[5, 6]]
    swapped = cli("augment", "--recipe", small_recipe(tmp_path, "crops", variants=1, steps=steps),
                  tmp_path / "m/manifest.csv", tmp_path / "out2", "-q")
    assert swapped.exit_code == 0 and "mirrors" not in swapped.output, swapped.output


def test_a_broken_image_fails_only_its_outputs(labelled, tmp_path, cli):
    rows = read_manifest(labelled).rows
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(rows[0].image.read_bytes()[:2000])  # cut short
    bad_row = ManifestRow("broken", broken, rows[0].mask, rows[0].width, rows[0].height)
    write_manifest([*rows[1:3], bad_row], tmp_path / "m" / "manifest.csv")
    recipe = small_recipe(tmp_path, "crops", variants=2)
    summary = augment_manifest(tmp_path / "m" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    assert summary.written == 4 and len(summary.errors) == 2
    assert all(str(broken) in e and "truncated" in e for e in summary.errors)
    assert [r.id.rsplit("__", 1)[0] for r in read_manifest(summary.manifest)] == [rows[1].id] * 2 + [rows[2].id] * 2
    result = cli("augment", "--recipe", recipe, tmp_path / "m" / "manifest.csv", tmp_path / "out2", "-j", "1", "-q")
    assert result.exit_code == 1 and "truncated" in result.output


def test_outputs_failed_by_a_broken_partner_are_named(labelled, tmp_path):
    """A mosaic whose partner was a truncated file failed with the partner's error alone: the same line twice,
    and nothing said which other output was lost."""
    rows = read_manifest(labelled).rows
    broken = tmp_path / "src/broken.jpg"
    broken.parent.mkdir()
    broken.write_bytes(rows[0].image.read_bytes()[:2000])
    bad_row = ManifestRow("broken", broken, rows[0].mask, rows[0].width, rows[0].height, rows[0].extra)  # one fold
    write_manifest([*rows[1:], bad_row], tmp_path / "m" / "manifest.csv")
    recipe = small_recipe(tmp_path, "mosaic", variants=2, steps=[{"op": "mosaic", "p": 0.5}])
    summary = augment_manifest(tmp_path / "m" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    written = {r.id for r in read_manifest(summary.manifest)}
    lost = {f"{r.id}__v{k}" for r in rows[1:] for k in range(2)} - written
    own = [e for e in summary.errors if "a partner of output" not in e]
    partner = [e for e in summary.errors if "a partner of output" in e]
    assert len(own) == 2 and all(e.startswith(f"{broken}: ") for e in own)  # its own two variants
    assert lost and sorted(e.rsplit("a partner of output ", 1)[1] for e in partner) == sorted(
        f"{oid}, which is not written)" for oid in lost)


def test_a_broken_partner_of_every_output_is_counted_once_with_the_outputs(labelled, tmp_path):
    """Four rows, one truncated, mosaic x2: 'all 7 sources failed (2 different reasons)' for 4 sources, 8 outputs,
    one broken file and one reason: each partner line counted as a source of its own."""
    rows = read_manifest(labelled).rows[:4]
    broken = tmp_path / "src/broken.jpg"
    broken.parent.mkdir()
    broken.write_bytes(rows[0].image.read_bytes()[:2000])
    bad_row = ManifestRow("broken", broken, rows[0].mask, rows[0].width, rows[0].height, rows[0].extra)
    write_manifest([*rows[1:], bad_row], tmp_path / "m" / "manifest.csv")
    recipe = small_recipe(tmp_path, "mosaic", variants=2, steps=[{"op": "mosaic", "p": 1.0}])
    with pytest.raises(DataprepError) as caught:
        augment_manifest(tmp_path / "m" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    message = str(caught.value)
    assert message.startswith(f"{broken}: ") and "a partner of output" not in message
    assert message.endswith(f"(all 8 outputs of {tmp_path / 'm' / 'manifest.csv'} failed the same way; nothing "
                            "written)")


def test_recipe_and_output_checks(labelled, tmp_path):
    # Inside the masks' tree (not merely beside the manifest): the next scan would take outputs for data.
    with pytest.raises(UsageError, match="where the images or masks come from"):
        augment_manifest(labelled, PIPELINES / "crops.yaml", labelled.parent / "labels" / "aug", quiet=True)
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [{op: hflip}]\n")
    with pytest.raises(DataprepError, match="needs 'size'"):
        augment_manifest(labelled, bad, tmp_path / "out", quiet=True)
    bad.write_text("size: [8, 8]\nignore_index: 11\nsteps: [{op: hflip}]\n")
    with pytest.raises(UsageError, match="set ignore_index: 255"):
        augment_manifest(labelled, bad, tmp_path / "out", quiet=True)
    bad.write_text("size: [8, 8]\nsteps: [{op: normalize, mean: [0], std: [1]}]\n")
    with pytest.raises(DataprepError, match=r"step 1 \(normalize\)"):
        augment_manifest(labelled, bad, tmp_path / "out", quiet=True)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipes_run_on_sample_data(labelled, tmp_path, name):
    summary = augment_manifest(labelled, PIPELINES / f"{name}.yaml", tmp_path / name, variants=1, quiet=True)
    assert not summary.errors and summary.total == 6
    row = read_manifest(summary.manifest)[0]
    assert io.read_image(row.image).shape[:2] == io.read_mask(row.mask).shape == (512, 512)


def test_cli_end_to_end(cli, labelled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    args = ["augment", "--recipe", small_recipe(tmp_path), labelled, "out", "-j", "2", "-q", "--variants", "1"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "wrote 6 augmented samples to out/manifest.csv\n" in result.output  # as given, like every command
    assert len(read_manifest(out / "manifest.csv")) == 6
    again = cli(*args)
    assert again.exit_code == 0 and "6 kept from an earlier run" in again.output
    missing = cli("augment", "--recipe", PIPELINES / "nope.yaml", labelled, tmp_path / "x")
    assert missing.exit_code == 2 and "recipe not found" in missing.output


@pytest.mark.integration
def test_camvid_labels_with_void_as_ignore(shared_data, tmp_path):
    camvid = shared_data("camvid_segnet/CamVid")
    rows = []
    for image in sorted((camvid / "train").glob("*.png"))[:3]:
        mask = camvid / "trainannot" / image.name
        rows.append(ManifestRow(image.stem, image, mask, 480, 360))
    write_manifest(rows, tmp_path / "in" / "manifest.csv")
    recipe = small_recipe(tmp_path, ignore_index=11, variants=1)
    summary = augment_manifest(tmp_path / "in" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    assert not summary.errors
    for row in read_manifest(summary.manifest):
        assert set(np.unique(io.read_mask(row.mask)).tolist()) <= set(range(12))


def test_copy_paste_records_no_donor_when_nothing_was_pasted(tmp_path):
    """A donor with no object to paste (a mask of one class) gave no pixel: it is not a source of the output.

    Seen on real data: outputs listed a donor in `source_ids` although copy-paste found nothing in it,
    so the fold-leak check and the provenance pointed at an image that is not in the output.
    """
    flat = np.zeros((32, 32), np.uint8)  # one class only: its largest class, never pasted
    objects = np.zeros((32, 32), np.uint8)
    objects[4:14, 6:16] = 2  # one 100-pixel object
    rows = []
    for name, mask in (("flat", flat), ("objects", objects)):
        image = np.full((32, 32, 3), 40 if name == "flat" else 200, np.uint8)
        io.write_image(tmp_path / "data" / f"{name}.png", image)
        io.write_mask(tmp_path / "data" / f"{name}_mask.png", mask)
        rows.append(ManifestRow(name, tmp_path / "data" / f"{name}.png", tmp_path / "data" / f"{name}_mask.png", 32, 32))
    write_manifest(rows, tmp_path / "data" / "manifest.csv")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"seed": 0, "size": [32, 32], "variants": 1, "ignore_index": 255,
                                      "output": {"image_format": "png"}, "partners": "any",
                                      "steps": [{"op": "copy_paste", "p": 1.0, "blend_sigma": 0.0}]}))
    augment_manifest(tmp_path / "data" / "manifest.csv", recipe, tmp_path / "out", quiet=True)
    out = {r.id: r for r in read_manifest(tmp_path / "out" / "manifest.csv")}
    pasted_into_flat = out["flat__v0"]
    assert pasted_into_flat.extra["source_ids"] == "flat;objects"
    assert json.loads(pasted_into_flat.extra["params"])[0]["objects"]
    assert (io.read_mask(pasted_into_flat.mask) == 2).sum() > 0  # the object came in
    from_flat = out["objects__v0"]
    assert from_flat.extra["source_ids"] == "objects"  # the flat donor gave nothing
    assert json.loads(from_flat.extra["params"])[0]["objects"] == []
    np.testing.assert_array_equal(io.read_mask(from_flat.mask), objects)
    record = json.loads((tmp_path / "out" / "params" / "objects__v0.json").read_text())
    assert record["source_ids"] == ["objects"]


def test_a_step_that_needs_rgb_is_refused_on_four_band_images_before_any_output(tmp_path, cli):
    manifest, _ = make_multiband_set(tmp_path / "d", 4, np.uint16, n=3)
    rgb = {"size": [16, 16], "steps": [{"op": "hflip"}, {"op": "hue_saturation_value"}]}
    recipe = tmp_path / "rgb.yaml"
    recipe.write_text(yaml.safe_dump(rgb))
    with pytest.raises(UsageError, match=r"step 2 \(hue_saturation_value\) needs RGB.*4 band") as err:
        augment_manifest(manifest, recipe, tmp_path / "out", quiet=True)
    assert err.value.path == str(manifest.parent / "0.tif")
    result = cli("augment", "--recipe", recipe, manifest, tmp_path / "out2", "-q")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "0.tif" in lines[0] and "step 2 (hue_saturation_value)" in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()
    # Steps that treat every band alike run, and keep the pixel type and the bands.
    recipe.write_text(yaml.safe_dump({**rgb, "steps": [{"op": "hflip"}, {"op": "brightness_contrast"}]}))
    summary = augment_manifest(manifest, recipe, tmp_path / "out3", quiet=True)
    out = io.load_sample(read_manifest(summary.manifest).rows[0], mask="skip").image
    assert summary.written == 3 and out.dtype == np.uint16 and out.shape == (16, 16, 4)


def test_an_ignore_index_the_masks_cannot_hold_is_refused(tmp_path):
    """-1 (PyTorch's habit) and 300 reached cv2 as fills of uint8 masks, which saturate: rotated corners became
    class 0, or 255, no class at all; crops crashed with numpy's OverflowError."""
    from dataprep.recipe import parse_recipe

    with pytest.raises(UsageError, match="ignore_index: must be a mask value 0..65535, got -1"):
        parse_recipe({"size": [8, 8], "ignore_index": -1, "steps": [{"op": "rotate", "limit": [45, 45]}]})
    rng = np.random.default_rng(0)
    io.write_image(tmp_path / "src" / "a.png", rng.integers(0, 255, (24, 32, 3), np.uint8))
    io.write_mask(tmp_path / "src" / "a_mask.png", rng.integers(0, 3, (24, 32)).astype(np.uint8))
    manifest = write_manifest([ManifestRow("a", tmp_path / "src" / "a.png", tmp_path / "src" / "a_mask.png", 32, 24)],
                              tmp_path / "rows.csv")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("size: [24, 32]\nignore_index: 300\nsteps: [{op: rotate, limit: [45, 45]}]\n")
    with pytest.raises(DataprepError, match=r"a_mask.png: ignore_index 300 does not fit this mask's uint8 values"):
        augment_manifest(manifest, recipe, tmp_path / "out", quiet=True)
    recipe.write_text("size: [24, 32]\nignore_index: 250\nsteps: [{op: rotate, limit: [45, 45]}]\n")
    report = augment_manifest(manifest, recipe, tmp_path / "out2", quiet=True)
    (row,) = read_manifest(report.manifest).rows
    assert set(np.unique(io.read_mask(row.mask)).tolist()) <= {0, 1, 2, 250}


def test_a_random_crop_larger_than_an_unpadded_image_names_the_image(tmp_path):
    """It said `error: a: ValueError: crop size 300 is larger than the image (15) ...`, the exception's type and
    the sample id instead of the file."""
    io.write_image(tmp_path / "src" / "a.png", np.zeros((15, 20, 3), np.uint8))
    io.write_mask(tmp_path / "src" / "m.png", np.zeros((15, 20), np.uint8))
    manifest = write_manifest([ManifestRow("a", tmp_path / "src" / "a.png", tmp_path / "src" / "m.png", 20, 15)],
                              tmp_path / "rows.csv")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("size: [30, 30]\nsteps: [{op: random_crop, pad_if_needed: false}]\n")
    with pytest.raises(DataprepError) as caught:
        augment_manifest(manifest, recipe, tmp_path / "out", quiet=True)
    assert str(caught.value).startswith(f"{tmp_path / 'src' / 'a.png'}: crop size 30 is larger than the image (15)")


def test_binary_masks_of_0_and_the_ignore_value_augmented_unconverted_get_a_warning(tmp_path):
    """ISBI's 0/255 membranes augmented as they are: membrane, rotation corners and padding were one value, and
    mixup's soft labels said 100% background, without a word."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(2):
        io.write_image(tmp_path / "src" / f"{i}.png", rng.integers(0, 255, (24, 32, 3), np.uint8))
        io.write_mask(tmp_path / "src" / f"{i}_m.png", (rng.random((24, 32)) > 0.7).astype(np.uint8) * 255)
        rows.append(ManifestRow(str(i), tmp_path / "src" / f"{i}.png", tmp_path / "src" / f"{i}_m.png", 32, 24))
    manifest = write_manifest(rows, tmp_path / "rows.csv")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("size: [24, 32]\nsteps: [{op: hflip}]\n")
    summary = augment_manifest(manifest, recipe, tmp_path / "out", quiet=True)
    assert any("hold 255 and 0 alone" in w and "--palette binary" in w for w in summary.warnings)
    for row in rows:  # converted to 0/1: no warning
        io.write_mask(row.mask, (io.read_mask(row.mask) > 0).astype(np.uint8))
    summary = augment_manifest(manifest, recipe, tmp_path / "out01", quiet=True)
    assert not any("alone" in w for w in summary.warnings)
