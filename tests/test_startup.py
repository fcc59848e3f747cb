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
    assert dataprep.io.read_image.__module__ == "dataprep.io"  # submodules as attributes, as before
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
