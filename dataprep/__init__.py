"""dataprep: turn a raw semantic-segmentation dataset into training-ready data."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import DataprepError
from .manifest import Manifest, ManifestRow, read_manifest, write_manifest
from .sample import Sample, SampleMeta

__all__ = [
    "DataprepError",
    "Manifest",
    "ManifestRow",
    "Sample",
    "SampleMeta",
    "SegmentationDataset",
    "make_loader",
    "read_manifest",
    "write_manifest",
]


def __getattr__(name: str):
    # torch is imported only by code that needs the Dataset.
    if name in ("SegmentationDataset", "make_loader"):
        from .data import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
