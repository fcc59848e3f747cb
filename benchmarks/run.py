"""Run the benchmarks: `python benchmarks/run.py [NAME ...] [--quick]`.

Each `bench_<name>.py` has `main(quick: bool) -> None`, prints a table and writes
`results/<name>.json`. `--quick` shrinks the workloads (for a smoke run).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {available()})")
    parser.add_argument("--quick", action="store_true", help="small workloads, for a smoke run")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    sys.path.insert(0, str(HERE))
    if args.quick:
        os.environ["DATAPREP_BENCH_QUICK"] = "1"  # results go to results/<name>.quick.json
    for name in names:
        start = time.perf_counter()
        importlib.import_module(f"bench_{name}").main(quick=args.quick)
        print(f"  ({name} took {time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
