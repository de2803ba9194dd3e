"""docs/adr/0063: a split is scored once per set of LoRA weights. The same weights (whichever
expert holds them, and after a restore) give the remembered score without a forward pass; a
training step, another task or another split is scored anew, and a remembered score is the score a
forward pass gives."""

import pytest
import torch
from tests.integration.conftest import make_backbone

from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]


def counting(b):
    calls = []
    logits = b.forward.logits

    def counted(*args, **kwargs):
        calls.append(1)
        return logits(*args, **kwargs)

    b.forward.logits = counted
    return calls


def test_the_same_weights_score_a_split_once(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source)
    task_a, task_b = demo_source.load()[:2]
    calls = counting(b)
    b.new_expert("e0")
    session = b.start("e0", task_a, ConsolidationPolicy())
    session.train_epoch()
    first = b.evaluate("e0", task_a, "dev")
    forwards = len(calls)
    assert forwards > 0
    assert b.evaluate("e0", task_a, "dev") == first and len(calls) == forwards  # remembered

    b.evaluate("e0", task_a, "validation")  # another split
    b.evaluate("e0", task_b, "dev")  # another task
    b.evaluate(None, task_a, "dev")  # the bare backbone
    assert len(calls) > forwards
    forwards = len(calls)
    b.evaluate(None, task_a, "dev")
    assert len(calls) == forwards

    session.keep_best()
    session.train_epoch()  # the weights change: scored anew
    b.evaluate("e0", task_a, "dev")
    assert len(calls) > forwards
    forwards = len(calls)
    session.restore_best()  # the weights scored first are back
    assert b.evaluate("e0", task_a, "dev") == first and len(calls) == forwards

    b.new_expert("e1", parent="e0")  # a copy of the same weights under another id
    assert b.evaluate("e1", task_a, "dev") == first and len(calls) == forwards
    assert b.memo.hits >= 4


def test_a_remembered_score_is_the_score_a_forward_pass_gives(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source)
    task_a = demo_source.load()[0]
    b.new_expert("e0")
    b.start("e0", task_a, ConsolidationPolicy()).train_epoch()
    remembered = b.evaluate("e0", task_a, "dev")
    b.memo._scores.clear()
    fresh = b.evaluate("e0", task_a, "dev")
    assert fresh[0] == remembered[0]
    assert fresh[1] == pytest.approx(remembered[1])


def test_a_changed_bit_misses():
    from adaptive_learner.adapters.hf.score_memo import ScoreMemo

    w = {"a": torch.zeros(3, 2), "b": torch.ones(2, dtype=torch.bfloat16)}
    key = ScoreMemo.key(w, "t", "dev")
    assert ScoreMemo.key({k: v.clone() for k, v in w.items()}, "t", "dev") == key
    w2 = {k: v.clone() for k, v in w.items()}
    w2["b"][1] = 1.0078125  # the next bfloat16 after 1.0: one bit
    assert ScoreMemo.key(w2, "t", "dev") != key
    assert ScoreMemo.key(None, "t", "dev") != key
    assert ScoreMemo.key({"c": w["a"], "b": w["b"]}, "t", "dev") != key  # names count


def test_a_dev_head_scores_its_first_rows_and_the_whole_split_is_one_name(tokenizer, demo_source):
    """docs/adr/0064: 'dev[:N]' scores the first N dev rows; a head as long as the split is the
    split itself (the same remembered score, no forward pass)."""
    b = make_backbone(tokenizer, demo_source)
    task = demo_source.load()[0]
    dev = demo_source.data(task.id).dev
    assert len(dev) >= 4
    calls = counting(b)
    whole = b.evaluate(None, task, "dev")
    forwards = len(calls)
    assert b.evaluate(None, task, f"dev[:{len(dev) + 40}]") == whole and len(calls) == forwards
    head = b.score(None, task, "dev[:3]")
    assert head.n == 3 and len(calls) > forwards
