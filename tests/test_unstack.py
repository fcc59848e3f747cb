"""Multi-page TIFF stacks: refused where one image is meant, split by `dataprep unstack`; animations refused.

Expected pixels are the arrays the stacks were written from (tifffile), page by page.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from dataprep import io
from dataprep.errors import DataprepError, UsageError
from dataprep.executor import make_executor
from dataprep.manifest import read_manifest
from dataprep.raster import read_raster
from dataprep.scan import scan
from dataprep.unstack import unstack


def write_stack(path: Path, pages: list[np.ndarray], **kwargs) -> Path:
    """One TIFF page per array (as microscopes and ImageJ write volumes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page, contiguous=False, **kwargs)
    return path


def _volume(n: int, dtype=np.uint8, shape=(24, 32), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind in "iu" else 1.0
    return [(rng.random(shape) * top).astype(dtype) for _ in range(n)]


def test_a_stack_is_refused_where_one_image_is_meant_and_overviews_and_masks_are_not(tmp_path):
    """Reading page 0 of a 30-slice volume would silently drop 29 slices; overview pages are not slices."""
    stack = write_stack(tmp_path / "volume.tif", _volume(5), photometric="minisblack")
    for read in (io.read_info, io.read_image, io.read_mask, read_raster):
        with pytest.raises(DataprepError, match=r"a stack of 5 pages of 32x24, not one image; .*dataprep unstack"):
            read(stack)
    pyramid = tmp_path / "pyramid.tif"
    full = _volume(1, shape=(64, 80))[0]
    with tifffile.TiffWriter(pyramid) as tif:
        tif.write(full, photometric="minisblack")
        tif.write(np.ones(full.shape, bool), photometric="mask", subfiletype=4)  # a full-size transparency mask
        tif.write(full[::2, ::2], photometric="minisblack", subfiletype=1)  # a reduced-resolution overview
    np.testing.assert_array_equal(io.read_image(pyramid)[:, :, 0], full)


def test_scan_names_the_stacks(tmp_path):
    write_stack(tmp_path / "images" / "train.tif", _volume(3), photometric="minisblack")
    write_stack(tmp_path / "masks" / "train.tif", _volume(3, seed=1), photometric="minisblack")
    result = scan(tmp_path)
    assert not result.rows
    assert sorted((p.path, p.kind, p.reason) for p in result.problems) == [
        ("images/train.tif", "stack", "a stack of 3 pages of 32x24, not one image; split it with `dataprep unstack`"),
        ("masks/train.tif", "stack", "a stack of 3 pages of 32x24, not one image; split it with `dataprep unstack`"),
    ]


def write_stk(path: Path, planes: np.ndarray) -> Path:
    """A minimal MetaMorph STK: one TIFF page whose UIC2 tag counts the uint16 planes stored one after another."""
    n, h, w = planes.shape
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 16), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, None),
               (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, h * w * 2), (33628, 4, 0, None), (33629, 5, n, None)]
    uic2_at = 8 + 2 + 12 * len(entries) + 4
    data_at = uic2_at + 24 * n
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = data_at if tag == 273 else uic2_at if tag in (33628, 33629) else value
        ifd += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else
                                                        struct.pack("<I", value))
    header = b"II*\x00" + struct.pack("<I", 8)
    # Per plane: Z distance 0/1, creation and modification Julian days and times (2000-01-01, 0 ms).
    uic2 = np.tile(np.array([0, 1, 2451545, 0, 2451545, 0], "<u4"), n).tobytes()
    path.write_bytes(header + ifd + bytes(4) + uic2 + planes.astype("<u2").tobytes())
    return path


def test_planes_behind_one_page_are_a_stack(tmp_path):
    """MetaMorph STK keeps every plane behind the first page's data: OpenCV and PIL see one image."""
    planes = np.random.default_rng(4).integers(0, 4096, (3, 20, 24), dtype=np.uint16)
    stk = write_stk(tmp_path / "movie.stk", planes)
    with Image.open(stk) as im:
        assert im.n_frames == 1  # what a reader that trusts PIL would take
    for read in (io.read_info, io.read_image, io.read_mask, read_raster):
        with pytest.raises(DataprepError, match=r"movie.stk: a stack of 3 pages of 24x20, not one image"):
            read(stk)
    rows = read_manifest(unstack(stk, tmp_path / "out").manifest_path).rows
    assert len(rows) == 3
    for row, plane in zip(rows, planes):
        np.testing.assert_array_equal(read_raster(row.image)[:, :, 0], plane)


def _animation(path: Path, frames: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.fromarray(frame) for frame in frames]
    if frames[0].ndim == 2:  # palette masks (GIF's only kind): index i is class i
        pictures = [picture.convert("P") for picture in pictures]
        for picture, frame in zip(pictures, frames):
            picture.frombytes(frame.tobytes())
            picture.putpalette(bytes(np.repeat(np.arange(256, dtype=np.uint8), 3)))
    lossless = {"lossless": True} if path.suffix == ".webp" else {}
    pictures[0].save(path, save_all=True, append_images=pictures[1:], optimize=False, **lossless)  # GIF: indices
    return path


@pytest.mark.parametrize("name", ["mask.gif", "mask.png", "photo.png", "photo.webp"])
def test_an_animation_is_refused_and_a_single_frame_one_is_read(tmp_path, name):
    """OpenCV, PIL and DALI all read an animated GIF/PNG/WebP's first frame alone, without a word."""
    shape = (24, 32, 3) if name.startswith("photo") else (24, 32)
    frames = [np.full(shape, 40 * i, np.uint8) for i in range(3)]
    animated = _animation(tmp_path / "animated" / name, frames)
    for read in (io.read_info, io.read_image, io.read_mask):
        with pytest.raises(DataprepError, match=r"an animation of 3 frames, not one image; save each frame"):
            read(animated)
    single = _animation(tmp_path / "single" / name, frames[1:2])
    np.testing.assert_array_equal(io.read_mask(single), frames[1])
    assert io.read_info(single).width == 32


def test_scan_names_the_animations(tmp_path):
    frames = [np.full((24, 32), i, np.uint8) for i in range(2)]
    (tmp_path / "images").mkdir()
    for stem in ("a", "b"):
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / "images" / f"{stem}.png")
    _animation(tmp_path / "masks" / "a.png", frames)
    Image.fromarray(frames[1]).save(tmp_path / "masks" / "b.png")
    result = scan(tmp_path)
    assert [row.id for row in result.rows] == ["b"]
    assert [(p.path, p.kind) for p in result.problems] == [("masks/a.png", "stack")]


@pytest.mark.parametrize("dtype,ext", [(np.uint8, ".png"), (np.uint16, ".png"), (np.float32, ".tif")])
def test_pages_become_pairs_exactly_with_stack_and_page_columns(tmp_path, dtype, ext):
    images = _volume(12, dtype)
    masks = [(p > p.mean()).astype(np.uint8) * 255 for p in _volume(12, seed=2)]
    image_stack = write_stack(tmp_path / "src" / "vol.tif", images, photometric="minisblack")
    mask_stack = write_stack(tmp_path / "src" / "labels.tif", masks, photometric="minisblack")
    report = unstack(image_stack, tmp_path / "out", masks=mask_stack)
    assert report.ok and report.pages == 12
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert [r.id for r in rows] == [f"vol_{i:02d}" for i in range(12)]
    for i, row in enumerate(rows):
        assert row.image.suffix == ext and (row.extra["stack"], row.extra["page"]) == ("vol", str(i))
        np.testing.assert_array_equal(read_raster(row.image)[:, :, 0], images[i])
        assert read_raster(row.image).dtype == dtype
        np.testing.assert_array_equal(np.asarray(Image.open(row.mask)), masks[i])  # values as stored: 0/255
    again = scan(tmp_path / "out")
    assert len(again.rows) == 12 and not again.problems


def test_one_bit_stacks_give_0_255_images_and_0_1_masks(tmp_path):
    """A 1-bit mask stack (tifffile's bool pages) was refused: "page 0 has 1 bands of bool"."""
    images = [(p > p.mean()) for p in _volume(3, seed=3)]
    masks = [(p > p.mean()) for p in _volume(3, seed=4)]
    image_stack = write_stack(tmp_path / "src" / "vol.tif", images, photometric="minisblack")
    mask_stack = write_stack(tmp_path / "src" / "labels.tif", masks, photometric="minisblack")
    report = unstack(image_stack, tmp_path / "out", masks=mask_stack)
    assert report.ok and report.pages == 3
    for row, image, mask in zip(read_manifest(report.manifest_path).rows, images, masks):
        np.testing.assert_array_equal(np.asarray(Image.open(row.image)), image.astype(np.uint8) * 255)
        np.testing.assert_array_equal(np.asarray(Image.open(row.mask)), mask.astype(np.uint8))


def test_rgb_pages_and_an_image_stack_without_masks(tmp_path):
    pages = [np.random.default_rng(i).integers(0, 256, (20, 30, 3), dtype=np.uint8) for i in range(3)]
    stack = write_stack(tmp_path / "rgb.tif", pages, photometric="rgb")
    report = unstack(stack, tmp_path / "out")
    rows = read_manifest(report.manifest_path).rows
    assert [r.mask for r in rows] == [None] * 3
    for row, page in zip(rows, pages):
        np.testing.assert_array_equal(io.read_image(row.image), page)


def test_overview_and_mask_pages_are_no_slices(tmp_path):
    """A cloud-optimised GeoTIFF (rasterio's cogeo.tif: one image, its transparency mask and overviews) was split
    into its mask pages; a stack's trailing mask page became a slice of its own, and a stack with an overview
    after each slice was read as its first slice."""
    full = _volume(1, shape=(64, 80))[0]
    cog = tmp_path / "cog.tif"
    with tifffile.TiffWriter(cog) as tif:
        tif.write(full, photometric="minisblack")
        tif.write(np.ones(full.shape, bool), photometric="mask", subfiletype=4)
        tif.write(full[::2, ::2], photometric="minisblack", subfiletype=1)
    (row,) = read_manifest(unstack(cog, tmp_path / "out").manifest_path).rows  # one image, as a one-page file
    np.testing.assert_array_equal(io.read_image(row.image)[:, :, 0], full)
    volume = _volume(3, shape=(64, 80))
    stack = write_stack(tmp_path / "vol.tif", volume, photometric="minisblack")
    with tifffile.TiffWriter(stack, append=True) as tif:
        tif.write(np.ones(full.shape, bool), photometric="mask", subfiletype=4)
    with pytest.raises(DataprepError, match="a stack of 3 pages of 80x64"):
        io.read_image(stack)
    interleaved = tmp_path / "interleaved.tif"
    with tifffile.TiffWriter(interleaved) as tif:
        for page in volume:
            tif.write(page, photometric="minisblack")
            tif.write(page[::2, ::2], photometric="minisblack", subfiletype=1)
    with pytest.raises(DataprepError, match="a stack of 3 pages of 80x64"):
        io.read_image(interleaved)
    rows = read_manifest(unstack(interleaved, tmp_path / "interleaved_out").manifest_path).rows
    assert [r.extra["page"] for r in rows] == ["0", "1", "2"]  # the slice's number, overviews not counted
    for row, page in zip(rows, volume):
        np.testing.assert_array_equal(io.read_image(row.image)[:, :, 0], page)
    rows = read_manifest(unstack(stack, tmp_path / "vol_out").manifest_path).rows
    assert [r.extra["page"] for r in rows] == ["0", "1", "2"]
    for row, page in zip(rows, volume):
        np.testing.assert_array_equal(io.read_image(row.image)[:, :, 0], page)


def test_volumes_unstacked_into_one_folder_are_all_listed(tmp_path):
    """Two patients' volumes into one DEST, as `kfold --group-column stack` wants them: the second run's
    manifest listed its own 15 slices only, the first volume's left on disk unlisted."""
    for name, seed in (("patA", 0), ("patB", 1)):
        write_stack(tmp_path / "src" / f"{name}.tif", _volume(3, seed=seed), photometric="minisblack")
        write_stack(tmp_path / "src" / f"{name}_lab.tif", _volume(3, seed=seed + 5), photometric="minisblack")
        unstack(tmp_path / "src" / f"{name}.tif", tmp_path / "out", masks=tmp_path / "src" / f"{name}_lab.tif")
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert sorted((r.extra["stack"], r.extra["page"]) for r in rows) == [
        (s, str(p)) for s in ("patA", "patB") for p in range(3)]
    assert all(r.image.is_file() and r.mask.is_file() for r in rows)
    unstack(tmp_path / "src" / "patB.tif", tmp_path / "out", masks=tmp_path / "src" / "patB_lab.tif")  # a rerun
    assert len(read_manifest(tmp_path / "out" / "manifest.csv").rows) == 6
    from dataprep.splits import split_folds

    loose = split_folds(tmp_path / "out" / "manifest.csv", 3, mode="plain", ignore_index=None, quiet=True)
    assert any(w.startswith("slices of 2 of 2 volumes span several folds") for w in loose.warnings)
    grouped = split_folds(tmp_path / "out" / "manifest.csv", 2, mode="plain", group_column="stack", quiet=True)
    assert not [w for w in grouped.warnings if "volumes span" in w]


def test_a_stack_of_another_file_under_a_stem_the_folder_lists_is_refused(tmp_path, cli):
    """patA/raw.tif then patB/raw.tif into one folder: patB's slices replaced patA's rows and files, exit 0."""
    for name, seed in (("patA", 0), ("patB", 1)):
        write_stack(tmp_path / "src" / name / "raw.tif", _volume(3, seed=seed), photometric="minisblack")
    first = tmp_path / "src" / "patA" / "raw.tif"
    unstack(first, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out" / "images").iterdir()}
    result = cli("unstack", tmp_path / "src" / "patB" / "raw.tif", tmp_path / "out")
    assert result.exit_code == 2
    assert (f"error: {tmp_path / 'src' / 'patB' / 'raw.tif'}: {tmp_path / 'out'} lists the pages of another stack "
            f"named 'raw' ({first.resolve()}); these would replace them") in result.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "out" / "images").iterdir()} == before
    unstack(first, tmp_path / "out")  # a rerun of the same stack still replaces its own
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert [r.id for r in rows] == ["raw_0", "raw_1", "raw_2"]
    np.testing.assert_array_equal(read_raster(rows[1].image)[:, :, 0], _volume(3, seed=0)[1])


def test_stacks_that_do_not_pair_up_are_refused(tmp_path):
    image_stack = write_stack(tmp_path / "src" / "vol.tif", _volume(4), photometric="minisblack")
    short = write_stack(tmp_path / "src" / "short.tif", _volume(3), photometric="minisblack")
    with pytest.raises(DataprepError, match=r"short.tif: 3 pages, but the image stack vol.tif has 4"):
        unstack(image_stack, tmp_path / "out", masks=short)
    wrong = write_stack(tmp_path / "src" / "wrong.tif", [*_volume(3), _volume(1, shape=(24, 30))[0]],
                        photometric="minisblack")
    report = unstack(image_stack, tmp_path / "out", masks=wrong)
    assert report.errors == [f"{wrong}: page 3 is 30x24 but image page 3 is 32x24"]
    assert len(read_manifest(report.manifest_path).rows) == 3
    hyper = tmp_path / "src" / "hyper.tif"
    tifffile.imwrite(hyper, np.zeros((4, 2, 24, 32), np.uint8), imagej=True, metadata={"axes": "ZCYX"})
    with pytest.raises(DataprepError, match="hyper.tif: a hyperstack with channels: mask pages must hold one band"):
        unstack(image_stack, tmp_path / "hyper_out", masks=hyper)
    Image.fromarray(_volume(1)[0]).save(tmp_path / "src" / "slice.png")
    with pytest.raises(UsageError, match=r"slice.png: not a TIFF stack \(.tif/.tiff/.stk\)"):
        unstack(tmp_path / "src" / "slice.png", tmp_path / "png_out")


def test_a_refused_mask_page_writes_neither_file_and_a_stack_failing_every_page_writes_nothing(tmp_path):
    image_stack = write_stack(tmp_path / "src" / "vol.tif", _volume(4), photometric="minisblack")
    wrong = write_stack(tmp_path / "src" / "wrong.tif", [*_volume(3), _volume(1, shape=(24, 30))[0]],
                        photometric="minisblack")
    unstack(image_stack, tmp_path / "out", masks=wrong)
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["vol_0.png", "vol_1.png", "vol_2.png"]
    good = write_stack(tmp_path / "src" / "good.tif", _volume(4, seed=5), photometric="minisblack")
    unstack(image_stack, tmp_path / "done", masks=good)
    before = (tmp_path / "done" / "manifest.csv").read_bytes()
    small = write_stack(tmp_path / "src" / "small.tif", _volume(4, shape=(20, 32)), photometric="minisblack")
    for dest in ("fresh", "done"):  # a rerun with the wrong masks keeps the earlier run's rows
        with pytest.raises(DataprepError, match=r"small.tif: page 0 is 32x20 but image page 0 is 32x24 "
                                                r"\(all 4 pages of .*vol.tif failed the same way; nothing written\)"):
            unstack(image_stack, tmp_path / dest, masks=small)
    assert not (tmp_path / "fresh").exists()
    assert (tmp_path / "done" / "manifest.csv").read_bytes() == before


@pytest.mark.parametrize("axes", ["ZCYX", "CZYX", "TZCYX"])
def test_a_hyperstack_gives_one_multiband_image_per_slice(tmp_path, axes):
    """Fluorescence volumes interleave channels page by page: slice z is the C pages of z, as bands."""
    sizes = {"T": 2, "Z": 3, "C": 2, "Y": 24, "X": 32}
    volume = np.random.default_rng(5).integers(0, 4096, [sizes[a] for a in axes], dtype=np.uint16)
    stack = tmp_path / "cells.tif"
    if axes == "CZYX":  # OME-TIFF stores channel-major
        tifffile.imwrite(stack, volume, ome=True, metadata={"axes": axes})
    else:
        tifffile.imwrite(stack, volume, imagej=True, metadata={"axes": axes})
    # The expected slices straight from the array: every axis but C, Y, X in order; channels last.
    expected = np.moveaxis(volume, axes.index("C"), -1).reshape(-1, 24, 32, 2)
    slices = len(expected)
    masks = write_stack(tmp_path / "labels.tif", [(s[:, :, 0] > 2048).astype(np.uint8) for s in expected],
                        photometric="minisblack")
    report = unstack(stack, tmp_path / "out", masks=masks)
    rows = read_manifest(report.manifest_path).rows
    assert report.ok and len(rows) == slices
    for row, want in zip(rows, expected):
        np.testing.assert_array_equal(read_raster(row.image), want)
        np.testing.assert_array_equal(io.read_mask(row.mask), want[:, :, 0] > 2048)


def test_cli_and_worker_processes_give_the_serial_result(tmp_path, cli):
    image_stack = write_stack(tmp_path / "src" / "vol.tif", _volume(9), photometric="minisblack")
    mask_stack = write_stack(tmp_path / "src" / "lab.tif", _volume(9, seed=3), photometric="minisblack")
    result = cli("unstack", image_stack, tmp_path / "serial", "--masks", mask_stack, "-j", "1")
    assert result.exit_code == 0 and "unstack: 9 of 9 pages, 0 failed" in result.output
    with make_executor(2) as executor:
        unstack(image_stack, tmp_path / "pool", masks=mask_stack, executor=executor)
    files = [sorted((p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*") if p.is_file())
             for root in (tmp_path / "serial", tmp_path / "pool")]
    assert files[0] == files[1]
    refused = cli("unstack", image_stack, tmp_path / "src", "--masks", mask_stack)
    assert refused.exit_code == 2 and not (tmp_path / "src" / "manifest.csv").exists()


def test_real_isbi_slices_through_a_stack_and_back(shared_data, tmp_path):
    """ISBI 2012 ships train-volume.tif / train-labels.tif: the 30 real slices, stacked, come back exactly."""
    root = shared_data("isbi2012_membrane/data/membrane/train")
    images = [np.asarray(Image.open(root / "image" / f"{i}.png")) for i in range(30)]
    labels = [np.asarray(Image.open(root / "label" / f"{i}.png")) for i in range(30)]
    volume = write_stack(tmp_path / "train-volume.tif", images, photometric="minisblack")
    with pytest.raises(DataprepError, match="a stack of 30 pages of 512x512"):
        io.read_info(volume)
    report = unstack(volume, tmp_path / "out",
                     masks=write_stack(tmp_path / "train-labels.tif", labels, photometric="minisblack"))
    rows = read_manifest(report.manifest_path).rows
    assert len(rows) == 30
    counts = np.zeros(256, np.int64)
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(io.read_image(row.image)[:, :, 0], images[i])
        mask = io.read_mask(row.mask)
        np.testing.assert_array_equal(mask, labels[i])
        counts += np.bincount(mask.ravel(), minlength=256)
    assert counts.sum() == counts[0] + counts[255] == 30 * 512 * 512  # binary membranes, nothing else
