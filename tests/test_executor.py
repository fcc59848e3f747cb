"""The executor: order, per-item error capture, fail-fast, serial == parallel."""
from __future__ import annotations

import functools

import pytest
from helpers import BackwardsExecutor  # pytest puts tests/ on sys.path

from dataprep.errors import DataprepError, UsageError
from dataprep.executor import ProcessExecutor, SerialExecutor, errors_of, iter_items, make_executor, run_items
from dataprep.forking import can_fork


def square_or_fail(x: int) -> int:
    if x == 7:
        raise DataprepError(f"item{x}.png", "planted failure")
    if x == 9:
        raise ValueError("unexpected")
    if x == 11:  # as cv2.error prints: a first line, the assertion, a blank line
        raise RuntimeError("OpenCV(4.14.0) resize.cpp:3851: error: (-215:Assertion failed)\n  cn <= 4 in function\n\n")
    return x * x


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(2)])
def test_results_in_input_order_with_errors_captured(make):
    with make() as ex:
        results = run_items(square_or_fail, list(range(40)), executor=ex, quiet=True, chunk_size=3)
    assert [r.index for r in results] == list(range(40))
    assert [r.value for r in results if r.ok] == [x * x for x in range(40) if x not in (7, 9, 11)]
    errors = errors_of(results)
    assert errors[0] == "item7.png: planted failure"
    assert errors[1].startswith("9: ValueError: unexpected")
    assert errors[2] == ("11: RuntimeError: OpenCV(4.14.0) resize.cpp:3851: error: (-215:Assertion failed) "
                         "cn <= 4 in function")


def test_fail_mode_stops_with_the_failing_item():
    with pytest.raises(DataprepError, match="item7.png: planted failure"):
        run_items(square_or_fail, list(range(10)), on_error="fail", quiet=True)


def test_bad_on_error_value():
    with pytest.raises(UsageError, match="on_error must be 'skip' or 'fail', not 'ignore'"):
        run_items(square_or_fail, [1], on_error="ignore", quiet=True)  # type: ignore[arg-type]


def test_make_executor_kinds():
    assert isinstance(make_executor(1), SerialExecutor)
    with make_executor(2) as ex:
        assert isinstance(ex, ProcessExecutor) and ex.workers == 2


def test_dataprep_error_survives_pickling():
    import pickle

    err = pickle.loads(pickle.dumps(DataprepError("a/b.png", "broken")))
    assert (err.path, err.reason, str(err)) == ("a/b.png", "broken", "a/b.png: broken")


def test_the_cli_process_gets_the_workers_allocator_tuning(monkeypatch):
    from click.testing import CliRunner

    import dataprep.cli as cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(1))
    result = CliRunner().invoke(cli.main, ["scan", "--help"])
    assert result.exit_code == 0 and calls == [1]


# --------------------------------------------------------------------------- lazy workers, start methods


def pid_after(seconds: float) -> int:
    import os
    import time

    time.sleep(seconds)
    return os.getpid()


def item_after(item: int, seconds: float) -> int:
    import time

    time.sleep(seconds)
    return item


def test_small_jobs_run_serially_and_never_start_the_pool():
    import os

    with ProcessExecutor(2) as ex:
        results = run_items(pid_after, [0.0] * 6, executor=ex, quiet=True)
        assert not ex.started
    assert {r.value for r in results} == {os.getpid()}


def _forking_pool() -> ProcessExecutor:
    # Explicitly fork: threads other tests leave behind (Dask's, torch's) would make the default spawn.
    if not can_fork():
        pytest.skip("fork is not this platform's start method")
    return ProcessExecutor(2, start_method="fork")


def test_jobs_worth_it_start_the_pool_once_and_use_it():
    import os

    with _forking_pool() as ex:
        first = run_items(pid_after, [0.05] * 8, executor=ex, quiet=True)
        assert ex.started
        pids = {r.value for r in first}
        assert pids - {os.getpid()}, "no item ran in a worker"
        # Once started, the pool is reused (stats runs blocks of rows through one executor).
        second = run_items(pid_after, [0.0] * 4, executor=ex, quiet=True)
        assert {r.value for r in second} <= pids - {os.getpid()}
    assert [r.index for r in first] == list(range(8))


def test_later_blocks_of_one_function_are_chunked_by_the_first_blocks_measure(monkeypatch):
    """stats runs one function over blocks of rows: a block on the running pool has no probe of its
    own, and without the first block's measure it went out in chunks of a few items (a round trip each)."""
    sent: list[int] = []
    with _forking_pool() as ex:
        real = ex.map_chunks

        def recording(fn, chunks):
            return real(fn, (sent.append(len(chunk)) or chunk for chunk in chunks))

        monkeypatch.setattr(ex, "map_chunks", recording)
        fn = functools.partial(item_after, seconds=0.0005)
        run_items(fn, list(range(400)), executor=ex, quiet=True)
        assert ex.started
        assert ex.measured is not None and ex.measured[0] is fn and ex.measured[1] >= 0.0005
        # The probe's time depends on the machine (a slow machine measured 2 ms); the chunking from a measure does not.
        ex.measured = (fn, 0.0005)
        sent.clear()
        run_items(fn, list(range(400)), executor=ex, quiet=True)
        # 0.5 ms an item: chunks of 50 (4 per worker); the rule for an unmeasured running pool gives 25.
        assert sent[:-1] and min(sent[:-1]) == 50, sent
        sent.clear()
        run_items(functools.partial(item_after, seconds=0.0005), list(range(400)), executor=ex, quiet=True)
        assert max(sent) <= 25, sent  # another function: not its measure


def test_workers_fork_unless_other_threads_run(monkeypatch):
    import threading

    import dataprep.forking as forking

    if not can_fork():
        pytest.skip("fork is not this platform's start method")
    ex = ProcessExecutor(2)
    with monkeypatch.context() as m:
        m.setattr(forking, "other_threads", lambda: [])
        assert ex.start_method == "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert thread in forking.other_threads()
        assert ex.start_method == "spawn"
    finally:
        stop.set()
        thread.join()
    assert thread not in forking.other_threads()
    assert ProcessExecutor(2, start_method="spawn").start_method == "spawn"
    with pytest.raises(UsageError, match="start_method must be one of"):
        ProcessExecutor(2, start_method="threads")


FORK_AFTER_OPENCV = """
import cv2, numpy as np
from dataprep.executor import ProcessExecutor, run_items
from tests.helpers import blur_size
big = np.zeros((2000, 2000, 3), np.uint8)
for _ in range(3):
    cv2.GaussianBlur(cv2.resize(big, (1500, 1500)), (9, 9), 0)  # the parent's OpenCV pool has threads
with ProcessExecutor(2) as ex:  # a fresh process: no other threads, so it forks
    results = run_items(blur_size, [1200] * 6, executor=ex, quiet=True)
    assert ex.started and ex.start_method == "fork"
print(sum(r.value for r in results))
"""


def test_forked_workers_run_opencv_after_the_parent_used_its_thread_pool():
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", FORK_AFTER_OPENCV], cwd=repo, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(repo)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) == 6 * 1200 * 1200 * 3


def _table_address_of_item(_: int, context) -> tuple[int, int]:
    import os

    from dataprep.palette import builtin_palette

    return os.getpid(), context.colour_table(builtin_palette("cityscapes")).lut.ctypes.data


def test_forked_workers_use_the_parents_conversion_tables_for_every_chunk():
    import functools
    import os

    from dataprep.labels import ConversionContext
    from dataprep.palette import builtin_palette

    context = ConversionContext()
    parent_lut = context.colour_table(builtin_palette("cityscapes")).lut.ctypes.data
    with _forking_pool() as ex:
        ex.start()
        fn = functools.partial(_table_address_of_item, context=context)
        results = run_items(fn, list(range(12)), executor=ex, quiet=True, chunk_size=1)
    in_workers = {r.value for r in results if r.value[0] != os.getpid()}
    assert in_workers, "no item ran in a worker"
    # Each chunk carries the context anew, yet every worker resolves it to the parent's (inherited) table.
    assert {address for _pid, address in in_workers} == {parent_lut}


def _cancel_pending_then_kill_the_worker() -> list[BaseException]:
    """What SIGTERM does to a pool: its pending futures are cancelled while its worker dies."""
    import os
    import signal
    import threading
    import time
    from concurrent.futures import ProcessPoolExecutor

    seen: list[BaseException] = []
    threading_hook = threading.excepthook
    # The hook dataprep's filter passes other exceptions on to: record instead of printing.
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:
        from dataprep import lifecycle

        lifecycle.quiet_cancelled_future_race()
        pool = ProcessPoolExecutor(1)
        futures = [pool.submit(time.sleep, 5) for _ in range(8)]
        while not futures[0].running():
            time.sleep(0.01)
        assert sum(f.cancel() for f in futures[3:]) > 0
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        pool.shutdown(wait=True)
    finally:
        threading.excepthook = threading_hook
    return seen


@pytest.mark.skipif(not can_fork(), reason="the race is shown with a forked pool")
def test_a_pool_broken_while_its_futures_are_cancelled_prints_no_traceback():
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("fixed in Python 3.12 (CPython gh-107219)")
    assert _cancel_pending_then_kill_the_worker() == []


def test_the_thread_exception_filter_passes_other_exceptions_on():
    import threading

    from dataprep import lifecycle

    seen: list[BaseException] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:
        lifecycle.quiet_cancelled_future_race()
        thread = threading.Thread(target=lambda: 1 / 0)
        thread.start()
        thread.join()
    finally:
        threading.excepthook = previous
    assert [type(e) for e in seen] == [ZeroDivisionError]


def test_the_stream_yields_every_item_once_as_its_chunk_finishes():
    stream = list(iter_items(square_or_fail, list(range(20)), executor=BackwardsExecutor(), quiet=True,
                             chunk_size=4))
    assert [r.index for r in stream[:4]] == [16, 17, 18, 19]  # the last chunk came back first
    assert sorted(r.index for r in stream) == list(range(20))
    ordered = run_items(square_or_fail, list(range(20)), executor=BackwardsExecutor(), quiet=True, chunk_size=4)
    assert [r.index for r in ordered] == list(range(20))
    assert {r.index: (r.value, r.error) for r in stream} == {r.index: (r.value, r.error) for r in ordered}


@pytest.mark.skipif(not can_fork(), reason="needs fork")
def test_the_stream_from_a_pool_matches_the_serial_results():
    with ProcessExecutor(2) as ex:
        pooled = sorted(iter_items(square_or_fail, list(range(60)), executor=ex, quiet=True, chunk_size=5),
                        key=lambda r: r.index)
    serial = run_items(square_or_fail, list(range(60)), quiet=True)
    assert [(r.index, r.value, r.error) for r in pooled] == [(r.index, r.value, r.error) for r in serial]


def test_a_tuple_item_is_named_by_its_leading_path():
    def explode(job):
        raise ValueError("boom")

    [result] = run_items(explode, [("masks/a.png", (16, 16))], quiet=True)
    assert result.error == "masks/a.png: ValueError: boom"


def test_ctrl_c_stops_the_workers_of_live_pools_before_it_unwinds(monkeypatch):
    """A Ctrl-C of `augment -j 2` hung 2 of 7 times: the pool's shutdown waited on a worker blocked on its
    call queue's lock. The handler a command installs stops the workers first, as SIGTERM's does."""
    import signal

    from dataprep import lifecycle

    stopped = []

    class Watch:
        def stop_workers(self):
            stopped.append(True)

    watch = Watch()
    monkeypatch.setattr(lifecycle, "_LIVE_WATCHES", {watch})
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        lifecycle.install_sigterm()
        handler = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)
    assert stopped == [True]


def test_a_worker_stopped_while_it_sends_a_result_exits_once_the_result_is_out(monkeypatch):
    """SIGTERM (the parent's Ctrl-C stops its workers) during the write of a large result: the worker exited with
    half of it written, the pool's manager thread waited for the rest for good, and so did the shutdown."""
    from dataprep import lifecycle

    written: list[str] = []
    exits: list[list[str]] = []
    monkeypatch.setattr(lifecycle, "_exit_now", lambda: exits.append(list(written)))
    monkeypatch.setattr(lifecycle, "_exit_requested", False)
    monkeypatch.setattr(lifecycle, "_SEND_GRACE", 60.0)

    class ResultQueue:
        def put(self, obj):
            written.append("first half")
            lifecycle._worker_sigterm(15, None)  # the signal lands mid-write
            written.append("second half")

    queue = ResultQueue()
    lifecycle._finish_sends_before_exit(queue)
    queue.put(b"result")
    lifecycle._exit_timer.cancel()
    assert exits == [["first half", "second half"]]
    lifecycle._worker_sigterm(15, None)  # stopped between sends: at once
    assert exits == [["first half", "second half"]] * 2


@pytest.mark.skipif(not can_fork(), reason="the parent forks its pool")
def test_ctrl_c_while_workers_send_large_results_does_not_hang(tmp_path):
    """4 of 6 such runs hung in the pool's shutdown (a worker stopped halfway through a 100 MB result)."""
    import subprocess
    import sys

    script = tmp_path / "interrupt_mid_send.py"
    script.write_text(
        "import os, signal, threading\n"
        "from dataprep import lifecycle\n"
        "from dataprep.executor import ProcessExecutor, run_items\n"
        "def big(i):\n"
        "    if i == 3:\n"
        "        threading.Timer(0.05, os.kill, (os.getppid(), signal.SIGINT)).start()\n"
        "    return b'x' * 50_000_000\n"
        "lifecycle.install_sigterm()\n"
        "try:\n"
        "    with ProcessExecutor(2) as ex:\n"
        "        ex.start()\n"
        "        run_items(big, list(range(40)), executor=ex, quiet=True, chunk_size=2)\n"
        "    print('finished')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n")
    for _ in range(3):
        try:
            run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the interrupted run hung in the pool's shutdown")
        assert run.stdout.strip() == "interrupted", run.stderr
