"""Offline augmentation throughput: each op, default.yaml serial and -j 2, and our overhead over albumentations.

Inputs are sample_data (320x240) with label maps; every output is 512x512.
- ops: images/s of one op in memory (`augment_samples`), no file I/O;
- default.yaml: `augment_manifest` end to end (decode, ops, JPEG/PNG encode, manifest);
- overhead: the same random_resized_crop + hflip + affine + color_jitter steps run by our
  pipeline (planner, per-output seeding, provenance) vs a bare albumentations Compose;
- mixing vs hand-written: copy-paste and mosaic on 1024x512 street scenes with many objects
  against the numpy/cv2 versions in `reference_mixing.py`, every output checked equal;
- planning: partner choice and coin flips for 4k, 16k and 100k rows (5 folds);
- whole process: the `dataprep augment` command vs a bare albumentations script reading and
  writing the same files, 160 outputs, start-up included.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import reference_mixing as ref
from common import REPO, SHARED_DATA, alternating_best, best_of, label_sample_data, write_result

from dataprep import io
from dataprep.albu import compile_albumentations
from dataprep.augment import augment_manifest, augment_samples
from dataprep.augment.plan import PartnerPools, plan_output, plan_outputs, step_rng
from dataprep.augment.single import Kernels
from dataprep.executor import ProcessExecutor
from dataprep.manifest import read_manifest
from dataprep.recipe import load_recipe, parse_recipe
from dataprep.sample import Sample, SampleMeta

SIZE = [512, 512]

OP_RECIPES = {
    "crop (class-aware, rescale)": [{"op": "crop", "scale": [1.0, 1.75], "cat_max_ratio": 0.75}],
    "mosaic": [{"op": "mosaic"}],
    "copy_paste + crop": [{"op": "copy_paste", "max_area_fraction": 0.1, "min_area": 64}, {"op": "crop", "scale": [1, 1]}],
    "mixup + crop": [{"op": "mixup"}, {"op": "crop", "scale": [1, 1]}],
    "cutmix + crop": [{"op": "cutmix"}, {"op": "crop", "scale": [1, 1]}],
    "crop + hflip + affine + color_jitter": [
        {"op": "crop", "scale": [1, 1]}, {"op": "hflip"}, {"op": "affine"}, {"op": "color_jitter"},
    ],
}
ALBU_STEPS = [
    {"op": "random_resized_crop", "scale": [0.5, 1.0]},
    {"op": "hflip", "p": 0.5},
    {"op": "affine", "scale": [0.9, 1.1], "rotate": [-10, 10]},
    {"op": "color_jitter", "brightness": 0.2, "contrast": 0.2, "saturation": 0.2},
]


def _samples(manifest: Path) -> list[Sample]:
    return [
        Sample(io.read_image(r.image), io.read_mask(r.mask), SampleMeta(r.id, str(r.image), str(r.mask)))
        for r in read_manifest(manifest)
    ]


def street_scenes(count: int, height: int = 512, width: int = 1024) -> list[Sample]:
    """Synthetic street scenes: sky, buildings, road and 40 objects of 7 classes scattered over them."""
    samples = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        mask = np.zeros((height, width), np.uint8)
        mask[height // 3 : height // 2], mask[height // 2 :] = 1, 3
        cv2.rectangle(mask, (int(rng.integers(0, width // 2)), height // 4),
                      (int(rng.integers(width // 2, width)), height // 2), 2, -1)
        for _ in range(40):
            c, cy, cx = int(rng.integers(4, 11)), int(rng.integers(0, height)), int(rng.integers(0, width))
            a, b = int(rng.integers(4, 60)), int(rng.integers(4, 60))
            if rng.random() < 0.5:
                cv2.ellipse(mask, (cx, cy), (a, b), 0, 0, 360, c, -1)
            else:
                cv2.rectangle(mask, (cx - a, cy - b), (cx + a, cy + b), c, -1)
        colours = rng.integers(0, 256, (256, 3)).astype(np.uint8)
        image = cv2.add(colours[mask], rng.integers(0, 24, (height, width, 3), dtype=np.uint8))
        samples.append(_read_only(image, mask, f"scene{seed}"))
    return samples


def camvid_scenes(count: int) -> list[Sample]:
    """CamVid frames (480x360, void = 11 set to 255) scaled to 1024x512, when the public subset is beside the repo."""
    root = SHARED_DATA / "camvid_segnet" / "CamVid"
    masks = sorted((root / "trainannot").glob("*.png"))[:count]
    samples = []
    for path in masks:
        image = cv2.resize(io.read_image(root / "train" / path.name), (1024, 512), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(io.read_mask(path), (1024, 512), interpolation=cv2.INTER_NEAREST)
        mask[mask == 11] = 255
        samples.append(_read_only(image, mask, path.stem))
    return samples


def _read_only(image: np.ndarray, mask: np.ndarray, sid: str) -> Sample:
    # As the runner loads them: read-only, so that copy-paste may reuse a donor's components.
    image.setflags(write=False)
    mask.setflags(write=False)
    return Sample(image, mask, SampleMeta(sid))


MIXING_CASES = {
    "copy-paste, 1 object, rescaled, no blend": (
        [512, 1024], [{"op": "copy_paste", "max_objects": 1, "blend_sigma": 0.0, "flip": False}]),
    "copy_paste.yaml settings + crop": (
        [512, 512], [{"op": "copy_paste", "max_objects": 3, "min_area": 64, "max_area_fraction": 0.1},
                     {"op": "crop", "scale": [1.0, 1.0]}]),
    "mosaic to 512x512": ([512, 512], [{"op": "mosaic"}]),
}


def _reference(name: str, recipe, samples: list[Sample], index: int, variant: int, partners: tuple[int, ...]):
    """The hand-written version of output (index, variant), with dataprep's seeds for each step."""
    seed = recipe.seed
    src = samples[index]
    if name.startswith("mosaic"):
        inputs = [src, *(samples[j] for j in partners)]
        return ref.mosaic(step_rng(seed, index, variant, 0), [s.image for s in inputs], [s.mask for s in inputs],
                          *recipe.size)
    p = recipe.steps[0].params
    donor = samples[partners[0]]
    image, mask = ref.copy_paste(step_rng(seed, index, variant, 0), src.image, src.mask, donor.image, donor.mask,
                                 max_objects=p.max_objects, min_area=p.min_area, max_area_fraction=p.max_area_fraction,
                                 scale=p.scale, flip=p.flip, blend_sigma=p.blend_sigma)
    if len(recipe.steps) > 1:
        image, mask = ref.crop(step_rng(seed, index, variant, 1), image, mask, *recipe.size)
    return image, mask


def mixing_vs_reference(quick: bool) -> tuple[list[dict], dict]:
    """ms per output of dataprep's copy-paste and mosaic vs the hand-written ones, outputs checked equal."""
    outputs, rounds = (16, 2) if quick else (80, 4)
    sets = {"synthetic street scenes 1024x512": street_scenes(16)}
    if (SHARED_DATA / "camvid_segnet").exists():
        sets["CamVid frames scaled to 1024x512"] = camvid_scenes(16)
    rows = []
    for data, samples in sets.items():
        n = len(samples)
        pools = PartnerPools(n)
        for name, (size, steps) in MIXING_CASES.items():
            recipe = parse_recipe({"size": size, "steps": steps})
            keys = [(k % n, k // n) for k in range(outputs)]
            partners = {key: plan_output(recipe, pools, *key).steps[0].partners for key in keys}
            for key in keys:  # same output, pixel for pixel
                ours = augment_samples(recipe, samples, *key, pools=pools)
                image, mask = _reference(name, recipe, samples, *key, partners[key])
                if not (np.array_equal(ours.image, image) and np.array_equal(ours.mask, mask)):
                    raise AssertionError(f"{name}: output {key} differs from the hand-written version")
            chunks = [keys[c : c + 8] for c in range(0, outputs, 8)]

            run = Kernels()  # one run's derived data: each donor's components searched once, as the runner does

            def dataprep_side(chunk):
                for key in chunk:
                    augment_samples(recipe, samples, *key, pools=pools, kernels=run)

            def reference_side(chunk):
                for key in chunk:
                    _reference(name, recipe, samples, *key, partners[key])

            ours_s, ref_s = alternating_best(dataprep_side, reference_side, chunks, rounds)
            rows.append({"case": f"{name} ({data})", "dataprep_ms": ours_s / outputs * 1e3,
                         "hand_written_ms": ref_s / outputs * 1e3, "ratio": ours_s / ref_s})
            if name.startswith("copy"):
                def cold(chunk):  # no run state: each output searches its donor afresh
                    for key in chunk:
                        augment_samples(recipe, samples, *key, pools=pools)
                cold_s, ref_s = alternating_best(cold, reference_side, chunks, rounds)
                rows.append({"case": f"{name}, no donor reuse ({data})", "dataprep_ms": cold_s / outputs * 1e3,
                             "hand_written_ms": ref_s / outputs * 1e3, "ratio": cold_s / ref_s})
    notes = {"mixing_outputs_per_case": outputs, "mixing_timing": f"alternating chunks of 8 outputs, best of {rounds}",
             "mixing_equal_outputs": "every output of both sides compared: identical images and masks"}
    return rows, notes


def planning(quick: bool) -> list[dict]:
    """Seconds to plan mosaic.yaml (+ copy-paste) for N rows in 5 folds: pools, coin flips, partners."""
    recipe = parse_recipe({"size": [512, 512], "steps": [{"op": "mosaic", "p": 0.5}, {"op": "copy_paste", "p": 0.5},
                                                         {"op": "hflip"}]})
    rows = []
    for count in ((4000, 16000) if quick else (4000, 16000, 100000)):
        columns = [{"fold": str(i % 5)} for i in range(count)]
        start, cpu = time.perf_counter(), time.process_time()
        plans = plan_outputs(recipe, PartnerPools.from_rows(columns, recipe.partners))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append({"case": f"planning {count:,} rows, 5 folds", "seconds": seconds, "cpu_seconds": cpu,
                     "us_per_output": seconds / len(plans) * 1e6})
    return rows


BARE_SCRIPT = """
import sys, cv2, numpy as np, albumentations as A
from PIL import Image
manifest, out, variants = sys.argv[1], sys.argv[2], int(sys.argv[3])
import csv, os
rows = list(csv.DictReader(open(manifest)))
base = os.path.dirname(manifest)
compose = A.Compose([
    A.RandomResizedCrop(size=(512, 512), scale=(0.5, 1.0), ratio=(0.75, 4 / 3), mask_interpolation=cv2.INTER_NEAREST_EXACT),
    A.HorizontalFlip(p=0.5),
    A.Affine(scale=(0.9, 1.1), rotate=(-10, 10), border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=255),
    A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.0),
], seed=0)
os.makedirs(os.path.join(out, "images"), exist_ok=True); os.makedirs(os.path.join(out, "masks"), exist_ok=True)
for k in range(variants):
    for i, row in enumerate(rows):
        image = cv2.cvtColor(cv2.imread(os.path.join(base, row["image"]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mask = np.asarray(Image.open(os.path.join(base, row["mask"])))
        res = compose(image=image, mask=mask)
        cv2.imwrite(os.path.join(out, "images", f"{i}_{k}.jpg"), cv2.cvtColor(res["image"], cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        Image.fromarray(res["mask"]).save(os.path.join(out, "masks", f"{i}_{k}.png"))
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def whole_process(manifest: Path, work: Path, quick: bool) -> tuple[list[dict], dict]:
    """`dataprep augment` with the default `-j` (all cores) and with `-j 1` vs a bare albumentations script,
    all fresh processes, 160 outputs at 512x512, start-up included. On a shared machine the CPU time of each
    process is the steadier figure; the default `-j` is the wall time a user waits for."""
    variants, rounds = 5, (2 if quick else 5)
    recipe = work / "albu.yaml"
    recipe.write_text(json_recipe(ALBU_STEPS))
    script = work / "bare.py"
    script.write_text(BARE_SCRIPT)
    exe = shutil.which("dataprep") or ""
    base_cmd = ([exe] if exe else [sys.executable, "-c", "from dataprep.cli import main; main()"]) + [
        "augment", "--recipe", str(recipe), str(manifest)]
    sides = {"bare": [sys.executable, str(script), str(manifest), str(work / "bare"), str(variants)],
             "ours": base_cmd + [str(work / "ours"), "--variants", str(variants), "-q", "-j", "1"],
             "ours_default_j": base_cmd + [str(work / "ours_default_j"), "--variants", str(variants), "-q"]}
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    wall: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(rounds):  # alternating whole runs
        for side, cmd in sides.items():
            shutil.rmtree(work / side, ignore_errors=True)
            w, c = _timed(cmd, env)
            wall[side].append(w)
            cpu[side].append(c)
    outputs = len(list((work / "ours" / "images").rglob("*.jpg")))
    default_outputs = len(list((work / "ours_default_j" / "images").rglob("*.jpg")))
    assert default_outputs == outputs, (default_outputs, outputs)
    med = {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in wall}
    rows = [{"case": f"whole process, bare albumentations script, {outputs} outputs", "seconds": med["bare"][0],
             "cpu_seconds": med["bare"][1]},
            {"case": f"whole process, dataprep augment -j 1, {outputs} outputs", "seconds": med["ours"][0],
             "cpu_seconds": med["ours"][1]},
            {"case": f"whole process, dataprep augment (default -j, {os.cpu_count()} cores), {outputs} outputs",
             "seconds": med["ours_default_j"][0], "cpu_seconds": med["ours_default_j"][1]}]

    def overhead(side: str, which: int, runs: dict[str, list[float]]) -> str:
        return (f"{(med[side][which] / med['bare'][which] - 1) * 100:.1f}% (medians of {rounds} alternating runs; "
                f"best runs: {(min(runs[side]) / min(runs['bare']) - 1) * 100:.1f}%)")
    notes = {"whole_process_overhead_wall": overhead("ours", 0, wall),
             "whole_process_overhead_cpu": overhead("ours", 1, cpu),
             "whole_process_default_j_overhead_wall": overhead("ours_default_j", 0, wall),
             "whole_process_default_j_overhead_cpu": overhead("ours_default_j", 1, cpu),
             "whole_process_runs": {k: {"wall": [round(v, 2) for v in wall[k]], "cpu": [round(v, 2) for v in cpu[k]]}
                                    for k in wall}}
    return rows, notes


def json_recipe(steps: list[dict]) -> str:
    import json

    return json.dumps({"size": SIZE, "steps": steps, "output": {"image_format": "jpg", "quality": 95}})


def main(quick: bool = False) -> None:
    outputs = 32 if quick else 128
    repeat = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="bench_augment_"))
    try:
        manifest = label_sample_data(work / "in")
        samples = _samples(manifest)
        n = len(samples)
        rows = []

        def in_memory(recipe, per_run_kernels=True):
            # As the runner: one Kernels (compiled albumentations steps) per run.
            def run():
                kernels = Kernels() if per_run_kernels else None
                for k in range(outputs):
                    augment_samples(recipe, samples, k % n, k // n, kernels=kernels)
            return outputs / best_of(run, repeat)

        for name, steps in OP_RECIPES.items():
            recipe = parse_recipe({"size": SIZE, "steps": steps})
            rows.append({"case": f"op: {name}", "workers": 1, "images_per_s": in_memory(recipe)})
        default = load_recipe(REPO / "pipelines" / "default.yaml")
        rows.append({"case": "default.yaml in memory", "workers": 1, "images_per_s": in_memory(default)})
        # What the per-run Kernels saves: the same, compiling the albumentations steps for every output.
        rows.append({"case": "default.yaml in memory, steps compiled per output", "workers": 1,
                     "images_per_s": in_memory(default, per_run_kernels=False)})

        variants = max(1, outputs // n)
        for workers in (1, 2):
            out = work / f"out{workers}"
            executor = ProcessExecutor(workers) if workers > 1 else None

            def run_files():
                shutil.rmtree(out, ignore_errors=True)
                augment_manifest(manifest, default, out, variants=variants, quiet=True, executor=executor)
            run_files()  # warm-up: worker start-up (spawn + imports) is not per image
            seconds = best_of(run_files, repeat)
            if executor is not None:
                executor.close()
            rows.append({"case": "default.yaml to files (warm pool)", "workers": workers,
                         "images_per_s": n * variants / seconds})

        # Overhead: the same albumentations steps, bare vs through our pipeline. Both sides draw
        # their own random crops and affines, so enough outputs that the draws' cost evens out.
        # They alternate in chunks of 16 outputs and each chunk keeps its best round: a burst of
        # load from other processes then hits one chunk of both sides, not one side's whole run.
        recipe = parse_recipe({"size": SIZE, "steps": ALBU_STEPS})
        compose = compile_albumentations(recipe.steps, size=recipe.size, ignore_index=255, seed=0)
        compared, chunk = (outputs, 16) if quick else (outputs * 8, 16)

        def bare(ks: range) -> None:
            for k in ks:
                s = samples[k % n]
                compose(image=s.image, mask=s.mask)

        kernels = Kernels()

        def ours(ks: range) -> None:
            for k in ks:
                augment_samples(recipe, samples, k % n, k // n, kernels=kernels)
        chunks = [range(c, min(c + chunk, compared)) for c in range(0, compared, chunk)]
        bare_s, ours_s = alternating_best(bare, ours, chunks, 2 if quick else 5)
        bare_ips, ours_ips = compared / bare_s, compared / ours_s
        overhead = bare_ips / ours_ips - 1.0
        rows.append({"case": "albumentations alone: rrc+flip+affine+colour", "workers": 1, "images_per_s": bare_ips})
        rows.append({"case": "ours: same steps via recipe", "workers": 1, "images_per_s": ours_ips})
        mixing_rows, mixing_notes = mixing_vs_reference(quick)
        rows += mixing_rows + planning(quick)
        process_rows, process_notes = whole_process(manifest, work, quick)
        rows += process_rows
        write_result("augment", rows, notes={
            "output_size": "512x512",
            "inputs": f"{n} sample_data images 320x240",
            "outputs_per_case": outputs,
            "outputs_in_overhead_comparison": compared,
            "overhead_timing": "alternating chunks of 16 outputs, best of 5 rounds per chunk, summed",
            "overhead_vs_albumentations": f"{overhead * 100:.1f}%",
            **mixing_notes,
            **process_notes,
            "noise": "shared 2-core machine: numbers are noisy",
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
