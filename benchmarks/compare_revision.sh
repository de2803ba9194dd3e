#!/usr/bin/env bash
# Same run, two code revisions, at the same time on the same machine: wall and CPU seconds of each.
#
#   benchmarks/compare_revision.sh OLD_REV NAME [run options...]
#
# OLD_REV's src/ is exported to a temp folder and imported ahead of the installed package
# (PYTHONPATH), so both sides use this checkout's venv and cached model. Both runs start together
# with THREADS threads each (default 1): on a machine shared with other jobs, the CPU seconds
# (user + sys) are the steadier figure, the wall seconds show the contention. Writes
# benchmarks/results/NAME.json.
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=$1; name=$2; shift 2
threads=${THREADS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$old_rev" src | tar -x -C "$tmp"
ln -s "$tmp/src" "$tmp/adaptive_learner"
run() {  # side, pythonpath, run options...
  local side=$1 path=$2
  shift 2
  OMP_NUM_THREADS=$threads PYTHONPATH=$path /usr/bin/time -f '%e %U %S' -o "$tmp/$side.time" \
    .venv/bin/adaptive-learner --json-logs run --output-dir "$tmp/runs-$side" "$@" > "$tmp/$side.log" 2>&1
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run old "$tmp" "${@}" & a=$!
run new "" "${@}" & b=$!
wait $a $b
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$tmp" "$name" "$old_rev" "$(git rev-parse --short HEAD)" "$threads" "$load_before" "$load_after" "$*" <<'PY'
import json, sys, glob, platform, os
tmp, name, old_rev, new_rev, threads, before, after, args = sys.argv[1:]
out = {"name": name, "args": args, "threads": int(threads), "load_average_before": before, "load_average_after": after,
       "machine": f"{platform.node()}, {os.cpu_count()} cores (shared with other jobs when the load average exceeds the core count)"}
for side, rev in (("old", old_rev), ("new", new_rev)):
    wall, user, system = map(float, open(f"{tmp}/{side}.time").read().split()[-3:])
    state = json.load(open(glob.glob(f"{tmp}/runs-{side}/*/state.json")[0]))
    out[side] = {"revision": rev, "wall_seconds": wall, "cpu_seconds": round(user + system, 1), "accuracy": state["accuracy"]}
out["ratio_cpu"] = round(out["new"]["cpu_seconds"] / out["old"]["cpu_seconds"], 3)
out["ratio_wall"] = round(out["new"]["wall_seconds"] / out["old"]["wall_seconds"], 3)
print(json.dumps({k: v for k, v in out.items() if k not in ("old", "new")} | {s: {k: out[s][k] for k in ("revision", "wall_seconds", "cpu_seconds")} for s in ("old", "new")}, indent=1))
open(f"benchmarks/results/{name}.json", "w").write(json.dumps(out, indent=1))
PY
