"""Checking one candidate pair: complete files, readable headers, matching sizes; run per pair, in workers."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from .. import io
from ..errors import DataprepError
from ..manifest import ManifestRow, id_problem
from ..pixeltypes import PIXEL_TYPES
from .orientation import mask_orientation
from .problems import Candidate, Problem, ScanProblem

Check = Literal["header", "decode"]

# What most pairs report: one shared empty tuple, not two new lists per pair.
_NONE: tuple[Problem, ...] = ()


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # the surrogates of bytes that are no UTF-8 (os.fsdecode's surrogateescape)
        return False
    return True


class ValidatePair:
    """Checks one pair; picklable so it runs in worker processes."""

    def __init__(self, root: str, check: Check, keep_scaled_masks: bool = False) -> None:
        self.root = root
        self.check = check
        self.keep_scaled_masks = keep_scaled_masks

    def __call__(self, cand: Candidate) -> tuple[ManifestRow | None, Sequence[Problem], Sequence[Problem]]:
        undecodable = next((f for f in (cand.image, cand.mask, *cand.extras) if not _utf8(f)), None)
        if undecodable is not None:  # a manifest is UTF-8: writing the name crashed the whole scan
            return None, [Problem(undecodable, ScanProblem.BAD_NAME,
                                  f"its name is not valid UTF-8 ({os.fsencode(undecodable)!r}): rename the file "
                                  "(or run under a UTF-8 locale, if it is UTF-8)")], _NONE
        named = id_problem(cand.id)
        if named:  # `nl\nname.jpg` was written to the manifest, which every other command then refused
            return None, [Problem(cand.image, ScanProblem.BAD_NAME,
                                  f"its name gives the sample id {cand.id!r}, which {named}: rename the file "
                                  "(ids name the outputs of every command)")], _NONE
        image_path = os.path.join(self.root, cand.image)
        mask_path = os.path.join(self.root, cand.mask)
        problems: list[Problem] = []
        warnings: list[Problem] = []
        infos = {}
        files = [(cand.image, image_path), (cand.mask, mask_path)]
        files += [(rel, os.path.join(self.root, rel)) for rel in cand.extras]
        for rel, path in files:
            try:
                truncated = io.check_complete(path)
                if truncated:
                    problems.append(Problem(rel, ScanProblem.TRUNCATED, truncated))
                    continue
                info = io.read_info(path)
                mismatch = io.content_mismatch(path)  # "PNG data in a .jpg file": readers go by content
                if mismatch:
                    warnings.append(Problem(rel, ScanProblem.WRONG_EXTENSION,
                                            f"{mismatch}; rename it to match its content"))
                if self.check == "decode":
                    (io.read_image if rel == cand.image else io.read_mask)(path)
                infos[rel] = info
            except DataprepError as exc:
                problems.append(Problem(rel, ScanProblem.of_error(exc), exc.reason))
            except OSError as exc:  # a dangling symlink said 'images/x.jpg: FileNotFoundError: [Errno 2] ...'
                reason = (f"a symbolic link to {os.readlink(path)}, which does not exist" if os.path.islink(path)
                          and not os.path.exists(path) else f"cannot read: {exc.strerror or exc}")
                problems.append(Problem(rel, ScanProblem.UNREADABLE, reason))
        if problems:
            return None, problems, warnings or _NONE
        img, msk = infos[cand.image], infos[cand.mask]
        for rel in cand.extras:
            other = infos[rel]
            if (other.width, other.height) != (msk.width, msk.height):
                reason = f"extra mask is {other.width}x{other.height} but mask {cand.mask} is {msk.width}x{msk.height}"
                return None, [Problem(rel, ScanProblem.SIZE_MISMATCH, reason)], warnings
        if img.alpha and img.format == "TIFF":
            # tifffile.imwrite tags the 4th band of an (H, W, 4) array as alpha: a stacked NIR band vanished.
            warnings.append(Problem(cand.image, ScanProblem.ALPHA_BAND,
                                    f"band {img.bands} is tagged alpha (TIFF ExtraSamples) and is left out: "
                                    f"read as {img.bands - 1} bands; if it is data, rewrite the file with "
                                    "extrasamples='unspecified' (tifffile) or without an alpha band"))
        if img.dtype and img.dtype not in PIXEL_TYPES:
            # Kept (tile and resize cut them), but scan said nothing and stats, augment, preview, report and the
            # Dataset each refused every row later.
            warnings.append(Problem(cand.image, ScanProblem.PIXEL_TYPE,
                                    f"{img.dtype} pixels: stats, augment, preview, report, train and the Dataset "
                                    f"take {', '.join(PIXEL_TYPES)} only; convert the images first (to float32, "
                                    "say; see docs/pixel-types.md)"))
        if img.validity_mask and img.geo is not None and img.geo.nodata is None:
            where = f"in {os.path.basename(cand.image)}.msk" if img.validity_mask == "sidecar" else "inside the file"
            warnings.append(Problem(cand.image, ScanProblem.VALIDITY_MASK,
                                    f"its GDAL validity mask ({where}) is not read: the pixels it masks out count as "
                                    "data in stats and tile --max-nodata; give the image a nodata value "
                                    "(gdal_translate -a_nodata 0) if they are no data"))
        if io.has_extension(cand.mask, io.LOSSY_EXTENSIONS):
            warnings.append(Problem(cand.mask, ScanProblem.LOSSY_MASK,
                                    "mask is JPEG: compression adds stray colours/labels"))
        if (img.width, img.height) != (msk.width, msk.height):
            if img.orientation != 1 and (img.stored_width, img.stored_height) == (msk.width, msk.height):
                reason = (
                    f"EXIF orientation {img.orientation} shows the image as {img.width}x{img.height}, but the mask "
                    f"is {msk.width}x{msk.height} (matches the stored, unrotated pixels)"
                )
                return None, [Problem(cand.image, ScanProblem.EXIF_ROTATION, reason)], warnings
            reason = f"image is {img.width}x{img.height} but mask {cand.mask} is {msk.width}x{msk.height}"
            if not io.is_scaled_copy((img.width, img.height), (msk.width, msk.height)):
                reason += io.border_note((img.width, img.height), (msk.width, msk.height))
                return None, [Problem(cand.image, ScanProblem.SIZE_MISMATCH, reason)], warnings
            scaled = f"the same shape at {msk.width / img.width:.2f}x: a label map saved at another resolution"
            if not self.keep_scaled_masks:
                reason += (f" ({scaled}; scan with --keep-scaled-masks, then `dataprep resize --to image` resizes "
                           f"it to {img.width}x{img.height} by nearest neighbour, never bilinear)")
                return None, [Problem(cand.image, ScanProblem.SIZE_MISMATCH, reason)], warnings
            warnings.append(Problem(cand.mask, ScanProblem.SCALED_MASK,
                                    f"mask is {msk.width}x{msk.height} but its image {cand.image} is "
                                    f"{img.width}x{img.height} ({scaled}); kept: run `dataprep resize --to image` "
                                    "before other commands"))
        elif img.orientation != 1 and (img.stored_width, img.stored_height) == (msk.width, msk.height):
            turned = _turned_same_size(cand, image_path, mask_path, img.orientation)
            if turned is not None and turned.kind is not ScanProblem.EXIF_ORIENTATION:
                return None, [turned], warnings  # the mask on the stored pixels, or a file that failed to decode
            if turned is not None:
                warnings.append(turned)
        misplaced = _grid_difference(cand, img, msk)
        if misplaced is not None and misplaced.kind is ScanProblem.GEO_MISMATCH:
            return None, [misplaced], warnings
        if misplaced is not None:
            warnings.append(misplaced)
        # Strings: the root is absolute already, and the walk gives normal relative paths.
        row = ManifestRow(cand.id, image_path, mask_path, img.width, img.height)
        return row, _NONE, warnings or _NONE


def _grid_difference(cand: Candidate, img: io.ImageInfo, msk: io.ImageInfo) -> Problem | None:
    """A GeoTIFF mask whose georeference puts its pixels elsewhere than its image's: sizes alone passed a mask
    30 km off its scene, and `tile` then stamped the image's georeference on its tiles. Another CRS tag alone
    (an equivalent system worded otherwise?) is a warning."""
    if img.geo is None or msk.geo is None:
        return None
    what = img.geo.grid_difference(msk.geo)
    if what is None:
        return None
    if what == "CRS":
        return Problem(cand.mask, ScanProblem.GEO_CRS, f"its CRS differs from its image {cand.image}'s: if the "
                                                       "systems differ, reproject the mask onto the image's grid")
    differs = {"origin": "its origin", "pixel size": "its pixel size"}.get(what, what)
    return Problem(cand.mask, ScanProblem.GEO_MISMATCH,
                   f"{differs} differs from its image {cand.image}'s georeference: its pixels lie elsewhere on the "
                   "ground; re-export the mask on the image's grid")


_TURNS = {2: "mirrors it", 3: "turns it 180 degrees", 4: "flips it upside down", 5: "transposes it",
          6: "turns it 90 degrees", 7: "transverses it", 8: "turns it 270 degrees"}


def _turned_same_size(cand: Candidate, image_path: str, mask_path: str, orientation: int) -> Problem | None:
    """An EXIF orientation that keeps the size: a problem when the mask follows the stored pixels, a warning
    when its edges follow neither clearly, None when they follow the upright image."""
    try:
        fit = mask_orientation(image_path, mask_path, orientation)
    except DataprepError as exc:
        return Problem(cand.image, ScanProblem.of_error(exc), exc.reason)
    turn = f"EXIF orientation {orientation} {_TURNS[orientation]} when read"
    if fit == "stored":
        return Problem(cand.image, ScanProblem.EXIF_ROTATION,
                       f"{turn}, but the mask's edges follow the stored, unturned pixels; re-save the image "
                       "without the orientation tag, or redraw the mask on the upright image")
    if fit == "unknown":
        return Problem(cand.image, ScanProblem.EXIF_ORIENTATION,
                       f"{turn}, and the mask's size fits both ways: check that it lies on the upright image "
                       "(dataprep preview)")
    return None
