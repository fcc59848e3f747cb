"""Starting worker processes by fork where that is safe, as torch's DataLoader does on Linux.

Fork starts a worker in milliseconds and needs no `if __name__ == "__main__":`
guard; spawn and forkserver re-import the caller's main module and dataprep's
dependencies in every worker (a second or more with torch). What can go wrong
with fork is inheriting state that belongs to threads the child does not have:

- OpenCV's thread pool: a forked child holds the pool's bookkeeping but none of
  its threads, and resizing it there (`cv2.setNumThreads`) waits forever.
  `opencv_on_one_thread` brings the parent's pool down to no threads while the
  workers fork, then back up, so the workers run OpenCV serially (one process
  per core) and never touch an inherited pool.
- Python threads of the caller that may hold a lock at the moment of the fork:
  `fork_is_safe` says no when there are any (tqdm's progress monitor excepted:
  it only sleeps and prints), and the caller falls back to spawn.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

START_METHODS = ("fork", "forkserver", "spawn")


def can_fork() -> bool:
    """Fork is available and the platform's usual choice (Linux; macOS and Windows spawn)."""
    import multiprocessing as mp

    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


def other_threads() -> list:
    """Python threads of this process besides the current one and tqdm's monitor."""
    import threading

    me = threading.current_thread()
    return [t for t in threading.enumerate() if t is not me and type(t).__name__ != "TMonitor"]


def fork_is_safe() -> bool:
    return can_fork() and not other_threads()


def check_start_method(start_method: str) -> str:
    import multiprocessing as mp

    from .errors import UsageError

    if start_method not in START_METHODS:
        raise UsageError(None, f"start_method must be one of {', '.join(START_METHODS)}, got {start_method!r}")
    available = mp.get_all_start_methods()
    if start_method not in available:
        raise UsageError(None, f"start_method {start_method!r} is not available on this platform "
                         f"(available: {', '.join(available)})")
    return start_method


def unstartable_main(start_method: str | None) -> str | None:
    """Why workers started by `start_method` (None: the platform's default) cannot start, or None when they can.

    Spawn and forkserver workers re-run the main script from its path before they run anything: a script piped to
    `python -` has the path '<stdin>', so every worker died of FileNotFoundError and the loader raised "DataLoader
    worker (pid(s) ...) exited unexpectedly". `python -c`, notebooks and `python -m` have nothing or a module to
    re-run, and start."""
    import multiprocessing as mp
    import os

    method = start_method or ("fork" if can_fork() else mp.get_start_method(allow_none=True) or "spawn")
    if method == "fork":
        return None
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None):
        return None
    path = getattr(main, "__file__", None)
    if path is None:
        return None
    where = os.path.join(mp.process.ORIGINAL_DIR or "", path)  # where multiprocessing looks for it
    if os.path.exists(where):
        return None
    return (f"{method} workers start by re-running the main script, and this one ({path}) is not a file they can "
            "re-run; save the script to a file, or leave start_method out (fork, on Linux)")


@contextmanager
def opencv_on_one_thread() -> Iterator[None]:
    """OpenCV without pool threads inside the block (workers fork here), then as it was."""
    import cv2

    threads = cv2.getNumThreads()
    if threads != 1:
        cv2.setNumThreads(1)
    try:
        yield
    finally:
        if threads != 1:
            cv2.setNumThreads(threads)


def single_threaded_opencv() -> None:
    """In a worker: OpenCV on one thread, without resizing a pool inherited by fork (see the module notes)."""
    import cv2

    if cv2.getNumThreads() != 1:  # a forked worker already has 1
        cv2.setNumThreads(1)
