"""Duplicate search on generated folders of small images: 10,000 and 100,000 (quick: 2,000).

Every image is a different random scene; 1% of them get a near copy (brighter,
darker, resized or re-encoded) and 0.5% an exact copy. Each size runs in a fresh
process, so its peak memory (the process and its workers) is the search's own.
The run checks that every planted copy is found and nothing else.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from common import REPO, write_result


_MEASURE = """
import json, resource, sys, time
from dataprep.dedup import find_duplicates
from dataprep.executor import make_executor
start = time.perf_counter()
with make_executor(int(sys.argv[2])) as ex:
    result = find_duplicates(sys.argv[1], executor=ex, quiet=True)
seconds = time.perf_counter() - start
pairs = sorted(sorted(m.id for m in c.members) for c in result.clusters)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "clusters": pairs, "errors": len(result.errors),
                  "peak_mb_main": own, "peak_mb_worker": workers}))
"""


def make_images(root: Path, n: int, size: tuple[int, int] = (64, 48)) -> set[tuple[str, ...]]:
    """`n` distinct scenes plus planted copies; returns the expected clusters (sorted ids)."""
    rng = np.random.default_rng(0)
    w, h = size
    expected = set()
    for i in range(n):
        sub = root / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        img = np.zeros((h, w, 3), np.float32)
        for cells, weight in ((3, 80.0), (6, 40.0)):
            img += weight * cv2.resize(rng.normal(size=(cells, cells, 3)).astype(np.float32), (w, h),
                                       interpolation=cv2.INTER_CUBIC)
        img = np.clip(img + 128, 0, 255).astype(np.uint8)
        name = f"{i:06d}"
        _write_jpeg(sub / f"{name}.jpg", img, 92)
        if i % 100 == 7:
            kind = (i // 100) % 4
            copy = (np.clip(img.astype(int) + 35, 0, 255).astype(np.uint8) if kind == 0
                    else (img * 0.7).astype(np.uint8) if kind == 1
                    else cv2.resize(img, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA) if kind == 2
                    else img)
            _write_jpeg(sub / f"{name}_copy.jpg", copy, 75)
            expected.add((f"{sub.name}/{name}", f"{sub.name}/{name}_copy"))
        elif i % 200 == 13:
            shutil.copyfile(sub / f"{name}.jpg", sub / f"{name}_same.jpg")
            expected.add((f"{sub.name}/{name}", f"{sub.name}/{name}_same"))
    return expected


def _write_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    # Plain writes: the generated tree is scratch, and atomic writes would double its setup time.
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    path.write_bytes(buf.tobytes())


def main(quick: bool = False) -> None:
    sizes = [2000] if quick else [10_000, 100_000]
    rows = []
    for n in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-dedup-"))
        try:
            expected = make_images(tmp, n)
            for jobs in (2,):
                out = subprocess.run([sys.executable, "-c", _MEASURE, str(tmp), str(jobs)], check=True,
                                     capture_output=True, text=True, cwd=REPO).stdout
                res = json.loads(out.strip().splitlines()[-1])
                found = {tuple(c) for c in res["clusters"]}
                rows.append({"images": n + len(expected), "jobs": jobs, "seconds": res["seconds"],
                             "images_per_s": (n + len(expected)) / res["seconds"],
                             "peak_mb_main": res["peak_mb_main"], "peak_mb_worker": res["peak_mb_worker"],
                             "planted_found": f"{len(found & expected)}/{len(expected)}",
                             "false_clusters": len(found - expected)})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    write_result("dedup", rows, {"images": "64x48 JPEG scenes; 1% near copies, 0.5% exact copies",
                                 "memory": "peak resident set of the main process / of the largest worker"})


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
