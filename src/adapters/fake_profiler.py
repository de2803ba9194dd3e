"""The fake backbone's profile model and answers, so routing runs end to end without torch.

Blocks (docs/adr/0030), all from stable hashed bags of words:
  description  the task's description and label words
  prototype    the mean bag of words of the given examples' texts
  gradient     the label words, scaled by how much the expert still has to learn the task
               (1 - skill), the way a real loss gradient shrinks as a task is learned
  context      mean and std of the examples' word counts, number of labels, label entropy
Answers follow the fake accuracy model: an input of the scored task is answered right when a
hash of its text falls below the expert's accuracy on that task; an input of another task gets
a label of the scored task picked by hash (right only if the label names coincide).
"""

from __future__ import annotations

import hashlib
import math
import re

from adaptive_learner.adapters.fake_backbone import FakeBackbone, hashed_bag_of_words
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.domain.profiles import label_entropy, mean_vector
from adaptive_learner.domain.task import Task


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


def _input_text(x: LabelledInput) -> str:
    return x.text if x.text_pair is None else f"{x.text} {x.text_pair}"


class FakeProfiler:
    """Profiler and Answerer over a `FakeBackbone`; see module docstring."""

    def __init__(self, backbone: FakeBackbone) -> None:
        self.backbone = backbone

    def task_blocks(
        self,
        task: Task,
        examples: list[LabelledInput],
        blocks: tuple[str, ...],
        expert_id: str | None = None,
    ) -> dict[str, tuple[float, ...]]:
        out: dict[str, tuple[float, ...]] = {}
        if "description" in blocks:
            out["description"] = hashed_bag_of_words(f"{task.description} {' '.join(task.labels)}")
        if "prototype" in blocks:
            texts = [_input_text(x) for x in examples] or [task.description]
            out["prototype"] = mean_vector([hashed_bag_of_words(t) for t in texts])
        if "gradient" in blocks:
            state = self.backbone.experts.get(expert_id) if expert_id else None
            remaining = 1.0 - (state.skill.get(task.id, 0.0) if state else 0.0)
            out["gradient"] = tuple(
                max(remaining, 1e-3) * v for v in hashed_bag_of_words(" ".join(task.labels))
            )
        if "context" in blocks:
            lengths = [len(re.findall(r"\S+", _input_text(x))) for x in examples] or [0]
            mean = sum(lengths) / len(lengths)
            std = math.sqrt(sum((n - mean) ** 2 for n in lengths) / len(lengths))
            out["context"] = (
                mean / 100,
                std / 100,
                len(task.labels) / 10,
                label_entropy([x.label or "" for x in examples]),
            )
        return out

    def embed_inputs(self, inputs: list[LabelledInput]) -> list[tuple[float, ...]]:
        return [hashed_bag_of_words(_input_text(x)) for x in inputs]

    def answer(
        self, expert_id: str, task: Task, inputs: list[LabelledInput]
    ) -> list[dict[str, float]]:
        acc = self.backbone.accuracy(self.backbone.experts.get(expert_id), task)
        n, out = len(task.labels), []
        for x in inputs:
            h = _unit_hash(_input_text(x))
            if x.task_id in (None, task.id) and x.label in task.labels:
                gold = task.labels.index(x.label)
                pick = gold if h < acc else (gold + 1 + int(h * 1e6) % (n - 1)) % n
            else:
                pick = int(h * 1e6) % n
            out.append(
                {
                    label: (0.9 if i == pick else 0.1 / (n - 1))
                    for i, label in enumerate(task.labels)
                }
            )
        return out
