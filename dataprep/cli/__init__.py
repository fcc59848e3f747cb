"""The `dataprep` command line: a thin shell over the library.

Each command lives in its own module and is imported only when it runs, so
`dataprep --help` stays fast and one command's optional dependency (torch, DALI,
Dask) never slows or breaks another.
"""
from __future__ import annotations

import importlib
from pathlib import Path

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
    "labels2rle": "rle:labels2rle_command",
    "import": "import_cmd:import_command",
    "stats": "stats:stats_command",
    "kfold": "kfold:kfold_command",
    "augment": "augment:augment_command",
    "preview": "preview:preview_command",
    "report": "report:report_command",
    "train": "train:train_command",
    "resize": "resize:resize_command",
    "unstack": "unstack:unstack_command",
    "merge-bands": "merge_bands:merge_bands_command",
    "tile": "tiles:tile_command",
    "stitch": "tiles:stitch_command",
    "predict": "predict:predict_command",
}


class LazyGroup(OneLineErrors, FullSummaries, click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def command_for_help(self, ctx: click.Context, name: str) -> click.Command | None:
        # The summary is read from the command's source rather than by importing it:
        # `dataprep --help` then loads neither numpy nor OpenCV.
        return _help_stub(name) or self.get_command(ctx, name)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        return getattr(module, attr)


_HELP_KEYWORDS = {"help", "short_help", "hidden", "deprecated"}


def _help_stub(name: str) -> click.Command | None:
    """A stand-in carrying the help of command `name`, read from its module's source; None if not plain."""
    import ast  # only for --help

    module_name, attr = COMMANDS[name].split(":")
    try:
        tree = ast.parse(Path(__file__).with_name(f"{module_name}.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name != attr:
            continue
        attrs: dict[str, object] = {}
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            if call is None or not (isinstance(call.func, ast.Attribute) and call.func.attr in ("command", "group")):
                continue
            for keyword in call.keywords:
                if keyword.arg in _HELP_KEYWORDS:
                    if not isinstance(keyword.value, ast.Constant):
                        return None  # computed help: import the command instead
                    attrs[keyword.arg] = keyword.value.value
        if attrs.get("help") is None:
            attrs["help"] = ast.get_docstring(node, clean=False)  # what click takes: the function's __doc__
        return click.Command(name, **attrs)  # type: ignore[arg-type]
    return None


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
