#!/usr/bin/env bash
# The one GPU check of issue 11 (benchmarks/gpu_check.py): run it in a GPU slot, nothing downloaded.
#
#   benchmarks/pack_wheels.sh                     # once, here (network): benchmarks/wheels/, ~14 MiB, gitignored
#   benchmarks/gpu_check.sh                        # there: Gemma-2B shape, bf16, SDPA; <= 8 min
#   benchmarks/gpu_check.sh --tiny                 # anywhere, CPU: the same script on a tiny shape (tests run this)
#   benchmarks/gpu_check.sh --nan-probe [--tiny]   # benchmarks/gpu_nan_probe.py: which part of the loss turns non-finite
#
# With the device tool: run(command="benchmarks/gpu_check.sh", carry=["benchmarks/wheels"], timeout_s=560).
# The GPU image has torch, transformers, peft, accelerate, attrs, rich, typer; dependency-injector and
# structlog come from benchmarks/wheels, installed into a private folder (the image is not touched).
# The project is imported from src/ through a symlink, so nothing is built. Results: printed table,
# benchmarks/results/gpu-check-<full|tiny>.json, also in $OUT when set (written after every section).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-$(command -v python3)}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && py=.venv/bin/python
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
ln -s "$PWD/src" "$shim/adaptive_learner"
if ! "$py" -c "import dependency_injector, structlog" 2>/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --find-links benchmarks/wheels --target "$shim" dependency-injector structlog
fi
export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU visible"
script=benchmarks/gpu_check.py
if [ "${1:-}" = "--nan-probe" ]; then script=benchmarks/gpu_nan_probe.py; shift; fi  # where a non-finite loss comes from
timeout "${GPU_CHECK_TIMEOUT:-480}" "$py" "$script" "$@"
