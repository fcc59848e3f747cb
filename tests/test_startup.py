"""Start-up: `import dataprep` and `dataprep --help` load neither numpy, OpenCV, torch nor tqdm,
and the help lists the same summaries click would give by importing every command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import dataprep.cli as cli

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "cv2", "torch", "albumentations", "tqdm", "dask", "PIL")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('LOADED:', *(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("LOADED:")[-1].split()


def test_import_dataprep_and_the_help_load_no_heavy_module():
    assert _loaded_after("import dataprep") == []
    assert _loaded_after("from dataprep.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass") == []


def test_public_names_still_import_from_the_package():
    import dataprep
    from dataprep import DataprepError, Manifest, make_loader, read_manifest

    assert Manifest.__module__ == "dataprep.manifest" and read_manifest.__module__ == "dataprep.manifest"
    assert make_loader.__module__ == "dataprep.data.loader" and issubclass(DataprepError, Exception)
    assert dataprep.io.read_image.__module__ == "dataprep.io.decode"  # submodules as attributes, as before
    assert set(dataprep.__all__) <= set(dir(dataprep))


def test_help_summaries_match_the_imported_commands(monkeypatch):
    runner = CliRunner()
    lazy = runner.invoke(cli.main, ["--help"], prog_name="dataprep")
    # The same group with every command imported (what click does without the source reading).
    monkeypatch.setattr(cli, "_help_stub", lambda name: None)
    imported = runner.invoke(cli.main, ["--help"], prog_name="dataprep")
    assert lazy.exit_code == imported.exit_code == 0
    assert lazy.output == imported.output
    assert all(name in lazy.output for name in cli.COMMANDS)


# A 1-file command loads what its work needs and nothing of the training, augmentation or cluster stacks.
NOT_FOR_SMALL_COMMANDS = ("torch", "albumentations", "dask", "distributed", "dataprep.dask_executor")


def _loaded_by_command(args: list[str], names: tuple[str, ...]) -> list[str]:
    probe = ("import sys\nfrom dataprep.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             f"print('LOADED:', *(m for m in {names!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert "LOADED:" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout.split("LOADED:")[-1].split()


def _one_pair_tree(root: Path) -> Path:
    import shutil

    sample = REPO / "sample_data"
    for kind, ext in (("images", ".jpg"), ("masks", ".png")):
        (root / kind).mkdir(parents=True)
        shutil.copyfile(sample / kind / "downtown" / f"downtown_0001{ext}", root / kind / f"downtown_0001{ext}")
    shutil.copyfile(sample / "palette.json", root / "palette.json")
    return root


def test_one_file_commands_load_no_training_augmentation_or_dask_module(tmp_path):
    tree = _one_pair_tree(tmp_path / "data")
    manifest = tmp_path / "manifest.csv"
    # yaml too: a palette.json and a manifest are all these read (PyYAML is ~12 ms of start-up).
    assert _loaded_by_command(["scan", "-q", str(tree), "-o", str(manifest)],
                              (*NOT_FOR_SMALL_COMMANDS, "tqdm", "yaml")) == []
    assert manifest.is_file()
    # Colour masks are read and label maps written by OpenCV: no PIL (~30 ms with its plugins), and the atomic
    # writes need neither tempfile nor socket.
    assert _loaded_by_command(["masks2labels", "-q", "--palette", str(tree / "palette.json"), str(manifest),
                               str(tmp_path / "labels")],
                              (*NOT_FOR_SMALL_COMMANDS, "tqdm", "yaml", "PIL", "tempfile", "socket")) == []
    assert (tmp_path / "labels" / "manifest.csv").is_file()
    assert _loaded_by_command(["stats", "-q", str(tmp_path / "labels" / "manifest.csv"), "-o",
                               str(tmp_path / "stats.json")], NOT_FOR_SMALL_COMMANDS) == []
    assert (tmp_path / "stats.json").is_file()


def test_ctrl_c_while_the_command_line_loads_is_one_line_not_a_traceback():
    # The interrupt is raised where the real one lands most often: inside `import click`.
    probe = ("import builtins, sys\n"
             "real_import = builtins.__import__\n"
             "def interrupted(name, *args, **kwargs):\n"
             "    if name == 'click':\n"
             "        raise KeyboardInterrupt\n"
             "    return real_import(name, *args, **kwargs)\n"
             "builtins.__import__ = interrupted\n"
             "from dataprep.console import main\n"
             "main()\n")
    proc = subprocess.run([sys.executable, "-c", probe, "stats", "--help"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "interrupted" in proc.stderr


def test_the_console_script_is_the_guarded_entry():
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"dataprep": "dataprep.console:main"}


def test_python_dash_m_dataprep_runs_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "dataprep", "--version"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.startswith("dataprep, version"), proc.stderr
