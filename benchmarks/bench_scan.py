"""Scan throughput on a generated tree of image/mask pairs (default 10,000).

Header mode must not decode pixels; `decode` mode is shown for comparison on the
same tree so the cost of full validation is visible.

Growth: whole `dataprep scan` processes (header check, default -j) on 10k and 100k
pairs of small files (64x48 JPEG + PNG, so that 100k pairs fit a small disk),
time, CPU time (the process and its workers: far less disturbed by other load on
a shared machine), time per pair and the process's peak memory.

    python benchmarks/bench_scan.py [--quick] [--scale 10000 100000]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
from pathlib import Path

import numpy as np
from common import best_of, run_cli_peak, write_result

from dataprep import io
from dataprep.executor import ProcessExecutor, SerialExecutor
from dataprep.scan import scan


def make_tree(root: Path, pairs: int, width: int = 640, height: int = 480) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = (rng.integers(0, 8, (height // 8, width // 8), dtype=np.uint8)).repeat(8, 0).repeat(8, 1)
    io.write_image(root / "proto.jpg", image, quality=90)
    io.write_mask(root / "proto.png", mask)
    jpg, png = (root / "proto.jpg").read_bytes(), (root / "proto.png").read_bytes()
    for i in range(pairs):
        sub = f"{i // 1000:02d}"
        (root / "images" / sub).mkdir(parents=True, exist_ok=True)
        (root / "masks" / sub).mkdir(parents=True, exist_ok=True)
        (root / "images" / sub / f"{i:06d}.jpg").write_bytes(jpg)
        (root / "masks" / sub / f"{i:06d}.png").write_bytes(png)
    (root / "proto.jpg").unlink()
    (root / "proto.png").unlink()


def scale_rows(root: Path, sizes: tuple[int, int]) -> list[dict]:
    rows = []
    for n in sizes:
        tree = root / str(n)
        make_tree(tree, n, width=64, height=48)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, peak = run_cli_peak(["scan", str(tree), "-o", str(root / f"manifest_{n}.csv"), "-q"])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows.append({"check": "header (whole process)", "jobs": "default", "pairs": n, "seconds": seconds,
                     "cpu_seconds": cpu, "pairs_per_s": n / seconds, "peak_rss_mb": peak})
        shutil.rmtree(tree, ignore_errors=True)
    return rows


def main(quick: bool = False, scale: tuple[int, int] | None = None) -> None:
    pairs = 1000 if quick else 10_000
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-scan-"))
    try:
        make_tree(tmp, pairs)
        rows = []
        for check in ("header", "decode"):
            # Full decoding is ~60x slower: measured on the first 1,000 pairs of the same tree.
            exclude = ["images/0[1-9]/*", "masks/0[1-9]/*"] if check == "decode" else []
            n = min(pairs, 1000) if check == "decode" else pairs
            for jobs in (1, 2):

                def run() -> None:
                    ex = SerialExecutor() if jobs == 1 else ProcessExecutor(jobs)
                    with ex:
                        result = scan(tmp, check=check, exclude=exclude, executor=ex, quiet=True)
                    assert len(result.rows) == n and not result.problems

                seconds = best_of(run, repeat=1 if check == "decode" else 3)
                rows.append({"check": check, "jobs": jobs, "pairs": n, "seconds": seconds, "pairs_per_s": n / seconds})
        rows += scale_rows(tmp / "scale", scale or ((2_000, 20_000) if quick else (10_000, 100_000)))
        write_result("scan", rows, {"image size": "640x480 JPEG + PNG mask (scale rows: 64x48)",
                                    "scale rows": "whole `dataprep scan -q` processes, header check, default -j; "
                                                  "peak = max RSS of the command's process; cpu = user + system of "
                                                  "the process and its workers; the machine was loaded with other "
                                                  "heavy jobs, so wall times are inflated"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k pairs, scale rows at 2k and 20k")
    parser.add_argument("--scale", type=int, nargs=2, metavar=("SMALL", "BIG"), help="pairs of the scale rows")
    args = parser.parse_args()
    main(quick=args.quick, scale=tuple(args.scale) if args.scale else None)
