"""Every routing key takes effect under the run's rule or is refused before anything runs
(docs/adr/0049), and `router_confidence_threshold >= 1` gives one expert per task under every rule,
as the seed uses it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import make_tasks
from tests.wiring import fake_container

from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.bootstrap.routing import DECISION_KEYS, STRATEGIES, check_keys_take_effect

pytestmark = pytest.mark.unit

RULES = {
    "schedule": ["routing.strategy='schedule'"],
    "fixed": ["routing.strategy='schedule'", "routing.expert_of_task=[0, 1, 0]"],
    "similarity": ["routing.strategy='similarity'"],
    "adaptive": ["routing.strategy='adaptive'"],
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_decision_key_is_refused_exactly_where_the_rule_does_not_read_it(rule):
    cfg = load_config("fake", RULES[rule])
    refused = []
    for leaf in sorted(DECISION_KEYS):
        try:
            check_keys_take_effect(cfg, [f"routing.{leaf}"])
        except ValueError as exc:
            assert str(exc).startswith(f"routing.{leaf} has no effect under routing.strategy")
            refused.append(leaf)
    assert sorted(DECISION_KEYS - STRATEGIES[rule].reads - {"router_confidence_threshold"}) == [
        k for k in refused if k != "router_confidence_threshold"
    ]
    assert refused  # every rule ignores some decision key of another rule


def test_the_message_names_the_rules_that_would_read_the_key():
    cfg = load_config("fake", RULES["schedule"])
    with pytest.raises(ValueError, match="reuse_threshold has no effect under routing.strategy "
                       "'schedule'; it is read under 'similarity'"):  # fmt: skip
        check_keys_take_effect(cfg, ["routing.reuse_threshold"])
    with pytest.raises(ValueError, match="read under 'schedule' with routing.expert_of_task"):
        check_keys_take_effect(load_config("fake", RULES["adaptive"]), ["routing.expert_of_task"])


def test_keys_every_run_uses_and_other_sections_are_never_refused():
    cfg = load_config("fake", RULES["schedule"])
    check_keys_take_effect(cfg, ["routing.router_model", "routing.temperature", "training.epochs"])


def test_a_threshold_below_one_is_refused_where_only_the_adaptive_rule_reads_it():
    low = load_config("fake", [*RULES["schedule"], "routing.router_confidence_threshold=0.3"])
    with pytest.raises(ValueError, match="router_confidence_threshold has no effect"):
        check_keys_take_effect(low, ["routing.router_confidence_threshold"])
    high = load_config("fake", [*RULES["schedule"], "routing.router_confidence_threshold=1.1"])
    check_keys_take_effect(high, ["routing.router_confidence_threshold"])


@settings(max_examples=12, deadline=None)
@given(rule=st.sampled_from(sorted(RULES)), tau=st.floats(1.0, 5.0), share=st.integers(-1, 3))
def test_a_threshold_of_one_or_more_never_reuses_under_any_rule(rule, tau, share):
    sets = [*RULES[rule], f"routing.router_confidence_threshold={tau!r}", "training.epochs=1"]
    if rule == "schedule":
        sets.append(f"routing.num_tasks_to_share_lora={share}")
    state = fake_container(make_tasks(), sets).run_sequence()()
    assert [str(r.decision.action) for r in state.reports] == ["create"] * 3
    assert len(state.library) == 3
