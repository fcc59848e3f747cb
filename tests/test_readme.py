"""Every code block of the README runs as written, in a temporary copy with the sample data.

Each fenced block is claimed by exactly one check below; a block none of them
knows fails `test_every_readme_block_is_checked`, so a new example cannot slip in
unchecked. Only installation commands (network) and the test-suite launcher
(this suite) are not run; they are listed by their exact text.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

# Lines of bash blocks that are not run here, with the reason.
NOT_RUN = {
    "pip install torch==2.13.0": "installs from the network",
    'pip install -e ".[dali,dask]"': "installs from the network",
    "bash scripts/test.sh": "is this test suite",
}


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block of README.md, in order."""
    text = (REPO / "README.md").read_text()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]


def _commands(text: str) -> list[str]:
    """The commands of a bash block, comments stripped."""
    out = []
    for line in text.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("#"):
            out.append(command)
    return out


def _kind(lang: str, text: str) -> str:
    if lang == "python":
        return "python"
    if lang == "yaml":
        return "recipe"
    if lang == "bash":
        return "bash"
    if text.startswith("error: "):
        return "error"
    if text.startswith("dataprep/ "):
        return "tree"
    return "unknown"


def _user_checkout(tmp_path: Path) -> Path:
    """A user's checkout: sample_data/ and pipelines/ (copied), nothing prepared yet."""
    root = tmp_path / "clone"
    root.mkdir()
    for name in ("sample_data", "pipelines"):
        shutil.copytree(REPO / name, root / name)
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DATAPREP_PROGRESS", None)
    return env


def test_every_readme_block_is_checked():
    kinds = [_kind(lang, text) for lang, text in readme_blocks()]
    assert "unknown" not in kinds, [b for b, k in zip(readme_blocks(), kinds) if k == "unknown"]
    assert kinds.count("python") >= 2 and kinds.count("bash") >= 3
    for lang, text in readme_blocks():
        if lang == "bash":
            for command in _commands(text):
                assert command.startswith("dataprep ") or command in NOT_RUN or command == "bash scripts/demo.sh", \
                    f"README command not checked by tests/test_readme.py: {command}"


def test_readme_python_blocks_run_as_written(tmp_path):
    root = _user_checkout(tmp_path)
    blocks = [text for lang, text in readme_blocks() if lang == "python"]
    for i, code in enumerate(blocks):
        script = root / f"readme_{i}.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, script.name], cwd=root, env=_env(), capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"README python block {i} failed:\n{code}\n{done.stdout}\n{done.stderr}"
    # The API example prepares what its own loader reads.
    for path in ("work/manifest.csv", "work/labels/manifest.csv", "work/stats.json", "work/splits/manifest.csv",
                 "work/augmented/manifest.csv"):
        assert (root / path).is_file(), path
    # Not a TTY: no progress bar drawn into the captured stderr.
    assert "\r" not in done.stderr and "it/s" not in done.stderr


def test_readme_dataprep_commands_work_verbatim(tmp_path, monkeypatch, cli):
    commands = [shlex.split(c) for lang, text in readme_blocks() if lang == "bash"
                for c in _commands(text) if c.startswith("dataprep ")]
    assert [c[1] for c in commands] == ["scan", "masks2labels", "stats", "kfold", "train", "tile", "stitch", "predict"]
    root = _user_checkout(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(root)
    for command in commands:
        args = command[1:]
        if args[0] == "train":  # the full run takes minutes; a few steps prove the wiring
            args += ["--max-steps", "2", "--set", "data.num_workers=0", "-q"]
        result = cli(*args)
        assert result.exit_code == 0, f"{' '.join(command)}\n{result.output}"
    assert (root / "runs/sample/last.pt").is_file()
    assert (root / "work/splits/manifest.csv").is_file()
    for path in ("work/tiles/manifest.csv", "work/stitched/manifest.csv", "work/pred/manifest.csv"):
        assert (root / path).is_file(), path
    # The config's paths are relative to its folder: the same train runs from another folder.
    monkeypatch.chdir(elsewhere)
    result = cli("train", "--config", root / "pipelines/train_sample.yaml", "--max-steps", "1", "-q",
                 "--set", "data.num_workers=0", "--overwrite")
    assert result.exit_code == 0, result.output


def test_readme_recipe_and_error_examples_are_real(tmp_path):
    from dataprep.errors import DataprepError
    from dataprep.recipe import load_recipe

    blocks = readme_blocks()
    recipe_text = next(text for lang, text in blocks if lang == "yaml")
    path = tmp_path / "readme.yaml"
    path.write_text(recipe_text)
    recipe = load_recipe(path)
    assert recipe.name == "train_default" and [s.op for s in recipe.steps][:2] == ["random_resized_crop", "hflip"]

    # The error shown for a typo is the one a user gets, word for word.
    shown = next(text for lang, text in blocks if _kind(lang, text) == "error").strip()
    bad_path, step = re.match(r"error: (\S+): step (\d+) \((\w+)\): unknown field '(\w+)'", shown).group(1, 2)
    bad = tmp_path / bad_path
    bad.parent.mkdir(parents=True)
    bad.write_text("size: [64, 64]\nsteps:\n  - op: hflip\n  - op: rotate\n    limt: 10\n")
    with pytest.raises(DataprepError) as err:
        load_recipe(bad)
    assert f"error: {err.value}".replace(str(tmp_path) + "/", "") == shown
    assert step == "2"


def _fake_env(tmp_path: Path, clone: Path) -> Path:
    """A 'virtual environment' that is this interpreter, already set up, so the script installs nothing."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").symlink_to(sys.executable)
    launcher = venv / "bin/dataprep"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c '
                        '"import sys; sys.argv[0] = \'dataprep\'; from dataprep.cli import main; main()" "$@"\n')
    launcher.chmod(0o755)
    (venv / ".dataprep-installed").write_text("none\n")  # written after the copy: newer than its pyproject.toml
    return venv


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_readme_demo_script_runs_in_a_fresh_copy(tmp_path):
    clone = _user_checkout(tmp_path)
    shutil.copytree(REPO / "scripts", clone / "scripts")
    shutil.copy2(REPO / "pyproject.toml", clone / "pyproject.toml")
    venv = _fake_env(tmp_path, clone)
    env = {**_env(), "DATAPREP_VENV": str(venv)}
    env.pop("DATAPREP_EXTRAS", None)
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "setup: installing" not in done.stderr  # the environment was complete: nothing reinstalled
    out = clone / "out/demo"
    for path in ("manifest.csv", "labels/manifest.csv", "stats.json", "splits/manifest.csv", "augmented/manifest.csv",
                 "preview_labels.png", "run/last.pt", "run/metrics.csv", "report.html"):
        assert (out / path).is_file(), path
    assert "epoch 1/1" in done.stdout
