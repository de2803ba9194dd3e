#!/usr/bin/env bash
# Issue 11: the consolidation hybrid's wall time against the naive run, same preset, same machine, one after
# the other. Default preset (embedded SmolLM2, demo suite, one LoRA), no reference line; hybrid = the seed's
# SL-F consolidation as the default preset allows it: gamma-gated EWC (lambda 250, 25 Fisher samples) plus
# replay of one earlier task per step (experience replay: latent/CMT replay needs lora.first_layer >= 1,
# which the default preset does not set). Prints wall and CPU seconds of each run and the ratios; ORDER
# repeats arms (e.g. "naive hybrid hybrid naive", so a machine that drifts in speed weighs both alike).
# Writes benchmarks/results/hybrid-vs-naive.txt.
#   bash benchmarks/hybrid_vs_naive.sh                                  # ~5 min on 2 idle cores, model cached
#   ORDER="naive hybrid hybrid naive" bash benchmarks/hybrid_vs_naive.sh  # ~10 min
#   ORDER="naive hybrid-r4 hybrid-r4 naive" ...   # hybrid with replay_batch_size = 4 (half the training batch)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin/adaptive-learner}
OUT=benchmarks/results/hybrid-vs-naive.txt
declare -A SETS=(
  [naive]="--set consolidation.replay='none'"
  [hybrid]="--set consolidation.replay='experience' --set consolidation.replay_tasks_per_step=1 --set consolidation.ewc_lambda=250.0 --set consolidation.ewc_data_loader_num_samples=25 --set consolidation.use_gamma_gating=true"
)
SETS[hybrid-r4]="${SETS[hybrid]} --set consolidation.replay_batch_size=4"  # half the replayed rows per step
declare -A WALL CPU
for arm in "${!SETS[@]}"; do WALL[$arm]=0; CPU[$arm]=0; done
TIMEFORMAT='%R %U %S'
{
  echo "# hybrid vs naive, default preset, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg), order: ${ORDER:-naive hybrid}"
  for arm in ${ORDER:-naive hybrid}; do
    log="benchmarks/out/speed-$arm.log"
    times=$( { time eval "$BIN" run --set "run.output_dir='benchmarks/out'" --set "run.name='speed-$arm'" --set "run.reference=''" "${SETS[$arm]}" > "$log" 2>&1 ; } 2>&1 )
    read -r real user sys <<< "$times"
    WALL[$arm]=$(python3 -c "print(${WALL[$arm]} + $real)")
    CPU[$arm]=$(python3 -c "print(${CPU[$arm]} + $user + $sys)")
    printf '%s  process wall %.1f s, CPU %.1f s  |  %s  |  %s\n' "$arm" "$real" "$(python3 -c "print($user + $sys)")" \
      "$(grep -m1 '^AvgAcc' "$log")" "$(grep -m1 '^wall time' "$log")"
  done
  for arm in $(echo ${ORDER:-naive hybrid} | tr ' ' '\n' | sort -u | grep -v '^naive$'); do
    python3 -c "print('ratio $arm / naive (sums over the order): wall %.2f, CPU %.2f' % (${WALL[$arm]} / ${WALL[naive]}, ${CPU[$arm]} / ${CPU[naive]}))"
  done
} | tee "$OUT"
