#!/usr/bin/env bash
# The GPU checks: the DALI engine's tests on CUDA (parity with the CPU engine, the sync
# canaries) and benchmarks/bench_gpu.py (loader, AMP training, resume onto the CPU).
# For a machine with CUDA and DALI. When the packages travel as pieces (../shared/gpu),
# pack them with what the tests need besides DALI and albumentations:
#   EXTRA_PKGS="pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 packaging==26.3 pygments==2.21.0 tifffile==2026.3.3" \
#     bash ../shared/gpu/pack.sh
# and this script sources .gpu/unpack.sh. Results go under $OUT (default benchmarks/results/gpu_check/).
# BENCH_ARGS=--smoke checks the script itself on any machine. Exit status: non-zero when the tests or
# the benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu_check}
mkdir -p "$OUT"
if [ -f .gpu/unpack.sh ]; then
  # shellcheck disable=SC1091
  source .gpu/unpack.sh || exit 1
  set +e
fi
PY=${PYTHON:-python3}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
"$PY" -c "import torch; print('cuda', torch.cuda.is_available())" | tee "$OUT/cuda.txt"

"$PY" -m pytest -q -p no:cacheprovider -rA tests/test_dali.py tests/test_engine_parity.py > "$OUT/tests.txt" 2>&1
tests=$?
grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/tests.txt" | tail -20

"$PY" benchmarks/bench_gpu.py ${BENCH_ARGS:-} > "$OUT/bench_gpu.txt" 2>&1
bench=$?
cp benchmarks/results/gpu*.json "$OUT/" 2>/dev/null
tail -40 "$OUT/bench_gpu.txt"

echo "tests rc=$tests, bench_gpu rc=$bench"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
