"""The trainer's building blocks: UNet, loss, metrics, config, schedule, checkpoints, label checks."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dataprep.errors import DataprepError, UsageError
from dataprep.recipe import load_recipe
from dataprep.train import checkpoint as ckpt
from dataprep.train.config import load_config, parse_config, parse_override
from dataprep.train.distributed import first_occurrences
from dataprep.train.datainfo import DataInfo
from dataprep.train.loop import check_first_labels, check_first_loss, check_inputs, check_labels
from dataprep.train.optim import amp_dtype, lr_factor
from dataprep.train.runlog import Console
from dataprep.train.losses import SegmentationLoss, class_weights_from_stats
from dataprep.train.metrics import confusion_matrix, format_table, per_sample_confusion, scores
from dataprep.train.model import DoubleConv, UNet

torch.set_num_threads(2)


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize("up", ["bilinear", "transposed"])
@pytest.mark.parametrize("size", [(32, 48), (37, 50)])  # the second is not a multiple of 2**depth
def test_unet_output_matches_input_size(up, size):
    model = UNet(3, 5, width=4, depth=3, up=up).eval()
    out = model(torch.randn(2, 3, *size))
    assert out.shape == (2, 5, *size)


def test_unet_levels_double_width_and_conv_before_bn_has_no_bias():
    model = UNet(1, 3, width=8, depth=2)
    assert [d[1][0].out_channels for d in model.downs] == [16, 32]
    blocks = [m for m in model.modules() if isinstance(m, DoubleConv)]
    assert len(blocks) == 1 + 2 + 2  # stem, downs, ups
    for block in blocks:
        kinds = [type(m) for m in block]
        assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
        assert all(m.bias is None for m in block if isinstance(m, nn.Conv2d))


def test_untrained_unet_predicts_about_uniformly():
    torch.manual_seed(0)
    model = UNet(3, 7, width=8, depth=2)
    target = torch.randint(0, 7, (2, 32, 32))
    with torch.no_grad():
        loss = F.cross_entropy(model(torch.randn(2, 3, 32, 32)), target)
    assert abs(float(loss) - math.log(7)) < 0.05 * math.log(7)


def test_unet_rejects_unknown_up_mode():
    with pytest.raises(ValueError, match="up"):
        UNet(3, 2, up="nearest")


# --------------------------------------------------------------------------- loss


def _batch(seed=0, classes=4, ignore=255):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, classes, 6, 5, generator=g, requires_grad=True)
    target = torch.randint(0, classes, (3, 6, 5), generator=g)
    target[0, :2] = ignore
    return logits, target


def test_loss_matches_torch_cross_entropy_with_weights_and_ignore():
    logits, target = _batch()
    w = [0.5, 1.0, 2.0, 3.0]
    ours = SegmentationLoss(4, ignore_index=255, class_weights=w)(logits, target)
    ref = F.cross_entropy(logits, target, weight=torch.tensor(w), ignore_index=255)
    torch.testing.assert_close(ours, ref)


def test_loss_matches_torch_label_smoothing():
    logits, target = _batch(1)
    ours = SegmentationLoss(4, label_smoothing=0.1)(logits, target)
    ref = F.cross_entropy(logits, target, ignore_index=255, label_smoothing=0.1)
    torch.testing.assert_close(ours, ref)


def test_focal_loss_follows_its_definition():
    logits, target = _batch(2)
    ours = SegmentationLoss(4, focal_gamma=2.0)(logits, target)
    p = logits.softmax(1)
    valid = target != 255
    pt = p.gather(1, torch.where(valid, target, 0).unsqueeze(1)).squeeze(1)[valid]
    ref = (-(1 - pt) ** 2 * pt.log()).mean()
    torch.testing.assert_close(ours, ref)
    assert ours < F.cross_entropy(logits, target, ignore_index=255)


def test_loss_of_an_all_ignored_batch_is_zero_not_nan():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = SegmentationLoss(3)(logits, torch.full((2, 4, 4), 255))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_per_sample_sums_add_up_to_the_batch_loss():
    logits, target = _batch(3)
    crit = SegmentationLoss(4, class_weights=[1, 2, 3, 4])
    loss_sum, weight_sum = crit.sums(logits, target)
    assert loss_sum.shape == weight_sum.shape == (3,)
    torch.testing.assert_close(loss_sum.sum() / weight_sum.sum(), crit(logits, target))


def test_expected_initial_loss_is_log_classes():
    assert SegmentationLoss(7).expected_initial() == pytest.approx(math.log(7))
    assert SegmentationLoss(7, focal_gamma=2).expected_initial() < math.log(7)


def test_class_weights_from_stats():
    stats = {"version": 1, "image": {"mean": [0.0], "std": [1.0]},
             "classes": {"num_classes": 3, "ignore_index": 255, "weights": {"enet": [1.0, 2.0, 3.0]}}}
    assert class_weights_from_stats(stats, "enet", 3) == [1.0, 2.0, 3.0]
    with pytest.raises(DataprepError, match="3 classes but the model has 4"):
        class_weights_from_stats(stats, "enet", 4, "stats.json")
    with pytest.raises(DataprepError, match="median_frequency"):
        class_weights_from_stats(stats, "median_frequency", 3, "stats.json")
    with pytest.raises(DataprepError, match="no class statistics"):
        class_weights_from_stats({**stats, "classes": None}, "enet", 3, "stats.json")


# --------------------------------------------------------------------------- metrics


def test_confusion_matrix_matches_brute_force_and_skips_ignore():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, (4, 9, 7))
    target[rng.random(target.shape) < 0.2] = 255
    pred = rng.integers(0, 5, target.shape)
    expected = np.zeros((5, 5), np.int64)
    for t, p in zip(target.ravel(), pred.ravel()):
        if t != 255:
            expected[t, p] += 1
    cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(target), 5)
    np.testing.assert_array_equal(cm.numpy(), expected)
    per_sample = per_sample_confusion(torch.from_numpy(pred), torch.from_numpy(target), 5)
    assert per_sample.shape == (4, 5, 5)
    np.testing.assert_array_equal(per_sample.sum(0).numpy(), expected)


def test_an_ignore_index_among_the_classes_is_left_out_of_the_scores():
    """CamVid with --ignore-index 11 --num-classes 12: the loss ignored void, the confusion counted it as class 11
    (IoU 0, mIoU and pixel accuracy lowered, exit 0); predict --evaluate alike."""
    from dataprep.predict import _confusion

    target = np.array([[0, 1, 2, 2], [2, 2, 1, 0]])
    pred = np.array([[0, 1, 1, 2], [0, 1, 1, 0]])
    kept = target != 2
    expected = np.zeros((3, 3), np.int64)
    np.add.at(expected, (target[kept], pred[kept]), 1)
    cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(target), 3, ignore_index=2)
    np.testing.assert_array_equal(cm.numpy(), expected)
    np.testing.assert_array_equal(_confusion(pred, target, 3, "x.png", ignore_index=2), expected)
    assert scores(cm).pixels == 4 and math.isnan(scores(cm).iou[2])


def test_scores_from_definition():
    # true 0 0 1 1 (255 ignored), predicted 0 1 1 1: class 0 IoU 1/2, class 1 IoU 2/3, class 2 absent.
    target = torch.tensor([0, 0, 1, 1, 255])
    pred = torch.tensor([0, 1, 1, 1, 2])
    s = scores(confusion_matrix(pred, target, 3))
    assert s.iou[0] == pytest.approx(1 / 2) and s.iou[1] == pytest.approx(2 / 3)
    assert math.isnan(s.iou[2]) and math.isnan(s.accuracy[2])
    assert s.miou == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert s.pixel_accuracy == pytest.approx(3 / 4)
    assert s.pixels == 4
    assert s.accuracy[0] == pytest.approx(1 / 2) and s.accuracy[1] == pytest.approx(1.0)


def test_format_table_names_classes_and_means():
    s = scores(confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 3))
    table = format_table(s, ["sky", "road", "car"])
    lines = table.splitlines()
    assert [ln.split("|")[1].strip() for ln in lines[2:5]] == ["sky", "road", "car"]
    assert "mean" in lines[5] and f"{100 * s.miou:.2f}" in lines[-1]
    assert lines[4].split("|")[2].strip() == "-"  # car is undefined, shown as a dash
    assert s.to_dict(["sky", "road", "car"])["iou"]["car"] is None


def test_first_occurrences_counts_padded_samples_once():
    ranks = [["a", "b", "c"], ["d", "e", "a"]]  # the sampler padded rank 1 with "a"
    assert first_occurrences(ranks, 0) == [True, True, True]
    assert first_occurrences(ranks, 1) == [True, True, False]


# --------------------------------------------------------------------------- label and sanity checks


def test_check_labels_names_the_mask_file():
    info = DataInfo(3, 3, 255, None, None, {"s1": "masks/s1.png", "s2": "masks/s2.png"})
    check_labels(torch.tensor([[[0, 2, 255]], [[1, 1, 0]]]), ["s1", "s2"], info)  # fine
    with pytest.raises(DataprepError) as err:
        check_labels(torch.tensor([[[0, 2, 255]], [[1, 7, 3]]]), ["s1", "s2"], info)
    assert err.value.path == "masks/s2.png"
    assert "3, 7" in err.value.reason and "0..2" in err.value.reason
    with pytest.raises(DataprepError, match="-1"):
        check_labels(torch.tensor([[[-1, 0, 0]]]), ["s1"], info)


def test_first_loss_warning(capsys):
    crit = SegmentationLoss(7)
    console = Console(enabled=True, quiet=True)
    check_first_loss(math.log(7) * 1.1, crit, console)
    assert capsys.readouterr().err == ""
    check_first_loss(40.0, crit, console)
    assert "far from ln(7)" in capsys.readouterr().err


def test_unnormalized_first_batch_warning(capsys):
    console = Console(enabled=True, quiet=True)
    check_inputs(torch.rand(2, 3, 8, 8), console)  # scaled to 0-1: fine
    assert capsys.readouterr().err == ""
    check_inputs(torch.rand(2, 3, 8, 8) * 255, console)
    assert "unnormalized" in capsys.readouterr().err


def test_a_first_batch_of_ignore_and_one_class_warns(capsys):
    """ISBI's 0/255 membranes fed as they are: 78% of the pixels ignored, background alone trained, no word."""
    info = DataInfo(2, 1, 255, ["background", "membrane"], None, {})
    console = Console(enabled=True, quiet=True)
    isbi = torch.zeros(2, 8, 8, dtype=torch.long)
    isbi[:, 2:, :] = 255
    check_first_labels(isbi, info, console)
    assert "75% the ignore index 255 and hold one class (background)" in capsys.readouterr().err
    voc = isbi.clone()
    voc[:, 4:, :] = 1  # two classes, a quarter ignored: ordinary
    check_first_labels(voc, info, console)
    assert capsys.readouterr().err == ""


def test_amp_is_cuda_only():
    assert amp_dtype("auto", torch.device("cpu")) == (None, None)
    dtype, warning = amp_dtype("bf16", torch.device("cpu"))
    assert dtype is None and "CUDA only" in warning


# --------------------------------------------------------------------------- config and schedule


def _write(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_config_loads_with_defaults_and_overrides(tmp_path):
    path = _write(tmp_path, "data: {manifest: m.csv, fold: 1}\noptim: {lr: 1e-2}\n")
    cfg = load_config(path, {"train.epochs": 3, "model.up": "transposed"})
    assert cfg.data.manifest == str(tmp_path / "m.csv") and cfg.data.fold == 1  # relative to the file's folder
    assert cfg.optim.lr == 0.01 and cfg.train.epochs == 3 and cfg.model.up == "transposed"
    assert cfg.train.seed == 0 and cfg.loss.class_weights == "none"
    assert parse_config(cfg.to_dict()) == parse_config(cfg.to_dict())  # round-trips through a dict
    assert cfg.replace(train={"epochs": 5}).train.epochs == 5


@pytest.mark.parametrize(
    "text, message",
    [
        ("data: {manifest: m.csv}\noptim: {lrr: 0.1}\n", "unknown field 'optim.lrr'"),
        ("data: {manifest: m.csv}\ntrain: {epochs: many}\n", "train.epochs: expected an integer"),
        ("data: {manifest: m.csv}\nloss: {class_weights: inverse}\n", "loss.class_weights"),
        ("data: {manifest: m.csv}\noptim: {lr: -1}\n", "optim.lr: must be > 0"),
        ("data: {manifest: m.csv, fold: 0, val_manifest: v.csv}\n", "data.fold: give either"),
        ("data: {manifest: m.csv, fold: 0, val_split: val}\n", "data.fold: give either `fold` or `train_split`"),
        ("data: {manifest: m.csv, val_split: val, val_manifest: v.csv}\n", "data.val_split: give either"),
        ("data: {manifest: m.csv, train_split: train, val_split: train}\n", "is the training split too"),
        # Without train_split the run trained on every row, the val and test rows among them.
        ("data: {manifest: m.csv, val_split: val}\n", "data.val_split: 'val' is set without data.train_split"),
        ("data: {manifest: m.csv}\noptim: {lr: 0.003}\nschedule: {min_lr: 0.01}\n",
         "schedule.min_lr: 0.01 is above optim.lr 0.003"),
        ("data: {batch_size: 2}\n", "data.manifest: required"),
        ("data: {manifest: m.csv}\nmodels: {}\n", "unknown section(s) 'models'"),
        ("data: {manifest: m.csv}\ntrain: {device: tpu}\n", "train.device"),
    ],
)
def test_config_errors_name_the_field(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(DataprepError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert err.value.exit_code == 2  # config problems are usage errors


def test_min_lr_is_checked_for_the_cosine_alone(tmp_path):
    """min_lr is the cosine's floor: a constant or onecycle schedule with min_lr above lr was refused, naming the
    cosine it does not use."""
    for name in ("constant", "onecycle"):
        cfg = load_config(_write(tmp_path, f"data: {{manifest: m.csv}}\noptim: {{lr: 0.0001}}\n"
                                           f"schedule: {{name: {name}, min_lr: 0.001}}\n"))
        assert cfg.schedule.name == name


def test_config_paths_resolve_against_the_config_folder_and_name_the_field(tmp_path, monkeypatch):
    from dataprep.train.config import check_inputs

    (tmp_path / "cfg").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data/m.csv").write_text("id,image,mask,width,height\n")
    path = tmp_path / "cfg/train.yaml"
    path.write_text("data: {manifest: ../data/m.csv, stats: ../data/stats.json}\ntrain: {output_dir: ../runs/x}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(path)
    assert Path(cfg.data.manifest) == tmp_path / "data/m.csv"
    assert Path(cfg.train.output_dir) == tmp_path / "runs/x"
    with pytest.raises(UsageError) as err:  # stats.json is missing: the message names the field and the file
        check_inputs(cfg)
    assert err.value.exit_code == 2
    assert str(tmp_path / "data/stats.json") in str(err.value) and f"data.stats in {path}" in str(err.value)
    # Values from the command line stay relative to the current folder.
    cfg = load_config(path, {"data.stats": "s.json"})
    assert cfg.data.stats == "s.json"


def test_parse_override_reads_yaml_values():
    assert parse_override("optim.lr=3e-4") == ("optim.lr", 3e-4)
    assert parse_override("data.fold=null") == ("data.fold", None)
    assert parse_override("train.deterministic=true") == ("train.deterministic", True)
    with pytest.raises(UsageError, match="'train.epochs': expected KEY=VALUE"):
        parse_override("train.epochs")


def test_bundled_sample_config_is_valid(tmp_path):
    from helpers import PIPELINES

    cfg = load_config(PIPELINES / "train_sample.yaml")
    assert cfg.data.fold is not None and cfg.data.stats
    for recipe in (cfg.data.train_recipe, cfg.data.val_recipe):  # resolved against pipelines/
        load_recipe(recipe)


def _sched(name, warmup=0, min_lr=0.0):
    return parse_config({"data": {"manifest": "m.csv"}, "optim": {"lr": 0.1},
                         "schedule": {"name": name, "warmup_steps": warmup, "min_lr": min_lr}})


def test_cosine_schedule_warms_up_then_decays_to_min_lr():
    cfg = _sched("cosine", warmup=4, min_lr=0.001)
    f = [lr_factor(s, cfg, 20) for s in range(21)]
    assert f[:4] == sorted(f[:4]) and f[3] < 1.0 and f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[4:], f[5:]))
    assert f[20] * 0.1 == pytest.approx(0.001)


def test_onecycle_and_constant_schedules():
    cfg = _sched("onecycle", warmup=5)
    f = [lr_factor(s, cfg, 20) for s in range(20)]
    assert f[0] == pytest.approx(1 / 25) and max(f) == pytest.approx(f[5]) == pytest.approx(1.0)
    assert f[-1] < f[0]
    cfg = _sched("constant", warmup=2)
    assert [lr_factor(s, cfg, 10) for s in (0, 1, 2, 9)] == [pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0, 1.0]


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    torch.manual_seed(0)
    model = UNet(3, 4, width=4, depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 16, 16)).mean().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    meta = {"config": {"model": {"width": 4, "depth": 2, "up": "bilinear"}}, "in_channels": 3, "num_classes": 4}
    state = ckpt.training_state(model=model, optimizer=opt, scheduler=sched, scaler=None, epoch=1, batch_in_epoch=0,
                                step=1, best_miou=0.5, running={}, meta=meta)
    path = ckpt.save_checkpoint(tmp_path / "c.pt", state)
    loaded = ckpt.load_checkpoint(path)
    assert loaded["epoch"] == 1 and loaded["best_miou"] == 0.5
    rebuilt = ckpt.load_model(path)
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(rebuilt(x), model.eval()(x))


def test_bad_checkpoints_raise_naming_the_file(tmp_path):
    with pytest.raises(DataprepError, match="checkpoint not found"):
        ckpt.load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DataprepError) as err:
        ckpt.load_checkpoint(junk)
    assert err.value.path == str(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(DataprepError, match="not a dataprep trainer checkpoint"):
        ckpt.load_checkpoint(other)


def test_the_batch_size_probe_says_nothing_of_its_own(tmp_path):
    """The trainer's start-up probe builds a Dataset: its first-sample warnings came out as raw Python
    UserWarnings with a source line, beside the trainer's own first-batch check."""
    import warnings

    from dataprep import io
    from dataprep.manifest import ManifestRow, write_manifest
    from dataprep.train.batchcheck import first_size_mismatch

    rows = []
    for i, (h, w) in enumerate(((16, 16), (16, 24))):
        io.write_image(tmp_path / f"{i}.png", np.zeros((h, w, 3), np.uint8))
        io.write_mask(tmp_path / f"{i}_m.png", np.where(np.arange(w) < 8, 0, 255).astype(np.uint8)[None].repeat(h, 0))
        rows.append(ManifestRow(str(i), tmp_path / f"{i}.png", tmp_path / f"{i}_m.png", w, h))
    manifest = write_manifest(rows, tmp_path / "m.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert first_size_mismatch(manifest, None) is not None

def test_resuming_a_checkpoint_of_another_model_says_what_differs():
    """torch's "Error(s) in loading state_dict for UNet:" ended the line (exit 1); the meta says what differs."""
    from dataprep.train.resume import check_same_model

    def meta(classes, channels, width=8):
        return {"num_classes": classes, "in_channels": channels,
                "config": {"model": {"width": width, "depth": 3, "up": "bilinear"}}}

    check_same_model(meta(2, 1), meta(2, 1), "last.pt")  # the same model: nothing to say
    with pytest.raises(UsageError) as err:
        check_same_model(meta(11, 3), meta(2, 1), "cam/last.pt")
    assert err.value.exit_code == 2 and err.value.path == "cam/last.pt"
    assert "it has 11 classes and 3 input channels, the config 2 classes and 1 input channel;" in err.value.reason
    with pytest.raises(UsageError, match="it has model.width 16, the config model.width 8"):
        check_same_model(meta(2, 1, width=16), meta(2, 1), "last.pt")
    # Where meta cannot tell, torch's message is named by its first detail, not its bare header line.
    state = {"model": UNet(3, 4, width=4, depth=1).state_dict()}
    with pytest.raises(DataprepError, match="does not fit this model.*: size mismatch for"):
        ckpt.restore(state, model=UNet(3, 2, width=4, depth=1), source="x.pt")
