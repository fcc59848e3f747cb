"""Hostile input and faults: no write outside the output, no input overwritten, one clear line on every fault.

Each case builds its data in a temp dir, runs the command, and checks the exit
code, the exact first line on stderr, that no traceback was printed, and that
no file outside the output changed (the tree is checksummed before and after).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import run_beside_first_call
from dataprep import io
from dataprep.cli import main
from dataprep.errors import DataprepError
from dataprep.labels import masks_to_labels
from dataprep.manifest import Manifest, ManifestRow, read_manifest, write_manifest
from dataprep.scan import scan

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
PIPELINES = REPO / "pipelines"

# --------------------------------------------------------------------------- helpers


def digest(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """sha256 of every file below `root` (hidden ones too), except below `skip`."""
    out = {}
    skipped = [str(s.resolve()) for s in skip]
    for dirpath, _dirs, files in os.walk(root):
        if any(dirpath == s or dirpath.startswith(s + os.sep) for s in skipped):
            continue
        for name in files:
            path = Path(dirpath) / name
            if (path.is_symlink() and not path.exists()) or str(path) in skipped:
                continue
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class Run:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def first_error(self) -> str:
        return self.stderr.splitlines()[0] if self.stderr.strip() else ""


def cli(*args: object) -> Run:
    """The CLI in-process; an exception escaping it (a traceback) fails the test."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output
    return Run(result.exit_code, result.stdout, result.stderr)


def cli_process(*args: object, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [(env or {}).get("PYTHONPATH")])])}
    full_env.update({k: v for k, v in (env or {}).items() if k != "PYTHONPATH"})
    return subprocess.Popen([sys.executable, "-c", "from dataprep.cli import main; main()", *map(str, args)],
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_process(*args: object, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    proc = cli_process(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in err, err
    return Run(proc.returncode, out, err)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """tmp/data/{images,masks}/ (4 sample pairs, colour masks, palette.json), tmp/work/manifest.csv,
    tmp/work/labels/ (label maps + manifest.csv)."""
    data = tmp_path / "data"
    images = sorted((SAMPLE / "images").rglob("*.jpg"))[::8][:4]
    for image in images:
        rel = image.relative_to(SAMPLE / "images")
        for side, src in (("images", image), ("masks", SAMPLE / "masks" / rel.with_suffix(".png"))):
            dst = data / side / rel.with_suffix(src.suffix)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    shutil.copyfile(SAMPLE / "palette.json", data / "palette.json")
    write_manifest(scan(data).manifest, tmp_path / "work" / "manifest.csv")
    masks_to_labels(tmp_path / "work" / "manifest.csv", tmp_path / "work" / "labels", data / "palette.json", quiet=True)
    return tmp_path


def small_recipe(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text("seed: 0\nsize: [32, 48]\nvariants: 1\nignore_index: 255\noutput: {image_format: png}\n"
                    f"{extra}steps:\n  - op: hflip\n    p: 0.5\n")
    return path


def rewrite_manifest(src: Path, dst: Path, **changes: object) -> Path:
    """A copy of manifest `src` at `dst` with the first row's fields changed (raw CSV, no validation)."""
    lines = src.read_text().splitlines()
    header = lines[0].split(",")
    first = read_manifest(src)[0]
    values = {"id": first.id, "image": str(first.image), "mask": str(first.mask), "width": first.width,
              "height": first.height, **changes}
    lines[1] = ",".join(str(values.get(col, "")) for col in header)
    dst.write_text("\n".join(lines) + "\n")
    return dst


# --------------------------------------------------------------------------- 1. no write outside the output


@pytest.mark.parametrize("bad_id, why", [
    ("{outside}/pwn", "is an absolute path; ids must be relative (they name output files)"),
    ("../../pwn", "has an empty, '.' or '..' part; ids must stay below the output folder"),
    ("a/../../../pwn", "has an empty, '.' or '..' part; ids must stay below the output folder"),
    ("a\\..\\..\\pwn", "contains a backslash; ids use '/' between folders"),
])
def test_ids_that_escape_are_refused_when_the_manifest_is_read(work, tmp_path, bad_id, why):
    outside = tmp_path / "outside"
    outside.mkdir()
    bad_id = bad_id.format(outside=outside)
    manifest = rewrite_manifest(work / "work" / "labels" / "manifest.csv", work / "work" / "labels" / "evil.csv",
                                id=bad_id)
    recipe = small_recipe(tmp_path)
    before = digest(tmp_path, skip=(work / "out",))
    run = cli("augment", "--recipe", recipe, manifest, work / "out", "-j", "1", "-q")
    assert run.code == 1
    assert run.first_error == f"error: {manifest}: line 2: id {bad_id!r} {why}"
    assert digest(tmp_path, skip=(work / "out",)) == before
    assert not list(outside.iterdir()) and not list(tmp_path.glob("pwn*")) and not list(work.parent.glob("pwn*"))


def test_every_augment_output_path_is_checked_inside_the_output(work, tmp_path):
    """A Manifest built in code skips the reader's check; the writer still refuses to leave OUT."""
    from dataprep.augment import augment_manifest
    from dataprep.manifest import Manifest

    rows = read_manifest(work / "work" / "labels" / "manifest.csv").rows
    evil = [ManifestRow("../../escaped", rows[0].image, rows[0].mask, rows[0].width, rows[0].height), *rows[1:]]
    recipe = small_recipe(tmp_path)
    before = digest(tmp_path, skip=(work / "out",))
    summary = augment_manifest(Manifest(evil), recipe, work / "out", quiet=True)
    assert len(summary.errors) == 1 and "would be written outside the output folder" in summary.errors[0]
    assert summary.total == len(rows) - 1
    assert not list(tmp_path.rglob("escaped*"))
    assert digest(tmp_path, skip=(work / "out",)) == before


@pytest.mark.parametrize("command, linked", [
    (("masks2labels", "{manifest}", "{out}", "--force", "-j", "1", "-q"), "{city}"),
    (("labels2masks", "{labels}", "{out}", "--force", "-j", "1", "-q"), "{city}"),
    (("resize", "{labels}", "{out}", "--size", "32x32", "-j", "1", "-q"), "images/{city}"),
    (("tile", "{labels}", "{out}", "--size", "64", "-j", "1", "-q"), "masks/{city}"),
])
def test_a_symlinked_folder_inside_the_output_does_not_lead_the_outputs_out(work, tmp_path, command, linked):
    """OUT/<city> linked to the dataset's own images (or anywhere): outputs there would land outside OUT, among
    the inputs; --force allows an output folder inside the input tree, never a write through a link out of it."""
    labels = work / "work" / "labels" / "manifest.csv"
    city = read_manifest(labels)[0].id.split("/")[0]
    out, elsewhere = work / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = out / linked.format(city=city)
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    before = digest(tmp_path, skip=(out,))
    args = [a.format(manifest=work / "work" / "manifest.csv", labels=labels, out=out) for a in command]
    run = cli(*args, *(["--palette", str(work / "data" / "palette.json")] if command[0] == "masks2labels" else []))
    assert run.code != 0
    assert "would be written outside the output folder" in run.stderr and str(elsewhere) in run.stderr
    assert not list(elsewhere.iterdir())
    assert digest(tmp_path, skip=(out,)) == before


def test_a_single_file_output_never_replaces_the_manifest_of_a_commands_folder(work):
    """`scan -o tiles/manifest.csv` replaced tile's manifest (its offsets, which stitch needs), exit 0."""
    labels = work / "work" / "labels" / "manifest.csv"
    tiles = work / "tiles"
    assert cli("tile", labels, tiles, "--size", "64", "-j", "1", "-q").code == 0
    before = digest(tiles)
    scanned = cli("scan", work / "data", "-o", tiles / "manifest.csv", "-j", "1", "-q")
    assert scanned.code == 2 and scanned.first_error == (
        f"error: {tiles / 'manifest.csv'}: is the manifest.csv of the outputs `dataprep tile` wrote beside it; "
        "choose another file")
    assert cli("dedup", labels, "--manifest-out", tiles / "manifest.csv", "-q").code == 2
    assert digest(tiles) == before
    assert cli("stats", labels, "-o", tiles / "stats.json", "-j", "1", "-q").code == 0  # a file of its own


def test_labelme_embedded_images_do_not_follow_a_symlink_out_of_the_output(tmp_path):
    import base64
    import io as std_io

    from PIL import Image

    buffer = std_io.BytesIO()
    Image.new("RGB", (8, 6)).save(buffer, format="PNG")
    src = tmp_path / "lm" / "sub"
    src.mkdir(parents=True)
    (src / "a.json").write_text(json.dumps({"imageData": base64.b64encode(buffer.getvalue()).decode(),
                                            "imagePath": "", "imageWidth": 8, "imageHeight": 6, "shapes": [
                                                {"label": "cat", "points": [[0, 0], [4, 0], [4, 4]],
                                                 "shape_type": "polygon"}]}))
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "images").mkdir(parents=True)
    (out / "images" / "sub").symlink_to(elsewhere, target_is_directory=True)
    run = cli("import", "labelme", tmp_path / "lm", out, "-q")
    assert run.code != 0 and "would be written outside the output folder" in run.stderr
    assert not list(elsewhere.iterdir())


def test_a_folder_another_command_wrote_is_refused_not_mixed_into(work, tmp_path):
    """resize, then tile, then augment into one folder exited 0 each: their images side by side in images/,
    each manifest.csv replacing the one before."""
    labels = work / "work" / "labels" / "manifest.csv"
    out = work / "out"
    assert cli("resize", labels, out, "--size", "32x32", "-j", "1", "-q").code == 0
    before = digest(out)
    tiled = cli("tile", labels, out, "--size", "64", "-j", "1", "-q")
    assert tiled.code == 2 and tiled.first_error == (
        f"error: {out}: holds the outputs of `dataprep resize`; `dataprep tile` would replace its manifest and "
        "leave its files among the new ones: choose another folder")
    augmented = cli("augment", "--recipe", small_recipe(tmp_path), labels, out, "-j", "1", "-q")
    assert augmented.code == 2 and "holds the outputs of `dataprep resize`" in augmented.first_error
    assert digest(out) == before
    assert cli("resize", labels, out, "--size", "32x32", "-j", "1", "-q").code == 0  # its own rerun
    (out / ".dataprep-owner").unlink()  # a folder written before owners were recorded: its record says whose
    assert "holds the outputs of `dataprep resize`" in cli("tile", labels, out, "--size", "64", "-q").first_error
    empty = work / "empty"
    empty.mkdir()
    (empty / ".dataprep-owner").write_text("augment\n")  # a run that stopped before writing anything
    assert cli("tile", labels, empty, "--size", "64", "-j", "1", "-q").code == 0
    assert (empty / ".dataprep-owner").read_text() == "tile\n"


# --------------------------------------------------------------------------- 2. no input overwritten


def test_single_file_outputs_never_replace_an_input(work, tmp_path):
    manifest = work / "work" / "labels" / "manifest.csv"
    rows = read_manifest(manifest).rows
    image, mask = rows[0].image, rows[0].mask
    data_mask = next((work / "data" / "masks").rglob("*.png"))
    palette = manifest.parent / "palette.json"
    before = digest(tmp_path)
    cases = [
        (("scan", work / "data", "-o", image, "-j", "1", "-q"), image),
        (("stats", manifest, "-o", manifest, "-j", "1", "-q"), manifest),
        (("stats", manifest, "-o", mask, "-j", "1", "-q"), mask),
        (("preview", manifest, "-o", image), image),
        (("palette", "infer", work / "data" / "masks", "-o", data_mask, "-j", "1", "-q"), data_mask),
        (("palette", "infer", manifest, "-o", manifest, "-j", "1", "-q"), manifest),
        # the palette beside the manifest, which stats and labels2rle read: replaced by their output
        (("stats", manifest, "-o", palette, "-j", "1", "-q"), palette),
        (("labels2rle", manifest, "-o", palette, "-q"), palette),
    ]
    for args, victim in cases:
        run = cli(*args)
        assert run.code == 2, (args, run.stderr)
        assert run.first_error == f"error: {victim}: output would overwrite an input of this run; choose another output file"
    assert digest(tmp_path) == before


def png_dataset(root: Path) -> Path:
    """images/*.png and masks/*.png with the same names (ISBI-like), plus palette.json; returns the manifest."""
    rng = np.random.default_rng(0)
    for i in range(3):
        io.write_image(root / "images" / f"s{i}.png", rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        io.write_mask(root / "masks" / f"s{i}.png", (rng.random((24, 32)) < 0.5).astype(np.uint8))
    (root / "palette.json").write_text(json.dumps({"name": "bin", "ignore_index": 255, "classes": [
        {"name": "bg", "index": 0}, {"name": "fg", "index": 1}]}))
    write_manifest(scan(root).manifest, root / "manifest.csv")
    return root / "manifest.csv"


def test_masks2labels_into_the_images_folder_is_refused_even_with_force(tmp_path):
    manifest = png_dataset(tmp_path / "isbi")
    images = tmp_path / "isbi" / "images"
    before = digest(tmp_path)
    run = cli("masks2labels", manifest, images, "-j", "1", "-q")
    assert run.code == 2
    assert run.first_error == (f"error: {images}: output folder holds input files of this run (e.g. {images / 's0.png'}); "
                               "choose another folder or pass --force")
    run = cli("masks2labels", manifest, images, "--force", "-j", "1", "-q")
    assert run.code == 2
    assert run.first_error == (f"error: {images / 's0.png'}: output would overwrite an input of this run; "
                               "choose another output folder")
    # The manifest's own folder holds the manifest: refused too.
    run = cli("masks2labels", manifest, tmp_path / "isbi", "-j", "1", "-q")
    assert run.code == 2 and "output folder holds input files of this run" in run.first_error
    assert digest(tmp_path) == before
    # Beside it is fine.
    run = cli("masks2labels", manifest, tmp_path / "isbi_labels", "-j", "1", "-q")
    assert run.code == 0, run.stderr


def test_labels2masks_into_the_original_masks_folder_is_refused(work, tmp_path):
    masks = work / "data" / "masks"
    before = digest(tmp_path)
    run = cli("labels2masks", work / "work" / "labels" / "manifest.csv", masks, "-j", "1", "-q")
    assert run.code == 2
    first = sorted(masks.iterdir())[0]
    assert run.first_error == (f"error: {masks}: already holds files this command did not write (e.g. {first}); "
                               "they could be overwritten: choose an empty or new folder, or pass --force")
    assert digest(tmp_path) == before
    # A folder it wrote itself is resumed as before.
    out = work / "colour"
    assert cli("labels2masks", work / "work" / "labels" / "manifest.csv", out, "-j", "1", "-q").code == 0
    assert cli("labels2masks", work / "work" / "labels" / "manifest.csv", out, "-j", "1", "-q").code == 0


def test_augment_refuses_the_images_and_masks_trees_but_not_a_working_folder(work, tmp_path):
    manifest = work / "work" / "labels" / "manifest.csv"
    recipe = small_recipe(tmp_path)
    before = digest(tmp_path)
    for out, tree in ((work / "data" / "images" / "aug", work / "data" / "images"),
                      (work / "work" / "labels" / "aug", work / "work" / "labels")):
        run = cli("augment", "--recipe", recipe, manifest, out, "-j", "1", "-q")
        assert run.code == 2
        assert run.first_error == (f"error: {out}: output folder is inside {tree}, where the images or masks come "
                                   "from (the next scan would take the outputs for data); choose another folder "
                                   "or pass --force")
    assert digest(tmp_path) == before
    # work/manifest.csv -> work/aug: next to the manifest, outside the data trees.
    scan_manifest = work / "work" / "manifest.csv"
    labels_only = work / "work" / "m.csv"
    write_manifest(read_manifest(manifest).rows, labels_only)
    run = cli("augment", "--recipe", recipe, labels_only, work / "work" / "aug", "-j", "1", "-q")
    assert run.code == 0, run.stderr
    assert scan_manifest.read_bytes() == (tmp_path / "work" / "manifest.csv").read_bytes()


def test_kfold_never_writes_over_its_input(work, tmp_path):
    splits = work / "splits"
    assert cli("kfold", work / "work" / "labels" / "manifest.csv", "-k", "2", "-o", splits, "-j", "1", "-q").code == 0
    before = digest(tmp_path)
    src = splits / "fold_0" / "train.csv"
    run = cli("kfold", src, "-k", "2", "-o", splits, "-j", "1", "-q")
    assert run.code == 2
    assert run.first_error == f"error: {src}: output would overwrite an input of this run; choose another output folder"
    assert digest(tmp_path) == before


def test_kfold_never_replaces_a_manifest_it_did_not_write(work, tmp_path):
    """`kfold labels/manifest.csv -o .` replaced the scan manifest of the folder it ran in, exit 0."""
    own = work / "work" / "manifest.csv"  # scan's manifest, beside labels/
    before = digest(tmp_path)
    run = cli("kfold", work / "work" / "labels" / "manifest.csv", "-k", "2", "-o", work / "work", "-j", "1", "-q")
    assert run.code == 2 and run.first_error.startswith(f"error: {own}: not written by kfold")
    assert digest(tmp_path) == before
    # a kfold stopped before its report.json (written last) is completed by the rerun its message asks for
    splits = work / "splits_stopped"
    labels = work / "work" / "labels" / "manifest.csv"
    assert cli("kfold", labels, "-k", "2", "-o", splits, "-j", "1", "-q").code == 0
    (splits / "report.json").unlink()
    again = cli("kfold", labels, "-k", "2", "-o", splits, "-j", "1", "-q")
    assert again.code == 0, again.stderr
    assert (splits / "report.json").is_file()


def test_the_commands_of_this_round_use_the_same_output_guard(work, tmp_path):
    """tile, stitch, predict, import, report and dedup refuse an output that holds or is one of their inputs."""
    manifest = work / "work" / "labels" / "manifest.csv"
    images = work / "data" / "images"
    tiles = work / "tiles"
    assert cli("tile", manifest, tiles, "--size", "64", "-j", "1", "-q").code == 0, "tiles to stitch"
    stats = work / "stats.html"  # a JSON stats file, whatever its name
    assert cli("stats", manifest, "-o", stats, "-j", "1", "-q").code == 0
    checkpoint = work / "model.pt"
    checkpoint.write_bytes(b"not read: the guard comes first")
    export = work / "export"
    export.mkdir()
    (export / "coco.json").write_text("{}")
    first_image = sorted(images.rglob("*.jpg"))[0]
    holds = "output folder holds input files of this run (e.g. "
    before = digest(tmp_path)
    cases = [
        (("tile", manifest, images, "--size", "64", "-j", "1", "-q"), images, holds),
        (("stitch", tiles / "manifest.csv", tiles / "images", "-j", "1", "-q"), tiles / "images", holds),
        (("predict", images, "--checkpoint", checkpoint, "--manifest", manifest, "-q"), images, holds),
        (("predict", work, "--checkpoint", checkpoint, "--manifest", manifest, "-q"), work, holds),
        (("import", "coco", export / "coco.json", export, "-j", "1", "-q"), export, holds),
        (("report", manifest, "--stats", stats, "-o", stats, "-n", "0"), stats,
         "output would overwrite an input of this run; choose another output file"),
        (("dedup", images, "-o", first_image, "-j", "1", "-q"), first_image,
         "output would overwrite an input of this run; choose another output file"),
        (("dedup", manifest, "-o", tmp_path / "d.csv", "--manifest-out", manifest, "-j", "1", "-q"), manifest,
         "output would overwrite an input of this run; choose another output file"),
    ]
    for args, victim, reason in cases:
        run = cli(*args)
        assert run.code == 2, (args, run.stderr)
        assert run.first_error.startswith(f"error: {victim}: {reason}"), (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, (args, run.stderr)
    assert digest(tmp_path) == before


# --------------------------------------------------------------------------- 4. one line for every fault


def _raise_on_replace(err: int):
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(".png"):
            raise OSError(err, os.strerror(err), str(dst))
        return real(src, dst, *args, **kwargs)

    return replace


def test_read_only_output_is_one_line_and_stops_the_run(work, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _raise_on_replace(errno.EROFS))
    out = work / "labels2"
    run = cli("masks2labels", work / "work" / "manifest.csv", out, "-p", work / "data" / "palette.json", "-j", "1", "-q")
    assert run.code == 1
    first_png = sorted(read_manifest(work / "work" / "manifest.csv"), key=lambda r: r.id)[0].mask
    rel = first_png.relative_to(work / "data" / "masks")
    assert run.stderr.splitlines() == [
        f"error: {out / rel}: cannot write: Read-only file system; write the outputs somewhere else"]
    assert not list(out.rglob("*.png")) and not list(out.rglob("*.tmp"))


def test_full_disk_keeps_the_per_file_errors_and_ends_in_one_line(work, tmp_path, monkeypatch):
    manifest = work / "work" / "manifest.csv"
    rows = read_manifest(manifest).rows
    broken = work / "data" / "masks" / "broken.png"
    broken.write_bytes(rows[0].mask.read_bytes()[:300])
    write_manifest([ManifestRow("aaa", rows[0].image, broken, rows[0].width, rows[0].height), *rows], manifest)
    monkeypatch.setattr(os, "replace", _raise_on_replace(errno.ENOSPC))
    out = work / "labels2"
    run = cli("masks2labels", manifest, out, "-p", work / "data" / "palette.json", "-j", "1", "-q")
    assert run.code == 1
    lines = run.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"error: {broken}: ")  # the bad file is still reported
    rel = rows[0].mask.relative_to(work / "data" / "masks")
    assert lines[1] == (f"error: {out / rel}: cannot write: No space left on device; free some space and rerun "
                        "(finished files are kept)")


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 KB tmpfs (root only; skip elsewhere)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small file system needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_real_full_and_read_only_disk(work, small_disk):
    """Real subprocesses, no monkeypatching: an 8 KB disk fills up, then is remounted read-only."""
    out = small_disk / "labels"
    run = run_process("masks2labels", "-p", work / "data" / "palette.json", work / "work" / "manifest.csv", out,
                      "-j", "1", "-q")
    assert run.code == 1
    assert len(run.stderr.splitlines()) == 1
    assert run.first_error.startswith(f"error: {out}/") and run.first_error.endswith(
        ": cannot write: No space left on device; free some space and rerun (finished files are kept)")
    assert not list(small_disk.rglob("*.tmp"))
    for png in out.rglob("*.png"):  # what was written is whole
        assert io.read_mask(png).ndim == 2
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    target = small_disk / "stats.json"
    run = run_process("stats", work / "work" / "labels" / "manifest.csv", "-o", target, "-j", "1", "-q")
    assert run.code == 1
    assert run.stderr.splitlines() == [
        f"error: {target}: cannot write: Read-only file system; write the outputs somewhere else"]


def test_manifest_encodings(work, tmp_path):
    manifest = work / "work" / "labels" / "manifest.csv"
    text = manifest.read_text(encoding="utf-8")
    bom = work / "work" / "labels" / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_manifest(bom).rows == read_manifest(manifest).rows
    assert cli("stats", bom, "-o", tmp_path / "s.json", "-j", "1", "-q").code == 0
    latin = work / "work" / "labels" / "latin1.csv"
    latin.write_bytes(text.replace("downtown", "d\xe9j\xe0", 1).encode("latin-1"))
    offset = latin.read_bytes().index(b"\xe9")
    run = cli("stats", latin, "-o", tmp_path / "s2.json", "-j", "1", "-q")
    assert run.code == 1
    assert run.first_error == (f"error: {latin}: not UTF-8 text (byte 0xe9 at offset {offset}); save the manifest "
                               "as UTF-8 CSV")
    assert not (tmp_path / "s2.json").exists()


def test_symlinked_stale_fold_folder(work, tmp_path):
    splits, elsewhere = work / "splits", work / "elsewhere"
    manifest = work / "work" / "labels" / "manifest.csv"
    assert cli("kfold", manifest, "-k", "2", "-o", elsewhere, "-j", "1", "-q").code == 0
    splits.mkdir()
    (splits / "fold_3").symlink_to(elsewhere / "fold_0", target_is_directory=True)
    before = digest(elsewhere)
    run = cli("kfold", manifest, "-k", "2", "-o", splits, "-j", "1", "-q")
    assert run.code == 0, run.stderr
    assert not (splits / "fold_3").exists() and not (splits / "fold_3").is_symlink()  # the stale link is gone
    assert digest(elsewhere) == before  # and what it pointed to is untouched
    # A link where a fold of this run goes would be written through: refused.
    shutil.rmtree(splits)
    splits.mkdir()
    (splits / "fold_1").symlink_to(elsewhere / "fold_0", target_is_directory=True)
    run = cli("kfold", manifest, "-k", "2", "-o", splits, "-j", "1", "-q")
    assert run.code == 2
    assert run.first_error == (f"error: {splits / 'fold_1'}: is a symbolic link; writing the fold through it would "
                               "change the folder it points to: remove the link or choose another output folder")
    assert digest(elsewhere) == before


# --------------------------------------------------------------------------- 5. decompression bombs


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A real 20000x20000 grayscale PNG of zeros: about 400 KB on disk, 400 MB decoded."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    w = h = 20000
    comp = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    path.write_bytes(io.formats.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    assert path.stat().st_size < 1_000_000
    return path


def test_a_bomb_mask_is_refused_from_its_header_and_named_as_the_mask(work, tmp_path, bomb):
    rows = read_manifest(work / "work" / "labels" / "manifest.csv").rows
    manifest = tmp_path / "bomb.csv"
    write_manifest([ManifestRow("b", rows[0].image, bomb, rows[0].width, rows[0].height), *rows[1:]], manifest)
    before = digest(tmp_path, skip=(tmp_path / "stats.json",))
    reason = (f"20000x20000 pixels (400,000,000) is over the limit of {io.DEFAULT_MAX_PIXELS:,}, which guards "
              f"against decompression bombs; if the file is genuine, raise it with {io.MAX_PIXELS_ENV}=N (or 'none')")
    with pytest.raises(DataprepError) as caught:
        io.read_mask(bomb)
    assert str(caught.value) == f"{bomb}: {reason}"
    with pytest.raises(DataprepError, match="decompression bombs"):
        io.read_image(bomb)
    with pytest.raises(DataprepError, match="decompression bombs"):
        io.read_info(bomb)
    run = run_process("stats", manifest, "-o", tmp_path / "stats.json", "-j", "1", "-q")
    assert run.code == 1
    assert run.first_error == f"skipped: {bomb}: {reason}"
    assert digest(tmp_path, skip=(tmp_path / "stats.json",)) == before
    # Preview and augment read the same way.
    run = run_process("preview", manifest, "-o", tmp_path / "p.png", "-n", "8")
    assert run.code == 1 and run.first_error == f"error: {bomb}: {reason}"


def test_the_pixel_limit_is_one_setting(work, tmp_path, monkeypatch):
    image = read_manifest(work / "work" / "labels" / "manifest.csv")[0].image  # 320x240
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "70000")
    with pytest.raises(DataprepError, match=r"320x240 pixels \(76,800\) is over the limit of 70,000"):
        io.read_image(image)
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "76800")
    assert io.read_image(image).shape == (240, 320, 3)
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "none")
    assert io.max_image_pixels() is None
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "lots")
    run = cli("stats", work / "work" / "labels" / "manifest.csv", "-o", tmp_path / "s.json", "-j", "1", "-q")
    assert run.code == 2 and run.first_error == f"error: {io.MAX_PIXELS_ENV}='lots': expected a pixel count or 'none'"


# --------------------------------------------------------------------------- 6. content, not extension


def test_png_data_in_a_jpg_file(work, tmp_path):
    image = next((work / "data" / "images").rglob("*.jpg"))
    pixels = io.read_image(image)
    io.write_image(image.with_suffix(".png"), pixels)
    image.with_suffix(".png").replace(image)  # PNG bytes, .jpg name
    result = scan(work / "data")
    rel = image.relative_to(work / "data").as_posix()
    assert [(w.path, w.kind, w.reason) for w in result.warnings] == [
        (rel, "wrong_extension", "PNG data in a .jpg file; rename it to match its content")]
    assert np.array_equal(io.read_image(image), pixels)  # read as the PNG it is, not a "truncated JPEG"
    assert io.check_complete(image) is None


# --------------------------------------------------------------------------- 7. smaller holes


def test_palette_infer_exits_1_after_errors(work, tmp_path):
    bad = work / "data" / "masks" / "zz_bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    run = cli("palette", "infer", work / "data" / "masks", "-o", tmp_path / "p.json", "-j", "1", "-q")
    assert run.code == 1
    assert run.first_error.startswith(f"error: {bad}: unreadable")


@pytest.mark.parametrize("width, height", [(-320, 240), (320, 0)])
def test_non_positive_sizes_are_refused(work, tmp_path, width, height):
    manifest = rewrite_manifest(work / "work" / "labels" / "manifest.csv", tmp_path / "neg.csv", width=width,
                                height=height)
    line = f"error: {manifest}: line 2: width/height must be positive, got {width}x{height}"
    for args in (("augment", "--recipe", small_recipe(tmp_path), manifest, tmp_path / "out", "-j", "1", "-q"),
                 ("preview", manifest, "-o", tmp_path / "p.png"),
                 ("labels2masks", manifest, tmp_path / "colour", "-j", "1", "-q")):
        run = cli(*args)
        assert run.code == 1 and run.first_error == line, args


def test_variants_are_bounded(work, tmp_path):
    from dataprep.recipe import MAX_VARIANTS

    manifest = work / "work" / "labels" / "manifest.csv"
    start = time.monotonic()
    run = cli("augment", "--recipe", small_recipe(tmp_path), manifest, tmp_path / "out", "--variants", "1000000000")
    assert run.code == 2 and f"1<=x<={MAX_VARIANTS}" in run.stderr.replace(" ", "")
    recipe = small_recipe(tmp_path).read_text().replace("variants: 1", "variants: 1000000000")
    (tmp_path / "huge.yaml").write_text(recipe)
    run = cli("augment", "--recipe", tmp_path / "huge.yaml", manifest, tmp_path / "out", "-j", "1", "-q")
    assert run.code != 0 and run.first_error.endswith(f"variants: must be 1..{MAX_VARIANTS}, got 1000000000")  # a recipe error
    assert time.monotonic() - start < 30  # refused up front, not after planning a billion outputs


@pytest.mark.parametrize("size, fmt, says", [
    ("[80000, 1]", "auto", "output.image_format auto picks JPEG for these images, which holds at most 65,500 pixels "
                           "a side; use output.image_format: png or tif, or a smaller size"),
    ("[1, 65501]", "jpg", "output.image_format is jpg, which holds at most 65,500 pixels a side; use "
                          "output.image_format: png or tif, or a smaller size"),
    ("[1, 1000001]", "tif", "masks are written as PNG, which holds at most 1,000,000 pixels a side; "
                            "give a smaller size"),
])
def test_a_size_the_output_format_cannot_hold_is_refused_before_the_run(work, tmp_path, size, fmt, says):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"size: {size}\noutput: {{image_format: {fmt}}}\nsteps: [{{op: resize}}]\n")
    out = tmp_path / "out"
    run = cli("augment", "--recipe", recipe, work / "work" / "labels" / "manifest.csv", out, "-j", "1", "-q")
    height, width = size.strip("[]").split(", ")
    # was: OpenCV's 6-line [ERROR] log per output, then a line without the reason, exit 1
    line = f"error: {recipe}: size: {height} x {width} cannot be written: {says}"
    assert run.code == 2 and run.stderr.splitlines() == [line]
    assert not out.exists()


def test_duplicate_yaml_keys_name_the_key(work, tmp_path):
    recipe = small_recipe(tmp_path, extra="seed: 7\n")
    run = cli("augment", "--recipe", recipe, work / "work" / "labels" / "manifest.csv", tmp_path / "out", "-q")
    assert run.code != 0  # the exit code of every recipe error
    assert run.first_error == f"error: {recipe}: line 6, column 1: duplicate key 'seed'"


@pytest.mark.parametrize("name, text, line", [
    ("palette.yaml", "classes:\n  - {name: bg, index: 0}\nclasses:\n  - {name: fg, index: 1}\n", "line 3, column 1: "),
    ("palette.json", '{"classes": [{"name": "bg", "index": 0, "index": 1}]}', ""),
])
def test_duplicate_palette_keys_name_the_key(work, tmp_path, name, text, line):
    palette = tmp_path / name
    palette.write_text(text)
    key = "classes" if name.endswith(".yaml") else "index"
    before = digest(tmp_path)
    run = cli("masks2labels", work / "work" / "manifest.csv", tmp_path / "out", "--palette", palette, "-j", "1", "-q")
    assert run.code != 0
    assert run.first_error == f"error: {palette}: not a palette file: {line}duplicate key {key!r}"
    assert digest(tmp_path) == before


@pytest.mark.parametrize("name, text, line", [("remap.yaml", "0: 0\n1: 1\n0: 2\n", "line 3, column 1: "),
                                              ("remap.json", '{"0": 0, "1": 1, "0": 2}', "line 1, column 18: ")])
def test_duplicate_remap_keys_name_the_key(work, tmp_path, name, text, line):
    remap = tmp_path / name
    remap.write_text(text)
    run = cli("masks2labels", work / "work" / "labels" / "manifest.csv", tmp_path / "out", "--palette", "voc",
              "--remap", remap, "-j", "1", "-q")
    assert run.code != 0
    key = 0 if name.endswith(".yaml") else "0"
    assert run.first_error == f"error: {remap}: unreadable remap file: {line}duplicate key {key!r}"


def test_stale_temp_files_of_killed_writers_are_removed(work, tmp_path):
    out = work / "colour"
    manifest = work / "work" / "labels" / "manifest.csv"
    assert cli("labels2masks", manifest, out, "-j", "1", "-q").code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    host = io.atomic._host()
    stale = out / "downtown" / f".x.png.dp{dead.pid}-{host}.abcd1234.tmp"
    live = out / "downtown" / f".y.png.dp{os.getpid()}-{host}.abcd1234.tmp"  # a writer still at work
    foreign = out / "downtown" / f".z.png.dp{dead.pid}-otherhost.abcd1234.tmp"  # another machine's
    for p in (stale, live, foreign):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    assert cli("labels2masks", manifest, out, "-j", "1", "-q").code == 0
    assert not stale.exists() and live.exists() and foreign.exists()
    # Single-file outputs: the temporary files of that file, beside it.
    stats_tmp = tmp_path / f".stats.json.dp{dead.pid}-{host}.abcd1234.tmp"
    other_tmp = tmp_path / f".other.json.dp{dead.pid}-{host}.abcd1234.tmp"
    stats_tmp.write_bytes(b"partial")
    other_tmp.write_bytes(b"partial")
    assert cli("stats", manifest, "-o", tmp_path / "stats.json", "-j", "1", "-q").code == 0
    assert not stats_tmp.exists() and other_tmp.exists()


def test_checkpoint_errors_do_not_advise_weights_only_false(tmp_path):
    torch = pytest.importorskip("torch")
    from dataprep.train.checkpoint import load_checkpoint

    path = tmp_path / "foreign.pt"
    torch.save({"model": {}, "thing": Path("x")}, path)  # a Path is not an allowed global
    with pytest.raises(DataprepError) as caught:
        load_checkpoint(path)
    assert "weights_only" not in str(caught.value) and "False" not in str(caught.value)
    assert str(caught.value).startswith(f"{path}: not a readable checkpoint: it holds objects other than tensors")


# --------------------------------------------------------------------------- 3. and 4.: killed processes

# Loaded into every Python process of the run (main and spawned workers) through PYTHONPATH: makes each
# mask read slow (so a run can be killed midway) or has the worker on "killme*" killed as the OOM killer would.
# "kill" slows every read a little too: on fast masks the executor would rightly run all of them in the parent,
# where nothing is killed.
SITECUSTOMIZE = """
import os
fault = os.environ.get("DATAPREP_TEST_FAULT")
if fault:
    import multiprocessing, signal, time
    import dataprep.io as _io
    _real = _io.read_mask

    def read_mask(path, **kwargs):
        time.sleep(0.3 if fault == "slow" else 0.1)
        if fault == "kill" and os.path.basename(str(path)).startswith("killme") and multiprocessing.parent_process():
            os.kill(os.getpid(), signal.SIGKILL)
        return _real(path, **kwargs)

    _io.read_mask = read_mask
"""


@pytest.fixture
def faults(tmp_path) -> dict[str, str]:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": str(folder)}


@pytest.fixture
def many(tmp_path) -> Path:
    """All 32 sample pairs: data/ with colour masks, work/manifest.csv, work/labels/ (label maps)."""
    data = tmp_path / "data"
    for side in ("images", "masks"):
        shutil.copytree(SAMPLE / side, data / side)
    shutil.copyfile(SAMPLE / "palette.json", data / "palette.json")
    write_manifest(scan(data).manifest, tmp_path / "work" / "manifest.csv")
    masks_to_labels(tmp_path / "work" / "manifest.csv", tmp_path / "work" / "labels", data / "palette.json", quiet=True)
    return tmp_path


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie runs nothing


def start_and_wait_for_workers(args, env, out: Path, workers: int = 2) -> tuple[subprocess.Popen, set[int]]:
    proc = cli_process(*args, env={**env, "DATAPREP_TEST_FAULT": "slow"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        children = descendants(proc.pid)
        # The workers (spawned ones also start a resource tracker) at work.
        if len(children) >= workers and list(out.rglob("*.png")):
            return proc, children
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the workers never started")


KILLED_RUNS = {
    "masks2labels": lambda t: ("masks2labels", "-p", t / "data" / "palette.json", t / "work" / "manifest.csv",
                               t / "out", "-j", "2", "-q"),
    "augment": lambda t: ("augment", "--recipe", small_recipe(t), t / "work" / "labels" / "manifest.csv", t / "out",
                          "-j", "2", "-q"),
}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("command", sorted(KILLED_RUNS))
def test_kill_9_of_the_main_process_leaves_no_worker_running(many, faults, command):
    proc, children = start_and_wait_for_workers(KILLED_RUNS[command](many), faults, many / "out")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)  # not communicate(): surviving workers would hold its pipes open
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if running(p)], "worker processes outlived their parent by 10 s"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("command", sorted(KILLED_RUNS))
def test_sigterm_behaves_like_ctrl_c(many, faults, command):
    out = many / "out"
    proc, children = start_and_wait_for_workers(KILLED_RUNS[command](many), faults, out)
    os.kill(proc.pid, signal.SIGTERM)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert stderr.splitlines()[-1] == "terminated; finished files are kept, rerun to complete the rest"
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if running(p)]
    finished = list(out.rglob("*.png"))
    assert finished
    for png in finished:  # finished files are whole
        io.read_mask(png)
    # A rerun completes the rest and keeps what was there.
    run = run_process(*KILLED_RUNS[command](many))
    assert run.code == 0, run.stderr
    assert not list(out.rglob("*.tmp"))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("command", sorted(KILLED_RUNS))
def test_ctrl_c_of_the_main_process_stops_its_workers_and_exits_130(many, faults, command):
    """`timeout -s INT` of `augment -j 2`: 2 of 7 runs hung after 'interrupted', one for 10 minutes, a worker
    blocked on the pool's call queue lock while the shutdown waited for it."""
    proc, children = start_and_wait_for_workers(KILLED_RUNS[command](many), faults, many / "out")
    os.kill(proc.pid, signal.SIGINT)  # the main process alone, as timeout sends it
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "interrupted; finished files are kept, rerun to complete the rest"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if running(p)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_of_a_command_that_writes_at_the_end_says_nothing_was_written(many, faults):
    """stats said 'finished files are kept, rerun to complete the rest': it keeps nothing and resumes nothing."""
    output = many / "stats.json"
    proc = cli_process("stats", many / "work" / "labels" / "manifest.csv", "-o", output, "-j", "2", "-q",
                       env={**faults, "DATAPREP_TEST_FAULT": "slow"})
    deadline = time.monotonic() + 120
    while len(descendants(proc.pid)) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "interrupted; nothing was written, rerun the command"
    assert not output.exists()


def test_a_worker_killed_by_the_oom_killer_is_named_and_the_rest_is_written(many, faults):
    manifest = many / "work" / "manifest.csv"
    rows = read_manifest(manifest).rows
    victim = many / "data" / "masks" / "killme.png"
    shutil.copyfile(rows[0].mask, victim)
    write_manifest([*rows, ManifestRow("killme", rows[0].image, victim, rows[0].width, rows[0].height)], manifest)
    out = many / "out"
    run = run_process("masks2labels", "-p", many / "data" / "palette.json", manifest, out, "-j", "2", "-q",
                      env={**faults, "DATAPREP_TEST_FAULT": "kill"})
    assert run.code == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {victim}: worker process ")
    assert errors[0].endswith(" was killed by signal 9 (SIGKILL: most likely the out-of-memory killer) while "
                              "processing it")
    written = read_manifest(out / "manifest.csv")
    assert sorted(r.id for r in written) == sorted(r.id for r in rows)  # everything but the killed one
    assert all(r.mask.exists() for r in written)


@pytest.mark.parametrize("command", ["augment", "stats", "preview"])
def test_the_manifest_size_is_checked_before_decoding(work, tmp_path, bomb, monkeypatch, command):
    """Even with the pixel limit lifted, a file that is not the size scan recorded is not decoded."""
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "none")
    rows = read_manifest(work / "work" / "labels" / "manifest.csv").rows
    manifest = tmp_path / "swapped.csv"
    write_manifest([ManifestRow("b", rows[0].image, bomb, rows[0].width, rows[0].height), rows[1]], manifest)
    args = {"augment": ("augment", "--recipe", small_recipe(tmp_path), manifest, tmp_path / "out", "-j", "1", "-q"),
            "stats": ("stats", manifest, "-o", tmp_path / "s.json", "-j", "1", "-q"),
            "preview": ("preview", manifest, "-o", tmp_path / "p.png")}[command]
    run = cli(*args)
    assert run.code == 1
    prefix = "skipped" if command == "stats" else "error"
    assert run.first_error == (f"{prefix}: {bomb}: is 20000x20000 but the manifest says "
                               f"{rows[0].width}x{rows[0].height}; rescan it")


@pytest.mark.parametrize("swapped", ["image", "mask"])
def test_the_dataset_and_the_dali_host_side_check_the_manifest_size_before_decoding(work, bomb, monkeypatch,
                                                                                    swapped):
    """SegmentationDataset and the DALI loader's host reads refuse a file whose header disagrees with the manifest."""
    from types import SimpleNamespace

    from dataprep.data import SegmentationDataset
    from dataprep.data.dali import DaliLoader, _ImageFormat

    monkeypatch.setenv(io.MAX_PIXELS_ENV, "none")  # only the manifest's size can stop it
    rows = read_manifest(work / "work" / "labels" / "manifest.csv").rows
    good = rows[0]
    row = ManifestRow("b", bomb if swapped == "image" else good.image, bomb if swapped == "mask" else good.mask,
                      good.width, good.height)
    expected = f"{bomb}: is 20000x20000 but the manifest says {good.width}x{good.height}; rescan it"
    dataset = SegmentationDataset(Manifest([rows[1], row]))
    with pytest.raises(DataprepError) as caught:
        dataset[1]
    assert str(caught.value) == expected
    for on_dali in (True, False):  # DALI decodes JPEG/PNG itself: the header is checked before handing it over
        loader = object.__new__(DaliLoader)
        loader.spec = SimpleNamespace(rows=[row])
        loader.format = _ImageFormat(on_dali, 3, np.dtype(np.uint8))
        loader.mask_dtype = np.dtype(np.uint8)
        with pytest.raises(DataprepError) as caught:
            loader._read(0)
        assert str(caught.value) == expected, on_dali


def fails_or_fills_the_disk(x: int) -> int:
    from dataprep.errors import WriteError

    if x == 1:
        raise DataprepError(f"file{x}.png", "unreadable: bad data")
    if x == 5:
        raise WriteError(f"out/{x}.png", "cannot write: No space left on device", fatal=True)
    return x


@pytest.mark.parametrize("workers", [1, 2])
def test_a_fatal_write_error_stops_the_run_and_keeps_the_errors_before_it(workers):
    from dataprep.errors import RunStopped
    from dataprep.executor import make_executor, run_items

    with make_executor(workers) as executor, pytest.raises(RunStopped) as caught:
        run_items(fails_or_fills_the_disk, list(range(40)), executor=executor, quiet=True, chunk_size=1)
    assert str(caught.value) == "out/5.png: cannot write: No space left on device"
    if workers == 1:  # in order: item 1 failed before the disk filled
        assert caught.value.errors == ("file1.png: unreadable: bad data",)
    else:  # completion order: item 1 may still be on its way
        assert set(caught.value.errors) <= {"file1.png: unreadable: bad data"}


def test_an_input_is_recognised_however_its_path_is_spelled(tmp_path, monkeypatch):
    """The output guard compares the files the system would open: '//', '.', '..', a symlinked folder, relative
    or absolute."""
    from dataprep.paths import Inputs

    (tmp_path / "data" / "masks").mkdir(parents=True)
    target = tmp_path / "data" / "masks" / "m.png"
    target.write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "data" / "masks")
    monkeypatch.chdir(tmp_path)
    spellings = [str(target), f"{tmp_path}//data/./masks/m.png", f"{tmp_path}/data/masks/../masks/m.png",
                 f"{tmp_path}/link/m.png", "data/masks/m.png", "./link/m.png", "link/../masks/m.png", "data/../data/masks/m.png",
                 f"{tmp_path}/link/../masks/m.png"]  # the system resolves link before '..': data/masks/m.png
    for given in spellings:
        inputs = Inputs([given])
        assert all(inputs.holds(other) for other in spellings), given
        assert not inputs.holds(tmp_path / "data" / "m.png") and not inputs.holds(f"{tmp_path}/link/../m.png")


def test_outputs_are_checked_against_every_spelling_of_an_input_without_resolving_all_inputs(tmp_path, monkeypatch):
    """check_written resolves only the inputs that could be an output (same name, or no plain name), and
    refuses exactly what the full comparison refuses."""
    from dataprep.errors import UsageError
    from dataprep.paths import Inputs

    (tmp_path / "data" / "masks" / "sub").mkdir(parents=True)
    target = tmp_path / "data" / "masks" / "m.png"
    target.write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "data" / "masks")
    monkeypatch.chdir(tmp_path)
    spellings = [str(target), f"{tmp_path}/link/m.png", "link/../masks/m.png", "./data/masks/m.png"]
    others = [f"{tmp_path}/data/other{i}.png" for i in range(50)]
    for given in spellings:
        for output in spellings:
            with pytest.raises(UsageError, match="would overwrite an input"):
                Inputs([*others, given]).check_written([tmp_path / "out.csv", output])
        Inputs([*others, given]).check_written([tmp_path / "data" / "m.png", tmp_path / "out" / "m.png"])
    # An input without a plain name ('..') is the folder it resolves to, whatever that folder is called.
    unnamed = Inputs([*others, f"{tmp_path}/data/masks/sub/.."])
    with pytest.raises(UsageError, match="would overwrite an input"):
        unnamed.check_written([tmp_path / "data" / "masks"])
    assert unnamed.holds(tmp_path / "data" / "masks")  # as the full comparison says
    with pytest.raises(UsageError, match="would overwrite an input"):
        Inputs(others).with_files([target]).check_written([f"{tmp_path}/link/m.png"])


def test_files_nested_too_deeply_are_one_line(work, tmp_path):
    """A recipe of 10,000 nested lists crashed with 2,991 lines of RecursionError traceback; a palette or a
    stats.json as deep, with 50."""
    deep_yaml, deep_json = "steps: " + "[" * 10000 + "]" * 10000 + "\n", "[" * 100000 + "]" * 100000
    (tmp_path / "r.yaml").write_text(deep_yaml)
    (tmp_path / "p.json").write_text(deep_json)
    (tmp_path / "s.json").write_text(deep_json)
    labels = work / "work" / "labels" / "manifest.csv"
    for args, code, victim in ((("augment", "--recipe", tmp_path / "r.yaml", labels, tmp_path / "a"), 2, "r.yaml"),
                               (("masks2labels", "--palette", tmp_path / "p.json", work / "work" / "manifest.csv",
                                 tmp_path / "m"), 1, "p.json"),
                               (("report", labels, "--stats", tmp_path / "s.json", "-o", tmp_path / "r.html"), 1,
                                "s.json")):
        run = cli(*args)
        assert run.code == code, (args, run.stderr[-500:])
        assert run.stderr.strip().count("\n") == 0 and run.first_error.startswith(f"error: {tmp_path / victim}: ")
        assert "nested too deeply" in run.first_error


def test_a_temporary_file_caught_being_created_is_still_cleaned_up(tmp_path, monkeypatch):
    """Ctrl-C of `tile -j 2` left zero-byte .tmp files: the interrupt came between the open that made the file
    and the line that listed it, so neither the writer's clean-up nor the worker's SIGTERM handler knew it."""
    from dataprep.io import atomic

    real_open = os.open

    def open_then_interrupted(path, flags, mode=0o777):
        real_open(path, flags, mode)  # the file exists ...
        raise KeyboardInterrupt  # ... and the signal handler runs before open() returns

    monkeypatch.setattr(atomic.os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write_bytes(tmp_path / "x.png", b"data")
    monkeypatch.undo()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".x.png.") and left[0].endswith(".tmp")
    atomic.remove_live_temps()  # what the SIGTERM handler of a worker and the CLI's interrupt path run
    assert not list(tmp_path.iterdir())


def test_a_reader_that_leaves_early_is_no_error(tmp_path):
    """`dataprep masks2labels ... | head`: "error: Broken pipe" and exit 1 once head had read its lines."""
    proc = cli_process("palette", "show", "voc")
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and err == ""


# --------------------------------------------------------------------------- 8. concurrent runs into one folder


def flip_recipe(tmp_path: Path, op: str) -> Path:
    path = tmp_path / f"{op}.yaml"
    path.write_text("seed: 0\nsize: [32, 48]\nvariants: 1\nignore_index: 255\noutput: {image_format: png}\n"
                    f"steps:\n  - op: {op}\n    p: 1.0\n")
    return path


@pytest.mark.parametrize("second", ["hflip", "vflip"])
def test_augment_runs_of_other_recipes_into_one_folder_do_not_interleave(work, tmp_path, monkeypatch, second):
    """A second run started while the first was between an output's image and its mask: with another recipe
    both exited 0 and the first run's manifest listed its mask beside the second run's image. Now the second
    is refused while the first is writing; one of the same recipe still shares the folder."""
    from dataprep.augment import augment_manifest

    labels = work / "work" / "labels" / "manifest.csv"
    recipe = flip_recipe(tmp_path, "hflip")
    clean = augment_manifest(labels, recipe, tmp_path / "clean", quiet=True)
    out = tmp_path / "aug"
    outcome = run_beside_first_call(monkeypatch, io, "write_mask",
                                    lambda: augment_manifest(labels, flip_recipe(tmp_path, second), out, quiet=True))
    summary = augment_manifest(labels, recipe, out, quiet=True)
    monkeypatch.undo()
    if second == "hflip":
        assert outcome[1] == "written"
    else:
        assert outcome[1] == (f"{out}: is being written by another `dataprep augment` run with other settings; "
                              "wait for it to end, or choose another folder")
    assert summary.errors == []
    rows, expected = read_manifest(out / "manifest.csv"), read_manifest(clean.manifest)
    assert [r.id for r in rows] == [r.id for r in expected]
    for row, want in zip(rows, expected):
        assert row.image.read_bytes() == want.image.read_bytes(), row.id
        assert row.mask.read_bytes() == want.mask.read_bytes(), row.id
    assert not [p.name for p in out.iterdir() if p.name.endswith(".lock")]


def test_a_masks2labels_run_of_another_palette_into_the_folder_being_written_is_refused(work, tmp_path, monkeypatch):
    """Two palettes into one new folder at once: both exited 0 over label maps of both numberings and one
    palette.json (the second found the first's settings but none of its label maps yet, and replaced them)."""
    from dataprep.labels import batch

    manifest, palette = work / "work" / "manifest.csv", work / "data" / "palette.json"
    renumbered = json.loads(palette.read_text())
    for c in renumbered["classes"]:
        c["index"] = 9 if c["index"] == 0 else c["index"]
    other = tmp_path / "renumbered.json"
    other.write_text(json.dumps(renumbered))
    out = tmp_path / "labels"
    outcome = run_beside_first_call(monkeypatch, batch, "write_mask",
                                    lambda: masks_to_labels(manifest, out, other, quiet=True))
    report = masks_to_labels(manifest, out, palette, quiet=True)
    monkeypatch.undo()
    assert outcome[1] == (f"{out}: is being written by another `dataprep masks2labels` run with other settings; "
                          "wait for it to end, or choose another folder")
    assert report.converted == 4 and not report.failed
    expected = work / "work" / "labels"  # the same palette, run alone
    for row in read_manifest(out / "manifest.csv"):
        want = expected / row.mask.relative_to(out)
        assert np.array_equal(io.read_mask(row.mask), io.read_mask(want)), row.id
    assert json.loads((out / "palette.json").read_text()) == json.loads((expected / "palette.json").read_text())
    assert not [p.name for p in out.iterdir() if p.name.endswith(".lock")]


def test_an_overwrite_run_stopped_between_an_image_and_its_mask_leaves_no_record_vouching_for_them(
        work, tmp_path, monkeypatch):
    """`augment --overwrite` with a new recipe, stopped after an output's image: its old params file stayed,
    and a rerun of the old recipe kept the new image beside the old mask as one finished pair."""
    from dataprep.augment import augment_manifest

    labels = work / "work" / "labels" / "manifest.csv"
    old, new = flip_recipe(tmp_path, "hflip"), flip_recipe(tmp_path, "vflip")
    clean = augment_manifest(labels, old, tmp_path / "clean", quiet=True)
    out = tmp_path / "aug"
    augment_manifest(labels, old, out, quiet=True)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "write_mask", stopped)
    with pytest.raises(KeyboardInterrupt):
        augment_manifest(labels, new, out, quiet=True, overwrite=True)
    monkeypatch.undo()
    augment_manifest(labels, old, out, quiet=True)
    for row, want in zip(read_manifest(out / "manifest.csv"), read_manifest(clean.manifest), strict=True):
        assert row.image.read_bytes() == want.image.read_bytes(), row.id
        assert row.mask.read_bytes() == want.mask.read_bytes(), row.id


def test_two_kfold_runs_into_one_folder_leave_one_consistent_split(work, tmp_path, monkeypatch):
    """k=2 and k=4 into one folder at once: both renamed their staged files in turn, and one exited 0 over a
    report.json of k=2 beside fold_2/ and fold_3/ and fold files that disagreed with the manifest. Now the
    second waits for the first, and the folder is all of one run."""
    import threading

    from dataprep import foldfiles
    from dataprep.splits import split_folds, write_folds

    labels = work / "work" / "labels" / "manifest.csv"
    first, second = split_folds(labels, 2, mode="plain", quiet=True), split_folds(labels, 4, mode="plain", quiet=True)
    out = tmp_path / "folds"
    real_remove = foldfiles._remove_stale_folds
    other = threading.Thread(target=write_folds, args=(second, out))

    def remove_with_a_run_beside(folder, k):
        if not other.is_alive() and k == 2:
            other.start()
            other.join(timeout=3)  # without the lock it finishes now, between our renames and our report.json
        real_remove(folder, k)

    monkeypatch.setattr(foldfiles, "_remove_stale_folds", remove_with_a_run_beside)
    write_folds(first, out)
    other.join()
    report = json.loads((out / "report.json").read_text())
    rows = read_manifest(out / "manifest.csv")
    assert report["k"] == 4 and sorted(p.name for p in out.glob("fold_*")) == [f"fold_{f}" for f in range(4)]
    for f in range(4):
        val = {r.id for r in read_manifest(out / f"fold_{f}" / "val.csv")}
        train = {r.id for r in read_manifest(out / f"fold_{f}" / "train.csv")}
        assert val == {r.id for r in rows if r.extra["fold"] == str(f)} and train == {r.id for r in rows} - val
    assert not [p.name for p in out.iterdir() if p.name.endswith(".lock")]


@pytest.mark.parametrize("command", ["preview", "report", "stats", "dedup", "tile"])
def test_an_empty_image_file_is_one_line_naming_it(work, tmp_path, command):
    """A zero-byte photo (a copy that never wrote) got OpenCV's `(-215:Assertion failed) !buf.empty()` as a
    traceback from preview and report, and as the message of the others."""
    labels = work / "work" / "labels" / "manifest.csv"
    image = read_manifest(labels)[0].image
    image.write_bytes(b"")
    out = tmp_path / "out"
    args = {"preview": ["preview", labels, "-o", tmp_path / "sheet.png"],
            "report": ["report", labels, "-o", tmp_path / "report.html"],
            "stats": ["stats", labels, "-o", tmp_path / "stats.json"],
            "dedup": ["dedup", labels, "-o", tmp_path / "dups.csv"],
            "tile": ["tile", labels, out, "--size", "64"]}[command]
    run = cli(*args, "-q")
    assert run.code == 1
    # report reads the header first, and says so in its own words
    says = "cannot identify image file" if command == "report" else "the file is empty (0 bytes)"
    assert f"{image}: unreadable: {says}" in run.stderr
    assert "OpenCV" not in run.stderr and "Assertion" not in run.stderr


@pytest.mark.parametrize("command", ["kfold", "augment"])
def test_a_lock_file_planted_as_a_symlink_creates_nothing_where_it_points(work, tmp_path, command):
    labels = work / "work" / "labels" / "manifest.csv"
    out, target = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    if command == "kfold":
        lock, args = out / ".dataprep-kfold.lock", ["kfold", labels, "-k", "2", "-o", out]
    else:
        from dataprep.augment.run import run_fingerprint
        from dataprep.palette import resolve_palette
        from dataprep.recipe import load_recipe
        from dataprep.run_lock import settings_digest

        recipe = small_recipe(tmp_path)
        fingerprint = run_fingerprint(load_recipe(recipe), read_manifest(labels), resolve_palette(None, labels))
        lock = out / f".dataprep-augment-{settings_digest({'fingerprint': fingerprint})}.lock"
        args = ["augment", "--recipe", recipe, labels, out]
    lock.symlink_to(target)
    run = cli(*args, "-q")
    assert run.code == 1 and run.first_error == f"error: {lock}: cannot write: Too many levels of symbolic links"
    assert not target.exists()


def test_signals_held_leaves_alone_a_handler_set_outside_python(monkeypatch):
    """signal.getsignal gives None for a handler installed by C code (an embedding host): putting None back raised
    TypeError at the end of every optimizer step. Such a signal is left as it is; the other is held and given."""
    from dataprep.lifecycle import signals_held

    real_getsignal, real_signal = signal.getsignal, signal.signal
    set_to: list[tuple[int, object]] = []
    monkeypatch.setattr(signal, "getsignal", lambda s: None if s == signal.SIGTERM else real_getsignal(s))

    def recording_signal(s, handler):
        set_to.append((s, handler))
        return real_signal(s, handler)

    monkeypatch.setattr(signal, "signal", recording_signal)
    before = real_getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            signal.raise_signal(signal.SIGINT)
            set_to.append((0, "still inside"))  # the Ctrl-C waited for the block's end
    assert all(s != signal.SIGTERM for s, _ in set_to) and (0, "still inside") in set_to
    assert real_getsignal(signal.SIGINT) is before
