"""The suite's own layout: fixtures live in conftest.py, shared code in helper modules, never in a test file.

A test module importing another one runs that module's import-time code wherever
it is imported, and hides which file a helper belongs to; conftest.py is loaded
by pytest as a plugin, and importing it as a module too gives it two copies.
The check also reads code held in strings (scripts run in a subprocess).
"""
from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# `from test_x import ...`, `import test_x`, `from tests.test_x import ...`, `from tests import test_x`,
# and the same for conftest
TEST_MODULE_IMPORT = re.compile(
    r"^\s*(?:from\s+(?:tests\.)?(?:test_\w+|conftest)\s+import|import\s+(?:tests\.)?(?:test_\w+|conftest)"
    r"|from\s+tests\s+import\s+(?:test_|conftest))",
    re.MULTILINE,
)


def test_imports_of_test_modules_are_found():
    for line in ("from test_dataset import make_label_dataset", "    from tests.test_executor import blur_size",
                 "import test_train_loop", "from tests import test_io", "from conftest import REPO"):
        assert TEST_MODULE_IMPORT.search(line), line
    for line in ("from helpers import make_label_dataset", "from import_exports import coco_export",
                 "from dataprep.train import testing", "# test_x imports nothing"):
        assert not TEST_MODULE_IMPORT.search(line), line


def test_no_test_module_imports_another():
    offenders = [
        f"{path.name}: {match.group(0).strip()}"
        for path in sorted(TESTS.glob("*.py"))
        for match in TEST_MODULE_IMPORT.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "move shared code to helpers.py (fixtures to conftest.py): " + "; ".join(offenders)
