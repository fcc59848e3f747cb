"""Files the common decoders misread, read as stored: compressed TIFFs with an Orientation tag (libtiff turns them
in part), 1-bit and palette TIFFs, TIFFs without a photometric tag, low-bit and grey + alpha PNG masks.

Expected pixels come from numpy here, never from dataprep's own orientation or scaling code.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image, TiffImagePlugin

from dataprep import io


def _upright(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for TIFF/EXIF orientation 1..8 (rows top to bottom, columns left to right)."""
    return {1: stored, 2: np.fliplr(stored), 3: np.rot90(stored, 2), 4: np.flipud(stored),
            5: np.transpose(stored, (1, 0, 2)), 6: np.rot90(stored, -1),
            7: np.rot90(np.transpose(stored, (1, 0, 2)), 2), 8: np.rot90(stored, 1)}[orientation]


def _save_tiff(path, im: Image.Image, orientation: int, compression: str | None) -> None:
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[274] = orientation
    im.save(path, tiffinfo=tags, **({"compression": compression} if compression else {}))


def _quarters(rng: np.random.Generator, height: int = 6, width: int = 10) -> np.ndarray:
    return rng.integers(0, 4, (height, width)).astype(np.uint8)  # no symmetry: any wrong turn shows


@pytest.mark.parametrize("mode,compression", [("RGB", "tiff_lzw"), ("L", "tiff_lzw"), ("RGBA", "tiff_lzw"),
                                              ("RGB", "jpeg"), ("L", "tiff_adobe_deflate")])
def test_a_compressed_tiff_with_an_orientation_tag_is_turned_upright_once(tmp_path, mode, compression):
    """Without imagecodecs, OpenCV's libtiff decodes LZW/JPEG TIFFs, and it honours the tag in part: an LZW
    photo tagged 3 came back as stored (turned twice) and one tagged 6 was refused for its swapped size."""
    classes = _quarters(np.random.default_rng(3))
    colours = np.array([[200, 20, 60, 255], [20, 200, 60, 255], [60, 20, 200, 255], [250, 250, 10, 255]], np.uint8)
    pixels = colours[classes][:, :, : len(mode)] if mode != "L" else (classes * 70)[:, :, None]
    im = Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode)
    _save_tiff(tmp_path / "o1.tif", im, 1, compression)
    stored = np.asarray(Image.open(tmp_path / "o1.tif"))  # JPEG: the decoded pixels, not the ones saved
    stored = stored[:, :, None] if stored.ndim == 2 else stored
    for orientation in range(1, 9):
        path = tmp_path / f"o{orientation}.tif"
        _save_tiff(path, im, orientation, compression)
        expected = _upright(stored, orientation)
        image = io.read_image(path, keep_alpha=True)
        assert image.shape == expected.shape, orientation
        np.testing.assert_array_equal(image, expected, err_msg=f"orientation {orientation}")
        info = io.read_info(path)
        assert (info.height, info.width, info.orientation) == (*expected.shape[:2], orientation)
        # Masks are read as stored, whatever decoded them.
        np.testing.assert_array_equal(io.read_mask(path), stored[:, :, 0] if mode == "L" else stored)


@pytest.mark.parametrize("compression", [None, "packbits", "tiff_lzw", "group4"])
def test_one_bit_tiffs_read_as_0_255_images_and_0_1_masks(tmp_path, compression):
    """tifffile gives 1-bit TIFFs as bools: read_mask refused them ("mask is bool") and read_image passed bools
    on; LZW and G4 ones were refused by read_info for want of imagecodecs while OpenCV decodes them."""
    bits = _quarters(np.random.default_rng(4)) > 1
    im = Image.fromarray(bits.astype(np.uint8) * 255).convert("1")
    for orientation in (1, 6):
        path = tmp_path / f"b{orientation}.tif"
        _save_tiff(path, im, orientation, compression)
        mask = io.read_mask(path)
        assert mask.dtype == np.uint8
        np.testing.assert_array_equal(mask, bits.astype(np.uint8))
        image = io.read_image(path)
        assert image.dtype == np.uint8
        np.testing.assert_array_equal(image, _upright(bits[:, :, None].astype(np.uint8) * 255, orientation))
        info = io.read_info(path)
        assert (info.bands, info.dtype, info.height, info.width) == (1, "uint8", *image.shape[:2])


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_a_palette_tiff_mask_reads_as_its_indices_and_the_image_as_its_colours(tmp_path, compression):
    """read_mask gave a palette TIFF label map's colours (H, W, 3) where the docs promise its indices; PIL, which
    decodes LZW ones here, turned them by their Orientation tag in part."""
    indices = _quarters(np.random.default_rng(5))
    table = np.zeros((256, 3), np.uint8)
    table[1:4] = [[200, 0, 0], [0, 200, 0], [0, 0, 200]]
    im = Image.fromarray(indices, "P")
    im.putpalette(table.tobytes())
    for orientation in (1, 3, 6):
        path = tmp_path / f"labels{orientation}.tif"
        _save_tiff(path, im, orientation, compression)
        mask = io.read_mask(path)
        assert mask.shape == indices.shape
        np.testing.assert_array_equal(mask, indices)
        np.testing.assert_array_equal(io.read_image(path), _upright(table[indices], orientation))


def test_a_tiff_without_a_photometric_tag_reads_as_stored(tmp_path):
    """Pillow's 10ct_32bit_128.tiff has no PhotometricInterpretation: every reader crashed with AttributeError."""
    values = np.random.default_rng(6).normal(size=(12, 9)).astype(np.float32)
    path = tmp_path / "no_photometric.tif"
    tifffile.imwrite(path, values, photometric="minisblack", metadata=None)
    data = bytearray(path.read_bytes())
    first = int.from_bytes(data[4:8], "little")
    entries = int.from_bytes(data[first : first + 2], "little")
    for pos in range(first + 2, first + 2 + 12 * entries, 12):
        if int.from_bytes(data[pos : pos + 2], "little") == 262:
            data[pos : pos + 2] = (65000).to_bytes(2, "little")  # a private tag now: the file has no photometric
    path.write_bytes(bytes(data))
    with tifffile.TiffFile(path) as tif:
        assert 262 not in tif.pages[0].tags
    np.testing.assert_array_equal(io.read_image(path)[:, :, 0], values)
    info = io.read_info(path)
    assert (info.width, info.height, info.bands, info.dtype) == (9, 12, 1, "float32")
    with pytest.raises(io.DataprepError, match="no_photometric.tif: mask is float32 with values that are not whole"):
        io.read_mask(path)


def _png(path, samples: np.ndarray, colour_type: int, depth: int) -> None:
    """A non-interlaced PNG of raw samples (H, W[, C]) at any bit depth: PIL writes neither 2-bit grey nor
    16-bit grey + alpha."""
    height, width = samples.shape[:2]
    if depth == 16:
        rows = [row.astype(">u2").tobytes() for row in samples]
    elif depth == 8:
        rows = [row.astype(np.uint8).tobytes() for row in samples]
    else:
        bits = np.unpackbits(samples.astype(np.uint8)[:, :, None], axis=2)[:, :, 8 - depth :]
        rows = [np.packbits(row.ravel()).tobytes() for row in bits]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    scanlines = b"".join(b"\x00" + row for row in rows)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_low_bit_grey_png_masks_keep_their_stored_classes(tmp_path, depth):
    """PIL scales 2- and 4-bit grey to 0..255: a 2-bit label map's class 3 came back as 255, the ignore index."""
    classes = np.random.default_rng(depth).integers(0, 2 ** depth, (7, 13)).astype(np.uint8)
    path = tmp_path / f"labels{depth}.png"
    _png(path, classes, 0, depth)
    mask = io.read_mask(path)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, classes)
    # Images are shown as every viewer shows them: stretched to 0..255.
    np.testing.assert_array_equal(io.read_image(path)[:, :, 0], classes * (255 // (2 ** depth - 1)))


@pytest.mark.parametrize("depth", [8, 16])
def test_grey_alpha_png_masks_are_their_grey_band_at_full_depth(tmp_path, depth):
    """PIL opens 16-bit grey + alpha as 8-bit RGBA: labels 0, 1, 2, 300 became 0, 0, 0, 1, merged classes."""
    labels = np.array([[0, 1, 2, 300 if depth == 16 else 200]] * 3)
    samples = np.dstack([labels, np.full_like(labels, 2 ** depth - 1)])
    path = tmp_path / "labels.png"
    _png(path, samples, 4, depth)
    mask = io.read_mask(path)
    assert mask.dtype == (np.uint16 if depth == 16 else np.uint8)
    np.testing.assert_array_equal(mask, labels)


def test_a_one_bit_png_only_pil_decodes_is_an_image_of_0_and_255(tmp_path, capfd):
    """A 1-bit PNG with a bad IDAT checksum (PngSuite's xcsn0g01): OpenCV refuses it, PIL reads it, and
    read_image returned PIL's bools."""
    bits = np.random.default_rng(7).integers(0, 2, (5, 9)).astype(np.uint8)
    path = tmp_path / "bad_crc.png"
    _png(path, bits, 0, 1)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + length] ^= 0xFF  # the checksum, not the pixels
    path.write_bytes(bytes(data))
    image = io.read_image(path)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image[:, :, 0], bits * 255)
    np.testing.assert_array_equal(io.read_mask(path), bits)


def _tagged_min_is_white(path) -> None:
    """Rewrites a little-endian TIFF's PhotometricInterpretation to 0 (min-is-white), its samples untouched."""
    data = bytearray(path.read_bytes())
    first = int.from_bytes(data[4:8], "little")
    for pos in range(first + 2, first + 2 + 12 * int.from_bytes(data[first : first + 2], "little"), 12):
        if int.from_bytes(data[pos : pos + 2], "little") == 262:
            data[pos + 8 : pos + 10] = (0).to_bytes(2, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_a_min_is_white_tiff_mask_keeps_its_labels_and_its_image_reads_as_shown(tmp_path, compression):
    """ImageJ saves masks with an inverting LUT as min-is-white: PIL and OpenCV invert them, so objects (255) and
    background (0) swapped places, and a label map's class 0 became 255, the ignore index."""
    from dataprep.raster import RasterReader

    labels = np.array([[0, 1, 2, 3, 200, 255]] * 4, np.uint8)
    bits = labels % 2 == 1
    for name, im, stored, shown in [
        ("labels.tif", Image.fromarray(labels), labels, 255 - labels),
        ("bits.tif", Image.fromarray(bits.astype(np.uint8) * 255).convert("1"), bits.astype(np.uint8),
         np.where(bits, 0, 255).astype(np.uint8)),
    ]:
        path = tmp_path / name
        im.save(path, **({"compression": compression} if compression else {}))
        _tagged_min_is_white(path)
        with tifffile.TiffFile(path) as tif:
            assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.MINISWHITE
        np.testing.assert_array_equal(io.read_mask(path), stored)
        np.testing.assert_array_equal(io.read_image(path)[:, :, 0], shown)
        with RasterReader(path) as reader:  # tile, resize and stitch read through it, and write min-is-black
            np.testing.assert_array_equal(reader.read(0, 4, 1, 5)[:, :, 0], shown[:, 1:5])
            assert reader.photometric == "minisblack"


@pytest.mark.parametrize("maxval", [1, 3, 15, 1023])
def test_a_pgm_mask_of_any_maxval_keeps_its_stored_labels(tmp_path, maxval):
    """PIL stretches a PGM of maxval 1 to 0/255 (labels 0/1 became background and ignore), maxval 3 to 0..255."""
    labels = np.random.default_rng(maxval).integers(0, maxval + 1, (5, 7))
    dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
    path = tmp_path / "labels.pgm"
    path.write_bytes(b"P5\n# a comment\n7 5\n%d\n" % maxval + labels.astype(dtype).tobytes())
    mask = io.read_mask(path)
    assert mask.dtype == (np.uint16 if maxval > 255 else np.uint8)
    np.testing.assert_array_equal(mask, labels)
    np.testing.assert_array_equal(io.read_image(path)[:, :, 0], labels)  # one reading for both


def _palette_bmp(path, indices: np.ndarray, bits: int, table: list[tuple[int, int, int]]) -> None:
    """An uncompressed palette BMP written field by field (bottom-up rows, each padded to 4 bytes)."""
    height, width = indices.shape
    stride = (width * bits + 31) // 32 * 4
    rows = b""
    for row in indices[::-1]:
        packed = np.packbits(np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - bits :].ravel()).tobytes()
        rows += packed.ljust(stride, b"\x00")
    colours = b"".join(bytes((b, g, r, 0)) for r, g, b in table)
    offset = 14 + 40 + len(colours)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, len(rows), 2835, 2835, len(table), 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + colours + rows)


@pytest.mark.parametrize("bits,table", [(8, [(0, 0, 0), (255, 255, 255)]), (4, [(0, 0, 0), (255, 255, 255)]),
                                        (4, [(i, i, i) for i in range(16)]), (8, [(200, 0, 0), (0, 0, 200)])])
def test_a_palette_bmp_mask_reads_as_its_indices_whatever_its_table(tmp_path, bits, table):
    """PIL drops a grey table and unpacks the pixels as 1- or 8-bit: an 8-bit BMP mask with a black/white table
    came back all zeros, a 4-bit grey one as 'codec configuration error'."""
    indices = np.random.default_rng(bits).integers(0, len(table), (3, 5))
    path = tmp_path / "mask.bmp"
    _palette_bmp(path, indices, bits, table)
    np.testing.assert_array_equal(io.read_mask(path), indices)
    image = io.read_image(path)
    assert image.shape[2] == (1 if all(r == g == b for r, g, b in table) else 3)  # OpenCV: grey tables as grey
    np.testing.assert_array_equal(image, np.array(table, np.uint8)[indices][:, :, : image.shape[2]])


def test_bmps_opencv_misreads_are_read_by_pil(tmp_path):
    """OpenCV read a 32-bit BI_BITFIELDS BMP (masks after a 40-byte header) as BGRA with a junk alpha of 0, and an
    OS/2 1.x palette BMP (3-byte colours) as scrambled grey, without an error."""
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 256, (3, 5, 3)).astype(np.uint8)
    pixels = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    rows = pixels[::-1].astype("<u4").tobytes()
    masks = struct.pack("<III", 0xFF0000, 0xFF00, 0xFF)
    info = struct.pack("<IiiHHIIiiII", 40, 5, 3, 1, 32, 3, len(rows), 2835, 2835, 0, 0)
    offset = 14 + len(info) + len(masks)
    (tmp_path / "bitfields.bmp").write_bytes(b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info
                                             + masks + rows)
    np.testing.assert_array_equal(io.read_image(tmp_path / "bitfields.bmp", keep_alpha=True), rgb)
    assert io.read_info(tmp_path / "bitfields.bmp").bands == 3

    table = rng.integers(0, 256, (256, 3)).astype(np.uint8)
    indices = rng.integers(0, 256, (3, 8)).astype(np.uint8)  # 8 columns: rows need no padding
    core = struct.pack("<IHHHH", 12, 8, 3, 1, 8)
    colours = table[:, ::-1].tobytes()  # BGR, 3 bytes each
    offset = 14 + len(core) + len(colours)
    body = indices[::-1].tobytes()
    (tmp_path / "os2.bmp").write_bytes(b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + core
                                       + colours + body)
    np.testing.assert_array_equal(io.read_image(tmp_path / "os2.bmp"), table[indices])


def test_an_exif_chunk_after_the_pixels_of_a_png_turns_it(tmp_path):
    """PNG allows eXIf after IDAT (PIL honours it there): read_image and read_info ignored it."""
    from PIL import Image

    pixels = np.random.default_rng(9).integers(0, 256, (4, 6, 3)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    raw = exif.tobytes()
    path = tmp_path / "turned.png"
    Image.fromarray(pixels).save(path)
    data = path.read_bytes()
    chunk = struct.pack(">I", len(raw)) + b"eXIf" + raw + struct.pack(">I", zlib.crc32(b"eXIf" + raw))
    path.write_bytes(data[:-12] + chunk + data[-12:])  # just before IEND
    assert data.index(b"IDAT") < path.read_bytes().index(b"eXIf")
    np.testing.assert_array_equal(io.read_image(path), np.rot90(pixels, -1))
    info = io.read_info(path)
    assert (info.orientation, info.width, info.height) == (6, 4, 6)


def test_a_format_pil_has_no_codec_for_is_a_one_line_error(tmp_path):
    """A DDS of a DXGI format PIL lacks raised NotImplementedError, a traceback, from every reader."""
    header = bytearray(124)
    struct.pack_into("<IIIIIII", header, 0, 124, 0x1007, 4, 4, 16, 0, 1)
    struct.pack_into("<II4s", header, 72, 32, 0x4, b"DX10")  # the pixel format: a DX10 header follows
    path = tmp_path / "bc6.dds"
    path.write_bytes(b"DDS " + bytes(header) + struct.pack("<IIIII", 93, 3, 0, 1, 0) + bytes(64))
    for read in (io.read_image, io.read_mask, io.read_info):
        with pytest.raises(io.DataprepError, match="bc6.dds: unreadable: Unimplemented DXGI format 93"):
            read(path)
    assert io.read_mask_palette(path) is None


def test_a_16_bit_ppm_colour_mask_gives_its_exact_colours_or_is_refused(tmp_path):
    """PIL cut a 16-bit PPM's colours to 8 bits (4095 -> 255, merging colours) and read_info said uint8."""
    colours = np.random.default_rng(10).integers(0, 256, (4, 6, 3))
    path = tmp_path / "colours.ppm"
    path.write_bytes(b"P6\n6 4\n65535\n" + (colours * 257).astype(">u2").tobytes())
    np.testing.assert_array_equal(io.read_mask(path), colours)
    assert io.read_info(path).dtype == "uint16" and io.read_image(path).dtype == np.uint16
    path.write_bytes(b"P6\n6 4\n4095\n" + (colours * 16).astype(">u2").tobytes())
    with pytest.raises(io.DataprepError, match="colours.ppm: 16-bit colour mask with colour"):
        io.read_mask(path)


def test_read_info_says_the_bands_read_image_gives_for_transparent_colours_and_grey_alpha(tmp_path):
    """An RGB PNG with a transparent colour came back with 4 bands while read_info said 3; a grey + alpha TGA (read
    by PIL) with 2 while read_info said 4, as OpenCV gives a grey + alpha PNG."""
    from PIL import Image

    rgb = np.random.default_rng(11).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "key.png", transparency=tuple(int(v) for v in rgb[0, 0]))
    grey = np.random.default_rng(12).integers(0, 256, (5, 7, 2)).astype(np.uint8)
    Image.fromarray(grey, "LA").save(tmp_path / "grey.tga")
    for name, colours in (("key.png", rgb), ("grey.tga", np.repeat(grey[:, :, :1], 3, axis=2))):
        info = io.read_info(tmp_path / name)
        with_alpha = io.read_image(tmp_path / name, keep_alpha=True)
        assert (info.bands, info.alpha) == (with_alpha.shape[2], True), name
        np.testing.assert_array_equal(io.read_image(tmp_path / name), colours)


def _grey_tiff(path, samples: np.ndarray, bits: int, photometric: int) -> None:
    """An uncompressed one-strip grey TIFF of `bits` per sample, written tag by tag (tifffile writes no 2-bit)."""
    height, width = samples.shape
    packed = np.unpackbits(samples.astype(np.uint8)[:, :, None], axis=2)[:, :, 8 - bits :].reshape(height, -1)
    rows = b"".join(np.packbits(row).tobytes() for row in packed)  # each row padded to a byte
    tags = [(256, 3, width), (257, 3, height), (258, 3, bits), (259, 3, 1), (262, 3, photometric),
            (273, 4, 8), (277, 3, 1), (278, 3, height), (279, 4, len(rows))]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", t, k, 1, v) for t, k, v in tags)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8 + len(rows)) + rows + ifd + b"\x00" * 4)


@pytest.mark.parametrize("bits,photometric", [(2, 1), (4, 1), (2, 0), (4, 0)])
def test_low_bit_grey_tiffs_read_as_shown_and_masks_as_stored(tmp_path, bits, photometric):
    """tifffile needs imagecodecs for 2- and 4-bit samples and OpenCV decodes none: images were refused, and PIL
    stretched (and, min-is-white, inverted) the masks' classes."""
    classes = np.random.default_rng(bits + photometric).integers(0, 2**bits, (5, 9))
    path = tmp_path / "labels.tif"
    _grey_tiff(path, classes, bits, photometric)
    np.testing.assert_array_equal(io.read_mask(path), classes)
    shown = classes * (255 // (2**bits - 1))
    np.testing.assert_array_equal(io.read_image(path)[:, :, 0], shown if photometric == 1 else 255 - shown)


def test_planar_16_bit_colour_is_never_left_to_opencv(tmp_path):
    """OpenCV decodes planar (PlanarConfiguration 2) 16-bit RGB to other values, changing from run to run (Pillow's
    tiff_strip_planar_16bit_RGB.tiff, LZW): without imagecodecs such a file is refused, not read through it."""
    from dataprep.raster import RasterReader

    planes = np.random.default_rng(13).integers(0, 65536, (3, 6, 8)).astype(np.uint16)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, planes, photometric="rgb", planarconfig="separate", metadata=None)
    np.testing.assert_array_equal(io.read_image(path), np.moveaxis(planes, 0, -1))  # tifffile's own reading
    with RasterReader(path) as reader:
        assert not reader.libtiff_reads_right
    tifffile.imwrite(path, planes.astype(np.uint8), photometric="rgb", planarconfig="separate", metadata=None)
    with RasterReader(path) as reader:
        assert reader.libtiff_reads_right  # 8-bit planar: OpenCV reads it right


def test_a_16_bit_colour_tiff_mask_no_reader_here_decodes_is_refused_not_cut_to_8_bits(tmp_path, monkeypatch):
    """When tifffile lacks the codec (LZW without imagecodecs) and OpenCV misreads the layout, PIL read the mask:
    16-bit colours cut to 8 bits, classes merged without a word."""
    from dataprep.errors import DataprepError
    from dataprep.raster import RasterReader

    colours = np.random.default_rng(14).integers(0, 256, (6, 8, 3)).astype(np.uint16) * 257
    path = tmp_path / "colours.tif"
    tifffile.imwrite(path, colours, photometric="rgb", metadata=None)

    def no_codec(self):
        raise DataprepError(self.path, "cannot decode: <COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    monkeypatch.setattr(RasterReader, "read_all", no_codec)
    with pytest.raises(DataprepError, match="colours.tif: cannot decode"):
        io.read_mask(path)


def test_a_broken_pgm_mask_error_names_the_file_not_a_buffer(tmp_path):
    """PIL, handed the bytes read for OpenCV, said `cannot identify image file <_io.BytesIO object at 0x...>`."""
    path = tmp_path / "broken.pgm"
    path.write_bytes(b"P5\n-1 5\n255\n" + bytes(20))
    with pytest.raises(io.DataprepError) as caught:
        io.read_mask(path)
    assert str(caught.value).startswith(f"{path}: unreadable") and "BytesIO" not in str(caught.value)


def _write_float_mask(path, values: np.ndarray, container: str) -> None:
    if container == "npy":
        np.save(path, values)
    elif container == "tifffile":
        tifffile.imwrite(path, values, photometric="minisblack")
    else:  # PIL mode "F", LZW: without imagecodecs tifffile cannot decode it and PIL reads it
        Image.fromarray(values, mode="F").save(path, compression="tiff_lzw")


_CONTAINERS = {"npy": ".npy", "tifffile": ".tif", "pil": ".tif"}


@pytest.mark.parametrize("container", sorted(_CONTAINERS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("high,low,expected", [(1, 0, np.uint8), (11, 0, np.uint8), (255, 0, np.uint8),
                                               (300, 0, np.uint16), (65535, 0, np.uint16), (11, -1, np.int16),
                                               (300, -100, np.int16)])
def test_a_float_mask_of_whole_numbers_reads_as_its_integer_classes(tmp_path, container, dtype, high, low,
                                                                     expected):
    """NIfTI conversions and numpy saves store label maps as float 0.0/1.0 or 0..N: refused as float, or read as
    float and refused later by stats ("label map must be a 2-D integer array")."""
    if container == "pil" and dtype != np.float32 or dtype == np.float16 and high > 2048:
        pytest.skip("PIL's mode F is float32 alone; float16 holds whole numbers exactly up to 2048")
    rng = np.random.default_rng(high)
    classes = rng.integers(low, high + 1, (13, 17), dtype=np.int64)
    classes.flat[:2] = low, high  # both ends present: they decide the integer type
    path = tmp_path / f"m{_CONTAINERS[container]}"
    _write_float_mask(path, classes.astype(dtype), container)
    mask = io.read_mask(path)
    assert mask.dtype == expected
    np.testing.assert_array_equal(mask.astype(np.int64), classes)


@pytest.mark.parametrize("container", sorted(_CONTAINERS))
@pytest.mark.parametrize("value,reason", [
    (0.37, "mask is float32 with values that are not whole numbers (0.37): a probability map? threshold it to "
           "class indices first"),
    (-0.5, "mask is float32 with values that are not whole numbers (-0.5): a probability map?"),
    (np.nan, "mask is float32 and holds NaN: no class index"),
    (np.inf, "mask is float32 and holds inf: no class index"),
    (-np.inf, "mask is float32 and holds -inf: no class index"),
    (70000.0, "mask is float32 with values outside 0..65535 (70000): no class index"),
    (-40000.0, "mask is float32 with values -40000..1: class indices are 0..65535, and negative ones"),
])
def test_a_float_mask_holding_no_class_indices_is_refused_naming_the_file_and_a_value(tmp_path, container, value,
                                                                                    reason):
    """A probability map rounded or cut to integers would invent classes; NaN has no class to become."""
    values = np.random.default_rng(4).integers(0, 2, (9, 11)).astype(np.float32)
    values[3, 4] = value
    path = tmp_path / f"m{_CONTAINERS[container]}"
    _write_float_mask(path, values, container)
    with pytest.raises(io.DataprepError) as caught:
        io.read_mask(path)
    assert str(caught.value).startswith(f"{path}: {reason}")
    assert "\n" not in str(caught.value)
