#!/usr/bin/env bash
# The whole job on the bundled sample_data, end to end, into out/demo/:
# prepare the data, train one epoch on it, and write a report to look at.
set -euo pipefail
export DATAPREP_EXTRAS="${DATAPREP_EXTRAS-}"  # the demo needs no extra (no DALI, no Dask, no test tools)
source "$(dirname "$0")/setup_env.sh"
cd "$REPO"
OUT="${1:-out/demo}"
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1. scan: pair images with masks, validate, write a manifest"
dataprep scan sample_data --exclude 'bad/*' -o "$OUT/manifest.csv"

echo "== 2. masks2labels: RGB colour masks -> class-index label maps"
dataprep masks2labels --palette sample_data/palette.json "$OUT/manifest.csv" "$OUT/labels"

echo "== 3. stats: normalization and class statistics"
dataprep stats "$OUT/labels/manifest.csv" -o "$OUT/stats.json"

echo "== 4. kfold: leak-free, class-balanced folds"
dataprep kfold "$OUT/labels/manifest.csv" -k 4 -o "$OUT/splits"

echo "== 5. augment: offline mosaic / copy-paste / mixup / crops, image and mask in sync"
dataprep augment --recipe pipelines/default.yaml "$OUT/labels/manifest.csv" "$OUT/augmented"

echo "== 6. preview: contact sheets to check masks against images"
dataprep preview "$OUT/labels/manifest.csv" -o "$OUT/preview_labels.png" -n 6
dataprep preview "$OUT/augmented/manifest.csv" -o "$OUT/preview_augmented.png" -n 6

echo "== 7. train: one epoch of the reference UNet on the prepared folds (CPU, seconds)"
dataprep train --config pipelines/train_sample.yaml --epochs 1 -o "$OUT/run" \
    --set data.manifest="$OUT/splits/manifest.csv" --set data.stats="$OUT/stats.json"

echo "== 8. report: one HTML page with the statistics, folds and sample previews"
dataprep report "$OUT/labels/manifest.csv" --stats "$OUT/stats.json" --splits "$OUT/splits" -o "$OUT/report.html"

echo "== done: results in $OUT (open $OUT/report.html)"
