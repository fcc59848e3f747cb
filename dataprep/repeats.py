"""Files that several manifest rows name: one image under two ids, one mask under several images.

Manifests joined by hand (two overlapping exports concatenated, a spreadsheet's drag-fill) name one file twice
without any id being repeated: kfold put the one photo in two folds (trained on and validated on), and stats
counted it twice, without a word. kfold keeps the rows of one image in one fold; both commands say so.
"""
from __future__ import annotations

import os
from collections.abc import Hashable, Sequence

from .manifest import ManifestRow


def repeated_files(rows: Sequence[ManifestRow], *, masks: bool = False) -> list[list[int]]:
    """The indices of rows naming one image file (`masks`: one mask file), for each file named more than once."""
    seen: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        path = row.mask_str if masks else row.image_str
        if path is not None:
            seen.setdefault(path, []).append(i)
    return [where for where in seen.values() if len(where) > 1]


def join_units(keys: Sequence[Hashable], together: Sequence[Sequence[int]]) -> list[Hashable]:
    """`keys` (a fold unit per row) with the units of the rows in each of `together` made one."""
    parent: dict[Hashable, Hashable] = {}

    def root(key: Hashable) -> Hashable:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    for where in together:
        for i in where[1:]:
            a, b = root(keys[where[0]]), root(keys[i])
            if a != b:  # the smaller key stands for both, so the folds do not depend on the rows' order
                low, high = sorted((a, b), key=str)
                parent[high] = low
    return [root(key) for key in keys]


def repeated_files_warnings(rows: Sequence[ManifestRow], images: Sequence[Sequence[int]], *, consequence: str
                            ) -> list[str]:
    """Warning lines for rows naming one image (`images`, from `repeated_files`) and for one mask given to
    different images; `consequence` says what the command did with the repeated images."""
    # File names, not paths: the lines go into report.json, which must not depend on where the data sits.
    lines = []
    if images:
        first = images[0]
        ids = ", ".join(repr(rows[i].id) for i in first[:3])
        name = os.path.basename(rows[first[0]].image_str)
        lines.append(f"{len(images)} image file(s) are named by several rows, e.g. {name} as {ids}: two manifests "
                     f"joined? {consequence}; remove the repeated rows unless they are meant")
    masks = [where for where in repeated_files(rows, masks=True)
             if len({rows[i].image_str for i in where}) > 1]
    if masks:
        first = masks[0]
        name = os.path.basename(rows[first[0]].mask_str or "")
        more = ", ..." if len(first) > 2 else ""
        lines.append(f"{len(masks)} mask file(s) are the label map of different images, e.g. {name} of {len(first)} "
                     f"images ({rows[first[0]].id!r}, {rows[first[1]].id!r}{more}): a manifest filled down by hand? "
                     "unless it is meant for all of them (one blank mask), each image needs its own")
    return lines


__all__ = ["join_units", "repeated_files", "repeated_files_warnings"]
