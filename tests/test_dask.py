"""The Dask backend: same results as a serial run, per-file errors, worker deaths, resumable commands."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from dataprep.errors import DataprepError, UsageError
from dataprep.executor import Executor, SerialExecutor, make_executor, run_items

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


# --------------------------------------------------------------------------- without Dask


def test_missing_dask_names_the_install_command(monkeypatch):
    # A cached import would hide the missing package.
    monkeypatch.delitem(sys.modules, "dataprep.dask_executor", raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError) as err:
        make_executor(None, "local:2")
    assert "pip install 'dataprep[dask]'" in str(err.value)
    assert err.value.exit_code == 2


def test_missing_dask_is_a_usage_error_on_the_command_line(monkeypatch, cli, tmp_path):
    monkeypatch.delitem(sys.modules, "dataprep.dask_executor", raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = cli("scan", str(tmp_path), "-o", str(tmp_path / "m.csv"), "--scheduler", "local:2", "-q")
    assert result.exit_code == 2
    assert "pip install 'dataprep[dask]'" in result.output


# --------------------------------------------------------------------------- with Dask

try:
    import dask
    import distributed

    from dataprep.dask_executor import DaskExecutor, _environ_kept, parse_scheduler
except ImportError:  # the tests above still run
    distributed = None


def dask_test(fn):
    return pytest.mark.dask(pytest.mark.skipif(distributed is None, reason="dask.distributed not installed")(fn))


@pytest.fixture(scope="module")
def scheduler_address():
    """A running scheduler with 2 single-threaded worker processes, as `dask worker` would give.

    allowed-failures=1: a task survives one worker death, a second one marks it bad.
    worker-saturation=1.0: a worker holds only the task it runs, so a death
    touches no innocent task and the tests below can count exactly.
    """
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}), _environ_kept():
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def dask_executor(scheduler_address):
    with make_executor(None, scheduler_address) as executor:
        executor.client.wait_for_workers(2, timeout=30)  # a previous test may have killed one
        yield executor


def _square(x: int) -> tuple[int, int]:
    time.sleep(0.002 * (x % 5))  # uneven work, so chunks finish out of order
    return x * x, os.getpid()


def _checked(path: str) -> int:
    if path.endswith("bad.png"):
        raise DataprepError(path, "truncated: PNG has no IEND chunk")
    if path.endswith("odd.png"):
        raise ValueError("odd")
    return len(path)


def _chunk_raises(chunk):
    raise DataprepError(chunk[0][1], "failed for the whole chunk")


def _write_then_maybe_die(item: tuple[str, str, bool]) -> str:
    """Writes its output; a `die` item kills its worker process instead, every time if the
    marker is "always", else only on the first attempt (the marker file remembers it)."""
    out, marker, die = item
    if die:
        if marker == "always":
            os._exit(1)
        if not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)
    Path(out).write_text(out)
    return out


@dask_test
@pytest.mark.parametrize("spec, expected", [("local", ("local", None)), ("local:3", ("local", 3)),
                                            (" tcp://10.0.0.5:8786 ", ("address", None)),
                                            ("scheduler-host:8786", ("address", None)),
                                            ("localhost:8786", ("address", None))])
def test_parse_scheduler(spec, expected):
    assert parse_scheduler(spec) == expected


@dask_test
@pytest.mark.parametrize("spec", ["local:0", "local:two", "localhost", "nowhere"])
def test_parse_scheduler_rejects_nonsense(spec):
    with pytest.raises(UsageError, match="--scheduler"):
        parse_scheduler(spec)


@dask_test
def test_results_come_back_in_input_order_and_equal_serial(dask_executor):
    items = list(range(97))
    on_dask = run_items(_square, items, executor=dask_executor, quiet=True, chunk_size=3)
    serial = run_items(_square, items, executor=SerialExecutor(), quiet=True)
    assert [r.index for r in on_dask] == items
    assert [r.value[0] for r in on_dask] == [r.value[0] for r in serial]
    # The work really ran in the worker processes.
    assert os.getpid() not in {r.value[1] for r in on_dask}
    assert dask_executor.workers == 2


@dask_test
def test_each_bad_item_becomes_one_error_line(dask_executor):
    items = ["a/1.png", "a/bad.png", "a/2.png", "b/odd.png", "b/3.png"]
    results = run_items(_checked, items, executor=dask_executor, quiet=True, chunk_size=2)
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert results[1].error == "a/bad.png: truncated: PNG has no IEND chunk"
    assert results[3].error == "'b/odd.png': ValueError: odd"
    assert results[4].value == len("b/3.png")


@dask_test
def test_on_error_fail_raises_the_items_error(dask_executor):
    with pytest.raises(DataprepError, match=r"^a/bad\.png: truncated"):
        run_items(_checked, ["a/1.png", "a/bad.png"], executor=dask_executor, quiet=True, on_error="fail")


@dask_test
def test_a_failed_task_reports_every_item_of_its_chunk(dask_executor):
    # The error crosses the process boundary as an exception, not as an item result.
    chunks = [[(0, "x.png"), (1, "y.png")], [(2, "z.png")]]
    out = sorted(r for chunk in dask_executor.map_chunks(_chunk_raises, chunks) for r in chunk)
    assert [(i, ok) for i, ok, _ in out] == [(0, False), (1, False), (2, False)]
    # Still a DataprepError on this side (its path kept), so the line is not wrapped twice.
    assert out[0][2] == "'x.png': task failed on the cluster: x.png: failed for the whole chunk"
    assert out[2][2] == "'z.png': task failed on the cluster: z.png: failed for the whole chunk"


@dask_test
def test_a_worker_dying_once_loses_nothing(dask_executor, tmp_path):
    items = [(str(tmp_path / f"{i}.txt"), str(tmp_path / "died"), i == 3) for i in range(8)]
    results = run_items(_write_then_maybe_die, items, executor=dask_executor, quiet=True, chunk_size=1)
    assert (tmp_path / "died").exists()  # the worker really died once
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert sorted(p.name for p in tmp_path.glob("*.txt")) == sorted(f"{i}.txt" for i in range(8))


@dask_test
def test_a_file_that_always_kills_its_worker_is_reported_and_the_rest_finish(dask_executor, tmp_path):
    items = [(str(tmp_path / f"{i}.txt"), "always" if i == 2 else "", i == 2) for i in range(6)]
    results = run_items(_write_then_maybe_die, items, executor=dask_executor, quiet=True, chunk_size=1)
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert "worker died while processing it" in results[2].error
    assert not (tmp_path / "2.txt").exists()
    assert len(list(tmp_path.glob("*.txt"))) == 5


@dask_test
def test_only_the_item_that_kills_its_worker_fails_not_the_others_of_its_chunk(dask_executor, tmp_path):
    """Dask gives up on every task the dying workers held (KilledWorker); those items run again one by one."""
    items = [(str(tmp_path / f"{i}.txt"), "always" if i == 4 else "", i == 4) for i in range(9)]
    results = run_items(_write_then_maybe_die, items, executor=dask_executor, quiet=True, chunk_size=3)
    assert [r.index for r in results if not r.ok] == [4], [r.error for r in results if not r.ok]
    assert "worker died while processing it" in results[4].error and "4.txt" in results[4].error
    assert sorted(p.name for p in tmp_path.glob("*.txt")) == sorted(f"{i}.txt" for i in range(9) if i != 4)


@dask_test
def test_unreachable_scheduler_is_a_usage_error(monkeypatch):
    monkeypatch.setattr("dataprep.dask_executor._CONNECT_TIMEOUT", "1s")
    with pytest.raises(UsageError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9")


@dask_test
def test_unknown_protocol_is_a_usage_error():
    with pytest.raises(UsageError, match="--scheduler foo://host:8786: unknown address scheme 'foo'"):
        DaskExecutor("foo://host:8786")


@dask_test
def test_scheduler_without_workers_is_a_usage_error(monkeypatch):
    monkeypatch.setattr("dataprep.dask_executor._WORKERS_TIMEOUT", 0.5)
    with _empty_cluster() as empty:
        with pytest.raises(UsageError, match="has no workers"):
            DaskExecutor(empty.scheduler_address)


def _empty_cluster(attempts: int = 3) -> "distributed.LocalCluster":
    # distributed's in-process event-loop thread occasionally misses its 10 s
    # start-up window on a busy 2-core machine ("assert loop is not None").
    for attempt in range(attempts):
        try:
            return distributed.LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0",
                                            silence_logs=logging.ERROR)
        except AssertionError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@dask_test
def test_workers_with_another_dataprep_version_are_refused(scheduler_address, monkeypatch):
    # Workers are other processes: they still report the real version.
    monkeypatch.setattr("dataprep.dask_executor.__version__", "0.0.0-other")
    with pytest.raises(UsageError, match="run dataprep .* this machine runs 0.0.0-other"):
        DaskExecutor(scheduler_address)


@dask_test
def test_local_cluster_starts_and_stops_with_the_executor():
    environ = dict(os.environ)
    with make_executor(None, "local:2") as executor:
        assert dict(os.environ) == environ  # what the workers get does not leak into this process
        assert executor.workers == 2
        cluster = executor._cluster
        results = run_items(_square, list(range(10)), executor=executor, quiet=True)
        assert [r.value[0] for r in results] == [x * x for x in range(10)]
    assert cluster.status.name == "closed"


# --------------------------------------------------------------------------- commands on Dask


@pytest.fixture(scope="module")
def sample_manifest(tmp_path_factory):
    """sample_data's 32 clean pairs (colour masks), as a manifest written beside nothing else."""
    from dataprep.manifest import write_manifest
    from dataprep.scan import scan

    result = scan(SAMPLE_DATA, exclude=["bad/*"], quiet=True)
    assert len(result.manifest) == 32
    return write_manifest(result.manifest, tmp_path_factory.mktemp("sample") / "manifest.csv")


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every label map under `folder`, by relative path (the bookkeeping files are not outputs)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


class _InterruptAfter(Executor):
    """Ctrl-C after `n` chunks have come back, as a user stopping a long run would."""

    def __init__(self, inner: Executor, n: int) -> None:
        self.inner, self.n, self.workers = inner, n, inner.workers

    def map_chunks(self, fn, chunks):
        stream = self.inner.map_chunks(fn, chunks)
        try:
            for i, result in enumerate(stream):
                if i == self.n:
                    raise KeyboardInterrupt
                yield result
        finally:
            stream.close()  # cancels what has not started


@pytest.fixture(scope="module")
def serial_labels(sample_manifest, tmp_path_factory):
    labels = pytest.importorskip("dataprep.labels")
    out = tmp_path_factory.mktemp("serial") / "labels"
    report = labels.masks_to_labels(sample_manifest, out, SAMPLE_DATA / "palette.json", quiet=True)
    assert (report.converted, report.failed) == (32, 0), report.errors[:3]
    return out


@dask_test
def test_masks2labels_on_dask_matches_serial_byte_for_byte(dask_executor, sample_manifest, serial_labels, tmp_path):
    labels = pytest.importorskip("dataprep.labels")
    report = labels.masks_to_labels(sample_manifest, tmp_path / "labels", SAMPLE_DATA / "palette.json",
                                    executor=dask_executor, quiet=True)
    assert (report.converted, report.skipped, report.failed) == (32, 0, 0)
    on_dask = _outputs(tmp_path / "labels")
    assert len(on_dask) == 32
    assert on_dask == _outputs(serial_labels)
    for name in ("manifest.csv", "palette.json"):
        assert (tmp_path / "labels" / name).read_bytes() == (serial_labels / name).read_bytes()


@dask_test
def test_an_interrupted_masks2labels_on_dask_resumes_without_redoing_files(dask_executor, sample_manifest,
                                                                           serial_labels, tmp_path):
    labels = pytest.importorskip("dataprep.labels")
    out = tmp_path / "labels"
    palette = SAMPLE_DATA / "palette.json"
    with pytest.raises(KeyboardInterrupt):
        labels.masks_to_labels(sample_manifest, out, palette, executor=_InterruptAfter(dask_executor, 1), quiet=True)
    done = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert 0 < len(done) < 32  # a real partial run: some files finished, some not

    report = labels.masks_to_labels(sample_manifest, out, palette, executor=dask_executor, quiet=True)
    # Tasks still running at the interrupt may have finished since; they count as done too.
    assert report.failed == 0 and report.converted + report.skipped == 32
    assert report.skipped >= len(done) and report.converted >= 1
    assert {p: p.stat().st_mtime_ns for p in done} == done  # finished files were not redone
    assert _outputs(out) == _outputs(serial_labels)


@dask_test
def test_stats_on_dask_equal_serial_bit_for_bit(dask_executor, serial_labels):
    stats = pytest.importorskip("dataprep.stats")
    manifest = serial_labels / "manifest.csv"
    on_dask = stats.compute_stats(manifest, executor=dask_executor, quiet=True)
    serial = stats.compute_stats(manifest, executor=SerialExecutor(), quiet=True)
    assert on_dask["num_images"] == 32 and on_dask["classes"]["num_classes"] == 7
    assert json.dumps(on_dask) == json.dumps(serial)  # floats compared by their exact repr


@dask_test
def test_commands_with_a_local_cluster_match_serial_runs(cli, sample_manifest, serial_labels, tmp_path):
    pytest.importorskip("dataprep.cli.labels")
    out = tmp_path / "labels"
    result = cli("masks2labels", "--palette", SAMPLE_DATA / "palette.json", sample_manifest, out,
                 "--scheduler", "local:2", "-q")
    assert result.exit_code == 0, result.output
    assert _outputs(out) == _outputs(serial_labels)

    on_dask, serial = tmp_path / "dask.json", tmp_path / "serial.json"
    assert cli("stats", out / "manifest.csv", "-o", on_dask, "--scheduler", "local:2", "-q").exit_code == 0
    assert cli("stats", out / "manifest.csv", "-o", serial, "-j", "1", "-q").exit_code == 0
    assert on_dask.read_bytes() == serial.read_bytes()


def test_a_script_without_a_main_guard_gets_the_guard_named_not_a_nanny_traceback(tmp_path):
    """docs/scaling.md's snippet run as a script: a screenful of 'Nanny failed to start' from Dask."""
    import subprocess

    pytest.importorskip("distributed")
    script = tmp_path / "no_guard.py"
    script.write_text("from dataprep.executor import make_executor, run_items\n"
                      "with make_executor(scheduler='local:1') as ex:\n"
                      "    print(list(run_items(abs, [-1], executor=ex)))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dataprep.errors.UsageError: the local Dask cluster (local:1) did not start: a script "
                           'that starts one needs `if __name__ == "__main__":`'), done.stderr[-2000:]
