"""`dataprep scan`: pair images with masks, validate, write a manifest."""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import click

from ..errors import EXIT_DATA_PROBLEM, DataprepError, UsageError, one_line
from ..manifest import write_manifest
from ..paths import Inputs
from ..scan import Problem, ScanResult, scan
from ..split_column import SPLIT_COLUMN
from .common import executor_options, reports_errors


_SHOWN_SAME_WARNING = 3  # files named in full per warning text; more files with the same warning are counted
_SHOWN_RULES = 6  # pairing rules listed in the summary; the rest are counted

@click.command("scan")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Manifest CSV to write (paths in it are relative to its folder).")
@click.option("--image-dir", metavar="NAME", help="Folder name holding images (e.g. images, leftImg8bit).")
@click.option("--mask-dir", metavar="NAME", help="Folder name holding masks (e.g. masks, gtFine).")
@click.option("--image-suffix", metavar="TEXT", help="Stem suffix removed from image names (e.g. _leftImg8bit).")
@click.option("--mask-suffix", metavar="TEXT", help="Stem suffix removed from mask names (e.g. _gtFine_color).")
@click.option("--mask-word", metavar="WORD",
              help="A word mask names add (with a separator), or put in place of the image names' word, removed "
                   "to pair them (KITTI road: road, for gt_image_2/um_road_000000.png <-> image_2/um_000000.png; "
                   "mask for masks/mask_0001.png <-> images/img_0001.png). Found by itself when no suffix "
                   "pairs and one word pairs the most.")
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
              help="Skip paths (relative to ROOT) matching this glob, e.g. 'bad/*'. Repeatable.")
@click.option("--check", type=click.Choice(["header", "decode"]), default="header", show_default=True,
              help="header: sizes and truncation from headers and file tails; decode: also decode every file.")
@click.option("--strict", is_flag=True, help="Exit 1 if any problem is found (default: report and leave them out).")
@click.option("--duplicates", is_flag=True,
              help="Also find duplicate and near-duplicate images: adds group and duplicate_of columns "
                   "(kfold --group-column group keeps them in one fold).")
@click.option("--keep-scaled-masks", is_flag=True,
              help="Keep pairs whose mask is its image at another scale (a warning instead of a problem), "
                   "for `dataprep resize --to image`.")
@reports_errors
@executor_options
def scan_command(root: Path, output: Path, image_dir: str | None, mask_dir: str | None, image_suffix: str | None,
                 mask_suffix: str | None, mask_word: str | None, exclude: tuple[str, ...], check: str, strict: bool,
                 duplicates: bool,
                 keep_scaled_masks: bool, executor, on_error: str, quiet: bool) -> None:
    """Find image/mask pairs under ROOT, validate them, write a manifest.

    \b
    Pairs by relative path below sibling folders, with name suffixes read from the data:
    images/a/x.jpg <-> masks/a/x.png, CamVid train/ <-> trainannot/, Kaggle CamVid
    train/x.png <-> train_labels/x_L.png, Cityscapes leftImg8bit/ <-> gtFine/
    (_leftImg8bit / _gtFine_color), or side-by-side names such as x_image.png <->
    x_target.png. Several splits (train/val/test) give a split column. Problems
    (orphans, duplicate stems, unreadable or truncated files, size mismatches,
    EXIF-rotated images) are listed and left out of the manifest; with --on-error fail the
    first one stops the scan and no manifest is written. When nothing pairs,
    no manifest is written (exit 1) and the summary says what the tree looks like.

    \b
    --image-dir/--mask-dir take folder names (sibling folders of those names anywhere),
    or both paths relative to ROOT (two trees paired by relative path); one name alone
    picks among the detected folder pairs (e.g. --mask-dir 1st_manual, or the mask folder
    inside a sibling folder: Mapillary Vistas' --mask-dir v2.0/labels, in every split).
    Masks further down their folder pair are found too (BDD100K's images/10k/train/x.jpg
    <-> labels/sem_seg/masks/train/x.png, not the colour copies in colormaps/).

    \b
    Examples:
      dataprep scan sample_data --exclude 'bad/*' -o work/manifest.csv
      dataprep scan DRIVE --mask-dir 1st_manual -o drive.csv
      dataprep scan mapillary-vistas --mask-dir v2.0/labels -o vistas.csv
      dataprep scan data_road/training --mask-word road -o kitti.csv
      dataprep scan data --image-dir s2_images/window_a --mask-dir label_masks/semantic_3class -o m.csv
    """
    result = scan(root, image_dir=image_dir, mask_dir=mask_dir, image_suffix=image_suffix, mask_suffix=mask_suffix,
                  mask_word=mask_word, exclude=exclude, check=check, duplicates=duplicates,
                  keep_scaled_masks=keep_scaled_masks, executor=executor, on_error=on_error,
                  quiet=quiet)  # type: ignore[arg-type]
    if not result.rows:
        _print_summary(result, None)
        # An empty manifest would silently replace a good one: keep whatever is there.
        what = "no image/mask pairs found" if not result.rules else "no valid image/mask pairs"
        raise DataprepError(root, f"{what}; {output} not written")
    found = [p for r in result.rows for p in (r.image_str, r.mask_str) if p is not None]
    found += [os.path.join(result.root, p.path) for p in (*result.problems, *result.warnings)]
    Inputs(found).guard_file(output)
    _refuse_replacing_a_non_manifest(output)
    write_manifest(result.manifest, output)
    _print_summary(result, output)
    if strict and result.problems:
        sys.exit(EXIT_DATA_PROBLEM)


def _refuse_replacing_a_non_manifest(output: Path) -> None:
    """`scan DIR -o DIR/palette.json` replaced the dataset's palette with a manifest: an existing file is
    replaced only when it is a manifest (its header starts id,image,mask) or empty."""
    try:
        with open(output, "rb") as f:
            head = f.read(64).removeprefix(b"\xef\xbb\xbf")
    except (FileNotFoundError, IsADirectoryError):
        return
    except OSError:
        return  # guard_file and the write name the problem
    if head and not head.startswith(b"id,image,mask"):
        raise UsageError(output, "exists and is not a manifest (its first line is not id,image,mask,...); scan "
                                 "would replace it: choose another output file")


def _print_summary(result: ScanResult, output: Path | None) -> None:
    for p in result.problems:
        click.echo(f"problem: {_one_line(str(result.root / p.path))}: {p.reason}", err=True)
    for reason, paths in _by_reason(result.warnings).items():
        if len(paths) <= _SHOWN_SAME_WARNING:
            for path in paths:
                click.echo(f"warning: {result.root / path}: {reason}", err=True)
        else:  # DRIVE: 58 TIFFs with an alpha band, one line, not 58
            shown = ", ".join(paths[:_SHOWN_SAME_WARNING])
            more = len(paths) - _SHOWN_SAME_WARNING
            click.echo(f"warning: under {result.root}, {shown} and {more} more ({len(paths)} in all): {reason}",
                       err=True)
    if result.duplicates is not None:
        for line in result.duplicates.cluster_lines():
            click.echo(f"duplicates: {line}", err=True)
    for line in result.notes:
        click.echo(f"warning: {line}", err=True)
    for hint in result.hints:
        click.echo(f"hint: {hint.describe(result.root)}", err=True)
    counts = result.problem_counts()
    rules = [f"{r.describe()}: {r.pairs} pairs [{r.how}]" for r in result.rules]
    if len(rules) > _SHOWN_RULES:  # one folder pair per sample (PH2's IMD002/IMD002_Dermoscopic_Image, ...)
        rest = result.rules[_SHOWN_RULES - 1:]
        rules[_SHOWN_RULES - 1:] = [f"... and {len(rest)} more folder pairs ({sum(r.pairs for r in rest)} pairs)"]
    lines: list[tuple[str, object]] = [
        ("pairing", rules[0] if rules else "nothing pairs (no known folder pair or name suffix)"),
        *(("", line) for line in rules[1:]),
        ("images found", result.images_seen),
        ("masks found", result.masks_seen),
    ]
    if result.unpaired_files:
        lines.append(("other image files", f"{result.unpaired_files} (not taken by any pairing rule)"))
    lines.append(("pairs in manifest", len(result.rows)))
    if result.splits:
        per_split = Counter(r.extra.get(SPLIT_COLUMN, "") for r in result.rows)
        listed = f" (from the lists in {result.splits_from})" if result.splits_from else ""
        lines.append(("split column", ", ".join(f"{s} {per_split[s]}" for s in result.splits) + listed))
    lines += [
        *((f"  {kind.label}", n) for kind, n in sorted(counts.items())),
        ("problems", len(result.problems)),
        ("warnings", len(result.warnings) + len(result.notes)),  # every warning line above
    ]
    if result.duplicates is not None:
        d = result.duplicates
        lines.append(("duplicate clusters", f"{len(d.clusters)} ({d.num_exact} exact, {d.num_near} near copies)"))
    lines.append(("manifest", output if output is not None else "not written"))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key:<{width}}  {value}")


def _one_line(text: str) -> str:
    """Control characters of a file name written as escapes (`nl\\nname.jpg`), so that a problem stays one line."""
    return one_line(os.fsencode(text).decode("utf-8", "backslashreplace"))  # non-UTF-8 bytes made printable


def _by_reason(warnings: list[Problem]) -> dict[str, list[str]]:
    """Warned paths per warning text, in the order the texts first appear."""
    grouped: dict[str, list[str]] = {}
    for w in warnings:
        grouped.setdefault(w.reason, []).append(w.path)
    return grouped
