"""Group benchmark results named <config>-s<seed> and print/save mean ± std per config.

python benchmarks/summarize.py cl-      ->  benchmarks/results/SUMMARY-cl-.md
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(prefix: str) -> None:
    groups: dict[str, list[dict]] = {}
    for path in sorted(RESULTS.glob(f"{prefix}*.json")):
        data = json.loads(path.read_text())
        config = re.sub(r"-s\d+$", "", data["name"])
        groups.setdefault(config, []).extend(data["runs"])
        groups[config][-1]["note"] = data["note"]
        groups[config][-1]["machine"] = data["machine"]

    def stat(values):
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    lines = [
        (
            "| config | seeds | AvgAcc | balanced AvgAcc | BWT | forgetting | final acc per task | "
            "mean majority | wall s/run | note |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    machine = ""
    for config, runs in groups.items():
        machine = runs[-1].get("machine", machine)
        per_task = ""
        if "accuracy" in runs[0]:
            ids = runs[0]["accuracy"]["task_ids"]
            finals = [
                [r["accuracy"]["rows"][len(ids) - 1][j] for r in runs] for j in range(len(ids))
            ]
            per_task = ", ".join(
                f"{t} {statistics.mean(v):.2f}" for t, v in zip(ids, finals, strict=True)
            )
        else:
            per_task = ", ".join(f"{t} {v:.2f}" for t, v in runs[0]["scores"].items())
        majority = statistics.mean(runs[0]["majority"].values())
        lines.append(
            f"| {config} | {','.join(str(r['seed']) for r in runs)} | "
            f"{stat([r['metrics']['avg_acc'] for r in runs])} | "
            f"{stat([r['balanced_avg_acc'] for r in runs])} | "
            f"{stat([r['metrics']['bwt'] for r in runs])} | "
            f"{stat([r['metrics']['forgetting'] for r in runs])} | {per_task} | {majority:.3f} | "
            f"{statistics.mean(r['wall_seconds'] for r in runs):.0f} | {runs[-1].get('note', '')} |"
        )
    text = f"Machine: {machine}\n\n" + "\n".join(lines) + "\n"
    (RESULTS / f"SUMMARY-{prefix}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
