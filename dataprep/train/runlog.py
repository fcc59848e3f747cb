"""What a run prints and writes: console lines on rank 0, per-epoch and per-step logs.

Files in the output folder (rank 0 only):
- metrics.jsonl: one JSON record per epoch (train loss, timings, validation scores);
- metrics.csv:   the same records flattened (per-class IoU as iou_<class> columns);
- steps.csv:     step, epoch, loss, lr for every optimizer step;
- config.yaml:   the config the run used, overrides applied.
"""
from __future__ import annotations

import contextlib
import csv
import io as _io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..io import atomic_write_text
from ..strict_load import dump_yaml
from .config import TrainConfig

METRICS_JSONL, METRICS_CSV, STEPS_CSV, CONFIG_COPY = "metrics.jsonl", "metrics.csv", "steps.csv", "config.yaml"
STARVING = 0.3  # data-wait share above which the epoch line says the loader is the bottleneck


class Console:
    """Prints on rank 0 only, without breaking progress bars."""

    def __init__(self, enabled: bool, quiet: bool) -> None:
        self.enabled, self.quiet = enabled, quiet

    @property
    def silent(self) -> bool:
        return self.quiet or not self.enabled

    def echo(self, message: str) -> None:
        if self.enabled:
            tqdm.write(message, file=sys.stdout)

    def warn(self, message: str) -> None:
        if self.enabled:
            tqdm.write(f"warning: {message}", file=sys.stderr)


def epoch_line(record: Mapping[str, Any], epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"step {record['step']}"]
    if record.get("train_loss") is not None:
        parts.append(f"loss {record['train_loss']:.4f}")
    if record.get("val_miou") is not None:
        parts.append(f"val mIoU {100 * record['val_miou']:.2f}%")
    if record.get("val_pixel_accuracy") is not None:
        parts.append(f"pixel acc {100 * record['val_pixel_accuracy']:.2f}%")
    parts.append(f"lr {record['lr']:.2e}")
    parts.append(f"data {1000 * record['data_time']:.0f} ms/batch ({100 * record['data_fraction']:.0f}%), "
                 f"compute {1000 * record['step_time']:.0f} ms/batch")
    line = "  ".join(parts)
    if record.get("data_fraction", 0) > STARVING:
        line += "  <- the loader is starving the model: raise data.num_workers or use --engine dali"
    return line


def read_history(path: Path, completed_epochs: int) -> list[dict[str, Any]]:
    """The epoch records of a run being resumed, up to the checkpoint's epoch."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("epoch", 0) <= completed_epochs:
                records.append(record)
    return records


class RunLogs:
    """metrics.jsonl / metrics.csv (one record per epoch), steps.csv (one row per step), config.yaml.

    Written by rank 0 only. The epoch logs are rewritten whole (atomically)
    after each epoch; the step log is appended at epoch ends.
    """

    def __init__(self, folder: Path, *, enabled: bool, fresh: bool, keep_until_step: int) -> None:
        self.folder, self.enabled = folder, enabled
        self.pending: list[tuple[int, int, float, float]] = []
        if not enabled:
            return
        folder.mkdir(parents=True, exist_ok=True)
        steps = folder / STEPS_CSV
        kept: list[str] = []
        if fresh:  # the epochs of a run before this one (--overwrite) are not this run's
            for name in (METRICS_JSONL, METRICS_CSV):
                (folder / name).unlink(missing_ok=True)
        if not fresh and steps.exists():  # resumed: drop steps after the checkpoint (they are redone)
            lines = steps.read_text(encoding="utf-8").splitlines()[1:]
            kept = [ln for ln in lines if ln.split(",")[0].isdigit() and int(ln.split(",")[0]) <= keep_until_step]
        atomic_write_text(steps, "\n".join(["step,epoch,loss,lr", *kept]) + "\n")

    def write_config(self, cfg: TrainConfig) -> None:
        if self.enabled:
            atomic_write_text(self.folder / CONFIG_COPY, dump_yaml(cfg.to_dict()))

    def add_step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        if self.enabled:
            self.pending.append((step, epoch + 1, loss, lr))

    def flush_steps(self) -> None:
        if self.enabled and self.pending:
            with open(self.folder / STEPS_CSV, "a", encoding="utf-8") as f:
                f.writelines(f"{s},{e},{loss:.6g},{lr:.6g}\n" for s, e, loss, lr in self.pending)
            self.pending = []

    def write_epochs(self, history: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        self.flush_steps()
        atomic_write_text(self.folder / METRICS_JSONL, "".join(json.dumps(r) + "\n" for r in history))
        flat = [_flatten(r) for r in history]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        atomic_write_text(self.folder / METRICS_CSV, buf.getvalue())


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in record.items() if not isinstance(v, Mapping)}
    for name, value in (record.get("val_iou") or {}).items():
        flat[f"iou_{name}"] = value
    return flat
