"""Structure: only the IO layer decodes files. Every module of the package is parsed and its calls resolved
through its imports; a decoder called anywhere else fails this test, naming the module, line and call."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dataprep"
# The IO package's modules that decode (its facade, formats, atomic writes and encoders need not) and raster's
# TIFF readers.
IO_LAYER = {"io/decode.py", "io/masks.py", "io/mask_formats.py", "io/info.py", "io/exif.py", "io/frames.py",
            "io/limits.py", "raster.py"}
DECODERS = {"cv2.imdecode", "cv2.imread", "cv2.imreadmulti", "cv2.imreadanimation", "PIL.Image.open",
            "numpy.load", "numpy.fromfile", "numpy.memmap"}
DECODER_MODULES = ("tifffile.",)  # every tifffile entry point reads or writes pixels


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted name it stands for, from every import of the module (function-level ones too)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def decoder_calls(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every decoder call in a module's source."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func, aliases)
            if name is not None and (name in DECODERS or name.startswith(DECODER_MODULES)):
                found.append((node.lineno, name))
    return sorted(found)


def test_no_module_outside_the_io_layer_calls_a_decoder():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in IO_LAYER:
            continue
        offenders += [f"dataprep/{rel}:{line}: {name}" for line, name in decoder_calls(path.read_text("utf-8"))]
    assert not offenders, "decoders called outside dataprep.io's decoding modules/raster (use the io functions):\n" + "\n".join(offenders)


def test_the_checker_sees_decoders_however_they_are_imported():
    source = (
        "import cv2\nimport numpy as np\nfrom PIL import Image\nimport PIL.Image\nfrom cv2 import imdecode as dec\n"
        "def f(p):\n"
        "    import tifffile\n"
        "    cv2.imdecode(b, -1); np.load(p); np.fromfile(p); Image.open(p); PIL.Image.open(p); dec(b, 1)\n"
        "    tifffile.imread(p); tifffile.TiffFile(p)\n"
        "    cv2.resize(x, (1, 1)); np.zeros(3); Image.fromarray(x)\n"
    )
    assert sorted(name for _, name in decoder_calls(source)) == sorted([
        "cv2.imdecode", "numpy.load", "numpy.fromfile", "PIL.Image.open", "PIL.Image.open", "cv2.imdecode",
        "tifffile.imread", "tifffile.TiffFile",
    ])


def test_the_io_layer_allowlist_names_modules_that_decode():
    # A module renamed or merged away must leave the list, or the list would let a newcomer of that name decode.
    for rel in sorted(IO_LAYER):
        path = PACKAGE / rel
        assert path.is_file(), f"dataprep/{rel} is in IO_LAYER but does not exist"
        assert decoder_calls(path.read_text("utf-8")), f"dataprep/{rel} is in IO_LAYER but calls no decoder"


def test_label_maps_and_plain_jpegs_are_read_and_written_without_pil(tmp_path):
    # PIL is for what OpenCV cannot read (palette PNGs, EXIF, odd formats): the common files never import it.
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\nfrom dataprep import io\n"
        f"root = {str(tmp_path)!r}\n"
        "io.write_mask(root + '/m.png', np.arange(64, dtype=np.uint8).reshape(8, 8))\n"
        "io.write_image(root + '/i.jpg', np.zeros((8, 8, 3), np.uint8))\n"
        "assert io.read_mask(root + '/m.png').shape == (8, 8)\n"
        "assert io.read_image(root + '/i.jpg').shape == (8, 8, 3)\n"
        "io.read_pixels(root + '/i.jpg')\n"
        "print('PIL' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
