"""The IO traps: palette PNGs, BGR, EXIF, 16-bit, truncation, atomic writes."""
from __future__ import annotations

import io as pyio
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from dataprep import io
from dataprep.errors import DataprepError


def _save_pil(path, im, **kw):
    im.save(path, **kw)
    return path


def test_palette_png_reads_as_indices_not_colours(tmp_path):
    idx = np.array([[0, 1, 2], [255, 1, 0]], np.uint8)
    im = Image.fromarray(idx, mode="P")
    pal = np.zeros((256, 3), np.uint8)
    pal[1] = (128, 0, 0)
    pal[2] = (0, 128, 0)
    pal[255] = (224, 224, 192)
    im.putpalette(pal.tobytes())
    path = _save_pil(tmp_path / "m.png", im)
    mask = io.read_mask(path)
    assert mask.shape == (2, 3) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, idx)
    np.testing.assert_array_equal(io.read_png_palette(path)[:3], pal[:3])


def _gif(path, indices, table):
    im = Image.fromarray(indices, mode="P")
    im.putpalette(np.asarray(table, np.uint8).tobytes())
    im.save(path, optimize=False)
    assert np.array_equal(np.asarray(Image.open(path)), indices)  # the encoder kept the indices
    return path


def test_grey_gif_reads_as_grey_levels_and_a_colour_gif_as_indices(tmp_path):
    """DRIVE's 1st_manual GIFs: 58 store white vessels at index 251, 20 read as 0/255: one dataset, two values."""
    indices = np.array([[0, 251, 251], [0, 0, 251]], np.uint8)
    table = np.zeros((256, 3), np.uint8)
    table[251] = 255
    table[7] = (200, 10, 10)  # a colour the pixels do not use
    grey = _gif(tmp_path / "vessels.gif", indices, table)
    np.testing.assert_array_equal(io.read_mask(grey), np.where(indices == 251, 255, 0))
    assert io.read_png_palette(grey) is None  # no table: nothing converts it by colour
    table[251] = (0, 0, 255)
    colour = _gif(tmp_path / "blue.gif", indices, table)
    np.testing.assert_array_equal(io.read_mask(colour), indices)
    np.testing.assert_array_equal(io.read_png_palette(colour)[251], (0, 0, 255))
    png = tmp_path / "label.png"  # a label map's white class keeps its index
    im = Image.fromarray(np.array([[0, 1]], np.uint8), mode="P")
    im.putpalette(bytes([0, 0, 0, 255, 255, 255]))
    im.save(png)
    np.testing.assert_array_equal(io.read_mask(png), [[0, 1]])


def test_red_pixel_comes_back_red_not_blue(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # pure red
    for ext in (".png", ".bmp", ".tif"):
        path = tmp_path / f"red{ext}"
        Image.fromarray(rgb).save(path)
        img = io.read_image(path)
        assert img.shape == (4, 5, 3)
        assert (img[..., 0] == 200).all() and (img[..., 1:] == 0).all(), ext
    mask_path = _save_pil(tmp_path / "mask.png", Image.fromarray(rgb))
    assert (io.read_mask(mask_path)[..., 0] == 200).all()


def test_write_image_round_trips_rgb_order(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    io.write_image(tmp_path / "x.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "x.png")), rgb)
    np.testing.assert_array_equal(io.read_image(tmp_path / "x.png"), rgb)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_oriented_jpeg_comes_back_upright(tmp_path, orientation):
    # A picture with an unambiguous "up": a bright top-left quadrant.
    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:20, :30] = 250
    # Store the pixels so that applying `orientation` gives `upright` back.
    stored = _inverse_orientation(upright, orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    img = io.read_image(path)
    assert img.shape == upright.shape
    assert np.abs(img.astype(int) - upright.astype(int)).mean() < 3
    expected = np.asarray(__import__("PIL.ImageOps", fromlist=["x"]).exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(img, expected)
    info = io.read_info(path)
    assert (info.width, info.height) == (60, 40)
    assert info.orientation == orientation


def _inverse_orientation(a, o):
    return {
        1: a, 2: a[:, ::-1], 3: a[::-1, ::-1], 4: a[::-1],
        5: np.swapaxes(a, 0, 1), 6: np.rot90(a, 1), 7: np.swapaxes(a[::-1, ::-1], 0, 1), 8: np.rot90(a, -1),
    }[o].copy()


def test_16bit_png_keeps_values(tmp_path):
    values = np.array([[0, 1, 300], [4095, 40000, 65535]], np.uint16)
    path = tmp_path / "m16.png"
    assert cv2.imwrite(str(path), values)
    mask = io.read_mask(path)
    assert mask.dtype == np.uint16
    np.testing.assert_array_equal(mask, values)
    img = io.read_image(path)
    assert img.dtype == np.uint16 and img.shape == (2, 3, 1)
    np.testing.assert_array_equal(img[..., 0], values)
    io.write_mask(tmp_path / "w16.png", values.astype(np.int64))
    np.testing.assert_array_equal(io.read_mask(tmp_path / "w16.png"), values)


def test_16bit_rgb_image_kept_and_in_rgb_order(tmp_path):
    rgb = np.zeros((3, 3, 3), np.uint16)
    rgb[..., 0] = 60000
    rgb[..., 2] = 7
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), rgb[..., ::-1])  # cv2 writes BGR
    img = io.read_image(path)
    assert img.dtype == np.uint16
    assert (img[..., 0] == 60000).all() and (img[..., 2] == 7).all()


def _with_transparent_black(png: bytes) -> bytes:
    """A 16-bit RGB PNG with a tRNS chunk (black transparent) after its header, as some editors save masks."""
    import struct
    import zlib

    body = b"tRNS" + struct.pack(">HHH", 0, 0, 0)
    return png[:33] + struct.pack(">I", 6) + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


@pytest.mark.parametrize("ext,scale", [(".png", 257), (".png", 256), (".tif", 257), ("tRNS.png", 257)])
def test_16bit_colour_masks_give_the_8bit_colours_they_encode(tmp_path, ext, scale):
    """PIL reads a 48-bit PNG as 8-bit RGB by dropping the low byte: (300, 0, 0) and (511, 0, 0) became one colour."""
    import tifffile

    colours = np.array([[[255, 0, 0], [128, 3, 0]], [[0, 0, 0], [1, 2, 254]]], np.uint8)
    stored = colours.astype(np.uint16) * scale
    path = tmp_path / f"mask16{ext}"
    write = _with_transparent_black if ext.startswith("tRNS") else bytes
    if ext.endswith(".png"):
        path.write_bytes(write(cv2.imencode(".png", stored[..., ::-1])[1].tobytes()))
    else:
        tifffile.imwrite(path, stored, photometric="rgb")
    mask = io.read_mask(path)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, colours)
    stored[1, 0] = (300, 0, 7)
    (tmp_path / "odd.png").write_bytes(write(cv2.imencode(".png", stored[..., ::-1])[1].tobytes()))
    with pytest.raises(DataprepError, match=r"odd.png: 16-bit colour mask with colour \(300, 0, 7\), which no 8-bit"):
        io.read_mask(tmp_path / "odd.png")


def test_netpbm_images_and_masks_read_as_pil_reads_them(tmp_path):
    """STARE ships its photos and vessel labels as binary PPM: they were not even seen by scan."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / "im0001.ppm")
    assert np.array_equal(io.read_image(tmp_path / "im0001.ppm"), np.asarray(Image.open(tmp_path / "im0001.ppm")))
    deep = (np.arange(600).reshape(20, 30) * 100).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.pgm"), deep)
    assert np.array_equal(io.read_image(tmp_path / "deep.pgm")[..., 0], deep)
    info = io.read_info(tmp_path / "deep.pgm")
    assert (info.width, info.height, info.dtype, info.bands) == (30, 20, "uint16", 1)
    labels = np.zeros((20, 30), np.uint8)
    labels[3:9] = 2
    cv2.imwrite(str(tmp_path / "m.pgm"), labels)
    assert np.array_equal(io.read_mask(tmp_path / "m.pgm"), labels)
    (tmp_path / "m.png").write_bytes((tmp_path / "m.pgm").read_bytes())
    assert io.content_mismatch(tmp_path / "m.png") == "PPM data in a .png file"
    assert io.content_mismatch(tmp_path / "m.pgm") is None


def test_grayscale_and_rgba(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    Image.fromarray(gray).save(tmp_path / "g.png")
    assert io.read_image(tmp_path / "g.png").shape == (3, 4, 1)
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert io.read_image(tmp_path / "a.png").shape == (3, 4, 3)
    kept = io.read_image(tmp_path / "a.png", keep_alpha=True)
    assert kept.shape == (3, 4, 4) and (kept[..., 0] == 255).all() and (kept[..., 3] == 128).all()


@pytest.mark.parametrize("kind", ["jpg", "png", "rgba", "rgb16", "gray", "palette", "exif"])
def test_read_pixels_is_read_image_without_swap_or_orientation(tmp_path, kind):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    path = tmp_path / f"{kind}.png"
    if kind == "jpg":
        path = tmp_path / "a.jpg"
        Image.fromarray(rgb).save(path, quality=95)
    elif kind == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6
        path = tmp_path / "o.jpg"
        Image.fromarray(rgb).save(path, exif=exif.tobytes(), quality=95)
    elif kind == "rgba":
        Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 77, np.uint8)])).save(path)
    elif kind == "rgb16":
        cv2.imwrite(str(path), (rgb.astype(np.uint16) * 257)[..., ::-1])
    elif kind == "gray":
        Image.fromarray(rgb[..., 0]).save(path)
    elif kind == "palette":
        Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(path)
    else:
        Image.fromarray(rgb).save(path)
    pixels, bgr = io.read_pixels(path)
    if bgr:
        pixels = pixels[..., ::-1]
    expected = io.read_image(path, apply_exif=False)
    np.testing.assert_array_equal(pixels, expected)
    assert bgr == (expected.shape[2] == 3)  # cv2 decodes every colour format here
    if kind == "exif":
        assert io.read_image(path).shape[:2] == (13, 9)  # read_image turns it upright, read_pixels does not


def test_truncated_jpeg_is_a_one_line_error_naming_the_file(tmp_path):
    buf = pyio.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert io.check_complete(path) == "truncated: JPEG ends without its end-of-image marker"
    whole = tmp_path / "whole.jpg"
    whole.write_bytes(buf.getvalue())
    assert io.check_complete(whole) is None  # the same file, complete: no false alarm
    with pytest.raises(DataprepError) as err:
        io.read_image(path)
    assert str(path) in str(err.value) and "truncated" in str(err.value) and "\n" not in str(err.value)


def _jp2(path, array):
    """`array` written losslessly as JPEG 2000: 8-bit and 16-bit grey by PIL, 16-bit colour by OpenCV (PIL writes
    8-bit colour only)."""
    if array.dtype == np.uint16 and array.ndim == 3:
        assert cv2.imwrite(str(path), array[..., ::-1], [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000])
    else:
        Image.fromarray(array).save(path, irreversible=False)
    return path


@pytest.mark.parametrize("kind", ["grey8", "rgb8", "rgba8", "grey16", "rgb16", "j2k"])
def test_jpeg2000_images_read_as_written_and_their_header_says_so(tmp_path, kind):
    """Sentinel-2's 16-bit bands and GeoNRW's RGB tiles are .jp2: scan left them out unread."""
    rng = np.random.default_rng(3)
    shape = {"grey8": (37, 53), "grey16": (37, 53), "rgba8": (37, 53, 4)}.get(kind, (37, 53, 3))
    dtype = np.uint16 if kind.endswith("16") else np.uint8
    written = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    path = _jp2(tmp_path / ("a.j2k" if kind == "j2k" else "a.jp2"), written)
    assert io.has_extension(path, io.IMAGE_EXTENSIONS) and io.sniff_format(path.read_bytes()[:16]) == "JPEG2000"
    image = io.read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(image, written.reshape(image.shape))  # lossless: the values written, RGB order
    if dtype == np.uint8:  # PIL's own decode agrees (it gives 16-bit colour as 8 bits)
        np.testing.assert_array_equal(image, np.asarray(Image.open(path)).reshape(image.shape))
    info = io.read_info(path)
    assert (info.width, info.height, info.bands, info.dtype) == (53, 37, image.shape[2], str(image.dtype))
    assert io.check_complete(path) is None


def test_a_cut_jpeg2000_is_a_one_line_truncated_error_naming_the_file(tmp_path):
    whole = _jp2(tmp_path / "whole.jp2", np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = whole.read_bytes()
    for name, cut in (("cut.jp2", data[: len(data) // 2]), ("cut.j2k", data[data.index(b"\xff\x4f\xff\x51"):-40])):
        path = tmp_path / name
        path.write_bytes(cut)
        assert (io.check_complete(path) or "").startswith("truncated: JPEG 2000 ")  # scan's header check sees it
        with pytest.raises(DataprepError) as err:
            io.read_image(path)  # PIL said "broken data stream when reading image file"
        assert str(path) in str(err.value) and "truncated" in str(err.value) and "\n" not in str(err.value)


def test_a_jpeg2000_claiming_too_many_pixels_is_refused_from_its_header(tmp_path):
    data = bytearray(_jp2(tmp_path / "a.jp2", np.zeros((40, 40, 3), np.uint8)).read_bytes())
    for marker, offset in ((b"ihdr", 4), (b"\xff\x4f\xff\x51", 8)):  # the JP2 header's size and the codestream's
        at = data.index(marker) + offset
        data[at:at + 8] = (30000).to_bytes(4, "big") * 2
    (tmp_path / "bomb.jp2").write_bytes(bytes(data))
    for read in (io.read_info, io.read_image):  # PIL refused it at twice its limit in its own words
        with pytest.raises(DataprepError, match=r"bomb.jp2: 30000x30000 pixels \(900,000,000\) is over the limit"):
            read(tmp_path / "bomb.jp2")


def test_jpeg2000_is_written_losslessly(tmp_path):
    pixels = np.random.default_rng(5).integers(0, 65536, (33, 40, 3), dtype=np.uint16)
    io.write_image(tmp_path / "a.jp2", pixels)  # OpenCV's default rate kept a quarter of the data
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "a.jp2"), cv2.IMREAD_UNCHANGED)[..., ::-1], pixels)
    with pytest.raises(DataprepError, match="too small for OpenCV's JPEG 2000 writer"):
        io.write_image(tmp_path / "b.jp2", pixels[:9])
    with pytest.raises(DataprepError, match="write JPEG 2000 as .jp2"):
        io.write_image(tmp_path / "c.j2k", pixels)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "junk.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(DataprepError, match="unreadable"):
        io.read_mask(bad)
    with pytest.raises(DataprepError, match="not found"):
        io.read_image(tmp_path / "nope.jpg")


def test_masks_are_never_written_lossy(tmp_path):
    with pytest.raises(DataprepError, match="PNG only"):
        io.write_mask(tmp_path / "m.jpg", np.zeros((2, 2), np.uint8))


def test_write_mask_with_palette_gives_p_mode_png(tmp_path):
    labels = np.array([[0, 1], [2, 255]], np.uint8)
    pal = np.array([[10, 20, 30], [40, 50, 60], [70, 80, 90]], np.uint8)
    io.write_mask(tmp_path / "l.png", labels, palette=pal)
    with Image.open(tmp_path / "l.png") as im:
        assert im.mode == "P"
    np.testing.assert_array_equal(io.read_mask(tmp_path / "l.png"), labels)


def _pil_mask(path):
    from dataprep.io.masks import _mask_array

    with Image.open(path) as im:
        im.load()
        return _mask_array(path, im)


@pytest.mark.parametrize("kind", ["rgb", "rgba", "interlaced", "transparent colour", "la", "gray16"])
def test_png_masks_read_by_opencv_hold_the_values_pil_reads(tmp_path, kind):
    """Colour and label-map PNGs take the OpenCV path; what it cannot read as PIL does goes to PIL: same values."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (37, 53, 3), np.uint8)
    path = tmp_path / "m.png"
    if kind == "rgb":
        Image.fromarray(rgb).save(path)
    elif kind == "rgba":
        Image.fromarray(np.dstack([rgb, rgb[:, :, 0]])).save(path)
    elif kind == "interlaced":
        Image.fromarray(rgb).save(path, interlace=1)
    elif kind == "transparent colour":  # tRNS: OpenCV would add an alpha channel PIL does not
        Image.fromarray(rgb).save(path, transparency=tuple(int(v) for v in rgb[0, 0]))
    elif kind == "la":
        Image.fromarray(rgb[:, :, :2].copy(), mode="LA").save(path)
    else:
        cv2.imwrite(str(path), rgb[:, :, 0].astype(np.uint16) * 200)
    mask = io.read_mask(path)
    expected = _pil_mask(path)
    assert mask.dtype == expected.dtype and mask.shape == expected.shape
    np.testing.assert_array_equal(mask, expected)
    if kind in ("rgb", "interlaced"):
        np.testing.assert_array_equal(mask, rgb)  # red stays red


def test_palette_label_maps_are_valid_p_mode_pngs_with_the_whole_table(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 256, (300, 401)).astype(np.uint8)
    table = rng.integers(0, 256, (20, 3)).astype(np.uint8)
    full = np.zeros((256, 3), np.uint8)
    full[:20] = table
    fallbacks = []
    real_fallback = io.encode._palette_png_with_pil
    monkeypatch.setattr(io.encode, "_palette_png_with_pil", lambda *a: fallbacks.append(1) or real_fallback(*a))
    for how in ("opencv", "pil"):
        if how == "pil":  # an encoder output with chunks the splice does not know falls back to PIL
            real = cv2.imencode

            def with_text_chunk(ext, array, params=()):
                ok, buf = real(ext, array, params)
                data = buf.tobytes()
                text = b"tEXt" + b"k\x00v"
                import zlib

                chunk = len(text[4:]).to_bytes(4, "big") + text + zlib.crc32(text).to_bytes(4, "big")
                return ok, np.frombuffer(data[:33] + chunk + data[33:], np.uint8)

            monkeypatch.setattr(io.encode.cv2, "imencode", with_text_chunk)
        path = tmp_path / f"{how}.png"
        io.write_mask(path, labels, palette=table)
        with Image.open(path) as im:
            im.verify()  # chunk CRCs and structure
        with Image.open(path) as im:
            assert im.mode == "P"
            np.testing.assert_array_equal(np.asarray(im), labels)
            np.testing.assert_array_equal(np.frombuffer(bytes(im.getpalette()), np.uint8).reshape(-1, 3), full)
        # What a viewer shows: every index in its table colour.
        np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1], full[labels])
        np.testing.assert_array_equal(io.read_mask(path), labels)
        assert len(fallbacks) == (how == "pil")


def test_atomic_write_leaves_no_partial_file_when_interrupted(tmp_path):
    target = tmp_path / "out" / "file.bin"
    io.atomic_write_bytes(target, b"old content")

    class Interrupted(BaseException):
        pass

    with pytest.raises(Interrupted):
        with io.atomic_open(target, "wb") as f:
            f.write(b"half of the new")
            raise Interrupted
    assert target.read_bytes() == b"old content"
    assert os.listdir(target.parent) == ["file.bin"]  # no temp file left behind


def test_failed_encode_keeps_previous_output(tmp_path):
    target = tmp_path / "m.png"
    io.write_mask(target, np.zeros((2, 2), np.uint8))
    before = target.read_bytes()
    with pytest.raises(DataprepError, match=r"m\.png: label values -1\.\.-1 do not fit a PNG"):
        io.write_mask(target, np.full((2, 2), -1, np.int32))
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.png"]


def test_strip_suffix_is_not_rstrip():
    assert io.strip_suffix("hog.jpg", ".jpg") == "hog"
    assert "hog.jpg".rstrip(".jpg") == "ho"  # the trap this helper exists for
    assert io.strip_suffix("a_leftImg8bit", "_leftImg8bit") == "a"
    assert io.strip_suffix("abc", "") == "abc"


def test_extensions_are_case_insensitive():
    assert io.has_extension("IMG_0001.JPG", io.IMAGE_EXTENSIONS)
    assert not io.has_extension("notes.txt", io.IMAGE_EXTENSIONS)


def test_exif_found_after_a_large_icc_profile(tmp_path):
    stored = np.zeros((20, 30, 3), np.uint8)
    stored[:, :10] = 250  # bright left edge; orientation 6 turns it to the top
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "icc.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), icc_profile=b"\0" * 70000, quality=95)
    img = io.read_image(path)
    assert img.shape == (30, 20, 3)
    assert img[:8].mean() > 200 and img[-8:].mean() < 50


def test_jpeg_without_exif_is_upright_as_stored(tmp_path):
    stored = np.zeros((20, 30, 3), np.uint8)
    stored[:5] = 250
    io.write_image(tmp_path / "plain.jpg", stored)
    img = io.read_image(tmp_path / "plain.jpg")
    assert img.shape == (20, 30, 3) and img[:4].mean() > 200


def test_whole_files_are_read_to_their_end_whatever_their_size_says(tmp_path):
    from pathlib import Path

    from dataprep.io.formats import read_file_bytes

    empty, data = tmp_path / "empty.png", tmp_path / "data.bin"
    empty.write_bytes(b"")
    data.write_bytes(os.urandom(3 << 20))  # more than one read's worth
    assert read_file_bytes(empty) == b""
    assert read_file_bytes(str(data)) == data.read_bytes()
    status = Path("/proc/self/status")  # size 0 in its metadata, text when read
    if status.exists():
        assert read_file_bytes(status).startswith(b"Name:")
    with pytest.raises(FileNotFoundError):
        read_file_bytes(tmp_path / "missing.png")


def test_a_codec_tifffile_lists_but_cannot_run_is_refused_from_the_header_too(tmp_path):
    """torchgeo's SeasoNet scenes are ZSTD: tifffile lists a ZSTD decoder whatever is installed, so scan passed
    them and stats failed on each with "No module named 'compression'", naming neither ZSTD nor imagecodecs."""
    import importlib.util

    tifffile = pytest.importorskip("tifffile")
    from dataprep.raster import has_decoder

    def importable(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            return False

    runs = importable("imagecodecs") or importable("compression.zstd")
    assert has_decoder(50000) == runs and has_decoder(8)  # ZSTD; Adobe deflate always decodes
    path = tmp_path / "scene.tif"
    tifffile.imwrite(path, np.zeros((8, 10, 3), np.uint16), photometric="minisblack", planarconfig="contig")
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags["Compression"].overwrite(50000)  # marked ZSTD: the header alone decides
    rgb = tmp_path / "rgb.tif"  # an RGB libtiff would read, were the codec libtiff's: OpenCV gave zeros
    tifffile.imwrite(rgb, np.full((8, 10, 3), 90, np.uint8), photometric="rgb")
    with tifffile.TiffFile(rgb, mode="r+b") as tif:
        tif.pages[0].tags["Compression"].overwrite(34933)  # PNG-compressed TIFF
    if not has_decoder(34933):
        with pytest.raises(DataprepError, match=r"PNG-compressed 3-band uint8 TIFF: decoding it needs"):
            io.read_info(rgb)
    if runs:
        pytest.skip("this environment decodes ZSTD")
    with pytest.raises(DataprepError, match=r"ZSTD-compressed 3-band uint16 TIFF: decoding it needs the imagecodecs"):
        io.read_info(path)
    from dataprep.raster import RasterReader

    with RasterReader(path) as reader, pytest.raises(DataprepError, match=r"ZSTD compression here: that needs the "
                                                                         r"imagecodecs package"):
        reader.read(0, 4, 0, 4)  # tile's windows said "No module named 'compression'"


def test_a_tiff_no_reader_here_can_decode_is_refused_from_its_header(tmp_path):
    """torchgeo's L8 Biome scenes (11 bands, LZW): scan passed them on their headers, then stats failed on each;
    without imagecodecs tifffile has no LZW decoder, and libtiff would read 11 bands as one."""
    tifffile = pytest.importorskip("tifffile")
    from tifffile import TIFF

    if 5 in TIFF.DECOMPRESSORS:
        pytest.skip("this tifffile decodes LZW (imagecodecs installed)")
    path = tmp_path / "scene.tif"
    tifffile.imwrite(path, np.zeros((8, 10, 11), np.uint8), photometric="minisblack", planarconfig="contig")
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags["Compression"].overwrite(5)  # marked LZW: the header alone decides
    with pytest.raises(DataprepError, match=r"LZW-compressed 11-band uint8 TIFF: decoding it needs the imagecodecs"):
        io.read_info(path)
    rgb = tmp_path / "rgb.tif"  # gray and RGB TIFFs libtiff reads right: no refusal, OpenCV decodes them
    tifffile.imwrite(rgb, np.zeros((8, 10, 3), np.uint8), photometric="rgb")
    with tifffile.TiffFile(rgb, mode="r+b") as tif:
        tif.pages[0].tags["Compression"].overwrite(5)
    assert io.read_info(rgb).bands == 3


def test_a_truncated_png_image_is_one_error_and_trailing_bytes_keep_16_bits(tmp_path, capfd):
    """stats and tile printed OpenCV's '[ WARN:0@0.075] ... PNG input buffer is incomplete' above the error."""
    rgb16 = (np.arange(8 * 10 * 3).reshape(8, 10, 3) * 997 % 65536).astype(np.uint16)
    whole = tmp_path / "whole.png"
    cv2.imwrite(str(whole), rgb16[:, :, ::-1])
    data = whole.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    capfd.readouterr()
    with pytest.raises(DataprepError, match="truncated"):
        io.read_image(tmp_path / "cut.png")
    (tmp_path / "tail.png").write_bytes(data + b"\x00" * 16)  # junk after IEND: read, all 16 bits
    np.testing.assert_array_equal(io.read_image(tmp_path / "tail.png"), rgb16)
    assert capfd.readouterr().err == ""


def test_an_atomic_write_to_a_device_writes_through_it_and_keeps_it():
    """`stats -o /dev/full` as root renamed a JSON file over the device (exit 0); /dev/null is a common -o."""
    import stat

    io.atomic_write_text(os.devnull, "{}\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    if os.path.exists("/dev/full"):
        with pytest.raises(DataprepError, match="No space left on device"):
            io.atomic_write_text("/dev/full", "{}\n")
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize("suffix", [".bmp", ".tif"])
def test_check_complete_finds_a_bmp_or_tiff_cut_short(tmp_path, suffix):
    """SUIM's BMP masks: one cut in half passed scan's header check and failed later, in masks2labels."""
    from dataprep.io import check_complete

    rng = np.random.default_rng(0)
    path = tmp_path / f"m{suffix}"
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), np.uint8)).save(path)
    assert check_complete(path) is None
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    reason = check_complete(path)
    assert reason is not None and reason.startswith(f"truncated: {suffix[1:].upper().replace('TIF', 'TIFF')} holds "
                                                    f"{len(whole) // 2:,} of")
    path.write_bytes(whole + b"\0" * 10)  # trailing bytes are no truncation
    assert check_complete(path) is None
    if suffix == ".bmp":  # a header whose file size is a few bytes long: the rows are all there
        stated = bytearray(whole)
        stated[2:6] = (len(whole) + 2).to_bytes(4, "little")
        path.write_bytes(bytes(stated))
        assert check_complete(path) is None


def test_a_tiff_whose_directory_follows_the_pixels_is_found_cut_short(tmp_path):
    from dataprep.io import check_complete

    path = tmp_path / "end.tif"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path, compression="tiff_lzw")
    whole = path.read_bytes()
    assert int.from_bytes(whole[4:8], "little") > len(whole) // 2  # PIL's libtiff writes the directory last
    path.write_bytes(whole[: len(whole) // 2])
    assert check_complete(path) == (f"truncated: TIFF holds {len(whole) // 2:,} bytes, its first directory starts at "
                                    f"{int.from_bytes(whole[4:8], 'little'):,}")


def test_a_tiff_whose_directory_chain_loops_back_is_read_and_scanned_in_bounded_time(tmp_path):
    """A last directory pointing back at the first (Pillow's multipage_single_frame_loop.tiff): iterating
    tifffile's pages never ended, so scan and every reader hung at 100% CPU."""
    import struct
    import subprocess
    import sys

    import tifffile

    path = tmp_path / "ds" / "masks" / "a.tif"
    path.parent.mkdir(parents=True)
    tifffile.imwrite(path, np.arange(100, dtype=np.uint8).reshape(10, 10) % 3)
    data = bytearray(path.read_bytes())
    assert data[:2] == b"II" and struct.unpack_from("<H", data, 2)[0] == 42
    first = struct.unpack_from("<I", data, 4)[0]
    entries = struct.unpack_from("<H", data, first)[0]
    struct.pack_into("<I", data, first + 2 + 12 * entries, first)  # next directory: the first again
    path.write_bytes(bytes(data))
    io.write_image(tmp_path / "ds" / "images" / "a.png", np.zeros((10, 10, 3), np.uint8))
    code = ("import sys; from dataprep import io; from dataprep.scan import scan; "
            f"m = io.read_mask({str(path)!r}); print(m.shape, int(m.max())); "
            f"r = scan({str(tmp_path / 'ds')!r}); print(len(r.rows))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(10,", "10)", "2", "1"]


@pytest.mark.parametrize("ext, shape, says", [
    (".jpg", (1, 65501), "a 65501x1 image is too large for .jpg (65,500 pixels a side at most): "
                         "write it as PNG or TIFF"),
    (".png", (1_000_001, 1), "a 1x1000001 image is too large for .png (1,000,000 pixels a side at most): "
                             "write it as TIFF"),
])
def test_an_image_too_large_for_its_format_is_one_clear_error(capfd, ext, shape, says):
    with pytest.raises(DataprepError) as err:
        io.encode_image(np.zeros(shape, np.uint8), ext)
    assert str(err.value) == f"<{ext}>: {says}, or make it smaller"
    assert "[ERROR" not in capfd.readouterr().err  # OpenCV's log, 6 lines per file
    assert len(io.encode_image(np.zeros((1, 65500), np.uint8), ".jpg")) > 0  # the limit itself is written
