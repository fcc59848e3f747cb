"""Life and death of worker processes: none outlives its run, and a killed one is named.

- A worker exits within about half a second when its parent disappears
  (`kill -9` of the main process): a watchdog thread polls the parent pid.
  Nothing else would stop it; it would go on writing, then block on a dead pipe.
- SIGTERM of the main process acts like Ctrl-C (`Terminated` is a
  KeyboardInterrupt): finished files are kept, workers are stopped, exit 143
  (Ctrl-C: 130); the workers are stopped before the pool is shut down. A worker
  stopped while it writes a result to the pool exits once the result is out: a
  result cut off halfway hung the shutdown for good.
- Each worker records the item it is on in shared memory, so when the system
  kills one (the out-of-memory killer) the run can say which item it was.
- Before Python 3.12 a pool whose workers die while its pending futures are
  being cancelled (SIGTERM, Ctrl-C) prints a traceback from its manager thread
  (CPython gh-107219: `terminate_broken` sets an exception on a cancelled
  future); `quiet_cancelled_future_race` drops exactly that one.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import DataprepError

# How often a worker checks that its parent is still there.
_WATCH_INTERVAL = 0.5
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM received: unwound like Ctrl-C, reported with exit code 143."""


class WorkerDied(DataprepError):
    """A worker process was killed from outside; `index` is the item it was on (None when unknown)."""

    def __init__(self, path: str | None, reason: str, index: int | None = None) -> None:
        self.index = index
        super().__init__(path, reason)

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.index))


# --------------------------------------------------------------------------- parent side

_LIVE_WATCHES: "weakref.WeakSet[PoolWatch]" = weakref.WeakSet()


class PoolWatch:
    """Shared table of (pid, item index) per worker of one pool; the initializer arguments give it to workers."""

    def __init__(self, context: Any, workers: int) -> None:
        self.size = max(8, 4 * int(workers))  # room for workers the pool starts later
        self.slots = context.RawArray("q", [0, -1] * self.size)
        self.counter = context.Value("i", 0)
        self.parent = os.getpid()
        _LIVE_WATCHES.add(self)

    @property
    def initargs(self) -> tuple[Any, ...]:
        return (self.slots, self.counter, self.size, self.parent)

    def pids(self) -> list[int]:
        return [int(self.slots[2 * i]) for i in range(self.size) if self.slots[2 * i] > 0]

    def in_flight(self) -> list[tuple[int, int]]:
        """(pid, item index) of workers that were on an item and never finished it."""
        return [(int(self.slots[2 * i]), int(self.slots[2 * i + 1]))
                for i in range(self.size) if self.slots[2 * i] > 0 and self.slots[2 * i + 1] >= 0]

    def retire(self) -> None:
        """The pool is shut down: its pids may be reused by unrelated processes, never signal them."""
        _LIVE_WATCHES.discard(self)

    def stop_workers(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def died(self, describe, exit_codes: dict[int, int | None]) -> WorkerDied:
        """The error for a broken pool, naming the item the killed worker was on."""
        lost = self.in_flight()
        if not lost:
            return WorkerDied(None, "a worker process died unexpectedly (killed by the system?)")
        pid, index = lost[0]
        code = exit_codes.get(pid)
        how = f"killed by signal {-code}" if code is not None and code < 0 else "killed"
        if code == -signal.SIGKILL:
            how += " (SIGKILL: most likely the out-of-memory killer)"
        return WorkerDied(describe(index), f"worker process {pid} was {how} while processing it", index)


def _is_cancelled_future_race(args: Any) -> bool:
    from concurrent.futures import InvalidStateError

    if args.exc_type is None or not issubclass(args.exc_type, InvalidStateError):
        return False
    tb = args.exc_traceback
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "terminate_broken" and code.co_filename.endswith("process.py"):
            return True
        tb = tb.tb_next
    return False


def quiet_cancelled_future_race() -> None:
    """Drop the manager thread's InvalidStateError of CPython gh-107219 (fixed in 3.12); others pass on."""
    if sys.version_info >= (3, 12) or getattr(threading.excepthook, "_dataprep_filter", False):
        return
    previous = threading.excepthook

    def hook(args: Any) -> None:
        if not _is_cancelled_future_race(args):
            previous(args)

    hook._dataprep_filter = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def install_sigterm() -> None:
    """In the main thread of a command: SIGTERM raises `Terminated`, SIGINT (Ctrl-C) KeyboardInterrupt, and
    both stop the workers of live pools first."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where someone else handles Ctrl-C
        signal.signal(signal.SIGINT, _on_sigint)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then act on the first as if it came then (main thread only).

    For updates that belong together: an optimizer step, the scheduler's step and the step count the
    checkpoint records. A Ctrl-C between them saved the weights of one step under the number of the one before,
    and the resumed run trained that step twice. A signal held while the block raises still stops the run
    (KeyboardInterrupt, with the block's error as its context): the user asked to stop.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    # None: a handler set outside Python, which signal.signal could not put back
    previous = {s: h for s in (signal.SIGINT, signal.SIGTERM) if (h := signal.getsignal(s)) is not None}
    for s in previous:
        signal.signal(s, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])  # through whatever handler was there: KeyboardInterrupt, Terminated


def _on_sigterm(signum: int, frame: Any) -> None:
    for watch in list(_LIVE_WATCHES):
        watch.stop_workers()
    raise Terminated()


def _on_sigint(signum: int, frame: Any) -> None:
    # Workers still on a chunk kept the pool's shutdown waiting: 2 of 7 Ctrl-Cs of `augment -j 2` hung, one for
    # 10 minutes, a worker blocked on the call queue's lock. Stopped first, they leave it nothing to wait for.
    for watch in list(_LIVE_WATCHES):
        watch.stop_workers()
    raise KeyboardInterrupt()


# --------------------------------------------------------------------------- worker side

_slots: Any = None
_slot = -1
_sending = False  # this worker is putting a result on the pool's result queue
_exit_requested = False  # stopped while sending: exit once the result is out
_SEND_GRACE = 10.0  # seconds a stopped worker gives a send in progress before it exits anyway
_exit_timer: threading.Timer | None = None


def init_worker(slots: Any, counter: Any, size: int, parent: int) -> None:
    """Pool initializer: claim a slot, start the parent watchdog, make SIGTERM end the worker at once."""
    global _slots, _slot
    with counter.get_lock():
        _slot = counter.value % size
        counter.value += 1
    _slots = slots
    slots[2 * _slot] = os.getpid()
    slots[2 * _slot + 1] = -1
    _finish_sends_before_exit(_pool_result_queue())
    signal.signal(signal.SIGTERM, _worker_sigterm)
    threading.Thread(target=_watch_parent, args=(parent,), name="dataprep-parent-watch", daemon=True).start()


def _pool_result_queue() -> Any:
    """The result queue of the concurrent.futures worker loop that called this initializer, or None (another
    pool, or a Python whose worker loop names it otherwise)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "_process_worker":
        frame = frame.f_back
    return frame.f_locals.get("result_queue") if frame is not None else None


def _finish_sends_before_exit(queue: Any) -> None:
    """A worker stopped while it sends a result exits once the result is out: one cut off halfway (a SIGTERM
    during the write of a large chunk's result) left the pool's manager thread waiting for the rest of it for
    good, and the parent's shutdown after Ctrl-C with it."""
    put = getattr(queue, "put", None)
    if put is None:
        return

    def put_whole(obj: Any) -> None:
        global _sending
        _sending = True
        try:
            put(obj)
        finally:
            _sending = False
            if _exit_requested:
                _exit_now()

    queue.put = put_whole


def working_on(index: int) -> None:
    """Record the item this worker is on (-1: none); a no-op outside pool workers."""
    if _slots is not None:
        _slots[2 * _slot + 1] = index


def _worker_sigterm(signum: int, frame: Any) -> None:
    # Stopped on purpose (by the pool or the parent): not a worker lost mid-item.
    working_on(-1)
    global _exit_requested, _exit_timer
    if _sending:  # the send goes on when this handler returns; its end exits (see _finish_sends_before_exit)
        _exit_requested = True
        _exit_timer = threading.Timer(_SEND_GRACE, _exit_now)
        _exit_timer.daemon = True
        _exit_timer.start()
        return
    _exit_now()


def _exit_now() -> None:
    from .io.atomic import remove_live_temps  # its half-written file, which os._exit would leave behind

    remove_live_temps()
    os._exit(EXIT_TERMINATED)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(_WATCH_INTERVAL)
        if os.getppid() != parent:
            # The main thread may be deep in an encoder, its SIGTERM handler not yet run: clean up for it.
            from .io.atomic import remove_live_temps

            remove_live_temps()
            os._exit(EXIT_TERMINATED)
