"""Training-time data loading: `SegmentationDataset` and `make_loader` (CPU/albumentations or DALI engine).

The DALI engine (dataprep.data.dali) imports nvidia.dali only when used.
"""
from __future__ import annotations

from .dataset import SegmentationDataset
from .loader import make_loader

__all__ = ["SegmentationDataset", "make_loader"]
