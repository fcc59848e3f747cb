"""Progress bars: drawn on a terminal, off in logs (CI) unless asked, always off with -q."""
from __future__ import annotations

import io
import sys

import pytest

from dataprep.executor import run_items
from dataprep.progress import bars_disabled


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "tty, env, quiet, disabled",
    [
        (True, None, False, False),  # a terminal: bars
        (False, None, False, True),  # a log file or CI: none
        (False, "1", False, False),  # asked for
        (True, "0", False, True),  # asked off
        (True, "1", True, True),  # -q always wins
    ],
)
def test_bars_follow_the_terminal_unless_asked(monkeypatch, tty, env, quiet, disabled):
    monkeypatch.setattr(sys, "stderr", _Stream(tty))
    if env is None:
        monkeypatch.delenv("DATAPREP_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("DATAPREP_PROGRESS", env)
    assert bars_disabled(quiet) is disabled


def _slow(x: int) -> int:
    import time

    time.sleep(0.3)
    return x


def test_a_run_writes_no_bar_into_a_log(monkeypatch):
    log = _Stream(False)
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.delenv("DATAPREP_PROGRESS", raising=False)
    assert [r.value for r in run_items(_slow, [1, 2, 3, 4, 5], desc="work")] == [1, 2, 3, 4, 5]
    assert log.getvalue() == ""
    # Asked for: the same run draws its bar (it lasts past tqdm's 1 s delay).
    monkeypatch.setenv("DATAPREP_PROGRESS", "1")
    run_items(_slow, [1, 2, 3, 4, 5], desc="work")
    assert "work" in log.getvalue()
