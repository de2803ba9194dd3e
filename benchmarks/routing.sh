#!/usr/bin/env bash
# Routing benchmark (issue 10, evidence items 1-4), embedded SmolLM2-135M, ../shared/data, CPU.
# Reduced for a shared 2-core CPU: 64 train examples, 1 epoch, 100 validation and 192 dev examples per
# task (benchmarks/routing.py SIZE). Item 2 runs three arms, then the counterfactual of each adaptive decision. Each stage writes benchmarks/results/routing-*.json and is skipped
# when its file exists, so rerunning the script resumes where it stopped.
#   bash benchmarks/routing.sh                         # layers (seeds 100/101, unreported), item1, item2, item3, item4, table
#   STAGES="item1 table" bash benchmarks/routing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SEED=${SEED:-0}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for stage in ${STAGES:-layers item1 item2 item3 item4 table}; do
  case $stage in
    layers) [ -f benchmarks/results/routing-layers-s100-101.json ] || "$PY" benchmarks/routing_layers.py ;;  # settings chosen here, never on SEED
    select) "$PY" benchmarks/routing.py select --seed "${SELECT_SEED:-100}" ;;  # the older one-layer scan (seed 100)
    item1) "$PY" benchmarks/routing.py item1 --seed "$SEED" ;;
    item2) "$PY" benchmarks/routing.py item2 --seed "$SEED" --tag=-k8-evidence-tau0.5-replica-acc ;;  # the current defaults' files (docs/adr/0048)
    item4) "$PY" benchmarks/routing.py item4 --seed "$SEED" ;;  # cost of one triple-signal profile and one query
    item3) "$PY" benchmarks/routing.py item3 --seed "$SEED" --tau 1.1 && "$PY" benchmarks/routing.py item3 --seed "$SEED" --tau 0.75 ;;
    table) "$PY" benchmarks/routing.py table ;;
  esac
done
