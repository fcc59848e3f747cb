"""Atomic writes (a temporary file beside the target, renamed over it), their errors, and the temporary files
that killed writers leave behind."""
from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import IO

from ..errors import WriteError
from .formats import PathLike

# Created with the mode a plain open() uses, so the umask alone decides outputs' permissions.
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


# This process's temporary files not yet renamed into place: a worker stopped by SIGTERM (Ctrl-C of the command)
# exits at once, without the clean-up of its `with`; it removes them first (tile -j 2 left zero-byte ones).
LIVE_TEMPS: set[str] = set()


def remove_live_temps() -> None:
    """Unlink this process's temporary files in progress (for a process about to exit without unwinding)."""
    for tmp in list(LIVE_TEMPS):
        with suppress(OSError):
            os.unlink(tmp)
    LIVE_TEMPS.clear()


# The renames a `staged()` block holds back: (temporary file, final path), in order. A ContextVar, not a
# global: Dask workers may run items in threads, each with its own block.
_STAGE: ContextVar[list[tuple[str, Path]] | None] = ContextVar("dataprep_atomic_stage", default=None)


@contextmanager
def staged() -> Iterator[None]:
    """Make the atomic writes of the block all-or-nothing: none of their files appears until the block succeeds,
    then all do; when it fails, their temporary files are removed.

    A file the block would replace (a previous run's) is untouched until then. For an item whose outputs are
    several files (the tiles of one source): a source that failed at its third tile left the first two beside
    "all sources failed; nothing written". Folders made on the way stay (a concurrent item may be writing
    into them); a command that wrote nothing removes those it made. A block inside another joins the outer one.
    """
    if _STAGE.get() is not None:
        yield
        return
    renames: list[tuple[str, Path]] = []
    token = _STAGE.set(renames)
    try:
        yield
    except BaseException:
        _STAGE.reset(token)
        _discard(renames)
        raise
    _STAGE.reset(token)
    for i, (tmp, path) in enumerate(renames):
        try:
            os.replace(tmp, path)
        except OSError as exc:
            # A rename within one folder fails only on a vanished folder or a failing disk: what was renamed
            # stays (it has replaced the previous files already), the rest is removed.
            _discard(renames[i:])
            raise write_error(path, exc) from None
        LIVE_TEMPS.discard(tmp)


def _discard(renames: list[tuple[str, Path]]) -> None:
    for tmp, _path in renames:
        with suppress(OSError):
            os.unlink(tmp)
        LIVE_TEMPS.discard(tmp)  # after: a SIGTERM handler running between the two still finds it


def _place(tmp: str, path: Path) -> None:
    """Rename a finished temporary file over `path`, or leave that to the `staged()` block in progress."""
    renames = _STAGE.get()
    if renames is None:
        os.replace(tmp, path)
        LIVE_TEMPS.discard(tmp)
    else:
        renames.append((tmp, path))  # still in LIVE_TEMPS: a SIGTERM before the rename removes it


def _create_temp_in(folder: Path, prefix: str) -> tuple[int, str]:
    """`_create_temp`, making `folder` when it is missing: only then, not a mkdir on every write."""
    try:
        return _create_temp(folder, prefix)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        return _create_temp(folder, prefix)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def create_exclusive(path: PathLike, text: str) -> bool:
    """Write `text` to `path` whole, only if no file is there: False when one is (another run's, maybe created
    this instant). The file is written aside and hard-linked into place, so it never appears half-written."""
    path = Path(path)
    fd, tmp = _create_temp_in(path.parent, f".{path.name}.{_temp_tag()}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK) or path.exists():
                raise
            # No hard links (FAT, some network shares): create the file itself exclusively; a reader may see
            # it empty for an instant, which its readers take as "another run's, unreadable".
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "w", encoding="utf-8") as f:
                f.write(text)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        with suppress(OSError):
            os.unlink(tmp)
        LIVE_TEMPS.discard(tmp)


@contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds.

    Write failures raise `WriteError`, fatal when no other file could be written
    either (disk full, read-only or forbidden folder).
    """
    path = Path(path)
    if _is_special_file(path):
        # A device or pipe (-o /dev/stdout, /dev/null) is written as it is: renaming over it, root replaced
        # /dev/full with a JSON file (`stats -o /dev/full`, exit 0).
        try:
            with open(path, mode, encoding=None if "b" in mode else encoding) as f:
                yield f
        except OSError as exc:
            raise write_error(path, exc) from None
        return
    tmp = None
    try:
        # Hidden name so that a concurrent scan never picks up a partial file; the
        # writer's pid in it lets a later run remove the file if this process dies.
        fd, tmp = _create_temp_in(path.parent, f".{path.name}.{_temp_tag()}.")
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as f:
            yield f
        _place(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
            LIVE_TEMPS.discard(tmp)  # after: a SIGTERM handler running between the two still finds it
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
            raise write_error(path, exc) from None
        if isinstance(exc, IsADirectoryError | NotADirectoryError | FileNotFoundError):
            raise WriteError(path, f"cannot write: {exc.strerror or exc}") from None
        raise


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary file beside `path` (created empty, named and listed as `atomic_open`'s are) for writers that
    want a file name (tifffile); renamed over `path` when the block succeeds, else removed."""
    path = Path(path)
    fd, tmp = _create_temp_in(path.parent, f".{path.name}.{_temp_tag()}.")
    os.close(fd)
    try:
        yield Path(tmp)
        _place(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        LIVE_TEMPS.discard(tmp)  # after the unlink: a SIGTERM handler running between the two still finds it
        raise


def _is_special_file(path: Path) -> bool:
    """Whether a device, pipe or socket is at `path` (not a file to replace)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False  # nothing there yet (or unreachable: the write itself says so)
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _create_temp(folder: Path, prefix: str) -> tuple[int, str]:
    """A new file `folder/<prefix><random>.tmp`, opened for writing (tempfile.mkstemp without its import, which
    costs a short command more than its writes, and with open()'s permissions instead of owner-only)."""
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{os.urandom(4).hex()}.tmp")
        # Listed before it exists: a Ctrl-C between the open and its return left the file unknown to every clean-up.
        LIVE_TEMPS.add(name)
        try:
            return os.open(name, _NEW_FILE_FLAGS, 0o666), name
        except OSError as exc:
            LIVE_TEMPS.discard(name)  # nothing was created
            if isinstance(exc, FileExistsError):
                continue
            raise
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


# Faults every further write would hit the same way: they stop the run. EFBIG ("File too large": a file-size
# ulimit, a file system's per-file cap such as FAT32's 4 GiB) is not among them: it fails the files above the
# limit only, and the smaller ones are still written (11 of 32 label maps under `ulimit -f 3`), so it is
# reported per file, with what to do. (Python ignores SIGXFSZ, so the write fails instead of killing us.)
_FATAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def write_error(path: PathLike, exc: OSError) -> WriteError:
    """The `WriteError` for an OSError writing `path`: one line with what to do, fatal when every further
    write would fail alike."""
    reason = exc.strerror or str(exc)
    fatal = exc.errno in _FATAL_ERRNOS
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += "; free some space and rerun (finished files are kept)"
    elif exc.errno == errno.EFBIG:
        reason += ("; it is larger than the output allows (a file-size limit, `ulimit -f`, or the file system's "
                   "cap, FAT32's 4 GiB): raise the limit or write the outputs somewhere else")
    elif fatal:
        reason += "; write the outputs somewhere else"
    return WriteError(path, f"cannot write: {reason}", fatal=fatal)


@cache
def _host() -> str:
    """This machine's name as temporary file names carry it (a constant)."""
    uname = getattr(os, "uname", None)  # gethostname() without importing socket, where the system has uname
    if uname is not None:
        name = uname().nodename
    else:  # pragma: no cover - Windows
        import socket

        name = socket.gethostname()
    return re.sub(r"[^A-Za-z0-9_-]", "_", name.split(".")[0]) or "host"


_TEMP_NAME = re.compile(r"^\..+\.dp(\d+)-([A-Za-z0-9_-]+)\.[^.]+\.tmp$")


def _temp_tag() -> str:
    return f"dp{os.getpid()}-{_host()}"


def remove_stale_temps(folder: PathLike, name: str | None = None) -> int:
    """Delete temporary files under `folder` left by writers of this machine that were killed; return how many.

    Temporary files of live processes (a concurrent run into the same folder)
    stay. With `name`, only those of that file, in `folder` itself.
    """
    removed = 0
    if not os.path.isdir(folder):
        return 0
    walk = [(str(folder), [], os.listdir(folder))] if name is not None else os.walk(folder)
    for dirpath, _dirnames, filenames in walk:
        for entry in filenames:
            m = _TEMP_NAME.match(entry)
            if m is None or m.group(2) != _host() or _alive(int(m.group(1))):
                continue
            if name is not None and not entry.startswith(f".{name}.dp"):
                continue
            with suppress(OSError):
                os.unlink(os.path.join(dirpath, entry))
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True

