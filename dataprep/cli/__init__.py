"""The `dataprep` command line: a thin shell over the library.

Each command lives in its own module and is imported only when it runs, so
`dataprep --help` stays fast and one command's optional dependency (torch, DALI,
Dask) never slows or breaks another.
"""
from __future__ import annotations

import importlib

import click

from .. import __version__
from ..allocator import keep_freed_memory
from .common import FullSummaries, OneLineErrors

# command name -> "module:function" (modules under dataprep.cli)
COMMANDS: dict[str, str] = {
    "scan": "scan:scan_command",
    "dedup": "dedup:dedup_command",
    "palette": "palette:palette_group",
    "masks2labels": "labels:masks2labels_command",
    "labels2masks": "labels:labels2masks_command",
    "import": "import_cmd:import_command",
    "stats": "stats:stats_command",
    "kfold": "kfold:kfold_command",
    "augment": "augment:augment_command",
    "preview": "preview:preview_command",
    "report": "report:report_command",
    "train": "train:train_command",
    "tile": "tiles:tile_command",
    "stitch": "tiles:stitch_command",
    "predict": "predict:predict_command",
}


class LazyGroup(OneLineErrors, FullSummaries, click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dataprep")
def main() -> None:
    """Prepare semantic-segmentation datasets for training, fast and without silent mistakes.

    \b
    Typical flow:
      dataprep scan DATA -o work/manifest.csv
      dataprep masks2labels --palette DATA/palette.json work/manifest.csv work/labels
      dataprep stats work/labels/manifest.csv -o work/stats.json
      dataprep kfold work/labels/manifest.csv -k 5 -o work/splits
      dataprep augment --recipe pipelines/default.yaml work/labels/manifest.csv work/augmented
      dataprep preview work/augmented/manifest.csv -o work/preview.png
      dataprep report work/labels/manifest.csv --stats work/stats.json --splits work/splits -o work/report.html
      dataprep train --config pipelines/train_sample.yaml

    Exit codes: 0 ok, 1 data problems found, 2 usage error.
    """
    # Serial runs work in this process: give it the worker processes' allocator tuning.
    keep_freed_memory()
