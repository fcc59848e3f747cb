"""The executor abstraction and its Dask engine depend one way: dask_executor imports executor, never back."""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "dataprep"


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` statement of `path` names, at any depth (functions included), made absolute."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import x` imports module x
    return names


def test_the_executor_never_imports_its_dask_engine_and_the_engine_imports_the_executor():
    executor = imported_modules(PACKAGE / "executor.py")
    assert not {m for m in executor if m == "dataprep.dask_executor" or m.split(".")[0] in ("dask", "distributed")}
    assert "dataprep.executor" in imported_modules(PACKAGE / "dask_executor.py")


def test_importing_the_executor_loads_no_dask():
    probe = ("import sys, dataprep.executor\n"
             "print(*(m for m in ('dask', 'distributed', 'dataprep.dask_executor') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []


def test_the_engine_make_executor_names_exists():
    from dataprep.executor import DASK_ENGINE

    if importlib.util.find_spec("distributed") is None:
        pytest.skip("dask.distributed is not installed")
    assert hasattr(importlib.import_module(DASK_ENGINE), "DaskExecutor")
