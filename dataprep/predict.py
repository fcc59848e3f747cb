"""`dataprep predict`: run the reference trainer's model over whole images, in sliding windows if asked.

Each image is read in its own pixel type (dataprep.raster: any bands, 16-bit,
float TIFF), normalized as the checkpoint says the model was trained
(stats.json's mean/std, else a scale to 0-1) and fed at its own resolution.

- Without `tile`, the whole image goes through the model at once (the UNet
  takes any size).
- With `tile=T, overlap=O`, windows of T pixels start every T - O pixels, the
  last row/column shifted inward so that every window holds real pixels (the
  `dataprep tile` grid with `pad="none"`); windows are batched, their softmax
  probabilities weighted by a window that falls off towards the edges
  (`blend`, default Gaussian with sigma = T/8, see dataprep.stitch) and
  averaged. Edges of a window see zero padding instead of the neighbouring
  pixels, so tiled and whole-image predictions agree where the overlap covers
  the model's receptive field and may differ near window seams; the blending
  gives the seams little weight (docs/tiling.md gives the measured agreement).

Outputs: `labels/<id>.png` (palette PNGs of class indices, colours from the
palette), optionally `probabilities/<id>.tif` (float32, H x W x classes), and
`manifest.csv` whose `mask` column is the prediction (and `probabilities`
column the map), every input column kept, so a prediction over a tiles
manifest can be put together with `dataprep stitch`.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataprepError, UsageError, all_failed
from .folder_settings import mark_owner
from .io import PathLike, atomic_write_text, staged
from .manifest import Manifest, ManifestRow, read_manifest, require_rows, write_manifest
from .outputs import OutputReport
from .palette import resolve_palette, voc_colormap
from .paths import Inputs, inside
from .progress import progress_bar
from .raster import read_raster, write_raster
from .sampleio import load_row_mask
from .split_column import select_splits
from .stitch import BLEND_MODES, PROBABILITIES_COLUMN, blend_window
from .tiling import tile_starts


@dataclass
class PredictReport(OutputReport):
    predicted: int = 0
    device: str = "cpu"
    scores: Any = None  # with evaluate: the predictions scored against the rows' label maps (SegmentationScores)
    class_names: list[str] | None = None
    metrics_path: Path | None = None
    warnings: list[str] = field(default_factory=list)


def windows(height: int, width: int, tile: tuple[int, int], overlap: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """(y, x, h, w) of the sliding windows: `dataprep tile`'s grid without padding."""
    th, tw = min(tile[0], height), min(tile[1], width)
    sy, sx = max(1, tile[0] - overlap[0]), max(1, tile[1] - overlap[1])
    ys = tile_starts(height, tile[0], min(sy, tile[0]), pad=False)
    xs = tile_starts(width, tile[1], min(sx, tile[1]), pad=False)
    return [(y, x, th, tw) for y in ys for x in xs]


def predict_probabilities(
    model: Any,
    image: np.ndarray,
    *,
    normalization: Any,
    tile: tuple[int, int] | None = None,
    overlap: tuple[int, int] = (0, 0),
    batch_size: int = 4,
    blend: str = "gaussian",
    device: Any = "cpu",
) -> np.ndarray:
    """(classes, H, W) float32 softmax probabilities of one (H, W, C) image."""
    import torch

    x = torch.from_numpy(normalization(image))  # (C, H, W) float32
    H, W = image.shape[:2]
    with torch.inference_mode():
        if tile is None:
            logits = _logits(model, x[None].to(device))
            return torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
        boxes = windows(H, W, tile, overlap)
        th, tw = boxes[0][2], boxes[0][3]
        weight = torch.from_numpy(blend_window(th, tw, blend)).to(device)
        acc = torch.zeros((model.num_classes, H, W), dtype=torch.float32, device=device)
        total = torch.zeros((H, W), dtype=torch.float32, device=device)
        for start in range(0, len(boxes), batch_size):
            batch = boxes[start : start + batch_size]
            crops = torch.stack([x[:, y : y + h, c : c + w] for y, c, h, w in batch]).to(device)
            probs = torch.softmax(_logits(model, crops).float(), dim=1)
            for (y, c, h, w), p in zip(batch, probs):
                acc[:, y : y + h, c : c + w] += p * weight
                total[y : y + h, c : c + w] += weight
        return (acc / total).cpu().numpy()


def min_input_size(model: Any) -> int:
    """The smallest side the model takes (`train.model.min_input_side` of its depth; 1 for a model without one)."""
    from .train.model import min_input_side

    return min_input_side(int(getattr(model, "depth", 0)))


def _logits(model: Any, batch: Any) -> Any:
    """model(batch) for a (N, C, h, w) batch of any size: sides below min_input_size are zero-padded up to
    it, centred, and the logits cropped back. Zeros (the normalized mean) split as the UNet's up path pads
    its odd sizes and as its convolutions see beyond every edge, so a small image reads as one with a
    featureless border."""
    import torch.nn.functional as F

    need = min_input_size(model)
    h, w = batch.shape[-2:]
    dh, dw = max(0, need - h), max(0, need - w)
    if not (dh or dw):
        return model(batch)
    top, left = dh // 2, dw // 2
    logits = model(F.pad(batch, [left, dw - left, top, dh - top]))
    return logits[..., top : top + h, left : left + w]


def predict_manifest(
    checkpoint: PathLike,
    manifest: Manifest | PathLike,
    out_dir: PathLike,
    *,
    tile: int | tuple[int, int] | None = None,
    overlap: int | tuple[int, int] = 0,
    batch_size: int = 4,
    blend: str = "gaussian",
    probabilities: bool = False,
    palette: PathLike | None = None,
    device: str | None = None,
    on_error: str = "skip",
    force: bool = False,
    quiet: bool = False,
    splits: Sequence[str] | None = None,
    evaluate: bool = False,
) -> PredictReport:
    """Predict a label map for every row of `manifest` (of `splits` only, by its split column, when given) into
    `out_dir` (see the module docstring). `evaluate` scores the predictions against the rows' label maps (IoU per
    class, mIoU, pixel accuracy, as the trainer's validation counts them) into `DEST/metrics.json`."""
    import torch

    from .data.dataset import Normalization, match_channels
    from .train import load_checkpoint, load_model

    src = require_rows(manifest if isinstance(manifest, Manifest) else read_manifest(manifest))
    if splits is not None:
        src = select_splits(src, splits)
    out = Path(out_dir)
    inputs = Inputs.of_manifest(src).with_files(
        [checkpoint, *([palette] if palette is not None and Path(palette).is_file() else [])])
    inputs.guard_folder(out, force=force, command="predict")
    inputs.check_written([out / "manifest.csv", out / "palette.json",
                          *(out / "labels" / f"{row.id}.png" for row in src.rows)])
    if blend not in BLEND_MODES or blend == "centre":
        raise UsageError(None, f"--blend must be one of gaussian, cosine, mean, not {blend!r}")
    tile_hw = _pair(tile) if tile is not None else None
    overlap_hw = _pair(overlap)
    if tile_hw is not None and not all(0 <= o < t for o, t in zip(overlap_hw, tile_hw)):
        raise UsageError(None, f"--overlap {_as_typed(overlap_hw)} must be at least 0 and below the tile size "
                               f"{_as_typed(tile_hw)}")
    if batch_size < 1:
        raise UsageError(None, f"--batch-size must be at least 1, not {batch_size}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = load_model(checkpoint, map_location=dev)
    meta = load_checkpoint(checkpoint).get("meta") or {}
    normalization = checkpoint_normalization(meta, checkpoint)
    # mean/std in raw units hold for images of the training images' range alone; a plain scale adapts to any.
    trained_range = (meta.get("normalization") or {}).get("max_value") if normalization.mean is not None else None
    if model.num_classes > 256:
        raise UsageError(checkpoint, f"{model.num_classes} classes do not fit a palette PNG (256 at most)")
    report = PredictReport(out, device=str(dev))
    report.class_names = meta.get("class_names")
    pal = resolve_palette(palette, src.path) if (palette is not None or src.path is not None) else None
    if pal is not None:
        mismatch = _palette_mismatch(pal, model.num_classes, report.class_names)
        if mismatch and palette is not None:
            raise UsageError(palette, mismatch)
        if mismatch and evaluate:  # metrics of a model against another class set's labels (ISBI's under CamVid's)
            raise UsageError(pal.source or pal.name, f"{mismatch}: the masks --evaluate scores against are labels of "
                                                     "other classes than the model's")
        if mismatch:  # the palette beside the manifest: of the data, not of this model
            report.warnings.append(f"{pal.source or pal.name}: {mismatch}; not used (pass --palette FILE)")
            pal = None
    colours = pal.colour_table(256) if pal is not None else voc_colormap(256)
    ignore_index = int(meta.get("ignore_index", 255))
    if evaluate:
        missing = next((r for r in src.rows if r.mask_str is None), None)
        if missing is not None:
            raise UsageError(missing.image, "no mask for this image; --evaluate needs a label map for every row")
        inputs.check_written([out / "metrics.json"])
    confusion = np.zeros((model.num_classes, model.num_classes), np.int64)
    rows: list[ManifestRow] = []
    with progress_bar(total=len(src.rows), desc="predict", unit="image", quiet=quiet) as bar:
        for row in src.rows:
            try:
                image = match_channels(read_raster(row.image), model.in_channels, row.image,
                                       expected_by=f"the model of {checkpoint}")
                _check_value_range(image, trained_range, row.image, checkpoint)
                try:
                    probs = predict_probabilities(model, image, normalization=normalization, tile=tile_hw,
                                                  overlap=overlap_hw, batch_size=batch_size, blend=blend, device=dev)
                except RuntimeError as exc:  # torch's per-input failures (out of memory on one large image): this
                    # image's error, so --on-error skip goes on with the others instead of ending in a traceback
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise DataprepError(row.image, f"the model failed on this {image.shape[1]}x{image.shape[0]} "
                                                   f"image: {first}") from exc
                labels = probs.argmax(axis=0).astype(np.uint8)
                if evaluate:
                    confusion += _confusion(labels, load_row_mask(row, purpose="predict --evaluate"),
                                            model.num_classes, row.mask_str, ignore_index)
                label_path = inside(out, "labels", f"{row.id}.png")
                extra = dict(row.extra)
                # Both or neither: a failed probabilities write left the label map there, in no manifest row
                with staged():
                    write_raster(label_path, labels, mask=True, palette=colours)
                    if probabilities:
                        rel = Path("probabilities") / f"{row.id}.tif"
                        write_raster(inside(out, rel.as_posix()), np.ascontiguousarray(probs.transpose(1, 2, 0)))
                        extra[PROBABILITIES_COLUMN] = rel.as_posix()
                rows.append(ManifestRow(row.id, row.image, label_path, image.shape[1], image.shape[0], extra))
                report.predicted += 1
            except DataprepError as exc:
                if on_error == "fail":
                    raise
                report.errors.append(str(exc))
            bar.update(1)
    if report.errors and not rows:  # an empty manifest and a metrics.json of nothing would read as results
        raise all_failed(src.path, report.errors, "images")
    report.manifest_path = write_manifest(rows, out / "manifest.csv")
    mark_owner(out, "predict")
    if pal is not None:
        atomic_write_text(out / "palette.json", pal.to_json())
    if evaluate:
        from .train.metrics import class_names, scores

        report.scores = scores(torch.from_numpy(confusion))
        present = confusion.sum(axis=1).nonzero()[0]
        if present.size < 2:
            names = class_names(report.class_names, model.num_classes)
            what = f"only {names[present[0]]}" if present.size else "no class"
            report.warnings.append(f"the label maps hold {what} besides the ignore index: the scores compare "
                                   "nothing to tell apart")
        metrics = {"rows": report.predicted, "failed": len(report.errors), **report.scores.to_dict(report.class_names)}
        report.metrics_path = out / "metrics.json"
        atomic_write_text(report.metrics_path, json.dumps(metrics, indent=2) + "\n")
    return report


def _palette_mismatch(pal: Any, num_classes: int, names: Sequence[str] | None) -> str | None:
    """Why `pal` cannot colour and name this model's predictions (another dataset's classes), or None."""
    model = f"the model predicts {num_classes} classes"
    if names and len(names) == num_classes:
        model += f" ({', '.join(names[:3])}{', ...' if num_classes > 3 else ''})"
    if pal.num_classes != num_classes:
        return f"palette of {pal.num_classes} classes ({', '.join(pal.names[:3])}, ...) but {model}"
    if names and len(names) == num_classes and [n.lower() for n in pal.names] != [str(n).lower() for n in names]:
        return f"palette names its classes {', '.join(pal.names[:3])}, ... but {model}"
    return None


def _confusion(pred: np.ndarray, target: np.ndarray, num_classes: int, source: str,
               ignore_index: int = 255) -> np.ndarray:
    """cm[t, p] of one image; the ignore index is left out, as in validation, and any other value outside
    0..C-1 refused as the trainer refuses it (left out, VOC's 21 classes scored on a CamVid model dropped 10%
    of the pixels and raw 0/255 masks 78%, exit 0)."""
    if target.shape != pred.shape:
        raise DataprepError(source, f"label map is {target.shape[1]}x{target.shape[0]} but the prediction is "
                                    f"{pred.shape[1]}x{pred.shape[0]}")
    bad = ((target < 0) | (target >= num_classes)) & (target != ignore_index)
    if bad.any():
        values = np.unique(target[bad])
        shown = ", ".join(map(str, values[:8].tolist())) + (", ..." if values.size > 8 else "")
        raise DataprepError(source, f"label value(s) {shown}, outside the model's classes 0..{num_classes - 1} and "
                                    f"not its ignore index {ignore_index}: label maps of other classes, or not "
                                    "converted (dataprep masks2labels)")
    valid = (target >= 0) & (target < num_classes) & (target != ignore_index)  # also when it is a class's index
    index = target[valid].astype(np.int64) * num_classes + pred[valid]
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _check_value_range(image: np.ndarray, trained_range: float | None, path: PathLike,
                       checkpoint: PathLike) -> None:
    """Refuse an image of another value range than the training images': 16-bit ISBI images (x257) into a model
    of 8-bit ones scored an mIoU of 12% instead of 58%, exit 0, its mean/std being in 8-bit units."""
    from .contracts import VALUE_RANGE

    own = VALUE_RANGE.get(image.dtype.name)
    if trained_range is None or own is None or float(own) == float(trained_range):
        return
    raise DataprepError(path, f"is {image.dtype.name} (0..{own:g}), but the model of {checkpoint} was trained on "
                              f"images of 0..{float(trained_range):g}, and its mean/std are in those units: convert "
                              "the images to the training images' pixel type")


def checkpoint_normalization(meta: dict[str, Any], checkpoint: PathLike) -> "Normalization":
    """The normalization the model was trained with, from the checkpoint's meta.

    Checkpoints record it with a `from` key (recipe / stats / scale). Older ones
    recorded only stats.json's mean/std: when their training config names a
    recipe, whose `normalize` step may have set its own, the inputs cannot be
    known and the checkpoint is refused rather than fed wrongly scaled images.
    """
    from .data.dataset import Normalization

    norm = meta.get("normalization") or {}
    if "from" not in norm:
        data = (meta.get("config") or {}).get("data") or {}
        recipe = data.get("train_recipe")
        if recipe:
            raise UsageError(checkpoint, f"does not record the normalization it was trained with (its recipe "
                                         f"{recipe} may set mean/std in a normalize step); retrain it with this "
                                         "version of dataprep")
    if norm.get("mean") is not None and norm.get("std") is not None:
        return Normalization(tuple(float(v) for v in norm["mean"]), tuple(float(v) for v in norm["std"]),
                             str(checkpoint))
    return Normalization()


def _as_typed(hw: tuple[int, int]) -> str:
    """A (height, width) as an option takes it: `64`, or `64x96`."""
    return str(hw[0]) if hw[0] == hw[1] else f"{hw[0]}x{hw[1]}"


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    a, b = value
    return int(a), int(b)
