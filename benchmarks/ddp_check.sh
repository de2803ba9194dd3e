#!/usr/bin/env bash
# The CLI under torchrun: 2 processes (gloo on CPU, NCCL on GPUs) against 1, same config; compares
# the accuracy matrices (docs/adr/0028) and prints both wall times.
#
#   benchmarks/ddp_check.sh [NPROC] [run options...]     # default: 2, a reduced default preset
#
# For the sl-f sweep on several GPUs, run one seed/preset per GPU (no communication needed):
#   for i in 0 1 2 3; do CUDA_VISIBLE_DEVICES=$i adaptive-learner run --preset sl-f --seeds $i \
#        --data-dir ../shared/data/glue & done; wait
# and one run over several GPUs (or machines: --nnodes, --node_rank, --rdzv_endpoint) with
#   torchrun --nproc_per_node 4 -m adaptive_learner.bootstrap.cli run --preset sl-f ...
#   accelerate launch --num_processes 4 -m adaptive_learner.bootstrap.cli run --preset sl-f ...
set -euo pipefail
cd "$(dirname "$0")/.."
nproc=${1:-2}; shift || true
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--set data.train_samples_per_task=16 --set data.dev_samples_per_task=8
  --set data.validation_samples_per_task=16 --set training.epochs=1 --set lora.dropout=0.0
  --tasks review_sentiment,news_topic,mentions_animal)
out=$(mktemp -d)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
start=$(date +%s)
.venv/bin/adaptive-learner --json-logs run --output-dir "$out/one" "${args[@]}" > "$out/one.log" 2>&1
mid=$(date +%s)
.venv/bin/torchrun --standalone --nproc_per_node "$nproc" -m adaptive_learner.bootstrap.cli --json-logs run \
  --output-dir "$out/many" "${args[@]}" > "$out/many.log" 2>&1
end=$(date +%s)
python3 - "$out" "$((mid - start))" "$((end - mid))" "$nproc" <<'PY'
import glob, json, sys
out, one_s, many_s, nproc = sys.argv[1:]
runs = {k: glob.glob(f"{out}/{k}/*/state.json") for k in ("one", "many")}
assert len(runs["many"]) == 1, f"expected one run folder from {nproc} processes (rank 0 only), found {runs['many']}"
one, many = (json.load(open(runs[k][0]))["accuracy"]["rows"] for k in ("one", "many"))
worst = max(abs(a - b) for r1, r2 in zip(one, many) for a, b in zip(r1, r2) if a is not None)
print(f"1 process: {one_s} s, {nproc} processes: {many_s} s; largest accuracy difference {worst:.4f}")
print("one:", one); print("many:", many)
PY
