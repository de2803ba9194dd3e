#!/usr/bin/env bash
# The seed's own GLUE sequences (presets sl-a ... sl-e-prime: SST-2 and RTE share a LoRA, MRPC gets its own),
# CPU, embedded SmolLM2-135M, ../shared/data/glue. Shortened for a 2-core CPU: 128 training examples per task
# (seed: 250), 2 epochs (seed: 3), 150 validation examples per task (seed: 500); everything else as the presets say.
# The five-task sl-f family (12 epochs in the seed) is shortened to 64 training examples and 6 epochs instead, so
# that sl-f-es's early stopping (patience 3) has epochs to cut; sl-f-rep1 and sl-f-es keep their preset seed 123.
#   PRESETS="sl-f sl-f-rep1 sl-f-es" PAR=2 bash benchmarks/glue_sequences.sh
# Each line appends a row to benchmarks/results/RESULTS.md and writes benchmarks/results/<name>.json.
# PAR=2 runs two presets side by side with one thread each (faster on 2 cores than one run with two threads).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SEED=${SEED:-0}
PAR=${PAR:-1}
SHORT=(--set "data.source='folder'" --set "data.data_dir='../shared/data/glue'" --set data.train_samples_per_task=128 --set training.epochs=2
       --set data.validation_samples_per_task=150)
PRESETS=(${PRESETS:-sl-a sl-b-rep1 sl-b-prime2 sl-c-prime3 sl-d-prime sl-e-prime})
SHORT_F=(--set "data.source='folder'" --set "data.data_dir='../shared/data/glue'" --set data.train_samples_per_task=64
         --set training.epochs=6 --set data.validation_samples_per_task=150)
one() {
  local seed=$SEED short=("${SHORT[@]}") what="128 train, 2 epochs, 150 val"
  case $1 in sl-f*) short=("${SHORT_F[@]}"); what="64 train, 6 epochs, 150 val" ;; esac
  case $1 in sl-f-*) seed=123 ;; esac  # sl-f-rep1 and sl-f-es: the preset's own seed
  OMP_NUM_THREADS=$((PAR > 1 ? 1 : 2)) "$PY" benchmarks/run_preset.py "glue-$1-s$seed" --preset "$1" "${short[@]}" \
    --seeds "$seed" --note "$1 shortened: $what"
}
for ((k = 0; k < ${#PRESETS[@]}; k += PAR)); do
  for ((j = k; j < k + PAR && j < ${#PRESETS[@]}; j++)); do one "${PRESETS[$j]}" & done
  wait
done
"$PY" benchmarks/summarize.py glue-sl
