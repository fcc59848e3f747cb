"""Module structure: palette and labels do not import each other in a cycle, `python -m dataprep.train`
does not import the CLI, and the per-run state that used to be process-wide stays per run."""
from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "dataprep"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    """The dataprep modules a file imports (relative imports resolved), at module level or anywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # `from . import x` names a module
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "dataprep" or m.startswith("dataprep.")}


def _files(package: str) -> list[Path]:
    folder = PACKAGE / package
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{package}.py"]


def _in(module: str, package: str) -> bool:
    return module == f"dataprep.{package}" or module.startswith(f"dataprep.{package}.")


def test_palette_never_imports_labels_anywhere():
    # Not even lazily inside a function: that is how the old cycle was hidden.
    for path in _files("palette"):
        bad = [m for m in _imports(path, module_level_only=False) if _in(m, "labels")]
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def _cycles_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start in the module-level import graph, if any."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_module_level_import_cycle_through_palette_or_labels():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in _imports(path, module_level_only=True) if m in modules and m != name}
             for name, path in modules.items()}
    for name in modules:
        if _in(name, "palette") or _in(name, "labels") or name == "dataprep.maskfiles":
            cycle = _cycles_through(graph, name)
            # A package's __init__ importing its own submodules is no cycle worth the name; leaving it
            # and coming back is.
            if cycle and not all(_in(m, name.split(".")[1]) for m in cycle):
                pytest.fail(" -> ".join(cycle))


@pytest.mark.parametrize("package", ["palette", "labels", "io"])
def test_every_module_imports_alone_in_a_fresh_interpreter(package):
    names = [_module_name(p) for p in _files(package)] + ["dataprep.maskfiles"]
    script = ("import importlib, subprocess, sys\n"
              "for name in sys.argv[1:]:\n"
              "    done = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
              "    if done.returncode:\n"
              "        print(name, done.stderr.strip().splitlines()[-1])\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_the_split_packages_keep_their_public_names():
    import dataprep.labels as labels
    import dataprep.palette as palette

    for module in (palette, labels):
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{module.__name__} lacks {missing}"
    for name in ("Palette", "PaletteClass", "builtin_palette", "infer_palette", "load_palette", "pack_rgb",
                 "resolve_palette", "find_palette", "voc_colormap", "InferredPalette", "BUILTIN_PALETTES"):
        assert name in palette.__all__
    for name in ("masks_to_labels", "labels_to_masks", "mask_to_labels", "collect_mask_paths", "ConversionReport",
                 "UnknownValuesError", "parse_remap", "palette_mode_colours", "read_mask_table"):
        assert name in labels.__all__


def test_modules_of_the_split_packages_stay_small():
    for package in ("palette", "labels", "io", "train", "scan"):
        for path in _files(package):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            assert lines < 400, f"{path.relative_to(REPO)} has {lines} lines"


# --------------------------------------------------------------------------- python -m dataprep.train


def test_train_main_imports_no_cli_module():
    main = PACKAGE / "train" / "__main__.py"
    bad = [m for m in _imports(main, module_level_only=False) if _in(m, "cli")]
    assert not bad, f"dataprep/train/__main__.py imports {bad}"
    for path in _files("train"):
        bad = [m for m in _imports(path, module_level_only=True) if _in(m, "cli")]
        assert not bad, f"{path.relative_to(REPO)} imports {bad} at module level"


def test_running_python_m_dataprep_train_loads_no_cli_module():
    script = ("import runpy, sys\n"
              "sys.argv = ['python -m dataprep.train', '--help']\n"
              "try:\n"
              "    runpy.run_module('dataprep.train', run_name='__main__', alter_sys=True)\n"
              "except SystemExit:\n"
              "    pass\n"
              "print('CLI', sorted(m for m in sys.modules if m == 'dataprep.cli' or m.startswith('dataprep.cli.')))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--config" in done.stdout  # the help was printed: the command really ran
    assert done.stdout.strip().splitlines()[-1] == "CLI []"


def _params(command) -> list[tuple]:
    out = []
    for p in command.params:
        kind = type(p.type).__name__, getattr(p.type, "choices", None), getattr(p.type, "min", None)
        out.append((p.name, tuple(sorted(p.opts)), kind, p.default, p.required, p.multiple,
                    getattr(p, "is_flag", False)))
    return sorted(out)


def test_python_m_dataprep_train_takes_the_options_of_dataprep_train():
    import runpy

    from dataprep.cli.train import train_command

    main = runpy.run_path(str(PACKAGE / "train" / "__main__.py"), run_name="dataprep.train.__main__")["main"]
    assert _params(main) == _params(train_command)


# --------------------------------------------------------------------------- per-run state


def test_no_process_wide_conversion_state_is_left():
    import dataprep.labels.context as context
    import dataprep.labels.convert as convert
    import dataprep.palette.builtins as builtins

    for module, name in ((convert, "_TABLES"), (convert, "_scratch"), (context, "_TABLES"), (builtins, "_BUILT")):
        assert not hasattr(module, name), f"{module.__name__}.{name}"
    from dataprep.palette import builtin_palette

    assert builtin_palette("voc") == builtin_palette("voc") and builtin_palette("voc") is not builtin_palette("voc")


def test_a_context_reuses_its_tables_and_travels_without_them():
    from dataprep.labels import ConversionContext, mask_to_labels
    from dataprep.palette import builtin_palette

    palette = builtin_palette("cityscapes")
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, 4:] = (128, 64, 128)  # road
    context = ConversionContext()
    first = mask_to_labels(rgb, palette, context=context)
    table = context.colour_table(palette)
    again = mask_to_labels(rgb, palette, context=context)
    assert context.colour_table(palette) is table  # built once for the run
    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.labels, mask_to_labels(rgb, palette).labels)  # a fresh context: same labels
    assert set(np.unique(first.labels).tolist()) == {0, 255}
    sent = pickle.loads(pickle.dumps(context))
    assert len(pickle.dumps(context)) < 1000  # the 16 MB table stays behind
    assert sent.colour_table(palette) is not table
    np.testing.assert_array_equal(sent.colour_table(palette).lut, table.lut)


def test_masks2labels_hands_its_workers_one_context(tmp_path, monkeypatch):
    from dataprep.io import write_mask
    from dataprep.labels import batch as batch_module
    from dataprep.labels import masks_to_labels
    from dataprep.palette import builtin_palette

    palette = builtin_palette("voc")
    for i in range(3):
        m = np.zeros((4, 5, 3), np.uint8)
        m[:, i:] = palette.classes[1].color
        write_mask(tmp_path / "masks" / f"m{i}.png", m)
    contexts = []
    real = batch_module.mask_to_labels

    def spy(*args, **kwargs):
        contexts.append(kwargs["context"])
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "mask_to_labels", spy)
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", palette, quiet=True)
    assert report.converted == 3 and len(contexts) == 3 and len({id(c) for c in contexts}) == 1


# --------------------------------------------------------------------------- palette entry kinds


def test_entry_kinds_survive_a_palette_file_and_name_no_class(tmp_path):
    from dataprep.palette import EntryKind, Palette, PaletteClass, load_palette

    classes = (PaletteClass("road", (128, 64, 128), 0), PaletteClass("void", (0, 0, 0), 255, ignore=True),
               PaletteClass("road", (126, 66, 128), 0, kind=EntryKind.ARTEFACT),
               PaletteClass("void", (2, 1, 0), 255, True, kind=EntryKind.ARTEFACT))
    palette = Palette("p", classes, 255)
    assert [c.kind for c in palette.classes] == [EntryKind.CLASS, EntryKind.IGNORE, EntryKind.ARTEFACT,
                                                 EntryKind.ARTEFACT]
    assert palette.classes[2].name == "road (artefact)"  # the file's marker, written for the kind
    back = load_palette(palette.save(tmp_path / "p.json"))
    assert [c.kind for c in back.classes] == [c.kind for c in palette.classes] and back == palette
    # An artefact listed first still gives its index neither its name nor its colour.
    first = Palette("q", (classes[2], classes[0], classes[1]), 255)
    assert first.names == ["road"] and first.label_palette().classes[0].color == (128, 64, 128)
    assert first.label_palette().classes[-1].name == "void"
