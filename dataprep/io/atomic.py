"""Atomic writes (a temporary file beside the target, renamed over it), their errors, and the temporary files
that killed writers leave behind."""
from __future__ import annotations

import errno
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import IO

from ..errors import WriteError
from .formats import PathLike


# mkstemp creates files readable by the owner only; outputs should get the
# permissions a plain open() would give them, which needs the umask (read once,
# on the first write: see `_umask`).
_UMASK: int | None = None


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
    tmp = None
    try:
        # Hidden name so that a concurrent scan never picks up a partial file; the
        # writer's pid in it lets a later run remove the file if this process dies.
        prefix = f".{path.name}.{_temp_tag()}."
        import tempfile  # only here: its import costs every command that never writes

        try:
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        except FileNotFoundError:  # first file of its folder: mkdir only then, not on every write
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as f:
            yield f
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
            raise _write_error(path, exc) from None
        if isinstance(exc, IsADirectoryError | NotADirectoryError | FileNotFoundError):
            raise WriteError(path, f"cannot write: {exc.strerror or exc}") from None
        raise


def _umask() -> int:
    """The process umask, read once without changing it where the system allows."""
    global _UMASK
    if _UMASK is None:
        _UMASK = _umask_from_proc()
        if _UMASK is None:
            # No /proc (macOS, some containers): os.umask can only be read by setting it;
            # the lock keeps a concurrent writer thread from creating a file in between.
            with _UMASK_LOCK:
                current = os.umask(0o077)
                os.umask(current)
                _UMASK = current
    return _UMASK


def _umask_from_proc() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


_UMASK_LOCK = threading.Lock()


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
    """This machine's name as temporary file names carry it (a constant; socket is imported only by writers)."""
    import socket

    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "host"


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

