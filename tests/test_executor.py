"""The executor: order, per-item error capture, fail-fast, serial == parallel."""
from __future__ import annotations

import pytest

from dataprep.errors import DataprepError, UsageError
from dataprep.executor import ProcessExecutor, SerialExecutor, errors_of, make_executor, run_items


def square_or_fail(x: int) -> int:
    if x == 7:
        raise DataprepError(f"item{x}.png", "planted failure")
    if x == 9:
        raise ValueError("unexpected")
    return x * x


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(2)])
def test_results_in_input_order_with_errors_captured(make):
    with make() as ex:
        results = run_items(square_or_fail, list(range(40)), executor=ex, quiet=True, chunk_size=3)
    assert [r.index for r in results] == list(range(40))
    assert [r.value for r in results if r.ok] == [x * x for x in range(40) if x not in (7, 9)]
    errors = errors_of(results)
    assert errors[0] == "item7.png: planted failure"
    assert errors[1].startswith("9: ValueError: unexpected")


def test_fail_mode_stops_with_the_failing_item():
    with pytest.raises(DataprepError, match="item7.png: planted failure"):
        run_items(square_or_fail, list(range(10)), on_error="fail", quiet=True)


def test_bad_on_error_value():
    with pytest.raises(UsageError):
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
