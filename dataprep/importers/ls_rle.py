"""Label Studio's brush RLE (the `rle` of a `brushlabels` result): decoding, and encoding for tests.

Label Studio packs the brush canvas, RGBA bytes row by row, with thi.ng's
rle-pack: a bit stream, most significant bit first, holding the value count
(32 bits), the word size - 1 (5 bits), four run-length field sizes - 1 (4 bits
each), then records: 1 bit "repeat", 2 bits choosing a field size, the run
length - 1 in that many bits, and either one word (repeat) or that many words.
label-studio-converter's `brush.decode_rle` reads it one bit-string slice at a
time; here every literal block is read with one numpy call.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(data, np.uint8))
        self.pos = 0

    def read(self, size: int) -> int:
        end = self.pos + size
        if end > len(self.bits):
            raise ValueError("brush RLE ends in the middle of a record")
        value = 0
        for bit in self.bits[self.pos:end].tolist():
            value = (value << 1) | bit
        self.pos = end
        return value

    def read_words(self, count: int, size: int) -> np.ndarray:
        end = self.pos + count * size
        if end > len(self.bits):
            raise ValueError("brush RLE ends in the middle of a record")
        block = self.bits[self.pos:end].reshape(count, size).astype(np.int64)
        self.pos = end
        return block @ (1 << np.arange(size - 1, -1, -1, dtype=np.int64))


def decode_brush_rle(rle: Sequence[int]) -> np.ndarray:
    """The decoded values (uint8), e.g. height * width * 4 RGBA bytes for a brush mask."""
    if not all(isinstance(v, int) and 0 <= v < 256 for v in rle):
        raise ValueError("brush RLE must be a list of bytes (integers 0-255)")
    stream = _Bits(bytes(rle))
    total = stream.read(32)
    word_size = stream.read(5) + 1
    if word_size > 8:
        raise ValueError(f"brush RLE has {word_size}-bit words; a brush mask has 8")
    field_sizes = [stream.read(4) + 1 for _ in range(4)]
    out = np.zeros(total, np.uint8)
    i = 0
    while i < total:
        repeat = stream.read(1)
        j = i + 1 + stream.read(field_sizes[stream.read(2)])
        if repeat:
            out[i:j] = stream.read(word_size)  # a run past the end is cut, as rle-pack's fill does
        elif j > total:
            raise ValueError(f"brush RLE lists {j} values, more than the {total} it declares")
        else:
            out[i:j] = stream.read_words(j - i, word_size)
        i = j
    return out


def brush_mask(rle: Sequence[int], height: int, width: int) -> np.ndarray:
    """The painted pixels of a brush result: alpha > 128 of its RGBA canvas.

    label-studio-converter exports the alpha layer as it is, anti-aliased (a
    magic-wand region of 189 pixels with any alpha has 1-254 on its rim); > 128
    is the threshold Label Studio's own mask-to-brush import (`image2rle`) uses,
    so a mask imported into Label Studio comes back out unchanged."""
    values = decode_brush_rle(rle)
    if values.size != height * width * 4:
        raise ValueError(f"brush RLE holds {values.size} values, not {width}x{height}x4 "
                         "(original_width x original_height x RGBA)")
    return values.reshape(height, width, 4)[:, :, 3] > 128


def encode_brush_rle(values: np.ndarray, word_size: int = 8, field_sizes: Sequence[int] = (3, 7, 11, 16)) -> list[int]:
    """rle-pack encoding of uint8 values (runs of 2+ as one word, single values grouped as literals), to build
    test and benchmark exports."""
    flat = np.asarray(values, np.uint8).ravel()
    limit = 1 << max(field_sizes)
    bits: list[str] = [format(len(flat), "032b"), format(word_size - 1, "05b")]
    bits += [format(s - 1, "04b") for s in field_sizes]

    def header(repeat: int, length: int) -> str:
        slot = next(k for k, s in enumerate(field_sizes) if length - 1 < (1 << s))
        return f"{repeat}{slot:02b}" + format(length - 1, f"0{field_sizes[slot]}b")

    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    lengths = np.diff(np.r_[starts, len(flat)])
    literal: list[int] = []

    def flush() -> None:
        for k in range(0, len(literal), limit):
            chunk = literal[k:k + limit]
            bits.append(header(0, len(chunk)) + "".join(format(v, f"0{word_size}b") for v in chunk))
        literal.clear()

    for start, length in zip(starts.tolist(), lengths.tolist()):
        value = int(flat[start])
        if length == 1:
            literal.append(value)
            continue
        flush()
        for k in range(0, length, limit):
            bits.append(header(1, min(limit, length - k)) + format(value, f"0{word_size}b"))
    flush()
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return list(int(text[p:p + 8], 2) for p in range(0, len(text), 8))
