"""docs/adr/0057: the probe's kept copy of the chosen option goes on as that option's training, and
ends bit for bit where training the option from its start ends (weights, step losses, torch's RNG),
whether the probe's steps fill the first epoch or part of it."""

import pytest
import torch
from tests.integration.conftest import one_task_learned

from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]
POLICY = ConsolidationPolicy(replay="experience", ewc_lambda=10.0)


def train(tokenizer, demo_source, option: str, steps_of_epoch: float, adopt: bool):
    b, task_a, task_b, epoch = one_task_learned(tokenizer, demo_source, POLICY)
    steps = max(1, int(epoch * steps_of_epoch))
    torch.manual_seed(123)  # whatever the run's stream is when the decision is made
    b.trial("e0", task_b, POLICY, steps, (task_a,), keep=True)
    b.trial(None, task_b, POLICY, steps, as_id="e1", keep=True)
    target, source = ("e0", "e0") if option == "reuse" else ("e1", None)
    if option == "new":
        b.new_expert("e1")
    session = b.adopt(source, target, task_b, POLICY) if adopt else None
    if not adopt:
        b.drop_trials()
    assert (session is not None) == adopt
    session = session or b.start(target, task_b, POLICY)
    reports = [session.train_epoch() for _ in range(2)]
    losses = [r.step_losses for r in reports]
    session.restore_best()  # where the training started: the same for both
    counted = [(r.steps, r.carried_seconds) for r in reports]
    return (
        b.experts.state(target),
        losses,
        torch.get_rng_state(),
        sorted(b.experts.names()),
        counted,
    )


@pytest.mark.parametrize("option", ["reuse", "new"])
@pytest.mark.parametrize("steps_of_epoch", [1.0, 0.5])
def test_an_adopted_copy_ends_where_training_from_the_start_ends(
    tokenizer, demo_source, option, steps_of_epoch
):
    weights, losses, rng, names, counted = train(
        tokenizer, demo_source, option, steps_of_epoch, True
    )
    w0, l0, r0, n0, c0 = train(tokenizer, demo_source, option, steps_of_epoch, False)
    assert weights.keys() == w0.keys() and all(torch.equal(v, w0[k]) for k, v in weights.items())
    assert losses == l0 and len(losses[0]) > 0 and torch.equal(rng, r0)
    assert names == n0 and not any(n.startswith("trial-probe") for n in names)
    # the first epoch counts the probe's steps and the seconds they took (docs/adr/0060)
    assert [steps for steps, _ in counted] == [steps for steps, _ in c0]
    assert counted[0][1] > 0 and counted[1][1] == 0 and all(carried == 0 for _, carried in c0)


def test_a_copy_is_not_adopted_by_an_expert_that_starts_elsewhere(tokenizer, demo_source):
    b, task_a, task_b, epoch = one_task_learned(tokenizer, demo_source, POLICY)
    b.trial(None, task_b, POLICY, 2, as_id="e7", keep=True)  # initialised as e7 would be
    b.new_expert("e1")
    before = b.experts.state("e1")
    assert b.adopt(None, "e1", task_b, POLICY) is None
    assert all(torch.equal(v, b.experts.state("e1")[k]) for k, v in before.items())
    assert sorted(b.experts.names()) == ["e0", "e1"]
    # a copy longer than an epoch is not kept; nor one of another task
    b.trial("e0", task_b, POLICY, epoch + 1, (task_a,), keep=True)
    assert b.adopt("e0", "e0", task_b, POLICY) is None
    b.trial("e0", task_b, POLICY, 2, (task_a,), keep=True)
    assert b.adopt("e0", "e0", task_a, POLICY) is None and sorted(b.experts.names()) == ["e0", "e1"]
