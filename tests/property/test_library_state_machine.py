import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.expert import ExpertLibrary

pytestmark = pytest.mark.property


class LibraryMachine(RuleBasedStateMachine):
    """Random create / fork / assign sequences never break the library's invariants."""

    def __init__(self):
        super().__init__()
        self.lib = ExpertLibrary()
        self.step = 0
        self.model: dict[str, str] = {}  # task -> expert, the reference model

    @rule()
    def create(self):
        self.lib.create(step=self.step)
        self.step += 1

    @precondition(lambda self: len(self.lib) > 0)
    @rule(data=st.data())
    def fork(self, data):
        parent = data.draw(st.sampled_from([e.id for e in self.lib]))
        self.lib.create(step=self.step, parent=parent)
        self.step += 1

    @precondition(lambda self: len(self.lib) > 0)
    @rule(task=st.sampled_from([f"t{i}" for i in range(12)]), data=st.data())
    def assign(self, task, data):
        expert = data.draw(st.sampled_from([e.id for e in self.lib]))
        if task in self.model:
            with pytest.raises(DomainError):
                self.lib.assign(task, expert)
        else:
            self.lib.assign(task, expert)
            self.model[task] = expert

    @invariant()
    def each_task_has_exactly_one_expert(self):
        owners = {}
        for e in self.lib:
            for t in e.tasks:
                assert t not in owners
                owners[t] = e.id
        assert owners == self.model

    @invariant()
    def ids_unique_and_parents_exist(self):
        ids = [e.id for e in self.lib]
        assert len(ids) == len(set(ids))
        assert all(e.parent is None or e.parent in ids for e in self.lib)

    @invariant()
    def round_trips(self):
        assert ExpertLibrary.from_dict(self.lib.to_dict()).to_dict() == self.lib.to_dict()


TestLibraryMachine = LibraryMachine.TestCase
