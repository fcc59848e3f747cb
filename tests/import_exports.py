"""Small annotation-tool exports written the way each tool documents them, for the import tests.

Each builder writes one export under a folder and returns what the tests need
(the annotation path and the images). Images are plain noise PNGs: only their
size matters to the importers.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# COCO val2017 annotation 1768 (a dog, category 18), as published in instances_val2017.json (CC BY 4.0).
COCO_DOG_POLYGON = [
    510.66, 423.01, 511.72, 420.03, 510.45, 416.0, 510.34, 413.02, 510.77, 410.26, 510.77, 407.5, 510.34, 405.16,
    511.51, 402.83, 511.41, 400.49, 510.24, 398.16, 509.39, 397.31, 504.61, 399.22, 502.17, 399.64, 500.89, 401.66,
    500.47, 402.08, 499.09, 401.87, 495.79, 401.98, 490.59, 401.77, 488.79, 401.77, 485.39, 398.58, 483.9, 397.31,
    481.56, 396.35, 478.48, 395.93, 476.68, 396.03, 475.4, 396.77, 473.92, 398.79, 473.28, 399.96, 473.49, 401.87,
    474.56, 403.47, 473.07, 405.59, 473.39, 407.71, 476.68, 409.41, 479.23, 409.73, 481.56, 410.69, 480.4, 411.85,
    481.35, 414.93, 479.86, 418.65, 477.32, 420.03, 476.04, 422.58, 479.02, 422.58, 480.29, 423.01, 483.79, 419.93,
    486.66, 416.21, 490.06, 415.57, 492.18, 416.85, 491.65, 420.24, 492.82, 422.9, 493.56, 424.39, 496.43, 424.6,
    498.02, 423.01, 498.13, 421.31, 497.07, 420.03, 497.07, 415.15, 496.33, 414.51, 501.1, 411.96, 502.06, 411.32,
    503.02, 415.04, 503.33, 418.12, 501.1, 420.24, 498.98, 421.63, 500.47, 424.39, 505.03, 423.32, 506.2, 421.31,
    507.69, 419.5, 506.31, 423.32, 510.03, 423.01, 510.45, 423.01,
]


def write_image(path: Path, width: int, height: int, seed: int = 0, fmt: str = "PNG", exif_orientation: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    kwargs = {}
    if exif_orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    im.save(path, format=fmt, **kwargs)
    return path


def coco_export(root: Path) -> dict:
    """instances.json + images/: polygons (the real COCO dog among them), compressed and uncompressed RLE, a crowd
    region, an image without annotations, category ids 3/7/18 (not contiguous)."""
    from pycocotools import mask as mask_utils

    images = root / "images"
    write_image(images / "a.png", 640, 480, 1)
    write_image(images / "sub" / "b.png", 60, 40, 2)
    write_image(images / "empty.png", 30, 20, 3)
    block = np.zeros((40, 60), np.uint8)
    block[5:30, 10:25] = 1
    compressed = mask_utils.encode(np.asfortranarray(block))
    compressed["counts"] = compressed["counts"].decode("ascii")
    crowd = np.zeros((40, 60), np.uint8)
    crowd[20:38, 20:50] = 1
    runs, value, count = [], 0, 0
    for pixel in crowd.ravel(order="F"):
        if pixel != value:
            runs.append(count)
            value, count = pixel, 0
        count += 1
    runs.append(count)
    data = {
        "info": {"description": "dataprep test export"},
        "images": [
            {"id": 1, "file_name": "a.png", "width": 640, "height": 480},
            {"id": 2, "file_name": "sub/b.png", "width": 60, "height": 40},
            {"id": 3, "file_name": "empty.png", "width": 30, "height": 20},
        ],
        "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}, {"id": 7, "name": "train"}],
        "annotations": [
            {"id": 1768, "image_id": 1, "category_id": 18, "iscrowd": 0, "segmentation": [COCO_DOG_POLYGON]},
            {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 0,
             "segmentation": [[100.5, 100.2, 300.7, 120.1, 250.3, 300.9, 90.0, 280.4], [400, 50, 450, 50, 450, 90]]},
            {"id": 3, "image_id": 1, "category_id": 7, "iscrowd": 0,
             "segmentation": [[200.2, 200.6, 350.5, 210.1, 330.8, 350.3]]},  # overlaps the car
            {"id": 4, "image_id": 2, "category_id": 3, "iscrowd": 0, "segmentation": compressed},
            {"id": 5, "image_id": 2, "category_id": 7, "iscrowd": 1, "segmentation": {"counts": runs, "size": [40, 60]}},
        ],
    }
    path = root / "annotations" / "instances.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return {"json": path, "images": images, "data": data}


def labelme_file(folder: Path, name: str, shapes: list[dict], width: int, height: int, *, embed: bool = False,
                 seed: int = 0, image_size: tuple[int, int] | None = None) -> Path:
    """One labelme JSON with its image (beside it, or embedded as imageData)."""
    folder.mkdir(parents=True, exist_ok=True)
    iw, ih = image_size or (width, height)
    image_path = write_image(folder / f"{name}.png", iw, ih, seed)
    data = {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": f"{name}.png", "imageData": None,
            "imageHeight": height, "imageWidth": width}
    if embed:
        data["imageData"] = base64.b64encode(image_path.read_bytes()).decode("ascii")
        image_path.unlink()
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def shape(label: str, points: list, shape_type: str = "polygon") -> dict:
    return {"label": label, "points": points, "group_id": None, "shape_type": shape_type, "flags": {}}


def yolo_export(root: Path, lines: dict[str, str], names: list[str], size: tuple[int, int] = (64, 48)) -> Path:
    """data.yaml + images/train/*.png + labels/train/*.txt (a name mapped to None gets no label file)."""
    for n, (stem, text) in enumerate(lines.items()):
        write_image(root / "images" / "train" / f"{stem}.png", *size, seed=n)
        if text is not None:
            label = root / "labels" / "train" / f"{stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(text)
    yaml_path = root / "data.yaml"
    yaml_path.write_text("path: .\ntrain: images/train\nval: images/train\nnames:\n"
                         + "".join(f"  {i}: {n}\n" for i, n in enumerate(names)))
    return yaml_path


try:
    import pycocotools  # noqa: F401
except ImportError:  # the optional 'coco' extra
    pycocotools = None
needs_coco = pytest.mark.skipif(pycocotools is None, reason="pycocotools (the 'coco' extra) not installed")


CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>t</name><labels>
    <label><name>car</name><color>#fa3253</color><type>any</type></label>
    <label><name>Daytime_Clear</name><color>#2a7dd1</color><type>tag</type></label>
    <label><name>road</name><color>#3d3df5</color><type>any</type></label>
  </labels></task></meta>
  <image id="0" name="f0.png" width="20" height="16">
    <box label="car" occluded="0" source="manual" xtl="2" ytl="2" xbr="10" ybr="8" z_order="1"></box>
    <polygon label="road" occluded="0" source="manual" points="0,6;20,6;20,16;0,16" z_order="0"></polygon>
    <mask label="car" source="manual" occluded="0" rle="{rle}" left="12" top="10" width="4" height="3" z_order="2"></mask>
    <polyline label="road" points="0,0;5,5" z_order="0"></polyline>
    <tag label="Daytime_Clear" source="manual"></tag>
  </image>
</annotations>
"""
