"""`dataprep augment`: run a recipe over a manifest with the executor and write the outputs.

Layout of OUT (ids may contain '/', which become subfolders):

    OUT/images/<id>__v<k>.jpg|png|tif  augmented image, at the recipe size; the format `auto`
                                    chooses keeps the pixel type (dataprep.pixeltypes)
    OUT/masks/<id>__v<k>.png        label map (palette PNG when a palette is known), never JPEG
    OUT/soft/<id>__v<k>.npz         per-class soft label, only for outputs where mixup ran with soft_labels
    OUT/params/<id>__v<k>.json      provenance; written last, so it also marks the output complete
    OUT/manifest.csv                one row per output: the source row's extra columns plus
                                    source_ids, ops, params, seed
    OUT/palette.json                the palette (--palette, else the one beside the input manifest), if any

Outputs are byte-identical for the same recipe, seed and input whatever the
worker count. A rerun reuses finished outputs (their params file exists) unless
`overwrite`, and refuses to mix in outputs of a different recipe, input or palette.
An output whose input files (its source's and its donors', by size and mtime:
dataprep.augment.stamps) changed since is redone.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io as _io
import json
import os
import re
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import io, pixeltypes
from ..contracts import (COLOUR_BANDS, float_range_refusal, needs_rgb, pixel_type_refusal, resolve_dataset_info,
                         rgb_refusal)
from ..errors import DataprepError, UsageError, all_failed
from ..executor import Executor, OnError, run_items
from ..extra_masks import EXTRA_MASKS_COLUMN
from ..folder_settings import mark_owner
from ..manifest import Manifest, ManifestRow, read_manifest, require_rows, write_manifest
from ..ops import SPECS
from ..ops.geometric import mirror_warnings
from ..paths import Inputs, inside
from ..palette import Palette, class_gaps, class_range, resolve_palette
from ..recipe import MAX_VARIANTS, Recipe, load_recipe
from ..run_lock import exclusive_settings
from ..sample import Sample
from ..option_ranges import check_seed
from .class_checks import absent_class_warnings, check_named_classes, named_classes, swapped_classes
from .mix import SOFT_LABEL_KEY
from .pipeline import USED_INPUTS_KEY, applied_ops, check_recipe, execute, provenance
from .single import Kernels
from .stamps import INPUTS_KEY, inputs_stamp
from .plan import OutputPlan, PartnerPools, plan_outputs, pool_columns

PROVENANCE_COLUMNS = ("source_ids", "ops", "params", "seed", "soft_label")


@dataclass(frozen=True)
class AugmentSummary:
    out: Path
    manifest: Path
    written: int  # outputs computed in this run
    reused: int  # finished outputs of an earlier run, kept
    errors: list[str]  # one line per failed output
    mixing: int = 0  # planned mixing steps (mosaic, copy-paste, mixup, cutmix)
    alone: int = 0  # ... of which had no other row in the pool to take a partner from: the sample with itself
    pooled_by: tuple[str, ...] = ()  # the manifest columns that bounded the pools
    warnings: list[str] = dataclasses.field(default_factory=list)  # e.g. classes a step names that no output holds
    redone: int = 0  # ... of `written`: outputs of an earlier run written again because an input file changed

    @property
    def total(self) -> int:
        return self.written + self.reused


# How the worker came by an output: computed anew, kept from an earlier run, or recomputed over an earlier
# run's output whose input files changed since.
Outcome = Literal["written", "reused", "redone"]


@dataclass(frozen=True)
class _Job:
    plan: OutputPlan
    rows: dict[int, ManifestRow]  # source and partners

    @property
    def id(self) -> str:  # how run_items names a failing item
        return self.rows[self.plan.index].id


def output_id(source_id: str, variant: int) -> str:
    return f"{source_id}__v{variant}"


# Bumped when the same recipe and seed draw other params (2: typed single-image params, dataprep.ops).
DRAWS_VERSION = 2


def run_fingerprint(recipe: Recipe, manifest: Manifest, palette: Palette | None) -> str:
    """Changes whenever anything that shapes the outputs does: the recipe, the rows and the columns
    that bound their partner pools (partners are drawn from them), the palette (mask colours)."""
    columns = pool_columns(recipe.partners, manifest.extra_columns)
    text = json.dumps(
        {
            "recipe": {k: v for k, v in recipe.to_dict().items() if k != "name"},
            "ids": [r.id for r in manifest.rows],
            "pools": [[r.extra.get(c, "") for c in columns] for r in manifest.rows] if columns else None,
            "palette": palette.fingerprint if palette is not None else None,
            "draws": DRAWS_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def augment_manifest(
    manifest: Manifest | io.PathLike,
    recipe: Recipe | io.PathLike,
    out: io.PathLike,
    *,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
    overwrite: bool = False,
    force: bool = False,
    palette: Palette | str | io.PathLike | None = None,
    image_format: Literal["auto", "jpg", "jpeg", "png", "tif", "tiff"] | None = None,
    quality: int | None = None,
    seed: int | None = None,
    variants: int | None = None,
) -> AugmentSummary:
    """Write `variants` augmented outputs per manifest row to `out`; see the module docstring for the layout.

    `image_format`, `quality`, `seed` and `variants` override the recipe's values.
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    recipe = _override(recipe, image_format, quality, seed, variants)
    check_recipe(recipe)
    out = Path(os.path.abspath(out))  # workers on other machines (Dask) write to the same place
    require_rows(manifest)
    kinds = image_kinds(manifest.rows)
    check_rgb_steps(recipe, kinds)
    recipe = resolve_image_format(recipe, manifest.rows, kinds)
    # Not into the images' or masks' tree: the next scan would count the outputs as data.
    inputs = Inputs.of_manifest(manifest, trees=True)
    inputs.guard_folder(out, force=force, command="augment")

    resolved = resolve_palette(palette, manifest.path)
    # The one resolver the Dataset and the trainer use; a recipe that disagrees with the palette is refused.
    info = resolve_dataset_info(palette=resolved, recipe=recipe)
    ignore = info.ignore_index
    if ignore != recipe.ignore_index:
        # Padding and rotation corners would get a label the palette calls a class (or nothing).
        raise UsageError(
            recipe.source,
            f"ignore_index is {recipe.ignore_index} but palette {resolved.source or resolved.name} says "
            f"{resolved.ignore_index}; set ignore_index: {resolved.ignore_index} in the recipe",
        )
    named = named_classes(recipe)
    classes = resolved.class_indices if resolved is not None else None
    if classes:
        check_named_classes(recipe, named + swapped_classes(recipe), classes, ignore, resolved.name)
    colours = resolved.colour_table(256) if resolved is not None else None
    rows = manifest.rows
    pools = PartnerPools.from_rows([r.extra for r in rows], recipe.partners)
    jobs = [_Job(plan, {i: rows[i] for i in plan.needed}) for plan in plan_outputs(recipe, pools)]
    worker = _Worker(recipe, str(out), colours, overwrite, run_fingerprint(recipe, manifest, resolved), classes,
                     track_classes=bool(named))
    if force:  # the folder may hold inputs: no single output may be one, nor be removed as an output's stale copy
        inputs.check_written(p for job in jobs for p in worker.paths(output_id(job.id, job.plan.variant)).values())
        oids = (output_id(job.id, job.plan.variant) for job in jobs)
        worker.protected = frozenset(str(p) for oid in oids for p in worker.stale_paths(oid) if inputs.holds(p))
    inputs.check_written([out / "manifest.csv", out / "palette.json"])
    # One output's files are written one after the other: a concurrent run of another recipe would interleave
    # its own (an image of one run beside the mask of the other).
    with exclusive_settings(out, "augment", {"fingerprint": worker.fingerprint}):
        results = run_items(worker, jobs, executor=executor, on_error=on_error, desc="augment", quiet=quiet,
                            unit="image")

        done = [r.value for r in results if r.ok]
        errors = [r.error for r in results if r.error is not None]
        if errors and not done:  # an empty manifest would read as a finished run
            # One bad source feeds several outputs (variants, mosaic partners): each failure once, counted as what
            # failed ("all 7 sources failed (2 different reasons)" of 4 sources, 8 outputs, 1 broken file).
            unique = list(dict.fromkeys(_PARTNER_OF.sub("", e) for e in errors))
            raise all_failed(manifest.path, unique, "outputs", items=len(results))
        out_rows = [row for row, _, _ in done]
        manifest_path = write_manifest(out_rows, out / "manifest.csv",
                                       columns=("source_ids", "ops", "params", "seed"))
        mark_owner(out, "augment")
        if resolved is not None:
            resolved.save(out / "palette.json")
    reused = sum(1 for _, outcome, _ in done if outcome == "reused")
    redone = sum(1 for _, outcome, _ in done if outcome == "redone")
    mixing = [(job.plan.index, step.partners) for job in jobs for step in job.plan.steps if step.partners]
    alone = sum(1 for index, partners in mixing if set(partners) == {index})
    held = set().union(*(present for _, _, present in done))
    binary = _foreground_is_ignore(rows, recipe.ignore_index) if resolved is None else None
    leftover = _leftover_warning(out, {output_id(job.id, job.plan.variant) for job in jobs})
    return AugmentSummary(out, manifest_path, len(done) - reused, reused, errors, len(mixing), alone,
                          pool_columns(recipe.partners, manifest.extra_columns),
                          mirror_warnings(recipe, list(resolved.names) if resolved is not None else None)
                          + absent_class_warnings(named, held, len(done)) + ([binary] if binary else [])
                          + ([leftover] if leftover else []), redone)


def _leftover_warning(out: Path, oids: set[str]) -> str | None:
    """A warning when OUT holds outputs of an earlier run (another recipe or --variants, with --overwrite) that
    this run did not write: its manifest leaves them out, but a scan of OUT would take them for data."""
    folder = out / "params"
    if not folder.is_dir():
        return None
    others = sorted(p for p in folder.rglob("*.json") if p.relative_to(folder).with_suffix("").as_posix() not in oids)
    if not others:
        return None
    return (f"{out} holds {len(others)} output(s) of an earlier run that this run did not write (e.g. "
            f"{others[0].relative_to(out).as_posix()} and its image and mask); the manifest leaves them out, "
            "but a scan of the folder would take them for data: delete them or write to a new folder")


def _foreground_is_ignore(rows: list[ManifestRow], ignore: int, probes: int = 3) -> str | None:
    """A warning when the masks hold background and the ignore value alone (ISBI's 0/255 membranes, augmented
    unconverted and without a palette): their foreground, the rotation corners and the padding were one value,
    and mixup's soft labels said 100% background."""
    masks = [r.mask for r in rows if r.mask is not None][:probes]
    try:
        held = [set(np.unique(io.read_mask(m)).tolist()) for m in masks]
    except DataprepError:
        return None
    if not held or any(values != {0, ignore} for values in held):
        return None
    return (f"the masks hold {ignore} and 0 alone (e.g. {masks[0]}), and {ignore} is the ignore index: their "
            f"foreground counts as ignored, like the padding; for binary 0/{ignore} masks run `dataprep "
            "masks2labels --palette binary` first")


ImageKind = tuple[ManifestRow, str, int]  # a row, its image's dtype and bands (alpha dropped, as the loader does)


def image_kinds(rows: list[ManifestRow]) -> list[ImageKind]:
    """The pixel type of every readable image, from its header (the worker reports unreadable files, per output)."""
    kinds: list[ImageKind] = []
    for row in rows:
        try:
            info = io.read_info(row.image)
        except DataprepError:
            continue
        if info.dtype and info.bands:
            kinds.append((row, info.dtype, info.bands - 1 if info.alpha else info.bands))
    return kinds


def check_rgb_steps(recipe: Recipe, kinds: list[ImageKind]) -> None:
    """A step that needs RGB images (the op spec's `needs_rgb`) on an image of another band count, whose CPU
    kernel does not take the image's pixel type (`cpu_pixel_types`), or a photometric step on float images
    outside 0..1 (the first float image's range), is refused before any output is written: one line naming the
    step and the first such file."""
    steps = [(index, step.op) for index, step in enumerate(recipe.steps, 1) if needs_rgb(step.op)]
    for row, _, bands in kinds if steps else ():
        if bands not in COLOUR_BANDS:
            index, op = steps[0]
            raise UsageError(row.image, rgb_refusal(index, op, bands, one_image=True))
    for row, dtype, _ in kinds:
        refusal = pixel_type_refusal(recipe.steps, dtype, one_image=True)
        if refusal:
            raise UsageError(row.image, refusal)
    floats = [row for row, dtype, _ in kinds if dtype.startswith("float")]
    if floats and any(SPECS[step.op].colour_only for step in recipe.steps):
        # One image: its range says what the data's pixels are.
        refusal = float_range_refusal(recipe.steps, io.read_image(floats[0].image), one_image=True)
        if refusal:
            raise UsageError(floats[0].image, refusal)


def resolve_image_format(recipe: Recipe, rows: list[ManifestRow], kinds: list[ImageKind] | None = None) -> Recipe:
    """The recipe with its output format made concrete from the images' headers, refused where it would lose data.

    `auto`: the one container that holds every image exactly (JPEG when all are
    8-bit gray/RGB, as before; PNG for 16-bit; TIFF for more bands, int16 or
    float). An explicit format that cannot hold an image is refused here,
    before any output is written, naming the first such file.
    """
    asked = pixeltypes.normalize_format(recipe.output.image_format)
    needed: list[str] = []
    for row, dtype, bands in image_kinds(rows) if kinds is None else kinds:
        if asked != pixeltypes.AUTO:
            if not pixeltypes.can_hold(asked, dtype, bands):
                raise UsageError(
                    row.image, f"{pixeltypes.describe(dtype, bands)} image cannot be written as {asked} without "
                    f"losing data; use output.image_format: auto (here {pixeltypes.auto_format(dtype, bands)})",
                )
            continue
        needed.append(pixeltypes.auto_format(dtype, bands))
    fmt = pixeltypes.widest_format(needed) if asked == pixeltypes.AUTO else asked
    _refuse_size_beyond(recipe, fmt, picked=asked == pixeltypes.AUTO)
    return dataclasses.replace(recipe, output=dataclasses.replace(recipe.output, image_format=fmt))


def _refuse_size_beyond(recipe: Recipe, fmt: str, *, picked: bool) -> None:
    """Refuse a recipe `size` the image container or the masks' PNG cannot hold, before any output.

    `size: [80000, 1]` passed validation (the training loader takes it), then each JPEG output failed
    with OpenCV's error log and no reason."""
    if recipe.size is None:
        return
    side = max(recipe.size)
    why = f"output.image_format auto picks {pixeltypes.FORMAT_NAMES[fmt]} for these images" if picked else \
        f"output.image_format is {fmt}"
    for kind, container, fix in (("images", fmt, "use output.image_format: png or tif, or a smaller size"),
                                 ("masks", pixeltypes.PNG, "give a smaller size")):
        limit = pixeltypes.MAX_SIDE.get(container)
        if limit is not None and side > limit:
            because = why if kind == "images" else "masks are written as PNG"
            raise UsageError(recipe.source, f"size: {recipe.size[0]} x {recipe.size[1]} cannot be written: "
                             f"{because}, which holds at most {limit:,} pixels a side; {fix}")


def _checked_seed(recipe: Recipe, seed: int | None) -> int:
    """Once here, the recipe's seed too: plan_output's check refused a bad one once per output."""
    try:
        return check_seed(recipe.seed if seed is None else seed, "seed" if seed is None else "--seed")
    except UsageError as exc:
        raise UsageError(recipe.source if seed is None else None, exc.reason) from None


def _override(recipe: Recipe, image_format, quality, seed, variants) -> Recipe:
    output = recipe.output
    try:
        if image_format is not None:
            output = dataclasses.replace(output, image_format=image_format)
        if quality is not None:
            output = dataclasses.replace(output, quality=quality)
        output.check()
    except ValueError as exc:
        raise DataprepError(recipe.source, f"output.{exc}") from None
    if variants is not None and not 1 <= variants <= MAX_VARIANTS:
        raise UsageError(recipe.source, f"variants: must be 1..{MAX_VARIANTS}, got {variants}")
    return dataclasses.replace(
        recipe,
        output=output,
        seed=_checked_seed(recipe, seed),
        variants=recipe.variants if variants is None else variants,
    )


# --------------------------------------------------------------------------- per output (runs in workers)


class SampleCache:
    """Decoded inputs that one run (in each worker process: one chunk of outputs) reuses.

    Mosaic and copy-paste load partners again and again; a cache hit costs
    microseconds where decoding a sample costs milliseconds (benchmarks/results/
    hidden_state.json). Held by the run's worker object, never process-wide, so a
    later run reads the files again; pickling it (to a worker) drops its samples.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._samples: OrderedDict[tuple, Sample] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        return {"size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["size"])

    def get(self, key: tuple, load: Callable[[], Sample]) -> Sample:
        sample = self._samples.get(key)
        if sample is None:
            sample = self._samples[key] = load()
            if len(self._samples) > self.size:
                self._samples.popitem(last=False)
        else:
            self._samples.move_to_end(key)
        return sample


def _read_sample(image: str, mask: str | None, sid: str, ignore: int, size: tuple[int, int] = (0, 0),
                 extra_masks: str = "", classes: tuple[int, ...] | None = None) -> Sample:
    # Decoded samples are read-only so that no op can change a cached input in place.
    extra = {EXTRA_MASKS_COLUMN: extra_masks} if extra_masks else None
    row = ManifestRow(sid, Path(image), Path(mask) if mask is not None else None, size[0], size[1], extra)
    sample = io.load_sample(row, purpose="offline augmentation", ignore_index=ignore)
    if sample.mask is not None and sample.mask.dtype.kind == "i" and sample.mask.size and sample.mask.min() < 0:
        # Outputs are PNG label maps (0..65535): found on writing, after the work, or never where a crop cut it out.
        raise DataprepError(row.mask, f"label value {int(sample.mask.min())} is negative, which a PNG label map "
                                      "cannot hold: map it to the ignore index first (masks2labels --remap=-1:255)")
    if sample.mask is not None and ignore > np.iinfo(sample.mask.dtype).max:
        # cv2 saturates the fill: with ignore_index 300, rotated corners of 8-bit masks became 255, no class
        top = np.iinfo(sample.mask.dtype).max
        raise DataprepError(row.mask, f"ignore_index {ignore} does not fit this mask's {sample.mask.dtype} values "
                                      f"(0..{top}): padding would be written as {top}; choose an ignore_index "
                                      "the masks can hold")
    if classes and sample.mask is not None:
        _check_classes(sample.mask, classes, ignore, row.mask)
    sample.image.setflags(write=False)
    sample.mask.setflags(write=False)
    return sample


_PARTNER_OF_TEXT = "a partner of output {}, which is not written"
_PARTNER_OF = re.compile(r" \(a partner of output .*, which is not written\)$")


def _check_classes(mask: np.ndarray, classes: tuple[int, ...], ignore: int, path: Path | None) -> None:
    # A value that is neither a class nor the ignore index would be copied, pasted and mixed into every output
    # it touches, and refused only later by the trainer: a raw id mask (SegNet's void 11), an unconverted file.
    top = classes[-1] + 1
    outside = (mask >= top) & (mask != ignore)
    gaps = class_gaps(classes)
    if gaps:  # a palette without some index between its classes: such a value is no class either
        outside |= np.isin(mask, gaps)
    bad = np.unique(mask[outside])
    if bad.size:
        shown = ", ".join(str(v) for v in bad[:5].tolist()) + (", ..." if bad.size > 5 else "")
        raise DataprepError(path, f"label value(s) {shown} are not classes of the palette ({class_range(classes)}, "
                                  f"ignore {ignore}); convert the masks with `dataprep masks2labels` first")


def load_sample(row: ManifestRow, ignore_index: int, cache: SampleCache | None = None, *,
                classes: tuple[int, ...] | None = None) -> Sample:
    """A manifest row as a Sample; label maps only (colour masks are refused, naming the file).

    With `classes` (the palette's class indices, sorted), a label value that is neither a class nor
    `ignore_index` is refused, naming the file. With `cache`, a row loaded before in the same run is not
    decoded again."""
    args = (str(row.image), str(row.mask) if row.mask else None, row.id, ignore_index, (row.width, row.height),
            row.extra.get(EXTRA_MASKS_COLUMN, ""), classes)
    if cache is None:
        return _read_sample(*args)
    return cache.get(args, lambda: _read_sample(*args))


class _Worker:
    def __init__(self, recipe: Recipe, out: str, palette: np.ndarray | None, overwrite: bool, fingerprint: str,
                 classes: tuple[int, ...] | None = None, *, track_classes: bool = False):
        self.recipe = recipe
        self.classes = classes
        self.track_classes = track_classes  # return the classes of each output mask
        self.out = Path(out)
        self.palette = palette
        self.overwrite = overwrite
        self.fingerprint = fingerprint
        self.samples = SampleCache()
        self.kernels = Kernels()  # this run's compiled steps and donor components (each worker process fills its own)
        self.protected: frozenset[str] = frozenset()  # stale-looking paths that are inputs (--force): never removed

    def paths(self, oid: str) -> dict[str, Path]:
        ext = self.recipe.output.image_format
        # inside(): ids come from a manifest anyone can edit; no output may land outside OUT.
        return {
            "image": inside(self.out, "images", f"{oid}.{ext}"),
            "mask": inside(self.out, "masks", f"{oid}.png"),
            "soft": inside(self.out, "soft", f"{oid}.npz"),
            "params": inside(self.out, "params", f"{oid}.json"),
        }

    def stale_paths(self, oid: str, writes_soft: bool = False) -> list[Path]:
        """Files an earlier run (--overwrite with another recipe or format) may have left for this output and this
        run does not write: the image in another format, the soft label of a mixup that no longer runs."""
        ext = self.recipe.output.image_format
        stale = [inside(self.out, "images", f"{oid}.{other}") for other in pixeltypes.OUTPUT_FORMATS if other != ext]
        return stale if writes_soft else [*stale, inside(self.out, "soft", f"{oid}.npz")]

    def __call__(self, job: _Job) -> tuple[ManifestRow, Outcome, frozenset[int]]:
        source = job.rows[job.plan.index]
        oid = output_id(source.id, job.plan.variant)
        paths = self.paths(oid)
        # Every row loaded, not only the recorded source_ids: a donor copy-paste took nothing from may give
        # objects once its mask changes. Stat'ed before the loads, so a file changed during the run counts next time.
        stamp = inputs_stamp(job.rows.values())
        outcome: Outcome = "written"
        if not self.overwrite and paths["params"].exists():
            record = self._read_record(paths["params"])
            changed = record.get(INPUTS_KEY) != stamp
            # A record vouches only for files still there: an image or mask deleted since (to have it redone)
            # was listed in the manifest as kept, a path to nothing.
            if not changed and _outputs_present(paths, record):
                present = self._classes(io.read_mask(paths["mask"])) if self.track_classes else frozenset()
                return self._row(source, oid, paths, record), "reused", present
            outcome = "redone" if changed else "written"
        # Gone first, --overwrite too: an interrupted redo must not leave the old record vouching for half-new files.
        paths["params"].unlink(missing_ok=True)
        samples = {}
        for i, row in job.rows.items():
            try:
                samples[i] = load_sample(row, self.recipe.ignore_index, self.samples, classes=self.classes)
            except DataprepError as exc:
                if i == job.plan.index:
                    raise
                # The output of another source: said, or its failure reads as a second error of the partner.
                raise DataprepError(exc.path, f"{exc.reason} ({_PARTNER_OF_TEXT.format(oid)})") from None
        result = execute(self.recipe, job.plan, samples, self.kernels)
        fmt = self.recipe.output.image_format
        if not pixeltypes.can_hold(fmt, result.image.dtype, result.image.shape[2]):
            # Never a saturated or truncated copy (a row the format check could not read ahead of the run).
            kind = pixeltypes.describe(result.image.dtype, result.image.shape[2])
            raise DataprepError(source.image, f"{kind} image cannot be written as {fmt} without losing data; "
                                              "use output.image_format: auto")
        io.write_image(paths["image"], result.image, quality=self.recipe.output.quality)
        io.write_mask(paths["mask"], result.mask, palette=self.palette)
        soft = result.meta.extra.get(SOFT_LABEL_KEY)
        if soft is not None:
            _write_npz(paths["soft"], weights=np.asarray(soft, np.float32))
        # Before the record: beside the new files, a scan found two images of one stem, a reader of soft/ the old
        # mixup's weights for an output without mixup.
        for stale in self.stale_paths(oid, writes_soft=soft is not None):
            if str(stale) not in self.protected:
                stale.unlink(missing_ok=True)
        record = {
            "fingerprint": self.fingerprint,
            INPUTS_KEY: stamp,
            # One per input position that gave pixels (not a donor copy-paste took nothing from).
            "source_ids": [job.rows[i].id for i in result.meta.extra[USED_INPUTS_KEY]],
            "ops": applied_ops(result),
            "params": provenance(result),
            "seed": self.recipe.seed,
            "soft_label": soft is not None,
        }
        # Last: its presence says image, mask and soft label are complete.
        io.atomic_write_text(paths["params"], _record_text(record))
        present = self._classes(result.mask) if self.track_classes else frozenset()
        return self._row(source, oid, paths, record), outcome, present

    def _classes(self, mask: np.ndarray) -> frozenset[int]:
        values = np.flatnonzero(np.bincount(mask.ravel())) if mask.size else ()
        return frozenset(int(v) for v in values if v != self.recipe.ignore_index)

    def _read_record(self, path: Path) -> dict[str, Any]:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataprepError(path, f"unreadable provenance ({exc}); rerun with --overwrite") from None
        if record.get("fingerprint") != self.fingerprint:
            raise DataprepError(
                path, "written by a different recipe, seed, input manifest or palette; "
                "use another output folder or pass --overwrite"
            )
        return record

    def _row(self, source: ManifestRow, oid: str, paths: dict[str, Path], record: dict[str, Any]) -> ManifestRow:
        height, width = self.recipe.size  # type: ignore[misc]
        # The written mask holds the extra masks merged: their names, kept, were looked for beside it and every
        # reader of the output failed ("OUT/masks/x_1.png: file not found").
        extra = {k: v for k, v in source.extra.items() if k not in PROVENANCE_COLUMNS and k != EXTRA_MASKS_COLUMN}
        extra.update(
            source_ids=";".join(record["source_ids"]),
            ops=";".join(record["ops"]),
            params=json.dumps(record["params"], separators=(",", ":"), sort_keys=True),
            seed=str(record["seed"]),
        )
        if record.get("soft_label"):
            extra["soft_label"] = f"soft/{oid}.npz"
        return ManifestRow(oid, paths["image"], paths["mask"], width, height, extra)


def _outputs_present(paths: dict[str, Path], record: dict[str, Any]) -> bool:
    """Whether the image, the mask and (when the record has one) the soft label of an output exist."""
    names = ("image", "mask", "soft") if record.get("soft_label") else ("image", "mask")
    return all(paths[name].is_file() for name in names)


def _record_text(record: dict[str, Any]) -> str:
    """The provenance file: one top-level key per line, each value compact.

    json.dumps with `indent` falls back to the pure-Python encoder, which cost a few
    percent of a whole run; values encoded on their own use the C one.
    """
    lines = (f"{json.dumps(k)}: {json.dumps(record[k], sort_keys=True, separators=(',', ':'))}" for k in sorted(record))
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    """np.savez with fixed zip timestamps, so reruns give identical bytes."""
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            member = _io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)
    io.atomic_write_bytes(path, buf.getvalue())
