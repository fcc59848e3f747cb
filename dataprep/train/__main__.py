"""`python -m dataprep.train --config train.yaml` (and `torchrun ... -m dataprep.train ...`).

The same command as `dataprep train`, so both take the same options.
"""
from __future__ import annotations

from ..cli.train import train_command

if __name__ == "__main__":
    train_command(prog_name="python -m dataprep.train")
