"""Copies of one source photo in an export: Roboflow's augmented outputs, kept in one fold by a `group` column.

Roboflow exports each source photo as one or more augmented copies (cropped, rotated, recoloured, so `dedup`
misses them) named `NAME_jpg.rf.<32 hex>.jpg`, and its COCO JSON records the original as `images[].extra.name`.
Copies of one photo split across folds validate on the pictures the model trained on; a `group` column (as
`kfold` reads it) keeps them together.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

GROUP_COLUMN = "group"

# `NAME_<ext>.rf.<hash>.<ext>`: Roboflow's name for a copy of NAME.<ext> (the stored copy is often re-encoded).
_ROBOFLOW_COPY = re.compile(r"^(?P<stem>.+)_(?P<ext>[A-Za-z0-9]{2,5})\.rf\.[0-9a-fA-F]{32}\.[A-Za-z0-9]+$")


def roboflow_source(file_name: str) -> str | None:
    """`t00570.jpg` for `t00570_jpg.rf.<hash>.jpg`, the source photo's name as Roboflow's `extra.name` gives it;
    None for a name Roboflow did not make."""
    m = _ROBOFLOW_COPY.match(file_name.replace("\\", "/").rpartition("/")[2])
    return f"{m['stem']}.{m['ext']}" if m else None


def copy_groups(ids: Sequence[str], sources: Sequence[str | None]) -> list[str] | None:
    """Each row's group: its source photo, or its own id when it is no copy; None when no photo has two copies
    (a column of singletons would only add noise to the manifest)."""
    counts = Counter(s for s in sources if s)
    if not counts or max(counts.values()) < 2:
        return None
    return [source or row_id for row_id, source in zip(ids, sources)]


def copies_note(sources: Sequence[str | None]) -> str | None:
    """The import summary's line on the copies a group column holds together, or None without any."""
    counts = Counter(s for s in sources if s)
    shared = [n for n in counts.values() if n > 1]
    if not shared:
        return None
    return (f"{sum(shared)} images are copies of {len(shared)} source photos (Roboflow names): a group column "
            "keeps each photo's copies in one fold")
