#!/usr/bin/env bash
# The whole job on the bundled sample_data, end to end, into out/demo/.
set -euo pipefail
source "$(dirname "$0")/setup_env.sh"
cd "$REPO"
OUT="${1:-out/demo}"
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1. scan: pair images with masks, validate, write a manifest"
dataprep scan sample_data --exclude 'bad/*' -o "$OUT/manifest.csv"

echo "== done: results in $OUT"
