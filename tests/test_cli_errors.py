"""Exit codes and error lines as the README says: 0 ok, 1 data problems, 2 usage errors; one line each."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import PIPELINES, REPO, SAMPLE_DATA
from dataprep import io


def _run(*args, env=None):
    from dataprep.cli import main

    return CliRunner(env=env).invoke(main, [str(a) for a in args], catch_exceptions=False)


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["stats"], "Missing argument 'MANIFEST'"),
        (["stats", SAMPLE_DATA / "palette.json"], "Missing option '-o'"),
        (["stats", SAMPLE_DATA / "palette.json", "-o", "s.json", "--bogus"], "No such option '--bogus'"),
        (["kfold", SAMPLE_DATA / "palette.json", "-o", "x", "-k", "1"], "Invalid value for '-k'"),
        (["nope"], "No such command 'nope'"),
    ],
)
def test_click_errors_are_one_line_with_exit_code_2(args, expected):
    result = _run(*args)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert expected in line and "--help" in line


def test_a_group_without_a_command_still_shows_its_help():
    result = _run("palette")
    assert "Commands:" in result.output and "infer" in result.output


def test_recipe_typo_is_a_usage_error(tmp_path):
    recipe = tmp_path / "x.yaml"
    recipe.write_text("size: [64, 64]\nsteps:\n  - op: hflip\n  - op: rotate\n    limt: 10\n")
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,image,mask,width,height\n")
    result = _run("augment", "--recipe", recipe, manifest, tmp_path / "out", "-j", "1")
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert f"{recipe}: step 2 (rotate): unknown field 'limt'" in line
    assert not (tmp_path / "out").exists()


def test_config_typo_is_a_usage_error(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("data: {manifest: m.csv}\noptim: {lrr: 0.1}\n")
    result = _run("train", "--config", config)
    assert result.exit_code == 2
    assert "unknown field 'optim.lrr'" in _one_error_line(result)


def test_missing_config_input_names_the_field(tmp_path):
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg/train.yaml"
    config.write_text("data: {manifest: ../work/m.csv}\n")
    result = _run("train", "--config", config)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert f"{tmp_path / 'work/m.csv'}: manifest not found (data.manifest in {config}" in line


def test_python_m_dataprep_train_errors_are_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "dataprep.train", "--confg", "x.yaml"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: No such option '--confg'. Did you mean '--config'? (see 'python -m dataprep.train --help')"]


def test_scan_on_error_fail_stops_at_the_first_problem_and_writes_nothing(tmp_path):
    out = tmp_path / "m.csv"
    result = _run("scan", SAMPLE_DATA, "-o", out, "--on-error", "fail", "-j", "1")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert str(SAMPLE_DATA / "bad") in line and "--on-error skip" in line
    assert not out.exists()
    # The default still reports problems and writes the good pairs.
    result = _run("scan", SAMPLE_DATA, "-o", out, "-j", "1", "-q")
    assert result.exit_code == 0 and out.is_file()


def test_palette_infer_on_error(tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    io.write_mask(masks / "a.png", np.zeros((8, 8), np.uint8))
    (masks / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    skip = _run("palette", "infer", masks, "-o", tmp_path / "p.json", "-j", "1")
    # Skipped masks still make it a run with data problems (exit 1), as masks2labels and stats; the palette is written.
    assert skip.exit_code == 1 and (tmp_path / "p.json").is_file()
    assert str(masks / "b.png") in skip.stderr
    fail = _run("palette", "infer", masks, "-o", tmp_path / "q.json", "-j", "1", "--on-error", "fail")
    assert fail.exit_code == 1
    assert str(masks / "b.png") in _one_error_line(fail)
    assert not (tmp_path / "q.json").exists()


def test_preview_quiet(tmp_path):
    from dataprep import write_manifest
    from dataprep.scan import scan

    manifest = tmp_path / "m.csv"
    write_manifest(scan(SAMPLE_DATA, exclude=["bad/*"]).manifest, manifest)
    loud = _run("preview", manifest, "-o", tmp_path / "a.png", "-n", "2")
    quiet = _run("preview", manifest, "-o", tmp_path / "b.png", "-n", "2", "-q")
    assert loud.exit_code == quiet.exit_code == 0
    assert "wrote" in loud.stdout and quiet.stdout == "" and (tmp_path / "b.png").is_file()


def test_help_texts():
    top = _run("--help", env={"COLUMNS": "80"}).output
    commands = top.split("Commands:", 1)[1]
    assert "..." not in commands  # whole summaries, wrapped
    assert "write a\n" in commands or "write a manifest" in commands
    for command in ("scan", "stats", "kfold", "augment", "masks2labels"):
        text = " ".join(_run(command, "--help").output.split())
        assert "0 uses every core" in text, command
        assert "--on-error" in text, command
    assert "--on-error" in _run("palette", "infer", "--help").output
    train = " ".join(_run("train", "--help").output.split())
    assert "[default: (the config's data.engine, else cpu)]" in train
    assert "[default: (the config's train.device, else auto)]" in train
    assert "-q, --quiet" in _run("preview", "--help").output


def test_bundled_recipes_and_config_still_load():
    from dataprep.recipe import load_recipe
    from dataprep.train.config import load_config

    for path in PIPELINES.glob("*.yaml"):
        if path.name != "train_sample.yaml":
            load_recipe(path)
    cfg = load_config(PIPELINES / "train_sample.yaml")
    assert cfg.data.train_recipe == str(PIPELINES / "train_default.yaml")
    assert cfg.data.manifest == str(REPO / "work/splits/manifest.csv")


def test_a_ctrl_c_before_the_command_runs_exits_130(monkeypatch):
    """Click turns a Ctrl-C while it parses the arguments into Abort: it printed 'aborted' and exited 1, the code
    of data problems."""
    import click

    def interrupted(self, ctx):
        raise click.Abort()

    monkeypatch.setattr(click.Command, "invoke", interrupted)
    result = _run("stats", SAMPLE_DATA / "palette.json", "-o", "s.json")
    assert result.exit_code == 130 and result.stderr.strip() == "interrupted"


def test_an_error_naming_a_path_with_a_newline_stays_one_line(tmp_path, cli):
    """A manifest row whose image name holds a newline: `error: .../miss` then `ing.jpg: file not found`."""
    from dataprep.manifest import ManifestRow, write_manifest

    io.write_mask(tmp_path / "src" / "m.png", np.zeros((4, 4), np.uint8))
    manifest = write_manifest([ManifestRow("a", tmp_path / "src" / "miss\ning.jpg", tmp_path / "src" / "m.png",
                                           4, 4)], tmp_path / "rows.csv")
    res = cli("resize", manifest, tmp_path / "out", "--scale", "0.5")
    assert res.exit_code == 1
    (line,) = [x for x in res.output.splitlines() if "file not found" in x]
    # every pair failed: the one all-failed line, which names the file first
    assert line.startswith("error: ") and "miss\\ning.jpg: file not found (all 1 pairs" in line


@pytest.mark.parametrize("command, output", [
    ("stats", ["-o", "out/s.json"]), ("kfold", ["-o", "out/kf"]), ("preview", ["-o", "out/p.png"]),
    ("report", ["-o", "out/r.html"]), ("dedup", ["-o", "out/d.csv"]), ("labels2rle", ["-o", "out/rle.csv"]),
    ("tile", ["out/tiles", "--size", "64"]), ("resize", ["out/small", "--max-side", "64"]),
    ("masks2labels", ["out/labels"]), ("labels2masks", ["out/masks"]), ("stitch", ["out/whole"]),
])
def test_a_manifest_without_rows_is_refused_by_every_command_that_reads_one(tmp_path, command, output):
    """A header and no rows: dedup, labels2rle, tile, resize, masks2labels and labels2masks wrote empty outputs
    (an empty submission CSV) and exited 0, where stats and kfold refused it."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,image,mask,width,height\n")
    (tmp_path / "palette.json").write_bytes((SAMPLE_DATA / "palette.json").read_bytes())  # masks2labels asks first
    out = [tmp_path / a if a.startswith("out/") else a for a in output]
    result = _run(command, manifest, *out)
    assert result.exit_code == 1, result.output
    assert _one_error_line(result) == f"error: {manifest}: manifest has no rows"
    assert not (tmp_path / "out").exists()
