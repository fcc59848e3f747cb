"""kfold's files stay byte for byte what they were for the same seed (golden hashes of a synthetic set).

The hashes were computed with hashlib over the files written by the row-object
implementation that preceded the columnar one, and again when report.json
gained the warning that the set's 30 masks each serve several images (the fold
files themselves unchanged); any change to fold assignment, row order, CSV
formatting or the report shows up here.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dataprep import io
from dataprep.splits import kfold

ROWS = 240
CITIES = 12
CLASSES = 7


def _write_dataset(root: Path) -> Path:
    """ROWS rows over CITIES city folders, 30 distinct 6x5 label maps of up to 4 classes, a `city` and a `note`
    column; some rows without masks, ids in scrambled order."""
    rng = np.random.default_rng(1234)
    masks = root / "labels"
    masks.mkdir(parents=True)
    for m in range(30):
        present = rng.choice(CLASSES, size=int(rng.integers(1, 5)), replace=False)
        io.write_mask(masks / f"m{m:02d}.png", rng.choice(present, size=(5, 6)).astype(np.uint8))
    lines = ["id,image,mask,width,height,city,note"]
    for i in rng.permutation(ROWS):
        city = f"c{i % CITIES:02d}"
        mask = "" if i % 17 == 0 else f"labels/m{(i * 7) % 30:02d}.png"
        note = '"a, ""quoted"" note"' if i % 11 == 0 else ""
        lines.append(f"{city}/img{i:04d},images/{city}/img{i:04d}_x.jpg,{mask},6,5,{city},{note}")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):  # not bookkeeping
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


CASES = {
    "multilabel": dict(mode="multilabel", seed=3),
    "stratified-column": dict(mode="stratified", group_column="city", seed=1),
    "multilabel-regex": dict(mode="multilabel", group_by=r"images/([^/]+)/", seed=0),
    "plain": dict(mode="plain", seed=7),
}
GOLDEN = {
    "multilabel": "aa98f2addeb207addae9be724147051fbf7e822e3188f56a8cabe34b3b7c5c8f",
    "multilabel-regex": "ddb85c6761c0ee3db7574b83d77e1ace588771a58a61204b2a48e4a8c57c5695",
    "plain": "b821ee99ea6aba49b52ddeb16a4b3487318967d24ee59aa220fcf96adf796565",
    "stratified-column": "35e5ae57eabbb93f9673cf371d41b0e45d3545f3905a3caab4ab2918e9f4ec59",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fold_files_match_the_golden_hash(tmp_path, case):
    manifest = _write_dataset(tmp_path / "data")
    out = tmp_path / "out"
    kfold(manifest, out, 4, num_classes=CLASSES, quiet=True, **CASES[case])
    assert _digest(out) == GOLDEN[case]
