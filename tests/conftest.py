"""Shared fixtures: paths to the bundled sample data and the optional real datasets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from helpers import SAMPLE_DATA, SHARED_DATA  # pytest puts tests/ on sys.path

# CI replays the same examples every run (a red CI must mean a change broke something); locally the property
# tests explore new examples each run, which is how the fold-size bug of 23 images in 5 folds was found.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def shared_data():
    """`shared_data("camvid_segnet/CamVid")` -> Path, or skip the test when that data is absent."""

    def get(relative: str) -> Path:
        path = SHARED_DATA / relative
        if not path.exists():
            pytest.skip(f"real dataset not available: {relative}")
        return path

    return get


@pytest.fixture
def cli():
    """Invoke the `dataprep` CLI in-process: cli("scan", str(root), "-o", ...) -> click Result."""
    from dataprep.cli import main

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke
