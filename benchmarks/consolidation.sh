#!/usr/bin/env bash
# Issue 4's evidence: consolidation mechanisms vs baselines on a sequence SmolLM2-135M learns
# (SST-2, AG News, DBpedia; preset cl-learnable), CPU, embedded model, ../shared/data.
# Each line appends a row to benchmarks/results/RESULTS.md and writes benchmarks/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-0,1,2}
# lambda 2000: on SmolLM2 the empirical Fisher of 25 SST-2 examples sums to 45 over the LoRA weights and one
# AG News epoch moves them by sum F dtheta^2 = 6.4e-4, so lambda/2 * that is ~0.6, the size of the task loss;
# the seed's 100-500 (tuned for its own Fisher scale) would add ~0.05.
D=(--set "data.data_dir='../shared/data'")
run() { "$PY" benchmarks/run_preset.py "$@"; }
HYBRID=(--set consolidation.ewc_lambda=2000.0 --set consolidation.use_gamma_gating=true --set "consolidation.replay='cmt'")
# Order chosen so that a run cut short by the clock still has comparable pairs and the main baselines:
# seed-0 pair, the cheap baselines, then more seeds of the pair, then the rest.
pair() {
  run "cl-naive-s$1"  --preset cl-learnable "${D[@]}" --seeds "$1" --note "SeqLoRA: one LoRA, no consolidation"
  run "cl-hybrid-s$1" --preset cl-learnable "${D[@]}" --seeds "$1" "${HYBRID[@]}" --note "gamma-gated EWC (lambda 2000) + CMT replay"
}
FROM=${FROM:-0}  # resume the list at this position
steps=(
  "pair 0"
  "run cl-per-task-s0 --preset cl-learnable ${D[*]} --set routing.num_tasks_to_share_lora=1 --note one-LoRA-per-task"
  "run cl-experience-s0 --preset cl-learnable ${D[*]} --set consolidation.replay='experience' --note experience-replay-same-byte-budget"
  "run cl-ewc-s0 --preset cl-learnable ${D[*]} --set consolidation.ewc_lambda=2000.0 --note EWC-only-fixed-lambda-2000"
  "run cl-joint-s0 --preset cl-learnable ${D[*]} --joint --note multitask-joint-training-upper-bound"
  "pair 1"
  "run cl-cmt-s0 --preset cl-learnable ${D[*]} --set consolidation.replay='cmt' --note CMT-latent-replay-only"
  "pair 2"
  "run cl-gamma-ewc-s0 --preset cl-learnable ${D[*]} --set consolidation.ewc_lambda=2000.0 --set consolidation.use_gamma_gating=true --note gamma-gated-EWC-only"
  "run cl-pcgr-s0 --preset cl-learnable ${D[*]} --set consolidation.replay='pcgr' --note PCGR-latent-replay-only"
)
for ((k = FROM; k < ${#steps[@]}; k++)); do eval "${steps[$k]}"; done
"$PY" benchmarks/summarize.py cl-
