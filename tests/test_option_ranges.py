"""Options every command shares take one range, refused as a usage error (exit 2) before anything is written:
--seed, and the per-command checks of --scale, --keep-empty, --ignore-index and --remap."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from helpers import SAMPLE_DATA, make_label_dataset
from dataprep.errors import UsageError
from dataprep.option_ranges import MAX_SEED, check_seed


def _run(*args):
    from dataprep.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _usage_error(result, *words: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    return make_label_dataset(tmp_path_factory.mktemp("labels"), n=2, folds=2)


RECIPE = "size: [32, 32]\nsteps:\n  - op: hflip\n"


@pytest.mark.parametrize("seed", ["-1", str(2**64), str(2**64 + 1), str(MAX_SEED + 1)])
@pytest.mark.parametrize("command", ["kfold", "preview", "report", "tile", "augment"])
def test_every_seed_option_refuses_the_same_values_before_writing(tmp_path, labels, command, seed):
    out = tmp_path / "out"
    args = {"kfold": ["kfold", labels, "-k", "2", "-o", out],
            "preview": ["preview", labels, "-o", out / "sheet.png"],
            "report": ["report", labels, "-o", out / "r.html"],
            "tile": ["tile", labels, out, "--size", "64", "--keep-empty", "50%"],
            "augment": ["augment", "--recipe", tmp_path / "r.yaml", labels, out, "-j", "1"]}[command]
    (tmp_path / "r.yaml").write_text(RECIPE)
    _usage_error(_run(*args, "--seed", seed, "-q" if command != "report" else "--quiet"), "'--seed'",
                 f"0<=x<={MAX_SEED}")
    assert not out.exists()


def test_the_largest_seed_is_taken(tmp_path, labels):
    result = _run("kfold", labels, "-k", "2", "-o", tmp_path / "k", "--seed", MAX_SEED, "-q")
    assert result.exit_code == 0, result.output


def test_a_recipe_seed_past_the_range_is_refused_once(tmp_path, labels):
    (tmp_path / "r.yaml").write_text(f"seed: {2**64}\n" + RECIPE)
    line = _usage_error(_run("augment", "--recipe", tmp_path / "r.yaml", labels, tmp_path / "out", "-j", "1", "-q"),
                        "r.yaml", f"0..{MAX_SEED}")
    assert str(2**64) in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", [-1, 2**64, MAX_SEED + 1, 1.5, "1", True, None])
def test_check_seed_refuses_what_would_wrap_or_round(seed):
    with pytest.raises(UsageError, match="seed must be"):
        check_seed(seed)


def test_check_seed_takes_ints_and_numpy_ints():
    import numpy as np

    assert check_seed(0) == 0 and check_seed(MAX_SEED) == MAX_SEED
    assert check_seed(np.int64(7)) == 7 and type(check_seed(np.uint32(7))) is int


@pytest.mark.parametrize("seed", [2**64, -1, 1.5, "1", True])
def test_the_dataset_and_loader_refuse_bad_seeds(labels, seed):
    from dataprep.data import SegmentationDataset, make_loader

    with pytest.raises(UsageError, match="seed must be"):
        SegmentationDataset(labels, seed=seed)
    with pytest.raises(UsageError, match="seed must be"):
        make_loader(labels, batch_size=1, seed=seed)


@pytest.mark.parametrize("call", ["kfold", "preview", "tile", "report"])
def test_library_functions_refuse_a_negative_seed_up_front(tmp_path, labels, call):
    from dataprep.preview import write_contact_sheet
    from dataprep.report import write_report
    from dataprep.splits import kfold
    from dataprep.tiling import tile_manifest

    out = tmp_path / "out"
    run = {"kfold": lambda: kfold(labels, out, 2, seed=-1, quiet=True),
           "preview": lambda: write_contact_sheet(labels, out / "s.png", seed=-1),
           "tile": lambda: tile_manifest(labels, out, size=64, seed=-1, quiet=True),
           "report": lambda: write_report(labels, out / "r.html", seed=-1)}[call]
    with pytest.raises(UsageError, match="seed must be in"):
        run()
    assert not out.exists()


# --------------------------------------------------------------------------- resize --scale


@pytest.mark.parametrize("scale", ["inf", "-inf", "nan", "0"])
def test_resize_scale_must_be_finite_and_positive(tmp_path, labels, scale):
    out = tmp_path / "out"
    _usage_error(_run("resize", labels, out, "--scale", scale, "-q"), "'--scale'")
    assert not out.exists()


def test_resize_target_refuses_inf():
    from dataprep.resizing import ResizeTarget

    with pytest.raises(UsageError, match="--scale must be a finite number above 0"):
        ResizeTarget(scale=float("inf"))


def test_resize_that_fails_every_pair_writes_no_manifest(tmp_path, labels):
    out = tmp_path / "out"
    result = _run("resize", labels, out, "--scale", "1e6", "-q")  # every pair past the pixel limit
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "all 2 pairs" in lines[0] and "nothing written" in lines[0], result.stderr
    assert not (out / "manifest.csv").exists()


# --------------------------------------------------------------------------- tile --keep-empty


@pytest.mark.parametrize("text, share", [("25%", 0.25), ("0.25", 0.25), ("1", 1.0), ("100%", 1.0), ("1.5%", 0.015),
                                         ("0", 0.0), ("0%", 0.0)])
def test_keep_empty_reads_percents_and_fractions(text, share):
    from dataprep.cli.tiles import tile_command

    option = next(p for p in tile_command.params if p.name == "keep_empty")
    assert option.type.convert(text, option, None) == pytest.approx(share)


@pytest.mark.parametrize("text, words", [("1.5", ["'1.5' is ambiguous", "1.5%", "0.015"]),
                                         ("50", ["'50' is ambiguous", "50%"]), ("150%", ["between 0% and 100%"]),
                                         ("-0.1", ["between"]), ("nan", ["between"]), ("inf", ["between"]),
                                         ("inf%", ["between"]), ("x", ["percentage like"])])
def test_keep_empty_refuses_a_bare_number_above_1_before_writing(tmp_path, labels, text, words):
    out = tmp_path / "out"
    _usage_error(_run("tile", labels, out, "--size", "64", "--keep-empty", text, "-q"), "'--keep-empty'", *words)
    assert not out.exists()


# --------------------------------------------------------------------------- --ignore-index


@pytest.mark.parametrize("command", ["stats", "kfold"])
@pytest.mark.parametrize("value", ["70000", "65536", "-40000"])
def test_stats_and_kfold_refuse_an_ignore_index_no_label_map_holds(tmp_path, labels, command, value):
    out = tmp_path / "out"
    args = ["-o", out / "s.json"] if command == "stats" else ["-k", "2", "-o", out]
    _usage_error(_run(command, labels, *args, "--ignore-index", value, "-q"), "'--ignore-index'", "0..65535")
    assert not out.exists()


def test_the_library_refuses_it_too(labels):
    from dataprep.stats import collect_stats

    with pytest.raises(UsageError, match="ignore_index 70000 is no value a label map holds"):
        collect_stats(labels, ignore_index=70000, quiet=True)


def test_a_negative_ignore_index_still_works_for_npy_label_maps(tmp_path):
    import numpy as np

    from dataprep import io

    mask = np.zeros((8, 8), np.int16)
    mask[:2] = -1
    mask[4:] = 1
    io.write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    np.save(tmp_path / "a.npy", mask)
    (tmp_path / "m.csv").write_text("id,image,mask,width,height\na,a.png,a.npy,8,8\n")
    result = _run("stats", tmp_path / "m.csv", "-o", tmp_path / "s.json", "--ignore-index", "-1", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.json").exists()


# --------------------------------------------------------------------------- masks2labels --remap


@pytest.mark.parametrize("spec, twice", [("1:2,1:3", "maps 1 twice (2 and 3)"),
                                         ("1-5:1,3:2", "maps 3 twice (1 and 2)")])
def test_an_inline_remap_giving_a_value_twice_is_refused_before_writing(tmp_path, labels, spec, twice):
    out = tmp_path / "out"
    _usage_error(_run("masks2labels", labels, out, "--palette", SAMPLE_DATA / "palette.json", "--remap", spec, "-q"),
                 "--remap", twice)
    assert not out.exists()


@pytest.mark.parametrize("text", ["0: [1\n", "- 1\n- 2\n"])
def test_a_bad_remap_file_is_a_usage_error(tmp_path, labels, text):
    remap, out = tmp_path / "remap.yaml", tmp_path / "out"
    remap.write_text(text)
    _usage_error(_run("masks2labels", labels, out, "--palette", SAMPLE_DATA / "palette.json", "--remap", remap, "-q"),
                 str(remap))
    assert not out.exists()


def test_a_negative_source_value_still_maps_npy_label_maps(tmp_path):
    """stats' and augment's hints say `masks2labels --remap=-1:255` for .npy label maps storing ignore as -1."""
    import numpy as np

    from dataprep import io

    src = tmp_path / "src"
    mask = np.zeros((8, 8), np.int16)
    mask[:2] = -1
    io.write_image(src / "a.png", np.zeros((8, 8, 3), np.uint8))
    src.joinpath("a.npy").write_bytes(b"")
    np.save(src / "a.npy", mask)
    (src / "m.csv").write_text("id,image,mask,width,height\na,a.png,a.npy,8,8\n")
    result = _run("masks2labels", src / "m.csv", tmp_path / "out", "--palette", SAMPLE_DATA / "palette.json",
                  "--remap=-1:255", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(np.unique(io.read_mask(tmp_path / "out" / "a.png")).tolist()) == [0, 255]
