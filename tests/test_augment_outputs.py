"""What a rerun of `dataprep augment` leaves in OUT: every manifest row's files, and nothing of other outputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from helpers import make_small_pairs
from dataprep import io
from dataprep.augment import augment_manifest
from dataprep.manifest import ManifestRow, read_manifest, write_manifest


def _mixup_set(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    """`n` small rows and a recipe whose every output is a mixup with a soft label."""
    recipe = tmp_path / "mixup.yaml"
    recipe.write_text(yaml.safe_dump({"seed": 0, "size": [24, 32], "output": {"image_format": "png"},
                                      "steps": [{"op": "mixup", "soft_labels": True}]}))
    return make_small_pairs(tmp_path, n, seed=5), recipe


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rerun_writes_again_the_outputs_whose_files_were_deleted(tmp_path):
    """A params file alone said "complete": with its image, mask or soft label deleted (to have it redone), the
    rerun kept the output and wrote a manifest naming files that were not there."""
    manifest, recipe = _mixup_set(tmp_path)
    out = tmp_path / "out"
    augment_manifest(manifest, recipe, out, quiet=True)
    fresh = _files(out)
    for gone in ("images/0__v0.png", "masks/1__v0.png", "soft/2__v0.npz"):
        (out / gone).unlink()
    again = augment_manifest(manifest, recipe, out, quiet=True)
    assert (again.written, again.reused, again.redone) == (3, 1, 0)
    assert _files(out) == fresh
    for row in read_manifest(again.manifest):
        assert row.image.is_file() and row.mask.is_file()
        assert (out / row.extra["soft_label"]).is_file()


def test_overwrite_with_another_recipe_leaves_no_stale_copy_of_an_output(tmp_path):
    """--overwrite with another recipe kept each output's old image in the other format (a scan of OUT: two images
    of one stem) and the old mixup's soft label beside an output without mixup; outputs it did not write again
    (fewer variants) were left without a word."""
    manifest, mixup = _mixup_set(tmp_path)
    out = tmp_path / "out"
    augment_manifest(manifest, mixup, out, variants=2, quiet=True)
    assert len(list((out / "soft").glob("*.npz"))) == 8
    flip = tmp_path / "flip.yaml"
    flip.write_text(yaml.safe_dump({"seed": 0, "size": [24, 32], "steps": [{"op": "hflip"}]}))
    summary = augment_manifest(manifest, flip, out, overwrite=True, image_format="jpg", quiet=True)
    assert summary.written == 4
    images = sorted(p.name for p in (out / "images").iterdir())
    assert [n for n in images if "__v0" in n] == [f"{i}__v0.jpg" for i in range(4)]
    assert sorted(p.name for p in (out / "soft").iterdir()) == [f"{i}__v1.npz" for i in range(4)]
    left = [w for w in summary.warnings if "did not write" in w]
    assert len(left) == 1 and "holds 4 output(s) of an earlier run" in left[0] and "params/0__v1.json" in left[0]
    assert not [w for w in augment_manifest(manifest, flip, tmp_path / "new", quiet=True).warnings
                if "did not write" in w]


def test_with_force_an_input_named_like_an_outputs_other_format_is_kept(tmp_path):
    """Removing an output's copies in other formats must never remove an input that --force let OUT hold."""
    out = tmp_path / "out"
    rows = []
    for i in range(2):
        image, mask = out / "images" / f"{i}__v0.jpg", tmp_path / "masks" / f"{i}.png"
        io.write_image(image, np.full((24, 32, 3), 40 * i, np.uint8))
        io.write_mask(mask, np.zeros((24, 32), np.uint8))
        rows.append(ManifestRow(str(i), image, mask, 32, 24))
    manifest = write_manifest(rows, tmp_path / "rows.csv")
    recipe = tmp_path / "flip.yaml"
    recipe.write_text(yaml.safe_dump({"seed": 0, "size": [24, 32], "output": {"image_format": "png"},
                                      "steps": [{"op": "hflip"}]}))
    assert augment_manifest(manifest, recipe, out, force=True, quiet=True).written == 2
    assert sorted(p.name for p in (out / "images").iterdir()) == ["0__v0.jpg", "0__v0.png", "1__v0.jpg", "1__v0.png"]
