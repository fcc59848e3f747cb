"""Run chunks of per-file work on a dask.distributed cluster (`--scheduler`).

`--scheduler local:N` starts a LocalCluster of N single-threaded worker
processes for the length of one command; `--scheduler tcp://host:8786` connects
to a running scheduler whose workers see the same file paths as this machine.

Workers write their outputs straight to the (shared) output path with the
atomic writers of `dataprep.io`, so a worker that dies loses at most the file
it was writing; the scheduler re-runs its unfinished chunks elsewhere, and a
rerun of the command skips what already exists. A chunk the scheduler gives up
on after repeated worker deaths runs again item by item, so only the item that
kills its worker is reported.

Reductions are not merged on the cluster: every task sends its per-item
partials (small: sums, histograms, class counts) back, and the library folds them
on the client in input order, exactly as a serial run does, so results match bit for bit
whatever the number of workers or the order tasks finish in.
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from . import __version__
from .errors import DataprepError, UsageError
from .executor import Chunk, ChunkResult, Executor, default_workers, describe_item, init_worker

try:  # `distributed` is optional (pip install 'dataprep[dask]'); make_executor turns this into a usage error.
    import dask
    from distributed import Client, LocalCluster, WorkerPlugin, as_completed
except ImportError as exc:  # pragma: no cover - exercised by simulating a missing package
    raise ImportError(f"dask.distributed is not installed ({exc})") from exc

_LOCAL = re.compile(r"^local(?::(\d+))?$")
_CONNECT_TIMEOUT = "10s"
_WORKERS_TIMEOUT = 30.0  # seconds to wait for a scheduler that has no workers yet
_RESCALE_SECONDS = 5.0  # how often a long run looks for workers that joined or left

# glibc settings for local workers (variables already set in the environment win).
# Dask's default (MALLOC_TRIM_THRESHOLD_=65536) hands freed memory straight back to
# the kernel; with one large image after another, every decode buffer and array is
# then faulted in afresh (about 20 MB of page faults per 2048x1024 colour mask),
# which made workers 30-50% slower than the same code in the process pool. Keep
# up to 256 MB of freed heap, serve blocks up to 32 MB (the largest glibc allows)
# from it, and grow it in 64 MB steps.
_MALLOC = {
    "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TOP_PAD_": str(64 << 20),
}


class _SingleThreadedCodecs(WorkerPlugin):
    """Same as the process pool's initializer: one task per core, so no codec thread pools.

    A plugin (not a one-off `client.run`) so that workers restarted after a crash get it too.
    """

    name = "dataprep-single-threaded-codecs"

    def setup(self, worker: Any) -> None:
        init_worker()


@contextmanager
def _environ_kept() -> Iterator[None]:
    """Undo what the nanny writes into this process's environment to pass it to workers
    (OMP_NUM_THREADS=1, ...): libraries this process loads later would read it."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def _worker_version() -> str:
    return __version__


def parse_scheduler(scheduler: str) -> tuple[str, int | None]:
    """("local", N or None) for `local[:N]`, ("address", None) for a scheduler address."""
    text = scheduler.strip()
    m = _LOCAL.match(text)
    if m:
        n = int(m.group(1)) if m.group(1) else None
        if n is not None and n < 1:
            raise UsageError(None, f"--scheduler {scheduler}: need at least one worker (local:N with N >= 1)")
        return "local", n
    if text.startswith("local:"):
        raise UsageError(None, f"--scheduler {scheduler}: expected local:N with N a whole number, e.g. local:4")
    if "://" not in text and ":" not in text:
        raise UsageError(
            None, f"--scheduler {scheduler}: expected a scheduler address like tcp://host:8786, or local:N"
        )
    return "address", None


class DaskExecutor(Executor):
    """Chunks of items as Dask tasks: bounded in flight, results yielded as they complete.

    A chunk whose task cannot finish (its worker died more often than the
    scheduler allows, or its result could not be sent back) comes back as one
    error per item, so `--on-error skip` carries on and reports those files.
    """

    def __init__(self, scheduler: str, *, in_flight_per_worker: int = 4) -> None:
        kind, n = parse_scheduler(scheduler)
        self.scheduler = scheduler
        self._in_flight_per_worker = max(1, in_flight_per_worker)
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None
        try:
            if kind == "local":
                with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in _MALLOC.items()}), \
                        _environ_kept():
                    self._cluster = LocalCluster(
                        n_workers=n or default_workers(),
                        threads_per_worker=1,  # one file at a time per process, like the local pool
                        processes=True,
                        dashboard_address="127.0.0.1:0",  # any free local port: concurrent runs never clash
                        silence_logs=logging.ERROR,
                    )
                self._client = Client(self._cluster, set_as_default=False)
                self._client.register_plugin(_SingleThreadedCodecs())
            else:
                self._client = self._connect(scheduler.strip())
        except RuntimeError as exc:
            self.close()
            if "Nanny failed to start" not in str(exc):
                raise
            # Spawned workers import the caller's script again; one without a __main__ guard starts a cluster
            # of its own in each, and the nannies never come up.
            raise UsageError(None, f"the local Dask cluster ({scheduler}) did not start: a script that starts one "
                                   "needs `if __name__ == \"__main__\":` around it, as Dask's LocalCluster does "
                                   "(or use make_executor(jobs=N), which needs none)") from None
        except BaseException:
            self.close()
            raise
        self.workers = max(1, sum(self._client.nthreads().values()))

    @property
    def client(self) -> Client:
        assert self._client is not None, "executor is closed"
        return self._client

    @staticmethod
    def _connect(address: str) -> Client:
        from distributed.comm.registry import backends

        scheme = address.split("://", 1)[0] if "://" in address else "tcp"
        if scheme not in backends:
            # Checked here: a Client that fails in its constructor prints a traceback when collected.
            raise UsageError(None, f"--scheduler {address}: unknown address scheme {scheme!r} "
                                   f"(known: {', '.join(sorted(backends))}, or local:N)")
        try:
            client = Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
        except ValueError as exc:  # e.g. an unknown protocol
            raise UsageError(None, f"--scheduler {address}: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise UsageError(None, f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=_WORKERS_TIMEOUT)
            except TimeoutError:
                raise UsageError(
                    None, f"the Dask scheduler at {address} has no workers (start some with: dask worker {address})"
                ) from None
            try:
                versions = client.run(_worker_version)
            except Exception as exc:  # noqa: BLE001 - whatever stops workers from importing dataprep
                raise UsageError(
                    None, f"Dask workers at {address} cannot run dataprep ({type(exc).__name__}: {exc}); "
                    "install dataprep on every worker machine",
                ) from None
            wrong = sorted({v for v in versions.values() if v != __version__})
            if wrong:
                raise UsageError(
                    None, f"Dask workers at {address} run dataprep {', '.join(wrong)}, this machine runs "
                    f"{__version__}; install the same version everywhere so results match",
                )
        except BaseException:
            client.close()
            raise
        return client

    def map_chunks(self, fn: Callable[[Chunk], ChunkResult], chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        client = self.client
        limit = self._in_flight_limit()  # bounded, so huge lists keep memory flat
        recheck_at = time.monotonic() + _RESCALE_SECONDS
        pending: dict[Any, Chunk] = {}  # future -> its chunk, to name the items if the task fails
        done = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        it = iter(chunks)

        def fill() -> None:
            while len(pending) < limit:
                chunk = next(it, None)
                if chunk is None:
                    return
                # pure=False: rerunning a command must run the work again, not reuse a cached key.
                future = client.submit(fn, chunk, pure=False)
                pending[future] = chunk
                done.add(future)

        killed: list[Chunk] = []
        try:
            fill()
            for future, result in done:
                chunk = pending.pop(future)
                if future.status != "finished":
                    if _killed_worker(result):
                        killed.append(chunk)
                        del future
                        fill()
                        continue
                    result = _failed_chunk(chunk, result)
                del future  # let the scheduler forget the task once its result is here
                if time.monotonic() >= recheck_at:  # workers may have joined or left the cluster
                    limit, recheck_at = self._in_flight_limit(), time.monotonic() + _RESCALE_SECONDS
                fill()
                yield result
            # Dask blames every task a dying worker held, not only the one that killed it: the
            # items of those chunks run again one at a time, so the item that kills its worker
            # is the one reported and the others finish.
            for index, item in (pair for chunk in killed for pair in chunk):
                future = client.submit(fn, [(index, item)], pure=False)
                pending[future] = [(index, item)]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - the task's own failure, reported for its item
                    result = _failed_chunk([(index, item)], exc)
                del pending[future], future
                yield result
        finally:
            if pending:
                client.cancel(list(pending))
                pending.clear()

    def _in_flight_limit(self) -> int:
        threads = sum(self.client.nthreads().values())
        if threads:
            self.workers = threads
        return self.workers * self._in_flight_per_worker

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.scheduler!r}, workers={self.workers})"


def _task_error(error: Any) -> Any:
    # as_completed(raise_errors=False) gives (type, exception, traceback); a raised one is the exception itself.
    return error[1] if isinstance(error, tuple) and len(error) == 3 else error


def _killed_worker(error: Any) -> bool:
    """Whether a task failed because the workers running it died (Dask's KilledWorker)."""
    return type(_task_error(error)).__name__ == "KilledWorker"


def _failed_chunk(chunk: Chunk, error: Any) -> ChunkResult:
    """One error line per item of a chunk whose task did not finish."""
    error = _task_error(error)
    name = type(error).__name__
    if name == "KilledWorker":
        reason = "worker died while processing it (too many times to retry)"
    elif isinstance(error, DataprepError):  # already "path: reason"
        reason = f"task failed on the cluster: {error}"
    elif isinstance(error, BaseException):
        reason = f"task failed on the cluster: {name}: {error}"
    else:
        reason = f"task failed on the cluster: {error}"
    return [(index, False, f"{describe_item(item)}: {reason}") for index, item in chunk]
