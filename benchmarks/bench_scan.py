"""Scan throughput on a generated tree of image/mask pairs (default 10,000).

Header mode must not decode pixels; `decode` mode is shown for comparison on the
same tree so the cost of full validation is visible.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from common import best_of, write_result

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


def main(quick: bool = False) -> None:
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
        write_result("scan", rows, {"image size": "640x480 JPEG + PNG mask"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
