"""Ranges of options shared by commands and the Python API, checked before any work. Seeds: 0 .. 2**63 - 1.

Seeds are folded into 64-bit words (`dataprep.seeding`, `data.dataset.sample_seed`), so 2**64 seeded exactly
as 0 did while manifests recorded the big number; numpy refuses negatives, and in a worker they failed once
per file. 2**63 - 1 is also the largest seed an int64 column (pandas reading a manifest) holds. No numpy
here: the CLI's option type reads this at import time, and `dataprep --help` stays light.
"""
from __future__ import annotations

from typing import Any

from .errors import UsageError

MAX_SEED = 2**63 - 1


def check_seed(seed: Any, what: str = "seed") -> int:
    """`seed` as an int in 0..MAX_SEED, else a UsageError naming `what` (bool, float and str are refused too:
    `int(1.5)` would quietly seed as 1)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        # numpy integers are ints to the user; anything else is a mistake, not a seed
        if type(seed).__module__ != "numpy" or not hasattr(seed, "dtype") or seed.dtype.kind not in "iu":
            raise UsageError(None, f"{what} must be an integer in 0..{MAX_SEED}, not {seed!r}")
        seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(None, f"{what} must be in 0..{MAX_SEED} (2**63 - 1), not {seed}")
    return int(seed)


# Ignore indices: label maps hold 0..65535 (PNG/TIFF uint8/uint16, what masks2labels writes). stats and kfold also
# take a negative one for .npy label maps that store ignore as -1: down to int16's minimum, which a float mask
# holding negatives is read as (io.masks). 70000 or -1 on PNG maps failed once per file, never matching a pixel.
MAX_LABEL = 65535
MIN_NEGATIVE_IGNORE = -32768


def ignore_index_refusal(value: int, negative: bool = True) -> str | None:
    """Why `value` cannot be an ignore index (None when it can); `negative`: -32768..-1 allowed too."""
    low = MIN_NEGATIVE_IGNORE if negative else 0
    if low <= value <= MAX_LABEL:
        return None
    also = f" (or {MIN_NEGATIVE_IGNORE}..-1 for .npy label maps storing ignore as e.g. -1)" if negative else ""
    return f"{value} is no value a label map holds: 0..{MAX_LABEL}{also}"
