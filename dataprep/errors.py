"""Error types and the exit codes the CLI maps them to.

Exit codes: 0 ok, 1 data problems found, 2 usage error (bad options or arguments).
"""
from __future__ import annotations

import re
from os import PathLike

EXIT_OK = 0
EXIT_DATA_PROBLEM = 1
EXIT_USAGE = 2


class DataprepError(Exception):
    """A problem with the user's data or configuration, reported as one line.

    `path` names the file at fault (or None when no single file is), `reason`
    says what is wrong with it. `str(err)` is the line users see.
    """

    exit_code = EXIT_DATA_PROBLEM

    def __init__(self, path: str | PathLike[str] | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{one_line(self.path)}: {self.reason}" if self.path else self.reason

    def __reduce__(self):
        # Keep (path, reason) across process boundaries (process pool, Dask).
        return (type(self), (self.path, self.reason))


CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def one_line(path: str) -> str:
    """A path with its control characters escaped as Python writes them (`nl\\nname.jpg`): a newline in a file
    name split the error line in two."""
    return CONTROL_CHARACTER.sub(lambda m: repr(m.group())[1:-1], path)


class TruncatedError(DataprepError):
    """A file that ends before its data does (a copy or download cut short)."""


class StackError(DataprepError):
    """A file holding several full-size images (TIFF pages, animation frames): one image per file is all a
    manifest row can mean, so reading the first alone would silently drop the rest."""


class TiffStackError(StackError):
    """A TIFF holding a stack of full-size pages (a volume, a time series): `dataprep unstack` splits it."""


class UsageError(DataprepError):
    """Options or arguments that cannot work together (exit code 2)."""

    exit_code = EXIT_USAGE


def all_failed(source: str | PathLike[str] | None, errors: list[str], what: str,
               items: int | None = None) -> DataprepError:
    """The one error for a run in which every item failed: the first failure (file and fix), the count, no output.

    `errors` are the per-item lines ("path: reason"); `what` names the items,
    e.g. "masks", and `items` counts them where several share one error (each
    output of a broken source). Commands raise it instead of listing every
    failure and writing an empty or unusable result.
    """
    # Counts in a reason differ from file to file ("9,872 pixels in 1 value ..."): the same reason all the same
    reasons = {re.sub(r"\d[\d,.]*", "#", line.split(": ", 1)[-1]) for line in errors}
    how = " the same way" if len(reasons) == 1 else f" ({len(reasons)} different reasons)"
    of = f" of {source}" if source else ""
    count = len(errors) if items is None else items
    return DataprepError(None, f"{errors[0]} (all {count} {what}{of} failed{how}; nothing written)")


class WriteError(DataprepError):
    """An output could not be written.

    `fatal` faults (disk full, read-only or forbidden folder) would fail every
    further file the same way, so they stop the whole run instead of being
    reported once per file.
    """

    def __init__(self, path: str | PathLike[str] | None, reason: str, fatal: bool = False) -> None:
        self.fatal = fatal
        super().__init__(path, reason)

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.fatal))


class RunStopped(DataprepError):
    """A run stopped early on a fault that every further item would hit; `errors` are the items that failed before."""

    def __init__(self, path: str | PathLike[str] | None, reason: str, errors: tuple[str, ...] = ()) -> None:
        self.errors = tuple(errors)
        super().__init__(path, reason)

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.errors))
