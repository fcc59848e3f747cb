"""`dataprep unstack`: multi-page TIFF stacks to one image (and mask) file per page.

Microscopy sets ship volumes as stacks: ISBI 2012's `train-volume.tif` holds 30
slices of 512x512 and `train-labels.tif` their membrane masks, page for page.
Every other command reads one image per file (and refuses a stack rather than
read its first page alone), so the stack is split first:

- page i of the image stack and page i of the mask stack become one pair,
  `DEST/images/STEM_PAGE.png` and `DEST/masks/STEM_PAGE.png` (PAGE zero-padded
  to the width of the last page number; TIFF when PNG
  cannot hold the pixels: float, more than 4 bands, signed);
- the pixels are written as stored (bands, dtype, values): masks stay what
  they were (0/255 membranes stay 0/255; `palette infer` and `masks2labels`
  take it from there);
- DEST/manifest.csv lists the pairs with `stack` (the image stack's stem) and
  `page` (0-based) columns; unstacking another volume into the same DEST adds
  its rows to those of the volumes already there (a stack of the same stem
  replaces its own). Neighbouring slices of a volume are nearly the same
  picture: with several stacks, `dataprep kfold --group-column stack` keeps
  each volume in one fold.

An ImageJ/OME hyperstack whose pages interleave channels (axes with C, e.g.
ZCYX: a fluorescence volume) gives one multi-band image per slice, its
channels as bands in channel order; `page` is then the slice's index. Mask
stacks hold one band of class values per page.

Both stacks must have the same number of slices and each pair the same size.
Slices are read one at a time (memory: one slice), in worker processes with `-j`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataprepError, UsageError, all_failed
from .executor import Executor, OnError, errors_of, run_items
from .folder_settings import mark_owner
from .io import PathLike, atomic_write_text, staged
from .manifest import ManifestRow, read_manifest, write_manifest
from .outputs import OutputReport, missing_folders, remove_empty
from .paths import Inputs, inside
from .raster import TiffPages, png_can_hold, stack_slices, write_raster

STACK_COLUMNS = ("stack", "page")
STACKS_FILE = ".dataprep-unstack.json"  # stem -> the stack file whose pages DEST lists under that stem


@dataclass
class UnstackReport(OutputReport):
    pages: int = 0


@dataclass(frozen=True)
class _Stack:
    path: Path
    slices: tuple[tuple[int, ...], ...]  # the pages of each image

    @property
    def pages(self) -> int:
        return len(self.slices)


def unstack(
    images: PathLike,
    out_dir: PathLike,
    *,
    masks: PathLike | None = None,
    force: bool = False,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> UnstackReport:
    """Split the TIFF stack `images` (and the stack `masks`, page for page) into `out_dir`; see the module docstring."""
    image_stack = _open_stack(Path(images))
    mask_stack = _open_stack(Path(masks)) if masks is not None else None
    if mask_stack is not None and any(len(pages) > 1 for pages in mask_stack.slices):
        raise DataprepError(mask_stack.path, "a hyperstack with channels: mask pages must hold one band of class "
                                             "values each")
    if mask_stack is not None and mask_stack.pages != image_stack.pages:
        raise DataprepError(mask_stack.path, f"{mask_stack.pages} pages, but the image stack {image_stack.path.name} "
                                             f"has {image_stack.pages}: pages pair up one to one")
    out = Path(out_dir)
    inputs = Inputs([image_stack.path, *([mask_stack.path] if mask_stack is not None else [])])
    inputs.guard_folder(out, force=force, command="unstack")
    inputs.check_written([out / "manifest.csv"])
    stacks = _claim_stem(out, image_stack.path)
    writer = _PageWriter(image_stack, mask_stack, out)
    fresh = missing_folders(out, ["page"], ("images", "masks"))  # before the first page makes them
    try:
        results = run_items(writer, list(range(image_stack.pages)), executor=executor, on_error=on_error,
                            desc="unstack", quiet=quiet, unit="page")
    finally:
        writer.close()
    rows = [r.value for r in results if r.ok and r.value is not None]
    report = UnstackReport(out, errors=errors_of(results), pages=image_stack.pages)
    if report.errors and not rows:
        # A mask stack of another page size failed every page: 30 error lines, the images written beside an empty
        # manifest, and a rerun into an earlier run's folder dropped that stack's rows.
        remove_empty(fresh)
        raise all_failed(image_stack.path, report.errors, "pages")
    mark_owner(out, "unstack")
    report.manifest_path = write_manifest(_other_stacks(out / "manifest.csv", image_stack.path.stem) + rows,
                                          out / "manifest.csv")
    atomic_write_text(out / STACKS_FILE, json.dumps(stacks, indent=1, sort_keys=True) + "\n")
    return report


def _claim_stem(out: Path, stack: Path) -> dict[str, str]:
    """The stems DEST lists with their stack files, this stack's added; a stack of another file under a stem DEST
    lists already is refused: patA/raw.tif then patB/raw.tif into one folder left patB's slices alone, patA's
    rows and files replaced, exit 0."""
    try:
        stacks = json.loads((out / STACKS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stacks = {}
    if not isinstance(stacks, dict):
        stacks = {}
    mine, earlier = str(stack.resolve()), stacks.get(stack.stem)
    if earlier is not None and earlier != mine:
        raise UsageError(stack, f"{out} lists the pages of another stack named {stack.stem!r} ({earlier}); "
                                "these would replace them: unstack this one into another folder, or rename it")
    return {**stacks, stack.stem: mine}


def _other_stacks(manifest: Path, stem: str) -> list[ManifestRow]:
    """The rows of other stacks an earlier unstack into this folder listed: a second volume replaced the first
    one's rows (its slices stayed on disk, unlisted); a rerun of the same stack replaces its own."""
    if not manifest.is_file():
        return []
    try:
        earlier = read_manifest(manifest)
    except DataprepError:
        return []  # not one unstack wrote: the guard on the output folder has let it be replaced
    if not set(STACK_COLUMNS) <= set(earlier.extra_columns):
        return []
    return [row for row in earlier.rows if row.extra.get("stack") != stem]


def _open_stack(path: Path) -> _Stack:
    if path.suffix.lower() not in (".tif", ".tiff", ".stk"):
        raise UsageError(path, "not a TIFF stack (.tif/.tiff/.stk)")
    return _Stack(path, stack_slices(path))


class _PageWriter:
    """Writes page i of the stacks (runs in worker processes: plain, picklable state)."""

    def __init__(self, images: _Stack, masks: _Stack | None, out_dir: Path) -> None:
        self.images, self.masks, self.out_dir = images, masks, out_dir
        self.digits = len(str(images.pages - 1))
        self.image_pages = TiffPages(images.path)
        self.mask_pages = TiffPages(masks.path) if masks is not None else None

    def close(self) -> None:
        self.image_pages.close()
        if self.mask_pages is not None:
            self.mask_pages.close()

    def __call__(self, page: int) -> ManifestRow:
        pid = f"{self.images.path.stem}_{page:0{self.digits}d}"
        image = self.image_pages.read_slice(self.images.slices[page])
        if image.dtype == np.bool_:  # 1-bit pages: 0/255 images and 0/1 masks, as dataprep.io reads 1-bit TIFFs
            image = image.astype(np.uint8) * np.uint8(255)
        image_path = inside(self.out_dir, "images", f"{pid}{'.png' if png_can_hold(image) else '.tif'}")
        mask = mask_path = None
        if self.masks is not None and self.mask_pages is not None:
            mask = self.mask_pages.read_slice(self.masks.slices[page])
            if mask.dtype == np.bool_:  # a 1-bit mask stack was refused ("1 bands of bool")
                mask = mask.astype(np.uint8)
            if mask.shape[:2] != image.shape[:2]:
                raise DataprepError(self.masks.path, f"page {page} is {mask.shape[1]}x{mask.shape[0]} but image page "
                                                     f"{page} is {image.shape[1]}x{image.shape[0]}")
            if mask.shape[2] != 1 or mask.dtype.kind not in "iu":
                raise DataprepError(self.masks.path, f"page {page} has {mask.shape[2]} bands of {mask.dtype}; "
                                                     "mask pages must hold one band of class values")
            mask_path = inside(self.out_dir, "masks", f"{pid}{'.png' if png_can_hold(mask) else '.tif'}")
        # Both checked before either is written, and written together: a page whose mask was refused left its
        # image behind, unlisted.
        with staged():
            write_raster(image_path, image,
                         photometric="rgb" if image.shape[2] == 3 and image.dtype == np.uint8 else None)
            if mask_path is not None:
                write_raster(mask_path, mask, mask=True)
        extra = dict(zip(STACK_COLUMNS, (self.images.path.stem, str(page))))
        return ManifestRow(pid, image_path, mask_path, image.shape[1], image.shape[0], extra)


__all__ = ["STACK_COLUMNS", "UnstackReport", "unstack"]
