"""Atomic writes (a temporary file beside the target, renamed over it), their errors, and the temporary files
that killed writers leave behind."""
from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


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
            raise _write_error(path, exc) from None
        return
    tmp = None
    try:
        # Hidden name so that a concurrent scan never picks up a partial file; the
        # writer's pid in it lets a later run remove the file if this process dies.
        prefix = f".{path.name}.{_temp_tag()}."
        try:
            fd, tmp = _create_temp(path.parent, prefix)
        except FileNotFoundError:  # first file of its folder: mkdir only then, not on every write
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _create_temp(path.parent, prefix)
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as f:
            yield f
        os.replace(tmp, path)
        LIVE_TEMPS.discard(tmp)
    except BaseException as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
            LIVE_TEMPS.discard(tmp)  # after: a SIGTERM handler running between the two still finds it
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
            raise _write_error(path, exc) from None
        if isinstance(exc, IsADirectoryError | NotADirectoryError | FileNotFoundError):
            raise WriteError(path, f"cannot write: {exc.strerror or exc}") from None
        raise


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary file beside `path` (created empty, named and listed as `atomic_open`'s are) for writers that
    want a file name (tifffile); renamed over `path` when the block succeeds, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, f".{path.name}.{_temp_tag()}.")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        LIVE_TEMPS.discard(tmp)  # after the unlink: a SIGTERM handler running between the two still finds it


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


_FATAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def _write_error(path: Path, exc: OSError) -> WriteError:
    reason = exc.strerror or str(exc)
    fatal = exc.errno in _FATAL_ERRNOS
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += "; free some space and rerun (finished files are kept)"
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

