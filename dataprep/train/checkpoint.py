"""Checkpoints: plain dicts of state_dicts, written atomically, loadable on any device.

A checkpoint holds everything a resumed run needs (model, optimizer, scheduler,
AMP scaler, where in training it stopped) and what inference needs to rebuild
the model (its config, class names, normalization). Only tensors and plain
Python values are stored, so `torch.load(..., weights_only=True)` reads it.
"""
from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DataprepError
from ..io import PathLike, atomic_write_bytes
from .distributed import unwrap
from .model import UNet

FORMAT_VERSION = 1


def save_checkpoint(path: PathLike, state: dict[str, Any]) -> Path:
    """Write `state` (see `training_state`) atomically: a crash never leaves a half-written file."""
    buf = _io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load_checkpoint(path: PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint onto `map_location` (CPU by default, so a GPU checkpoint loads anywhere)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise DataprepError(path, "checkpoint not found") from None
    except Exception as exc:  # truncated file, not a torch file, foreign pickle
        if not _looks_like_torch_file(path):  # a CSV or an image given by mistake: not an unsafe checkpoint
            raise DataprepError(path, "not a checkpoint (neither the zip archive nor the pickle torch.save "
                                      "writes)") from None
        raise DataprepError(path, f"not a readable checkpoint: {_first_line(exc)}") from None
    if not isinstance(state, dict) or "model" not in state or state.get("format_version") != FORMAT_VERSION:
        raise DataprepError(path, "not a dataprep trainer checkpoint")
    return state


def _looks_like_torch_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True  # let torch's own message say why
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"  # torch.save's zip, or a legacy pickle


def _first_line(exc: BaseException) -> str:
    """torch's own first line, without its advice to retry with weights_only=False (that runs arbitrary code)."""
    text = str(exc).strip()
    if "weights_only" in text:
        # "Weights only load failed. ... Re-running `torch.load` with `weights_only` set to `False` ..."
        return "it holds objects other than tensors and plain values (refused: loading them could run code)"
    return text.splitlines()[0] if text else type(exc).__name__


def training_state(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    epoch: int,
    batch_in_epoch: int,
    step: int,
    best_miou: float | None,
    running: dict[str, float],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """What a checkpoint stores. `epoch`/`batch_in_epoch`: where the next batch comes from."""
    return {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "epoch": epoch,
        "batch_in_epoch": batch_in_epoch,
        "step": step,
        "best_miou": best_miou,
        "running": dict(running),
        "torch_rng": torch.get_rng_state(),
        "meta": meta,  # config, class names, in_channels, num_classes, ignore_index, normalization
    }


def restore(
    state: dict[str, Any],
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    source: PathLike | None = None,
    rng: bool = True,
) -> None:
    """Load a checkpoint's states into live objects; a shape mismatch names the checkpoint."""
    try:
        unwrap(model).load_state_dict(state["model"])
    except RuntimeError as exc:
        # torch's first line is a bare "Error(s) in loading state_dict for UNet:"; the first detail says what.
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        bare = len(lines) > 1 and lines[0].startswith("Error(s) in loading")
        detail = lines[1] if bare else lines[0] if lines else ""
        raise DataprepError(source, f"does not fit this model (different width/depth/classes?): {detail}") from None
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if rng and state.get("torch_rng") is not None:
        torch.set_rng_state(state["torch_rng"].cpu())


def load_model(path: PathLike, map_location: str | torch.device = "cpu") -> UNet:
    """Rebuild the trained UNet from a checkpoint, in eval mode (for inference)."""
    state = load_checkpoint(path, map_location)
    meta = state.get("meta") or {}
    model_cfg = (meta.get("config") or {}).get("model") or {}
    try:
        model = UNet(
            int(meta["in_channels"]), int(meta["num_classes"]),
            width=int(model_cfg.get("width", 32)), depth=int(model_cfg.get("depth", 4)), up=str(model_cfg.get("up", "bilinear")),
        )
    except KeyError as exc:
        raise DataprepError(path, f"checkpoint lacks {exc.args[0]!r}; was it written by dataprep train?") from None
    restore(state, model=model, source=path, rng=False)
    return model.to(map_location).eval()
