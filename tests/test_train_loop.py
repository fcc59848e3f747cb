"""The training loop end to end on sample_data, through the real `make_loader`.

Images are resized to 96x128 by the online recipe and the UNet is small, so
each run takes seconds on two CPU cores.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dataprep import io
from dataprep.errors import DataprepError, UsageError
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.train import load_model, run_training
from dataprep.train.loop import LAST
from helpers import SIZE, make_config, prepare_sample_labels



@pytest.fixture(scope="session")
def labelled(sample_data, tmp_path_factory) -> Path:
    """manifest.csv of 8 sample_data images with label maps and palette.json beside it."""
    return prepare_sample_labels(sample_data, tmp_path_factory.mktemp("train_data"))


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def stats_file(labelled) -> Path:
    from dataprep.stats import compute_stats, write_stats

    return write_stats(compute_stats(labelled, quiet=True), labelled.parent.parent / "stats.json")


def test_overfits_eight_images(labelled, stats_file, tmp_path):
    # Validate on the very images trained on: the model must be able to memorise them.
    # Median-frequency weights keep the rare classes (person: 0.2% of pixels) in play.
    cfg = make_config(labelled, tmp_path / "run", data={"val_manifest": str(labelled), "stats": str(stats_file)},
                      loss={"class_weights": "median_frequency"}, optim={"lr": 2e-2},
                      train={"epochs": 30, "val_every": 30})
    result = run_training(cfg, quiet=True)
    first, last = result.step_losses[0], result.history[-1]["train_loss"]  # last: mean over the last epoch
    assert len(result.step_losses) == 60
    assert abs(first - math.log(7)) < 0.2  # an untrained model predicts about uniformly
    assert last <= 0.3 * first, f"loss went from {first:.3f} to {last:.3f}"
    assert result.scores is not None and result.scores.miou > 0.5, result.scores
    assert result.history[-1]["val_miou"] == pytest.approx(result.scores.miou)
    assert result.class_names[:3] == ["sky", "building", "road"]


def test_train_and_val_splits_train_as_the_fold_they_mirror(labelled, tmp_path):
    """data.train_split / data.val_split (a scanned manifest's split column, SegNet CamVid's train/ and val/) pick
    the same rows as a fold would: a split column equal to fold 0 gives the fold's losses and scores exactly."""
    rows = [r.with_extra(split="val" if r.fold == 0 else "train") for r in read_manifest(labelled)]
    by_split = write_manifest(rows, tmp_path / "split.csv", columns=["fold", "split"])
    small = dict(model={"width": 8, "depth": 2}, train={"epochs": 2})
    recipes = {"train_recipe": str(labelled.parent.parent / "resize.yaml"),
               "val_recipe": str(labelled.parent.parent / "resize.yaml"), "batch_size": 2,
               "palette": str(labelled.parent / "palette.json")}
    fold = run_training(make_config(labelled, tmp_path / "fold", data={"fold": 0, **recipes}, **small), quiet=True)
    split = run_training(make_config(by_split, tmp_path / "split", data={"train_split": "train", "val_split": "val",
                                                                         **recipes}, **small), quiet=True)
    assert len(split.step_losses) == len(fold.step_losses) == 4
    assert split.step_losses == fold.step_losses
    assert split.scores is not None and split.scores.miou == fold.scores.miou
    # stats.json of the training split is the training rows' own: no 'measured on other rows' warning
    from dataprep.stats import compute_stats, write_stats
    from dataprep.train.datainfo import describe_data

    train_csv = write_manifest([r for r in rows if r.extra["split"] == "train"], tmp_path / "train.csv",
                               columns=["fold", "split"])
    stats = write_stats(compute_stats(train_csv, quiet=True), tmp_path / "train_stats.json")
    cfg = make_config(by_split, tmp_path / "s", data={"train_split": "train", "val_split": "val", **recipes,
                                                       "stats": str(stats)}, **small)
    assert describe_data(cfg).warnings == ()
    with pytest.raises(DataprepError, match="data.val_split: no rows of split 'dev'"):
        run_training(make_config(by_split, tmp_path / "dev", data={"train_split": "train", "val_split": "dev",
                                                                   **recipes}, **small), quiet=True)


def test_resume_continues_with_identical_losses(labelled, tmp_path):
    """Stop mid-epoch (as Ctrl-C would), resume from last.pt: the same losses as one uninterrupted run."""
    cfg = make_config(labelled, tmp_path / "a", data={"fold": 0, "batch_size": 2},
                      model={"width": 8, "depth": 2}, train={"epochs": 3})
    whole = run_training(cfg, quiet=True)
    assert len(whole.step_losses) == 6  # 4 training rows of fold != 0, batches of 2, 3 epochs

    cut = cfg.replace(train={"output_dir": str(tmp_path / "b")})

    def interrupt(info):
        if info.step == 3:  # the first batch of epoch 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_training(cut, quiet=True, on_step=interrupt)
    state = torch.load(tmp_path / "b" / LAST, weights_only=True)
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 1, 3)

    resumed = run_training(cut, resume=tmp_path / "b" / LAST, quiet=True)
    assert resumed.step_losses == whole.step_losses[3:]  # exactly equal floats
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    steps = (tmp_path / "b" / "steps.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in steps[1:]] == ["1", "2", "3", "4", "5", "6"]
    a, b = whole.model.state_dict(), resumed.model.state_dict()  # same final weights, too
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_out_of_range_label_names_the_mask_file(labelled, tmp_path):
    rows = list(read_manifest(labelled))
    bad_mask = tmp_path / "bad.png"
    labels = io.read_mask(rows[1].mask).copy()
    labels[:5, :5] = 9  # 7 classes: 9 is neither a class nor the ignore index (255)
    io.write_mask(bad_mask, labels)
    rows[1] = ManifestRow(rows[1].id, rows[1].image, bad_mask, rows[1].width, rows[1].height, rows[1].extra)
    manifest = write_manifest(rows, labelled.parent / "bad_manifest.csv")
    cfg = make_config(manifest, tmp_path / "run", model={"num_classes": 7, "width": 4, "depth": 1},
                      data={"batch_size": 8})
    with pytest.raises(DataprepError) as err:
        run_training(cfg, quiet=True)
    assert err.value.path == str(bad_mask)
    assert "9" in err.value.reason and rows[1].id in err.value.reason


def test_overwrite_leaves_nothing_of_the_run_before(labelled, tmp_path):
    """--overwrite kept the last run's best.pt and reported it as this run's; a run that failed on its first batch
    left the old last.pt and metrics beside its own config.yaml, and --resume continued the old run."""
    tiny = {"model": {"width": 4, "depth": 1}, "train": {"epochs": 1}}
    first = run_training(make_config(labelled, tmp_path / "run", data={"fold": 0}, **tiny), quiet=True)
    assert first.best_checkpoint is not None and (tmp_path / "run/best.pt").exists()
    second = run_training(make_config(labelled, tmp_path / "run", **tiny), overwrite=True, quiet=True)  # no val
    assert second.best_checkpoint is None and not (tmp_path / "run/best.pt").exists()
    assert second.last_checkpoint is not None and (tmp_path / "run/last.pt").exists()
    with pytest.raises(DataprepError, match="outside 0..1"):  # 7 classes in the labels, a 2-class model
        run_training(make_config(labelled, tmp_path / "run", model={"num_classes": 2, "width": 4, "depth": 1},
                                 train={"epochs": 1}), overwrite=True, quiet=True)
    left = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert "last.pt" not in left and "metrics.jsonl" not in left and "config.yaml" in left, left


def test_cli_trains_writes_logs_and_checkpoints(labelled, tmp_path, cli):
    config = tmp_path / "train.yaml"
    config.write_text(json.dumps(make_config(labelled, tmp_path / "unused").to_dict()))  # JSON is YAML
    out = tmp_path / "run"
    # fold 1: 4 training rows, one batch of 4 per epoch; --max-steps 3 ends the 5 epochs after the third.
    result = cli("train", "--config", config, "--fold", 1, "--epochs", 5, "--max-steps", 3,
                 "--set", "model.width=4", "--set", "model.depth=1", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert "val mIoU" in result.output and "| sky" in result.output
    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3] and records[-1]["step"] == 3
    assert 0.0 <= records[-1]["data_fraction"] <= 1.0
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "val_miou", "iou_sky", "data_time", "step_time"} <= set(header)
    assert len((out / "steps.csv").read_text().splitlines()) == 1 + 3
    model = load_model(out / "last.pt")
    assert model.num_classes == 7 and model.width == 4 and not model.training
    with torch.no_grad():
        assert model(torch.zeros(1, 3, *SIZE)).shape == (1, 7, *SIZE)

    again = cli("train", "--config", config, "-o", out, "-q")  # would overwrite the run
    assert again.exit_code == 2 and "--resume" in again.output


def test_class_weights_and_normalization_come_from_stats(labelled, stats_file, tmp_path):
    stats = stats_file
    cfg = make_config(labelled, tmp_path / "run", data={"stats": str(stats)}, loss={"class_weights": "median_frequency"},
                      model={"width": 4, "depth": 1}, train={"epochs": 1, "max_steps": 1})
    with pytest.raises(UsageError, match="median_frequency weights have 7 classes but the model has 5: set model"):
        run_training(cfg.replace(model={"num_classes": 5}), quiet=True)
    result = run_training(cfg, quiet=True)
    assert len(result.step_losses) == 1
    saved = torch.load(tmp_path / "run" / LAST, weights_only=True)["meta"]
    assert saved["normalization"]["mean"] == json.loads(stats.read_text())["image"]["mean"]


def _mixed_sizes(root: Path, sizes, classes=(0, 1)) -> Path:
    """Tiny image/label pairs of the given (height, width) sizes, a 2-way fold column, and a resize recipe."""
    rows = []
    for i, (h, w) in enumerate(sizes):
        image = np.full((h, w, 3), 30 * i, np.uint8)
        mask = np.full((h, w), classes[0], np.uint8)
        mask[:, w // 2 :] = classes[-1]
        io.write_image(root / "images" / f"s{i}.png", image)
        io.write_mask(root / "labels" / f"s{i}.png", mask)
        rows.append(ManifestRow(f"s{i}", root / "images" / f"s{i}.png", root / "labels" / f"s{i}.png", w, h,
                                {"fold": str(i % 2)}))
    (root / "resize.yaml").write_text("size: [32, 32]\nsteps:\n  - op: resize\n")
    return write_manifest(rows, root / "labels" / "manifest.csv")


def test_mixed_sizes_fail_at_start_up_naming_the_file_not_after_an_epoch(tmp_path, capsys):
    """Real case: `train` on a set of mixed image sizes failed at validation after a whole epoch,
    writing no checkpoint. The check runs before training: train batches that cannot be formed are
    refused naming the file; validation batches fall back to batch size 1 with a warning."""
    manifest = _mixed_sizes(tmp_path / "d", [(32, 48), (32, 48), (40, 48), (32, 48)])
    plain = tmp_path / "d" / "plain.yaml"
    plain.write_text("steps:\n  - op: hflip\n")  # size-preserving only
    cfg = make_config(manifest, tmp_path / "run", data={"train_recipe": str(plain), "val_recipe": str(plain),
                                                        "batch_size": 2, "fold": 1},
                      model={"num_classes": 2}, train={"epochs": 1})
    with pytest.raises(DataprepError, match=r"s2\.png.*training batches of 2 cannot be formed"):
        run_training(cfg, quiet=True)
    assert not (tmp_path / "run" / LAST).exists()
    # Resized for training, left as is for validation: validation runs one sample at a time.
    resize = tmp_path / "d" / "resize.yaml"
    cfg = make_config(manifest, tmp_path / "run2", data={"train_recipe": str(resize), "val_recipe": str(plain),
                                                         "batch_size": 2, "fold": 0},
                      model={"num_classes": 2}, train={"epochs": 1})
    result = run_training(cfg, quiet=True)
    assert "validation batches of 2 cannot be formed" in capsys.readouterr().err
    assert result.scores is not None and (tmp_path / "run2" / LAST).exists()


def test_an_miou_over_one_class_warns(tmp_path, capsys):
    """Real case: vessel masks (0/255) converted with `-p voc` became background + ignore; training
    on them reported mIoU 100% with no comment. Fewer than 2 classes in the validation ground
    truth gets a warning line."""
    manifest = _mixed_sizes(tmp_path / "d", [(32, 32)] * 4, classes=(0, 255))
    resize = tmp_path / "d" / "resize.yaml"
    cfg = make_config(manifest, tmp_path / "run", data={"train_recipe": str(resize), "val_recipe": str(resize),
                                                        "batch_size": 2, "fold": 0},
                      model={"num_classes": 2}, train={"epochs": 2})
    result = run_training(cfg, quiet=True)
    err = capsys.readouterr().err
    assert err.count("an mIoU over fewer than 2 classes means nothing") == 1
    assert result.history[-1]["val_classes_present"] == 1
    two = _mixed_sizes(tmp_path / "e", [(32, 32)] * 4)
    run_training(make_config(two, tmp_path / "run_two", data={"train_recipe": str(tmp_path / "e" / "resize.yaml"),
                                                              "val_recipe": str(tmp_path / "e" / "resize.yaml"),
                                                              "batch_size": 2, "fold": 0},
                             model={"num_classes": 2}, train={"epochs": 1}),
                 quiet=True)
    assert "fewer than 2 classes" not in capsys.readouterr().err


def test_epoch_lines_count_the_epochs_max_steps_leaves_and_resume_says_where_it_starts(labelled, tmp_path, capsys):
    """--max-steps 20 of a 15-epoch config printed "epoch 4/15" for a 4-epoch run; resuming a finished run said
    "epoch 16" and then "the checkpoint is at epoch 15"."""
    cfg = make_config(labelled, tmp_path / "run", model={"width": 4, "depth": 1}, train={"epochs": 5, "max_steps": 4})
    result = run_training(cfg)  # 8 images, batch 4: 2 steps per epoch
    out = capsys.readouterr().out
    assert len(result.history) == 2 and "epoch 2/2  step 4" in out and "/5" not in out
    run_training(cfg, resume=result.last_checkpoint)
    again = capsys.readouterr().out
    assert f"resumed from {result.last_checkpoint} after epoch 2, step 4" in again
    assert "nothing to train: the checkpoint is at epoch 2, step 4" in again
    from dataprep.train.entry import summary_lines

    more = run_training(cfg.replace(train={"epochs": 5, "max_steps": 6}), resume=result.last_checkpoint)
    assert summary_lines(more)[0] == "\ndone: 2 steps (step 6 of the run)"  # said "done: 2 steps"
    assert summary_lines(result)[0] == "\ndone: 4 steps"


def test_a_palette_of_other_classes_than_stats_json_is_warned_about(labelled, stats_file, tmp_path, capsys):
    """A raw-mask `palette infer` (256 classes) beside the manifest of 2-class label maps: the trainer built a
    255-class model, stats.json saying 2, without a word."""
    import json

    palette = json.loads((labelled.parent / "palette.json").read_text())
    palette["classes"] += [{"name": f"extra_{i}", "color": [i, 1, 2], "index": 7 + i} for i in range(2)]
    (tmp_path / "other.json").write_text(json.dumps(palette))
    data = {"stats": str(stats_file), "palette": str(tmp_path / "other.json")}
    cfg = make_config(labelled, tmp_path / "run", data=data, model={"width": 4, "depth": 1},
                      train={"epochs": 1, "max_steps": 1})
    run_training(cfg)
    err = capsys.readouterr().err
    assert (f"warning: the palette {tmp_path / 'other.json'} has 9 classes, but data.stats {stats_file} counted 7: "
            "the model takes the palette's") in err


def test_a_one_class_model_is_refused_before_training(labelled, tmp_path):
    """Raw ISBI 0/255 masks under ignore 255 gave stats.json one class: a 1-class model trained, its loss 0 and
    its mIoU 100%, exit 0."""
    (tmp_path / "one.json").write_text('{"name": "one", "classes": [{"name": "background", "color": [0, 0, 0]}]}')
    cfg = make_config(labelled, tmp_path / "run", data={"palette": str(tmp_path / "one.json")},
                      model={"width": 4, "depth": 1})
    with pytest.raises(UsageError, match=r"1 class \(from the palette\): a model of one class learns nothing"):
        run_training(cfg, quiet=True)
    assert not (tmp_path / "run").exists()


def test_validation_rows_that_are_training_rows_are_refused(labelled, tmp_path):
    """A val_manifest cut from the manifest trained on (ISBI's 30 rows with fold 0's 6) scored images the model had
    learnt: only `source_ids` were checked. The same image file is refused, naming how many; the same id alone is
    not (splits scanned apart number their files alike: train/0001.png, val/0001.png)."""
    from dataprep.train.datainfo import describe_data

    rows = read_manifest(labelled).rows
    fold0 = [r for r in rows if r.fold == 0]
    val = write_manifest(fold0, tmp_path / "val.csv", columns=["fold"])
    with pytest.raises(UsageError) as err:
        describe_data(make_config(labelled, tmp_path / "run", data={"val_manifest": str(val)}))
    assert err.value.exit_code == 2 and len(fold0) < len(rows)
    assert (f"data.val_manifest: {len(fold0)} of the {len(fold0)} rows of the validation manifest {val} are training "
            "images too") in str(err.value)
    assert f"the first: {fold0[0].id!r}" in str(err.value)
    # The same picture under another id is the same image file.
    renamed = write_manifest([ManifestRow("other", rows[0].image, rows[0].mask, rows[0].width, rows[0].height)],
                             tmp_path / "renamed.csv")
    with pytest.raises(UsageError, match="1 of the 1 rows .* are training images too .the first: 'other'"):
        describe_data(make_config(labelled, tmp_path / "run", data={"val_manifest": str(renamed)}))
    # Another image under a training row's id (another split's 0001.png) is validation data.
    other = tmp_path / "other.png"
    io.write_image(other, io.read_image(rows[0].image))
    same_id = write_manifest([ManifestRow(rows[0].id, other, rows[0].mask, rows[0].width, rows[0].height)],
                             tmp_path / "same_id.csv")
    assert describe_data(make_config(labelled, tmp_path / "run", data={"val_manifest": str(same_id)})).warnings == ()
    # Validating on the training rows themselves is a memorisation check: said, not refused.
    same = describe_data(make_config(labelled, tmp_path / "run", data={"val_manifest": str(labelled)}))
    assert any("validating on the 8 training rows themselves" in w for w in same.warnings), same.warnings
    assert describe_data(make_config(labelled, tmp_path / "run", data={"fold": 0})).warnings == ()


def test_in_channels_that_are_not_the_images_are_refused_before_training(labelled, tmp_path):
    """model.in_channels 1 on RGB images trained until the first forward pass: torch's "expected input[4, 3, ...] to
    have 1 channels" traceback, exit 1."""
    from dataprep.train.datainfo import describe_data

    with pytest.raises(UsageError) as err:
        run_training(make_config(labelled, tmp_path / "run", model={"in_channels": 1, "width": 4, "depth": 1}),
                     quiet=True)
    assert err.value.exit_code == 2
    assert "model.in_channels: 1, but the images have 3 channel(s)" in err.value.reason
    assert str(read_manifest(labelled).rows[0].image) in err.value.reason
    assert not (tmp_path / "run" / LAST).exists()
    assert describe_data(make_config(labelled, tmp_path / "ok", model={"in_channels": 3})).in_channels == 3


def test_a_recipe_size_below_the_models_two_to_the_depth_and_a_seed_past_int64_are_refused(labelled, tmp_path):
    """A [1, 1] crop under a depth-2 UNet ended mid-run in a 76-line max-pooling traceback; train.seed 2**64 in
    torch's "Overflow when unpacking long long"."""
    import yaml

    from dataprep.train.datainfo import describe_data

    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(yaml.safe_dump({"size": [6, 16], "steps": [{"op": "resize"}]}))
    with pytest.raises(UsageError) as err:
        describe_data(make_config(labelled, tmp_path / "run", data={"train_recipe": str(tiny)}))
    assert err.value.exit_code == 2 and err.value.path == str(tiny)
    assert "size [6, 16] is below 8, what a model of model.depth 3 needs" in err.value.reason
    assert describe_data(make_config(labelled, tmp_path / "run", data={"train_recipe": str(tiny)},
                                     model={"depth": 2})).num_classes
    with pytest.raises(UsageError, match=r"train\.seed: must be in 0\.\.9223372036854775807"):
        make_config(labelled, tmp_path / "run", train={"seed": 2**64})


def test_resume_refuses_a_checkpoint_of_another_model(labelled, tmp_path):
    tiny = {"model": {"width": 4, "depth": 1}, "train": {"epochs": 1, "max_steps": 1}}
    run_training(make_config(labelled, tmp_path / "a", **tiny), quiet=True)
    other = make_config(labelled, tmp_path / "b", model={"width": 8, "depth": 1}, train={"epochs": 1})
    with pytest.raises(UsageError, match="it has model.width 4, the config model.width 8") as err:
        run_training(other, resume=tmp_path / "a" / LAST, quiet=True)
    assert err.value.path == str(tmp_path / "a" / LAST)


def test_resume_with_more_epochs_uses_the_new_schedule_from_its_first_step(labelled, tmp_path):
    """The restored optimizer held the old schedule's last lr (0 at a cosine's end): the first resumed step trained
    with it, and only the next one followed the longer schedule."""
    from dataprep.train.optim import lr_factor

    cfg = make_config(labelled, tmp_path / "a", data={"fold": 0, "batch_size": 2}, model={"width": 4, "depth": 1},
                      train={"epochs": 1})
    run_training(cfg, quiet=True)  # 2 steps: the cosine ends at 0
    longer = cfg.replace(train={"epochs": 3})
    lrs: list[float] = []
    run_training(longer, resume=tmp_path / "a" / LAST, quiet=True, on_step=lambda info: lrs.append(info.lr))
    expected = [cfg.optim.lr * lr_factor(step, longer, 6) for step in range(2, 6)]
    assert lrs == pytest.approx(expected, rel=1e-12) and lrs[0] > 0
    rows = (tmp_path / "a" / "steps.csv").read_text().splitlines()
    header = rows[0].split(",")
    third = dict(zip(header, rows[3].split(",")))
    assert third["step"] == "3" and float(third["lr"]) == pytest.approx(expected[0], rel=1e-3)


def test_interrupt_inside_a_step_checkpoints_the_model_of_the_last_completed_step(labelled, tmp_path, monkeypatch):
    """Ctrl-C after a forward pass: its BatchNorm update (num_batches_tracked 4 at step 3) went into the checkpoint,
    and the resumed run ended with other statistics than an uninterrupted one."""
    from dataprep.train import loop
    from dataprep.train.model import UNet

    cfg = make_config(labelled, tmp_path / "a", data={"fold": 0, "batch_size": 2},
                      model={"width": 8, "depth": 2}, train={"epochs": 3})
    whole = run_training(cfg, quiet=True)
    forwards = {"n": 0}

    class Interrupted(UNet):
        def forward(self, x):
            out = super().forward(x)  # BatchNorm's running statistics are updated by now
            if self.training:
                forwards["n"] += 1
                if forwards["n"] == 4:  # the forward of step 4, the second batch of epoch 2
                    raise KeyboardInterrupt
            return out

    cut = cfg.replace(train={"output_dir": str(tmp_path / "b")})
    monkeypatch.setattr(loop, "UNet", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_training(cut, quiet=True)
    monkeypatch.setattr(loop, "UNet", UNet)
    state = torch.load(tmp_path / "b" / LAST, weights_only=True)
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 1, 3)
    tracked = {k: int(v) for k, v in state["model"].items() if k.endswith("num_batches_tracked")}
    assert set(tracked.values()) == {3}, tracked

    resumed = run_training(cut, resume=tmp_path / "b" / LAST, quiet=True)
    assert resumed.step_losses == whole.step_losses[3:]
    a, b = whole.model.state_dict(), resumed.model.state_dict()  # BatchNorm statistics included
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert resumed.scores is not None and resumed.scores.miou == whole.scores.miou


def test_ctrl_c_inside_the_optimizer_step_checkpoints_a_whole_step(labelled, tmp_path, monkeypatch):
    """A Ctrl-C arriving while the weights were updated (optimizer.step) saved step 3's weights as step 2: the
    resumed run trained step 3 again and ended with other weights than an uninterrupted run."""
    import signal

    from dataprep.train import loop

    cfg = make_config(labelled, tmp_path / "a", data={"fold": 0, "batch_size": 2},
                      model={"width": 8, "depth": 2}, train={"epochs": 3})
    whole = run_training(cfg, quiet=True)
    steps = {"n": 0}
    real_step = loop.optimizer_step

    def step_then_ctrl_c(*args, **kwargs):
        lr = real_step(*args, **kwargs)
        steps["n"] += 1
        if steps["n"] == 3:
            signal.raise_signal(signal.SIGINT)  # as a Ctrl-C right after the weights changed
        return lr

    cut = cfg.replace(train={"output_dir": str(tmp_path / "b")})
    monkeypatch.setattr(loop, "optimizer_step", step_then_ctrl_c)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        run_training(cut, quiet=True)
    monkeypatch.setattr(loop, "optimizer_step", real_step)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # put back as found
    state = torch.load(tmp_path / "b" / LAST, weights_only=True)
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 1, 3)
    resumed = run_training(cut, resume=tmp_path / "b" / LAST, quiet=True)
    assert resumed.step_losses == whole.step_losses[3:]
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
