"""make_loader's worker processes: they start wherever a plain torch DataLoader's do.

A training script without an `if __name__ == "__main__":` guard, or piped to
`python -`, must run with workers (as it does with torch's own DataLoader on
Linux), and the batches must not depend on how the workers were started.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataprep import make_loader
from dataprep.data.cpu import worker_context
from dataprep.errors import UsageError

from helpers import PIPELINES, make_label_dataset  # noqa: E402  (pytest puts tests/ on sys.path)

REPO = Path(__file__).resolve().parent.parent
RECIPE = PIPELINES / "train_light.yaml"

# No __main__ guard, on purpose. Before the loader starts, the script runs OpenCV
# on several threads (a forked worker inherits that pool) and torch ops.
SCRIPT = """\
import cv2, numpy as np, torch
from dataprep import make_loader
big = np.zeros((2000, 2000, 3), np.uint8)
for _ in range(3):
    cv2.GaussianBlur(cv2.resize(big, (1500, 1500)), (9, 9), 0)
torch.ones(512, 512) @ torch.ones(512, 512)
loader = make_loader({manifest!r}, {recipe!r}, batch_size=3, num_workers=2, seed=5)
for epoch in range(2):
    loader.set_epoch(epoch)
    for batch in loader:
        print(epoch, ",".join(batch["id"]), float(batch["image"].double().sum()), int(batch["mask"].sum()))
"""


def _digest(loader, epochs: int = 2) -> list[str]:
    lines = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            lines.append(f"{epoch} {','.join(batch['id'])} {float(batch['image'].double().sum())} "
                         f"{int(batch['mask'].sum())}")
    return lines


@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> Path:
    return make_label_dataset(tmp_path_factory.mktemp("loader-workers"), n=8)


@pytest.fixture(scope="module")
def expected(labels) -> list[str]:
    return _digest(make_loader(labels, RECIPE, batch_size=3, num_workers=0, seed=5))


def _run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_script_without_main_guard_runs_two_epochs_with_workers(how, labels, expected, tmp_path):
    script = SCRIPT.format(manifest=str(labels), recipe=str(RECIPE))
    if how == "file":
        (tmp_path / "train.py").write_text(script)
        proc = _run(["train.py"], tmp_path)
    else:
        proc = _run(["-"], tmp_path, stdin=script)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    # Two workers give the batches of the in-process loader, epoch by epoch.
    assert proc.stdout.splitlines() == expected


def test_workers_fork_on_linux_and_other_start_methods_on_request(labels, expected):
    if sys.platform.startswith("linux"):
        assert worker_context(None) == "fork"
    assert worker_context("spawn") == "spawn"
    spawned = make_loader(labels, RECIPE, batch_size=3, num_workers=2, seed=5, start_method="spawn")
    assert _digest(spawned) == expected


def test_unknown_start_method_is_a_usage_error(labels):
    with pytest.raises(UsageError, match="start_method must be one of fork, forkserver, spawn"):
        make_loader(labels, batch_size=2, num_workers=0, start_method="thread")



@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawned_workers_of_a_script_piped_to_python_are_refused_in_one_line(method, labels, tmp_path):
    """Spawn and forkserver workers re-run the main script from its path, '<stdin>' here: every worker died of
    FileNotFoundError and the loader raised "DataLoader worker (pid(s) ...) exited unexpectedly"."""
    script = SCRIPT.format(manifest=str(labels), recipe=str(RECIPE))
    script = script.replace("seed=5)", f"seed=5, start_method={method!r})")
    proc = _run(["-"], tmp_path, stdin=script)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"dataprep.errors.UsageError: {method} workers start by re-running the main script, and this one (<stdin>) "
        "is not a file they can re-run; save the script to a file, or leave start_method out (fork, on Linux)")
    assert "exited unexpectedly" not in proc.stderr and "FileNotFoundError" not in proc.stderr
