"""What `scan` finds wrong with a file (a problem leaves its pair out, a warning keeps it), and the
candidate pairs it checks."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..errors import DataprepError, StackError, TruncatedError


class ScanProblem(StrEnum):
    """What is wrong with a file `scan` found. Members are strings too ("orphan_image"), so they print and
    compare as the names earlier versions used."""

    # problems: the pair is left out of the manifest
    UNREADABLE = "unreadable"
    TRUNCATED = "truncated"
    STACK = "stack"  # a multi-page TIFF (`dataprep unstack` first) or an animated GIF/PNG
    SIZE_MISMATCH = "size_mismatch"
    EXIF_ROTATION = "exif_rotation"
    ORPHAN_IMAGE = "orphan_image"
    ORPHAN_MASK = "orphan_mask"
    DUPLICATE = "duplicate"
    BAD_NAME = "bad_name"  # a name no manifest id can hold (a newline or other control character)
    GEO_MISMATCH = "geo_mismatch"  # GeoTIFF image and mask on different grids (origin or pixel size)
    # warnings: the pair is kept
    WRONG_EXTENSION = "wrong_extension"
    LOSSY_MASK = "lossy_mask"
    SCALED_MASK = "scaled_mask"  # kept only with keep_scaled_masks, for `dataprep resize --to image`
    ALPHA_BAND = "alpha_band"  # a TIFF image's last band is tagged alpha: every reader leaves it out
    EXTRA_MASK = "extra_mask"  # x_mask_1.png beside the pair's x_mask.png: a second mask of one image
    JPEG_COPY = "jpeg_copy"  # x.jpg beside the mask x.png (or .bmp, .tif): the lossless one is paired
    SAME_BYTES = "same_bytes"  # a byte-identical copy of another file of the same stem: the original is paired
    MASK_SUBFOLDER = "mask_subfolder"  # masks/FV/x.bmp beside the paired masks/x.bmp: one class's masks (SUIM)
    OTHER_ANNOTATOR = "other_annotator"  # x_2ndHO.png beside the paired x_1stHO.png (CHASE_DB1)
    MASK_VARIANT = "mask_variant"  # x_labelTrainIds.png beside the paired x.png (COCO-Stuff): another form of it
    UNLABELLED_FOLDER = "unlabelled_folder"  # a folder of images of which none has a mask (DeepGlobe's test/)
    # ADE20K's x_parts_1.png or x/instance_000_*.png beside the paired x_seg.png; ISIC 2017's x_superpixels.png
    PART_MASK = "part_mask"
    EXIF_ORIENTATION = "exif_orientation"  # a turn that keeps the size, and the mask's edges fit both ways
    GEO_CRS = "geo_crs"  # GeoTIFF image and mask tagged with different coordinate systems
    VALIDITY_MASK = "validity_mask"  # a GeoTIFF image's GDAL mask (internal or .msk), which no reader applies
    PIXEL_TYPE = "pixel_type"  # an image of a pixel type the readers refuse (int32, float64, ...)

    @property
    def label(self) -> str:
        """How the summary names it: 'orphan image'."""
        return self.value.replace("_", " ")

    @classmethod
    def of_error(cls, exc: DataprepError) -> "ScanProblem":
        if isinstance(exc, StackError):
            return cls.STACK
        return cls.TRUNCATED if isinstance(exc, TruncatedError) else cls.UNREADABLE


@dataclass(frozen=True)
class Problem:
    path: str
    kind: ScanProblem
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ScanProblem(self.kind))  # a plain name is checked and converted

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)  # slots: one per pair, 1M pairs feasible
class Candidate:
    id: str
    image: str
    mask: str
    split: str | None = None
    extras: tuple[str, ...] = ()  # further masks of the image (`extra_masks`), relative to the root
