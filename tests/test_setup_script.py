"""scripts/setup_env.sh: what it installs, from which checkout, and when it installs nothing."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import REPO


def _fake_venv(root: Path) -> tuple[Path, Path]:
    """A venv whose python only logs its arguments: the script's decisions without a pip run."""
    log = root / "calls.log"
    (root / "venv/bin").mkdir(parents=True)
    python = root / "venv/bin/python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    python.chmod(0o755)
    return root / "venv", log


def _source(venv: Path, extras: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATAPREP_VENV": str(venv), "DATAPREP_EXTRAS": extras}
    return subprocess.run(["bash", "-c", f"source {REPO / 'scripts/setup_env.sh'}"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_an_environment_installed_from_another_checkout_is_reinstalled_from_this_one_and_says_so(tmp_path):
    """A second checkout's demo.sh with DATAPREP_VENV set re-pointed the shared environment at itself without a
    word; the first checkout's tests then imported the second's code."""
    venv, log = _fake_venv(tmp_path)
    stamp = venv / ".dataprep-installed"
    stamp.write_text("none\n/elsewhere/dataprep\n")
    done = _source(venv)
    assert done.returncode == 0, done.stderr
    assert f"setup: {venv} runs dataprep from /elsewhere/dataprep; installing this checkout ({REPO}) instead" \
        in done.stderr
    assert f"-m pip install --quiet -e {REPO}" in log.read_text()
    assert stamp.read_text() == f"none\n{REPO}\n"
    log.unlink()
    again = _source(venv)  # the same checkout, nothing missing, stamp newer than pyproject.toml: nothing to do
    assert again.returncode == 0 and not log.exists() and "installing" not in again.stderr
