#!/usr/bin/env bash
# Issue 4's evidence: consolidation mechanisms vs baselines on a sequence SmolLM2-135M learns
# (SST-2, AG News, DBpedia; preset cl-learnable), CPU, embedded model, ../shared/data.
# Each step appends a row to benchmarks/results/RESULTS.md and writes benchmarks/results/<name>.json.
#   bash benchmarks/consolidation.sh                 # every step, two at a time, one thread each
#   ONLY="0 1" bash benchmarks/consolidation.sh      # just these steps
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PAR=${PAR:-2}
# lambda: on SmolLM2 the empirical Fisher of 25 SST-2 examples sums to 45 over the LoRA weights and one
# AG News epoch moves them by sum F dtheta^2 = 6.4e-4, so the seed's 100-500 (tuned for its own Fisher
# scale) add ~0.05 to the loss. The hybrid's lambda 10000 and replay weights 3.0 / 0.3 were chosen on
# seed 100 (tune-h1..h4 in results/), never on the reported seeds 0, 1, 2.
D="--set data.data_dir='../shared/data'"
LAM="--set consolidation.ewc_lambda=10000.0"
GATE="--set consolidation.use_gamma_gating=true"
CMT="--set consolidation.replay='cmt' --set consolidation.replay_alpha=3.0 --set consolidation.feature_replay_alpha=0.3"
PCGR="--set consolidation.replay='pcgr' --set consolidation.replay_alpha=3.0 --set consolidation.feature_replay_alpha=0.3"
steps=(
  "cl-hybrid-s0 --seeds 0 $LAM $GATE $CMT --note gamma-competence-gated-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-hybrid-s1 --seeds 1 $LAM $GATE $CMT --note gamma-competence-gated-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-hybrid-s2 --seeds 2 $LAM $GATE $CMT --note gamma-competence-gated-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-naive-s2 --seeds 2 --note SeqLoRA:one-LoRA-no-consolidation"
  "cl-gamma-ewc-s0 --seeds 0 $LAM $GATE --note gamma-competence-gated-EWC-10000-only"
  "cl-cmt-s0 --seeds 0 $CMT --note CMT-latent-replay-only-alpha-3.0/0.3"
  "cl-pcgr-s0 --seeds 0 $PCGR --note PCGR-latent-replay-only-alpha-3.0/0.3"
  "cl-ewc10k-s0 --seeds 0 $LAM --note fixed-lambda-EWC-10000-only"
  "cl-naive-s0 --seeds 0 --note SeqLoRA:one-LoRA-no-consolidation"
  "cl-naive-s1 --seeds 1 --note SeqLoRA:one-LoRA-no-consolidation"
  "cl-per-task-s0 --seeds 0 --set routing.num_tasks_to_share_lora=1 --note one-LoRA-per-task"
  "cl-experience-s0 --seeds 0 --set consolidation.replay='experience' --note experience-replay-same-byte-budget"
  "cl-ewc-s0 --seeds 0 --set consolidation.ewc_lambda=2000.0 --note EWC-only-fixed-lambda-2000"
  "cl-joint-s0 --seeds 0 --joint --note multitask-joint-training-upper-bound"
  "cl-hybrid-fixed-s0 --seeds 0 $LAM $CMT --note hybrid-without-gating:fixed-lambda-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-hybrid-surprise10k-s0 --seeds 0 $LAM $GATE --set consolidation.gamma_direction=surprise $CMT --note hybrid-with-gamma-following-surprise-ADR-10:EWC-10000+CMT-alpha-3.0/0.3"
  "cl-hybrid-fixed-s1 --seeds 1 $LAM $CMT --note hybrid-without-gating:fixed-lambda-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-cmt-s1 --seeds 1 $CMT --note CMT-latent-replay-only-alpha-3.0/0.3"
)
pick=(${ONLY:-$(seq 0 $((${#steps[@]} - 1)))})
stream() {  # every PAR-th picked step, starting at $1
  for ((k = $1; k < ${#pick[@]}; k += PAR)); do
    eval "OMP_NUM_THREADS=$((PAR > 1 ? 1 : 2)) $PY benchmarks/run_preset.py --preset cl-learnable $D ${steps[${pick[$k]}]}"
  done
}
for ((s = 0; s < PAR; s++)); do stream "$s" & done
wait
"$PY" benchmarks/summarize.py cl-
