"""Masks -> class-index label maps (`masks2labels`) and back to colours (`labels2masks`).

One job per module:

- `convert`: pure conversion of one mask array (colours or stored values -> indices, and back);
- `context`: `ConversionContext`, the lookup tables and buffers one run reuses;
- `options`: `unknown` modes, `--remap` parsing, the unknown-values error;
- `sources`: which masks a job converts and where each output goes;
- `batch`: the `masks_to_labels` / `labels_to_masks` jobs;
- `report`: what a job did (`ConversionReport`);
- `resume`: which outputs of an earlier run are kept, and the settings that made them.

Every public name is importable from `dataprep.labels` itself.
"""
from __future__ import annotations

from .batch import _MaskConverter, labels_to_masks, masks_to_labels  # noqa: F401 - _MaskConverter: benchmarks
from .context import SCRATCH_MAX_PIXELS, ConversionContext
from .convert import (
    Converted,
    colours_to_labels,
    labels_to_colours,
    mask_to_labels,
    palette_mode_colours,
    read_mask_table,
    values_to_labels,
)
from .options import UNKNOWN_MODES, Remap, Unknown, UnknownKey, UnknownValuesError, format_unknown, parse_remap
from .report import LARGE_IGNORED, MOSTLY_IGNORED, ConversionReport
from .sources import _resolve_source, collect_mask_paths  # noqa: F401 - _resolve_source: benchmarks

__all__ = [
    "ConversionContext",
    "ConversionReport",
    "Converted",
    "LARGE_IGNORED",
    "MOSTLY_IGNORED",
    "Remap",
    "SCRATCH_MAX_PIXELS",
    "UNKNOWN_MODES",
    "Unknown",
    "UnknownKey",
    "UnknownValuesError",
    "collect_mask_paths",
    "colours_to_labels",
    "format_unknown",
    "labels_to_colours",
    "labels_to_masks",
    "mask_to_labels",
    "masks_to_labels",
    "palette_mode_colours",
    "parse_remap",
    "read_mask_table",
    "values_to_labels",
]
