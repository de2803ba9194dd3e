#!/usr/bin/env bash
# Issue 4's evidence: consolidation mechanisms vs baselines on a sequence SmolLM2-135M learns
# (SST-2, AG News, DBpedia; preset cl-learnable), CPU, embedded model, ../shared/data.
# Each line appends a row to benchmarks/results/RESULTS.md and writes benchmarks/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-0,1,2}
D=(--set "data.data_dir='../shared/data'")
run() { "$PY" benchmarks/run_preset.py "$@"; }
run cl-naive        --preset cl-learnable "${D[@]}" --seeds "$SEEDS" --note "SeqLoRA: one LoRA, no consolidation"
run cl-hybrid       --preset cl-learnable "${D[@]}" --seeds "$SEEDS" --set consolidation.ewc_lambda=250.0 --set consolidation.use_gamma_gating=true --set "consolidation.replay='cmt'" --note "gamma-gated EWC (lambda 250) + CMT replay"
run cl-per-task     --preset cl-learnable "${D[@]}" --set routing.num_tasks_to_share_lora=1 --note "one LoRA per task"
run cl-ewc          --preset cl-learnable "${D[@]}" --set consolidation.ewc_lambda=250.0 --note "EWC only, fixed lambda 250"
run cl-gamma-ewc    --preset cl-learnable "${D[@]}" --set consolidation.ewc_lambda=250.0 --set consolidation.use_gamma_gating=true --note "gamma-gated EWC only"
run cl-cmt          --preset cl-learnable "${D[@]}" --set "consolidation.replay='cmt'" --note "CMT latent replay only"
run cl-pcgr         --preset cl-learnable "${D[@]}" --set "consolidation.replay='pcgr'" --note "PCGR latent replay only"
run cl-experience   --preset cl-learnable "${D[@]}" --set "consolidation.replay='experience'" --note "experience replay, same byte budget"
run cl-joint        --preset cl-learnable "${D[@]}" --joint --note "multitask joint training of one LoRA (upper bound)"
