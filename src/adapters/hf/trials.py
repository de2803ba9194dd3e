"""The trained probe's copies, kept until the decision so the chosen one goes on training.

The probe (docs/adr/0040, 0048) trains a copy of each option for its first k steps exactly as that
option's real training would take them: the same initial weights, the same seeds, the same batch
order. Throwing the chosen copy away and training the option again from its start repeats those k
steps. Instead each copy is kept with its whole session (weights, AdamW moments, the batch order and
replay streams, torch's RNG after its last step) and `adopt` turns the chosen one into the real
session of the expert it stood for, after checking that the expert still starts where the copy
started; the run then trains on bit for bit as it would have (docs/adr/0057). Copies are small (a
LoRA and its moments); every one not adopted is dropped at the decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from adaptive_learner.adapters.hf.backbone import HFBackbone
    from adaptive_learner.adapters.hf.sessions import HFSession
    from adaptive_learner.domain.task import Task

TRIAL = "trial-probe"  # prefix of the probe's throwaway experts (library ids are expert-<n>)


def trial_id(parent: str | None) -> str:
    return f"{TRIAL}:{parent or 'fresh'}"


class KeptTrials:
    """Probe sessions by the option they stood for (None: a new expert)."""

    def __init__(self, backbone: HFBackbone) -> None:
        self.b = backbone
        self.sessions: dict[str | None, tuple[HFSession, dict[str, torch.Tensor]]] = {}

    def keep(self, parent: str | None, session: HFSession, start: dict[str, torch.Tensor]) -> None:
        """Keep `session` (a copy of `parent` that started from the weights `start`)."""
        self.drop(parent)
        self.sessions[parent] = (session, start)

    def adopt(self, parent: str | None, expert_id: str, task: Task) -> HFSession | None:
        """The kept copy of `parent` as `expert_id`'s session, its trained weights in the expert;
        None when there is none or the expert no longer starts where the copy did. Every other
        copy is dropped."""
        kept = self.sessions.pop(parent, None)
        self.drop_all()
        if kept is None:
            return None
        session, start = kept
        if session.task.id != task.id:
            self._remove(session.expert_id)
            return None
        b, copy_id = self.b, session.expert_id
        begin = b.experts.state(expert_id)
        same = set(begin) == set(start) and all(torch.equal(begin[k], start[k]) for k in begin)
        if same:
            b.experts.load_state(expert_id, b.experts.state(copy_id))
        self._remove(copy_id)
        if not same:
            return None
        session.take_over(expert_id, begin)
        return session

    def drop(self, parent: str | None) -> None:
        kept = self.sessions.pop(parent, None)
        if kept is not None:
            self._remove(kept[0].expert_id)

    def drop_all(self) -> None:
        for parent in list(self.sessions):
            self.drop(parent)

    def _remove(self, copy_id: str) -> None:
        self.b.consolidation.pop(copy_id, None)
        self.b.experts.remove(copy_id)
