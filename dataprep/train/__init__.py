"""The bundled reference trainer: a compact UNet trained on a dataprep manifest.

    dataprep train --config train.yaml           # or: python -m dataprep.train --config train.yaml
    torchrun --nproc_per_node 4 -m dataprep.train --config train.yaml

Library use:

    from dataprep.train import load_config, run_training
    result = run_training(load_config("train.yaml", {"train.epochs": 5}))
    result.history[-1]["val_miou"], result.best_checkpoint

Importing this package imports torch.
"""
from __future__ import annotations

from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .config import TrainConfig, load_config, parse_config
from .distributed import DistInfo
from .losses import SegmentationLoss
from .loop import StepInfo, TrainResult, run_training, train
from .metrics import SegmentationScores, confusion_matrix, format_table, scores
from .model import UNet

__all__ = [
    "DistInfo",
    "SegmentationLoss",
    "SegmentationScores",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "UNet",
    "confusion_matrix",
    "format_table",
    "load_checkpoint",
    "load_config",
    "load_model",
    "parse_config",
    "run_training",
    "save_checkpoint",
    "scores",
    "train",
]
