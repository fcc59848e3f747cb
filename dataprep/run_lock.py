"""Runs of one command into one folder at the same time: identical ones may share it, others may not.

`augment` with two recipes started together into one folder exited 0 with pairs whose image came from one
run and mask from the other (each run writes an output's files one after the other, and their writes
interleaved); `masks2labels` with two palettes left label maps of both beside one palette.json. The settings
a folder records cannot tell, since both runs find none there or the other's, written an instant ago.

Each run holds a shared `flock` on `OUT/.dataprep-<command>-<digest of its settings>.lock` until it ends, then
looks for a lock of other settings that a live run holds: at most one of two overlapping runs gets past that
(each takes its own lock before looking), identical runs share theirs, and the kernel drops the lock of a
killed run, so nothing stale is ever in the way.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .errors import UsageError
from .io.atomic import write_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, runs are not told apart
    fcntl = None  # type: ignore[assignment]

# A lock file planted as a symlink would have the lock created (empty) wherever it points, outside the output.
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def settings_digest(settings: Mapping[str, Any]) -> str:
    """A short digest of `settings` as JSON (keys sorted), naming the lock of runs that write alike."""
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def exclusive_settings(out: Path, command: str, settings: Mapping[str, Any]) -> Iterator[None]:
    """Hold this run's lock on `out` for the block; refuse (UsageError) while a run of `command` with other
    settings is writing there. `out` is made when missing."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    prefix = f".dataprep-{command}-"
    own = f"{prefix}{settings_digest(settings)}.lock"
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out, exc) from None
    fd = _shared_lock(out / own)
    try:
        for name in sorted(os.listdir(out)):
            if name != own and name.startswith(prefix) and name.endswith(".lock") and _held(out / name):
                raise UsageError(out, f"is being written by another `dataprep {command}` run with other "
                                      "settings; wait for it to end, or choose another folder")
        yield
    finally:
        _release(out / own, fd)
        if created:  # a run that wrote nothing leaves no folder behind
            with suppress(OSError):
                out.rmdir()


@contextmanager
def one_writer_at_a_time(out: Path, command: str) -> Iterator[None]:
    """Hold `OUT/.dataprep-<command>.lock` exclusively for the block (waiting for a run holding it), for writers
    of a set of files that must agree with one another: two `kfold` runs into one folder renamed their files
    in turn, leaving fold_0/val.csv of one split beside the manifest of the other."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out, exc) from None
    path = out / f".dataprep-{command}.lock"
    fd = _locked(path, fcntl.LOCK_EX)
    try:
        yield
    finally:
        with suppress(OSError):
            os.unlink(path)  # while still held: a run waiting on it finds it gone and takes a new one
        os.close(fd)


def _shared_lock(path: Path) -> int:
    return _locked(path, fcntl.LOCK_SH)


def _locked(path: Path, how: int) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _NO_FOLLOW, 0o666)
        except OSError as exc:
            raise write_error(path, exc) from None
        fcntl.flock(fd, how)
        # A run ending this instant may have unlinked the file we opened: a lock on it would guard nothing.
        with suppress(OSError):
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        os.close(fd)


def _held(path: Path) -> bool:
    """Whether a live process holds a lock on `path` (a file gone or unreadable is nobody's)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NO_FOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with suppress(OSError):
            os.unlink(path)  # a killed run's: the kernel dropped its lock
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def _release(path: Path, fd: int) -> None:
    """Unlock, removing the file when no other run shares it (no lock files pile up in the output)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass  # an identical run still holds it: it stays for that run
    else:
        with suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)


__all__ = ["exclusive_settings", "one_writer_at_a_time", "settings_digest"]
