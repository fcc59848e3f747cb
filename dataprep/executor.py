"""Runs per-item work serially, on a local process pool, or on a distributed engine.

Commands describe their work as a picklable function applied to a list of items;
`run_items` chunks the items, hands the chunks to an `Executor`, shows progress,
captures each item's error, and returns the results in input order, so that any
reduction over them gives the same answer whatever ran it.

An engine only has to implement `Executor.map_chunks`; commands never change.
"""
from __future__ import annotations

import os
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from . import lifecycle
from .allocator import keep_freed_memory
from .errors import DataprepError, RunStopped, UsageError
from .forking import check_start_method, fork_is_safe, opencv_on_one_thread, single_threaded_opencv
from .progress import bars_disabled

if TYPE_CHECKING:  # multiprocessing and concurrent.futures load only when a pool starts
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")
OnError = Literal["skip", "fail"]

Chunk = list[tuple[int, Any]]
ChunkResult = list[tuple[int, bool, Any]]  # (index, ok, value or error line)


@dataclass(frozen=True)
class ItemResult(Generic[R]):
    index: int
    value: R | None
    error: str | None  # one line, "path: reason", when the item failed

    @property
    def ok(self) -> bool:
        return self.error is None


class Executor(ABC):
    """Where chunks of items run. Subclasses implement `map_chunks` only."""

    workers: int = 1
    started: bool = True  # False while a lazy executor has not started its workers

    def worth_starting(self, serial_seconds: float) -> bool:
        """Whether starting the workers pays for `serial_seconds` of work left (lazy executors only)."""
        return True

    def start(self) -> None:
        """Start the workers now (lazy executors only)."""

    @abstractmethod
    def map_chunks(self, fn: Callable[[Chunk], ChunkResult], chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        """Yield the result of `fn(chunk)` for each chunk, in completion order."""

    def close(self) -> None:
        pass

    def restart(self) -> None:
        """Start afresh after a worker was killed (a local pool replaces its processes)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    workers = 1

    def map_chunks(self, fn, chunks):
        for chunk in chunks:
            yield fn(chunk)


def _init_worker(*watch: Any) -> None:
    if watch:  # local pool workers: exit with the parent; record the item in hand
        lifecycle.init_worker(*watch)
    # One process per core already; codec thread pools would only oversubscribe.
    try:
        single_threaded_opencv()
    except Exception:  # pragma: no cover - cv2 is a hard dependency
        pass
    keep_freed_memory()


class ProcessExecutor(Executor):
    """A local pool of worker processes (`-j N`), started on first use.

    Workers fork on Linux when this process runs no other Python threads (a
    thread holding a lock at the fork would leave it locked in the child for
    good), spawn otherwise or when `start_method` asks; see dataprep.forking.
    Forked workers start in tens of milliseconds, spawned ones re-import
    numpy and OpenCV (half a second or more each). `run_items` runs the first
    chunk in this process and starts the pool only when the rest of the work
    is worth it (`worth_starting`), so small jobs never pay for it.
    """

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        self.workers = max(1, int(workers))
        self._start_method = check_start_method(start_method) if start_method is not None else None
        self._pool: ProcessPoolExecutor | None = None
        self._watch: lifecycle.PoolWatch | None = None

    @property
    def start_method(self) -> str:
        """The method the workers started (or would start now) with."""
        if self._start_method is not None:
            return self._start_method
        return "fork" if fork_is_safe() else "spawn"

    @property
    def started(self) -> bool:  # type: ignore[override]
        return self._pool is not None

    def startup_seconds(self) -> float:
        """A rough price of starting the pool (measured on a 2-core machine, rounded up)."""
        return 0.05 if self.start_method == "fork" else 0.4 * self.workers

    def worth_starting(self, serial_seconds: float) -> bool:
        if self.started:
            return True
        saved = serial_seconds * (1 - 1 / self.workers)
        return saved > self.startup_seconds()

    def start(self) -> None:
        if self._pool is not None:
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        method = self._start_method = self.start_method  # the pool's own threads must not turn it to spawn
        context = mp.get_context(method)
        watch = lifecycle.PoolWatch(context, self.workers)
        pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                   initargs=watch.initargs)
        if method == "fork":
            # Under fork the pool forks all its workers at the first submit: do it now, with
            # OpenCV's pool at no threads, and before a progress bar starts its thread.
            with opencv_on_one_thread():
                pool.submit(int).result()
        self._pool, self._watch = pool, watch

    def map_chunks(self, fn, chunks):
        from concurrent.futures import FIRST_COMPLETED, wait

        self.start()
        pool = self._pool
        assert pool is not None
        it = iter(chunks)
        pending: set[Future] = set()
        limit = self.workers * 4  # bounded in-flight work keeps memory flat on huge lists
        items: dict[int, Any] = {}  # index -> item, to name the one a killed worker was on
        try:
            for chunk in it:
                items.update(chunk)
                pending.add(pool.submit(fn, chunk))
                if len(pending) >= limit:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield self._result(fut, items)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield self._result(fut, items)
        finally:
            for fut in pending:
                fut.cancel()

    def _result(self, fut: Future, items: dict[int, Any]) -> ChunkResult:
        from concurrent.futures.process import BrokenProcessPool

        try:
            result = fut.result()
        except BrokenProcessPool:
            processes = dict(getattr(self._pool, "_processes", None) or {})
            self._pool.shutdown(wait=True, cancel_futures=True)  # the others exit; the killed one's slot stays set
            codes = {pid: p.exitcode for pid, p in processes.items()}
            raise self._watch.died(lambda i: _describe(items.get(i)), codes) from None
        for index, _ok, _value in result:
            items.pop(index, None)
        return result

    def restart(self) -> None:
        self.close()
        self.start()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._watch is not None:
            self._watch.retire()
            self._watch = None


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


def make_executor(jobs: int | None = None, scheduler: str | None = None,
                  start_method: str | None = None) -> Executor:
    """Serial for `jobs == 1`, a process pool otherwise (None = all cores), Dask when `scheduler` is set.

    `scheduler` is a dask.distributed address (`tcp://host:8786`) or `local:N`.
    `start_method`: how pool workers start ("fork", "forkserver", "spawn";
    default: fork on Linux when safe, else spawn).
    """
    if scheduler:
        try:
            from .dask_executor import DaskExecutor
        except ImportError as exc:
            raise UsageError(
                None, f"--scheduler needs Dask: pip install 'dataprep[dask]' ({exc})"
            ) from None
        return DaskExecutor(scheduler)
    n = default_workers() if jobs is None or jobs <= 0 else jobs
    return SerialExecutor() if n == 1 else ProcessExecutor(n, start_method)


class _ChunkRunner:
    """Applies `fn` to each item of a chunk, turning exceptions into one-line errors."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, chunk: Chunk) -> ChunkResult:
        out: ChunkResult = []
        for index, item in chunk:
            lifecycle.working_on(index)
            try:
                out.append((index, True, self.fn(item)))
            except DataprepError as exc:
                # A fatal fault (disk full) travels as the error itself: it stops the run.
                out.append((index, False, exc if getattr(exc, "fatal", False) else str(exc)))
            except MemoryError:
                out.append((index, False, f"{_describe(item)}: out of memory"))
            except Exception as exc:  # noqa: BLE001 - every failure is reported per item
                out.append((index, False, f"{_describe(item)}: {type(exc).__name__}: {exc}"))
        lifecycle.working_on(-1)
        return out


def _describe(item: Any) -> str:
    for attr in ("src", "path", "image", "id"):  # a file path when the item has one
        value = getattr(item, attr, None)
        if value is not None:
            return str(value)
    return repr(item)[:120]


def _chunks(items: Sequence[T], size: int, indices: Sequence[int] | None = None) -> Iterator[Chunk]:
    indices = range(len(items)) if indices is None else indices
    for start in range(0, len(indices), size):
        yield [(i, items[i]) for i in indices[start : start + size]]


def run_items(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    desc: str = "",
    quiet: bool = False,
    unit: str = "file",
    chunk_size: int | None = None,
) -> list[ItemResult[R]]:
    """Apply `fn` to every item; return one `ItemResult` per item, in input order.

    `on_error="fail"` stops at the first failing item and raises a DataprepError
    naming it; `"skip"` records the error and carries on with the rest.
    """
    if on_error not in ("skip", "fail"):
        raise UsageError(None, f"on_error must be 'skip' or 'fail', not {on_error!r}")
    executor = executor or SerialExecutor()
    n = len(items)
    if chunk_size is None:
        # Several chunks per worker balance load; small chunks keep the bar moving.
        chunk_size = max(1, min(32, n // (executor.workers * 8) or 1))
    results: list[ItemResult[R] | None] = [None] * n
    runner = _ChunkRunner(fn)

    def collect(chunk_result: ChunkResult) -> None:
        for index, ok, value in chunk_result:
            if not ok and not isinstance(value, str):  # fatal: every further item would fail alike
                raise RunStopped(value.path, value.reason, tuple(errors_of(r for r in results if r)))
            results[index] = ItemResult(index, value, None) if ok else ItemResult(index, None, value)
            if not ok and on_error == "fail":
                raise DataprepError(None, value)

    todo: Sequence[int] | None = None  # None: every item
    done = 0
    if n and not executor.started:
        # A lazy pool: the first chunk runs here, and tells whether the rest is worth starting workers for.
        first = next(_chunks(items, chunk_size))
        began = time.perf_counter()
        first_result = runner(first)
        per_item = (time.perf_counter() - began) / len(first)
        collect(first_result)
        done = len(first)
        todo = range(done, n)
        if done < n and executor.worth_starting(per_item * (n - done)):
            executor.start()
        elif done < n:
            executor = SerialExecutor()
    from tqdm import tqdm  # only commands that show progress pay for importing it

    # delay=1: no bar at all for work that finishes within a second.
    with tqdm(total=n, initial=done, desc=desc, unit=unit, disable=bars_disabled(quiet), delay=1.0, leave=False,
              file=sys.stderr) as bar:
        unexplained_deaths = 0
        while todo is None or todo:
            stream = executor.map_chunks(runner, _chunks(items, chunk_size, todo))
            try:
                for chunk_result in stream:
                    collect(chunk_result)
                    bar.update(len(chunk_result))
                break
            except lifecycle.WorkerDied as exc:
                # Killed from outside (out of memory): that item failed; the others run in a fresh pool.
                if on_error == "fail" or exc.index is None and unexplained_deaths >= 2:
                    raise
                if exc.index is None:
                    unexplained_deaths += 1
                else:
                    results[exc.index] = ItemResult(exc.index, None, str(exc))
                    bar.update(1)
                executor.restart()
                todo = [i for i in range(n) if results[i] is None]
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
    return [r for r in results if r is not None]


def errors_of(results: Iterable[ItemResult[Any]]) -> list[str]:
    return [r.error for r in results if r.error is not None]
