"""dataprep: turn a raw semantic-segmentation dataset into training-ready data."""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names -> the module that defines them. Imported on first use, so that
# `import dataprep` (and `dataprep --help`) does not load numpy, OpenCV or torch.
_LAZY = {
    "DataprepError": "errors",
    "Manifest": "manifest",
    "ManifestRow": "manifest",
    "read_manifest": "manifest",
    "write_manifest": "manifest",
    "Sample": "sample",
    "SampleMeta": "sample",
    "SegmentationDataset": "data.loader",
    "make_loader": "data.loader",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .data.loader import SegmentationDataset, make_loader
    from .errors import DataprepError
    from .manifest import Manifest, ManifestRow, read_manifest, write_manifest
    from .sample import Sample, SampleMeta


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        # `dataprep.io` etc. without importing the submodule first, as when this file imported them.
        if importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
        return importlib.import_module(f"{__name__}.{name}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
