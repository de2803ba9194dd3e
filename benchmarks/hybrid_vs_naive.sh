#!/usr/bin/env bash
# Issue 11: the consolidation hybrid's wall time against the naive run, same preset, same machine, one after
# the other. Default preset (embedded SmolLM2, demo suite, one LoRA), no reference line; hybrid = the seed's
# SL-F consolidation as the default preset allows it: gamma-gated EWC (lambda 250, 25 Fisher samples) plus
# replay of one earlier task per step (experience replay: latent/CMT replay needs lora.first_layer >= 1,
# which the default preset does not set). Writes benchmarks/results/hybrid-vs-naive.txt.
#   bash benchmarks/hybrid_vs_naive.sh        # ~4-5 min on 2 idle cores, model cached
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin/adaptive-learner}
OUT=benchmarks/results/hybrid-vs-naive.txt
declare -A SETS=(
  [naive]="--set consolidation.replay='none'"
  [hybrid]="--set consolidation.replay='experience' --set consolidation.replay_tasks_per_step=1 --set consolidation.ewc_lambda=250.0 --set consolidation.ewc_data_loader_num_samples=25 --set consolidation.use_gamma_gating=true"
)
{
  echo "# hybrid vs naive, default preset, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for arm in naive hybrid; do
    start=$(date +%s.%N)
    eval "$BIN" run --set "run.output_dir='benchmarks/out'" --set "run.name='speed-$arm'" --set "run.reference=''" "${SETS[$arm]}" > "benchmarks/out/speed-$arm.log" 2>&1
    end=$(date +%s.%N)
    printf '%s  process wall %.1f s  |  %s  |  %s\n' "$arm" "$(python3 -c "print($end - $start)")" \
      "$(grep -m1 '^AvgAcc' "benchmarks/out/speed-$arm.log")" "$(grep -m1 '^wall time' "benchmarks/out/speed-$arm.log")"
  done
} | tee "$OUT"
