"""When progress bars are drawn: on a terminal, never in logs unless asked.

A progress bar redrawn with carriage returns is useful on a terminal and noise
in a CI log or a file, so bars are off when stderr is not a TTY.
`DATAPREP_PROGRESS=1` asks for them anyway (`0` turns them off everywhere);
`-q/--quiet` always wins.
"""
from __future__ import annotations

import os
import sys

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


__all__ = ["bars_disabled"]
