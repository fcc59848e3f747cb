"""When progress bars are drawn: on a terminal, never in logs unless asked.

A progress bar redrawn with carriage returns is useful on a terminal and noise
in a CI log or a file, so bars are off when stderr is not a TTY.
`DATAPREP_PROGRESS=1` asks for them anyway (`0` turns them off everywhere);
`-q/--quiet` always wins.
"""
from __future__ import annotations

import os
import sys
from typing import Any

_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def bars_disabled(quiet: bool = False) -> bool:
    """The `disable=` value for tqdm: True when quiet, asked off, or stderr is not a terminal."""
    if quiet:
        return True
    asked = os.environ.get("DATAPREP_PROGRESS", "").strip().lower()
    if asked in _ON:
        return False
    if asked in _OFF:
        return True
    stream = sys.stderr
    try:
        return not (stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return True


class _NoBar:
    """What `progress_bar` returns when no bar is drawn: the calls a bar gets, doing nothing."""

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(*, total: int | None, desc: str = "", unit: str = "file", quiet: bool = False, initial: int = 0,
                 **options: Any) -> Any:
    """A tqdm bar on stderr that appears after a second of work, or a do-nothing stand-in when bars are off.

    tqdm is imported only when a bar may be drawn: importing it (and the
    package metadata it reads) is 10-15 ms of every short command otherwise.
    """
    if bars_disabled(quiet):
        return _NoBar()
    from tqdm import tqdm

    options = {"delay": 1.0, "leave": False, "file": sys.stderr, **options}
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, **options)


__all__ = ["bars_disabled", "progress_bar"]
