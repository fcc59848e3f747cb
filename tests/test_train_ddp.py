"""Distributed training on CPU: two gloo processes, launched by torch.multiprocessing and by torchrun."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dataprep.data.loader import make_loader
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.train import UNet, confusion_matrix, parse_config, run_training, scores
from helpers import make_config, prepare_sample_labels

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def labelled(sample_data, tmp_path_factory) -> Path:
    return prepare_sample_labels(sample_data, tmp_path_factory.mktemp("ddp_data"))


def _rank_main(rank: int, world: int, port: int, config: dict, out: str) -> None:
    """One DDP rank (run in a spawned process): train, then dump what it saw and its weights."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    config = {**config, "train": {**config["train"], "output_dir": str(Path(out) / f"rank{rank}")}}
    seen: dict[int, list[str]] = {}
    result = run_training(parse_config(config), quiet=True,
                          on_step=lambda info: seen.setdefault(info.epoch, []).extend(info.ids))
    torch.save({"ids": seen, "state": result.model.state_dict(), "history": result.history},
               Path(out) / f"rank{rank}.pt")


def test_two_ranks_see_disjoint_data_and_end_with_identical_weights(labelled, tmp_path):
    rows = read_manifest(labelled).rows
    # 7 rows: the sampler pads rank 1 with a repeat. Copies under other ids and file names: the trainer refuses
    # validation rows whose image file is a training row's.
    copies = labelled.parent / "val7"
    copies.mkdir(exist_ok=True)
    val_rows = []
    for r in rows[:7]:
        image, mask = copies / f"v_{r.image.name}", copies / f"v_{r.mask.name}"
        shutil.copyfile(r.image, image)
        shutil.copyfile(r.mask, mask)
        val_rows.append(ManifestRow(f"v_{r.id}", image, mask, r.width, r.height))
    val = write_manifest(val_rows, labelled.parent / "val7.csv")
    cfg = make_config(labelled, tmp_path, data={"val_manifest": str(val), "batch_size": 2},
                      model={"width": 8, "depth": 2}, train={"epochs": 2})
    torch.multiprocessing.spawn(_rank_main, args=(2, free_port(), cfg.to_dict(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))

    all_ids = {r.id for r in rows}
    for epoch in (0, 1):
        ids0, ids1 = r0["ids"][epoch], r1["ids"][epoch]
        assert len(ids0) == len(ids1) == 4
        assert not set(ids0) & set(ids1)  # disjoint shards
        assert set(ids0) | set(ids1) == all_ids  # that cover the data
    assert r0["ids"][0] != r0["ids"][1]  # reshuffled each epoch (set_epoch)

    assert r0["state"].keys() == r1["state"].keys()
    for name, tensor in r0["state"].items():  # parameters and BatchNorm statistics
        assert torch.equal(tensor, r1["state"][name]), name
    assert r0["history"] == r1["history"]  # metrics reduced over ranks: every rank has the same numbers
    assert (tmp_path / "rank0" / "last.pt").exists() and (tmp_path / "rank0" / "metrics.jsonl").exists()
    assert not any((tmp_path / "rank1").glob("*.pt")) and not (tmp_path / "rank1" / "metrics.jsonl").exists()

    # The reduced validation counts each of the 7 samples once, like a single-process evaluation.
    model = UNet(3, 7, width=8, depth=2)
    model.load_state_dict(r0["state"])
    model.eval()
    cm = torch.zeros(7, 7, dtype=torch.int64)
    loader = make_loader(val, cfg.data.val_recipe, batch_size=4, shuffle=False, num_workers=0)
    with torch.no_grad():
        for batch in loader:
            cm += confusion_matrix(model(batch["image"]).argmax(1), batch["mask"], 7)
    assert r0["history"][-1]["val_miou"] == pytest.approx(scores(cm).miou, abs=1e-4)


def test_torchrun_launches_the_cli_and_only_rank_zero_writes(labelled, tmp_path):
    config = tmp_path / "train.yaml"
    cfg = make_config(labelled, tmp_path / "run", data={"fold": 0, "batch_size": 1},
                      model={"width": 4, "depth": 1}, train={"epochs": 2})
    config.write_text(json.dumps(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
         "-m", "dataprep.train", "--config", str(config), "-q"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("done:") == 1  # rank 0 prints, rank 1 does not
    assert "x2 ranks" in proc.stdout
    records = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["step"] == 4  # 4 training rows over 2 ranks, batch 1: 2 steps per epoch
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"] == 4
