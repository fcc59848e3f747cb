"""`dataprep predict`: whole-image and sliding-window inference with the reference trainer's model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from torch import nn

from dataprep import io
from dataprep.data.dataset import Normalization
from dataprep.errors import DataprepError
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.palette import load_palette
from dataprep.predict import predict_manifest, predict_probabilities, windows
from dataprep.raster import read_raster
from dataprep.stitch import stitch_manifest
from dataprep.tiling import tile_manifest
from dataprep.train import load_model, parse_config, run_training

N_IMAGES = 4


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def trained(sample_data, tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, label manifest): a small UNet trained for a few epochs on full-size sample_data pairs."""
    from dataprep.labels import masks_to_labels

    root = tmp_path_factory.mktemp("predict")
    images = sorted((sample_data / "images").rglob("*.jpg"))[:N_IMAGES]
    rows = [ManifestRow(p.stem, p, sample_data / "masks" / p.relative_to(sample_data / "images").with_suffix(".png"),
                        320, 240) for p in images]
    write_manifest(rows, root / "colour.csv")
    labels = Path(masks_to_labels(root / "colour.csv", root / "labels", sample_data / "palette.json",
                                  quiet=True).manifest_path)
    cfg = parse_config({
        "data": {"manifest": str(labels), "batch_size": 4, "num_workers": 0},
        "model": {"width": 8, "depth": 2},
        "optim": {"lr": 3e-2},
        "schedule": {"warmup_steps": 1},
        "train": {"epochs": 10, "seed": 0, "deterministic": True, "output_dir": str(root / "run")},
    })
    result = run_training(cfg, quiet=True)
    return Path(result.last_checkpoint), labels


class _Pointwise(nn.Module):
    """A 1x1 convolution: no receptive field, so any tiling must give the whole-image answer."""

    num_classes = 4

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, self.num_classes, 1)

    def forward(self, x):
        return self.conv(x) * 5


@pytest.mark.parametrize("tile,overlap", [((64, 64), (16, 16)), ((50, 70), (0, 9)), ((1000, 1000), (0, 0))])
@pytest.mark.parametrize("blend", ["gaussian", "cosine", "mean"])
def test_windows_cover_the_image_and_blend_to_the_pointwise_answer(tile, overlap, blend):
    image = np.random.default_rng(0).integers(0, 256, (150, 221, 3), dtype=np.uint8)
    model = _Pointwise().eval()
    norm = Normalization()
    boxes = windows(150, 221, tile, overlap)
    seen = np.zeros((150, 221), int)
    for y, x, h, w in boxes:
        assert y >= 0 and x >= 0 and y + h <= 150 and x + w <= 221  # only real pixels, never padding
        seen[y : y + h, x : x + w] += 1
    assert seen.min() >= 1
    tiled = predict_probabilities(model, image, normalization=norm, tile=tile, overlap=overlap, batch_size=3, blend=blend)
    # Reference: softmax of the 1x1 conv computed with numpy over the whole image.
    x = image.astype(np.float64) / 255.0
    w = model.conv.weight.detach().double().numpy()[:, :, 0, 0]
    logits = (np.einsum("hwc,kc->khw", x, w) + model.conv.bias.detach().double().numpy()[:, None, None]) * 5
    ref = np.exp(logits - logits.max(0))
    ref /= ref.sum(0)
    np.testing.assert_allclose(tiled, ref, atol=2e-5)


def test_tiled_prediction_agrees_with_the_whole_image(trained, tmp_path):
    checkpoint, labels = trained
    whole = predict_manifest(checkpoint, labels, tmp_path / "whole", probabilities=True, quiet=True)
    predict_manifest(checkpoint, labels, tmp_path / "tiled_p", tile=128, overlap=64, probabilities=True,
                                   quiet=True)
    big = predict_manifest(checkpoint, labels, tmp_path / "big", tile=512, overlap=0, quiet=True)
    tiled = predict_manifest(checkpoint, labels, tmp_path / "tiled", tile=96, overlap=24, batch_size=8, quiet=True)
    assert whole.ok and tiled.ok and whole.predicted == tiled.predicted == N_IMAGES
    agree = []
    for a, b, c in zip(read_manifest(whole.manifest_path), read_manifest(big.manifest_path),
                       read_manifest(tiled.manifest_path)):
        la, lb, lc = io.read_mask(a.mask), io.read_mask(b.mask), io.read_mask(c.mask)
        assert la.shape == (240, 320) and io.read_png_palette(a.mask) is not None  # a palette PNG
        np.testing.assert_array_equal(la, lb)  # one window holding the whole image is the whole image
        agree.append(np.mean(la == lc))
        assert len(np.unique(la)) >= 2  # the maps have boundaries for the windows' seams to disturb
        probs = read_raster(tmp_path / "whole" / a.extra["probabilities"])
        windowed = read_raster(tmp_path / "tiled_p" / a.extra["probabilities"])
        assert np.abs(windowed - probs).max() < 0.02  # 128-px windows overlapping by 64
        assert probs.shape == (240, 320, 7) and probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-4)
        np.testing.assert_array_equal(probs.argmax(axis=2), la)
    # docs/tiling.md: 96-px windows overlapping by 24 px give the same class to at least 99.5% of the pixels.
    assert min(agree) >= 0.995, agree
    # The model learnt something in its few steps: well above chance (1/7) on its training images.
    truth = [io.read_mask(r.mask) for r in read_manifest(labels)]
    predicted = [io.read_mask(r.mask) for r in read_manifest(whole.manifest_path)]
    assert np.mean([np.mean((t == p)[t != 255]) for t, p in zip(truth, predicted)]) > 0.25


def test_predict_on_tiles_then_stitch(trained, tmp_path, cli):
    checkpoint, labels = trained
    tiles = tile_manifest(labels, tmp_path / "tiles", size=128, overlap=32, quiet=True)
    assert (tmp_path / "tiles" / "palette.json").read_bytes() == (labels.parent / "palette.json").read_bytes()
    result = cli("predict", "--checkpoint", checkpoint, "--manifest", tiles.manifest_path, tmp_path / "pred",
                 "--probabilities", "-q")
    assert result.exit_code == 0, result.output
    assert f"predict: {tiles.tiles} images on cpu, 0 failed" in result.output
    out = stitch_manifest(tmp_path / "pred" / "manifest.csv", tmp_path / "stitched", quiet=True)
    assert out.ok and out.sources == N_IMAGES
    for row in read_manifest(out.manifest_path):
        labels_map, probs = io.read_mask(row.mask), read_raster(out.out_dir / row.extra["probabilities"])
        assert labels_map.shape == (240, 320) and probs.shape == (240, 320, 7)
        np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-4)


def test_split_predicts_only_those_rows(trained, tmp_path, cli):
    """A scanned manifest's test split, predicted alone after training on the others."""
    checkpoint, labels = trained
    rows = [r.with_extra(split="test" if i % 2 else "train") for i, r in enumerate(read_manifest(labels))]
    manifest = write_manifest(rows, tmp_path / "split.csv", columns=["split"])
    result = cli("predict", "--checkpoint", checkpoint, "--manifest", manifest, "--split", "test", tmp_path / "pred",
                 "-q")
    assert result.exit_code == 0, result.output
    predicted = read_manifest(tmp_path / "pred" / "manifest.csv")
    assert [r.id for r in predicted] == [r.id for r in rows if r.extra["split"] == "test"]
    assert sorted(p.stem for p in (tmp_path / "pred" / "labels").iterdir()) == sorted(r.id for r in predicted)


def test_evaluate_scores_the_predictions_against_the_label_maps(trained, tmp_path, cli):
    """--evaluate: IoU per class from the written predictions and the manifest's label maps, recomputed here."""
    checkpoint, labels = trained
    result = cli("predict", "--checkpoint", checkpoint, "--manifest", labels, "--evaluate", tmp_path / "pred", "-q")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    truth = {r.id: io.read_mask(r.mask) for r in read_manifest(labels)}
    k = 7
    cm = np.zeros((k, k), np.int64)
    for row in read_manifest(tmp_path / "pred" / "manifest.csv"):
        target, pred = truth[row.id], io.read_mask(row.mask)
        keep = target < k  # the ignore index (255) is left out
        np.add.at(cm, (target[keep], pred[keep]), 1)
    tp, union = np.diag(cm), cm.sum(0) + cm.sum(1) - np.diag(cm)
    iou = [tp[c] / union[c] if union[c] else None for c in range(k)]
    assert metrics["rows"] == N_IMAGES and metrics["pixels"] == int(cm.sum())
    assert metrics["pixel_accuracy"] == pytest.approx(tp.sum() / cm.sum(), abs=1e-6)
    assert metrics["miou"] == pytest.approx(np.mean([v for v in iou if v is not None]), abs=1e-6)
    assert [v if v is None else pytest.approx(v, abs=1e-6) for v in iou] == list(metrics["iou"].values())
    recall = [tp[c] / cm[c].sum() if cm[c].sum() else None for c in range(k)]  # rows: the true classes
    assert [v if v is None else pytest.approx(v, abs=1e-6) for v in recall] == list(metrics["accuracy"].values())
    assert "mIoU" in result.output and "metrics: " in result.output
    unlabelled = write_manifest([r.replace(mask=None) for r in read_manifest(labels)], tmp_path / "images.csv")
    res = cli("predict", "--checkpoint", checkpoint, "--manifest", unlabelled, "--evaluate", tmp_path / "p2")
    assert res.exit_code == 2 and "--evaluate needs a label map for every row" in res.output


def test_evaluate_refuses_label_values_the_model_has_no_class_for(trained, tmp_path, cli):
    """VOC label maps (21 classes) scored on an 11-class CamVid model: values 11..20 were left out of the count,
    exit 0, where the trainer refuses them; a palette of other classes coloured and named the predictions."""
    checkpoint, labels = trained
    rows = read_manifest(labels).rows
    mask = io.read_mask(rows[0].mask).copy()
    mask[:5, :5] = 9  # the model has 7 classes (0..6) and ignore 255
    io.write_mask(tmp_path / "src/other.png", mask)
    write_manifest([rows[0].replace(mask=tmp_path / "src/other.png"), rows[1]], tmp_path / "src/m.csv")
    result = cli("predict", "--checkpoint", checkpoint, "--manifest", tmp_path / "src/m.csv", "--evaluate",
                 tmp_path / "pred", "-q")
    assert result.exit_code == 1
    assert (f"error: {tmp_path / 'src/other.png'}: label value(s) 9, outside the model's classes 0..6 and not its "
            "ignore index 255") in result.output
    other = load_palette(Path(labels).parent / "palette.json").to_dict()
    other["classes"] = other["classes"][:3] + [c for c in other["classes"] if c.get("ignore")]
    (tmp_path / "three.json").write_text(json.dumps(other))
    refused = cli("predict", "--checkpoint", checkpoint, "--manifest", labels, "--palette", tmp_path / "three.json",
                  tmp_path / "pred2", "-q")
    assert refused.exit_code == 2
    assert "palette of 3 classes" in refused.output and "the model predicts 7" in refused.output
    (tmp_path / "src/palette.json").write_text(json.dumps(other))  # beside the manifest: left out, with a warning
    beside = cli("predict", "--checkpoint", checkpoint, "--manifest", tmp_path / "src/m.csv", tmp_path / "pred3", "-q")
    assert beside.exit_code == 0 and "palette of 3 classes" in beside.output and "not used" in beside.output
    assert not (tmp_path / "pred3/palette.json").exists()
    # Scored against them, the labels of another class set (ISBI's 0/1 are valid CamVid indices): metrics, exit 0.
    write_manifest(rows[1:], tmp_path / "src/m.csv")
    scored = cli("predict", "--checkpoint", checkpoint, "--manifest", tmp_path / "src/m.csv", "--evaluate",
                 tmp_path / "pred4", "-q")
    assert scored.exit_code == 2 and "the masks --evaluate scores against are labels of other classes" in scored.output
    assert not (tmp_path / "pred4" / "metrics.json").exists()


def test_images_of_another_value_range_than_the_training_images_are_refused(trained, tmp_path, cli):
    """ISBI's images saved as 16-bit (x257) into a model trained with 8-bit stats: mIoU 12% instead of 58%, exit 0,
    the mean/std being in 8-bit units. A model trained with a plain 0-1 scale takes either."""
    checkpoint, labels = trained
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state["meta"]["normalization"] = {"from": "stats", "mean": [110.0, 112.0, 108.0], "std": [60.0, 61.0, 59.0],
                                      "max_value": 255, "source": "stats.json"}
    torch.save(state, tmp_path / "stats.pt")
    row = read_manifest(labels).rows[0]
    wide = io.read_image(row.image).astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "wide.tif", wide, photometric="rgb")
    write_manifest([row.replace(image=tmp_path / "wide.tif"), *read_manifest(labels).rows[1:2]], tmp_path / "m.csv")
    result = cli("predict", "--checkpoint", tmp_path / "stats.pt", "--manifest", tmp_path / "m.csv", tmp_path / "p",
                 "-q")
    assert result.exit_code == 1
    assert (f"{tmp_path / 'wide.tif'}: is uint16 (0..65535), but the model of {tmp_path / 'stats.pt'} was trained "
            "on images of 0..255") in result.output
    plain = cli("predict", "--checkpoint", checkpoint, "--manifest", tmp_path / "m.csv", tmp_path / "p2", "-q")
    assert plain.exit_code == 0, plain.output


def test_evaluate_warns_when_the_label_maps_hold_one_class(trained, tmp_path, cli):
    """Raw 0/255 masks under ignore 255: every foreground pixel left out, a background-only score, no word."""
    checkpoint, labels = trained
    row = read_manifest(labels).rows[0]
    io.write_mask(tmp_path / "src/flat.png", np.where(io.read_mask(row.mask) == 0, 0, 255).astype(np.uint8))
    write_manifest([row.replace(mask=tmp_path / "src/flat.png")], tmp_path / "src/m.csv")
    result = cli("predict", "--checkpoint", checkpoint, "--manifest", tmp_path / "src/m.csv", "--evaluate",
                 tmp_path / "pred", "-q")
    assert result.exit_code == 0
    first = load_palette(Path(labels).parent / "palette.json").names[0]
    assert f"warning: the label maps hold only {first} besides the ignore index" in result.output


def test_wrong_band_count_names_the_image(trained, tmp_path):
    checkpoint, labels = trained
    bad = tmp_path / "five.tif"
    import tifffile

    tifffile.imwrite(bad, np.zeros((40, 50, 5), np.uint16), photometric="minisblack", planarconfig="contig")
    manifest = write_manifest([ManifestRow("five", bad, None, 50, 40)], tmp_path / "m.csv")
    nothing = r"5-channel image.*\(all 1 images of .* failed the same way; nothing written\)"
    with pytest.raises(DataprepError, match=nothing) as exc:
        predict_manifest(checkpoint, manifest, tmp_path / "out", quiet=True)  # no empty manifest to read as results
    assert str(exc.value).startswith(f"{bad}: 5-channel image") and not (tmp_path / "out/manifest.csv").exists()
    with pytest.raises(DataprepError, match="5-channel image"):
        predict_manifest(checkpoint, manifest, tmp_path / "out2", on_error="fail", quiet=True)
    assert load_model(checkpoint).in_channels == 3


MEAN, STD = (90.0, 110.0, 130.0), (40.0, 50.0, 60.0)  # far from 0-1 scaling: wrong inputs show at once


@pytest.fixture(scope="module")
def recipe_normalized(trained, tmp_path_factory) -> Path:
    """A checkpoint trained one step with a recipe whose normalize step sets its own mean/std (no stats.json)."""
    _, labels = trained
    root = tmp_path_factory.mktemp("recipe_norm")
    recipe = root / "train.yaml"
    recipe.write_text(f"size: [240, 320]\nsteps:\n  - op: normalize\n    mean: {list(MEAN)}\n    std: {list(STD)}\n")
    cfg = parse_config({
        "data": {"manifest": str(labels), "train_recipe": str(recipe), "batch_size": 4, "num_workers": 0},
        "model": {"width": 8, "depth": 2},
        "train": {"epochs": 1, "seed": 0, "deterministic": True, "output_dir": str(root / "run")},
    })
    return Path(run_training(cfg, quiet=True).last_checkpoint)


def test_predict_normalizes_as_the_training_recipe_did(trained, recipe_normalized, tmp_path):
    """The recipe's own normalize mean/std reach predict through the checkpoint (not 0-1 scaling, silently)."""
    from dataprep.train import load_checkpoint

    _, labels = trained
    meta = load_checkpoint(recipe_normalized)["meta"]
    assert meta["normalization"]["from"] == "recipe"
    assert meta["normalization"]["mean"] == list(MEAN) and meta["normalization"]["std"] == list(STD)
    report = predict_manifest(recipe_normalized, labels, tmp_path / "out", probabilities=True, device="cpu",
                              quiet=True)
    assert report.ok
    model = load_model(recipe_normalized, map_location="cpu").eval()
    for row in read_manifest(report.manifest_path):
        image = io.read_image(row.image).astype(np.float64)
        x = ((image - np.array(MEAN)) / np.array(STD)).transpose(2, 0, 1)[None].astype(np.float32)  # numpy, by hand
        with torch.no_grad():
            expected = torch.softmax(model(torch.from_numpy(x)), dim=1)[0].numpy().transpose(1, 2, 0)
        got = read_raster(tmp_path / "out" / row.extra["probabilities"])
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_a_checkpoint_that_does_not_say_its_normalization_is_refused(recipe_normalized, trained, tmp_path):
    """Checkpoints of earlier versions recorded stats.json's mean/std only: with a recipe, predict cannot know."""
    _, labels = trained
    state = torch.load(recipe_normalized, map_location="cpu", weights_only=True)
    state["meta"]["normalization"] = None  # what they held without stats.json
    old = tmp_path / "old.pt"
    torch.save(state, old)
    with pytest.raises(DataprepError) as caught:
        predict_manifest(old, labels, tmp_path / "out", quiet=True)
    recipe = state["meta"]["config"]["data"]["train_recipe"]
    assert str(caught.value) == (f"{old}: does not record the normalization it was trained with (its recipe {recipe} "
                                 "may set mean/std in a normalize step); retrain it with this version of dataprep")
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_option_errors_name_the_option_as_typed(trained, tmp_path, cli):
    checkpoint, labels = trained
    tile = cli("predict", "--checkpoint", checkpoint, "--manifest", labels, "--tile", "0", tmp_path / "a")
    assert tile.exit_code == 2 and "--tile '0': expected H or HxW" in tile.output  # said --size
    overlap = cli("predict", "--checkpoint", checkpoint, "--manifest", labels, "--tile", "64", "--overlap", "64",
                  tmp_path / "b")
    assert overlap.exit_code == 2 and "--overlap 64 must be at least 0 and below the tile size 64" in overlap.output
    alone = cli("predict", "--checkpoint", checkpoint, "--manifest", labels, "--overlap", "16", tmp_path / "d")
    assert alone.exit_code == 2 and "--overlap is the overlap of the --tile windows; give --tile too" in alone.output
    assert not (tmp_path / "d").exists()
    csv = cli("predict", "--checkpoint", labels, "--manifest", labels, tmp_path / "c")  # a CSV, not "unsafe"
    assert csv.exit_code != 0 and f"{labels}: not a checkpoint (neither the zip archive nor the pickle" in csv.output


def test_images_below_the_models_two_to_the_depth_predict(trained, tmp_path, cli):
    """A depth-2 UNet max-pools twice: sides below 4 reached 0 pixels ("Output size is too small") and the
    RuntimeError ended the whole run despite --on-error skip. They are padded up and cropped back now."""
    checkpoint, _ = trained
    rng = np.random.default_rng(0)
    rows = []
    for h, w in [(1, 1), (3, 5), (1, 7), (2, 40)]:
        path = tmp_path / f"i{h}x{w}.png"
        io.write_image(path, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        rows.append(ManifestRow(f"i{h}x{w}", path, None, w, h))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"junk")
    rows.insert(1, ManifestRow("bad", bad, None, 5, 3))
    manifest = write_manifest(rows, tmp_path / "m.csv")
    for name, tile, overlap in [("whole", None, 0), ("t64", 64, 0), ("t2", 2, 1)]:
        report = predict_manifest(checkpoint, manifest, tmp_path / name, tile=tile, overlap=overlap,
                                  probabilities=True, quiet=True)
        assert report.predicted == 4 and len(report.errors) == 1 and str(bad) in report.errors[0], report.errors
        for row in read_manifest(report.manifest_path):
            labels = io.read_mask(row.mask)
            assert labels.shape == (row.height, row.width) and labels.max() < 7
            probs = read_raster(tmp_path / name / row.extra["probabilities"])
            np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-4)
    result = cli("predict", "--checkpoint", checkpoint, "--manifest", manifest, tmp_path / "cli")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0], result.output
    assert len(read_manifest(tmp_path / "cli" / "manifest.csv").rows) == 4


def test_padding_a_small_image_is_cropped_back_where_it_was():
    """The pointwise model sees no neighbours: padded up to 2**depth and cropped, its answer must be the
    unpadded one pixel for pixel (a crop shifted by the padding would not be)."""
    class Deep(_Pointwise):
        depth = 3  # takes 8-pixel sides at least, as a depth-3 UNet does

        def forward(self, x):
            if min(x.shape[-2:]) < 8:
                raise RuntimeError("Output size is too small")
            return super().forward(x)

    model = Deep()
    image = np.random.default_rng(1).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    norm = Normalization()
    probs = predict_probabilities(model, image, normalization=norm)
    with torch.inference_mode():
        direct = torch.softmax(_Pointwise.forward(model, torch.from_numpy(norm(image))[None]), dim=1)[0].numpy()
    assert probs.shape == (4, 3, 5)
    np.testing.assert_allclose(probs, direct, atol=1e-6)


def test_a_model_failure_on_one_image_is_that_images_error(trained, tmp_path, monkeypatch):
    """torch's RuntimeErrors (out of memory on one large image) fail that row: --on-error skip goes on."""
    import dataprep.predict as predict_module

    checkpoint, labels = trained
    first = read_manifest(labels).rows[0].image
    real = predict_module.predict_probabilities

    def flaky(model, image, **kwargs):
        if image.shape[:2] == (240, 320) and not getattr(flaky, "failed", False):
            flaky.failed = True
            raise RuntimeError("CUDA out of memory. Tried to allocate 9 GiB\nmore torch detail")
        return real(model, image, **kwargs)

    monkeypatch.setattr(predict_module, "predict_probabilities", flaky)
    report = predict_manifest(checkpoint, labels, tmp_path / "out", quiet=True)
    assert report.predicted == N_IMAGES - 1
    assert report.errors == [f"{first}: the model failed on this 320x240 image: CUDA out of memory. "
                             "Tried to allocate 9 GiB"]


def test_a_failed_probabilities_write_leaves_no_label_map_behind(trained, tmp_path, monkeypatch):
    """The label PNG was written before the probabilities TIFF: a full disk at the TIFF left a label map in
    labels/ that no manifest row named. Now the two appear together or not at all."""
    from dataprep import predict

    checkpoint, labels = trained
    real_write = predict.write_raster

    def no_room_for_tiffs(path, array, **kwargs):
        if str(path).endswith(".tif"):
            raise DataprepError(path, "cannot write: No space left on device")
        return real_write(path, array, **kwargs)

    monkeypatch.setattr(predict, "write_raster", no_room_for_tiffs)
    with pytest.raises(DataprepError, match="No space left on device"):
        predict_manifest(checkpoint, labels, tmp_path / "out", probabilities=True, quiet=True)
    assert not list((tmp_path / "out").rglob("*.png"))
