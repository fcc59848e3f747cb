from __future__ import annotations

import pytest

from dataprep.errors import DataprepError
from dataprep.manifest import ManifestRow, read_manifest, write_manifest


def test_round_trip_relative_paths_and_extra_columns(tmp_path):
    rows = [
        ManifestRow("a", tmp_path / "data/img/a.jpg", tmp_path / "data/m/a.png", 4, 3, {"fold": "1"}),
        ManifestRow("b", tmp_path / "data/img/b.jpg", None, 5, 6, {"group": "x"}),
    ]
    path = write_manifest(rows, tmp_path / "work/manifest.csv")
    text = path.read_text()
    assert text.splitlines()[0] == "id,image,mask,width,height,fold,group"
    assert "../data/img/a.jpg" in text and str(tmp_path) not in text
    back = read_manifest(path)
    assert [r.id for r in back] == ["a", "b"]
    assert back[0].image == tmp_path / "data/img/a.jpg" and back[1].mask is None
    assert back[0].extra == {"fold": "1", "group": ""} and back[1].extra == {"fold": "", "group": "x"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("id,image\na,b\n", "missing column"),
        ("id,image,mask,width,height\na,x.jpg,,1,1\na,y.jpg,,1,1\n", "duplicate id"),
        ("id,image,mask,width,height\na,x.jpg,,one,1\n", "integers"),
        ("id,image,mask,width,height\n,x.jpg,,1,1\n", "empty id"),
    ],
)
def test_bad_manifests_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(DataprepError, match=message) as err:
        read_manifest(path)
    assert str(path) in str(err.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataprepError, match="not found"):
        read_manifest(tmp_path / "nope.csv")
