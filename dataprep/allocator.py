"""Process-wide allocator tuning for image work (glibc only; elsewhere a no-op).

Its own small module so that the CLI can apply it at start-up without
importing the executor and its dependencies.
"""
from __future__ import annotations

import sys


def keep_freed_memory() -> None:
    """Let glibc keep freed blocks instead of unmapping them after every image.

    Per-file work allocates and frees a few large arrays per item; with glibc's
    defaults each of them is a fresh mmap whose pages fault in again, which costs
    a third of the CPU time on big masks (and half of albumentations' time on
    512x512 outputs). Process-wide, so only worker processes and the CLI's own
    process call it, never a library call in someone else's process.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl or another libc: nothing to tune
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    libc.mallopt(m_mmap_threshold, 32 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)
    libc.mallopt(m_top_pad, 64 << 20)
