"""Helpers shared by the benchmarks: timing, result files and tables."""
from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dataprep.labels import masks_to_labels
from dataprep.manifest import write_manifest
from dataprep.scan import scan

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
# Public datasets beside the repository (see its README); benchmarks that use them skip them when absent.
SHARED_DATA = REPO.parent / "shared" / "data"
QUICK_ENV = "DATAPREP_BENCH_QUICK"
T = TypeVar("T")


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest wall time of `repeat` runs (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def alternating_best(first: Callable[[T], Any], second: Callable[[T], Any], chunks: Sequence[T],
                     rounds: int) -> tuple[float, float]:
    """Summed best times of `first(chunk)` and `second(chunk)`, the two alternating chunk by chunk.

    Each chunk keeps its best of `rounds`, so a burst of load from other processes
    hits one chunk of both sides, not one side's whole run.
    """
    best = [[float("inf")] * len(chunks), [float("inf")] * len(chunks)]
    for _ in range(rounds):
        for c, chunk in enumerate(chunks):
            for side, fn in enumerate((first, second)):
                best[side][c] = min(best[side][c], best_of(lambda: fn(chunk), 1))
    return sum(best[0]), sum(best[1])


def child_env() -> dict[str, str]:
    """The environment of measured processes: bytecode cached, as in any installed Python.

    With PYTHONDONTWRITEBYTECODE set (CI images, containers) every process
    would compile dataprep's modules from source, a cost users do not pay;
    the cache goes to a temporary folder, never into the repository.
    """
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "dataprep-bench-pycache")
    return env


def run_process(args: Sequence[str], *, cwd: Path | None = None, check: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole Python process `python ARGS...`, its workers included.

    CPU time (user + system of the process and the children it waited for) is
    far less disturbed by other load on a shared machine than wall time.
    """
    import resource
    import subprocess
    import sys

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=check, cwd=cwd or REPO, stdout=subprocess.DEVNULL, env=child_env())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


_CLI_WITH_PEAK = """
import resource, sys
from dataprep.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
# VmHWM: this process's own peak. (ru_maxrss would carry over the peak of the
# process that started it, through fork and exec.)
peak = next((line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")), None)
print("PEAK_RSS_KB", peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def run_cli_peak(args: Sequence[str], ok_codes: Sequence[int] = (0, 1)) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the command's own process) of one whole `dataprep ARGS...` run."""
    import subprocess
    import sys

    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CLI_WITH_PEAK, *args], capture_output=True, text=True, cwd=REPO,
                          env=child_env())
    seconds = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        raise RuntimeError(proc.stderr[-2000:])
    peak = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return seconds, peak / 1024


def label_sample_data(root: Path) -> Path:
    """sample_data's 32 pairs with their colour masks converted by masks2labels; returns the label manifest."""
    write_manifest(scan(SAMPLE, exclude=["bad/*"]).rows, root / "colour.csv")
    return Path(masks_to_labels(root / "colour.csv", root / "labels", SAMPLE / "palette.json", quiet=True).manifest_path)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        # Other load on the cores inflates wall times: the 1-minute load average as the results are written.
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def write_result(name: str, rows: list[dict[str, Any]], notes: dict[str, Any] | None = None) -> Path:
    """Write benchmarks/results/<name>.json and print the rows as a table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Smoke runs (--quick) must not replace the figures of a full run.
    path = RESULTS / (f"{name}.quick.json" if os.environ.get(QUICK_ENV) else f"{name}.json")
    payload = {"benchmark": name, "machine": machine(), "rows": rows, "notes": notes or {}}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print_table(name, rows)
    for key, value in (notes or {}).items():
        print(f"  {key}: {value}")
    return path


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_fmt(row.get(c, "")) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    print(f"\n## {title}")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
