"""Cheap, well-mixed seeds and generators for per-output random streams.

Offline augmentation seeds several streams per output (which steps run, each
op's sampler, the albumentations Compose). numpy's SeedSequence hashes its input
through a 4-word pool and costs ~20 us per generator, which added up to a few
percent of a whole recipe; here a seed is derived from integer words with the
SplitMix64 finalizer (a bijection on 64 bits, so for a fixed prefix every last
word gives a different seed) and PCG64 is seeded from a SplitMix64 stream, the
way its authors seed it; `reseed` puts an existing generator pair into the
state a fresh pair starts in (albumentations holds on to the generator objects).
"""
from __future__ import annotations

import random

import numpy as np
from numpy.random.bit_generator import ISeedSequence

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def derive_seed(*words: int) -> int:
    """A 64-bit seed from non-negative integer words (e.g. recipe seed, row, variant, step)."""
    return extend_seed(0, *words)


def extend_seed(seed: int, *words: int) -> int:
    """`derive_seed(*prefix, *words)` given `seed = derive_seed(*prefix)`: a shared prefix is mixed once."""
    z = seed
    for word in words:
        z = _mix((z + (word & _MASK64) + _GOLDEN) & _MASK64)
    return z


def uniform(seed: int) -> float:
    """A float in [0, 1) from a derived seed: one draw without building a generator."""
    return (seed >> 11) * (1.0 / (1 << 53))


class _SplitMixSeed(ISeedSequence):
    """Seeds a numpy bit generator with a SplitMix64 stream starting at `seed`."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed & _MASK64

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        wide = np.dtype(dtype) == np.uint64
        words: list[int] = []
        for word in _splitmix(self.seed, n_words if wide else (n_words + 1) // 2):
            words.extend([word] if wide else [word & 0xFFFFFFFF, word >> 32])  # low half first, on any platform
        return np.array(words[:n_words], np.uint64 if wide else np.uint32)


def _splitmix(seed: int, count: int) -> list[int]:
    z, words = seed & _MASK64, []
    for _ in range(count):
        z = (z + _GOLDEN) & _MASK64
        words.append(_mix(z))
    return words


def generator(seed: int) -> np.random.Generator:
    """A numpy Generator (PCG64) determined by `seed`."""
    return np.random.Generator(np.random.PCG64(_SplitMixSeed(seed)))


def generator_pair(seed: int) -> tuple[np.random.Generator, random.Random]:
    """The (numpy, python) generators albumentations draws from, both determined by `seed`."""
    return generator(seed), random.Random(seed)


def reseed(pair: tuple[np.random.Generator, random.Random], seed: int) -> None:
    """Put `pair` (from `generator_pair`) in the state `generator_pair(seed)` starts in, in place."""
    numpy_rng, python_rng = pair
    # numpy seeds a fresh PCG64 and hands over its state: no copy of PCG's seeding rule to keep in step
    # with numpy. A few microseconds more per reseed (benchmarks/results/hidden_state.json).
    numpy_rng.bit_generator.state = np.random.PCG64(_SplitMixSeed(seed)).state
    python_rng.seed(seed)
