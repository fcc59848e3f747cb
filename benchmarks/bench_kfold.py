"""kfold at scale: 10k and 100k rows of tiny label maps, whole `dataprep kfold` processes.

Growth (100k / 10k time), peak memory (the process's max RSS) and time per row.
The rows point at a pool of 1,000 distinct 16x16 label maps (up to 6 of 19
classes each), so the files fit the page cache and the measurement is dataprep's
own per-row cost (reading, class counts, stratification, writing the folds), not
the disk's. Serial (-j 1) and the default (all cores). CPU seconds (the process
and its workers) are reported beside wall time: on a shared machine they are far
less disturbed by other load.

    python benchmarks/bench_kfold.py [--quick] [--sizes 10000 100000] [--jobs 1 0] [--profile N]

`--profile N` runs one serial split of N rows in this process under cProfile and
prints the top functions instead of benchmarking.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import run_cli_peak, write_result

from dataprep.io import write_mask
from dataprep.manifest import ManifestRow, write_manifest

POOL = 1000
SIDE = 16
CLASSES = 19


def make_manifest(root: Path, rows: int, seed: int = 0) -> Path:
    masks = root / "masks"
    if not masks.exists():
        rng = np.random.default_rng(seed)
        masks.mkdir(parents=True)
        for i in range(POOL):
            present = rng.choice(CLASSES, size=int(rng.integers(1, 7)), replace=False)
            write_mask(masks / f"m{i:04d}.png", rng.choice(present, size=(SIDE, SIDE)).astype(np.uint8))
    out = root / f"manifest_{rows}.csv"
    write_manifest([ManifestRow(id=f"r{i:06d}", image=f"images/r{i:06d}.jpg", mask=masks / f"m{i % POOL:04d}.png",
                                width=SIDE, height=SIDE) for i in range(rows)], out)
    return out


def run_kfold(manifest: Path, out: Path, jobs: int) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB, CPU seconds with workers) of one whole `dataprep kfold` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, peak = run_cli_peak(["kfold", str(manifest), "-k", "5", "-o", str(out), "-j", str(jobs), "-q",
                                  "--num-classes", str(CLASSES)])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, peak, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(quick: bool = False, sizes: tuple[int, int] | None = None, jobs_list: tuple[int, ...] = (1, 0)) -> None:
    sizes = sizes or ((2_000, 20_000) if quick else (10_000, 100_000))
    repeat = 1
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-kfold-"))
    try:
        manifests = {n: make_manifest(tmp, n) for n in sizes}
        rows = []
        for jobs in jobs_list:
            times: dict[int, list[float]] = {n: [] for n in sizes}
            cpus: dict[int, list[float]] = {n: [] for n in sizes}
            peaks: dict[int, float] = {n: 0.0 for n in sizes}
            for _ in range(repeat):  # alternating sizes, median of the repeats
                for n in sizes:
                    seconds, peak, cpu = run_kfold(manifests[n], tmp / f"out_{n}", jobs)
                    times[n].append(seconds)
                    cpus[n].append(cpu)
                    peaks[n] = max(peaks[n], peak)
            for n in sizes:
                med = float(np.median(times[n]))
                rows.append({"rows": n, "jobs": jobs or "all cores", "seconds": med,
                             "cpu_seconds": float(np.median(cpus[n])), "peak_rss_mb": peaks[n],
                             "ms_per_row": 1000 * med / n})
            small, big = (float(np.median(times[n])) for n in sizes)
            small_cpu, big_cpu = (float(np.median(cpus[n])) for n in sizes)
            rows.append({"rows": f"{sizes[1]} / {sizes[0]}", "jobs": jobs or "all cores", "seconds": big / small,
                         "cpu_seconds": big_cpu / small_cpu})
        write_result("kfold", rows, {
            "data": f"{POOL} distinct {SIDE}x{SIDE} label maps, {CLASSES} classes, multilabel mode, k=5",
            "note": f"whole processes, {repeat} run(s) each, sizes alternating; peak = max RSS of the process "
                    "(the parent; workers are separate processes); cpu = user + system of the process and its "
                    "workers; other load on the machine (machine.load_average_1min) inflates wall times, not CPU times",
            "goal": "100k rows < 10 s and < 200 MB",
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def profile(rows: int, top: int = 30) -> None:
    """One serial split of `rows` rows in this process under cProfile; the top functions by cumulative time."""
    import cProfile
    import pstats

    from dataprep.executor import SerialExecutor
    from dataprep.splits import kfold

    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-kfold-"))
    try:
        manifest = make_manifest(tmp, rows)
        with cProfile.Profile() as prof:
            kfold(manifest, tmp / "out", 5, num_classes=CLASSES, executor=SerialExecutor(), quiet=True)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2k and 20k rows")
    parser.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "BIG"), help="the two row counts")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 0], help="-j values to run (0: all cores)")
    parser.add_argument("--profile", type=int, metavar="ROWS", help="profile one serial split instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
    else:
        main(quick=args.quick, sizes=tuple(args.sizes) if args.sizes else None, jobs_list=tuple(args.jobs))
