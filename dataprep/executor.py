"""Runs per-item work serially, on a local process pool, or on a distributed engine.

Commands describe their work as a picklable function applied to a list of items;
`run_items` chunks the items, hands the chunks to an `Executor`, shows progress,
captures each item's error, and returns the results in input order, so that any
reduction over them gives the same answer whatever ran it.

An engine only has to implement `Executor.map_chunks`; commands never change.
Engines that need optional packages (Dask) live in their own modules, which
import this one; this module finds them by name when asked for one
(`make_executor(scheduler=...)`) and never imports them, so the dependency runs
one way and `import dataprep.executor` never loads Dask.

Small jobs and `-j N`: a local pool starts lazily. `run_items` runs the first
item (two on small jobs) in this process, and from its measured time and the
number of items left decides whether workers would finish sooner
(`ProcessExecutor.worth_starting`); if not, the rest runs here too. Work goes
to workers in chunks sized from that measured cost (about 50 ms of work per
task, and several tasks per worker so that they finish together).
"""
from __future__ import annotations

import importlib
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from . import lifecycle
from .allocator import keep_freed_memory
from .errors import DataprepError, RunStopped, UsageError
from .forking import check_start_method, fork_is_safe, opencv_on_one_thread, single_threaded_opencv
from .progress import progress_bar

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
    # (fn, seconds per item) measured by the probe of the last job that started the workers: commands that run
    # one function over many blocks of items (stats) size the later blocks' chunks by it.
    measured: tuple[Callable[[Any], Any], float] | None = None

    def worth_starting(self, per_item_seconds: float, items_left: int) -> bool:
        """Whether starting the workers finishes `items_left` items of `per_item_seconds` each sooner
        than running them in this process (lazy executors only)."""
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


def init_worker(*watch: Any) -> None:
    """Set-up of a worker process of any engine (the local pool passes its watch table)."""
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
    item(s) in this process and starts the pool only when the rest of the work
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
        return 0.05 if self._would_fork() else 0.4 * self.workers

    def _would_fork(self) -> bool:
        if self._start_method is not None:
            return self._start_method == "fork"
        return fork_is_safe()

    def worth_starting(self, per_item_seconds: float, items_left: int) -> bool:
        """Workers pay when `items_left` items in rounds of `workers`, plus the start-up, plus one
        more item (a fresh worker's first item runs about twice as long as the next ones: its
        memory is faulted in; measured on 2048x1024 masks), take less than running them here.

        So 3 items left never start 2 workers (2 rounds + 1 either way), 4 need items over 50 ms.
        """
        if self.started:
            return True
        if items_left <= 0 or self.workers < 2:
            return False
        serial = per_item_seconds * items_left
        pooled = self.startup_seconds() + per_item_seconds * (math.ceil(items_left / self.workers) + 1)
        return pooled < serial

    def start(self) -> None:
        if self._pool is not None:
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        method = self._start_method = self.start_method  # the pool's own threads must not turn it to spawn
        context = mp.get_context(method)
        watch = lifecycle.PoolWatch(context, self.workers)
        lifecycle.quiet_cancelled_future_race()
        pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=init_worker,
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
            raise self._watch.died(lambda i: describe_item(items.get(i)), codes) from None
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


# The module of the Dask engine, imported by name only when --scheduler asks for it (see the module notes).
DASK_ENGINE = "dataprep.dask_executor"


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
            engine = importlib.import_module(DASK_ENGINE)
        except ImportError as exc:
            raise UsageError(
                None, f"--scheduler needs Dask: pip install 'dataprep[dask]' ({exc})"
            ) from None
        return engine.DaskExecutor(scheduler)
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
                out.append((index, False, f"{describe_item(item)}: out of memory"))
            except Exception as exc:  # noqa: BLE001 - every failure is reported per item
                # One line: OpenCV's errors span three, their first line "OpenCV(4.x) file:line: error: (-215...".
                said = " ".join(str(exc).split())
                out.append((index, False, f"{describe_item(item)}: {type(exc).__name__}: {said}"))
        lifecycle.working_on(-1)
        return out


def describe_item(item: Any) -> str:
    """How an error names an item: its file path when it has one (a tuple item's first field, when a string)."""
    if isinstance(item, tuple) and item and isinstance(item[0], str):
        return item[0]
    for attr in ("src", "path", "image", "id"):  # a file path when the item has one
        value = getattr(item, attr, None)
        if value is not None:
            return str(value)
    return repr(item)[:120]


# Jobs with at most this many items per worker left after the first are "small": two items are probed.
_SMALL_JOB_ROUNDS = 4
# Work per task that makes its round trip to a worker (pickling, queues: ~1 ms) negligible.
_TASK_SECONDS = 0.05


def _chunk_size(items_left: int, workers: int, per_item: float | None) -> int:
    """Items per task: several tasks per worker (they finish together), each worth ~50 ms of work when the
    per-item cost is known (so tiny items travel in large chunks, big ones one by one)."""
    if workers <= 1:
        return max(1, min(32, items_left))  # serial: the chunk only paces the progress bar
    balanced = max(1, items_left // (workers * 4))
    if per_item is None:  # a pool already running: small chunks keep the bar moving
        return max(1, min(32, items_left // (workers * 8) or 1))
    return max(1, min(balanced, round(_TASK_SECONDS / max(per_item, 1e-6))))


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
    results: list[ItemResult[R] | None] = [None] * len(items)
    for result in iter_items(fn, items, executor=executor, on_error=on_error, desc=desc, quiet=quiet, unit=unit,
                             chunk_size=chunk_size):
        results[result.index] = result
    return [r for r in results if r is not None]


def iter_items(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    desc: str = "",
    quiet: bool = False,
    unit: str = "file",
    chunk_size: int | None = None,
) -> Iterator[ItemResult[R]]:
    """`run_items` as a stream: each item's result as soon as its chunk is back, in completion order.

    A caller that folds the results into an array (kfold's 100k class counts)
    holds no list of them, and the workers never wait for a block's slowest
    chunk. Each item is yielded once, also when a killed worker's chunk runs again.
    """
    if on_error not in ("skip", "fail"):
        raise UsageError(None, f"on_error must be 'skip' or 'fail', not {on_error!r}")
    executor = executor or SerialExecutor()
    n = len(items)
    finished = bytearray(n)  # 1 once an item's result is out
    errors: list[str] = []
    runner = _ChunkRunner(fn)

    def results_of(chunk_result: ChunkResult) -> Iterator[ItemResult[R]]:
        for index, ok, value in chunk_result:
            if not ok and not isinstance(value, str):  # fatal: every further item would fail alike
                raise RunStopped(value.path, value.reason, tuple(errors))
            finished[index] = 1
            if ok:
                yield ItemResult(index, value, None)
                continue
            if on_error == "fail":
                raise DataprepError(None, value)
            errors.append(value)
            yield ItemResult(index, None, value)

    todo: Sequence[int] | None = None  # None: every item
    done = 0
    per_item: float | None = None
    if n and not executor.started:
        # A lazy pool: the first item runs here and its time tells whether workers would finish the rest sooner.
        # The first item also pays one-off costs (lookup tables, lazy imports), so on a small job,
        # where the estimate decides, a second one is timed too and the faster of the two counts.
        probes = 2 if n - 1 <= _SMALL_JOB_ROUNDS * executor.workers else 1
        while done < min(probes, n):
            began = time.perf_counter()
            probed = runner([(done, items[done])])
            elapsed = time.perf_counter() - began
            yield from results_of(probed)
            per_item = elapsed if per_item is None else min(per_item, elapsed)
            done += 1
            if not executor.worth_starting(per_item, n - done):
                break  # a second probe cannot make the pool pay off: run the rest here
        todo = range(done, n)
        if done < n and executor.worth_starting(per_item, n - done):
            executor.start()
            executor.measured = (fn, per_item)
        else:
            executor = SerialExecutor()
    elif executor.measured is not None and executor.measured[0] is fn:
        per_item = executor.measured[1]
    if chunk_size is None:
        chunk_size = _chunk_size(n - done, executor.workers, per_item)
    # No bar at all for work that finishes within a second (and none, nor tqdm, when bars are off).
    with progress_bar(total=n, initial=done, desc=desc, unit=unit, quiet=quiet) as bar:
        unexplained_deaths = 0
        while todo is None or todo:
            stream = executor.map_chunks(runner, _chunks(items, chunk_size, todo))
            try:
                for chunk_result in stream:
                    yield from results_of(chunk_result)
                    bar.update(len(chunk_result))
                break
            except lifecycle.WorkerDied as exc:
                # Killed from outside (out of memory): that item failed; the others run in a fresh pool.
                if on_error == "fail" or exc.index is None and unexplained_deaths >= 2:
                    raise
                if exc.index is None:
                    unexplained_deaths += 1
                else:
                    finished[exc.index] = 1
                    errors.append(str(exc))
                    bar.update(1)
                    yield ItemResult(exc.index, None, str(exc))
                executor.restart()
                todo = [i for i in range(n) if not finished[i]]
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()


def errors_of(results: Iterable[ItemResult[Any]]) -> list[str]:
    return [r.error for r in results if r.error is not None]
