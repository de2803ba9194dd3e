import pytest

from adaptive_learner.domain.consolidation import ConsolidationPolicy, GammaGain, TrainingSignals
from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.reuse import ReuseAction, SharingSchedule, SimilarityRouter

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "n, actions",
    [
        (-1, ["create", "reuse", "reuse", "reuse"]),
        (1, ["create", "create", "create", "create"]),
        (2, ["create", "reuse", "create", "create"]),
        (3, ["create", "reuse", "reuse", "create"]),
    ],
)
def test_sharing_schedule(n, actions):
    rule = SharingSchedule(n)
    got = [str(rule.decide(step, None if step == 0 else "expert-0").action) for step in range(4)]
    assert got == actions


def test_similarity_router_reuse_fork_create():
    router = SimilarityRouter(reuse_threshold=0.9, fork_threshold=0.5)
    profiles = {"e0": (1.0, 0.0), "e1": (0.0, 1.0)}
    assert router.decide((1.0, 0.05), profiles).action is ReuseAction.REUSE
    fork = router.decide((1.0, 0.8), profiles)
    assert fork.action is ReuseAction.FORK and fork.expert_id == "e0"
    assert router.decide((1.0, -1.0), {"e0": (0.0, 1.0)}).action is ReuseAction.CREATE
    assert router.decide((1.0, 0.0), {}).action is ReuseAction.CREATE
    assert router.nearest((0.1, 0.9), profiles).expert_id == "e1"


def test_gamma_gain_by_hand():
    g = GammaGain(
        weights={"nll": 1.0, "accuracy": 1.0},
        scales={"nll": 2.0, "accuracy": 1.0},
        direction="surprise",
    )
    hard = TrainingSignals(nll=2.0, accuracy=0.0, grad_norm=0.0, entropy=0.0)  # surprise 1
    easy = TrainingSignals(nll=0.0, accuracy=1.0, grad_norm=0.0, entropy=0.0)  # surprise 0
    assert g.gain(hard, 3.0) == pytest.approx(2.5)
    assert g.gain(easy, 3.0) == pytest.approx(0.0)  # 1 - 1.5 clamped to gamma_min 0
    assert g.gain(TrainingSignals(1.0, 0.5, 0.0, 0.0), 3.0) == pytest.approx(1.0)


def test_gamma_competence_is_the_mirror_of_surprise():
    weights, scales = {"nll": 1.0, "accuracy": 1.0}, {"nll": 2.0, "accuracy": 1.0}
    g = GammaGain(weights=weights, scales=scales)  # default direction: competence
    # surprise (0.1 + 0.1) / 2 = 0.1
    learned = TrainingSignals(nll=0.2, accuracy=0.9, grad_norm=0.0, entropy=0.0)
    assert g.gain(learned, 3.0) == pytest.approx(1 + 3 * (0.9 - 0.5))
    # 1 - 1.2, clamped to gamma_min
    assert GammaGain(weights=weights, scales=scales, direction="surprise").gain(learned, 3.0) == 0.0
    with pytest.raises(ValueError):
        GammaGain(direction="salience")


def test_policy_gating_and_bypass():
    s = TrainingSignals(nll=2.0, accuracy=0.0, grad_norm=10.0, entropy=1.0)
    assert ConsolidationPolicy(ewc_lambda=100).fisher_scale(s) == 1.0
    gated = ConsolidationPolicy(
        ewc_lambda=100, use_gamma_gating=True, gamma=GammaGain(direction="surprise")
    )
    assert gated.fisher_scale(s) == pytest.approx(2.5)
    assert ConsolidationPolicy(ewc_lambda=100, use_gamma_gating=True).fisher_scale(
        s
    ) == pytest.approx(0.0)  # competence: 1 - 1.5, clamped
    bypass = ConsolidationPolicy(
        ewc_lambda=100, use_gamma_gating=True, ewc_fixed_lambda_bypass_gamma=True
    )
    assert bypass.fisher_scale(s) == 1.0


def test_gamma_rejects_unknown_signal():
    with pytest.raises(DomainError, match="unknown signal"):
        GammaGain(weights={"loss": 1.0})


def test_replayed_per_step_counts_earlier_tasks():
    assert ConsolidationPolicy().replayed_per_step(3) == 1
    # never more than exist
    assert ConsolidationPolicy(replay_tasks_per_step=2).replayed_per_step(1) == 1
    assert ConsolidationPolicy(replay_tasks_per_step=2).replayed_per_step(5) == 2
    assert ConsolidationPolicy(replay_tasks_per_step=-1).replayed_per_step(4) == 4
    with pytest.raises(DomainError, match="replay_tasks_per_step"):
        ConsolidationPolicy(replay_tasks_per_step=0)
