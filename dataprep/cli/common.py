"""Options and error handling shared by every command."""
from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import lifecycle
from ..click_errors import OneLineCommand, OneLineErrors, one_line  # noqa: F401 - re-exported for cli/
from ..errors import EXIT_DATA_PROBLEM, EXIT_USAGE, DataprepError, RunStopped
from ..executor import Executor, make_executor
from ..option_ranges import MAX_SEED, ignore_index_refusal

if TYPE_CHECKING:
    from ..outputs import OutputReport

MAX_PIXELS_ENV = "DATAPREP_MAX_IMAGE_PIXELS"  # io.MAX_PIXELS_ENV; io (and OpenCV) is imported only when it is set

F = TypeVar("F", bound=Callable[..., Any])


def executor_options(fn: F) -> F:
    """-j/--jobs, --scheduler, --quiet and --on-error, passed on as `executor`, `quiet`, `on_error`."""
    return _executor_options(click.option("--on-error", type=click.Choice(["skip", "fail"]), default="skip",
                                          show_default=True,
                                          help="skip: report a bad file and carry on; fail: stop at the first one.")(fn))


def executor_options_without_on_error(fn: F) -> F:
    """-j/--jobs, --scheduler and --quiet, for commands where bad files are findings, not failures."""
    return _executor_options(fn)


def _executor_options(fn: F) -> F:
    @click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, show_default="all cores",
                  help="Worker processes; 0 uses every core, 1 runs serially in this process.")
    @click.option("--scheduler", metavar="ADDRESS", default=None,
                  help="Run on Dask: a scheduler address (tcp://host:8786) or local:N for N local workers.")
    @quiet_option
    @functools.wraps(fn)
    def wrapper(*args: Any, jobs: int, scheduler: str | None, **kwargs: Any) -> Any:
        with make_executor(jobs or None, scheduler) as executor:
            return fn(*args, executor=executor, **kwargs)

    # Starting the executor can fail too (a bad --scheduler): same one-line errors.
    return reports_errors(wrapper)  # type: ignore[return-value]


Command = OneLineCommand  # every subcommand's class


class ClassIndexType(click.ParamType):
    """An integer class index or `none`; with `auto`, also the word `auto` (returned as `auto`); with
    `ignore_range`, an integer only where a label map can hold it (`option_ranges.ignore_index_refusal`)."""

    def __init__(self, name: str, auto: str | None = None, ignore_range: bool = False) -> None:
        self.name, self.auto, self.ignore_range = name, auto, ignore_range

    def get_metavar(self, *args: Any, **kwargs: Any) -> str:
        return "INDEX|none|auto" if self.auto else "INDEX|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, int):
            return self._in_range(value, param, ctx)
        text = str(value).strip().lower()
        if text in ("none", "null", "-"):
            return None
        if self.auto and text == self.auto:
            return self.auto
        try:
            number = int(text)
        except ValueError:
            words = "'none' or 'auto'" if self.auto else "or 'none'"
            self.fail(f"{value!r} is not a class index{',' if self.auto else ''} {words}", param, ctx)
        return self._in_range(number, param, ctx)

    def _in_range(self, value: int | None, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        refusal = ignore_index_refusal(value) if self.ignore_range and value is not None else None
        if refusal:
            self.fail(refusal, param, ctx)
        return value


def seed_option(help: str, default: int | None = 0) -> Callable[[F], F]:
    """--seed for every command: 0..MAX_SEED, refused by Click (exit 2) before anything is read or written.

    Plain `type=int` let -1 reach numpy once per file (tile wrote the other tiles and a manifest) and 2**64
    seed as 0 while the manifest recorded 2**64."""
    extra: dict[str, Any] = {"show_default": True} if default is not None else {}
    return click.option("--seed", type=click.IntRange(0, MAX_SEED), default=default, metavar="SEED", help=help,
                        **extra)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that refuses inf as it refuses nan (FloatRange(min=0) took inf, and `--scale inf`
    failed once per file with Python's OverflowError)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class FullSummaries:
    """A group's command list with each command's whole first sentence (wrapped), not cut at `...`."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):  # type: ignore[attr-defined]
            cmd = self.command_for_help(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def command_for_help(self, ctx: click.Context, name: str) -> click.Command | None:
        return self.get_command(ctx, name)  # type: ignore[attr-defined]


class Group(OneLineErrors, FullSummaries, click.Group):
    """A click.Group with one-line errors and whole command summaries."""


def quiet_option(fn: F) -> F:
    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress bars or progress messages (bars are drawn only on a terminal anyway; "
                             "DATAPREP_PROGRESS=1 draws them in logs too).")(fn)


def force_option(fn: F) -> F:
    return click.option("--force", is_flag=True, help="Allow an output inside the input tree.")(fn)


def finish_output_report(report: "OutputReport", summary: str, warnings: Iterable[str] = ()) -> None:
    """The end of a command that writes a folder: each failed item and warning on stderr, the summary and the
    manifest on stdout; exit 1 when any item failed (what was written stays)."""
    for line in report.errors:
        click.echo(f"error: {line}", err=True)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(summary)
    click.echo(f"manifest: {report.manifest_path}")
    if not report.ok:
        sys.exit(EXIT_DATA_PROBLEM)


# Commands whose output is written whole at the end: an interrupt leaves nothing of this run to resume from.
WRITES_AT_THE_END = frozenset({"dedup", "infer", "kfold", "labels2rle", "preview", "report", "scan", "stats"})


def _what_an_interrupt_leaves() -> str:
    context = click.get_current_context(silent=True)
    if context is not None and context.info_name in WRITES_AT_THE_END:
        return "nothing was written, rerun the command"
    return "finished files are kept, rerun to complete the rest"


def reports_errors(fn: F) -> F:
    """Turn library errors into one line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        lifecycle.install_sigterm()  # `kill PID` unwinds like Ctrl-C
        try:
            if os.environ.get(MAX_PIXELS_ENV):  # a bad value: one usage error, not one per file
                from ..io import max_image_pixels

                max_image_pixels()
            return fn(*args, **kwargs)
        except DataprepError as exc:
            for line in exc.errors if isinstance(exc, RunStopped) else ():
                click.echo(f"error: {line}", err=True)
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            from ..io.atomic import remove_live_temps

            remove_live_temps()  # a file the interrupt caught being created; finished ones are all renamed
            what = "terminated" if isinstance(exc, lifecycle.Terminated) else "interrupted"
            click.echo(f"{what}; {_what_an_interrupt_leaves()}", err=True)
            sys.exit(lifecycle.EXIT_TERMINATED if isinstance(exc, lifecycle.Terminated) else 130)
        except BrokenPipeError:  # `dataprep stats ... | head`: the reader left, as it may; nothing to say
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # the flush at exit would fail on the closed pipe again
            sys.exit(128 + 13)  # as a command killed by SIGPIPE
        except OSError as exc:  # a fault no library check foresaw: still one line
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_DATA_PROBLEM)
        except MemoryError:
            click.echo("error: out of memory", err=True)
            sys.exit(EXIT_DATA_PROBLEM)

    return wrapper  # type: ignore[return-value]


def fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


__all__ = ["Command", "FullSummaries", "Group", "OneLineErrors", "one_line", "executor_options",
           "executor_options_without_on_error", "quiet_option", "seed_option", "FiniteFloatRange", "force_option",
           "reports_errors", "finish_output_report", "fail_usage", "Executor"]
