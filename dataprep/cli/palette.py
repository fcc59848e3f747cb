"""`dataprep palette infer|show`: propose a palette from masks, or print one."""
from __future__ import annotations

from pathlib import Path

import click

from ..palette import (BUILTIN_PALETTES, EntryKind, InferredPalette, Palette, builtin_palette, infer_palette,
                       load_palette)
from ..palette.model import palette_output
from ..errors import EXIT_DATA_PROBLEM
from ..paths import Inputs
from ..sample import DEFAULT_IGNORE_INDEX
from .common import Group, executor_options, reports_errors

_SHOWN_ARTEFACTS = 10


@click.group("palette", cls=Group)
def palette_group() -> None:
    """Make, inspect and list palettes (class name, colour, index, ignore).

    \b
    Built-in palettes: voc, cityscapes, camvid, camvid11, suim, deepglobe, isprs, oxford_pet, ade20k,
    kitti_road, binary.
    """


@palette_group.command("infer")
@click.argument("masks", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Palette file to write (.json, or .yaml/.yml).")
@click.option("--ignore-index", type=click.IntRange(0, 65535), default=DEFAULT_IGNORE_INDEX, show_default=True,
              help="Index for ignored classes (index masks: this value is marked ignore).")
@click.option("--name", default="inferred", show_default=True, help="Name stored in the palette.")
@click.option("--reduce-zero", is_flag=True,
              help="Index masks storing class k as k+1 and 0 as not labelled (ADE20K): classes 0..max-1, for "
                   "masks2labels --remap reduce-zero.")
@reports_errors
@executor_options
def infer_command(masks: tuple[Path, ...], output: Path, ignore_index: int, name: str, reduce_zero: bool, executor,
                  on_error: str, quiet: bool) -> None:
    """Count the colours (or values) in MASKS and write a palette to edit.

    MASKS are mask files, folders of masks, or manifest CSVs. One class per
    colour, most pixels first; colours that look like compression or blending
    artefacts (rare, next to or between frequent ones, e.g. JPEG masks) are
    flagged and grouped into their class. Colours matching a built-in palette get
    its class names and ignore flags.

    \b
    Example:
      dataprep palette infer sample_data/masks -o work/palette.json
    """
    from ..maskfiles import collect_mask_paths

    Inputs([*collect_mask_paths(masks), *(m for m in masks if m.is_file())]).guard_file(output)
    palette_output(output)  # before the masks are counted
    result = infer_palette(masks, ignore_index=ignore_index, name=name, reduce_zero=reduce_zero, executor=executor,
                           on_error=on_error, quiet=quiet)
    result.save(output)
    for line in result.errors:
        click.echo(f"error: {line}", err=True)
    _print_inferred(result, output)
    if result.dataset_builtin == "ade20k":
        click.echo("\nthe masks are named as ADE20K's (class k stored as k + 1, 0 not labelled): --palette ade20k "
                   "--remap ids gives its 150 classes their names and MMSegmentation's indices (reduce_zero_label)")
    if result.ade20k_full_classes is not None:
        click.echo("\nwarning: these are ADE20K full-release _seg.png masks: their colours are codes (red / 10 * "
                   f"256 + green the class, blue the instance), so the {len(result.colours)} colours are "
                   f"{result.ade20k_full_classes} classes split by instance; `dataprep import ade20k ROOT DEST` makes "
                   "label maps of them (ROOT: the folder of the images and their _seg.png files)", err=True)
    if result.errors:
        click.echo(f"{len(result.errors)} mask(s) could not be read (listed above) and were left out", err=True)
        raise SystemExit(EXIT_DATA_PROBLEM)


def _print_inferred(result: InferredPalette, output: Path) -> None:
    total = result.pixels or 1
    pooled: dict[int, int] = {}
    for c in result.colours:
        pooled[c.index] = pooled.get(c.index, 0) + c.pixels
    rows = [("index", "name", "colour", "pixels", "%", "masks")]
    by_colour = {c.color: c for c in result.classes}
    listed = [cls for cls in result.palette.classes if cls.kind is not EntryKind.ARTEFACT]
    rows_per_index: dict[int, int] = {}
    for cls in listed:
        rows_per_index[cls.index] = rows_per_index.get(cls.index, 0) + 1
    for cls in listed:
        found = by_colour.get(cls.color) if cls.color else None
        images = str(found.images) if found else ""
        value = "" if found is None or found.value is None else f" (value {found.value})"
        # Rows sharing an index (several ignore colours) each show their own pixels, not the index's total.
        n = pooled.get(cls.index, 0) if rows_per_index[cls.index] == 1 else (found.pixels if found else 0)
        rows.append((str(cls.index), cls.name + (" [ignore]" if cls.ignore else "") + value,
                     _hex(cls.color), f"{n:,}", f"{100 * n / total:.2f}", images))
    _table(rows)
    artefacts = result.artefacts
    if artefacts:
        n_px = sum(c.pixels for c in artefacts)
        click.echo(f"\n{len(artefacts):,} colours ({n_px:,} pixels, {100 * n_px / total:.2f}%) look like "
                   f"{'lossy-compression' if result.lossy else 'edge'} artefacts; they are grouped into the class "
                   "they most resemble" + (" (the rarest are not listed in the file: convert with --unknown nearest)"
                                           if len(artefacts) > result.to_dict()["inferred"]["artefacts_listed"] else ""))
        names = {c.index: c.name for c in result.palette.classes}
        for c in artefacts[:_SHOWN_ARTEFACTS]:
            click.echo(f"  {_hex(c.color)} {c.pixels:>10,} px -> {names.get(c.index, c.index)}")
        if len(artefacts) > _SHOWN_ARTEFACTS:
            click.echo(f"  ... and {len(artefacts) - _SHOWN_ARTEFACTS:,} more")
    if result.resampling_blends:
        shown = ", ".join(_hex(c) for c in result.resampling_blends[:6])
        click.echo(f"\nwarning: {len(result.resampling_blends)} classes ({shown}) never fill a 3x3 block and are each "
                   "a mix of 3-4 other classes' colours: the masks look resized with bilinear or area interpolation. "
                   "Resize the original masks with nearest-neighbour instead (`dataprep resize` does), or delete "
                   "those entries and convert with --unknown nearest", err=True)
    if result.transparent_pixels:
        click.echo(f"{result.transparent_pixels:,} transparent pixels (alpha 0) were not counted; "
                   "masks2labels makes them ignore")
    if result.suggestion and result.kind == "index":
        click.echo(f"\nthe masks' colour tables are those of the built-in palette '{result.suggestion}' (names taken "
                   f"from it): their values are its indices, so --palette {result.suggestion} converts them as they are")
    elif result.suggestion:
        click.echo(f"\nthe colours match the built-in palette '{result.suggestion}' "
                   f"(names taken from it); --palette {result.suggestion} would use its official indices")
    if result.grey_rgb_files:
        among = "the index masks among them" if result.grey_rgb_files < result.files else "index masks"
        click.echo(f"\n{result.grey_rgb_files} RGB masks hold grey pixels only: counted by their grey values, as "
                   f"{among}")
    if result.binary_encodings:
        ones, full, example = result.binary_encodings
        click.echo(f"\nwarning: {ones} masks hold 0/1 and {full} hold 0/255 (e.g. {example}): the same foreground "
                   f"stored two ways? 255 is counted as ignore here; rewrite those masks with 1 for 255 before "
                   "masks2labels", err=True)
    if result.by_colour_files:
        click.echo(f"\n{result.by_colour_files} palette-mode masks were counted by colour (their colour tables "
                   "differ from file to file, or RGB masks are among them); masks2labels converts them by colour too")
    if result.dataset_builtin == "camvid11":
        click.echo("\nthe masks are named as CamVid's frames and hold values up to 11: SegNet's CamVid (11 classes, "
                   "11 void)? --palette camvid11 --remap ids gives them their names and makes void ignored "
                   "(--palette camvid is the original release's 32 colour classes)")
    if result.dataset_builtin == "oxford_pet":
        click.echo("\nvalues 1, 2 and 3 are those of the Oxford-IIIT Pet trimaps (1 pet, 2 background, 3 not "
                   "classified): if these are trimaps, --palette oxford_pet --remap ids makes background 0, pet 1 "
                   "and the unclassified band along the outline ignored")
    if result.sparse:
        extra = (f"; {result.palette.ignore_index} fills large regions, so it is a class, not ignore"
                 if result.ignore_is_class else "")
        click.echo(f"\nthe stored values are not 0..K-1: classes get compact indices 0..{result.palette.num_classes - 1} "
                   f"with the stored value as id{extra}; convert with "
                   f"`dataprep masks2labels --palette {output} ...` (the palette records remap: ids)")
    elif result.ignore_is_class:
        click.echo(f"\nthe classes run past the ignore value (up to {result.palette.num_classes - 1}): it is one "
                   f"of them, and the ignore index moved past them all, to {result.palette.ignore_index}")
    values = [c.value for c in result.colours if c.value is not None]
    top = next((c for c in result.palette.classes if c.kind is not EntryKind.ARTEFACT and c.id == 65535
                and not c.ignore), None) if result.kind == "index" else None
    if top is not None:
        click.echo(f"\nvalue 65535, the largest a 16-bit mask holds, is class {top.index} ({top.name}): it is the "
                   "usual no-data code of 16-bit label maps; if it marks unlabelled pixels, set its ignore flag in "
                   f"the palette (\"ignore\": true and \"index\": {result.palette.ignore_index} on that class)")
    if result.kind == "index" and not (result.lossy or result.reduced_zero) and len(values) > INSTANCE_HINT_VALUES:
        click.echo(f"\n{len(values)} distinct values: if they number objects (an instance mask) rather than "
                   f"classes, `dataprep masks2labels --palette binary --remap 1-{max(values)}:1 ...` makes every "
                   "object one foreground class")
    if result.reduced_zero:
        zeros = sum(c.pixels for c in result.colours if c.value == 0)
        click.echo(f"\nstored value 0 is 'not labelled' (ignore: {zeros:,} pixels, {100 * zeros / total:.2f}%) and "
                   f"class k is stored as k + 1; convert with "
                   f"`dataprep masks2labels --palette {output} ...` (the palette records remap: reduce-zero)")
    if result.lossy and result.kind == "index":
        centres = [c.id for c in result.palette.classes if c.kind is not EntryKind.ARTEFACT]
        click.echo(f"\nthe masks are JPEG-compressed (or were, before a lossless save): their {len(result.colours)} "
                   "values are compression noise around "
                   f"{len(centres)} ({', '.join(map(str, centres))}); every value 0..255 is listed under the class "
                   f"of the nearest of those; convert with `dataprep masks2labels --palette {output} ...` (remap: ids)"
                   ", and save masks as PNG from now on")
    if result.binary:
        click.echo(f"\nbinary masks (values 0 and 255): 255 is taken as class 1, not as ignore; convert with "
                   f"`dataprep masks2labels --palette {output} ...` (the palette records remap: ids, which maps 255 to 1)")
    kind = "colours" if result.kind == "colour" else "values"
    click.echo(f"\n{result.files} masks, {len(result.colours):,} distinct {kind}, {result.palette.num_classes} classes "
               f"-> {output} (edit names, indices and ignore flags, then run masks2labels)")


INSTANCE_HINT_VALUES = 64  # more values than this in index masks: maybe object ids (ADE20K's 150 classes do too)


@palette_group.command("show")
@click.argument("palette", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the palette as JSON (the file schema).")
@reports_errors
def show_command(palette: str | None, as_json: bool) -> None:
    """Print a palette (built-in NAME or FILE); without one, list the built-ins.

    \b
    Examples:
      dataprep palette show
      dataprep palette show cityscapes
      dataprep palette show sample_data/palette.json --json
    """
    if palette is None:
        rows = [("name", "classes", "entries", "ignore index")]
        for name in BUILTIN_PALETTES:
            p = builtin_palette(name)
            rows.append((name, str(p.num_classes), str(len(p.classes)), str(p.ignore_index)))
        _table(rows)
        return
    pal = load_palette(palette)
    if as_json:
        click.echo(pal.to_json(), nl=False)
        return
    _print_palette(pal)


def _print_palette(pal: Palette) -> None:
    rows = [("index", "name", "colour", "id", "ignore")]
    for c in sorted(pal.classes, key=lambda c: (c.index, c.id is None)):  # stable: file order within an index
        rows.append((str(c.index), c.name, _hex(c.color), "" if c.id is None else str(c.id), "yes" if c.ignore else ""))
    click.echo(f"{pal.name}: {pal.num_classes} classes, ignore index {pal.ignore_index}, {len(pal.classes)} entries")
    _table(rows)


def _hex(colour) -> str:
    return "-" if colour is None else "#{:02x}{:02x}{:02x} ({},{},{})".format(*colour, *colour)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


__all__ = ["palette_group"]
