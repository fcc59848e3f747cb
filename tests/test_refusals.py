"""A manifest whose every row fails the same way: each command refuses in one line and writes nothing."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from helpers import PIPELINES, SAMPLE_DATA
from dataprep import write_manifest
from dataprep.scan import scan


@pytest.fixture(scope="module")
def colour_manifest(tmp_path_factory):
    """sample_data's manifest straight from scan: RGB colour masks, not label maps."""
    path = tmp_path_factory.mktemp("colour") / "manifest.csv"
    write_manifest(scan(SAMPLE_DATA, exclude=["bad/*"]).manifest, path)
    return path


def _run(*args):
    from dataprep.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["stats", "kfold", "augment"])
def test_every_row_failing_the_same_way_is_one_line_and_no_output(colour_manifest, tmp_path, command):
    out = tmp_path / "out"
    args = {
        "stats": ["stats", colour_manifest, "-o", out / "stats.json", "-j", "1"],
        "kfold": ["kfold", colour_manifest, "-k", "4", "-o", out, "-j", "1"],
        "augment": ["augment", "--recipe", PIPELINES / "default.yaml", colour_manifest, out, "-j", "1"],
    }[command]
    result = _run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    first = SAMPLE_DATA / "masks/downtown/downtown_0001.png"
    assert line.startswith(f"error: {first}: ")  # the first file at fault
    # how many: the 32 rows, or augment's 64 outputs (2 variants of each)
    assert ("all 64 outputs " if command == "augment" else "all 32 ") in line and "the same way" in line
    assert "dataprep masks2labels" in line  # the fix
    assert not out.exists()  # nothing written, not even an empty manifest
    assert result.stdout == ""


def test_all_failed_counts_different_reasons():
    from dataprep.errors import all_failed

    err = all_failed("m.csv", ["a.png: truncated", "b.png: colour mask"], "masks")
    assert str(err) == "a.png: truncated (all 2 masks of m.csv failed (2 different reasons); nothing written)"
    assert err.exit_code == 1
