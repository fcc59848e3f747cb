"""`dataprep predict`: label maps from a trained checkpoint, whole images or sliding windows."""
from __future__ import annotations

from pathlib import Path

import click

from ..split_column import parse_splits
from ..tiling import parse_size
from .common import finish_output_report, force_option, quiet_option, reports_errors


@click.command("predict")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="A checkpoint written by 'dataprep train' (best.pt or last.pt).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Images to predict (the mask column is not needed and not read).")
@click.option("--split", "splits", metavar="NAME[,NAME...]", default=None,
              help="Predict only the rows of these splits (the manifest's split column), e.g. test.")
@click.option("--tile", "tile_text", metavar="H[xW]", default=None,
              help="Sliding windows of this size instead of whole images.")
@click.option("--overlap", metavar="PX", type=click.IntRange(min=0), default=None,
              help="Pixels shared by neighbouring windows (default: a quarter of the window).")
@click.option("--blend", type=click.Choice(["gaussian", "cosine", "mean"]), default="gaussian", show_default=True,
              help="Weights of the overlapping windows' probabilities.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True, help="Windows per forward pass.")
@click.option("--probabilities", is_flag=True, help="Also write probabilities/<id>.tif (float32, one band per class).")
@click.option("--evaluate", is_flag=True,
              help="Score the predictions against the manifest's label maps: IoU per class, mIoU, pixel accuracy "
                   "(DEST/metrics.json).")
@click.option("-p", "--palette", metavar="NAME|FILE", default=None,
              help="Colours of the label PNGs. Default: the palette beside MANIFEST, else the VOC colour map.")
@click.option("--device", default=None, help="torch device (default: cuda when available, else cpu).")
@click.option("--on-error", type=click.Choice(["skip", "fail"]), default="skip", show_default=True,
              help="skip: report a bad image and carry on; fail: stop at the first one.")
@force_option
@quiet_option
@reports_errors
def predict_command(dest: Path, checkpoint: Path, manifest: Path, splits: str | None, tile_text: str | None,
                    overlap: int | None, blend: str, batch_size: int, probabilities: bool, evaluate: bool,
                    palette: str | None, device: str | None, on_error: str, force: bool, quiet: bool) -> None:
    """Predict a label map for every image of --manifest with a trained model; write them to DEST.

    DEST receives labels/<id>.png (palette PNGs), optionally probabilities/,
    manifest.csv (mask = the prediction) and palette.json.

    \b
    Examples:
      dataprep predict --checkpoint runs/unet/best.pt --manifest work/labels/manifest.csv work/pred
      dataprep predict --checkpoint best.pt --manifest scenes.csv --tile 512 --overlap 128 work/pred
      dataprep predict --checkpoint best.pt --manifest camvid.csv --split test --evaluate work/pred
    """
    from ..predict import predict_manifest

    tile = parse_size(tile_text, "--tile") if tile_text else None
    if overlap is not None and tile is None:  # whole images share no pixels: the option would be dropped unseen
        raise click.UsageError("--overlap is the overlap of the --tile windows; give --tile too, or leave it out")
    if overlap is None:
        overlap_hw = (tile[0] // 4, tile[1] // 4) if tile else (0, 0)
    else:
        overlap_hw = (overlap, overlap)
    report = predict_manifest(checkpoint, manifest, dest, tile=tile, overlap=overlap_hw, batch_size=batch_size,
                              blend=blend, probabilities=probabilities, palette=palette, device=device,
                              on_error=on_error, force=force, quiet=quiet, splits=parse_splits(splits),
                              evaluate=evaluate)
    if report.scores is not None:
        from ..train.metrics import format_table

        click.echo(format_table(report.scores, report.class_names))
        click.echo(f"metrics: {report.metrics_path}")
    finish_output_report(report, f"predict: {report.predicted} images on {report.device}, {len(report.errors)} "
                                 f"failed -> {report.out_dir}", report.warnings)


__all__ = ["predict_command"]
