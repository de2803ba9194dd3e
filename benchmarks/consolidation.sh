#!/usr/bin/env bash
# Issue 4's evidence: consolidation mechanisms vs baselines on a sequence SmolLM2-135M learns
# (SST-2, AG News, DBpedia; preset cl-learnable), CPU, embedded model, ../shared/data.
# Each step appends a row to benchmarks/results/RESULTS.md and writes benchmarks/results/<name>.json.
#   bash benchmarks/consolidation.sh                 # every step, two at a time, one thread each
#   ONLY="0 1" bash benchmarks/consolidation.sh      # just these steps
#   THREADS=1 PAR=1 ONLY=18 bash ...                 # one step, one thread (beside another run)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PAR=${PAR:-2}
# lambda: on SmolLM2 the empirical Fisher of 25 SST-2 examples sums to 45 over the LoRA weights and one
# AG News epoch moves them by sum F dtheta^2 = 6.4e-4, so the seed's 100-500 (tuned for its own Fisher
# scale) add ~0.05 to the loss. The hybrid's lambda 10000 and replay weights 3.0 / 0.3 were chosen on
# seed 100 (tune-h1..h4 in results/), never on the reported seeds 0, 1, 2. The shipped cl-hybrid preset
# (steps 18-20: lambda 50000, every earlier task's memory replayed on each step) was chosen on seeds 100 and
# 101 (tune-h5, tune-h6); steps 0-2 are the first hybrid, kept as cl-hybrid10k.
D="--set data.data_dir='../shared/data'"
LAM="--set consolidation.ewc_lambda=10000.0"
GATE="--set consolidation.use_gamma_gating=true"
CMT="--set consolidation.replay='cmt' --set consolidation.replay_alpha=3.0 --set consolidation.feature_replay_alpha=0.3"
ALL="--set consolidation.replay_tasks_per_step=-1"
PCGR="--set consolidation.replay='pcgr' --set consolidation.replay_alpha=3.0 --set consolidation.feature_replay_alpha=0.3"
steps=(
  "cl-hybrid10k-s0 --seeds 0 $LAM $GATE $CMT --note gamma-competence-gated-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-hybrid10k-s1 --seeds 1 $LAM $GATE $CMT --note gamma-competence-gated-EWC-10000+CMT-alpha-3.0/0.3"
  "cl-hybrid10k-s2 --seeds 2 $LAM $GATE $CMT --note gamma-competence-gated-EWC-10000+CMT-alpha-3.0/0.3"
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
  "cl-hybrid-s0 --preset cl-hybrid --seeds 0 --note gamma-competence-gated-EWC-50000+CMT-alpha-3.0/0.3-every-earlier-task-per-step"
  "cl-hybrid-s1 --preset cl-hybrid --seeds 1 --note gamma-competence-gated-EWC-50000+CMT-alpha-3.0/0.3-every-earlier-task-per-step"
  "cl-hybrid-s2 --preset cl-hybrid --seeds 2 --note gamma-competence-gated-EWC-50000+CMT-alpha-3.0/0.3-every-earlier-task-per-step"
  "cl-experience-all-s0 --seeds 0 --set consolidation.replay='experience' $ALL --note experience-replay-same-byte-budget-every-earlier-task-per-step"
  "cl-hybrid-fixed50k-s0 --preset cl-hybrid --seeds 0 --set consolidation.use_gamma_gating=false --note cl-hybrid-without-gating:fixed-lambda-EWC-50000"
  "cl-experience-all-s1 --seeds 1 --set consolidation.replay='experience' $ALL --note experience-replay-same-byte-budget-every-earlier-task-per-step"
  "cl-hybrid-fixed50k-s1 --preset cl-hybrid --seeds 1 --set consolidation.use_gamma_gating=false --note cl-hybrid-without-gating:fixed-lambda-EWC-50000"
  "cl-cmt-all-s0 --seeds 0 $CMT $ALL --note CMT-replay-only-alpha-3.0/0.3-every-earlier-task-per-step"
  "cl-ewc50k-s0 --seeds 0 --set consolidation.ewc_lambda=50000.0 --note fixed-lambda-EWC-50000-only"
  "cl-experience-all-s2 --seeds 2 --set consolidation.replay='experience' $ALL --note experience-replay-same-byte-budget-every-earlier-task-per-step"
  "cl-hybrid-fixed50k-s2 --preset cl-hybrid --seeds 2 --set consolidation.use_gamma_gating=false --note cl-hybrid-without-gating:fixed-lambda-EWC-50000"
)
pick=(${ONLY:-$(seq 0 $((${#steps[@]} - 1)))})
stream() {  # every PAR-th picked step, starting at $1
  for ((k = $1; k < ${#pick[@]}; k += PAR)); do
    eval "OMP_NUM_THREADS=${THREADS:-$((PAR > 1 ? 1 : 2))} $PY benchmarks/run_preset.py --preset cl-learnable $D ${steps[${pick[$k]}]}"
  done
}
for ((s = 0; s < PAR; s++)); do stream "$s" & done
wait
"$PY" benchmarks/summarize.py cl-
