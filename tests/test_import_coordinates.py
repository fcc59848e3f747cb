"""Polygon coordinates pycocotools cannot rasterize (NaN, inf, far outside the image): one image fails, in one line.

The import runs in a subprocess: before the check, pycocotools segfaulted on such points (cocoapi#380), which
would take the test run down with it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep.io import read_mask
from dataprep.manifest import read_manifest

from import_exports import needs_coco, write_image

REPO = Path(__file__).resolve().parent.parent
GOOD = [2.0, 3.0, 30.0, 3.0, 30.0, 20.0, 2.0, 20.0]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataprep", *args], capture_output=True, text=True, timeout=240,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)})


def _reference(height: int, width: int, poly: list[float]) -> np.ndarray:
    from pycocotools import mask as mask_utils

    return mask_utils.decode(mask_utils.frPyObjects([poly], height, width))[:, :, 0]


@needs_coco
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e12, -3e9])
def test_coco_polygon_with_a_corrupt_point_fails_its_image_in_one_line(tmp_path, bad):
    images = tmp_path / "images"
    write_image(images / "good.png", 40, 30, 1)
    write_image(images / "bad.png", 40, 30, 2)
    data = {"categories": [{"id": 5, "name": "cat"}],
            "images": [{"id": 1, "file_name": "good.png", "width": 40, "height": 30},
                       {"id": 2, "file_name": "bad.png", "width": 40, "height": 30}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 5, "segmentation": [GOOD], "iscrowd": 0},
                            {"id": 7, "image_id": 2, "category_id": 5, "iscrowd": 0,
                             "segmentation": [[1.0, 1.0, bad, 5.0, 10.0, 10.0]]}]}
    (tmp_path / "instances.json").write_text(json.dumps(data))  # NaN and Infinity, as Python's json writes them
    done = _run("import", "coco", "instances.json", "out", "--images", "images", "-q", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "image id 2: annotations[1] (id 7): polygon point" in errors[0]
    assert ("not a finite number" if not np.isfinite(bad) else "far outside the 40x30 image") in errors[0]
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv")] == ["good"]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "good.png"), _reference(30, 40, GOOD))


@needs_coco
def test_cvat_polygon_far_outside_fails_its_image_and_a_polygon_reaching_out_is_still_drawn(tmp_path):
    export = tmp_path / "cvat"
    for name in ("a.png", "b.png"):
        write_image(export / "images" / name, 40, 30, 3)
    reaching = [-10.0, -10.0, 60.0, -10.0, 60.0, 15.0, -10.0, 15.0]  # past the edges, as CVAT lets one draw
    points = ";".join(f"{x:g},{y:g}" for x, y in zip(reaching[0::2], reaching[1::2]))
    (export / "annotations.xml").write_text(
        "<annotations><version>1.1</version><meta><task><labels><label><name>cat</name></label></labels></task>"
        f"</meta><image id='0' name='a.png' width='40' height='30'><polygon label='cat' points='{points}'/></image>"
        "<image id='1' name='b.png' width='40' height='30'>"
        "<polygon label='cat' points='1,1;10000000,5;10,10'/></image></annotations>")
    done = _run("import", "cvat", "cvat", "out", "-q", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "polygon point (1e+07, 5) lies far outside the 40x30 image" in done.stderr
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv")] == ["a"]
    got = np.asarray(Image.open(tmp_path / "out" / "labels" / "a.png"))
    np.testing.assert_array_equal(got, _reference(30, 40, reaching))
