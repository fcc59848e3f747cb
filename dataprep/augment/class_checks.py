"""Checks of the classes a recipe's steps name: refused when the palette lacks them, warned about when no output
holds them."""
from __future__ import annotations

from ..errors import UsageError
from ..palette import class_range
from ..recipe import Recipe

NamedClasses = tuple[int, str, str, tuple[int, ...]]  # step number, op, parameter, the classes it names


def named_classes(recipe: Recipe) -> list[NamedClasses]:
    """The class lists a recipe's steps name (copy_paste `classes`, crop `focus_classes`)."""
    found = []
    for number, step in enumerate(recipe.steps, 1):
        for name in ("classes", "focus_classes"):
            classes = getattr(step.params, name, ())
            if classes:
                found.append((number, step.op, name, tuple(int(c) for c in classes)))
    return found


def swapped_classes(recipe: Recipe) -> list[NamedClasses]:
    """The classes of hflip's `swap_labels` pairs: checked against the palette, not expected in every output."""
    return [(number, step.op, "swap_labels", tuple(int(c) for pair in step.params.swap_labels for c in pair))
            for number, step in enumerate(recipe.steps, 1) if getattr(step.params, "swap_labels", ())]


def check_named_classes(recipe: Recipe, named: list[NamedClasses], classes: tuple[int, ...], ignore: int,
                        palette_name: str) -> None:
    """A class a step names that the palette does not have (a typo, another dataset's index) is refused."""
    for number, op, name, listed in named:
        bad = [c for c in listed if c not in classes or c == ignore]
        if bad:
            raise UsageError(recipe.source, f"step {number} ({op}): {name} {bad} are not classes of palette "
                                            f"{palette_name!r} ({class_range(classes)})")


def absent_class_warnings(named: list[NamedClasses], held: set[int], outputs: int) -> list[str]:
    """One line per step whose named classes appear in no output: they are absent from the inputs (or too small
    for the step), so it ran as if they had not been named: nothing pasted, random crops."""
    lines = []
    for number, op, name, classes in named if outputs else ():
        missing = [c for c in classes if c not in held]
        if missing:
            lines.append(f"step {number} ({op}): {name} {missing} appear in none of the {outputs} outputs; "
                         "are they in the masks at all?")
    return lines
