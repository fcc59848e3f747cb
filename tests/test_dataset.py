"""SegmentationDataset and the CPU loader engine (albumentations).

The datasets on disk and the image/mask sync checks come from helpers.py
(test_dali.py and test_engine_parity.py use them too).
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dataprep import SegmentationDataset, make_loader
from dataprep.errors import DataprepError, UsageError
from dataprep.io import read_image, read_mask, write_image, write_mask
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.stats import compute_stats

from helpers import (  # pytest puts tests/ on sys.path
    GEOMETRIC_STEPS,
    PIPELINES,
    SAMPLE,
    coordinate_pair,
    geometric_recipe,
    make_coordinate_dataset,
    make_label_dataset,
    make_mixed_channel_dataset,
    sync_errors,
    sync_tolerance,
    write_stats,
)


@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> Path:
    return make_label_dataset(tmp_path_factory.mktemp("labels"))


@pytest.fixture(scope="module")
def coords(tmp_path_factory) -> Path:
    return make_coordinate_dataset(tmp_path_factory.mktemp("coords"))


# --------------------------------------------------------------------------- items


def test_item_is_image_scaled_to_01_and_label_map(labels):
    ds = SegmentationDataset(labels)
    row = read_manifest(labels)[2]
    item = ds[2]
    assert item["id"] == row.id
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 240, 320)
    assert item["mask"].dtype == torch.int64 and item["mask"].shape == (240, 320)
    raw = read_image(row.image)
    np.testing.assert_allclose(item["image"].numpy(), raw.transpose(2, 0, 1) / 255.0, atol=1e-6)
    np.testing.assert_array_equal(item["mask"].numpy(), read_mask(row.mask))
    assert 255 in item["mask"].unique().tolist()  # the ignore index is kept, not remapped
    assert ds[-1]["id"] == read_manifest(labels)[-1].id


def test_stats_normalize_in_raw_units(labels):
    stats = write_stats(labels)
    mean = np.array(json.loads(stats.read_text())["image"]["mean"], np.float32)
    std = np.array(json.loads(stats.read_text())["image"]["std"], np.float32)
    raw = read_image(read_manifest(labels)[0].image).astype(np.float32)
    expected = ((raw - mean) / std).transpose(2, 0, 1)
    for recipe in (None, PIPELINES / "val.yaml"):
        item = SegmentationDataset(labels, recipe, stats)[0]
        np.testing.assert_allclose(item["image"].numpy(), expected, atol=1e-5)
    # The step's own mean/std win over stats.json.
    own = {"steps": [{"op": "normalize", "mean": [10.0, 20.0, 30.0], "std": [2.0, 4.0, 8.0]}]}
    item = SegmentationDataset(labels, own, stats)[0]
    np.testing.assert_allclose(item["image"].numpy(), ((raw - [10, 20, 30]) / [2, 4, 8]).transpose(2, 0, 1), atol=1e-5)


def test_imagenet_mean_std_in_0_1_units_on_8_bit_images_are_warned(labels):
    """albumentations' Normalize takes ImageNet's 0-1 values (times max_pixel_value 255); here mean/std are raw
    pixel units, so those values gave inputs of 130..1060 without a word."""
    imagenet = {"steps": [{"op": "normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}]}
    with pytest.warns(UserWarning, match=r"0-1 values, but the images are uint8.*use mean \[123\.7, 116\.3, 103\.5\]"):
        SegmentationDataset(labels, imagenet)
    raw_units = {"steps": [{"op": "normalize", "mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4]}]}
    unchanged = {"steps": [{"op": "normalize", "mean": [0, 0, 0], "std": [1, 1, 1]}]}  # raw values, on purpose
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SegmentationDataset(labels, raw_units)
        SegmentationDataset(labels, unchanged)


def test_stats_channels_must_match_images(labels):
    stats = {"version": 1, "image": {"mean": [100.0], "std": [50.0]}}
    with pytest.raises(DataprepError, match="1 channel"):
        SegmentationDataset(labels, None, stats)[0]


def test_grayscale_images_in_a_colour_dataset_are_loaded_as_rgb(tmp_path):
    manifest = make_mixed_channel_dataset(tmp_path, "cgcg")
    ds = SegmentationDataset(manifest)
    gray = read_image(tmp_path / "1g.png")
    assert ds.channels == 3 and ds[1]["image"].shape == (3, 40, 48)
    expected = np.repeat(gray, 3, axis=2).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(ds[1]["image"].numpy(), expected, atol=1e-6)
    batch = next(iter(make_loader(manifest, batch_size=4, num_workers=2, shuffle=False)))
    assert batch["image"].shape == (4, 3, 40, 48)
    # Grayscale first: stats.json (colour wins there) makes the dataset RGB.
    gray_first = make_mixed_channel_dataset(tmp_path / "gray_first", "gcc")
    stats = compute_stats(gray_first, quiet=True)
    assert stats["image"]["channels"] == 3
    ds = SegmentationDataset(gray_first, None, stats)
    assert ds.channels == 3 and [tuple(ds[i]["image"].shape) for i in range(3)] == [(3, 40, 48)] * 3


def test_a_colour_image_in_a_grayscale_dataset_is_an_error(tmp_path):
    ds = SegmentationDataset(make_mixed_channel_dataset(tmp_path, "gc"))
    assert ds.channels == 1 and ds[0]["image"].shape == (1, 40, 48)
    with pytest.raises(DataprepError, match="3-channel image, but the dataset's images have 1") as err:
        ds[1]
    assert err.value.path == str(tmp_path / "1c.png")


def test_colour_masks_are_refused_naming_the_file(tmp_path):
    image = SAMPLE / "images" / "suburb" / "suburb_0001.jpg"
    mask = SAMPLE / "masks" / "suburb" / "suburb_0001.png"
    write_manifest([ManifestRow("a", image, mask, 320, 240), ManifestRow("b", image, mask, 320, 240)],
                   tmp_path / "m.csv")
    with pytest.raises(DataprepError, match="masks2labels") as err:
        SegmentationDataset(tmp_path / "m.csv")[0]
    assert err.value.path == str(mask)
    # Through worker processes the error keeps its type and its one line.
    loader = make_loader(tmp_path / "m.csv", batch_size=2, num_workers=2)
    with pytest.raises(DataprepError, match="masks2labels") as err:
        next(iter(loader))
    assert err.value.path == str(mask) and "\n" not in str(err.value)


def test_rows_without_masks_are_refused(tmp_path):
    image = SAMPLE / "images" / "suburb" / "suburb_0001.jpg"
    write_manifest([ManifestRow("a", image, None, 320, 240)], tmp_path / "m.csv")
    with pytest.raises(DataprepError, match="no mask"):
        SegmentationDataset(tmp_path / "m.csv")


def _binary_dataset(folder: Path, foreground: int) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(2):
        image, mask = folder / f"{i}.png", folder / f"{i}_mask.png"
        write_image(image, rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        label = np.zeros((24, 32), np.uint8)
        label[4:12, 6:20] = foreground
        write_mask(mask, label)
        rows.append(ManifestRow(str(i), image, mask, 32, 24))
    write_manifest(rows, folder / "m.csv")
    return folder / "m.csv"


def test_raw_binary_masks_whose_foreground_is_the_ignore_index_are_warned(tmp_path):
    # ISBI's membranes as they come (0/255): a loss with ignore_index 255 learns class 0 alone, silently.
    (tmp_path / "raw").mkdir()
    with pytest.warns(UserWarning, match=r"holds the values 0 and 255 alone.*masks2labels -p binary"):
        SegmentationDataset(_binary_dataset(tmp_path / "raw", 255))
    (tmp_path / "ones").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SegmentationDataset(_binary_dataset(tmp_path / "ones", 1))  # 0/1 label maps: nothing to say
        # Under another ignore index 255 is a class like any other.
        SegmentationDataset(_binary_dataset(tmp_path / "raw", 255), ignore_index=7)


# --------------------------------------------------------------------------- recipes


def test_arguments_of_other_types_are_refused_naming_what_is_taken(labels):
    """An albumentations Compose (or a function) as the recipe, a DataFrame-like or list as the manifest: a
    TypeError from pathlib naming neither; a list of steps is a recipe's steps."""
    import albumentations as A

    for transform in (A.Compose([A.HorizontalFlip(p=1.0)]), lambda image, mask: {"image": image, "mask": mask}):
        with pytest.raises(UsageError, match=r"recipe: a (Compose|function) is a transform, not a recipe"):
            SegmentationDataset(labels, transform)
    with pytest.raises(UsageError, match=r"manifest: a list is not a manifest; give the path of a manifest CSV"):
        SegmentationDataset([{"image": "a.png", "mask": "a_mask.png"}])
    steps = [{"op": "hflip", "p": 1.0}]
    flipped = SegmentationDataset(labels, steps)[(0, 0)]
    assert torch.equal(flipped["image"], SegmentationDataset(labels, {"steps": steps})[(0, 0)]["image"])
    assert torch.equal(flipped["mask"], SegmentationDataset(labels)[0]["mask"].flip(-1))


def test_a_recipe_size_that_no_step_takes_is_warned(labels):
    """Online, `size` is the size of the steps that take one (resize, crops); with none of them the samples kept
    their own 240x320 without a word, where offline outputs are fitted to it."""
    with pytest.warns(UserWarning, match=r"size \[128, 128\] is taken by no step, so samples keep their images' "):
        ds = SegmentationDataset(labels, {"size": [128, 128], "steps": [{"op": "hflip"}]})
    assert ds[0]["image"].shape[1:] != (128, 128)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = SegmentationDataset(labels, {"size": [128, 128], "steps": [{"op": "hflip"}, {"op": "resize"}]})
    assert ds[0]["image"].shape[1:] == (128, 128)


def test_recipe_errors_come_at_load_time(labels):
    with pytest.raises(DataprepError, match=r"step 1 \(mosaic\)"):
        SegmentationDataset(labels, {"size": [64, 64], "steps": [{"op": "mosaic"}]})
    with pytest.raises(DataprepError, match="last step"):
        SegmentationDataset(labels, {"steps": [{"op": "normalize"}, {"op": "hflip"}]})


@pytest.mark.parametrize("name", ["train_default", "train_light", "val"])
def test_bundled_online_recipes(labels, name):
    ds = SegmentationDataset(labels, PIPELINES / f"{name}.yaml", write_stats(labels))
    item = ds[1]
    size = {"train_default": (256, 256), "train_light": (128, 128), "val": (240, 320)}[name]
    assert item["image"].shape == (3, *size) and item["mask"].shape == size
    assert torch.isfinite(item["image"]).all()
    assert set(item["mask"].unique().tolist()) <= {0, 1, 2, 3, 4, 5, 6, 255}


def test_ignore_index_comes_from_the_palette_beside_the_manifest(tmp_path):
    manifest = make_coordinate_dataset(tmp_path, sizes=((40, 48),))
    (tmp_path / "palette.json").write_text(json.dumps(
        {"name": "p", "ignore_index": 250, "classes": [{"name": "a", "color": [1, 2, 3], "index": 0}]}))
    recipe = {"steps": [{"op": "rotate", "limit": [45, 45]}]}
    ds = SegmentationDataset(manifest, recipe)
    assert ds.ignore_index == 250
    mask = ds[0]["mask"]
    assert mask[0, 0] == 250 and mask[-1, -1] == 250  # rotated-in corners are filled with it
    assert SegmentationDataset(manifest, recipe, ignore_index=7).ignore_index == 7


# --------------------------------------------------------------------------- folds


def test_fold_split_selects_rows(labels):
    ids = [r.id for r in read_manifest(labels)]
    folds = {r.id: int(r.extra["fold"]) for r in read_manifest(labels)}
    train = SegmentationDataset(labels, fold=1, split="train").ids
    val = SegmentationDataset(labels, fold=1, split="val").ids
    assert val == [i for i in ids if folds[i] == 1]
    assert train == [i for i in ids if folds[i] != 1]
    with pytest.raises(UsageError, match="split='val' needs a fold number"):
        SegmentationDataset(labels, split="val")
    with pytest.raises(UsageError, match="fold=1 needs split="):
        SegmentationDataset(labels, fold=1)
    with pytest.raises(DataprepError, match="fold 9"):
        SegmentationDataset(labels, fold=9, split="val")


def test_without_a_fold_split_names_rows_of_the_split_column(labels, tmp_path):
    """A scanned manifest of train/val/test folders (SegNet's CamVid) loads one split by name; split='val' used to
    need a fold."""
    rows = list(read_manifest(labels))
    names = ["train", "val", "test"]
    tagged = [r.with_extra(split=names[i % 3]) for i, r in enumerate(rows)]
    manifest = write_manifest(tagged, tmp_path / "manifest.csv", columns=["split"])
    for name in names:
        assert SegmentationDataset(manifest, split=name).ids == [r.id for r in tagged if r.extra["split"] == name]
    with pytest.raises(UsageError, match="no rows of split 'dev'; the splits here: test, train, val"):
        SegmentationDataset(manifest, split="dev")


@pytest.mark.parametrize("fold,named", [("1", "str '1'"), (True, "bool True"), (1.0, "float 1.0")])
def test_a_fold_that_is_not_an_integer_is_refused_naming_its_type(labels, fold, named):
    """fold="0" (from argparse or the environment) was reported as missing from the manifest, and fold=True was
    fold 1 in silence."""
    with pytest.raises(UsageError, match=f"fold must be an int, not {named}"):
        SegmentationDataset(labels, fold=fold, split="val")
    numpy_fold = SegmentationDataset(labels, fold=np.int64(1), split="val").ids
    assert numpy_fold == SegmentationDataset(labels, fold=1, split="val").ids and numpy_fold


def test_an_index_out_of_range_is_named_as_asked(labels):
    """ds[-33] of 32 items said "index -1 out of range": the index after adding the length."""
    ds = SegmentationDataset(labels)
    n = len(ds)
    for index in (-n - 1, n, (0, -n - 5)):
        asked = index[1] if isinstance(index, tuple) else index
        with pytest.raises(IndexError, match=rf"^index {asked} out of range for {n} samples$"):
            ds[index]
    assert ds[-n]["id"] == ds[0]["id"]


def test_a_split_also_written_another_way_is_refused(labels, tmp_path):
    """split='train' of a column holding Train and train loaded the 'train' rows alone, as the trainer's
    data.train_split did."""
    rows = list(read_manifest(labels))
    tagged = [r.with_extra(split=["Train", "train", "val"][i % 3]) for i, r in enumerate(rows)]
    manifest = write_manifest(tagged, tmp_path / "manifest.csv", columns=["split"])
    with pytest.raises(UsageError, match=r"split 'train' \(\d+ rows\) is also written 'Train' \(\d+ rows\)"):
        SegmentationDataset(manifest, split="train")
    assert len(SegmentationDataset(manifest, split="val")) == len(rows[2::3])


def test_fold_needs_a_fold_column(coords):
    with pytest.raises(DataprepError, match="kfold"):
        SegmentationDataset(coords, fold=0, split="train")


# --------------------------------------------------------------------------- seeding


def test_persistent_workers_of_a_shuffling_dataloader_never_repeat_a_samples_draw(labels):
    """A sample read by worker 1 in epoch 2 was its first read there: with the base seed fixed for persistent
    workers, it got the draw worker 0 gave it in epoch 1 (50 of 128 reads repeated)."""
    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    ds = SegmentationDataset(labels, PIPELINES / "train_default.yaml", seed=1)
    loader = DataLoader(ds, batch_size=1, shuffle=True, num_workers=2, persistent_workers=True,
                        collate_fn=lambda batch: batch[0])
    seen: dict[str, list[bytes]] = {}
    for _ in range(3):
        for sample in loader:
            seen.setdefault(sample["id"], []).append(sample["image"].numpy().tobytes())
    assert sum(len(draws) for draws in seen.values()) == 3 * len(ds)
    assert all(len(set(draws)) == len(draws) for draws in seen.values())


def test_augmentation_depends_on_seed_epoch_and_index_only(labels):
    recipe = PIPELINES / "train_default.yaml"
    a = SegmentationDataset(labels, recipe, seed=1)
    b = SegmentationDataset(labels, recipe, seed=1)
    first = a[3]
    b[0], b[5]  # other draws in between change nothing
    again = b[3]  # read once: each plain read draws anew
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["mask"], again["mask"])
    assert not torch.equal(first["image"], SegmentationDataset(labels, recipe, seed=2)[3]["image"])
    a.set_epoch(1)
    assert not torch.equal(first["image"], a[3]["image"])
    assert torch.equal(a[3]["image"], b[(1, 3)]["image"])  # (epoch, index) keys: what the loader's sampler sends


def test_plain_indexing_draws_anew_each_time_until_an_epoch_is_set(labels):
    """A plain torch DataLoader over the Dataset, as torchvision or albumentations users write it, gave every
    epoch byte-identical augmentations: the draw only changed with set_epoch."""
    recipe = PIPELINES / "train_default.yaml"
    ds, ref = SegmentationDataset(labels, recipe, seed=1), SegmentationDataset(labels, recipe, seed=1)
    draws = [ds[2]["image"] for _ in range(3)]
    assert not torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])
    for n, draw in enumerate(draws):  # the n-th read of a sample in this process is epoch n's
        assert torch.equal(draw, ref[(n, 2)]["image"])
    ds.set_epoch(5)
    assert torch.equal(ds[2]["image"], ds[2]["image"]) and torch.equal(ds[2]["image"], ref[(5, 2)]["image"])


@pytest.mark.parametrize("persistent", [False, True])
def test_a_plain_dataloader_with_workers_draws_anew_each_epoch_and_repeats_under_one_torch_seed(labels,
                                                                                               persistent):
    from torch.utils.data import DataLoader

    def epochs() -> list[torch.Tensor]:
        torch.manual_seed(0)  # what makes a torch DataLoader's worker seeds repeat
        loader = DataLoader(SegmentationDataset(labels, PIPELINES / "train_default.yaml", seed=1), batch_size=4,
                            num_workers=2, persistent_workers=persistent)
        return [next(iter(loader))["image"] for _ in range(2)]

    first, again = epochs(), epochs()
    assert not torch.equal(first[0], first[1])
    assert all(torch.equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("workers", [0, 2])
def test_ranks_of_a_distributed_run_never_repeat_each_others_draws_of_a_sample(labels, monkeypatch, workers):
    """Each rank (its own process, its own Dataset, one torch.manual_seed everywhere) counted its own reads of a
    sample, so rank 1's first read in a later epoch repeated rank 0's draw of an earlier one: with 4 ranks and 8
    epochs CamVid samples got 3-5 distinct augmentations instead of 8."""
    from torch.utils.data import DataLoader, DistributedSampler

    ranks, epochs = 4, 4
    draws: dict[str, list[tuple[int, int, bytes]]] = {}
    for rank in range(ranks):
        monkeypatch.setenv("RANK", str(rank))  # what torchrun sets in every rank's process
        torch.manual_seed(0)
        ds = SegmentationDataset(labels, PIPELINES / "train_light.yaml", seed=1)
        sampler = DistributedSampler(ds, num_replicas=ranks, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(ds, batch_size=1, sampler=sampler, num_workers=workers, persistent_workers=workers > 0,
                            collate_fn=lambda batch: batch[0])
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for sample in loader:
                draws.setdefault(sample["id"], []).append((epoch, rank, sample["image"].numpy().tobytes()))
    assert sum(len(d) for d in draws.values()) == ranks * epochs * 2  # 8 rows: 2 per rank and epoch
    repeated = [(name, a[:2], b[:2]) for name, d in draws.items() for i, a in enumerate(d) for b in d[i + 1:]
                if a[2] == b[2]]
    assert repeated == []
    monkeypatch.delenv("RANK")
    ds = SegmentationDataset(labels, PIPELINES / "train_light.yaml", seed=1)  # a single process: as before
    assert torch.equal(ds[3]["image"], ds[(0, 3)]["image"]) and torch.equal(ds[3]["image"], ds[(1, 3)]["image"])


def _first(batch: list) -> Any:
    return batch[0]


def _rank_reads(rank: int, world: int, init: str, manifest: str, out: str) -> None:
    """One rank of a gloo group set up by init_process_group(rank=...) alone (no RANK in the environment, as
    torch.multiprocessing.spawn scripts run): a plain DataLoader with a persistent worker, spawned as the
    DataLoader does by default in such a rank, 8 epochs."""
    import torch.distributed as dist
    from torch.utils.data import DataLoader, DistributedSampler

    os.environ.pop("RANK", None)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    torch.manual_seed(0)
    ds = SegmentationDataset(manifest, PIPELINES / "train_light.yaml", seed=1)
    sampler = DistributedSampler(ds, shuffle=True, seed=0)
    loader = DataLoader(ds, batch_size=1, sampler=sampler, num_workers=1, persistent_workers=True,
                        collate_fn=_first)
    reads = []
    for epoch in range(8):
        sampler.set_epoch(epoch)
        reads += [(sample["id"], sample["image"].numpy().tobytes()) for sample in loader]
    torch.save(reads, Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()


def test_workers_of_ranks_set_up_by_init_process_group_draw_apart(labels, tmp_path):
    """Spawned DataLoader workers have no process group: they drew as rank 0 on every rank and repeated each
    other's draws (CamVid, 2 ranks, 2 workers, 6 epochs: 45 distinct augmentations of 60 reads)."""
    init = f"file://{tmp_path / 'group'}"
    torch.multiprocessing.spawn(_rank_reads, args=(2, init, str(labels), str(tmp_path)), nprocs=2, join=True)
    reads = [read for rank in range(2) for read in torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)]
    assert len(reads) == 64 and len({name for name, _ in reads}) == 8
    assert len({image for _, image in reads}) == 64


def test_transforms_draw_independently(coords):
    # albumentations' own seeding gives every transform the same stream, so two
    # p=0.5 flips would always fire together; we share one stream instead.
    ds = SegmentationDataset(coords, {"steps": [{"op": "hflip"}, {"op": "vflip"}]})
    image, mask = coordinate_pair(8, 8)
    seen = set()
    for i in range(40):
        out, _ = ds.transform(image, mask, epoch=0, index=i)
        seen.add((bool(out[0, 0, 0] != image[0, 0, 0]), bool(out[0, 0, 1] != image[0, 0, 1])))
    assert seen == {(False, False), (False, True), (True, False), (True, True)}


def test_transform_takes_bool_and_int64_masks_as_their_classes(coords):
    """A bool mask failed in OpenCV's resize, naming neither the mask nor its type; int64 came back int32."""
    ds = SegmentationDataset(coords, {"size": [24, 24], "steps": [{"op": "rotate", "limit": [30, 30], "p": 1.0},
                                                                 {"op": "resize"}]})
    rng = np.random.default_rng(5)
    image = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    classes = np.kron(rng.integers(0, 2, (5, 5)), np.ones((8, 8), int)).astype(np.uint8)
    _, expected = ds.transform(image, classes, epoch=0, index=0)
    _, from_bool = ds.transform(image, classes.astype(bool), epoch=0, index=0)
    _, from_int64 = ds.transform(image, classes.astype(np.int64), epoch=0, index=0)
    assert from_bool.dtype == np.uint8 and np.array_equal(from_bool, expected)
    assert from_int64.dtype == np.int64 and np.array_equal(from_int64, expected)
    assert (expected == 255).any()  # the rotated-in corners: the ignore index
    # int8 cannot hold 255: OpenCV saturated the corners to 127, a class; they come back int16, ignored.
    _, from_int8 = ds.transform(image, classes.astype(np.int8), epoch=0, index=0)
    assert from_int8.dtype == np.int16 and np.array_equal(from_int8, expected)


def test_transform_refuses_a_mask_of_another_size_than_its_image(coords):
    """A transposed or smaller mask came back as an augmented pair of one size, misaligned, as albumentations'
    own Compose refuses it."""
    ds = SegmentationDataset(coords, {"size": [24, 24], "steps": [{"op": "resize"}]})
    image = np.zeros((40, 48, 3), np.uint8)
    for mask in (np.zeros((48, 40), np.uint8), np.zeros((20, 24), np.uint8)):
        with pytest.raises(DataprepError, match=rf"mask is {mask.shape[1]}x{mask.shape[0]} but its image is 48x40"):
            ds.transform(image, mask, epoch=0, index=0, source="x.png")


FILLED_STEPS = {  # steps with an image_fill, set to leave some of it in a 40x48 output
    "random_crop": {}, "crop_non_empty": {}, "rotate": {"limit": [30, 30]},
    "affine": {"rotate": [30, 30], "scale": [0.7, 0.7]}, "elastic": {"alpha": 300.0, "sigma": 4.0},
    "grid_distortion": {"distort_limit": [0.5, 0.5]}, "perspective": {"scale": [0.3, 0.3]},
    "coarse_dropout": {},
}


@pytest.mark.parametrize("op", sorted(FILLED_STEPS))
def test_image_fill_fills_every_band(coords, op):
    """cv2 takes a bare number as the Scalar (v, 0, 0, 0): rotate, affine and elastic corners of image_fill 114
    came out (114, 0, 0), red, where DALI's were grey."""
    from dataprep.ops import SPECS

    assert set(FILLED_STEPS) == {n for n, s in SPECS.items() if s.inputs == 1 and s.albumentations is not None
                                 and "image_fill" in s.params.__dataclass_fields__}
    step = {"op": op, "image_fill": 114, "p": 1.0, **FILLED_STEPS[op]}
    ds = SegmentationDataset(coords, {"size": [48, 56], "steps": [step]})
    for bands in (3, 5):
        image = np.zeros((40, 48, bands), np.uint8)
        out, _ = ds.transform(image, np.ones((40, 48), np.uint8), epoch=0, index=1)
        # albumentations' perspective maps a quadrilateral inside the image onto it: nothing is filled there.
        assert (out > 0).any() or op == "perspective", "the step left no fill to check"
        assert all(np.array_equal(out[..., 0], out[..., b]) for b in range(1, bands))


def test_the_ignore_index_fills_padding_exactly_or_is_refused(coords):
    """torch's default ignore_index -100 saturated to class 0 in the rotated-in corners (a class trained on
    padding); 1000 gave 255 on the CPU engine and 1000 on DALI."""
    recipe = {"size": [24, 24], "steps": [{"op": "rotate", "limit": [30, 30], "p": 1.0}, {"op": "resize"}]}
    for ignore in (-100, -1, 65536):
        with pytest.raises(UsageError, match=rf"ignore_index {ignore}: label maps hold 0\.\.65535"):
            SegmentationDataset(coords, recipe, ignore_index=ignore)
    ds = SegmentationDataset(coords, recipe, ignore_index=1000)
    classes = np.kron(np.random.default_rng(5).integers(0, 2, (5, 5)), np.ones((8, 8), int)).astype(np.uint8)
    _, mask = ds.transform(np.zeros((40, 40, 3), np.uint8), classes, epoch=0, index=0)
    assert mask.dtype == np.uint16 and set(np.unique(mask)) == {0, 1, 1000}
    assert ds[0]["mask"].max() == 1000


# --------------------------------------------------------------------------- loader


def _epoch(loader) -> list[dict]:
    return list(loader)


def _same(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x["id"] == y["id"] and torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
        for x, y in zip(a, b)
    )


def test_loader_batches_are_reproducible_whatever_the_workers(labels):
    recipe = PIPELINES / "train_light.yaml"
    two = make_loader(labels, recipe, batch_size=3, num_workers=2, seed=4)
    first = _epoch(two)
    assert len(two) == len(first) == 3
    assert first[0]["image"].shape == (3, 3, 128, 128) and first[0]["mask"].shape == (3, 128, 128)
    assert first[-1]["image"].shape[0] == 2 and isinstance(first[0]["id"], list)
    assert _same(first, _epoch(make_loader(labels, recipe, batch_size=3, num_workers=2, seed=4)))
    assert _same(first, _epoch(make_loader(labels, recipe, batch_size=3, num_workers=0, seed=4)))
    two.set_epoch(1)
    second = _epoch(two)  # persistent workers still see the new epoch
    assert [i for b in second for i in b["id"]] != [i for b in first for i in b["id"]]
    assert sorted(i for b in second for i in b["id"]) == sorted(i for b in first for i in b["id"])
    zero = make_loader(labels, recipe, batch_size=3, num_workers=0, seed=4)
    zero.set_epoch(1)
    assert _same(second, _epoch(zero))


def test_loader_shards_and_drop_last(labels):
    ids = set(SegmentationDataset(labels).ids)
    shards = [make_loader(labels, batch_size=3, num_workers=0, num_shards=3, shard_id=k, drop_last=False, seed=2)
              for k in range(3)]
    got = [[i for b in s for i in b["id"]] for s in shards]
    assert [len(g) for g in got] == [3, 3, 3]  # 8 rows padded to 9 so every shard steps the same
    assert set().union(*got) == ids
    assert sum(len(set(g)) for g in got) == 9
    dropped = make_loader(labels, batch_size=3, num_workers=0, drop_last=True)
    assert len(dropped) == 2 and all(len(b["id"]) == 3 for b in dropped)
    with pytest.raises(UsageError, match=r"shard_id must be in 0\.\.1, got 2"):
        make_loader(labels, num_shards=2, shard_id=2)
    with pytest.raises(UsageError, match="engine must be one of .*'tpu'"):
        make_loader(labels, engine="tpu")


def test_seeds_that_differ_above_32_bits_shuffle_apart(labels):
    """The epoch's permutation took the seed's low 32 bits alone: seeds 1 and 2**32 + 1 (both valid, up to
    2**63 - 1) shuffled every epoch alike, while their augmentations differed."""
    from dataprep.data.sampler import repeated_order

    def order(seed: int, epoch: int = 0) -> list[str]:
        loader = make_loader(labels, batch_size=8, num_workers=0, seed=seed)
        loader.set_epoch(epoch)
        return [i for b in loader for i in b["id"]]

    ids = SegmentationDataset(labels).ids
    for epoch in (0, 1):  # seeds below 2**32 keep their orders
        assert order(1, epoch) == [ids[i] for i in np.random.default_rng([1, epoch]).permutation(len(ids))]
    assert order(2**32 + 1) != order(1) and order(2**40 + 1) != order(1)
    factors = np.linspace(1.0, 3.0, 12)
    assert not np.array_equal(repeated_order(factors, seed=2**32 + 1, epoch=0, shuffle=True),
                              repeated_order(factors, seed=1, epoch=0, shuffle=True))


@pytest.mark.parametrize("engine", ["cpu", "dali"])
def test_loader_counts_must_be_ints_and_numpy_ints_are_taken(labels, engine):
    """shard_id=os.environ["RANK"] (a str) was a raw TypeError, num_shards=2.0 one from slicing, a numpy batch_size
    torch's "positive integer value, but got batch_size=4" (DALI took it), batch_size=True a batch of 1 on DALI."""
    if engine == "dali":
        pytest.importorskip("nvidia.dali")
    extra = {"device": "cpu"} if engine == "dali" else {"num_workers": 0}
    for given, named in [({"shard_id": "1", "num_shards": 2}, r"shard_id must be an int, not str '1' "
                                                               r"\(pass shard_id=int\('1'\)\)$"),
                         ({"num_shards": 2.0}, r"num_shards must be an int, not float 2\.0$"),
                         ({"batch_size": True}, r"batch_size must be an int, not bool True$"),
                         ({"batch_size": 2.5}, r"batch_size must be an int, not float 2\.5$"),
                         ({"num_workers": "2"}, r"num_workers must be an int, not str '2'")]:
        with pytest.raises(UsageError, match=named):
            make_loader(labels, engine=engine, **{**extra, **given})
    loader = make_loader(labels, engine=engine, batch_size=np.int64(3), shard_id=np.int64(1), num_shards=np.int32(2),
                         **extra)
    assert len(loader) == 2 and [len(b["id"]) for b in loader] == [3, 1]  # rows 1, 3, 5, 7 of 8


def test_cpu_loader_refuses_a_cuda_device_torch_cannot_reach_when_made(labels, monkeypatch):
    """device="cuda" without CUDA was accepted and the first batch raised torch's raw AssertionError "Torch not
    compiled with CUDA enabled"; the DALI engine refuses it when built, in these words."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0", torch.device("cuda", 1)):
        with pytest.raises(DataprepError, match=rf"^device {torch.device(device)} asked for, but CUDA is not "
                                                r"available to torch$"):
            make_loader(labels, engine="cpu", device=device, num_workers=0)
    with pytest.raises(UsageError, match="device 'gpu0' is not a torch device"):
        make_loader(labels, engine="cpu", device="gpu0", num_workers=0)
    batch = next(iter(make_loader(labels, engine="cpu", device="cpu", batch_size=2, num_workers=0)))
    assert batch["image"].device.type == "cpu"


def test_loader_refuses_to_batch_mixed_sizes(coords):
    loader = make_loader(coords, batch_size=3, num_workers=0, shuffle=False)
    with pytest.raises(DataprepError, match="different sizes"):
        next(iter(loader))


# --------------------------------------------------------------------------- image/mask sync


@pytest.mark.parametrize("name", sorted(GEOMETRIC_STEPS))
def test_cpu_engine_keeps_mask_in_sync_with_image(coords, name):
    ds = SegmentationDataset(coords, geometric_recipe(name), seed=3)
    checked = 0
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            bad, n = sync_errors(item["image"], item["mask"], sync_tolerance(name))
            assert bad == 0, f"{name}, sample {i}, epoch {epoch}: {bad} of {n} pixels out of sync"
            checked += n
    assert checked > 1000


def test_sync_check_catches_a_one_pixel_shift(coords):
    item = SegmentationDataset(coords)[0]
    assert sync_errors(item["image"], item["mask"]) [0] == 0
    shifted = torch.roll(item["mask"], 1, dims=1)
    bad, n = sync_errors(item["image"], shifted)
    assert bad > n // 2


def test_a_shuffling_loader_run_twice_at_one_epoch_warns_once(labels):
    """Without set_epoch, every epoch repeated the same order and augmentations (0 of 24 samples changed),
    unsaid. A loader that does not shuffle (validation) runs one epoch as often as it likes."""
    import warnings

    train = make_loader(labels, {"steps": [{"op": "hflip"}]}, None, "cpu", batch_size=4, num_workers=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _epoch(train)
        train.set_epoch(1)
        _epoch(train)
        assert not caught
        _epoch(train)
        _epoch(train)
    assert len(caught) == 1 and "call loader.set_epoch(epoch) before each epoch" in str(caught[0].message)
    val = make_loader(labels, None, None, "cpu", batch_size=4, num_workers=0, shuffle=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _epoch(val), _epoch(val)
    assert not caught


def test_an_online_flip_that_keeps_left_and_right_classes_warns(tmp_path):
    """Human parsing through the Dataset: train_default's hflip mirrored left arms and kept them left."""
    manifest = make_label_dataset(tmp_path, n=2)
    palette = json.loads((manifest.parent / "palette.json").read_text())
    palette["classes"][1]["name"], palette["classes"][2]["name"] = "left_leg", "right_leg"
    (manifest.parent / "palette.json").write_text(json.dumps(palette))
    recipe = {"name": "flip", "steps": [{"op": "hflip"}]}
    with pytest.warns(UserWarning, match=r"step 1 \(hflip\) mirrors, but the palette's left_leg/right_leg are not "
                                         r"in its swap_labels.*add swap_labels: \[\[1, 2\]\]"):
        SegmentationDataset(manifest, recipe=recipe)
    recipe["steps"][0]["swap_labels"] = [[1, 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SegmentationDataset(manifest, recipe=recipe)
