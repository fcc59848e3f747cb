"""The `dataprep` console script.

It imports the command line itself so that a Ctrl-C while click, numpy and
OpenCV load (the first tenth of a second) ends like one during a command, with
one line and exit 130, not a traceback out of the import machinery.
"""
from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted; nothing was written\n")
        sys.exit(130)
    cli_main()
